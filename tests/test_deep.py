"""ResNetFeaturizer and the ROI preprocessing of ceusradiomics.deep.

Every network here is random (``weights=None``) or a state dict the test
writes itself, at 32 x 32 pixels: nothing is downloaded.
"""

import os
import pickle
import subprocess
import sys
import urllib.error

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from ceusradiomics import ResNetFeaturizer
from ceusradiomics._cache import clear_feature_cache, feature_cache
from ceusradiomics.deep import (
    WeightsNotFoundError,
    _weights,
    crop_box,
    preprocess_roi,
    roi_crop,
)
from ceusradiomics.exceptions import ROIError

SIZE = 40
FAST = {"weights": None, "image_size": 32, "random_state": 0}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def make_records(n=4, phases=("US", "AP"), seed=0, labels=None):
    """A records frame of ``n`` lesions: uint8 speckle with a disc-shaped ROI.

    With ``labels``, the ROI of class 1 is bright and that of class 0 dark.
    """
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:SIZE, :SIZE]
    data = {}
    for phase in phases:
        images, masks = [], []
        for i in range(n):
            centre = rng.integers(14, 26, size=2)
            mask = (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= 64
            image = rng.integers(0, 60, (SIZE, SIZE)).astype(np.uint8)
            level = 60 if labels is None else (200 if labels[i] else 60)
            image[mask] = level + rng.integers(0, 40, int(mask.sum()))
            images.append(image)
            masks.append(mask)
        data[f"{phase}_image"] = images
        data[f"{phase}_mask"] = masks
    return pd.DataFrame(data, index=[f"L{i}" for i in range(n)])


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    # 32-pixel inputs gain nothing from intra-op threads, and on a busy
    # machine their synchronisation costs milliseconds per layer.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def records():
    return make_records()


@pytest.fixture(scope="module")
def fitted(torch, records):
    """A featurizer fitted on ``records``, its features and its state dict."""
    featurizer = ResNetFeaturizer(**FAST)
    features = featurizer.fit_transform(records)
    return featurizer, features


@pytest.fixture(scope="module")
def state_file(torch, fitted, tmp_path_factory):
    """The full ResNet-50 state dict of ``fitted``'s random network, on disk."""
    from torchvision.models import resnet50

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(fitted[0].seed_)
        state = resnet50().state_dict()
    path = tmp_path_factory.mktemp("weights") / "resnet50_seeded.pth"
    torch.save(state, path)
    return path


def reference_network(torch, seed):
    """torchvision's ResNet-50 with the featurizer's random initialisation."""
    from torchvision.models import resnet50

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return resnet50().eval()


# --------------------------------------------------------------------- API


def test_import_and_construction_do_not_need_torch():
    # A Python where importing torch or torchvision fails, as if not installed.
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in ('torch', 'torchvision'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import ceusradiomics, ceusradiomics.deep, ceusradiomics.extractors\n"
        "from ceusradiomics import ResNetFeaturizer\n"
        "f = ResNetFeaturizer(head=4)\n"
        "assert f.get_params()['head'] == 4\n"
        "assert 'torch' not in sys.modules\n"
        "try:\n"
        "    f.fit(None)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "ResNetFeaturizer needs PyTorch and torchvision: "
        "pip install 'ceusradiomics[deep]'"
    )


def test_fit_and_transform_without_torch_raise_import_error(
    fitted, records, monkeypatch
):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "torchvision", None)
    match = r"needs PyTorch and torchvision: pip install 'ceusradiomics\[deep\]'"
    with pytest.raises(ImportError, match=match):
        ResNetFeaturizer(**FAST).fit(records)
    with pytest.raises(ImportError, match=match):
        fitted[0].transform(records)


def test_shapes_names_and_output(fitted, records):
    featurizer, features = fitted
    assert isinstance(features, pd.DataFrame)
    assert features.shape == (4, 2 * 2048)
    assert features.index.equals(records.index)
    assert features.columns[0] == "US_resnet50_0000"
    assert features.columns[2047] == "US_resnet50_2047"
    assert features.columns[2048] == "AP_resnet50_0000"
    assert list(featurizer.get_feature_names_out()) == list(features.columns)
    assert featurizer.n_features_out_ == 4096
    assert featurizer.n_backbone_features_ == 2048
    assert featurizer.phases_ == ("US", "AP")
    assert features.dtypes.unique().tolist() == [np.float64]
    assert np.isfinite(features.to_numpy()).all()
    # avgpool follows a ReLU: non-negative activations.
    assert (features.to_numpy() >= 0).all()


