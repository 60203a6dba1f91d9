"""ResNetFeaturizer: the records frame -> ResNet-50 deep features per phase.

The network maths (preprocessing, backbone, head, weights) live in
:mod:`ceusradiomics.deep`; this module is the estimator, on the shared
records-transformer base. It imports neither torch nor torchvision: they are
imported when a featurizer is fitted or used, so ``import ceusradiomics``
works without them.
"""

from __future__ import annotations

import enum
import os
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d
from sklearn_compat.base import _fit_context

from ceusradiomics._cache import feature_cache, roi_key
from ceusradiomics.deep._head import head_forward, init_head, train_head
from ceusradiomics.deep._preprocess import augment, normalize, resize_crop, roi_crop
from ceusradiomics.deep._weights import (
    fetch_named_weights,
    load_state_dict_file,
    resolve_weights,
)
from ceusradiomics.exceptions import ROIError
from ceusradiomics.extractors._base import (
    Layout,
    RecordsTransformer,
    check_records,
    image_slots,
)
from ceusradiomics.io import check_phases

__all__ = ["ResNetFeaturizer"]

_TORCH_MESSAGE = (
    "ResNetFeaturizer needs PyTorch and torchvision: pip install 'ceusradiomics[deep]'"
)
# Augmented views per training image with augment=True.
DEFAULT_VIEWS = 8
# Bumped whenever preprocessing changes, so stale cache entries cannot match.
_PREPROCESSING_VERSION = 1


def _import_backbone() -> Any:
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as exc:
        raise ImportError(_TORCH_MESSAGE) from exc
    from ceusradiomics.deep import _backbone

    return _backbone


