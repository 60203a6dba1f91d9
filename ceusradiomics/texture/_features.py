"""All MaZda families of one ROI at once: the registry of families and names.

This module is the single source of the feature names: the extractor, the
documentation and the tests all read :data:`FAMILIES` and
:func:`texture_feature_names`, so a name is never typed twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from numbers import Integral

import numpy as np

from ceusradiomics.io import validate_roi
from ceusradiomics.texture._quantize import quantize
from ceusradiomics.texture.autoregressive import (
    autoregressive_feature_names,
    autoregressive_features,
)
from ceusradiomics.texture.cooccurrence import (
    co_occurrence_feature_names,
    co_occurrence_features,
)
from ceusradiomics.texture.gradient import gradient_feature_names, gradient_features
from ceusradiomics.texture.histogram import histogram_feature_names, histogram_features
from ceusradiomics.texture.runlength import (
    run_length_feature_names,
    run_length_features,
)
from ceusradiomics.texture.wavelet import wavelet_feature_names, wavelet_features

__all__ = [
    "DEFAULT_BITS",
    "FAMILIES",
    "resolve_bits",
    "resolve_distances",
    "resolve_families",
    "resolve_wavelet_scales",
    "texture_feature_names",
    "texture_features",
]


@dataclass(frozen=True)
class Family:
    """One MaZda feature family: its key, its names and how to compute it."""

    key: str
    title: str
    names: Callable[[tuple[int, ...], tuple[int, ...]], list[str]]
    # compute(working_image, mask, levels, distances, scales, origin) -> dict
    compute: Callable[..., dict[str, float]]


def _hist(w, m, levels, distances, scales, origin):
    return histogram_features(w, m)


def _grad(w, m, levels, distances, scales, origin):
    return gradient_features(w, m)


def _rlm(w, m, levels, distances, scales, origin):
    return run_length_features(w, m, levels=levels)


def _glcm(w, m, levels, distances, scales, origin):
    return co_occurrence_features(w, m, levels=levels, distances=distances)


def _ar(w, m, levels, distances, scales, origin):
    return autoregressive_features(w, m)


def _wav(w, m, levels, distances, scales, origin):
    return wavelet_features(w, m, scales=scales, origin=origin)


#: The six MaZda 4.6 2-D families, in MaZda's report order.
FAMILIES: dict[str, Family] = {
    f.key: f
    for f in (
        Family("hist", "histogram", lambda d, s: histogram_feature_names(), _hist),
        Family(
            "grad", "absolute gradient", lambda d, s: gradient_feature_names(), _grad
        ),
        Family(
            "rlm", "run-length matrix", lambda d, s: run_length_feature_names(), _rlm
        ),
        Family(
            "glcm",
            "co-occurrence matrix",
            lambda d, s: co_occurrence_feature_names(d),
            _glcm,
        ),
        Family(
            "ar",
            "autoregressive model",
            lambda d, s: autoregressive_feature_names(),
            _ar,
        ),
        Family("wav", "Haar wavelet", lambda d, s: wavelet_feature_names(s), _wav),
    )
}

#: Bits of the working image per family (MaZda's usual settings: 6 bits for the
#: matrix methods, the native 8 bits elsewhere).
DEFAULT_BITS: dict[str, int] = {
    "hist": 8,
    "grad": 8,
    "rlm": 6,
    "glcm": 6,
    "ar": 8,
    "wav": 8,
}


def resolve_families(families: Iterable[str] | str | None) -> tuple[str, ...]:
    """Validate ``families`` and return the keys in MaZda's order."""
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


def resolve_distances(distances: Iterable[int]) -> tuple[int, ...]:
    """Validate GLCM distances: unique positive integers, kept in the given order."""
    distances = tuple(np.atleast_1d(np.asarray(distances)).tolist())
    if (
        not distances
        or any(
            not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in distances
        )
        or len(set(distances)) != len(distances)
    ):
        raise ValueError(
            f"distances must be unique positive integers; got {distances!r}"
        )
    return distances


def resolve_wavelet_scales(scales: int | Iterable[int]) -> tuple[int, ...]:
    """Scales ``1..k`` from an int ``k``, or a validated increasing sequence."""
    if isinstance(scales, Integral) and not isinstance(scales, bool):
        if not 1 <= scales <= 16:
            raise ValueError(
                f"wavelet_scales must be between 1 and 16 (scales 1..k); got {scales}"
            )
        return tuple(range(1, int(scales) + 1))
    scales = tuple(np.atleast_1d(np.asarray(scales)).tolist())
    if (
        not scales
        or any(
            not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= 16
            for s in scales
        )
        or any(b <= a for a, b in pairwise(scales))
    ):
        raise ValueError(
            "wavelet_scales must be an int k (scales 1..k) or strictly increasing "
            f"integers between 1 and 16; got {scales!r}"
        )
    return scales


def texture_feature_names(
    families: Iterable[str] | str | None = None,
    *,
    distances: Sequence[int] = (1, 2, 3, 4, 5),
    wavelet_scales: int | Sequence[int] = 6,
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
    keys = resolve_families(families)
    d = resolve_distances(distances)
    s = resolve_wavelet_scales(wavelet_scales)
    return [name for key in keys for name in FAMILIES[key].names(d, s)]


def texture_features(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    families: Iterable[str] | str | None = None,
    normalization: str = "none",
    bits: int | Mapping[str, int] | None = None,
    distances: Sequence[int] = (1, 2, 3, 4, 5),
    wavelet_scales: int | Sequence[int] = 6,
    origin: tuple[int, int] = (0, 0),
) -> dict[str, float]:
    """Every MaZda 4.6 2-D texture feature of one image and ROI.

    The grey levels inside the ROI are normalised (``normalization``) and
    quantised to ``bits[family]`` bits once per distinct bit depth; each family
    then computes its features on its working image. The image is cropped to the
    ROI's bounding box first, keeping the Haar grid aligned to the original
    image (see :func:`~ceusradiomics.texture.wavelet_features`).

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
    origin : tuple of int, default=(0, 0)
        Position of ``image[0, 0]`` in the original image, when ``image`` and
        ``mask`` are a crop of it: only the Haar grid, aligned to the original
        image, depends on it.

    Returns
    -------
    dict of str to float
        Keyed by the MaZda names of :func:`texture_feature_names`, in that order.

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
    keys = resolve_families(families)
    bits_per_family = resolve_bits(bits)
    d = resolve_distances(distances)
    s = resolve_wavelet_scales(wavelet_scales)
    image, mask = validate_roi(image, mask)

    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    image, mask = image[r0:r1, c0:c1], mask[r0:r1, c0:c1]

    working: dict[int, np.ndarray] = {}
    features: dict[str, float] = {}
    for key in keys:
        n_bits = bits_per_family[key]
        if n_bits not in working:
            working[n_bits] = quantize(
                image, mask, normalization=normalization, bits=n_bits
            )
        features.update(
            FAMILIES[key].compute(
                working[n_bits],
                mask,
                2**n_bits,
                d,
                s,
                (int(origin[0] + r0), int(origin[1] + c0)),
            )
        )
    return features
