"""Image and mask I/O and the records data model.

A cohort is a :class:`pandas.DataFrame` with **one row per lesion**, indexed by
lesion id (the *records frame*, ``X``). For every imaging phase (``US``, ``AP``,
``PP``, ...) it holds

``{phase}_image``
    a 2-D array, or a path to a PNG/JPEG/TIFF/BMP file or a DICOM file;
``{phase}_mask``
    the primary reader's region of interest (ROI), an array or a path,
    nonzero = inside;
``{phase}_mask_{reader}``
    optional masks drawn by further readers (e.g. ``US_mask_r2``), empty
    (``None``) where a lesion has none;
``{phase}_frame``
    optional: the frame of a multi-frame ``{phase}_image`` (a cine DICOM), an
    index or ``"peak"`` / ``"ap"`` / ``"pp"`` (resolved by the extractors from
    the loop and the phase's ROI).

Other columns are ignored by the extractors. Paths stay paths until an
extractor needs the pixels (:func:`load_roi`), so a cohort of thousands of
lesions never sits in memory at once. Every extractor checks its ROIs with
:func:`validate_roi`, whose messages name the lesion and the column.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterable
from typing import Any, Union

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from ceusradiomics._roi import binarise, validate_roi
from ceusradiomics.exceptions import (
    ROIError,
    ROIFileNotFoundError,
    ROITypeError,
)

__all__ = [
    "check_phases",
    "image_phases",
    "is_missing",
    "load_cohort",
    "load_roi",
    "mask_readers",
    "read_cine",
    "read_image",
    "read_mask",
    "validate_roi",
]

# What read_image and read_mask accept (a pydicom Dataset too, typed Any so
# that pydicom is only imported when a DICOM file is read).
_ImageSource = Union[np.ndarray, str, "os.PathLike[str]", Image.Image, Any]

_COLOR_OPTIONS = ("luma", "red", "green", "blue", "error")
_CHANNEL = {"red": 0, "green": 1, "blue": 2}
# ITU-R BT.601 luma weights; they sum to 1, so a grey pixel keeps its value.
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
_DICOM_SUFFIXES = (".dcm", ".dicom")
# Pillow modes whose numpy view already is grey, grey + alpha or RGB(A).
_DIRECT_MODES = frozenset({"L", "LA", "I", "F", "RGB", "RGBA", "RGBX"})
_IMAGE_SUFFIX = "_image"
_MASK_SUFFIX = "_mask"


# --------------------------------------------------------------------------
# Reading pixels
# --------------------------------------------------------------------------


def read_image(
    source: _ImageSource,
    *,
    frame: int | None = None,
    color: str = "luma",
) -> np.ndarray:
    """Read one 2-D grey-level image from an array or a file.

    Accepted sources are a NumPy array, a path (``str`` or
    :class:`os.PathLike`) to a PNG, JPEG, TIFF or BMP file (read with Pillow)
    or to a DICOM file (read with pydicom; recognised by the ``.dcm`` /
    ``.dicom`` extension or by the ``DICM`` preamble), an open
    :class:`PIL.Image.Image` or a :class:`pydicom.dataset.Dataset`.

    Values are never rescaled to another range: 8-bit grey images come back
    as ``uint8``, 16-bit ones (Pillow mode ``I;16``, DICOM ``BitsAllocated``
    16) as ``uint16``/``int16``, float TIFFs as ``float32`` and a 2-D array
    as the very same object. Colour images are turned into grey by `color`.

    Parameters
    ----------
    source : ndarray, str, os.PathLike, PIL.Image.Image or pydicom.Dataset
        The image. An array is a 2-D grey image, a channel-last
        ``(rows, columns, 3 or 4)`` RGB(A) image or, with `frame`, a stack of
        frames ``(frames, rows, columns[, channels])`` from which `frame`
        picks one.
    frame : int, optional
        The frame (0-based) of a multi-frame source: a cine DICOM, a
        multi-page TIFF or a stack of arrays. Required when the source holds
        more than one frame; ``0`` (or ``None``) for a single-frame source.
    color : {"luma", "red", "green", "blue", "error"}, default="luma"
        How a colour image becomes grey:

        - ``"luma"``: ITU-R BT.601 luma (see Notes), in the source's grey
          levels: ``uint8`` for 8-bit colour, ``uint16`` for 16-bit,
          ``float64`` for float;
        - ``"red"``, ``"green"``, ``"blue"``: that channel, with its dtype;
        - ``"error"``: raise a :class:`ValueError` on a colour image.

        An RGB image whose three channels are identical (a grey screen
        capture) is grey whatever `color` says: its first channel is returned
        with its dtype. Alpha channels are dropped and palette images are
        expanded to RGB first.

    Returns
    -------
    image : ndarray of shape (rows, columns)
        The grey-level image.

    Raises
    ------
    FileNotFoundError
        If `source` is a path that does not exist.
    ValueError
        If the file cannot be read as an image, a multi-frame source gets no
        `frame` (the message says how many frames there are), `frame` is out
        of range, `color` is unknown, or the image is colour and
        ``color="error"``.
    TypeError
        If `source` is of another type.

    See Also
    --------
    read_mask : Read a binary ROI.
    load_roi : Read an image and its mask and validate them together.

    Notes
    -----
    The luma of an RGB pixel is

    .. math:: Y = 0.299\\,R + 0.587\\,G + 0.114\\,B

    (ITU-R BT.601 [1]_), the grey level of the JPEG/JFIF standard, of Pillow's
    ``convert("L")`` and the Y of DICOM's ``YBR_FULL``. An integer colour image
    keeps integer grey levels of its own dtype, as MaZda analyses 8-bit grey:
    for 8 bits the weights are applied in 16-bit fixed point and rounded half
    up, ``Y = (19595 R + 38470 G + 7471 B + 32768) >> 16``, exactly Pillow's
    ``convert("L")``; wider integers (16-bit colour) are rounded half up from
    the float luma. So an 8-bit colour ultrasound frame gives a
    ``uint8`` image that the default ``normalization="none"`` of the texture
    features accepts. A float colour image gives ``float64`` luma, unrounded.
    It differs from :func:`skimage.color.rgb2gray`, which uses the BT.709
    weights.

    DICOM pixel data are decoded by pydicom, one frame at a time. The
    photometric interpretation [2]_ is handled as follows: ``MONOCHROME2`` as
    is; ``MONOCHROME1`` (white = minimum) is inverted within the range of
    ``BitsStored`` so that bright means high, keeping the dtype;
    ``YBR_FULL`` and ``YBR_FULL_422`` are converted to RGB with
    :func:`pydicom.pixels.convert_color_space`; ``PALETTE COLOR`` is expanded
    with :func:`pydicom.pixels.apply_color_lut`; the JPEG 2000 colour
    transforms (``YBR_RCT``/``YBR_ICT``) are undone by the decoder. For a
    grey image, ``RescaleSlope``/``RescaleIntercept`` are applied (giving
    ``float64``) when present and not the identity; a Modality LUT sequence
    and per-frame functional groups are not applied.

    References
    ----------
    .. [1] ITU-R Recommendation BT.601-7, "Studio encoding parameters of
       digital television for standard 4:3 and wide-screen 16:9 aspect
       ratios", 2011.
    .. [2] NEMA PS3.3, "DICOM Part 3: Information Object Definitions",
       sections C.7.6.3.1.2 (Photometric Interpretation) and C.11.1
       (Modality LUT Module).

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.io import read_image
    >>> rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    >>> read_image(rgb)  # BT.601 luma, rounded, in the source's 8 bits
    array([[ 76, 150,  29]], dtype=uint8)
    >>> read_image(rgb, color="green")
    array([[  0, 255,   0]], dtype=uint8)

    A cine of 30 frames needs ``frame=``:

    >>> cine = np.zeros((30, 4, 4), dtype=np.uint8)
    >>> read_image(cine, frame=2).shape
    (4, 4)
    """
    _check_color(color)
    frame = _check_frame(frame)
    pixels, what = _read_pixels(source, frame)
    return _to_grey(pixels, color, what)


def read_mask(
    source: _ImageSource,
    *,
    label: int | float | tuple[int, int, int] | None = None,
    frame: int | None = None,
) -> np.ndarray:
    """Read a region of interest as a boolean 2-D array.

    The source is read like :func:`read_image` (arrays, image files, DICOM),
    but colour is not converted to grey: a pixel is inside when any of its
    colour channels is nonzero (alpha is ignored). With `label`, a pixel is
    inside when it equals `label` (a label image holding several ROIs).

    Parameters
    ----------
    source : ndarray, str, os.PathLike, PIL.Image.Image or pydicom.Dataset
        The mask. A 2-D boolean array is returned as the same object.
    label : int, float or tuple of 3 ints, optional
        The value that marks the ROI. A scalar for a grey mask, an RGB triple
        for a colour mask. By default every nonzero pixel is inside.
    frame : int, optional
        The frame of a multi-frame source, as in :func:`read_image`.

    Returns
    -------
    mask : ndarray of bool, shape (rows, columns)
        ``True`` inside the ROI.

    Raises
    ------
    FileNotFoundError
        If `source` is a path that does not exist.
    ValueError
        If the mask holds NaN, or a scalar `label` is given for a colour mask
        (or an RGB `label` for a grey one), or as :func:`read_image`.
    TypeError
        If `source` is of another type or holds no numbers.

    See Also
    --------
    read_image : Read an image.
    validate_roi : Check an image and its mask together.

    Notes
    -----
    Masks must be stored losslessly (PNG, TIFF, BMP, DICOM): JPEG artefacts
    around a drawn ROI are nonzero and would enlarge it.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.io import read_mask
    >>> labels = np.array([[0, 1, 2], [0, 2, 2]], dtype=np.uint8)
    >>> read_mask(labels)
    array([[False,  True,  True],
           [False,  True,  True]])
    >>> read_mask(labels, label=2)
    array([[False, False,  True],
           [False,  True,  True]])
    """
    return _read_mask_labels(source, label, frame)[0]


def _distinct_labels(pixels: np.ndarray, limit: int = 8) -> tuple:
    """The distinct nonzero values of a grey label mask, when there are several."""
    if pixels.ndim != 2 or pixels.dtype == np.bool_ or pixels.dtype.kind not in "uif":
        return ()
    values = pixels[pixels != 0]
    if values.size == 0 or values.min() == values.max():
        return ()
    return tuple(np.unique(values)[:limit].tolist())


def _read_mask_labels(
    source: _ImageSource, label: Any, frame: int | None = None
) -> tuple[np.ndarray, tuple]:
    """:func:`read_mask`, and the labels it merged (several nonzero values)."""
    frame = _check_frame(frame)
    pixels, what = _read_pixels(source, frame)
    if pixels.ndim == 3:
        pixels = _drop_alpha_and_grey_channels(pixels)
    if label is None:
        if pixels.ndim == 3:
            return binarise(pixels).any(axis=-1), ()
        return binarise(pixels), _distinct_labels(pixels)
    return _select_label(pixels, label, what), ()


def _select_label(pixels: np.ndarray, label: Any, what: str) -> np.ndarray:
    label_arr = np.asarray(label)
    if pixels.ndim == 2:
        if label_arr.ndim != 0:
            raise ValueError(
                f"label must be a scalar for a grey mask; got {label!r} for {what}"
            )
        return pixels == label_arr
    if label_arr.shape != (3,):
        raise ValueError(
            f"label must be an RGB triple such as (255, 0, 0) for a colour "
            f"mask; got {label!r} for {what}, whose channels differ"
        )
    return np.all(pixels == label_arr, axis=-1)


def _check_color(color: str) -> None:
    if not isinstance(color, str) or color not in _COLOR_OPTIONS:
        options = ", ".join(repr(c) for c in _COLOR_OPTIONS)
        raise ValueError(f"color must be one of {options}; got {color!r}")


def _check_frame(frame: Any) -> int | None:
    if frame is None:
        return None
    if isinstance(frame, (bool, np.bool_)) or not isinstance(frame, (int, np.integer)):
        raise TypeError(f"frame must be an int or None; got {frame!r}")
    if frame < 0:
        raise ValueError(f"frame must be >= 0; got {frame}")
    return int(frame)


def _is_pydicom_dataset(obj: Any) -> bool:
    # pydicom is imported lazily (it takes ~0.2 s); an object can only be a
    # Dataset if pydicom has already been imported by someone.
    pydicom = sys.modules.get("pydicom")
    return pydicom is not None and isinstance(obj, pydicom.Dataset)


def _read_pixels(source: Any, frame: int | None) -> tuple[np.ndarray, str]:
    """Return the 2-D or (rows, columns, channels) pixels and a description."""
    if isinstance(source, np.ndarray):
        return _select_array_frame(source, frame), "the array"
    if isinstance(source, Image.Image):
        return _read_pillow(source, frame, "the PIL image"), "the PIL image"
    if _is_pydicom_dataset(source):
        return _read_dicom(source, frame, "the DICOM dataset"), "the DICOM dataset"
    if isinstance(source, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(source))
        what = f"'{path}'"
        if not os.path.exists(path):
            raise _not_found(path, "image file")
        if os.path.isdir(path):
            raise ValueError(f"{what} is a directory, not an image file")
        if _looks_like_dicom(path):
            import pydicom
            from pydicom.errors import InvalidDicomError

            try:
                ds = pydicom.dcmread(path)
            except InvalidDicomError as exc:
                raise ValueError(f"cannot read {what} as DICOM: {exc}") from exc
            return _read_dicom(ds, frame, what), what
        try:
            img = Image.open(path)
        except UnidentifiedImageError as exc:
            raise ValueError(
                f"cannot read {what} as an image; supported are PNG, JPEG, "
                "TIFF and BMP (through Pillow) and DICOM (.dcm/.dicom or a "
                "file with the DICM preamble)"
            ) from exc
        with img:
            return _read_pillow(img, frame, what), what
    raise TypeError(
        "source must be a numpy array, a path (str or os.PathLike), a "
        f"PIL.Image.Image or a pydicom Dataset; got {type(source).__name__}"
    )


def _not_found(path: str, what: str) -> FileNotFoundError:
    """The error for a path that does not exist, or that is a symlink loop."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return FileNotFoundError(
                f"'{path}' is a symlink loop (a link that leads back to itself), "
                f"not a {what}; point it at the {what}"
            )
    return FileNotFoundError(f"no such {what}: '{path}'")


