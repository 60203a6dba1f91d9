"""A bounded in-process cache of per-ROI feature vectors.

Cross-validation, grid search and stacking clone the extractors and call them
again and again on the same lesions. Instance attributes do not survive a
clone, so the extractors keep their per-ROI results here, keyed on the content
of the image and mask and on every setting that changes the result; a lesion
is then computed once per process whatever the number of folds. The cache is
bounded (least recently used entries go first) and can be emptied with
:func:`clear_feature_cache`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["FeatureCache", "clear_feature_cache", "feature_cache", "roi_key"]


def roi_key(*arrays: np.ndarray, settings: Any) -> str:
    """A content hash of arrays (dtype, shape and bytes) and of ``repr(settings)``.

    Two calls agree exactly when the pixels, the masks and the settings agree,
    wherever the arrays came from (a path or an array in memory).
    """
    digest = hashlib.blake2b(digest_size=20)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.view(np.uint8).data if array.size else b"")
    digest.update(repr(settings).encode())
    return digest.hexdigest()


class FeatureCache:
    """A thread-safe least-recently-used mapping from key to ndarray, bounded in bytes.

    Parameters
    ----------
    max_bytes : int
        Entries are evicted, oldest use first, once the stored arrays exceed it.
    """

    def __init__(self, max_bytes: int = 512 * 2**20):
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> np.ndarray | None:
        """The stored array (read-only) or None; counts hits and misses."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: np.ndarray) -> None:
        """Store a copy of ``value`` (made read-only) under ``key``."""
        value = np.array(value, copy=True)
        value.flags.writeable = False
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._data[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.max_bytes and len(self._data) > 1:
                _, evicted = self._data.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._data.clear()
            self._bytes = 0
            self.hits = 0
            self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


_CACHES: dict[str, FeatureCache] = {}
_CACHES_LOCK = threading.Lock()


def feature_cache(name: str) -> FeatureCache:
    """The process-wide cache called ``name`` (e.g. ``"texture"``, ``"resnet"``)."""
    with _CACHES_LOCK:
        if name not in _CACHES:
            _CACHES[name] = FeatureCache()
        return _CACHES[name]


def clear_feature_cache(name: str | None = None) -> None:
    """Empty one named cache, or all of them.

    Examples
    --------
    >>> from ceusradiomics import clear_feature_cache
    >>> clear_feature_cache()
    """
    with _CACHES_LOCK:
        caches = list(_CACHES.values()) if name is None else [_CACHES.get(name)]
    for cache in caches:
        if cache is not None:
            cache.clear()
