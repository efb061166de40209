"""mlamp: inference in multi-layer generalized linear models by approximate message passing.

ML-AMP (Manoel, Krzakala, Mézard, Zdeborová, "Multi-layer generalized linear estimation") and
ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, "Matrix inference and
estimation in multi-layer models"), from Python: the Rust library `mlamp-std` behind numpy
arrays. Every number is the library's: the same seed gives the same bits as the `mlamp`
command line, on any number of threads.

    import mlamp
    model = mlamp.Model.from_toml("examples/models/sparse_regression.toml")
    inst = model.sample(500, seed=1)
    res = model.solve(weights=[inst["W1"], inst["W2"]], y=inst["y"], truth=[inst["x"]])
    res.estimates[0], res.variances[0], res.mse_layers, res.converged

Errors are :class:`MlampError` (a ``ValueError``) with the library's message; arrays that are
not real numbers are a ``TypeError``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import _mlamp
from ._mlamp import MlampError

__all__ = ["Model", "Result", "MlampError", "phase", "phase_task", "merge"]


def _real(name: str, a: Any) -> np.ndarray:
    """`a` as a C-contiguous float64 array (no copy if it is one already)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: an array of real numbers is needed, not dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


@dataclass
class Result:
    """What :meth:`Model.solve` returns.

    ``estimates[k]`` is the estimate of ``h_k`` (``x = h_0`` first), ``n_k × d``; ML-AMP gives
    ``variances[k]`` (every entry's posterior variance, ``n_k × d``), ML-Mat-VAMP
    ``covariances[k]`` (the mean over the rows of the posterior covariance, ``d × d``).
    ``trace[t, k]`` is the MSE of ``h_k``'s estimate at iteration ``t`` (only with a truth).
    ``summary`` is the dict of ``mlamp solve --json`` (``summary_json``: its exact text).
    """

    estimates: List[np.ndarray]
    variances: Optional[List[np.ndarray]]
    covariances: Optional[List[np.ndarray]]
    trace: np.ndarray
    mse_layers: List[float]
    iterations: int
    converged: bool
    diverged: bool
    kept_iteration: int
    summary: Dict[str, Any] = field(repr=False)
    summary_json: str = field(repr=False)

    @property
    def x(self) -> np.ndarray:
        """The signal's estimate, ``estimates[0]``."""
        return self.estimates[0]


class Model:
    """A multi-layer generalized linear model: a prior and one channel per layer.

    Build it with :meth:`from_toml` (a model file, or its text: the README's schema) or
    :meth:`from_dict` (the same keys as Python objects).
    """

    __slots__ = ("_native",)

    def __init__(self, native: "_mlamp.Model"):
        self._native = native

    @staticmethod
    def from_toml(path_or_str: "str | os.PathLike[str]") -> "Model":
        """The model file ``path_or_str`` if a file of that name exists, else its TOML text."""
        if isinstance(path_or_str, os.PathLike) or (
            isinstance(path_or_str, str) and "\n" not in path_or_str and os.path.isfile(path_or_str)
        ):
            return Model(_mlamp.Model.from_file(os.fspath(path_or_str)))
        if not isinstance(path_or_str, str):
            raise TypeError(f"from_toml: a path or TOML text is needed, not {type(path_or_str)}")
        return Model(_mlamp.Model.from_text(path_or_str))

    @staticmethod
    def from_dict(spec: Dict[str, Any], name: str = "<model>") -> "Model":
        """The model whose file would hold ``spec``, e.g. ``{"prior": {"type": "gaussian"},
        "layers": [{"alpha": 0.5, "channel": {"type": "linear", "noise_var": 1e-4}}]}``."""
        return Model(_mlamp.Model.from_json(json.dumps(spec), name))

    @property
    def toml(self) -> str:
        """The model's TOML text (a dict's translated)."""
        return self._native.toml

    @property
    def name(self) -> str:
        """The file as given, or ``<model>``: the name in reports and plots."""
        return self._native.name

    @property
    def depth(self) -> int:
        """Layers L."""
        return self._native.depth

    @property
    def d(self) -> int:
        """Columns per row."""
        return self._native.d

    def __repr__(self) -> str:
        return repr(self._native)

    def __reduce__(self):
        return (_restore, (self.toml, self.name))

    def sample(self, n: int, seed: int = 0) -> Dict[str, np.ndarray]:
        """A seeded instance with ``n`` signal rows, the arrays ``mlamp run --save`` writes:
        ``W1`` … ``WL`` (``W_k`` is ``n_k × n_{k-1}``), ``y``, ``x``, ``h1``, …"""
        return self._native.sample(n, seed)

    def solve(
        self,
        weights: Sequence[Any],
        y: Any,
        truth: Optional[Sequence[Any]] = None,
        algorithm: str = "amp",
        estimator: Optional[str] = None,
        iters: Optional[int] = None,
        damping: Optional[float] = None,
        mean_variance: bool = False,
        safeguard: bool = True,
        max_memory: Optional[int] = None,
    ) -> Result:
        """ML-AMP (``algorithm="amp"``) or ML-Mat-VAMP (``"vamp"``) on the weights
        ``[W1, …, WL]`` (from the signal; ``W_k`` is ``n_k × n_{k-1}``, the model's alphas are
        replaced by their ratios) and the observation ``y`` (``n_L`` rows), as ``mlamp solve``;
        ``truth`` (``x``, then ``h1``, … as far as known) gives the MSEs and the trace. The GIL
        is released while it runs."""
        ws = [_real(f"weights[{k}]", w) for k, w in enumerate(weights)]
        ts = None if truth is None else [_real(f"truth[{k}]", t) for k, t in enumerate(truth)]
        r = self._native.solve(
            ws,
            _real("y", y),
            ts,
            algorithm,
            estimator,
            iters,
            damping,
            mean_variance,
            safeguard,
            max_memory,
        )
        summary = json.loads(r["summary"])
        trace = summary.get("trace_layers", [])
        return Result(
            estimates=r["estimates"],
            variances=r.get("variances"),
            covariances=r.get("covariances"),
            trace=np.array(trace, dtype=np.float64).reshape(len(trace), len(trace[0]) if trace else 0),
            mse_layers=summary["mse_layers"],
            iterations=summary["iterations"],
            converged=summary["converged"],
            diverged=summary["diverged"],
            kept_iteration=summary["kept_iteration"],
            summary=summary,
            summary_json=r["summary"],
        )

    def state_evolution(self) -> Dict[str, Any]:
        """ML-AMP's state evolution and the Bayes-optimal fixed point: the dict of
        ``mlamp se --json`` (``mse_signal_amp``, ``mmse_signal``, the free energies, …)."""
        return json.loads(self._native.state_evolution())

    def phase(
        self,
        layer: int,
        alphas: Sequence[float],
        out: "str | os.PathLike[str]" = ".",
        executor: Any = None,
        tasks: Optional[int] = None,
    ) -> Dict[str, Any]:
        """:func:`phase` of this model."""
        return phase(self, layer, alphas, out=out, executor=executor, tasks=tasks)


