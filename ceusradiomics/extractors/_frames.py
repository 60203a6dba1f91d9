"""Which frame of a multi-frame image cell an extractor reads: ``{phase}_frame``.

A records frame (or a manifest) may hold a ``{phase}_frame`` column next to
``{phase}_image``: an integer frame index (0-based), or a name resolved from
the loop and the phase's primary ROI:

``"peak"``
    the frame of the highest mean intensity inside the ROI (the
    time-intensity curve's maximum);
``"ap"`` / ``"pp"``
    the representative arterial / portal-venous frame of
    :func:`ceusradiomics.perfusion.select_phase_frames` (the loop needs its
    frame timing: a cine DICOM stores it).

An empty cell reads the image as it is (a single-frame file).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ceusradiomics.exceptions import ROIError
from ceusradiomics.io import _load_cell, is_missing, read_cine, read_image, read_mask
from ceusradiomics.perfusion import select_phase_frames, time_intensity_curve

__all__ = ["FRAME_NAMES", "frame_spec", "read_frame"]

#: The frame names a ``{phase}_frame`` cell may hold.
FRAME_NAMES: tuple[str, ...] = ("peak", "ap", "pp")


def frame_spec(cell: Any, lesion: Any, column: str) -> int | str | None:
    """The frame a cell asks for: None, an index >= 0, or one of FRAME_NAMES."""
    if is_missing(cell):
        return None
    if isinstance(cell, (bool, np.bool_)):
        cell = None  # a boolean is no frame index
    elif isinstance(cell, (int, np.integer)):
        value = int(cell)
        if value >= 0:
            return value
    elif isinstance(cell, (float, np.floating)) and float(cell).is_integer():
        if cell >= 0:
            return int(cell)  # a CSV column of numbers with gaps reads as float
    elif isinstance(cell, str):
        text = cell.strip().lower()
        if text.isdigit():
            return int(text)
        if text in FRAME_NAMES:
            return text
    raise ROIError(
        f"a frame cell must be a frame index (0, 1, ...) or one of "
        f"{list(FRAME_NAMES)}; got {cell!r}",
        lesion=lesion,
        column=column,
    )


def read_frame(
    image_cell: Any,
    mask_cell: Any,
    spec: int | str,
    *,
    lesion: Any,
    image_column: str,
    mask_column: str,
    frame_column: str,
) -> np.ndarray:
    """The frame `spec` of a multi-frame image cell, read once."""
    if isinstance(spec, int):
        return _load_cell(
            lambda cell: read_image(cell, frame=spec),
            image_cell,
            lesion,
            image_column,
            "image",
        )
    frames, times = _load_cell(read_cine, image_cell, lesion, image_column, "image")
    mask = _load_cell(read_mask, mask_cell, lesion, mask_column, "mask")
    if mask.shape != frames.shape[1:] or not mask.any():
        raise ROIError(
            f"frame={spec!r} is chosen inside the ROI, but the mask (shape "
            f"{mask.shape}, {int(mask.sum())} pixels) does not fit the loop's "
            f"frames {frames.shape[1:]}",
            lesion=lesion,
            column=mask_column,
        )
    try:
        if spec == "peak":
            index = int(np.nanargmax(time_intensity_curve(frames, mask)))
        else:
            chosen = select_phase_frames(frames, times, mask)
            index = chosen.ap_index if spec == "ap" else chosen.pp_index
    except ValueError as exc:
        raise ROIError(
            f"cannot pick the {spec!r} frame: {exc}", lesion=lesion, column=frame_column
        ) from exc
    return frames[index]