def _looks_like_dicom(path: str) -> bool:
    if path.lower().endswith(_DICOM_SUFFIXES):
        return True
    # A DICOM file (PS3.10) starts with a 128-byte preamble and b"DICM".
    with open(path, "rb") as fh:
        head = fh.read(132)
    return head[128:132] == b"DICM"


def _frame_error(what: str, n_frames: int, frame: int | None) -> ValueError:
    if frame is None:
        return ValueError(
            f"{what} holds {n_frames} frames (a cine); pass frame= (an int "
            f"from 0 to {n_frames - 1}) to pick one"
        )
    return ValueError(
        f"frame={frame} is out of range for {what}, which holds {n_frames} "
        f"frame{'s' if n_frames > 1 else ''}"
    )


def _select_array_frame(arr: np.ndarray, frame: int | None) -> np.ndarray:
    # Without frame=, a 3-D array is one channel-last colour image; with
    # frame=, the first axis of a 3-D or 4-D array indexes frames (a cine).
    if frame is None:
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (1, 2, 3, 4)):
            return arr
        if arr.ndim == 3 or arr.ndim == 4:
            raise _frame_error(
                f"the array of shape {arr.shape} (a colour image would be "
                "(rows, columns, 3 or 4))",
                arr.shape[0],
                None,
            )
    elif arr.ndim == 2:
        if frame != 0:
            raise _frame_error("the 2-D array", 1, frame)
        return arr
    elif arr.ndim == 3 or arr.ndim == 4:
        if frame >= arr.shape[0]:
            raise _frame_error(f"the array of shape {arr.shape}", arr.shape[0], frame)
        selected = arr[frame]
        if selected.ndim == 2 or selected.shape[-1] in (1, 2, 3, 4):
            return selected
    raise ValueError(
        "expected a 2-D image, a (rows, columns, 3 or 4) colour image, or with "
        "frame= a stack of them along the first axis; got an array of shape "
        f"{arr.shape}"
    )