def test_features_equal_torchvision_forward(torch, fitted, records):
    # Oracle: torchvision's own ResNet-50 (same seed) on the preprocessed ROI,
    # through its modules by hand, average-pooled.
    featurizer, features = fitted
    net = reference_network(torch, featurizer.seed_)
    x = torch.from_numpy(
        np.stack(
            [
                preprocess_roi(image, mask, image_size=32)
                for image, mask in zip(
                    records["AP_image"], records["AP_mask"], strict=True
                )
            ]
        )
    )
    with torch.no_grad():
        h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        h3 = net.layer3(net.layer2(net.layer1(h)))
        pooled = torch.flatten(net.avgpool(net.layer4(h3)), 1).numpy()
        layer3 = h3.mean(dim=(2, 3)).numpy()
    got = features.filter(like="AP_resnet50_").to_numpy()
    np.testing.assert_allclose(got, pooled, rtol=1e-4, atol=1e-4)

    deeper = ResNetFeaturizer(phases="AP", layer="layer3", **FAST).fit(records)
    assert deeper.n_backbone_features_ == 1024
    np.testing.assert_allclose(
        deeper.transform(records).to_numpy(), layer3, rtol=1e-4, atol=1e-4
    )


def test_deterministic_for_a_seed(fitted, records):
    featurizer, features = fitted
    again = ResNetFeaturizer(**FAST).fit(records)
    assert again.seed_ == featurizer.seed_
    pd.testing.assert_frame_equal(again.transform(records), features)
    other = ResNetFeaturizer(**{**FAST, "random_state": 1}).fit(records)
    assert other.seed_ != featurizer.seed_
    assert not np.allclose(other.transform(records).to_numpy(), features.to_numpy())


def test_set_output_pandas_and_clone(fitted, records):
    featurizer = clone(fitted[0]).set_output(transform="pandas")
    out = featurizer.fit_transform(records)
    pd.testing.assert_frame_equal(out, fitted[1])


def test_not_fitted():
    featurizer = ResNetFeaturizer(**FAST)
    with pytest.raises(NotFittedError):
        featurizer.get_feature_names_out()
    pytest.importorskip("torch")
    with pytest.raises(NotFittedError):
        featurizer.transform(make_records(n=1))


# ------------------------------------------------------------------ cache


def test_network_runs_once_per_roi_across_transforms_and_clones(
    torch, records, monkeypatch
):
    from ceusradiomics.deep import _backbone

    calls = []
    real_forward = _backbone.forward

    def counting_forward(extractor, batch, **kwargs):
        calls.append(len(batch))
        return real_forward(extractor, batch, **kwargs)

    monkeypatch.setattr(_backbone, "forward", counting_forward)
    clear_feature_cache("resnet")
    featurizer = ResNetFeaturizer(**{**FAST, "random_state": 7, "batch_size": 3})
    first = featurizer.fit(records).transform(records)
    assert sum(calls) == 8  # 4 lesions x 2 phases, once
    assert calls == [3, 3, 2]  # in batches of batch_size
    second = featurizer.transform(records)
    twin = clone(featurizer).fit(records)
    third = twin.transform(records.iloc[::-1])
    assert sum(calls) == 8
    # The clone never needed its network: the cache is read before building it.
    assert not hasattr(twin, "model_")
    pd.testing.assert_frame_equal(second, first)
    pd.testing.assert_frame_equal(third, first.iloc[::-1])

    featurizer.set_params(cache=False)
    pd.testing.assert_frame_equal(featurizer.transform(records), first)
    assert sum(calls) == 16


# ----------------------------------------------------------------- pickle


def test_pickle_drops_the_network_and_rebuilds_it(fitted, records):
    featurizer, features = fitted
    assert featurizer.model_ is not None
    blob = pickle.dumps(featurizer)
    assert len(blob) < 200_000  # the weights (~100 MB) are not inside
    loaded = pickle.loads(blob)
    assert not hasattr(loaded, "model_")
    assert hasattr(featurizer, "model_")  # pickling left the original intact
    # Without the cache the network is rebuilt from the seed: same numbers.
    loaded.set_params(cache=False)
    pd.testing.assert_frame_equal(loaded.transform(records), features)
    assert hasattr(loaded, "model_")


