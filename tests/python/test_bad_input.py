"""Bad arrays, models and options raise (MlampError, a ValueError with the library's message,
or TypeError for arrays that are not real numbers); none crashes the interpreter. Layouts
numpy allows (transposed, strided, Fortran order, float32, integers) give the results of the
C-contiguous float64 copy."""

import numpy as np
import pytest

import mlamp
from conftest import MODELS


@pytest.fixture(scope="module")
def model():
    return mlamp.Model.from_toml(str(MODELS / "sparse_regression.toml"))


@pytest.fixture(scope="module")
def inst(model):
    return model.sample(120, seed=4)


def solve(model, inst, **kw):
    args = dict(weights=[inst["W1"], inst["W2"]], y=inst["y"], iters=5)
    args.update(kw)
    return model.solve(**args)


def test_non_finite_entries_name_the_array_and_entry(model, inst):
    w = inst["W2"].copy()
    w[3, 5] = np.nan
    with pytest.raises(mlamp.MlampError, match=r"weights\[1\].*\[3, 5\].*NaN"):
        solve(model, inst, weights=[inst["W1"], w])
    y = inst["y"].copy()
    y[0, 0] = np.inf
    with pytest.raises(mlamp.MlampError, match=r"^y: .*\[0, 0\]"):
        solve(model, inst, y=y)


def test_shapes_are_checked(model, inst):
    with pytest.raises(mlamp.MlampError, match=r"weights\[1\]"):
        solve(model, inst, weights=[inst["W1"], inst["W2"][:, :-1]])
    with pytest.raises(mlamp.MlampError, match=r"^y: "):
        solve(model, inst, y=inst["y"][:-1])
    with pytest.raises(mlamp.MlampError, match="3 dimensions"):
        solve(model, inst, y=inst["y"][:, :, None])
    with pytest.raises(mlamp.MlampError, match="empty"):
        solve(model, inst, y=np.zeros((0, 1)))
    with pytest.raises(mlamp.MlampError, match="2 layers, 1 weight"):
        solve(model, inst, weights=[inst["W1"]])
    with pytest.raises(mlamp.MlampError, match=r"truth\[0\]"):
        solve(model, inst, truth=[inst["x"][:-2]])


def test_arrays_that_are_not_real_numbers_are_type_errors(model, inst):
    with pytest.raises(TypeError, match="complex"):
        solve(model, inst, y=inst["y"].astype(complex))
    with pytest.raises(TypeError, match=r"weights\[0\]"):
        solve(model, inst, weights=[np.array([["a", "b"]]), inst["W2"]])
    with pytest.raises(TypeError):
        solve(model, inst, weights=[None, inst["W2"]])


def test_other_layouts_give_the_same_bits(model, inst):
    want = solve(model, inst)
    w1 = np.asfortranarray(inst["W1"])
    w2 = np.ascontiguousarray(inst["W2"].T).T  # a transposed view
    big = np.zeros((inst["y"].shape[0], 3))
    big[:, 1] = inst["y"][:, 0]
    y = big[:, 1:2]  # strided
    got = solve(model, inst, weights=[w1, w2], y=y)
    assert np.array_equal(got.estimates[0], want.estimates[0])
    assert got.summary == want.summary
    # A vector y, and integers (exactly representable) are read as float64.
    got = solve(model, inst, y=inst["y"][:, 0])
    assert np.array_equal(got.estimates[0], want.estimates[0])
    ints = model.solve(weights=[np.eye(120, dtype=int), np.eye(120, dtype=np.int32)[:96]],
                       y=np.ones(96), iters=2)
    assert np.all(np.isfinite(ints.estimates[0]))


def test_bad_options_and_models_raise(model, inst):
    with pytest.raises(mlamp.MlampError, match="algorithm"):
        solve(model, inst, algorithm="gamp")
    with pytest.raises(mlamp.MlampError, match="estimator"):
        solve(model, inst, estimator="mmse")
    with pytest.raises(mlamp.MlampError, match="damping"):
        solve(model, inst, damping=1.5)
    with pytest.raises(mlamp.MlampError, match="mean-variance"):
        solve(model, inst, algorithm="vamp", mean_variance=True)
    with pytest.raises(mlamp.MlampError, match="<model>"):
        mlamp.Model.from_toml("[prior]\ntype = 'nope'\n")
    with pytest.raises(mlamp.MlampError, match="rho"):
        mlamp.Model.from_dict({"prior": {"type": "gauss-bernoulli", "rho": 2.0},
                               "layers": [{"alpha": 1.0, "channel": {"type": "linear"}}]})
    with pytest.raises(mlamp.MlampError, match="cannot read"):
        mlamp.Model.from_toml(MODELS / "missing.toml")
    # A sample too large for memory is refused before it allocates.
    with pytest.raises(mlamp.MlampError, match="memory"):
        model.sample(10**9, seed=0)
    with pytest.raises(mlamp.MlampError, match="layer"):
        model.phase(3, [0.5, 0.6])
    with pytest.raises(mlamp.MlampError, match=r"alphas\[1\]"):
        model.phase(1, [0.6, 0.5])
    assert issubclass(mlamp.MlampError, ValueError)