def _restore(toml: str, name: str) -> Model:
    return Model(_mlamp.Model.from_text(toml, name))


def _alphas(alphas: Sequence[float]) -> List[float]:
    a = _real("alphas", alphas)
    if a.ndim != 1:
        raise TypeError(f"alphas: a vector is needed, not shape {a.shape}")
    return [float(v) for v in a]


def phase_task(toml: str, name: str, layer: int, alphas: List[float], k: int, n: int) -> str:
    """Shard ``k`` of ``n`` (1-based) of a scan: the analyses of the grid points ``i`` with
    ``i mod n = k - 1``, as the JSON text of ``mlamp phase --shard k/n``'s file. Independent
    and deterministic: what an executor runs."""
    return _mlamp.phase_shard_json(toml, name, layer, alphas, k, n)


def merge(shards: Sequence[str], out: "str | os.PathLike[str]" = ".") -> Dict[str, Any]:
    """Merges the ``n`` shards of one scan (``mlamp merge``): writes ``phase.csv`` and
    ``phase.svg`` into ``out``; the dict of ``mlamp phase --json``."""
    return json.loads(_mlamp.merge_shards_json(list(shards), os.fspath(out)))


def phase(
    model: Model,
    layer: int,
    alphas: Sequence[float],
    out: "str | os.PathLike[str]" = ".",
    executor: Any = None,
    tasks: Optional[int] = None,
) -> Dict[str, Any]:
    """The scan of layer ``layer``'s alpha (from 1 at the signal) over the ascending
    ``alphas``, as ``mlamp phase``: the state evolution's fixed points at each alpha, every
    threshold bisected, ``phase.csv`` and ``phase.svg`` written into ``out``; the dict of
    ``mlamp phase --json`` (``alpha_alg``, ``alpha_it``, ``transitions``, ``curve``, …).

    With ``executor`` (any ``concurrent.futures``-style object with ``submit``: a
    ``ProcessPoolExecutor``, a Dask ``distributed.Client``, …) the grid points are ``tasks``
    independent tasks (default: one per point; :func:`phase_task`), and the bisections run
    here on their merged results (:func:`merge`): the same bytes as without an executor."""
    grid = _alphas(alphas)
    if executor is None:
        return json.loads(model._native.phase(layer, grid, os.fspath(out)))
    n = len(grid) if tasks is None else int(tasks)
    if n < 1:
        raise MlampError(f"tasks: must be at least 1, not {n}")
    futures = [
        executor.submit(phase_task, model.toml, model.name, layer, grid, k, n)
        for k in range(1, n + 1)
    ]
    return merge([f.result() for f in futures], out)
