"""Deep features: an ImageNet ResNet-50 on each phase's ROI crop.

:class:`ResNetFeaturizer` turns the records frame into a table of ResNet-50
activations (optionally through a supervised head trained on the labels), and
:func:`preprocess_roi` shows the network input of one ROI. PyTorch and
torchvision are an optional extra (``pip install 'ceusradiomics[deep]'``):
importing this package does not import them; fitting a featurizer does.
"""

from ceusradiomics.deep._featurizer import ResNetFeaturizer
from ceusradiomics.deep._preprocess import crop_box, preprocess_roi, roi_crop
from ceusradiomics.deep._weights import WeightsNotFoundError

__all__ = [
    "ResNetFeaturizer",
    "WeightsNotFoundError",
    "crop_box",
    "preprocess_roi",
    "roi_crop",
]
