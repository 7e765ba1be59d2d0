# Type stub of the compiled module backprop._backprop (python/backprop_module.cpp), re-exported by
# `backprop`. Arrays: X is (N, IN), read as float32 in C order; results are numpy arrays.
import os
from typing import Any, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, os.PathLike[str]]
_Array = npt.ArrayLike

class Network:
    """A network with its feature scaling and class names: what a model file holds."""

    @staticmethod
    def from_file(path: _Path) -> Network: ...
    @staticmethod
    def from_json(text: str) -> Network: ...
    @staticmethod
    def from_bytes(data: bytes) -> Network: ...
    def to_bytes(self) -> bytes: ...
    def fit(
        self,
        X: _Array,
        y: _Array,
        *,
        epochs: Optional[int] = None,
        batch_size: Optional[int] = None,
        optimizer: Optional[str] = None,
        learning_rate: Optional[float] = None,
        momentum: Optional[float] = None,
        weight_decay: Optional[float] = None,
        schedule: Optional[str] = None,
        warmup: Optional[int] = None,
        clip_grad_norm: Optional[float] = None,
        dropout: Optional[float] = None,
        early_stopping: Optional[int] = None,
        validation_split: Optional[float] = None,
        seed: Optional[int] = None,
        scale: Optional[str] = None,
        verbose: bool = False,
        device: str = "",
    ) -> list[dict[str, float]]: ...
    def predict(self, X: _Array) -> npt.NDArray[np.float32]: ...
    def evaluate(self, X: _Array, y: _Array, *, batch_size: int = 256, device: str = "") -> dict[str, float]: ...
    def save(self, path: _Path, *, format: str = "binary") -> None: ...
    def weights(self, layer: int) -> npt.NDArray[np.float32]: ...
    def bias(self, layer: int) -> npt.NDArray[np.float32]: ...
    @property
    def layers(self) -> list[dict[str, Any]]: ...
    @property
    def architecture(self) -> str: ...
    @property
    def input_size(self) -> int: ...
    @property
    def output_size(self) -> int: ...
    @property
    def loss(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def classes(self) -> list[str]: ...
    @property
    def targets(self) -> list[str]: ...
    @property
    def scaling(self) -> Optional[dict[str, Any]]: ...
    def __getstate__(self) -> tuple[bytes]: ...
    def __setstate__(self, state: tuple[bytes]) -> None: ...

def load(path: _Path) -> Network: ...
def trace(
    network: Union[_Path, Network],
    *,
    input: _Array,
    target: _Array,
    steps: int = 1,
    loss: Optional[str] = None,
    learning_rate: Optional[float] = None,
) -> Any: ...
def set_threads(threads: int) -> None: ...
