"""ML-AMP's iteration against a numpy reference written here from the paper (Manoel,
Krzakala, Mézard, Zdeborová, "Multi-layer generalized linear estimation", eqs. 5-9 and the
procedure box; its layer l, counted from the observation, is our layer L - l): a two-layer
model with a Gauss-Bernoulli prior and Gaussian channels, whose prior and channel functions
have closed forms (derived below), without damping."""

import numpy as np
import pytest

import mlamp

RHO, D1, D2, N = 0.3, 1e-2, 1e-3, 200
MODEL = f"""
[prior]
type = "gauss-bernoulli"
rho = {RHO}
[[layers]]
alpha = 1.2
channel = {{ type = "linear", noise_var = {D1} }}
[[layers]]
alpha = 0.7
channel = {{ type = "linear", noise_var = {D2} }}
"""


def prior_posterior(a, b):
    """x ~ (1 - rho) delta_0 + rho N(0, 1) tilted by exp(-a x^2/2 + b x): the Gaussian part
    integrates to (1 + a)^(-1/2) exp(b^2 / (2 (1 + a))) with mean b/(1 + a) and variance
    1/(1 + a); its posterior weight pi; mean pi m, variance pi (v + m^2) - (pi m)^2."""
    v = 1.0 / (1.0 + a)
    m = b * v
    log_gauss = np.log(RHO) + 0.5 * np.log(v) + 0.5 * b * m
    pi = 1.0 / (1.0 + np.exp(np.log(1.0 - RHO) - log_gauss))
    mean = pi * m
    return mean, pi * (v + m * m) - mean * mean


def hidden(a, b, v, omega, noise):
    """h = z + N(0, noise), z ~ N(omega, v) from below, exp(-a h^2/2 + b h) from above:
    h ~ N(omega, s = v + noise) tilted, so precision a + 1/s, mean (b + omega/s)/(a + 1/s);
    g = d/d omega log Z = (mean - omega)/s and dg = (var/s - 1)/s."""
    s = v + noise
    var = 1.0 / (a + 1.0 / s)
    mean = var * (b + omega / s)
    return (mean - omega) / s, (var / s - 1.0) / s, mean, var


def output(y, v, omega, noise):
    """y = z + N(0, noise), z ~ N(omega, v): g = (y - omega)/(v + noise), dg = -1/(v + noise)."""
    s = v + noise
    return (y - omega) / s, -1.0 / s


def reference(ws, y, steps):
    """`steps` iterations from the prior's moments (h = E h, sigma = Var h, g = 0)."""
    w1, w2 = ws
    noise = [D1, D2]
    # E x = 0, Var x = rho; h1 = W1 x + N(0, D1): E h1 = 0, Var h1 = rho + D1 (E W^2 = 1/n).
    h = [np.zeros(w1.shape[1]), np.zeros(w2.shape[1])]
    sigma = [np.full(w1.shape[1], RHO), np.full(w2.shape[1], RHO + D1)]
    g = [np.zeros(w1.shape[0]), np.zeros(w2.shape[0])]
    a = [None, None]
    b = [None, None]
    for _ in range(steps):
        for k in (1, 0):
            w = ws[k]
            v = (w * w) @ sigma[k]
            omega = w @ h[k] - v * g[k]
            if k == 1:
                g[k], dg = output(y, v, omega, noise[k])
            else:
                g[k], dg, h[1], sigma[1] = hidden(a[1], b[1], v, omega, noise[k])
            a[k] = np.maximum(-((w * w).T @ dg), 0.0)
            b[k] = w.T @ g[k] + a[k] * h[k]
        h[0], sigma[0] = prior_posterior(a[0], b[0])
    return h, sigma


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_ml_amp_iterations_equal_the_numpy_reference(steps):
    model = mlamp.Model.from_toml(MODEL)
    inst = model.sample(N, seed=11)
    ws = [inst["W1"], inst["W2"]]
    y = inst["y"][:, 0]
    res = model.solve(weights=ws, y=inst["y"], iters=steps, damping=1.0)
    assert res.iterations == steps and res.kept_iteration == steps
    h, sigma = reference(ws, y, steps)
    for k in range(2):
        np.testing.assert_allclose(res.estimates[k][:, 0], h[k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.variances[k][:, 0], sigma[k], rtol=0, atol=1e-12)
    # The iteration moved: not the initial state.
    assert np.abs(h[0]).max() > 0.1
