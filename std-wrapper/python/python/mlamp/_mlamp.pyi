"""Type stubs of the native module mlamp._mlamp (std-wrapper/python/src/lib.rs)."""

from typing import Dict, List, Optional, Union

import numpy as np
import numpy.typing as npt

class MlampError(ValueError):
    """An error of mlamp: bad input or a run that cannot give a result (the library's message)."""

class Model:
    """A parsed model: the prior, the channels and the TOML text."""

    @staticmethod
    def from_text(text: str, name: str = "<model>") -> Model: ...
    @staticmethod
    def from_json(text: str, name: str = "<model>") -> Model: ...
    @staticmethod
    def from_file(path: str) -> Model: ...
    @property
    def toml(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def d(self) -> int: ...
    def sample(self, n: int, seed: int) -> Dict[str, npt.NDArray[np.float64]]: ...
    def solve(
        self,
        weights: List[npt.NDArray[np.float64]],
        y: npt.NDArray[np.float64],
        truth: Optional[List[npt.NDArray[np.float64]]] = None,
        algorithm: str = "amp",
        estimator: Optional[str] = None,
        iters: Optional[int] = None,
        damping: Optional[float] = None,
        mean_variance: bool = False,
        safeguard: bool = True,
        max_memory: Optional[int] = None,
    ) -> Dict[str, Union[str, List[npt.NDArray[np.float64]]]]: ...
    def state_evolution(self) -> str: ...
    def phase(self, layer: int, alphas: List[float], out: str) -> str: ...

def phase_shard_json(
    toml: str, name: str, layer: int, alphas: List[float], k: int, n: int
) -> str: ...
def merge_shards_json(shards: List[str], out: str) -> str: ...
