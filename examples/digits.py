"""Compressed sensing of real images with the Python package: the 8×8 digits that
scikit-learn ships, compressed by a random Gaussian sensing matrix and reconstructed by ML-AMP
with a Gauss-Bernoulli prior fitted to the pixels.

    pip install ./std-wrapper/python scikit-learn matplotlib
    python examples/digits.py [--images 40] [--alpha 0.6] [--out digits.png]

The pixels of `--images` digits, scaled to [0, 1], are one signal x (64 entries per image;
about half of them are 0: the prior's rho is the fraction that is not, its Gaussian part has
the mean and variance of those that are); y = W x + N(0, noise) with W iid N(0, 1/n) of
alpha·n rows. Prints the MSE per pixel and writes the originals above their reconstructions.
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits

import mlamp


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--alpha", type=float, default=0.6, help="measurements per pixel")
    p.add_argument("--noise", type=float, default=1e-4, help="variance of the measurement noise")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="digits.png")
    a = p.parse_args()

    images = load_digits().images[: a.images] / 16.0
    x = images.reshape(-1)
    nz = x[x > 0]
    n, m = x.size, int(round(a.alpha * x.size))
    rng = np.random.default_rng(a.seed)
    w = rng.normal(0.0, 1.0 / np.sqrt(n), size=(m, n))
    y = w @ x + rng.normal(0.0, np.sqrt(a.noise), size=m)

    model = mlamp.Model.from_dict(
        {
            "prior": {
                "type": "gauss-bernoulli",
                "rho": nz.size / n,
                "mean": float(nz.mean()),
                "var": float(nz.var()),
            },
            "layers": [
                {"alpha": a.alpha, "channel": {"type": "linear", "noise_var": a.noise}}
            ],
        },
        name="digits",
    )
    res = model.solve(weights=[w], y=y, truth=[x])
    x_hat = res.estimates[0][:, 0]
    print(
        f"{a.images} digits, n = {n} pixels, m = {m} measurements (alpha = {a.alpha}): "
        f"ML-AMP {'converged' if res.converged else 'stopped'} after {res.iterations} "
        f"iterations, MSE per pixel {res.mse_layers[0]:.3e} "
        f"(the prior's variance: {x.var():.3e}; least norm: "
        f"{np.mean((np.linalg.pinv(w) @ y - x) ** 2):.3e})"
    )

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no picture")
        return
    shown = min(a.images, 10)
    fig, axes = plt.subplots(2, shown, figsize=(shown, 2.3))
    for i in range(shown):
        for row, img in enumerate([images[i], x_hat[64 * i : 64 * (i + 1)].reshape(8, 8)]):
            ax = axes[row, i]
            ax.imshow(img, cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("ML-AMP")
    fig.suptitle(f"{m} Gaussian measurements of {n} pixels (alpha = {a.alpha})")
    fig.savefig(a.out, dpi=120, bbox_inches="tight")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