class ResNetFeaturizer(RecordsTransformer):
    """Deep features of every phase image from an ImageNet ResNet-50.

    For each lesion (row of the records frame) and phase, the ROI's bounding
    box plus a margin is cropped, put on [0, 1], resized to
    ``image_size x image_size``, copied to three channels and normalised with
    the ImageNet statistics (:func:`~ceusradiomics.deep.preprocess_roi`); the
    frozen torchvision ResNet-50 is run on it and the activations of `layer`
    are averaged over space (global average pooling). With ``head=None`` these
    are the features, named ``{phase}_resnet50_{k:04d}`` (2048 per phase at
    ``"avgpool"``). With an int `head`, ``fit(X, y)`` trains a new fully
    connected layer of that width, followed by a ReLU and a linear classifier,
    on the frozen activations with cross-entropy, as in the study's transfer
    learning [1]_; the features are then that layer's outputs, named
    ``{phase}_resnet50_head_{k:04d}``.

    Read more in ``docs/deep.md``.

    Parameters
    ----------
    phases : sequence of str, optional
        Phases to use (``("US", "AP", "PP")``); by default every
        ``{phase}_image`` column of ``X`` in column order.
    weights : str, path or None, default="IMAGENET1K_V2"
        ``"IMAGENET1K_V2"``, ``"IMAGENET1K_V1"`` or ``"DEFAULT"`` (=V2):
        torchvision's ImageNet weights, read from the torch hub cache
        (``torch.hub.get_dir()/checkpoints``) and downloaded there when
        missing; their SHA-256 is checked. A path: a state dict file
        (``torch.save(model.state_dict(), path)``; a checkpoint dict with a
        ``"state_dict"`` entry works too). ``None``: a randomly initialised
        network, seeded by `random_state` (for tests and baselines).
    layer : str, default="avgpool"
        The node whose activations are the features: ``"avgpool"`` (2048),
        ``"layer4"`` (2048), ``"layer3"`` (1024), ``"layer2"`` (512),
        ``"layer1"`` (256), or any node name of
        :func:`torchvision.models.feature_extraction.get_graph_node_names`.
        Spatial maps are averaged over space.
    head : int, optional
        Width of the trained fully connected layer; ``None`` uses the frozen
        backbone's features directly. One head is trained per phase.
    mask_label : int, float or tuple of 3 ints, optional
        The label of the ROI in mask files that hold several regions (a
        label image: 1 = tumour, 2 = ...); an RGB triple for a colour mask.
        By default every nonzero pixel is inside, with a
        :class:`~ceusradiomics.exceptions.MaskLabelWarning` when a mask holds
        several labels.
    fill_outline : bool, default=False
        A mask drawn as an outline (a closed contour, as many drawing tools
        export it) is filled when True; by default it raises a
        :class:`~ceusradiomics.exceptions.ROIError`, since its pixels are a
        line, not the lesion.
    crop_margin : float or int, default=0.1
        Context around the ROI's bounding box: a float is a fraction of its
        height (added above and below) and width (left and right), an int a
        number of pixels. The crop is clipped at the image border.
    mask_context : {"keep", "zero"}, default="keep"
        ``"zero"`` blacks out the pixels of the crop outside the ROI.
    image_size : int, default=224
        Side of the network input (the study's 224; >= 32).
    device : str, default="auto"
        Torch device of the backbone; ``"auto"`` is CUDA when available, else
        the CPU.
    batch_size : int, default=16
        Images per forward pass.
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Arithmetic of the backbone's forward pass. ``"bfloat16"`` and
        ``"float16"`` run it under :func:`torch.autocast` (convolutions and
        matrix products in the low precision, the rest in float32; the
        features are returned as float64 either way): faster on GPUs and on
        CPUs with bfloat16 instructions (AVX-512 BF16, AMX), and slower on
        CPUs without them. The features then differ from float32's: on the
        synthetic cohort, float16 kept every feature at Pearson r >= 0.999
        with float32, bfloat16 about 80% of them (median r 0.9998); compare
        models within one precision. ``docs/deep.md`` gives the measured
        agreement and speed.
    epochs : int, default=25
        Passes of the head's training over the training images and their
        augmented views (with 8 views and the study's 121 training lesions,
        about the study's 1000 optimiser steps).
    lr : float, default=1e-5
        Adam's learning rate for the head (the study's 1e-5), halved at
        optimiser steps 2000 and 4000 as in the study.
    head_batch_size : int, default=24
        Mini-batch size of the head's training (the study's 24).
    augment : bool or int, default=True
        Augmented views of each training image used to train the head:
        ``True`` is 8 views, an int sets the number, ``False`` (or 0) trains
        on the original images only. Each view (random rotation within +/-15
        degrees, flips, a random crop of 80-100% of the side, a channel shift)
        is run once through the frozen backbone and cached, not redrawn every
        epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the random network (``weights=None``), the augmentation and the
        head's initialisation and shuffling. With None, a random network is
        still seeded, with 0 (as the ``extract`` command does), so that its
        features are reproducible and the per-lesion cache is shared by every
        fit; the augmentation and the head then draw fresh seeds. Pass an int
        for reproducible results throughout.
    cache : bool, default=True
        Keep each ROI's backbone activations in the process-wide cache
        ``ceusradiomics._cache.feature_cache("resnet")``, keyed on the image,
        the mask and every setting that changes them, so that clones (cross
        validation, grid search, stacking) run the network once per lesion.
    verbose : bool, default=False
        Show a progress bar over images (and the download, if any).

    Attributes
    ----------
    phases_ : tuple of str
        The phases used.
    seed_ : int
        The seed drawn from `random_state` in ``fit``; the augmentation and
        the head derive from it.
    network_seed_ : int
        The seed of the random network (``weights=None``): `seed_`, or 0 when
        `random_state` is None; a pickled featurizer rebuilds the same
        network from it.
    n_backbone_features_ : int
        Backbone features per phase (2048 at ``"avgpool"``).
    classes_ : ndarray
        The class labels (with `head` only).
    head_ : dict of str to dict of ndarray
        Per phase, the trained head's parameters as NumPy arrays:
        ``"weight"`` (head, n_backbone_features_), ``"bias"``,
        ``"classifier_weight"`` (n_classes, head) and ``"classifier_bias"``
        (with `head` only).
    loss_curve_ : dict of str to ndarray
        Per phase, the mean training cross-entropy of each epoch (with `head`
        only).
    feature_names_out_ : ndarray of str
        Output column names.
    n_features_out_ : int
        Number of output columns.
    model_ : torch.nn.Module
        The frozen backbone cut at `layer`, built on the first image that is
        not in the cache; not pickled (rebuilt from the parameters on use).

    See Also
    --------
    ceusradiomics.deep.preprocess_roi : The network input of one ROI.
    ceusradiomics.TextureExtractor : The radiomics branch.

    Notes
    -----
    The intensities are put on [0, 1] by the dtype's range for ``uint8``
    (/255) and ``uint16`` (/65535) images and by min-max over the crop for
    any other dtype. The output of the head is the fully connected layer's
    value *before* its ReLU, so that no feature is constant zero over the
    cohort; the ReLU of it is what the classifier saw in training. Without
    torch, constructing a featurizer works but ``fit`` and ``transform``
    raise an :class:`ImportError`. A cell that cannot be used raises a
    :class:`~ceusradiomics.exceptions.ROIError` naming the lesion and the
    column.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image
       recognition", CVPR 2016, 770-778. :doi:`10.1109/CVPR.2016.90`

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from ceusradiomics import ResNetFeaturizer
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((48, 48), dtype=bool)
    >>> mask[12:36, 10:30] = True
    >>> X = pd.DataFrame(
    ...     {"US_image": [rng.integers(0, 256, (48, 48), dtype=np.uint8)
    ...                   for _ in range(3)],
    ...      "US_mask": [mask] * 3},
    ...     index=["L1", "L2", "L3"],
    ... )
    >>> featurizer = ResNetFeaturizer(weights=None, image_size=32, random_state=0)
    >>> features = featurizer.fit_transform(X)
    >>> features.shape
    (3, 2048)
    >>> features.columns[:2].tolist()
    ['US_resnet50_0000', 'US_resnet50_0001']
    """

    _parameter_constraints: ClassVar[dict] = {
        "mask_label": [None, Real, tuple],
        "fill_outline": ["boolean"],
        "phases": [None, str, list, tuple],
        "weights": [None, str, os.PathLike, enum.Enum],
        "layer": [str],
        "head": [None, Interval(Integral, 1, None, closed="left")],
        "crop_margin": [Interval(Real, 0, None, closed="left")],
        "mask_context": [StrOptions({"keep", "zero"})],
        "image_size": [Interval(Integral, 32, None, closed="left")],
        "device": "no_validation",  # a str or torch.device, checked by torch in fit
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "precision": [StrOptions({"float32", "bfloat16", "float16"})],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "head_batch_size": [Interval(Integral, 1, None, closed="left")],
        "augment": ["boolean", Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "cache": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        phases: Any = None,
        *,
        weights: Any = "IMAGENET1K_V2",
        layer: str = "avgpool",
        head: int | None = None,
        mask_label: Any = None,
        fill_outline: bool = False,
        crop_margin: float = 0.1,
        mask_context: str = "keep",
        image_size: int = 224,
        device: Any = "auto",
        batch_size: int = 16,
        precision: str = "float32",
        epochs: int = 25,
        lr: float = 1e-5,
        head_batch_size: int = 24,
        augment: bool | int = True,
        random_state: Any = None,
        cache: bool = True,
        verbose: bool = False,
    ):
        self.phases = phases
        self.weights = weights
        self.layer = layer
        self.head = head
        self.mask_label = mask_label
        self.fill_outline = fill_outline
        self.crop_margin = crop_margin
        self.mask_context = mask_context
        self.image_size = image_size
        self.device = device
        self.batch_size = batch_size
        self.precision = precision
        self.epochs = epochs
        self.lr = lr
        self.head_batch_size = head_batch_size
        self.augment = augment
        self.random_state = random_state
        self.cache = cache
        self.verbose = verbose

    # ------------------------------------------------------------------ setup

    def _n_views(self) -> int:
        if isinstance(self.augment, (bool, np.bool_)):
            return DEFAULT_VIEWS if self.augment else 0
        return int(self.augment)

    def _crop_margin(self) -> float | int:
        # Plain Python numbers: the cache key is a repr, and np.float64(0.1)
        # and 0.1 must give the same key.
        if isinstance(self.crop_margin, Integral):
            return int(self.crop_margin)
        return float(self.crop_margin)

    def _weights_id(self, kind: str, source: Any) -> tuple:
        if kind == "random":
            return ("random", self.network_seed_)
        if kind == "named":
            return ("torchvision", source.name)  # the file's hash is checked
        stat = os.stat(source)
        return ("file", str(source), stat.st_size, stat.st_mtime_ns)

    def _cache_settings(self, weights_id: tuple) -> dict[str, Any]:
        return {
            "network": "resnet50",
            "weights": weights_id,
            "layer": self.layer,
            "crop_margin": self._crop_margin(),
            "mask_context": self.mask_context,
            "image_size": int(self.image_size),
            "precision": self.precision,
            "preprocessing": _PREPROCESSING_VERSION,
        }

    def _extractor(self, backbone: Any, kind: str, source: Any, weights_id: tuple):
        device = backbone.resolve_device(self.device)
        key = (weights_id, self.layer, str(device))
        if getattr(self, "model_", None) is None or self._model_key != key:
            self.model_ = backbone.build_extractor(
                kind,
                source,
                seed=self.network_seed_,
                layer=self.layer,
                device=device,
                progress=bool(self.verbose),
            )
            self._model_key = key
        return self.model_

    # --------------------------------------------------------------- network

    def _activations(
        self, X: pd.DataFrame, views: int, *, on_error: str = "raise"
    ) -> tuple[dict[str, np.ndarray], list[ROIError], set[int]]:
        """Backbone activations ``(n_lesions, 1 + views, width)`` per phase.

        View 0 is the ROI itself; views 1.. are augmented. Each lesion's cells
        are read and validated once (the base class's :meth:`_read_slot`);
        the cache is read first and the network (built on first need) runs
        only on the misses, ``batch_size`` images at a time. Returns the
        activations, the errors collected and the rows that failed.
        """
        backbone = _import_backbone()
        kind, source = resolve_weights(self.weights)
        weights_id = self._weights_id(kind, source)
        settings = self._cache_settings(weights_id)
        cache = feature_cache("resnet") if self.cache else None
        width = self.n_backbone_features_
        n_views = 1 + views
        out = {
            p: np.empty((len(X), n_views, width), dtype=np.float32)
            for p in self.phases_
        }
        pending: list[Any] = []
        slots_pending: list[tuple[str, int, int, str]] = []

        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(X) * len(self.phases_) * n_views,
            disable=not self.verbose,
            desc="resnet50",
            unit="image",
            # Shown only past a second: a pass served from the cache (the
            # stack's folds, cross-validation) prints no bar.
            delay=1.0,
        )

        def flush() -> None:
            import torch

            extractor = self._extractor(backbone, kind, source, weights_id)
            values = backbone.forward(
                extractor, normalize(torch.cat(pending)), precision=self.precision
            )
            for (phase, i, v, key), row in zip(slots_pending, values, strict=True):
                out[phase][i, v] = row
                if cache is not None:
                    cache.put(key, row)
            bar.update(len(slots_pending))
            pending.clear()
            slots_pending.clear()

        columns = list(X.columns)
        errors: list[ROIError] = []
        failed: set[int] = set()
        slots = image_slots(X, self.phases_, {p: () for p in self.phases_})
        with bar:
            for i, (lesion, row) in enumerate(
                zip(X.index.tolist(), X.itertuples(index=False), strict=True)
            ):
                record = dict(zip(columns, row, strict=True))
                rois = []
                for slot in slots:
                    try:
                        rois += self._read_slot(lesion, record, slot)
                    except ROIError as exc:
                        if on_error == "raise":
                            raise
                        errors += [exc, *getattr(exc, "others", [])]
                        failed.add(i)
                if i in failed:
                    bar.update(len(slots) * n_views)
                    continue
                for slot, roi in zip(slots, rois, strict=True):
                    phase = slot.phase
                    key = roi_key(roi.image, roi.mask, settings=settings)
                    keys = [key] + [
                        f"{key}:view{v}:{self.seed_}" for v in range(1, n_views)
                    ]
                    needed = []
                    for v, view_key in enumerate(keys):
                        hit = cache.get(view_key) if cache is not None else None
                        if hit is None:
                            needed.append(v)
                        else:
                            out[phase][i, v] = hit
                            bar.update(1)
                    if not needed:
                        continue
                    base = resize_crop(
                        roi_crop(
                            roi.image,
                            roi.mask,
                            crop_margin=self._crop_margin(),
                            mask_context=self.mask_context,
                        ),
                        self.image_size,
                    )
                    tensors = self._views(base, key, needed)
                    for v, tensor in zip(needed, tensors, strict=True):
                        pending.append(tensor)
                        slots_pending.append((phase, i, v, keys[v]))
                        if len(pending) == self.batch_size:
                            flush()
            if pending:
                flush()
        for phase in out:
            out[phase][sorted(failed)] = np.nan
        return out, errors, failed

    def _views(self, base: Any, key: str, needed: list[int]) -> list[Any]:
        """The tensors of the needed views of one ROI (0 = the ROI itself)."""
        tensors = [base] if needed[0] == 0 else []
        augmented = [v for v in needed if v > 0]
        if augmented:
            # Each view's randomness depends only on the seed, the ROI and the
            # view index, so a lesion gets the same views in every CV fold.
            rngs = [
                np.random.default_rng([self.seed_, int(key[:16], 16), v])
                for v in augmented
            ]
            tensors.extend(augment(base, rngs).split(1))
        return tensors

    def _backbone_width(self, backbone: Any, kind: str, source: Any) -> int:
        if kind == "file" and self.layer.split(".")[0] == "fc":
            state = load_state_dict_file(source)
            if "fc.weight" in state:
                return int(state["fc.weight"].shape[0])
        return backbone.layer_width(self.layer)

    # ------------------------------------------------------------------- API

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: pd.DataFrame, y: Any = None) -> ResNetFeaturizer:
        """Check the weights and layer; with `head`, train the head on ``(X, y)``.

        Without `head`, nothing is computed: the network runs in
        :meth:`transform`. Named weights missing from the torch hub cache are
        downloaded here (or a :class:`~ceusradiomics.deep.WeightsNotFoundError`
        is raised).

        Parameters
        ----------
        X : DataFrame
            The records frame.
        y : array-like of shape (n_lesions,), optional
            Class labels; required with `head`, ignored otherwise.

        Returns
        -------
        self : ResNetFeaturizer
        """
        backbone = _import_backbone()
        X = check_records(X)
        phases = check_phases(
            X, (self.phases,) if isinstance(self.phases, str) else self.phases
        )
        backbone.resolve_device(self.device)
        backbone.check_layer(self.layer)
        kind, source = resolve_weights(self.weights)
        if kind == "named":
            fetch_named_weights(source, progress=bool(self.verbose))
        if self.head is not None:
            if y is None:
                raise ValueError(
                    f"head={self.head} trains a classifier layer: fit needs the "
                    "labels y (one per lesion); got y=None"
                )
            y = column_or_1d(y)
            if len(y) != len(X):
                raise ValueError(
                    f"y must have one label per lesion; got {len(y)} labels for "
                    f"{len(X)} lesions"
                )
            classes, labels = np.unique(y, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(
                    f"the head needs at least 2 classes in y; got only {classes!r}"
                )

        self.phases_ = phases
        self.seed_ = int(check_random_state(self.random_state).randint(2**31 - 1))
        # A random network is seeded even without random_state: features that
        # change with every fit would defeat the cache and reproducibility.
        self.network_seed_ = 0 if self.random_state is None else self.seed_
        self.n_backbone_features_ = self._backbone_width(backbone, kind, source)
        width = self.n_backbone_features_
        if self.head is None:
            for stale in ("head_", "loss_curve_", "classes_"):  # from an earlier fit
                self.__dict__.pop(stale, None)
            names = [f"{p}_resnet50_{k:04d}" for p in phases for k in range(width)]
        else:
            views = self._n_views()
            activations, _, _ = self._activations(X, views)
            self.classes_ = classes
            self.head_, self.loss_curve_ = {}, {}
            for j, phase in enumerate(phases):
                rng = np.random.default_rng([self.seed_, j])
                params = init_head(width, self.head, len(classes), rng)
                self.head_[phase], self.loss_curve_[phase] = train_head(
                    activations[phase].reshape(-1, width).astype(np.float64),
                    np.repeat(labels, 1 + views),
                    params,
                    epochs=self.epochs,
                    lr=self.lr,
                    batch_size=self.head_batch_size,
                    rng=rng,
                )
            names = [
                f"{p}_resnet50_head_{k:04d}" for p in phases for k in range(self.head)
            ]
        slots = image_slots(X, phases, {p: () for p in phases})
        self._set_layout(Layout(slots, tuple(names)))
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Deep features of every lesion.

        Parameters
        ----------
        X : DataFrame
            The records frame; only the image and mask columns of the fitted
            phases are read, one lesion at a time.

        Returns
        -------
        features : DataFrame of shape (n_lesions, n_features_out_)
            Indexed like ``X``, float64.

        Raises
        ------
        ROIError
            For the first lesion whose cell cannot be used, with its
            ``lesion`` and ``column``.
        """
        _import_backbone()
        check_is_fitted(self)
        return super().transform(X)

    def _extract(
        self, X: pd.DataFrame, layout: Layout, *, on_error: str = "raise"
    ) -> tuple[np.ndarray, list[ROIError]]:
        _import_backbone()
        check_is_fitted(self)
        activations, errors, _ = self._activations(X, views=0, on_error=on_error)
        blocks = []
        for phase in self.phases_:
            features = activations[phase][:, 0].astype(np.float64)
            if hasattr(self, "head_"):
                features = head_forward(features, self.head_[phase])
            blocks.append(features)
        return np.hstack(blocks), errors

    # --------------------------------------------------------- sklearn hooks

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_out_")

    def __getstate__(self) -> dict[str, Any]:
        # The network is rebuilt from the parameters (and seed_) on first use:
        # pickles stay small and load on a machine without the same device.
        state = dict(super().__getstate__())
        state.pop("model_", None)
        state.pop("_model_key", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The random network is seeded even with random_state=None; only the
        # head's training (initialisation, augmentation, shuffling) then is not.
        tags.non_deterministic = self.random_state is None and self.head is not None
        return tags
