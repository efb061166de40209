"""The package gives the bits of the `mlamp` command line: the same seed the same instance as
`mlamp run --save`, the same data the same estimates and summary as `mlamp solve`, the same
grid the same phase files as `mlamp phase`."""

import json

import numpy as np

import mlamp
from conftest import MODELS


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def test_sample_and_solve_equal_run_save_and_solve(cli, tmp_path):
    model_path = str(MODELS / "sparse_regression.toml")
    saved = tmp_path / "saved"
    cli("run", model_path, "--n", 300, "--seed", 7, "--save", saved, "--json")
    model = mlamp.Model.from_toml(model_path)
    inst = model.sample(300, seed=7)
    assert sorted(inst) == ["W1", "W2", "h1", "x", "y"]
    for name, a in inst.items():
        assert a.dtype == np.float64 and a.flags["C_CONTIGUOUS"]
        assert np.array_equal(bits(a), bits(np.load(saved / f"{name}.npy"))), name
    # Another seed, another instance.
    assert not np.array_equal(model.sample(300, seed=8)["x"], inst["x"])

    out = tmp_path / "solved"
    stdout = cli(
        "solve", model_path, "--weights", saved / "W1.npy", saved / "W2.npy",
        "--observation", saved / "y.npy", "--truth", saved / "x.npy", saved / "h1.npy",
        "--out", out, "--json",
    )
    res = model.solve(weights=[inst["W1"], inst["W2"]], y=inst["y"], truth=[inst["x"], inst["h1"]])
    for k, var in enumerate(["x", "h1"]):
        assert np.array_equal(bits(res.estimates[k]), bits(np.load(out / f"{var}_hat.npy")))
        assert np.array_equal(bits(res.variances[k]), bits(np.load(out / f"{var}_var.npy")))
    # summary.json holds the files written; the JSON printed does too: compare without them.
    want = json.loads(stdout)
    want.pop("files")
    assert res.summary == want
    assert res.converged and res.mse_layers[0] < 1e-6
    assert res.trace.shape == (res.iterations, 2)
    assert res.covariances is None


def test_vamp_solve_equals_the_cli(cli, tmp_path):
    model_path = str(MODELS / "sparse_regression.toml")
    saved = tmp_path / "saved"
    cli("run", model_path, "--n", 200, "--seed", 3, "--save", saved, "--json")
    model = mlamp.Model.from_toml(model_path)
    inst = model.sample(200, seed=3)
    out = tmp_path / "solved"
    stdout = cli(
        "solve", model_path, "--algorithm", "vamp", "--weights", saved / "W1.npy",
        saved / "W2.npy", "--observation", saved / "y.npy", "--out", out, "--json",
    )
    res = model.solve(weights=[inst["W1"], inst["W2"]], y=inst["y"], algorithm="vamp")
    assert np.array_equal(bits(res.estimates[0]), bits(np.load(out / "x_hat.npy")))
    assert np.array_equal(bits(res.covariances[0]), bits(np.load(out / "x_cov.npy")))
    want = json.loads(stdout)
    want.pop("files")
    assert res.summary == want and res.variances is None


def test_state_evolution_equals_mlamp_se(cli):
    model_path = str(MODELS / "sparse_regression.toml")
    want = json.loads(cli("se", model_path, "--json"))
    assert mlamp.Model.from_toml(model_path).state_evolution() == want


PERCEPTRON = '[prior]\ntype = "binary"\n[[layers]]\nalpha = 1.5\nchannel = { type = "sign" }\n'


def test_phase_writes_the_files_of_mlamp_phase(cli, tmp_path):
    model_path = tmp_path / "perceptron.toml"
    model_path.write_text(PERCEPTRON)
    lo, hi, steps = 1.0, 2.0, 5
    stdout = cli(
        "phase", model_path, "--layer", 1, "--from", lo, "--to", hi, "--steps", steps,
        "--out", tmp_path / "cli", "--json",
    )
    # The CLI's grid, in the same floating-point operations.
    alphas = [lo + (hi - lo) * i / (steps - 1) for i in range(steps)]
    got = mlamp.Model.from_toml(str(model_path)).phase(1, alphas, out=tmp_path / "py")
    want = json.loads(stdout)
    for f in ["csv", "plot"]:
        a, b = open(want.pop(f), "rb").read(), open(got.pop(f), "rb").read()
        assert a == b and len(a) > 0
    assert got == want
    # Both thresholds of the binary perceptron (AMP 1.493, information-theoretic 1.245).
    assert abs(want["alpha_alg"] - 1.493) < 3e-3 and abs(want["alpha_it"] - 1.245) < 5e-3


def test_a_dict_is_the_model_its_file_holds():
    spec = {
        "prior": {"type": "gauss-bernoulli", "rho": 0.3},
        "layers": [
            {"alpha": 1.0, "channel": {"type": "linear", "noise_var": 0.0}},
            {"alpha": 0.8, "channel": {"type": "linear", "noise_var": 1e-8}},
        ],
    }
    from_dict = mlamp.Model.from_dict(spec)
    from_file = mlamp.Model.from_toml(str(MODELS / "sparse_regression.toml"))
    assert from_dict.depth == 2 and from_dict.d == 1
    a, b = from_dict.state_evolution(), from_file.state_evolution()
    a.pop("model"), b.pop("model")
    assert a == b
    inst = from_dict.sample(100, seed=2)
    assert np.array_equal(inst["y"], from_file.sample(100, seed=2)["y"])