# ---------------------------------------------------------------- weights


def test_state_dict_file_equals_in_memory_network(torch, fitted, records, state_file):
    features = fitted[1]
    from_file = ResNetFeaturizer(weights=str(state_file), image_size=32)
    pd.testing.assert_frame_equal(from_file.fit_transform(records), features)


def test_state_dicts_without_or_with_another_classifier(
    torch, fitted, records, state_file, tmp_path
):
    state = torch.load(state_file, weights_only=True)
    # A backbone saved without its classifier: fine below "fc".
    backbone = tmp_path / "backbone.pth"
    torch.save({k: v for k, v in state.items() if not k.startswith("fc.")}, backbone)
    featurizer = ResNetFeaturizer(weights=backbone, phases="US", image_size=32)
    np.testing.assert_array_equal(
        featurizer.fit_transform(records).to_numpy(),
        fitted[1].filter(like="US_").to_numpy(),
    )
    with pytest.raises(ValueError, match="layer='fc' needs the classifier"):
        ResNetFeaturizer(weights=backbone, layer="fc", image_size=32).fit_transform(
            records
        )
    # A network fine-tuned for 2 classes: "fc" gives its 2 logits.
    two = tmp_path / "two_classes.pth"
    state["fc.weight"], state["fc.bias"] = state["fc.weight"][:2], state["fc.bias"][:2]
    torch.save(state, two)
    logits = ResNetFeaturizer(weights=two, layer="fc", phases="US", image_size=32)
    assert logits.fit_transform(records).shape == (4, 2)
    assert logits.n_backbone_features_ == 2


def test_checkpoint_dicts_are_unwrapped(torch, tmp_path):
    # A training checkpoint holding the state dict, with DataParallel names.
    weight = torch.arange(6.0).reshape(2, 3)
    path = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 3, "state_dict": {"module.fc.weight": weight}}, path)
    state = _weights.load_state_dict_file(path)
    assert list(state) == ["fc.weight"]
    assert torch.equal(state["fc.weight"], weight)


def test_wrong_weights_files(torch, records, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a known name and no such file"):
        ResNetFeaturizer(weights=str(tmp_path / "nope.pth")).fit(records)
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    with pytest.raises(ValueError, match=r"cannot read weights file .*notes\.txt"):
        ResNetFeaturizer(weights=text, image_size=32).fit_transform(records)
    other = tmp_path / "tiny.pth"
    torch.save({"conv1.weight": torch.zeros(2, 3, 3, 3)}, other)
    with pytest.raises(
        ValueError,
        match=r"not a torchvision ResNet-50 state dict: \d+ missing key.*1 shape",
    ):
        ResNetFeaturizer(weights=other, image_size=32).fit_transform(records)
    not_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], not_dict)
    with pytest.raises(ValueError, match="holds a list, not a state dict"):
        ResNetFeaturizer(weights=not_dict, image_size=32).fit_transform(records)


def _offline_hub(monkeypatch, tmp_path):
    """Point the torch hub at ``tmp_path`` and make every download fail."""
    import torch.hub

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    attempts = []

    def no_network(url, destination, *, progress):
        attempts.append((url, destination))
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(_weights, "_download", no_network)
    return attempts


def test_missing_named_weights_error(torch, records, tmp_path, monkeypatch):
    attempts = _offline_hub(monkeypatch, tmp_path)
    folder = tmp_path / "checkpoints"
    with pytest.raises(WeightsNotFoundError) as info:
        ResNetFeaturizer().fit(records)
    message = str(info.value)
    assert "Expected the file 'resnet50-11ad3fa6.pth'" in message
    assert f"in the folder '{folder}'" in message
    assert "weights='path/to/resnet50.pth'" in message
    assert "URLError" in message
    assert isinstance(info.value, FileNotFoundError)
    assert attempts == [
        (
            "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
            folder / "resnet50-11ad3fa6.pth",
        )
    ]
    with pytest.raises(WeightsNotFoundError, match=r"resnet50-0676ba61\.pth"):
        ResNetFeaturizer(weights="IMAGENET1K_V1").fit(records)


