"""The frozen torchvision ResNet-50 backbone, cut at a named node.

This module imports torch; :mod:`ceusradiomics.deep._featurizer` imports it
only when a featurizer is fitted or used.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.models import resnet50
from torchvision.models.feature_extraction import (
    create_feature_extractor,
    get_graph_node_names,
)

from ceusradiomics.deep._weights import fetch_named_weights, load_state_dict_file

__all__ = [
    "STAGES",
    "build_extractor",
    "build_stages",
    "check_layer",
    "forward",
    "layer_width",
    "resolve_device",
]

# The top-level stages, the names most users want; every node name and every
# module prefix of one (e.g. "layer4.2", "layer4.2.relu_2") is valid too.
STAGES = (
    "conv1",
    "bn1",
    "relu",
    "maxpool",
    "layer1",
    "layer2",
    "layer3",
    "layer4",
    "avgpool",
    "flatten",
    "fc",
)
_OUTPUT = "features"


def _meta_resnet50(num_classes: int = 1000) -> torch.nn.Module:
    # On the meta device the model has shapes but no storage: building and
    # tracing it takes milliseconds, and no random numbers are drawn.
    with torch.device("meta"):
        return resnet50(num_classes=num_classes)


@functools.lru_cache(maxsize=1)
def _valid_layers() -> frozenset[str]:
    _, nodes = get_graph_node_names(_meta_resnet50())
    names = set()
    for node in nodes:
        if node == "x":  # the input placeholder, not a layer
            continue
        parts = node.split(".")
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return frozenset(names)


def check_layer(layer: str) -> None:
    """Raise a ValueError listing the valid names when ``layer`` is not a node."""
    if layer not in _valid_layers():
        raise ValueError(
            f"layer must name a node of torchvision's ResNet-50; got {layer!r}. "
            f"The stages are {', '.join(map(repr, STAGES))}; any node of "
            "torchvision.models.feature_extraction.get_graph_node_names("
            "torchvision.models.resnet50())[1] (e.g. 'layer4.2.relu_2') or a "
            "module prefix of one (e.g. 'layer4.2') is valid too"
        )


# Channels at the stages; other nodes are measured by a meta-device forward.
_STAGE_WIDTHS = {
    "conv1": 64,
    "bn1": 64,
    "relu": 64,
    "maxpool": 64,
    "layer1": 256,
    "layer2": 512,
    "layer3": 1024,
    "layer4": 2048,
    "avgpool": 2048,
    "flatten": 2048,
}


@functools.lru_cache(maxsize=64)
def layer_width(layer: str, num_classes: int = 1000) -> int:
    """Features per image at ``layer`` after global average pooling."""
    if layer in _STAGE_WIDTHS:
        return _STAGE_WIDTHS[layer]
    if layer == "fc":
        return num_classes
    extractor = create_feature_extractor(
        _meta_resnet50(num_classes), return_nodes={layer: _OUTPUT}
    )
    with torch.no_grad():
        out = extractor(torch.empty(1, 3, 64, 64, device="meta"))[_OUTPUT]
    return int(out.shape[1])


def resolve_device(device: Any) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; check that the device exists."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            "device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch "
            f"device string; got {device!r}"
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available in this process; use "
            "device='auto' (CUDA when present, else CPU) or device='cpu'"
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} but MPS is not available; use 'auto'")
    return resolved


def _model_from_state_dict(
    state: dict[str, torch.Tensor], path: Path, layer: str
) -> torch.nn.Module:
    # A fine-tuned checkpoint may have a classifier of another width: read it.
    num_classes = int(state["fc.weight"].shape[0]) if "fc.weight" in state else 1000
    model = _meta_resnet50(num_classes)
    if "fc.weight" not in state and "fc.bias" not in state:
        # A backbone saved without its classifier is fine below "fc".
        if layer.split(".")[0] == "fc":
            raise ValueError(
                f"layer={layer!r} needs the classifier, but weights file '{path}' "
                "has no 'fc.weight'/'fc.bias'"
            )
        model.fc = torch.nn.Identity()
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        raise ValueError(
            f"weights file '{path}' is not a torchvision ResNet-50 state dict: "
            f"{len(missing)} missing key(s) {missing[:3]}, {len(unexpected)} "
            f"unexpected key(s) {unexpected[:3]}, {len(mismatched)} shape "
            f"mismatch(es) {mismatched[:3]}. Save it with "
            "torch.save(torchvision.models.resnet50(...).state_dict(), path)"
        )
    model.load_state_dict(
        {
            k: v.to(torch.float32) if v.is_floating_point() else v
            for k, v in state.items()
        },
        strict=True,
        assign=True,
    )
    return model


_BUILD_LOCK = threading.Lock()


def build_extractor(
    kind: str,
    source: Any,
    *,
    seed: int,
    layer: str,
    device: torch.device,
    progress: bool = False,
) -> torch.nn.Module:
    """The frozen, eval-mode ResNet-50 truncated at ``layer``, on ``device``.

    ``kind`` is ``"random"`` (initialised from ``seed`` without touching the
    global torch generator), ``"named"`` (a ``ResNet50_Weights`` member, read
    from the torch hub cache) or ``"file"`` (a state dict path).
    """
    # One network built at a time in the process: the seeding goes through
    # torch's global generator (forked, then restored) and torch.fx tracing
    # is not thread-safe, and the stack fits branches and folds in threads.
    with _BUILD_LOCK:
        model = _resnet50(kind, source, seed=seed, layer=layer, progress=progress)
        extractor = create_feature_extractor(model, return_nodes={layer: _OUTPUT})
    extractor.eval().requires_grad_(False)
    return extractor.to(device=device, memory_format=torch.channels_last)


def _resnet50(
    kind: str, source: Any, *, seed: int, layer: str, progress: bool = False
) -> torch.nn.Module:
    """The whole ResNet-50 with the featurizer's weights (see build_extractor)."""
    if kind == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return resnet50()
    path = fetch_named_weights(source, progress=progress) if kind == "named" else source
    return _model_from_state_dict(load_state_dict_file(path), path, layer)


