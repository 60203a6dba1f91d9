"""Fitted state in plain parts: pandas attributes kept as arrays and lists.

skops (:mod:`ceusradiomics.persist`) writes an estimator's state from its
``__getstate__`` and refuses objects it has no safe way to rebuild; a pandas
DataFrame is one (its blocks hold Cython objects that cannot be reduced), and
trusting ``pandas.DataFrame`` in a loader would let a file construct any
frame internals. The estimators that keep a DataFrame or Series as a fitted
attribute (the stack's ``oof_proba_``, the clinical model's odds-ratio
tables) mix :class:`FrameState` in: their state holds each frame as its
columns (numpy arrays, or lists for object columns), index and names, and
``__setstate__`` rebuilds the same frame. Pickle goes through the same two
methods, so both formats hold the same thing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FrameState", "decode_frames", "encode_frames"]

_FRAME = "__ceusradiomics_frame__"
_SERIES = "__ceusradiomics_series__"
#: Non-numeric dtypes restored by name; others are inferred again.
_KEPT_DTYPES = frozenset({"object", "str", "string", "category", "boolean"})


def _plain(values: Any) -> Any:
    """An array for numeric or boolean values; a list for anything else."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.copy()
    return list(values)


def _encode_index(index: pd.Index) -> dict[str, Any]:
    if isinstance(index, pd.MultiIndex):
        levels = [index.get_level_values(k) for k in range(index.nlevels)]
        return {
            "levels": [_plain(level) for level in levels],
            "dtypes": [str(level.dtype) for level in levels],
            "names": list(index.names),
        }
    return {"values": _plain(index), "name": index.name, "dtype": str(index.dtype)}


def _kept(dtype: str) -> str | None:
    """`dtype` when it is restored by name (else pandas infers it again)."""
    return dtype if dtype in _KEPT_DTYPES else None


def _decode_index(state: dict[str, Any]) -> pd.Index:
    if "levels" in state:
        levels = zip(state["levels"], state["dtypes"], strict=True)
        return pd.MultiIndex.from_arrays(
            [pd.Index(level, dtype=_kept(dtype)) for level, dtype in levels],
            names=state["names"],
        )
    return pd.Index(state["values"], name=state["name"], dtype=_kept(state["dtype"]))


def _encode(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return {
            _FRAME: 1,
            "columns": _encode_index(value.columns),
            "data": [_plain(value.iloc[:, k]) for k in range(value.shape[1])],
            "dtypes": [str(dtype) for dtype in value.dtypes],
            "index": _encode_index(value.index),
        }
    if isinstance(value, pd.Series):
        return {
            _SERIES: 1,
            "data": _plain(value),
            "dtype": str(value.dtype),
            "index": _encode_index(value.index),
            "name": value.name,
        }
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_FRAME) == 1:
            columns = _decode_index(value["columns"])
            frame = pd.DataFrame(
                dict(enumerate(value["data"])), index=_decode_index(value["index"])
            )
            # pandas >= 3 infers ``str`` for text given as lists: dtypes back.
            kept = {k: _kept(d) for k, d in enumerate(value["dtypes"]) if _kept(d)}
            frame = frame.astype(kept) if kept else frame
            frame.columns = columns
            return frame
        if value.get(_SERIES) == 1:
            return pd.Series(
                value["data"],
                dtype=_kept(value["dtype"]),
                index=_decode_index(value["index"]),
                name=value["name"],
            )
        return {key: _decode(item) for key, item in value.items()}
    return value


def encode_frames(state: dict[str, Any]) -> dict[str, Any]:
    """`state` with every DataFrame / Series (also inside dicts) in plain parts."""
    return {key: _encode(value) for key, value in state.items()}


def decode_frames(state: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`encode_frames`."""
    return {key: _decode(value) for key, value in state.items()}


class FrameState:
    """Mixin: pandas attributes travel as plain parts (see the module docstring).

    Put it before :class:`~sklearn.base.BaseEstimator` in the bases, so that
    scikit-learn's version stamp is kept.
    """

    def __getstate__(self) -> dict[str, Any]:
        return encode_frames(super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(decode_frames(state))
