"""Deep features: an ImageNet ResNet-50 on each phase's ROI crop.

The network maths: preprocessing (:func:`preprocess_roi` shows the network
input of one ROI), the backbone, the optional supervised head and the weights.
The estimator that runs them over the records frame is
:class:`ceusradiomics.ResNetFeaturizer` (in :mod:`ceusradiomics.extractors`).
PyTorch and torchvision are an optional extra (``pip install 'ceusradiomics[deep]'``):
importing this package does not import them; fitting a featurizer does.
"""

from ceusradiomics.deep._preprocess import crop_box, preprocess_roi, roi_crop
from ceusradiomics.deep._weights import WeightsNotFoundError

__all__ = [
    "WeightsNotFoundError",
    "crop_box",
    "preprocess_roi",
    "roi_crop",
]
