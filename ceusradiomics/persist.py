"""Saving and loading fitted models safely, with their model card.

A pickle runs whatever code its author put in it when it is loaded, so a
model shared between hospitals should not be one. :func:`save_model` writes
the skops format (:mod:`skops.io`: a zip of a JSON schema and numpy arrays,
rebuilt without :mod:`pickle`), and :func:`load_model` constructs a file only
when every type in it is trusted: the library's own estimators, and the
handful of scikit-learn and numpy internals that its models hold (a tree's
``Tree``, a calibrated SVM's calibrators, a splitter). Any other type is
refused with its name listed, before anything in the file is constructed;
pass the names you have reviewed as ``trusted=``.

Beside the skops schema the file holds, under ``ceusradiomics/``:

- ``meta.json``: the format version and the network weights files it embeds;
- ``card.json``: the :class:`~ceusradiomics.card.ModelCard` (plain JSON);
- ``weights/<sha256>.pt``: a ResNet-50 state dict given as a file
  (``weights="path/to/resnet50.pth"``), so the model gives the same numbers
  on a machine that lacks the file. Named torchvision weights are not
  embedded: the card records the name and SHA-256, and torchvision's own
  loader fetches and checks them. A random network is rebuilt from its seed.

Embedded weights are written on load to the user cache
(``$CEUSRADIOMICS_CACHE``, else ``$XDG_CACHE_HOME/ceusradiomics``, else
``~/.cache/ceusradiomics``) under their SHA-256, checked, and the loaded
featurizer points at that copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from pathlib import Path
from typing import Any

from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ceusradiomics._version import __version__
from ceusradiomics.exceptions import UntrustedModelError

__all__ = ["load_card", "load_model", "save_model", "trusted_types"]

#: Version of the layout of the ``ceusradiomics/`` entries.
MODEL_FORMAT = 1
_META = "ceusradiomics/meta.json"
_CARD = "ceusradiomics/card.json"
_WEIGHTS = "ceusradiomics/weights/"

#: scikit-learn and numpy types that skops does not trust by default but the
#: library's fitted models hold; constructing them runs no user code.
_SKLEARN_INTERNALS = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.model_selection._split.RepeatedStratifiedKFold",
)


def _library_types() -> list[type]:
    from ceusradiomics.clinical import ScreenedLogisticRegression
    from ceusradiomics.ensemble import RadiomicsScore, StackingERClassifier, _Columns
    from ceusradiomics.extractors import (
        PerfusionExtractor,
        ResNetFeaturizer,
        TextureExtractor,
    )
    from ceusradiomics.extractors._base import Layout, Slot
    from ceusradiomics.harmonize import ComBat
    from ceusradiomics.selection import (
        CorrelationPruner,
        EmptyFeatureFilter,
        ICCFilter,
        LassoSelector,
        MannWhitneySelector,
    )

    return [
        ComBat,
        CorrelationPruner,
        EmptyFeatureFilter,
        ICCFilter,
        LassoSelector,
        Layout,
        MannWhitneySelector,
        PerfusionExtractor,
        RadiomicsScore,
        ResNetFeaturizer,
        ScreenedLogisticRegression,
        Slot,
        StackingERClassifier,
        TextureExtractor,
        _Columns,
    ]


def trusted_types() -> list[str]:
    """The types :func:`load_model` constructs beyond skops' own trusted ones.

    The library's estimators and the data classes they hold, and the
    scikit-learn / numpy internals of its fitted models.
    """
    names = [f"{t.__module__}.{t.__qualname__}" for t in _library_types()]
    return sorted({*names, *_SKLEARN_INTERNALS})


def _cache_dir() -> Path:
    root = os.environ.get("CEUSRADIOMICS_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ceusradiomics"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _featurizers(model: Any) -> list[Any]:
    from ceusradiomics.card import iter_estimators
    from ceusradiomics.extractors import ResNetFeaturizer

    return [e for _, e in iter_estimators(model) if isinstance(e, ResNetFeaturizer)]


def _weights_files(model: Any) -> dict[str, Path]:
    """The weights files of the model's featurizers: resolved path string -> path."""
    from ceusradiomics.deep._weights import resolve_weights

    files = {}
    for featurizer in _featurizers(model):
        kind, source = resolve_weights(featurizer.weights)
        if kind == "file":
            files[os.fspath(featurizer.weights)] = source
    return files


