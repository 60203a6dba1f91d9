"""The registry of texture families: names, parameters and computation.

This module is the single source of the feature names and of the families'
settings: :class:`~ceusradiomics.TextureExtractor`, the ``extract`` command,
the documentation and the tests all read :data:`FAMILIES`, so a name or an
option is never typed twice. A family is its module's maths (a private
function on the validated ROI crop) plus one :class:`Family` entry here;
its own parameters (:class:`FamilyParameter`) reach the extractor's
``family_params`` and the command line from that entry. See
``docs/extending.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval

from ceusradiomics.texture._common import (
    NORMALIZATIONS,
    check_distances,
    check_normalization,
    check_scales,
    crop_roi,
)
from ceusradiomics.texture._quantize import _quantize_crops
from ceusradiomics.texture.autoregressive import (
    _autoregressive,
    autoregressive_feature_names,
)
from ceusradiomics.texture.cooccurrence import (
    _co_occurrence,
    co_occurrence_feature_names,
)
from ceusradiomics.texture.gradient import _gradient, gradient_feature_names
from ceusradiomics.texture.histogram import _histogram, histogram_feature_names
from ceusradiomics.texture.runlength import _run_length, run_length_feature_names
from ceusradiomics.texture.wavelet import _wavelet, wavelet_feature_names

__all__ = [
    "DEFAULT_BITS",
    "FAMILIES",
    "NORMALIZATIONS",
    "Family",
    "FamilyParameter",
    "TexturePlan",
    "family_parameters",
    "register_family",
    "resolve_bits",
    "resolve_distances",
    "resolve_families",
    "resolve_plan",
    "resolve_wavelet_scales",
    "texture_feature_names",
    "texture_features",
]


@dataclass(frozen=True)
class FamilyParameter:
    """A setting of one family, exposed by the extractor and the command line.

    Attributes
    ----------
    name : str
        The setting's name, unique over all families: the key of
        ``TextureExtractor(family_params={name: value})``, the params-file key
        and the ``--name`` flag of ``python -m ceusradiomics extract``.
    default : object
        The value used when the setting is not given.
    resolve : callable
        ``resolve(value) -> value``: validates a user value (raising a
        :class:`ValueError` / :class:`TypeError` that names the setting) and
        returns it in a canonical, hashable form (a tuple, not a list).
    help : str
        One sentence for the command line's ``--help`` and the docs.
    constraint : list
        scikit-learn parameter constraints of the raw value, for the
        command line's type conversion (e.g. ``[Interval(Integral, 1, None,
        closed="left")]`` or ``["array-like"]``).
    """

    name: str
    default: Any
    resolve: Callable[[Any], Any]
    help: str
    constraint: list = field(default_factory=lambda: ["no_validation"])


@dataclass(frozen=True)
class Family:
    """One texture family: its key, names, parameters and computation.

    Attributes
    ----------
    key : str
        Short key used in ``families=`` and ``bits=`` (``"glcm"``).
    title : str
        Human-readable name (``"co-occurrence matrix"``).
    names : callable
        ``names(**params) -> list of str``: the feature names, in output
        order, for the family's resolved parameters.
    compute : callable
        ``compute(work, mask, *, levels, origin, **params) -> dict``: the
        features of one ROI, keyed and ordered as `names`. ``work`` is the
        working image of the ROI's bounding box, already validated and
        quantised to ``levels`` grey levels (0 outside the ROI); ``mask`` the
        boolean ROI of the box; ``origin`` the box's top-left pixel in the
        original image.
    default_bits : int
        Bits of the working image unless ``bits=`` says otherwise.
    parameters : tuple of FamilyParameter
        The family's own settings (passed to `names` and `compute` by name).
    """

    key: str
    title: str
    names: Callable[..., list[str]]
    compute: Callable[..., dict[str, float]]
    default_bits: int = 8
    parameters: tuple[FamilyParameter, ...] = ()


def resolve_distances(distances: Iterable[int] | int) -> tuple[int, ...]:
    """Validate GLCM distances: unique positive integers, kept in the given order."""
    if isinstance(distances, np.ndarray):
        distances = distances.tolist()
    return check_distances(distances)


def resolve_wavelet_scales(scales: int | Iterable[int]) -> tuple[int, ...]:
    """Scales ``1..k`` from an int ``k``, or a validated increasing sequence."""
    if isinstance(scales, Integral) and not isinstance(scales, bool):
        if not 1 <= scales <= 16:
            raise ValueError(
                f"wavelet_scales must be between 1 and 16 (scales 1..k); got {scales}"
            )
        return tuple(range(1, int(scales) + 1))
    if isinstance(scales, np.ndarray):
        scales = scales.tolist()
    try:
        return check_scales(scales)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"wavelet_{exc}") from None


def _hist(work, mask, *, levels, origin):
    return _histogram(work, mask)


def _grad(work, mask, *, levels, origin):
    return _gradient(work, mask)


def _rlm(work, mask, *, levels, origin):
    return _run_length(work, mask, levels)


def _glcm(work, mask, *, levels, origin, distances):
    return _co_occurrence(work, mask, levels, distances)


def _ar(work, mask, *, levels, origin):
    return _autoregressive(work, mask)


def _wav(work, mask, *, levels, origin, wavelet_scales):
    return _wavelet(work, mask, wavelet_scales, origin)


DISTANCES = FamilyParameter(
    "distances",
    (1, 2, 3, 4, 5),
    resolve_distances,
    "co-occurrence distances d of S(d,0), S(0,d), S(d,d), S(d,-d)",
    ["array-like", Interval(Integral, 1, None, closed="left")],
)
WAVELET_SCALES = FamilyParameter(
    "wavelet_scales",
    6,
    resolve_wavelet_scales,
    "Haar scales: k means 1..k, or a list of scales",
    [Interval(Integral, 1, 16, closed="both"), "array-like"],
)

#: The texture families, in output order: MaZda 4.6's six 2-D families, then
#: any registered with :func:`register_family`.
FAMILIES: dict[str, Family] = {
    f.key: f
    for f in (
        Family("hist", "histogram", histogram_feature_names, _hist),
        Family("grad", "absolute gradient", gradient_feature_names, _grad),
        Family(
            "rlm", "run-length matrix", run_length_feature_names, _rlm, default_bits=6
        ),
        Family(
            "glcm",
            "co-occurrence matrix",
            co_occurrence_feature_names,
            _glcm,
            default_bits=6,
            parameters=(DISTANCES,),
        ),
        Family("ar", "autoregressive model", autoregressive_feature_names, _ar),
        Family(
            "wav",
            "Haar wavelet",
            lambda wavelet_scales: wavelet_feature_names(wavelet_scales),
            _wav,
            parameters=(WAVELET_SCALES,),
        ),
    )
}


class _DefaultBits(Mapping):
    """Bits of the working image per family, read live from :data:`FAMILIES`.

    MaZda's usual settings: 6 bits for the matrix methods (run length,
    co-occurrence), the native 8 bits elsewhere.
    """

    def __getitem__(self, key: str) -> int:
        return FAMILIES[key].default_bits

    def __iter__(self):
        return iter(FAMILIES)

    def __len__(self) -> int:
        return len(FAMILIES)

    def __repr__(self) -> str:
        return repr(dict(self))


#: Bits of the working image per family (6 for ``rlm`` and ``glcm``, 8 otherwise).
DEFAULT_BITS: Mapping[str, int] = _DefaultBits()


def register_family(family: Family) -> Family:
    """Add a texture family to :data:`FAMILIES` (see ``docs/extending.md``).

    Its key must be new, and its parameters' names unique over all families.
    Returns `family`, so it can be used as a one-liner at module level.
    """
    if not isinstance(family, Family):
        raise TypeError(f"expected a Family; got {type(family).__name__}")
    if family.key in FAMILIES:
        raise ValueError(f"a texture family {family.key!r} is already registered")
    taken = family_parameters()
    clash = [p.name for p in family.parameters if p.name in taken]
    if clash:
        raise ValueError(
            f"parameter name(s) {clash} of family {family.key!r} are already used"
        )
    FAMILIES[family.key] = family
    return family


def family_parameters() -> dict[str, FamilyParameter]:
    """Every family's own parameters, by name, in registry order."""
    return {p.name: p for f in FAMILIES.values() for p in f.parameters}