def _read_pillow(img: Image.Image, frame: int | None, what: str) -> np.ndarray:
    n_frames = getattr(img, "n_frames", 1)
    if (n_frames > 1 and frame is None) or (frame is not None and frame >= n_frames):
        raise _frame_error(what, n_frames, frame)
    if frame:
        img.seek(frame)
    mode = img.mode
    if mode == "1":
        # Bilevel images come out of numpy as bool, which is no grey level.
        img = img.convert("L")
    elif mode not in _DIRECT_MODES and not mode.startswith("I;16"):
        # Palette, CMYK, YCbCr, premultiplied alpha, ...: expand to RGB.
        try:
            img = img.convert("RGB")
        except ValueError as exc:
            raise ValueError(
                f"cannot convert {what} (Pillow mode {mode!r}) to RGB"
            ) from exc
    # np.array (not asarray): Pillow's buffer is read-only.
    arr = np.array(img)
    if not arr.dtype.isnative:  # I;16B
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _read_dicom(ds: Any, frame: int | None, what: str) -> np.ndarray:
    from pydicom.pixels import apply_color_lut, convert_color_space, get_decoder

    pixel_keywords = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
    if not any(keyword in ds for keyword in pixel_keywords):
        raise ValueError(f"{what} holds no pixel data")
    n_frames = int(ds.get("NumberOfFrames") or 1)
    if (n_frames > 1 and frame is None) or (frame is not None and frame >= n_frames):
        raise _frame_error(what, n_frames, frame)
    tsyntax = getattr(ds.get("file_meta"), "TransferSyntaxUID", None)
    if tsyntax is None:
        raise ValueError(
            f"{what} has no Transfer Syntax UID in its file meta information"
        )
    # raw=True: decode without colour conversion, so the conversion below is
    # done explicitly by convert_color_space, one frame at a time.
    arr, meta = get_decoder(tsyntax).as_array(
        ds, index=frame if n_frames > 1 else None, raw=True
    )
    photometric = str(meta.get("photometric_interpretation", "MONOCHROME2"))
    if photometric in ("YBR_FULL", "YBR_FULL_422"):
        return convert_color_space(arr, photometric, "RGB")
    if photometric == "PALETTE COLOR":
        return apply_color_lut(arr, ds)
    if photometric == "RGB":
        return arr
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(
            f"{what} has photometric interpretation {photometric!r}; supported "
            "are MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, YBR_FULL_422 and "
            "PALETTE COLOR"
        )
    if photometric == "MONOCHROME1":
        arr = _invert_monochrome1(arr, meta)
    slope = ds.get("RescaleSlope")
    intercept = ds.get("RescaleIntercept")
    slope = 1.0 if slope is None else float(slope)
    intercept = 0.0 if intercept is None else float(intercept)
    if slope != 1.0 or intercept != 0.0:
        arr = arr.astype(np.float64) * slope + intercept
    return arr