def test_named_weights_from_the_hub_cache_offline(
    torch, fitted, records, state_file, tmp_path, monkeypatch
):
    attempts = _offline_hub(monkeypatch, tmp_path)
    cached = tmp_path / "checkpoints" / "resnet50-11ad3fa6.pth"
    cached.parent.mkdir()
    os.link(state_file, cached)
    # Our file is not torchvision's: its hash does not match the published one.
    with pytest.raises(
        ValueError, match="does not match the SHA-256 prefix '11ad3fa6'"
    ):
        ResNetFeaturizer(image_size=32).fit(records)
    # With the prefix that our file has, it is taken from the cache as is.
    prefix = _weights._sha256(cached)[:8]
    monkeypatch.setattr(_weights, "_published_prefix", lambda path: prefix)
    named = ResNetFeaturizer(weights="IMAGENET1K_V2", image_size=32)
    pd.testing.assert_frame_equal(named.fit_transform(records), fitted[1])
    # "DEFAULT" is the same weights: same cache entries, no network built.
    default = ResNetFeaturizer(weights="DEFAULT", image_size=32)
    pd.testing.assert_frame_equal(default.fit_transform(records), fitted[1])
    assert not hasattr(default, "model_")
    assert attempts == []


def test_download_writes_the_file_atomically(tmp_path):
    # file:// goes through the same urlopen code path, without a network.
    source = tmp_path / "source.bin"
    source.write_bytes(b"weights" * 1000)
    destination = tmp_path / "hub" / "checkpoints" / "resnet50-abc.pth"
    _weights._download(source.as_uri(), destination, progress=False)
    assert destination.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in destination.parent.iterdir()) == ["resnet50-abc.pth"]
    with pytest.raises(urllib.error.URLError):
        _weights._download(
            (tmp_path / "missing").as_uri(), tmp_path / "x.pth", progress=False
        )
    assert not list(tmp_path.glob("x.pth*"))  # no partial file left behind


# ------------------------------------------------------------------- head


def test_head_training_reduces_the_loss_and_names_columns(torch):
    labels = np.array([0, 1] * 4)
    X = make_records(n=8, phases=("US",), seed=1, labels=labels)
    y = pd.Series(np.where(labels, "ER", "no ER"), index=X.index)
    params = {**FAST, "head": 8, "epochs": 40, "lr": 1e-4, "head_batch_size": 8}
    featurizer = ResNetFeaturizer(augment=2, **params).fit(X, y)
    curve = featurizer.loss_curve_["US"]
    assert curve.shape == (40,)
    assert curve[-1] < 0.5 * curve[0]
    assert curve[-5:].mean() < curve[:5].mean()
    assert list(featurizer.classes_) == ["ER", "no ER"]
    head = featurizer.head_["US"]
    assert head["weight"].shape == (8, 2048)
    assert head["classifier_weight"].shape == (2, 8)
    assert all(v.dtype == np.float64 for v in head.values())

    out = featurizer.transform(X)
    assert list(out.columns) == [f"US_resnet50_head_{k:04d}" for k in range(8)]
    # Oracle: the FC layer applied by hand to the frozen backbone's features.
    backbone = ResNetFeaturizer(**FAST).fit_transform(X).to_numpy()
    np.testing.assert_allclose(
        out.to_numpy(), backbone @ head["weight"].T + head["bias"], rtol=1e-12
    )

    # Seeded: the same head again; pickles keep it as plain arrays.
    again = pickle.loads(pickle.dumps(ResNetFeaturizer(augment=2, **params).fit(X, y)))
    np.testing.assert_array_equal(again.head_["US"]["weight"], head["weight"])
    np.testing.assert_array_equal(again.loss_curve_["US"], curve)
    pd.testing.assert_frame_equal(again.transform(X), out)


def test_trained_head_round_trips_through_a_model_file(torch, tmp_path):
    from ceusradiomics import load_model, save_model

    labels = np.array([0, 1] * 4)
    X = make_records(n=8, phases=("US",), seed=1, labels=labels)
    params = {**FAST, "head": 4, "epochs": 2, "head_batch_size": 8}
    featurizer = ResNetFeaturizer(augment=False, **params).fit(X, labels)
    loaded = load_model(save_model(featurizer, tmp_path / "head.skops"))
    for key, value in featurizer.head_["US"].items():
        np.testing.assert_array_equal(loaded.head_["US"][key], value)
    pd.testing.assert_frame_equal(loaded.transform(X), featurizer.transform(X))


