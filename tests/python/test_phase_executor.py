"""`mlamp.phase(..., executor=...)`: every grid point an independent task on any
concurrent.futures-style executor, merged here: the same report and the same phase.csv and
phase.svg bytes as the serial scan. Tested on Dask's distributed LocalCluster with several
worker processes, and on a thread pool."""

import concurrent.futures
import os

import pytest

import mlamp

PERCEPTRON = '[prior]\ntype = "binary"\n[[layers]]\nalpha = 1.5\nchannel = { type = "sign" }\n'
ALPHAS = [1.0 + 0.2 * i for i in range(6)]


def same_scan(serial, serial_dir, other, other_dir):
    for key, name in [("csv", "phase.csv"), ("plot", "phase.svg")]:
        assert serial[key] == str(serial_dir / name) and other[key] == str(other_dir / name)
        a = (serial_dir / name).read_bytes()
        assert a == (other_dir / name).read_bytes() and len(a) > 0
    strip = lambda r: {k: v for k, v in r.items() if k not in ("csv", "plot")}
    assert strip(serial) == strip(other)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    model = mlamp.Model.from_toml(PERCEPTRON)
    report = mlamp.phase(model, 1, ALPHAS, out=out)
    # The binary perceptron's thresholds (AMP 1.493, information-theoretic 1.245): a scan
    # with bisections in the merge, not an empty one.
    assert abs(report["alpha_alg"] - 1.493) < 3e-3 and abs(report["alpha_it"] - 1.245) < 5e-3
    return report, out


def test_dask_local_cluster_gives_the_serial_bytes(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        model = mlamp.Model.from_toml(PERCEPTRON)
        report = model.phase(1, ALPHAS, out=tmp_path, executor=client)
        # Two worker processes, not threads of this one.
        who = client.run(os.getpid)
        assert len(set(who.values())) == 2 and os.getpid() not in who.values()
    same_scan(*serial, report, tmp_path)


def test_a_thread_pool_gives_the_serial_bytes(serial, tmp_path, tasks=4):
    model = mlamp.Model.from_toml(PERCEPTRON)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        report = mlamp.phase(model, 1, ALPHAS, out=tmp_path, executor=pool, tasks=tasks)
    same_scan(*serial, report, tmp_path)


def test_shards_round_trip_and_bad_sets_raise(tmp_path):
    model = mlamp.Model.from_toml(PERCEPTRON)
    shards = [mlamp.phase_task(model.toml, model.name, 1, ALPHAS[:3], k, 2) for k in (1, 2)]
    with pytest.raises(mlamp.MlampError, match="shard 2/2 is missing"):
        mlamp.merge(shards[:1], tmp_path)
    with pytest.raises(mlamp.MlampError, match="not a phase shard"):
        mlamp.merge(["{}"], tmp_path)
    with pytest.raises(mlamp.MlampError, match="tasks"):
        mlamp.phase(model, 1, ALPHAS, out=tmp_path, executor=object(), tasks=0)
