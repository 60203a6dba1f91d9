r"""Class-activation maps of a linear deep score (imports torch).

The deep branch's LASSO score is linear in the globally average-pooled
activations :math:`\bar A_k = \frac{1}{hw}\sum_{x,y} A_k(x, y)` of the
network's last spatial layer (directly, or through the head's linear layer,
whose outputs are taken before their ReLU):

.. math::

    s = c + \sum_k v_k \bar A_k .

So the class-activation map of Zhou et al. [1]_ is exact for it:
:math:`M(x, y) = c + \sum_k v_k A_k(x, y)`, whose mean over the feature
grid is :math:`s`. :func:`class_activation_map` computes it from the
activations (pure NumPy); :class:`ScoreNetwork` writes the same score as a
network, so that gradient methods (Grad-CAM, Grad-CAM++ [2]_, [3]_, through
``torchcam``) can explain it at any earlier layer.

References
----------
.. [1] B. Zhou, A. Khosla, A. Lapedriza, A. Oliva, A. Torralba, "Learning deep
   features for discriminative localization", CVPR 2016, 2921-2929.
   :doi:`10.1109/CVPR.2016.319`
.. [2] R. R. Selvaraju et al., "Grad-CAM: Visual explanations from deep
   networks via gradient-based localization", ICCV 2017, 618-626.
   :doi:`10.1109/ICCV.2017.74`
.. [3] A. Chattopadhay, A. Sarkar, P. Howlader, V. N. Balasubramanian,
   "Grad-CAM++: Generalized gradient-based visual explanations for deep
   convolutional networks", WACV 2018, 839-847. :doi:`10.1109/WACV.2018.00097`
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "GRADIENT_METHODS",
    "ScoreNetwork",
    "class_activation_map",
    "gradient_map",
    "spatial_layer",
    "upsample",
]

_OUTPUT = "features"  # the output key of _backbone.build_extractor's networks

GRADIENT_METHODS = ("gradcam", "gradcam++")

_TORCHCAM_MESSAGE = (
    "Grad-CAM and Grad-CAM++ come from torchcam, which is not installed: "
    "pip install 'ceusradiomics[explain]' (Python >= 3.11), or use method='cam', "
    "the exact class-activation map, which needs only torch"
)


def spatial_layer(layer: str) -> str:
    """The last spatial node at or before a featurizer's `layer`.

    ``"avgpool"`` and ``"flatten"`` pool ``"layer4"``; a spatial node is its
    own. The classifier (``"fc"``) mixes the pooled channels with its own
    weights and is refused.
    """
    if layer in ("avgpool", "flatten"):
        return "layer4"
    if layer.split(".")[0] == "fc":
        raise ValueError(
            "activation maps need a spatial layer: the featurizer's layer='fc' is "
            "ImageNet's classifier; use a featurizer with layer='avgpool' (or a "
            "spatial node such as 'layer4' or 'layer3')"
        )
    return layer


def class_activation_map(
    activations: np.ndarray, weights: np.ndarray, constant: float = 0.0
) -> np.ndarray:
    r"""Zhou et al.'s class-activation map, :math:`c + \sum_k v_k A_k(x, y)`.

    Parameters
    ----------
    activations : ndarray of shape (channels, rows, columns)
        One image's activation maps :math:`A_k`.
    weights : ndarray of shape (channels,)
        The score's weight :math:`v_k` of each channel's spatial mean.
    constant : float, default=0.0
        The score's constant :math:`c`; with it the map's mean is the score.

    Returns
    -------
    ndarray of shape (rows, columns)

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.deep._cam import class_activation_map
    >>> A = np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 2.0]]])
    >>> class_activation_map(A, np.array([2.0, -1.0]), constant=0.5)
    array([[ 2.5,  0.5],
           [ 0.5, -1.5]])
    """
    activations = np.asarray(activations, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if activations.ndim != 3 or weights.shape != activations.shape[:1]:
        raise ValueError(
            "activations must be (channels, rows, columns) and weights "
            f"(channels,); got {activations.shape} and {weights.shape}"
        )
    return np.tensordot(weights, activations, axes=1) + float(constant)


def upsample(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A feature-grid map resized to `shape` (bilinear, cell centres aligned).

    The network saw the crop resized to a square, so each grid cell covers an
    equal share of the crop's rows and columns; ``align_corners=False`` puts
    each cell's value at that share's centre.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(grid, dtype=np.float64))
    return (
        F.interpolate(
            tensor[None, None], size=shape, mode="bilinear", align_corners=False
        )[0, 0]
        .numpy()
        .copy()
    )


class ScoreNetwork(nn.Module):
    """A network cut at a spatial layer, then ``c + sum_k v_k mean(A_k)``.

    Its one output (shape ``(N, 1)``) is the linear deep score whose exact
    map :func:`class_activation_map` gives, so gradient methods hooked on
    ``net.<layer>`` explain that same number.
    """

    def __init__(self, network: nn.Module, weights: np.ndarray, constant: float):
        super().__init__()
        self.net = network
        self.register_buffer(
            "weights", torch.as_tensor(np.asarray(weights), dtype=torch.float32)
        )
        self.constant = float(constant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.net(x)[_OUTPUT]
        return (maps.mean(dim=(2, 3)) @ self.weights + self.constant)[:, None]


def activations_of(network: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The ``(channels, rows, columns)`` maps of one normalised input, float64."""
    with torch.no_grad():
        out = network(x)[_OUTPUT]
    if out.ndim != 4:
        raise ValueError(
            f"the network's output has shape {tuple(out.shape)}, not a spatial map"
        )
    return out[0].double().cpu().numpy()


def gradient_map(
    score_network: ScoreNetwork, x: torch.Tensor, target_layer: str, method: str
) -> np.ndarray:
    """Grad-CAM or Grad-CAM++ of the score at ``target_layer``, via torchcam.

    torchcam (Apache-2.0, light: torch, numpy, pillow, matplotlib) has both
    methods behind one hook API; pytorch-grad-cam needs OpenCV and captum has
    no Grad-CAM++. The map is not normalised (torchcam's ``normalized=False``)
    and keeps torchcam's ReLU, so it is in the score's units up to the
    method's positive weighting.
    """
    if method not in GRADIENT_METHODS:
        raise ValueError(f"method must be one of {GRADIENT_METHODS}; got {method!r}")
    try:
        from torchcam.methods import GradCAM, GradCAMpp
    except ImportError as exc:
        raise ImportError(_TORCHCAM_MESSAGE) from exc
    names = dict(score_network.net.named_modules())
    if target_layer not in names or not target_layer:
        spatial = sorted(n for n in names if n and n.count(".") <= 1)
        raise ValueError(
            f"target layer {target_layer!r} is not a module of the network up to "
            f"the featurizer's layer; modules include {spatial[:12]} ..."
        )
    extractor_class = GradCAM if method == "gradcam" else GradCAMpp
    with extractor_class(
        score_network, target_layer=f"net.{target_layer}", input_shape=x.shape[1:]
    ) as extractor:
        # The backbone's parameters are frozen: the input carries the graph.
        scores = score_network(x.clone().requires_grad_(True))
        cams = extractor(class_idx=0, scores=scores, normalized=False)
    return cams[0][0].detach().double().cpu().numpy()
