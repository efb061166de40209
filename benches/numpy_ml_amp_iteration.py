#!/usr/bin/env python3
"""One ML-AMP iteration on the ML-AMP paper's eq. 18 in plain numpy (OpenBLAS), for comparison
with `cargo bench --bench ml_amp_iteration`.

The same model as examples/models/sparse_regression.toml: x ~ (1 - rho) delta + rho N(0, 1),
rho = 0.3; h = W2 x (n x n, noiseless); y = W1 h + N(0, 1e-8) (0.8 n x n); iid N(0, 1/n)
weights. The iteration is the one of core/src/ml_amp.rs (the last layer first): per layer,
V = (W∘W) sigma and omega = W h - V g (eq. 5), g and dg from the channel (eq. 7 at the
observation, eq. 6 below it), A = -(W∘W)^T dg and B = W^T g + A h (eq. 5); then the prior's
posterior (eq. 9). "full" uses W∘W, computed once before timing (numpy then reads twice the
bytes the Rust kernels do, which square W on the fly); "mean" replaces the W∘W products by
the mean square of W (the same bytes as the Rust iteration).

Usage (the machine's OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow OpenBLAS down; unset them for
this command only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benches/numpy_ml_amp_iteration.py

Prints, for n = 2000 and 8000 and OPENBLAS_NUM_THREADS = 1 and 2, the median time of one
iteration in ms (each configuration in its own process, since OpenBLAS reads its thread count
when numpy is imported). `--n 2000` limits the sizes, `--threads 2` the thread counts.
"""

import argparse
import os
import subprocess
import sys
import time

RHO = 0.3
ALPHA1 = 0.8
DELTA1 = 1e-8


def prior_posterior(np, a, b):
    """Mean and variance of x ~ (1 - rho) delta + rho N(0, 1) times exp(-a x^2 / 2 + b x)."""
    s2 = 1.0 / (1.0 + a)
    m = b * s2
    # log of the Gaussian part's weight relative to the delta's: N(0; -m, s2) / N(0; 0, 1).
    log_ratio = 0.5 * np.log(s2) + 0.5 * m * m / s2
    pi = 1.0 / (1.0 + (1.0 - RHO) / RHO * np.exp(-np.minimum(log_ratio, 700.0)))
    mean = pi * m
    var = pi * (s2 + m * m) - mean * mean
    return mean, var


def child(n, rounds):
    import numpy as np

    rng = np.random.default_rng(1)
    m = int(ALPHA1 * n)
    w2 = rng.standard_normal((n, n)) / np.sqrt(n)
    w1 = rng.standard_normal((m, n)) / np.sqrt(n)
    x = rng.standard_normal(n) * (rng.random(n) < RHO)
    y = w1 @ (w2 @ x) + np.sqrt(DELTA1) * rng.standard_normal(m)
    weights = [w2, w1]
    squares = [w * w for w in weights]
    mean_sq = [float(np.mean(q)) for q in squares]
    sizes = [n, n, m]

    def fresh():
        # Per layer k (input sizes[k], output sizes[k + 1]): h, sigma of the input;
        # omega, V, g, dg of the output; A, B of the input.
        st = []
        for k in range(2):
            ni, no = sizes[k], sizes[k + 1]
            st.append(
                dict(
                    h=np.zeros(ni),
                    sigma=np.full(ni, RHO if k == 0 else 1.0),
                    omega=np.zeros(no),
                    v=np.zeros(no),
                    g=np.zeros(no),
                    dg=np.zeros(no),
                    a=np.zeros(ni),
                    b=np.zeros(ni),
                )
            )
        return st

    def step(st, full):
        for k in (1, 0):
            s, w = st[k], weights[k]
            if full:
                s["v"] = squares[k] @ s["sigma"]
            else:
                s["v"] = np.full(sizes[k + 1], mean_sq[k] * s["sigma"].sum())
            s["omega"] = w @ s["h"] - s["v"] * s["g"]
            if k == 1:
                # Linear output channel: y = z + N(0, DELTA1).
                s["g"] = (y - s["omega"]) / (DELTA1 + s["v"])
                s["dg"] = -1.0 / (DELTA1 + s["v"])
            else:
                # Noiseless linear hidden channel: h1 = z, z ~ N(omega, V), h1's message from
                # above exp(-A h^2 / 2 + B h).
                nx = st[1]
                prec = nx["a"] + 1.0 / s["v"]
                mean = (nx["b"] + s["omega"] / s["v"]) / prec
                var = 1.0 / prec
                s["g"] = (mean - s["omega"]) / s["v"]
                s["dg"] = (var - s["v"]) / (s["v"] * s["v"])
                nx["h"], nx["sigma"] = mean, var
            if full:
                s["a"] = -(squares[k].T @ s["dg"])
            else:
                s["a"] = np.full(sizes[k], -mean_sq[k] * s["dg"].sum())
            s["a"] = np.maximum(s["a"], 0.0)
            s["b"] = w.T @ s["g"] + s["a"] * s["h"]
        s = st[0]
        s["h"], s["sigma"] = prior_posterior(np, s["a"], s["b"])

    out = []
    for name, full in (("full", True), ("mean", False)):
        st = fresh()
        step(st, full)
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            step(st, full)
            times.append(time.perf_counter() - t)
        times.sort()
        out.append(f"{name} {1e3 * times[len(times) // 2]:.2f}")
    print(" ".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, action="append")
    p.add_argument("--threads", type=int, action="append")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=None)
    args = p.parse_args()
    sizes = args.n or [2000, 8000]
    if args.child:
        child(sizes[0], args.rounds)
        return
    for n in sizes:
        rounds = args.rounds or (30 if n <= 2000 else 10)
        for t in args.threads or [1, 2]:
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
            cmd = [sys.executable, __file__, "--child", "--n", str(n), "--rounds", str(rounds)]
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            full, mean = (float(v) for v in res.stdout.split()[1::2])
            print(
                f"numpy n = {n}, {t} thread(s): full {full:.2f} ms, mean {mean:.2f} ms "
                f"per iteration (median of {rounds})"
            )


if __name__ == "__main__":
    main()