class _Stages(torch.nn.Module):
    """ResNet-50 run module by module up to a stage, output ``{"features": ...}``.

    Unlike build_extractor's traced graph, every module of this network is
    called as itself, so forward hooks on any module (``"layer4"``,
    ``"layer3.5"``, ``"layer4.2.conv3"``) see its output.
    """

    def __init__(self, model: torch.nn.Module, stage: str):
        super().__init__()
        order = STAGES[: STAGES.index(stage) + 1]
        for name in order:
            self.add_module(name, getattr(model, name))
        self._order = order

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        for name in self._order:
            x = getattr(self, name)(x)
        return {_OUTPUT: x}


def build_stages(
    kind: str, source: Any, *, seed: int, stage: str, device: torch.device
) -> torch.nn.Module:
    """The frozen, eval-mode ResNet-50 up to the stage `stage`, module by module.

    The same weights and outputs as ``build_extractor(..., layer=stage)``, for
    the gradient-based activation maps, which hook modules.
    """
    if stage not in STAGES[: STAGES.index("layer4") + 1]:
        raise ValueError(
            f"gradient maps need the featurizer's layer at a stage up to 'layer4' "
            f"(or 'avgpool'); got {stage!r}"
        )
    with _BUILD_LOCK:
        model = _resnet50(kind, source, seed=seed, layer=stage)
    network = _Stages(model, stage).eval().requires_grad_(False)
    return network.to(device=device, memory_format=torch.channels_last)


_AUTOCAST = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def forward(
    extractor: torch.nn.Module, batch: torch.Tensor, *, precision: str = "float32"
) -> np.ndarray:
    """Pooled activations of a normalised ``(N, 3, S, S)`` batch, float32 on the CPU.

    ``precision="bfloat16"`` / ``"float16"`` runs the network under
    :func:`torch.autocast` (the weights stay float32; autocast casts the
    inputs of convolutions and matrix products); the spatial mean is taken
    in float32.
    """
    device = next(extractor.parameters()).device
    autocast = (
        torch.autocast(device_type=device.type, dtype=_AUTOCAST[precision])
        if precision != "float32"
        else contextlib.nullcontext()
    )
    with torch.inference_mode():
        x = batch.to(
            device=device, memory_format=torch.channels_last, non_blocking=True
        )
        with autocast:
            out = extractor(x)[_OUTPUT]
        out = out.float()
        out = out.mean(dim=(2, 3)) if out.ndim == 4 else out.flatten(1)
        return out.cpu().numpy()