def resolve_families(families: Iterable[str] | str | None) -> tuple[str, ...]:
    """Validate ``families`` and return the keys in the registry's order."""
    if families is None:
        return tuple(FAMILIES)
    if isinstance(families, str):
        families = (families,)
    families = tuple(families)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValueError(
            f"families must be a non-empty subset of {list(FAMILIES)}; "
            f"got {list(families)!r}" + (f" (unknown: {unknown})" if unknown else "")
        )
    return tuple(f for f in FAMILIES if f in families)


def resolve_bits(bits: int | Mapping[str, int] | None) -> dict[str, int]:
    """Return the bits per family from an int (all families), a dict or None."""
    resolved = dict(DEFAULT_BITS)
    if bits is None:
        return resolved
    if isinstance(bits, Integral) and not isinstance(bits, bool):
        items = dict.fromkeys(resolved, int(bits))
    elif isinstance(bits, Mapping):
        unknown = [k for k in bits if k not in resolved]
        if unknown:
            raise ValueError(
                f"bits has unknown families {unknown}; valid keys are {list(resolved)}"
            )
        items = dict(bits)
    else:
        raise TypeError(
            f"bits must be None, an int or a dict of family -> int; got {bits!r}"
        )
    for key, value in items.items():
        if (
            not isinstance(value, Integral)
            or isinstance(value, bool)
            or not 1 <= value <= 16
        ):
            raise ValueError(
                f"bits[{key!r}] must be an integer between 1 and 16; got {value!r}"
            )
        resolved[key] = int(value)
    return resolved