def _invert_monochrome1(arr: np.ndarray, meta: dict) -> np.ndarray:
    if arr.dtype.kind == "f":
        return -arr
    bits = int(meta.get("bits_stored") or arr.dtype.itemsize * 8)
    if int(meta.get("pixel_representation") or 0):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    # Mirror within the stored range; int64 + clip guards against values
    # outside BitsStored wrapping around in an unsigned dtype.
    return np.clip(lo + hi - arr.astype(np.int64), lo, hi).astype(arr.dtype)


def _drop_alpha_and_grey_channels(pixels: np.ndarray) -> np.ndarray:
    """Channel-last pixels -> 2-D (grey, grey+alpha, equal RGB) or (..., 3)."""
    n_channels = pixels.shape[-1]
    if n_channels in (1, 2):
        return np.ascontiguousarray(pixels[..., 0])
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    if np.array_equal(red, green) and np.array_equal(red, blue):
        return np.ascontiguousarray(red)
    return pixels[..., :3]


def _to_grey(pixels: np.ndarray, color: str, what: str) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels
    pixels = _drop_alpha_and_grey_channels(pixels)
    if pixels.ndim == 2:
        return pixels
    if color == "error":
        raise ValueError(
            f"{what} is a colour image whose channels differ, and "
            "color='error'; pass color='luma', 'red', 'green' or 'blue' to "
            "convert it to grey"
        )
    if color == "luma":
        return _luma(pixels)
    return np.ascontiguousarray(pixels[..., _CHANNEL[color]])


# BT.601 weights in 16-bit fixed point (sum 65536), as Pillow's convert("L").
_LUMA_FIXED = np.array([19595, 38470, 7471], dtype=np.int64)


def _luma(pixels: np.ndarray) -> np.ndarray:
    """BT.601 luma of ``(..., 3)`` RGB pixels, in the source's grey levels.

    Integer sources keep integer grey levels of their own dtype, rounded half
    up: 8 bits with the weights in 16-bit fixed point, exactly Pillow's
    ``convert("L")``; wider integers in float64 (fixed point would lose up
    to 3/4 of a level there). Float sources give float64 luma, unrounded.
    """
    if pixels.dtype.itemsize == 1 and pixels.dtype.kind in "ui":
        fixed = pixels.astype(np.int32) @ _LUMA_FIXED.astype(np.int32)
        return ((fixed + 0x8000) >> 16).astype(pixels.dtype)
    luma = pixels @ _LUMA_WEIGHTS
    if pixels.dtype.kind in "ui":
        return np.floor(luma + 0.5).astype(pixels.dtype)
    return luma


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def is_missing(cell: Any) -> bool:
    """Tell whether a records-frame cell is empty.

    Parameters
    ----------
    cell : object
        A cell of the records frame.

    Returns
    -------
    bool
        ``True`` for ``None``, a float NaN, ``pandas.NA``, ``pandas.NaT`` and
        an empty (or blank) string; ``False`` for anything else, arrays
        included.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.io import is_missing
    >>> [is_missing(c) for c in (None, float("nan"), "", "a.png", np.zeros(2))]
    [True, True, True, False, False]
    """
    if cell is None or cell is pd.NA or cell is pd.NaT:
        return True
    if isinstance(cell, str):
        return not cell.strip()
    if isinstance(cell, (float, np.floating)):
        return bool(np.isnan(cell))
    return False


def _cell_path(cell: Any) -> str | None:
    if isinstance(cell, (str, os.PathLike)):
        return os.fsdecode(os.fspath(cell))
    return None


def _load_cell(
    reader: Any, cell: Any, lesion: Any, column: str | None, what: str
) -> np.ndarray:
    """``reader(cell)``, every failure raised as a located :class:`ROIError`."""
    path = _cell_path(cell)
    if is_missing(cell):
        raise ROIError(f"no {what}: the cell is empty", lesion=lesion, column=column)
    try:
        return reader(cell)
    except ROIError as exc:
        raise exc.located(lesion=lesion, column=column) from exc
    except FileNotFoundError as exc:
        raise ROIFileNotFoundError(
            str(exc), lesion=lesion, column=column, path=path
        ) from exc
    except TypeError as exc:
        raise ROITypeError(str(exc), lesion=lesion, column=column, path=path) from exc
    except ValueError as exc:
        raise ROIError(str(exc), lesion=lesion, column=column, path=path) from exc
    except Exception as exc:
        # A decoder's own failure (a truncated or corrupt file: OSError,
        # SyntaxError, zlib.error, ...; Pillow's decompression-bomb guard):
        # a problem with this cell, named as such.
        where = f"'{path}'" if path is not None else f"the {what}"
        raise ROIError(
            f"cannot read {where}: {type(exc).__name__}: {exc}",
            lesion=lesion,
            column=column,
            path=path,
        ) from exc