def test_head_inside_cross_validation_runs_the_network_once_per_view(
    torch, monkeypatch
):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    from ceusradiomics.deep import _backbone

    calls = []
    real_forward = _backbone.forward
    monkeypatch.setattr(
        _backbone,
        "forward",
        lambda extractor, batch, **kwargs: (
            calls.append(len(batch)) or real_forward(extractor, batch, **kwargs)
        ),
    )
    labels = np.array([0, 1] * 4)
    X = make_records(n=8, phases=("US",), seed=2, labels=labels)
    model = make_pipeline(
        ResNetFeaturizer(head=4, epochs=5, augment=1, **{**FAST, "random_state": 3}),
        LogisticRegression(),
    )
    scores = cross_val_score(
        model, X, labels, cv=StratifiedKFold(2), scoring="accuracy"
    )
    assert scores.shape == (2,)
    # Each lesion is in one training fold (itself + 1 view) and one test fold
    # (itself, already cached): 8 x 2 images through the network in all.
    assert sum(calls) == 16


def test_head_needs_two_classes(torch):
    X = make_records(n=3, phases=("US",))
    with pytest.raises(ValueError, match="fit needs the labels y"):
        ResNetFeaturizer(head=4, **FAST).fit(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        ResNetFeaturizer(head=4, **FAST).fit(X, [1, 1, 1])
    with pytest.raises(ValueError, match="one label per lesion; got 2 labels for 3"):
        ResNetFeaturizer(head=4, **FAST).fit(X, [0, 1])


# ---------------------------------------------------------- preprocessing


def test_crop_box_margin_and_border():
    mask = np.zeros((20, 30), dtype=bool)
    mask[5:15, 10:20] = True  # 10 x 10 box
    assert crop_box(mask, 0.2) == (slice(3, 17), slice(8, 22))
    assert crop_box(mask, 3) == (slice(2, 18), slice(7, 23))
    assert crop_box(mask, 0) == (slice(5, 15), slice(10, 20))
    corner = np.zeros((20, 30), dtype=bool)
    corner[0:4, 26:30] = True
    assert crop_box(corner, 0.5) == (slice(0, 6), slice(24, 30))


def test_roi_crop_scaling_rules():
    mask = np.zeros((6, 6), dtype=bool)
    mask[2:4, 2:4] = True
    image8 = np.arange(36, dtype=np.uint8).reshape(6, 6) * 7
    np.testing.assert_allclose(
        roi_crop(image8, mask, crop_margin=1), image8[1:5, 1:5] / 255, rtol=1e-6
    )
    image16 = image8.astype(np.uint16) * 300
    np.testing.assert_allclose(
        roi_crop(image16, mask, crop_margin=0), image16[2:4, 2:4] / 65535, rtol=1e-6
    )
    imagef = image8.astype(float) - 100.0
    imagef[0, 0] = np.nan  # outside the crop's ROI: allowed, becomes 0
    crop = imagef[0:6, 0:6]
    lo, hi = np.nanmin(crop), np.nanmax(crop)
    expected = np.nan_to_num((crop - lo) / (hi - lo), nan=0.0)
    np.testing.assert_allclose(
        roi_crop(imagef, mask, crop_margin=2), expected, rtol=1e-6
    )
    # "zero": min-max over the ROI, black outside it.
    zero = roi_crop(imagef, mask, crop_margin=1, mask_context="zero")
    inside = imagef[2:4, 2:4]
    expected = np.zeros((4, 4))
    expected[1:3, 1:3] = (inside - inside.min()) / (inside.max() - inside.min())
    np.testing.assert_allclose(zero, expected, rtol=1e-6)
    # A constant float crop has no contrast: all zero, no warning, no NaN.
    assert not roi_crop(np.full((6, 6), 3.5), mask).any()


def test_preprocess_matches_pillow_resize_and_imagenet_normalisation(torch):
    # Second library: Pillow's bilinear resize, antialiased when shrinking.
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (90, 70), dtype=np.uint8)
    mask = np.zeros(image.shape, dtype=bool)
    mask[10:80, 5:66] = True
    x = preprocess_roi(image, mask, crop_margin=2, image_size=32)
    crop = (image[8:82, 3:68] / 255).astype(np.float32)
    grey = np.asarray(Image.fromarray(crop, mode="F").resize((32, 32), Image.BILINEAR))
    expected = (grey[None] - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]
    assert x.shape == (3, 32, 32)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, expected, atol=1e-5)


