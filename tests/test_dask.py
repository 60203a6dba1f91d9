"""Extraction on a Dask cluster (joblib's dask backend) gives the serial numbers.

A local cluster of two worker *processes* stands in for a real one: the work
is pickled, shipped, computed in other interpreters and gathered back, as it
would be across machines. The task stream proves that the workers, not this
process, computed the features.
"""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from ceusradiomics import ResNetFeaturizer, TextureExtractor  # noqa: E402
from ceusradiomics.datasets import make_ceus_cohort  # noqa: E402

pytestmark = pytest.mark.slow  # a cluster start and a ResNet-50: ~20 s


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def cohort():
    X, y, _ = make_ceus_cohort(n_lesions=12, image_size=96, random_state=0)
    return X, y


def _worker_addresses(task_stream) -> set[str]:
    return {task["worker"] for task in task_stream.data}


def test_texture_extractor_on_dask_matches_serial(client, cohort):
    from dask.distributed import get_task_stream

    X, _ = cohort
    # cache=False: the process-wide feature cache would otherwise answer the
    # second run from this process without asking the workers.
    serial = TextureExtractor(readers="all", cache=False).fit_transform(X)
    with (
        get_task_stream(client) as stream,
        joblib.parallel_config(backend="dask"),
    ):
        distributed = TextureExtractor(
            readers="all", n_jobs=-1, cache=False
        ).fit_transform(X)

    pd.testing.assert_frame_equal(distributed, serial, check_exact=True)
    assert distributed.shape == (12, 3 * 283 * 2)
    assert _worker_addresses(stream) == set(client.scheduler_info()["workers"])


def test_resnet_featurizer_on_dask_matches_serial(client, cohort):
    torch = pytest.importorskip("torch")
    from dask.distributed import get_task_stream

    X, _ = cohort
    featurizer = ResNetFeaturizer(
        weights=None, image_size=32, random_state=0, batch_size=6, cache=False
    ).fit(X)
    # Each Dask worker runs torch on one thread (distributed sets
    # OMP_NUM_THREADS=1 in its workers); a float32 convolution's rounding
    # depends on how its sums are split over threads, so the serial reference
    # uses the workers' thread count.
    worker_threads = set(client.run(torch.get_num_threads).values())
    assert worker_threads == {1}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        serial = featurizer.transform(X)
    finally:
        torch.set_num_threads(threads)

    # The fitted featurizer pickles without its network (kilobytes); each
    # worker rebuilds it from the seed. Chunks of 2 lesions x 3 phases are
    # whole batches of 6, so every forward pass sees the same batch as above.
    chunks = np.array_split(np.arange(len(X)), 6)
    with (
        get_task_stream(client) as stream,
        joblib.parallel_config(backend="dask"),
    ):
        parts = joblib.Parallel(n_jobs=-1)(
            joblib.delayed(featurizer.transform)(X.iloc[rows]) for rows in chunks
        )
    distributed = pd.concat(parts)

    pd.testing.assert_frame_equal(distributed, serial, check_exact=True)
    assert distributed.shape == (12, 3 * 2048)
    assert np.isfinite(distributed.to_numpy()).all()
    assert _worker_addresses(stream) == set(client.scheduler_info()["workers"])