def load_roi(
    image_cell: Any,
    mask_cell: Any,
    *,
    lesion: Any = None,
    image_column: str | None = None,
    mask_column: str | None = None,
    min_extent: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Load an image and its mask from two records-frame cells and validate them.

    Arrays and paths are read with :func:`read_image` (default ``color="luma"``)
    and :func:`read_mask`, so an RGB array in a cell is treated like an RGB
    file; then :func:`validate_roi` checks the pair.

    Parameters
    ----------
    image_cell, mask_cell : ndarray, str or os.PathLike
        The cells of ``{phase}_image`` and ``{phase}_mask`` (or a reader's
        mask column).
    lesion : hashable, optional
        The lesion id, quoted in error messages.
    image_column, mask_column : str, optional
        The column names, quoted in error messages.
    min_extent : int, default=1
        Passed to :func:`validate_roi`.

    Returns
    -------
    image : ndarray of shape (rows, columns)
        The grey-level image.
    mask : ndarray of bool, shape (rows, columns)
        The ROI.

    Raises
    ------
    ROIError
        For any problem with either cell: an empty cell, a missing file
        (:class:`~ceusradiomics.exceptions.ROIFileNotFoundError`, also a
        :class:`FileNotFoundError`), a value of the wrong type
        (:class:`~ceusradiomics.exceptions.ROITypeError`, also a
        :class:`TypeError`), a file the decoders cannot read (truncated,
        corrupt, over Pillow's decompression-bomb limit), or as
        :func:`validate_roi`. ``lesion``, ``column`` and ``path`` say where;
        the message starts with ``lesion '<id>', column '<column>': ``.

    See Also
    --------
    validate_roi : The checks applied.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.io import load_roi
    >>> image, mask = load_roi(np.ones((4, 4)), np.eye(4), lesion="P1")
    >>> int(mask.sum())
    4
    >>> load_roi(np.ones((4, 4)), "/no/such/mask.png", lesion="P1",
    ...          mask_column="US_mask")
    Traceback (most recent call last):
    ...
    ceusradiomics.exceptions.ROIFileNotFoundError: lesion 'P1', column 'US_mask': no such image file: '/no/such/mask.png'
    """  # noqa: E501
    image = _load_cell(read_image, image_cell, lesion, image_column, "image")
    mask = _load_cell(read_mask, mask_cell, lesion, mask_column, "mask")
    return validate_roi(
        image,
        mask,
        lesion=lesion,
        image_column=image_column,
        mask_column=mask_column,
        min_extent=min_extent,
    )


# --------------------------------------------------------------------------
# The records frame
# --------------------------------------------------------------------------

_RECORDS_HELP = (
    "the records DataFrame: one row per lesion, indexed by lesion id, with "
    "'{phase}_image' and '{phase}_mask' columns (e.g. 'US_image', 'US_mask') "
    "holding 2-D arrays or paths; build it with ceusradiomics.io.load_cohort"
)


def _require_frame(X: Any) -> None:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be {_RECORDS_HELP}; got {type(X).__name__}")


def _phases_of(columns: Iterable[Any]) -> tuple[str, ...]:
    return tuple(
        c[: -len(_IMAGE_SUFFIX)]
        for c in columns
        if isinstance(c, str)
        and c.endswith(_IMAGE_SUFFIX)
        and len(c) > len(_IMAGE_SUFFIX)
    )


def _readers_of(columns: Iterable[Any], phase: str) -> tuple[str, ...]:
    start = f"{phase}{_MASK_SUFFIX}_"
    return tuple(
        c[len(start) :]
        for c in columns
        if isinstance(c, str) and c.startswith(start) and len(c) > len(start)
    )


def image_phases(X: pd.DataFrame) -> tuple[str, ...]:
    """Return the phases of a records frame, in column order.

    A phase is any ``{phase}`` with a ``{phase}_image`` column.

    Parameters
    ----------
    X : DataFrame
        The records frame.

    Returns
    -------
    tuple of str
        The phases.

    Examples
    --------
    >>> import pandas as pd
    >>> from ceusradiomics.io import image_phases
    >>> X = pd.DataFrame(columns=["US_image", "US_mask", "AP_image", "AP_mask"])
    >>> image_phases(X)
    ('US', 'AP')
    """
    _require_frame(X)
    return _phases_of(X.columns)


def mask_readers(X: pd.DataFrame, phase: str) -> tuple[str, ...]:
    """Return the further readers of a phase, in column order.

    They are the ``{reader}`` of the ``{phase}_mask_{reader}`` columns; the
    primary reader's ``{phase}_mask`` is not among them.

    Parameters
    ----------
    X : DataFrame
        The records frame.
    phase : str
        The phase, e.g. ``"US"``.

    Returns
    -------
    tuple of str
        The reader names (possibly empty).

    Examples
    --------
    >>> import pandas as pd
    >>> from ceusradiomics.io import mask_readers
    >>> X = pd.DataFrame(columns=["US_image", "US_mask", "US_mask_r2"])
    >>> mask_readers(X, "US")
    ('r2',)
    """
    _require_frame(X)
    return _readers_of(X.columns, phase)


def check_phases(
    X: pd.DataFrame, phases: str | Iterable[str] | None
) -> tuple[str, ...]:
    """Validate the phases an extractor is asked to use.

    Parameters
    ----------
    X : DataFrame
        The records frame.
    phases : str, iterable of str or None
        The phases to use; ``None`` means every phase of `X`.

    Returns
    -------
    tuple of str
        The phases, in the order given (in column order for ``None``).

    Raises
    ------
    TypeError
        If `X` is not a DataFrame or a phase is not a string.
    ValueError
        If `X` has no image column, `phases` is empty, holds duplicates or
        an unknown phase (the message lists the available ones), or a phase
        has no ``{phase}_mask`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> from ceusradiomics.io import check_phases
    >>> X = pd.DataFrame(columns=["US_image", "US_mask", "AP_image", "AP_mask"])
    >>> check_phases(X, None)
    ('US', 'AP')
    >>> check_phases(X, "AP")
    ('AP',)
    >>> check_phases(X, ["PP"])
    Traceback (most recent call last):
    ...
    ValueError: unknown phase(s) ['PP'] in phases; X has the phases ['US', 'AP']
    """
    _require_frame(X)
    available = _phases_of(X.columns)
    if not available:
        raise ValueError(
            f"X has no '{{phase}}_image' column; it must be {_RECORDS_HELP}. "
            f"Got the columns {list(X.columns)[:10]}"
        )
    if phases is None:
        selected = available
    else:
        if isinstance(phases, str):
            selected = (phases,)
        else:
            try:
                selected = tuple(phases)
            except TypeError:
                raise TypeError(
                    "phases must be None, a phase name or an iterable of phase "
                    f"names; got {type(phases).__name__}"
                ) from None
        if not selected:
            raise ValueError(f"phases is empty; X has the phases {list(available)}")
        bad = [p for p in selected if not isinstance(p, str)]
        if bad:
            raise TypeError(f"phases must be strings; got {bad!r}")
        unknown = [p for p in selected if p not in available]
        if unknown:
            raise ValueError(
                f"unknown phase(s) {unknown} in phases; X has the phases "
                f"{list(available)}"
            )
        if len(set(selected)) != len(selected):
            raise ValueError(f"phases holds duplicates: {list(selected)}")
    no_mask = [p for p in selected if f"{p}{_MASK_SUFFIX}" not in X.columns]
    if no_mask:
        raise ValueError(
            "X has no mask column for the phase(s) "
            f"{no_mask}; add {[f'{p}{_MASK_SUFFIX}' for p in no_mask]}"
        )
    return selected


def _path_columns(columns: list[Any]) -> list[str]:
    """Image and mask columns of a manifest, after checking they pair up."""
    phases = _phases_of(columns)
    if not phases:
        raise ValueError(
            "manifest has no '{phase}_image' column; a cohort needs at least "
            "one image column and its mask column, e.g. 'US_image' and "
            f"'US_mask'. Got the columns {columns}"
        )
    no_mask = [p + _MASK_SUFFIX for p in phases if p + _MASK_SUFFIX not in columns]
    if no_mask:
        raise ValueError(
            f"manifest has image column(s) without their mask column: add "
            f"{no_mask} (the primary reader's ROI)"
        )
    orphans = [
        c
        for c in columns
        if isinstance(c, str)
        and c.endswith(_MASK_SUFFIX)
        and c[: -len(_MASK_SUFFIX)] not in phases
    ]
    if orphans:
        raise ValueError(
            f"manifest has mask column(s) {orphans} without their image column; "
            f"add {[c[: -len(_MASK_SUFFIX)] + _IMAGE_SUFFIX for c in orphans]} "
            "or rename them"
        )
    path_columns = []
    for phase in phases:
        path_columns += [f"{phase}{_IMAGE_SUFFIX}", f"{phase}{_MASK_SUFFIX}"]
        readers = _readers_of(columns, phase)
        path_columns += [f"{phase}{_MASK_SUFFIX}_{r}" for r in readers]
    return path_columns


def _resolve_cell(cell: Any, base_dir: str, lesion: Any, column: str) -> Any:
    if is_missing(cell):
        return None
    if isinstance(cell, (str, os.PathLike)):
        path = os.path.expanduser(os.fsdecode(os.fspath(cell)).strip())
        # normpath, not resolve(): no file-system access, the frame stays lazy.
        return os.path.normpath(os.path.join(base_dir, path))
    if isinstance(cell, (np.ndarray, Image.Image)) or _is_pydicom_dataset(cell):
        return cell
    raise ROITypeError(
        "a cell must be a path (str or os.PathLike), an array or empty; got "
        f"{type(cell).__name__} {cell!r}",
        lesion=lesion,
        column=column,
    )


def load_cohort(
    manifest: str | os.PathLike[str] | pd.DataFrame,
    *,
    id_column: str = "lesion_id",
    label_column: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.Series]:
    """Build the records frame of a cohort from a manifest of paths.

    The manifest has one row per lesion: an id column, ``{phase}_image`` and
    ``{phase}_mask`` columns for each phase, optional ``{phase}_mask_{reader}``
    columns, an optional label column and any other columns (kept as they
    are, e.g. clinical variables). Ids are read as text, as written: ``007``
    stays ``007`` and ``NA`` is an id, not a missing value (only an empty
    id cell is). Nothing is read but the manifest itself:
    paths are only resolved to absolute paths, and the pixels are loaded by
    the extractors, one lesion at a time.

    Parameters
    ----------
    manifest : str, os.PathLike or DataFrame
        A CSV file, or a DataFrame with the same columns (or indexed by
        `id_column`). Cells may also hold arrays.
    id_column : str, default="lesion_id"
        The column of lesion ids, which becomes the index.
    label_column : str, optional
        The outcome column. When given it is removed from ``X`` and returned
        as ``y``.
    base_dir : str or os.PathLike, optional
        The folder that relative paths are resolved against. By default the
        CSV's folder, or the current working directory for a DataFrame.

    Returns
    -------
    X : DataFrame
        The records frame, indexed by lesion id (index name `id_column`).
        Image and mask cells hold absolute path strings (or the given
        arrays); empty cells hold ``None``.
    y : Series
        Only when `label_column` is given: the labels, named `label_column`
        and indexed like `X`.

    Raises
    ------
    FileNotFoundError
        If the CSV does not exist or is a symlink loop (image files are not
        checked).
    ValueError
        If the CSV is empty, has no lesion row or names a column twice, the
        id column is missing, an id is empty or duplicated, there is
        no ``{phase}_image`` column, an image column has no ``{phase}_mask``
        column (or a mask column no image column), or the label column is
        missing.
    TypeError
        If `manifest` or a path cell is of another type.

    See Also
    --------
    load_roi : Read the image and mask of one lesion.

    Examples
    --------
    >>> import pandas as pd
    >>> from ceusradiomics.io import load_cohort
    >>> manifest = pd.DataFrame({
    ...     "lesion_id": ["P1", "P2"],
    ...     "US_image": ["P1/us.png", "P2/us.png"],
    ...     "US_mask": ["P1/us_roi.png", "P2/us_roi.png"],
    ...     "US_mask_r2": ["P1/us_roi_r2.png", None],
    ...     "ER": [1, 0],
    ... })
    >>> X, y = load_cohort(manifest, label_column="ER", base_dir="/data")
    >>> X.loc["P1", "US_mask"]
    '/data/P1/us_roi.png'
    >>> X.loc["P2", "US_mask_r2"] is None
    True
    >>> y.to_dict()
    {'P1': 1, 'P2': 0}
    """
    if isinstance(manifest, pd.DataFrame):
        frame = manifest
        default_base = os.getcwd()
        row_offset = 0
    elif isinstance(manifest, (str, os.PathLike)):
        csv_path = os.path.abspath(os.fsdecode(os.fspath(manifest)))
        frame = _read_manifest_csv(csv_path, id_column)
        default_base = os.path.dirname(csv_path)
        row_offset = 2  # 1-based line numbers after the header line
    else:
        raise TypeError(
            "manifest must be a CSV path (str or os.PathLike) or a DataFrame; "
            f"got {type(manifest).__name__}"
        )
    base = default_base if base_dir is None else os.path.abspath(os.fspath(base_dir))

    if id_column in frame.columns:
        ids = pd.Index(frame[id_column], name=id_column)
        frame = frame.drop(columns=id_column)
    elif frame.index.name == id_column:
        ids = frame.index
    else:
        raise ValueError(
            f"manifest has no id column {id_column!r}; pass id_column= to name "
            f"the column of lesion ids. Got the columns {list(frame.columns)}"
        )
    empty = np.flatnonzero([is_missing(i) for i in ids])
    if empty.size:
        where = "line(s)" if row_offset else "row(s)"
        raise ValueError(
            f"id column {id_column!r} is empty in {where} "
            f"{(empty + row_offset).tolist()[:10]}"
        )
    if ids.has_duplicates:
        dupes = ids[ids.duplicated()].unique().tolist()
        raise ValueError(
            f"id column {id_column!r} has duplicated lesion ids {dupes[:10]}; "
            "each lesion must be one row (put further readers' masks in "
            "'{phase}_mask_{reader}' columns)"
        )

    columns = list(frame.columns)
    y = None
    if label_column is not None:
        if label_column not in columns:
            raise ValueError(
                f"manifest has no label column {label_column!r}; got the "
                f"columns {columns}"
            )
        y = pd.Series(frame[label_column].to_numpy(), index=ids, name=label_column)
        frame = frame.drop(columns=label_column)
        columns.remove(label_column)

    path_columns = _path_columns(columns)
    X = frame.set_axis(ids, axis=0)
    for column in path_columns:
        values = [
            _resolve_cell(cell, base, lesion, column)
            for lesion, cell in zip(ids, frame[column], strict=True)
        ]
        # object dtype so that empty cells stay None (not NaN).
        X[column] = pd.Series(values, index=ids, dtype=object)
    return X if y is None else (X, y)


def _read_manifest_csv(csv_path: str, id_column: str) -> pd.DataFrame:
    """The manifest CSV as a frame, after checking its header line.

    Ids and paths are text: '007' stays '007', a path never becomes a number,
    and an id such as ``NA``, ``nan`` or ``None`` is an id like any other
    (only an empty cell is a missing id).
    """
    if not os.path.isfile(csv_path):
        raise _not_found(csv_path, "manifest file")
    try:
        # The header line as written: pandas renames a repeated name silently.
        first = pd.read_csv(
            csv_path, header=None, nrows=1, dtype=str, keep_default_na=False
        )
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"manifest '{csv_path}' is empty: it needs a header line (lesion_id, "
            "{phase}_image, {phase}_mask, ...) and one row per lesion"
        ) from None
    header = first.iloc[0].tolist()
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:  # unnamed (an index column, trailing commas): pandas names it
            continue
        if name in seen:
            raise ValueError(
                f"manifest '{csv_path}' has the column {name!r} twice (columns "
                f"{seen[name] + 1} and {i + 1}); each column name must be unique"
            )
        seen[name] = i
    text_columns = [c for c in header if c == id_column or _is_path_name(c)]
    frame = pd.read_csv(csv_path, dtype=dict.fromkeys(text_columns, str))
    if frame.empty:
        raise ValueError(f"manifest '{csv_path}' has no lesion: only its header line")
    if id_column in frame.columns:
        ids = pd.read_csv(
            csv_path, usecols=[id_column], dtype=str, keep_default_na=False
        )[id_column]
        frame[id_column] = ids
    return frame


def _is_path_name(column: Any) -> bool:
    return isinstance(column, str) and (
        column.endswith(_IMAGE_SUFFIX) or _MASK_SUFFIX in column
    )


# --------------------------------------------------------------------------
# Cine loops
# --------------------------------------------------------------------------

# DICOM tags of the frame timing (PS3.3 C.7.6.5, Cine Module).
_FRAME_TIME_TAG = 0x00181063
_FRAME_TIME_VECTOR_TAG = 0x00181065


def _check_times(times: Any, n_frames: int, what: str) -> np.ndarray:
    times = np.asarray(times, dtype=np.float64)
    if times.shape != (n_frames,):
        raise ValueError(
            f"times must hold one value per frame: {what} has {n_frames} "
            f"frame(s), got times of shape {times.shape}"
        )
    if not np.all(np.isfinite(times)):
        raise ValueError("times must be finite")
    if np.any(np.diff(times) <= 0):
        k = int(np.flatnonzero(np.diff(times) <= 0)[0])
        raise ValueError(
            f"times must be strictly increasing; got {times[k]:g} then "
            f"{times[k + 1]:g} at index {k + 1}"
        )
    return times


def _dicom_times(ds: Any, n_frames: int, what: str) -> np.ndarray | None:
    """Frame times in s from Frame Time Vector or Frame Time, or None."""
    pointer = ds.get("FrameIncrementPointer")
    pointers = [] if pointer is None else [int(p) for p in np.atleast_1d(pointer)]
    # Honour the Frame Increment Pointer; otherwise prefer the exact vector.
    order = [_FRAME_TIME_VECTOR_TAG, _FRAME_TIME_TAG]
    if _FRAME_TIME_TAG in pointers and _FRAME_TIME_VECTOR_TAG not in pointers:
        order.reverse()
    for tag in order:
        value = ds.get(tag)
        if value is None or value.value in (None, ""):
            continue
        if tag == _FRAME_TIME_TAG:
            frame_time = float(value.value)
            if not (np.isfinite(frame_time) and frame_time > 0):
                raise ValueError(
                    f"{what} has Frame Time (0018,1063) = {value.value} ms; "
                    "pass frame_rate= or times= instead"
                )
            return np.arange(n_frames) * (frame_time / 1000.0)
        increments = np.array([float(v) for v in np.atleast_1d(value.value)])
        if increments.shape != (n_frames,):
            raise ValueError(
                f"{what} has a Frame Time Vector (0018,1065) of "
                f"{increments.size} value(s) for {n_frames} frames; pass "
                "frame_rate= or times= instead"
            )
        # The first increment is 0 by definition (PS3.3 C.7.6.5.1.2); the
        # times count from the first frame whatever it holds.
        times = (np.cumsum(increments) - increments[0]) / 1000.0
        return _check_times(times, n_frames, what)
    return None


def read_cine(
    source: _ImageSource | Iterable[Any],
    *,
    frame_rate: float | None = None,
    times: Iterable[float] | None = None,
    color: str = "luma",
) -> tuple[np.ndarray, np.ndarray]:
    """Read a cine loop: its frames and their acquisition times in seconds.

    Accepted sources are a multi-frame DICOM file or
    :class:`pydicom.dataset.Dataset` (an ultrasound cine), a multi-page TIFF
    or animated image file, a stack of frames as one array
    ``(frames, rows, columns[, channels])``, or a sequence of 2-D images
    (arrays or paths), one per frame. Each frame comes out as
    :func:`read_image` would give it with ``frame=k``, colour converted to grey
    by `color`.

    Parameters
    ----------
    source : path, pydicom.Dataset, ndarray or sequence of images
        The cine.
    frame_rate : float, optional
        Frames per second; the frames are then ``1 / frame_rate`` s apart.
        Overrides the timing stored in a DICOM file.
    times : array_like of shape (n_frames,), optional
        Explicit acquisition times in seconds, strictly increasing. Excludes
        `frame_rate`.
    color : {"luma", "red", "green", "blue", "error"}, default="luma"
        Colour to grey conversion, as in :func:`read_image`.

    Returns
    -------
    frames : ndarray of shape (n_frames, rows, columns)
        The grey frames, stacked in their common dtype (``uint8`` for 8-bit
        grey or colour video, colour converted to luma as in :func:`read_image`).
    times : ndarray of float64, shape (n_frames,)
        Seconds from the first frame (or `times` as given).

    Raises
    ------
    ValueError
        If the source holds no timing and neither `frame_rate` nor `times` is
        given (the message names the DICOM attributes looked for), both are
        given, the timing is inconsistent with the frame count, the frames
        differ in shape, or as :func:`read_image`.
    TypeError
        If `source` is of another type.
    FileNotFoundError
        If a path does not exist.

    See Also
    --------
    read_image : One frame.
    ceusradiomics.perfusion.time_intensity_curve : The ROI's intensity over time.

    Notes
    -----
    DICOM timing is read from the Cine Module [1]_: Frame Time Vector
    (0018,1065), the increments in ms between consecutive frames (the first
    is 0), or Frame Time (0018,1063), the constant interval in ms; the Frame
    Increment Pointer (0028,0009) decides when both are present. Times count
    from the first frame; subtract the injection time when the recording did
    not start with it (the liver phase windows are counted from the
    injection).

    A loop is held in memory in full: 1800 frames (3 min at 10 frames/s) of
    480 x 640 8-bit grey pixels take 553 MB; 8-bit colour frames become
    ``uint8`` luma, the same size.

    References
    ----------
    .. [1] NEMA PS3.3, "DICOM Part 3: Information Object Definitions",
       section C.7.6.5 (Cine Module).

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.io import read_cine
    >>> frames, times = read_cine(np.zeros((3, 4, 4), dtype=np.uint8), frame_rate=2.0)
    >>> frames.shape, times
    ((3, 4, 4), array([0. , 0.5, 1. ]))
    >>> read_cine([np.zeros((4, 4)), np.ones((4, 4))], times=[10.0, 10.4])[1]
    array([10. , 10.4])
    """
    _check_color(color)
    if frame_rate is not None and times is not None:
        raise ValueError(
            "pass either frame_rate= or times=, not both; got frame_rate="
            f"{frame_rate!r} and times"
        )
    if frame_rate is not None:
        if isinstance(frame_rate, (bool, np.bool_)) or not isinstance(
            frame_rate, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"frame_rate must be a positive number of frames per second; "
                f"got {frame_rate!r}"
            )
        if not (np.isfinite(frame_rate) and frame_rate > 0):
            raise ValueError(
                "frame_rate must be a positive number of frames per second; "
                f"got {frame_rate!r}"
            )

    stored_times = None
    is_dicom = False
    if isinstance(source, np.ndarray):
        what = f"the array of shape {source.shape}"
        if source.ndim == 2:
            source = source[None]
        if source.ndim not in (3, 4):
            raise ValueError(
                "a cine array must be (frames, rows, columns) or (frames, rows, "
                f"columns, channels); got shape {source.shape}"
            )
        frames = [
            _to_grey(_select_array_frame(source, k), color, what)
            for k in range(source.shape[0])
        ]
    elif _is_pydicom_dataset(source) or (
        isinstance(source, (str, os.PathLike))
        and os.path.isfile(os.fspath(source))
        and _looks_like_dicom(os.fsdecode(os.fspath(source)))
    ):
        if _is_pydicom_dataset(source):
            ds, what = source, "the DICOM dataset"
        else:
            import pydicom
            from pydicom.errors import InvalidDicomError

            path = os.fsdecode(os.fspath(source))
            what = f"'{path}'"
            try:
                ds = pydicom.dcmread(path)
            except InvalidDicomError as exc:
                raise ValueError(f"cannot read {what} as DICOM: {exc}") from exc
        is_dicom = True
        n_frames = int(ds.get("NumberOfFrames") or 1)
        frames = [
            _to_grey(_read_dicom(ds, k, what), color, what) for k in range(n_frames)
        ]
        stored_times = _dicom_times(ds, n_frames, what)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(source))
        what = f"'{path}'"
        if not os.path.exists(path):
            raise _not_found(path, "cine file")
        if os.path.isdir(path):
            raise ValueError(
                f"{what} is a directory; pass the list of its frame files in "
                "order (e.g. sorted(glob(...)))"
            )
        try:
            img = Image.open(path)
        except UnidentifiedImageError as exc:
            raise ValueError(
                f"cannot read {what} as a cine; supported are multi-frame DICOM, "
                "multi-page TIFF or animated images, arrays and lists of images"
            ) from exc
        with img:
            frames = [
                _to_grey(_read_pillow(img, k, what), color, what)
                for k in range(getattr(img, "n_frames", 1))
            ]
    elif isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("source is an empty sequence of frames")
        frames = []
        for k, item in enumerate(source):
            try:
                frames.append(read_image(item, color=color))
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"frame {k} of the sequence: {exc}") from exc
        what = f"the sequence of {len(frames)} images"
    else:
        raise TypeError(
            "source must be a multi-frame DICOM file or pydicom Dataset, a "
            "multi-page image file, an array of frames or a list of images; got "
            f"{type(source).__name__}"
        )

    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        first = frames[0].shape
        k = next(i for i, f in enumerate(frames) if f.shape != first)
        raise ValueError(
            f"the frames of {what} differ in shape: frame 0 is {first}, frame "
            f"{k} is {frames[k].shape}"
        )
    stack = np.stack(frames)
    n_frames = stack.shape[0]
    if times is not None:
        out_times = _check_times(times, n_frames, what)
    elif frame_rate is not None:
        out_times = np.arange(n_frames) / float(frame_rate)
    elif stored_times is not None:
        out_times = stored_times
    else:
        stored = (
            " has neither Frame Time (0018,1063) nor Frame Time Vector (0018,1065)"
            if is_dicom
            else " stores no frame timing"
        )
        raise ValueError(
            f"{what}{stored}; pass frame_rate= (frames per second) or times= "
            "(seconds per frame)"
        )
    return stack, out_times