def _resolve_params(
    keys: tuple[str, ...], params: Mapping[str, Any] | None
) -> tuple[tuple[str, Any], ...]:
    known = family_parameters()
    params = dict(params or {})
    unknown = [name for name in params if name not in known]
    if unknown:
        raise ValueError(
            f"unknown texture family parameter(s) {unknown}; the registered ones "
            f"are {list(known)}"
        )
    return tuple(
        (p.name, p.resolve(params.get(p.name, p.default)))
        for key in keys
        for p in FAMILIES[key].parameters
    )


@dataclass(frozen=True)
class TexturePlan:
    """The resolved settings of one texture extraction (hashable, picklable).

    Built by :func:`resolve_plan`; :meth:`compute` runs the families on one
    validated ROI crop, :meth:`feature_names` lists their names.
    """

    families: tuple[str, ...]
    normalization: str
    bits: tuple[tuple[str, int], ...]
    params: tuple[tuple[str, Any], ...]

    def _family_params(self, key: str) -> dict[str, Any]:
        params = dict(self.params)
        return {p.name: params[p.name] for p in FAMILIES[key].parameters}

    def feature_names(self) -> list[str]:
        """The MaZda names of :meth:`compute`'s output, in order."""
        return [
            name
            for key in self.families
            for name in FAMILIES[key].names(**self._family_params(key))
        ]

    def compute(
        self, image_c: np.ndarray, mask_c: np.ndarray, origin: tuple[int, int]
    ) -> dict[str, float]:
        """Every family's features of a validated ROI crop.

        `image_c` and `mask_c` are the ROI's bounding box (as
        :func:`~ceusradiomics.texture._common.crop_roi` returns it) and
        `origin` its top-left pixel in the image. The grey levels are
        quantised once per distinct bit depth.
        """
        bits = dict(self.bits)
        depths = tuple(dict.fromkeys(bits[key] for key in self.families))
        working = _quantize_crops(image_c, mask_c, self.normalization, depths)
        features: dict[str, float] = {}
        for key in self.families:
            n_bits = bits[key]
            features.update(
                FAMILIES[key].compute(
                    working[n_bits],
                    mask_c,
                    levels=2**n_bits,
                    origin=origin,
                    **self._family_params(key),
                )
            )
        return features


def resolve_plan(
    families: Iterable[str] | str | None = None,
    *,
    normalization: str = "none",
    bits: int | Mapping[str, int] | None = None,
    distances: Sequence[int] | None = None,
    wavelet_scales: int | Sequence[int] | None = None,
    family_params: Mapping[str, Any] | None = None,
) -> TexturePlan:
    """Validate the texture settings once and return them as a :class:`TexturePlan`.

    `distances` and `wavelet_scales` are the co-occurrence and wavelet
    families' parameters, also accepted in `family_params`.
    """
    keys = resolve_families(families)
    params = dict(family_params or {})
    for name, value in (("distances", distances), ("wavelet_scales", wavelet_scales)):
        if value is not None:
            if name in params:
                raise ValueError(f"{name} is given twice (and in family_params)")
            params[name] = value
    all_bits = resolve_bits(bits)
    return TexturePlan(
        families=keys,
        normalization=check_normalization(normalization),
        bits=tuple((key, all_bits[key]) for key in keys),
        params=_resolve_params(keys, params),
    )


