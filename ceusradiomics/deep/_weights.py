"""Where the ResNet-50 weights come from: torchvision's hub cache, a file, or none.

Named weights (``"IMAGENET1K_V2"``, ``"IMAGENET1K_V1"``, ``"DEFAULT"``) are the
files that torchvision itself downloads, at the place it keeps them
(``torch.hub.get_dir()/checkpoints/<file name of the weights URL>``), so a file
already fetched by torchvision, or copied there by hand on an offline machine,
is used as is. Its SHA-256 is checked against the prefix published in its file
name, as ``torch.hub.load_state_dict_from_url(check_hash=True)`` does. When the
file is missing, one download is attempted with a socket timeout (torch.hub's
own downloader has none, so a firewalled machine could wait forever); when that
fails, :class:`WeightsNotFoundError` says which file to put where.

Nothing here imports torch at module import time.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "NAMED_WEIGHTS",
    "WeightsNotFoundError",
    "describe_weights",
    "expected_checkpoint",
    "fetch_named_weights",
    "load_state_dict_file",
    "resolve_weights",
]

NAMED_WEIGHTS = ("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT")
# Seconds a connection attempt or a read may stall before the download gives up.
_DOWNLOAD_TIMEOUT_S = 20.0
# torch.hub's convention: "<name>-<first hex digits of the SHA-256>.<ext>".
_HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
# Files whose hash was checked in this process: path -> (size, mtime_ns).
_VERIFIED: dict[str, tuple[int, int]] = {}
_VERIFIED_LOCK = threading.Lock()


class WeightsNotFoundError(FileNotFoundError):
    """The pretrained weights are neither in the torch hub cache nor downloadable.

    The message names the expected file, the folder to put it in and how to
    pass a local file instead (``weights="path/to/resnet50.pth"``).
    """


def _weights_enum(name: str) -> Any:
    from torchvision.models import ResNet50_Weights

    key = name.removeprefix("ResNet50_Weights.")
    # "DEFAULT" is an alias, so this resolves it to the member it points to.
    return ResNet50_Weights[key]


def resolve_weights(weights: Any) -> tuple[str, Any]:
    """Classify ``weights``: ``"random"``, ``"named"`` (a member), ``"file"`` (a path).

    Raises FileNotFoundError for a path that does not exist and ValueError for
    an enum member of another model.
    """
    if weights is None:
        return "random", None
    if isinstance(weights, enum.Enum):
        if type(weights).__name__ != "ResNet50_Weights":
            raise ValueError(
                "weights must be None, one of "
                f"{', '.join(map(repr, NAMED_WEIGHTS))}, a ResNet50_Weights member "
                f"or a path to a state dict file; got {weights!r}"
            )
        return "named", weights
    text = os.fspath(weights)
    if text.removeprefix("ResNet50_Weights.") in NAMED_WEIGHTS:
        return "named", _weights_enum(text)
    path = Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights must be None, one of {', '.join(map(repr, NAMED_WEIGHTS))} "
            f"or the path of a ResNet-50 state dict file; got {text!r}, which is "
            "not a known name and no such file exists"
        )
    return "file", path.resolve()


def expected_checkpoint(member: Any) -> Path:
    """Where torchvision keeps ``member``: ``<hub dir>/checkpoints/<url file name>``."""
    import torch.hub

    filename = os.path.basename(urlparse(member.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _published_prefix(path: Path) -> str | None:
    match = _HASH_REGEX.search(path.name)
    return match.group(1) if match and match.group(1) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _check_hash(path: Path) -> None:
    prefix = _published_prefix(path)
    if prefix is None:
        return
    stat = path.stat()
    signature = (stat.st_size, stat.st_mtime_ns)
    with _VERIFIED_LOCK:
        if _VERIFIED.get(str(path)) == signature:
            return  # already checked in this process: hashing 100 MB takes ~0.3 s
    actual = _sha256(path)
    if not actual.startswith(prefix):
        raise ValueError(
            f"weights file '{path}' does not match the SHA-256 prefix {prefix!r} "
            f"published in its name (its hash starts with {actual[: len(prefix)]!r}):"
            " it is corrupt or incomplete. Delete it so that it is downloaded "
            "again, or pass a good copy as weights='path/to/resnet50.pth'"
        )
    with _VERIFIED_LOCK:
        _VERIFIED[str(path)] = signature


def _download(url: str, destination: Path, *, progress: bool) -> None:
    """Download ``url`` to ``destination`` through a temporary file.

    The partial file is renamed only once complete, as torch.hub does, so an
    interrupted download never leaves a truncated checkpoint behind.
    """
    from urllib.request import Request, urlopen

    from tqdm.auto import tqdm

    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.{uuid.uuid4().hex}.partial")
    request = Request(url, headers={"User-Agent": "ceusradiomics"})
    try:
        with (
            urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response,
            open(partial, "wb") as fh,
        ):
            size = response.headers.get("Content-Length")
            with tqdm(
                total=int(size) if size else None,
                disable=not progress,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=destination.name,
            ) as bar:
                while chunk := response.read(1 << 20):
                    fh.write(chunk)
                    bar.update(len(chunk))
        os.replace(partial, destination)
    finally:
        if partial.exists():
            partial.unlink()


def fetch_named_weights(member: Any, *, progress: bool = False) -> Path:
    """The checked hub-cache file of a weights member, downloaded if missing.

    Raises
    ------
    WeightsNotFoundError
        If the file is missing and cannot be downloaded.
    ValueError
        If the file's SHA-256 does not match the prefix in its name.
    """
    path = expected_checkpoint(member)
    if not path.is_file():
        try:
            _download(member.url, path, progress=progress)
        except Exception as exc:  # URLError, timeout, SSL, disk: all mean "not here"
            raise WeightsNotFoundError(
                f"the ResNet-50 weights {member!r} are not in the torch hub cache "
                f"and could not be downloaded ({type(exc).__name__}: {exc}). "
                f"Expected the file '{path.name}' in the folder '{path.parent}' "
                "(torch.hub.get_dir()/checkpoints; set TORCH_HOME to move it). "
                f"Copy it there from a machine with internet access ({member.url}), "
                "or pass a local state dict as weights='path/to/resnet50.pth', or "
                "weights=None for a random network"
            ) from exc
    _check_hash(path)
    return path


def describe_weights(weights: Any, *, seed: int | None = None) -> dict[str, Any]:
    """Where the weights come from, for a model card: kind, name or file, SHA-256.

    A named weight records torchvision's name, URL and the SHA-256 of the
    hub-cache file when it is there (else the hash prefix published in the
    file name); a file its path and SHA-256; a random network its seed.
    """
    kind, source = resolve_weights(weights)
    if kind == "random":
        return {"weights": "random", "seed": seed}
    if kind == "named":
        path = expected_checkpoint(source)
        return {
            "weights": f"torchvision ResNet50_Weights.{source.name}",
            "url": source.url,
            "sha256": _sha256(path) if path.is_file() else None,
            "sha256_prefix": _published_prefix(path),
        }
    return {"weights": "file", "path": str(source), "sha256": _sha256(source)}


def load_state_dict_file(path: Path) -> dict[str, Any]:
    """Read a ResNet-50 state dict from a file, on the CPU.

    Accepts a bare state dict, a checkpoint dict holding one under
    ``"state_dict"`` (or ``"model"``), and keys prefixed with ``"module."``
    (a model saved from :class:`torch.nn.DataParallel`). Loaded with
    ``weights_only=True``: a weights file never runs code.
    """
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling, zip and format errors alike
        raise ValueError(
            f"cannot read weights file '{path}' as a PyTorch state dict "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})."
            " Save the weights with torch.save(model.state_dict(), path)"
        ) from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ValueError(
            f"weights file '{path}' holds a {type(obj).__name__}, not a state dict "
            "(a dict of parameter name -> tensor); save it with "
            "torch.save(model.state_dict(), path)"
        )
    tensors = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"weights file '{path}' is not a state dict: the entry {key!r} is a "
                f"{type(value).__name__}, not a tensor"
            )
        tensors[key.removeprefix("module.")] = value
    return tensors