def test_mask_context_zero_ignores_pixels_outside_the_roi(torch, records):
    changed = records.copy()
    for column in ("US_image", "AP_image"):
        images = []
        for image, mask in zip(
            records[column], records[column.replace("image", "mask")], strict=True
        ):
            image = image.copy()
            image[~mask] = 255 - image[~mask]
            images.append(image)
        changed[column] = images
    featurizer = ResNetFeaturizer(mask_context="zero", phases="US", **FAST)
    featurizer.fit(records)
    zero = featurizer.transform(records)
    pd.testing.assert_frame_equal(featurizer.transform(changed), zero)
    # The same network (not rebuilt) with the context kept sees the change.
    featurizer.set_params(mask_context="keep")
    assert not np.allclose(featurizer.transform(changed), zero)
    assert not np.allclose(featurizer.transform(changed), featurizer.transform(records))


def test_augmented_views_are_seeded_and_within_range(torch):
    from ceusradiomics.deep._preprocess import augment, resize_crop

    rng = np.random.default_rng(0)
    base = resize_crop(rng.random((50, 40)).astype(np.float32) * 0.5 + 0.2, 32)

    def views(seed):
        return augment(base, [np.random.default_rng([seed, v]) for v in range(4)])

    a, b = views(0), views(0)
    assert a.shape == (4, 1, 32, 32)
    assert torch.equal(a, b)
    assert not torch.equal(a, views(1))
    assert float(a.min()) >= float(base.min()) and float(a.max()) <= float(base.max())
    assert all(not torch.allclose(view, base[0]) for view in a)
    # A constant crop stays constant: the shift is clipped to the crop's range.
    flat = torch.full((1, 1, 32, 32), 0.3)
    assert torch.equal(augment(flat, [np.random.default_rng(5)]), flat)


# -------------------------------------------------------- lesions, errors


def test_roi_touching_the_image_border(torch):
    X = make_records(n=2, phases=("US",))
    masks = []
    for k in range(2):
        mask = np.zeros((SIZE, SIZE), dtype=bool)
        mask[: 10 + k, SIZE - 12 :] = True  # top-right corner
        masks.append(mask)
    X["US_mask"] = masks
    features = ResNetFeaturizer(crop_margin=0.5, **FAST).fit_transform(X)
    assert features.shape == (2, 2048)
    assert np.isfinite(features.to_numpy()).all()


def test_errors_name_the_lesion_and_the_parameter(torch, records):
    broken = records.copy()
    broken["AP_mask"] = [
        m if i != 2 else np.zeros_like(m) for i, m in enumerate(records["AP_mask"])
    ]
    with pytest.raises(
        ROIError,
        match=r"^lesion 'L2', column 'AP_mask': mask must contain at least one ROI "
        r"pixel \(nonzero\): the mask is empty",
    ) as info:
        ResNetFeaturizer(**FAST).fit_transform(broken)
    assert info.value.lesion == "L2"
    assert info.value.column == "AP_mask"
    assert info.value.path is None
    with pytest.raises(
        ValueError, match=r"layer must name a node.*got 'layer5'.*'layer4'"
    ):
        ResNetFeaturizer(layer="layer5", **FAST).fit(records)
    with pytest.raises(ValueError, match=r"device must be 'auto', 'cpu'.*got 'gpu0'"):
        ResNetFeaturizer(device="gpu0", **FAST).fit(records)
    with pytest.raises(ValueError, match="unknown phase"):
        ResNetFeaturizer(phases="PP", **FAST).fit(records)
    with pytest.raises(TypeError, match="X must be the records DataFrame"):
        ResNetFeaturizer(**FAST).fit(np.zeros((4, 4)))
    with pytest.raises(InvalidParameterError, match="image_size"):
        ResNetFeaturizer(image_size=16).fit(records)
    with pytest.raises(InvalidParameterError, match="mask_context"):
        ResNetFeaturizer(mask_context="blur").fit(records)
    featurizer = ResNetFeaturizer(**FAST).fit(records)
    with pytest.raises(
        ValueError, match=r"X lacks the columns \['AP_image', 'AP_mask'\]"
    ):
        featurizer.transform(records[["US_image", "US_mask"]])