def texture_feature_names(
    families: Iterable[str] | str | None = None,
    *,
    distances: Sequence[int] = (1, 2, 3, 4, 5),
    wavelet_scales: int | Sequence[int] = 6,
    family_params: Mapping[str, Any] | None = None,
) -> list[str]:
    """MaZda names of the features :func:`texture_features` returns, in order.

    Parameters
    ----------
    families : iterable of str, optional
        Subset of ``("hist", "grad", "rlm", "glcm", "ar", "wav")``; all by default.
    distances : sequence of int, default=(1, 2, 3, 4, 5)
        Co-occurrence distances ``d`` of ``S(d,0)``, ``S(0,d)``, ``S(d,d)``,
        ``S(d,-d)``.
    wavelet_scales : int or sequence of int, default=6
        Haar scales: ``k`` means ``1..k``.
    family_params : dict, optional
        Parameters of further registered families, by name.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from ceusradiomics.texture import texture_feature_names
    >>> names = texture_feature_names()
    >>> len(names), names[0], names[-1]
    (283, 'Mean', 'WavEnHH_s-6')
    >>> texture_feature_names("glcm", distances=(1,))[:2]
    ['S(1,0)AngScMom', 'S(1,0)Contrast']
    """
    return resolve_plan(
        families,
        distances=distances,
        wavelet_scales=wavelet_scales,
        family_params=family_params,
    ).feature_names()


def texture_features(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    families: Iterable[str] | str | None = None,
    normalization: str = "none",
    bits: int | Mapping[str, int] | None = None,
    distances: Sequence[int] = (1, 2, 3, 4, 5),
    wavelet_scales: int | Sequence[int] = 6,
    family_params: Mapping[str, Any] | None = None,
    origin: tuple[int, int] = (0, 0),
) -> dict[str, float]:
    """Every MaZda 4.6 2-D texture feature of one image and ROI.

    The image and mask are validated once and cropped to the ROI's bounding
    box (keeping the Haar grid aligned to the original image, see
    :func:`~ceusradiomics.texture.wavelet_features`); the grey levels inside
    the ROI are normalised (``normalization``) and quantised to
    ``bits[family]`` bits once per distinct bit depth; each family then
    computes its features on its working image.

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Grey levels (integers for ``normalization="none"``).
    mask : ndarray of shape (n_rows, n_cols)
        The ROI; nonzero is inside.
    families : iterable of str, optional
        Subset of ``("hist", "grad", "rlm", "glcm", "ar", "wav")``; all by default.
    normalization : {"none", "3sigma", "1-99", "minmax"}, default="none"
        Grey-level range mapped onto the ``2**bits`` levels, from ROI pixels:
        the native range (MaZda's default), mean +/- 3 SD, the 1st-99th
        percentiles, or min-max. See :func:`~ceusradiomics.texture.quantize`.
    bits : int or dict, optional
        Bits per family; an int applies to all; by default
        :data:`DEFAULT_BITS` (6 for ``rlm`` and ``glcm``, 8 otherwise).
    distances : sequence of int, default=(1, 2, 3, 4, 5)
        Co-occurrence distances.
    wavelet_scales : int or sequence of int, default=6
        Haar scales, ``k`` meaning ``1..k``; NaN where the ROI holds no aligned
        ``2**k`` block.
    family_params : dict, optional
        Parameters of further registered families, by name.
    origin : tuple of int, default=(0, 0)
        Position of ``image[0, 0]`` in the original image, when ``image`` and
        ``mask`` are a crop of it: only the Haar grid, aligned to the original
        image, depends on it.

    Returns
    -------
    dict of str to float
        Keyed by the MaZda names of :func:`texture_feature_names`, in that order.

    Raises
    ------
    ROIError
        (a :class:`ValueError`) for an unusable ``(image, mask)``: shapes that
        differ, an empty mask, NaN inside the ROI, ...

    Warns
    -----
    DegenerateROIWarning
        For a ROI too small or too uniform for a family (those features are NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture import texture_features
    >>> rng = np.random.default_rng(0)
    >>> image = rng.integers(0, 256, size=(64, 64), dtype=np.uint8)
    >>> mask = np.zeros((64, 64), bool)
    >>> mask[8:56, 8:56] = True
    >>> features = texture_features(image, mask, families=("hist", "glcm"))
    >>> len(features)
    229
    >>> 0 <= features["S(1,0)AngScMom"] <= 1
    True
    """
    plan = resolve_plan(
        families,
        normalization=normalization,
        bits=bits,
        distances=distances,
        wavelet_scales=wavelet_scales,
        family_params=family_params,
    )
    image_c, mask_c, box = crop_roi(image, mask)
    return plan.compute(
        image_c,
        mask_c,
        (int(origin[0]) + box[0].start, int(origin[1]) + box[1].start),
    )