def save_model(model: Any, path: str | os.PathLike[str], *, card: Any = True) -> Path:
    """Save a fitted model to a skops file, with its card and weights files.

    Parameters
    ----------
    model : estimator
        A fitted estimator: a :class:`~ceusradiomics.StackingERClassifier`,
        a :func:`~ceusradiomics.ensemble.make_study_pipeline` pipeline, any
        of the library's estimators or a scikit-learn estimator.
    path : str or os.PathLike
        The file to write (``.skops`` by convention); replaced atomically.
    card : ModelCard, bool, default=True
        ``True`` stores the card of the model alone
        (:meth:`ModelCard.from_model`: settings, selected features,
        radiomics score, versions, the stack's own out-of-fold AUC); a
        :class:`~ceusradiomics.card.ModelCard` built with the training cohort
        is stored as given; ``False`` stores none.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If `model` is not fitted.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ceusradiomics import load_model, save_model
    >>> X, y = make_classification(n_samples=40, random_state=0)
    >>> model = LogisticRegression().fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> _ = save_model(model, path)
    >>> bool((load_model(path).predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    import skops.io

    from ceusradiomics.card import ModelCard

    try:
        check_is_fitted(model)
    except TypeError as exc:
        raise TypeError(
            f"save_model needs an estimator; got {type(model).__name__}"
        ) from exc
    except NotFittedError as exc:
        raise NotFittedError(
            f"this {type(model).__name__} is not fitted: fit it before save_model"
        ) from exc
    if card is True:
        card = ModelCard.from_model(model)
    elif card is not False and card is not None and not isinstance(card, ModelCard):
        raise TypeError(
            f"card must be a ModelCard, True or False; got {type(card).__name__}"
        )

    weights = {}
    for key, file in _weights_files(model).items():
        data = file.read_bytes()
        weights[key] = (_sha256_bytes(data), data)
    meta = {
        "format": MODEL_FORMAT,
        "ceusradiomics": __version__,
        "weights_files": {key: sha for key, (sha, _) in weights.items()},
    }
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        skops.io.dump(model, tmp, compression=zipfile.ZIP_DEFLATED)
        with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_META, json.dumps(meta, indent=2))
            if card:
                archive.writestr(_CARD, card.to_json())
            for sha, data in {sha: data for sha, data in weights.values()}.items():
                # A state dict barely compresses: stored as is.
                archive.writestr(
                    f"{_WEIGHTS}{sha}.pt", data, compress_type=zipfile.ZIP_STORED
                )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _read_entry(path: Path, name: str) -> bytes | None:
    with zipfile.ZipFile(path) as archive:
        try:
            return archive.read(name)
        except KeyError:
            return None


def _check_model_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file '{path}'")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"'{path}' is not a model file of save_model (a skops zip archive)"
        )
    return path


def load_model(
    path: str | os.PathLike[str], *, trusted: list[str] | None = None
) -> Any:
    """Load a model saved by :func:`save_model`, constructing only trusted types.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.skops`` file.
    trusted : list of str, optional
        Further fully qualified type names to accept (e.g. your own
        estimator, after reviewing the file). Everything else that skops
        does not trust and :func:`trusted_types` does not list is refused.

    Returns
    -------
    estimator
        The fitted model; a featurizer with embedded weights points at their
        checked copy in the user cache.

    Raises
    ------
    UntrustedModelError
        If the file holds other types; its ``types`` lists them. Nothing of
        the file was constructed.
    FileNotFoundError, ValueError
        If the file is missing or not a skops archive.
    """
    import skops.io

    path = _check_model_file(path)
    untrusted = skops.io.get_untrusted_types(file=path)
    allowed = set(trusted_types()) | set(trusted or ())
    refused = sorted(t for t in untrusted if t not in allowed)
    if refused:
        raise UntrustedModelError(
            f"'{path}' holds types that ceusradiomics does not trust: {refused}. "
            "Nothing was loaded. If you know where the file comes from and have "
            "reviewed these types, pass them as load_model(path, trusted=[...])",
            refused,
        )
    model = skops.io.load(path, trusted=untrusted)
    meta_bytes = _read_entry(path, _META)
    meta = json.loads(meta_bytes) if meta_bytes else {}
    if meta.get("weights_files"):
        _restore_weights(model, path, meta["weights_files"])
    return model


def _restore_weights(model: Any, path: Path, files: dict[str, str]) -> None:
    for featurizer in _featurizers(model):
        key = os.fspath(featurizer.weights) if featurizer.weights is not None else None
        sha = files.get(key)
        if sha is None:
            continue
        target = _cache_dir() / "weights" / f"{sha}.pt"
        if not (target.is_file() and _sha256_bytes(target.read_bytes()) == sha):
            data = _read_entry(path, f"{_WEIGHTS}{sha}.pt")
            if data is None or _sha256_bytes(data) != sha:
                raise ValueError(
                    f"'{path}' lacks the weights file it records (SHA-256 {sha}) "
                    "or holds a corrupt copy"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            partial.write_bytes(data)
            os.replace(partial, target)
        featurizer.weights = str(target)


def load_card(path: str | os.PathLike[str]) -> Any:
    """The :class:`~ceusradiomics.card.ModelCard` stored in a model file.

    Reads JSON only: nothing of the model is constructed. None when the file
    holds no card.
    """
    from ceusradiomics.card import ModelCard

    path = _check_model_file(path)
    data = _read_entry(path, _CARD)
    return None if data is None else ModelCard.from_dict(json.loads(data))