def test_cuda_device_is_refused_without_cuda(torch, records):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        ResNetFeaturizer(device="cuda", **FAST).fit(records)


def _cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(fitted, records):
    features = fitted[1]
    gpu = ResNetFeaturizer(device="cuda", cache=False, **FAST).fit(records)
    out = gpu.transform(records)
    assert next(gpu.model_.parameters()).device.type == "cuda"
    # cuDNN may use TF32 for convolutions: compare at TF32's precision.
    np.testing.assert_allclose(
        out.to_numpy(), features.to_numpy(), rtol=1e-2, atol=1e-2
    )


def test_random_network_is_seeded_by_default(torch, records):
    clear_feature_cache("resnet")
    settings = {**FAST, "random_state": None}
    first = ResNetFeaturizer(**settings).fit(records)
    second = ResNetFeaturizer(**settings).fit(records)
    assert first.network_seed_ == second.network_seed_ == 0
    pd.testing.assert_frame_equal(first.transform(records), second.transform(records))
    # the second featurizer's features came from the cache: one network run
    cache = feature_cache("resnet")
    assert cache.hits >= len(records) * len(first.phases_)
    assert not first.__sklearn_tags__().non_deterministic


# --------------------------------------------------------------- precision


@pytest.fixture(scope="module")
def cohort_float32(torch):
    """The synthetic cohort's 3 phases at 64 px, float32 features."""
    from ceusradiomics.datasets import make_ceus_cohort

    X = make_ceus_cohort(n_lesions=24, image_size=128, random_state=0)[0]
    settings = {"weights": None, "image_size": 64, "random_state": 0, "cache": False}
    reference = ResNetFeaturizer(**settings).fit_transform(X).to_numpy()
    return X, settings, reference


def _per_feature_r(reference, other):
    varying = reference.std(0) > 0
    return np.array(
        [
            np.corrcoef(reference[:, j], other[:, j])[0, 1]
            if other[:, j].std() > 0
            else 0.0
            for j in np.flatnonzero(varying)
        ]
    )


@pytest.mark.parametrize(
    ("precision", "share", "worst", "relative"),
    [
        # Measured on this cohort (random weights, 64 px): float16 keeps 99.9%
        # of the features at r >= 0.999; bfloat16's 7-bit mantissa about half
        # of them (median r 0.999): see docs/deep.md. float16's worst feature
        # of 5,897 depends on the CPU's kernels: r 0.997 on an AVX-512 Intel,
        # 0.978 on an AVX2 AMD EPYC (the share and median hold on both).
        ("float16", 0.995, 0.95, 2e-3),
        ("bfloat16", 0.40, 0.0, 2e-2),
    ],
)
def test_low_precision_features_agree_with_float32(
    cohort_float32, precision, share, worst, relative
):
    X, settings, reference = cohort_float32
    low = ResNetFeaturizer(precision=precision, **settings).fit_transform(X)
    assert low.dtypes.eq(np.float64).all()
    low = low.to_numpy()
    assert not np.array_equal(low, reference)  # it did run in another precision
    r = _per_feature_r(reference, low)
    assert (r >= 0.999).mean() >= share
    assert r.min() >= worst
    assert np.median(r) >= 0.998
    deviation = np.abs(low - reference).max() / np.abs(reference).max()
    assert deviation <= relative


def test_precision_is_a_setting_of_the_cache_key(torch, records):
    clear_feature_cache()
    base = {**FAST, "phases": "AP"}
    full = ResNetFeaturizer(**base).fit(records).transform(records)
    half = ResNetFeaturizer(precision="bfloat16", **base).fit(records)
    assert not np.array_equal(half.transform(records), full)
    with pytest.raises(InvalidParameterError, match="precision"):
        ResNetFeaturizer(precision="float64").fit(records)
