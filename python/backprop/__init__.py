"""backprop: feedforward neural networks by an explicit forward pass and backpropagation (the backprop C++
library, through its compiled module backprop._backprop).

    net = backprop.Network.from_file("examples/xor.json")   # a network file or a model (binary or JSON)
    history = net.fit(X, y, epochs=20, seed=1)              # numpy arrays in, a list of per-epoch dicts out
    P = net.predict(X)                                      # (N, K) probabilities or (N, OUT) outputs
    steps = backprop.trace("examples/seed.json", input=[1, 2, 3, 4], target=[1], steps=2)

scikit-learn estimators: backprop.sklearn.MLPClassifier and MLPRegressor (imported on demand, so that
`import backprop` does not need scikit-learn).
"""
from . import _backprop
from ._backprop import *  # noqa: F401,F403  (every public name of the compiled module)
from ._backprop import Network, __version__, load, set_threads, trace  # noqa: F401  (named for readers and linters)

__all__ = [name for name in dir(_backprop) if not name.startswith("_")]

# The classes read as backprop.Network in help() and repr; pickle finds them here too.
for _name in __all__:
    if isinstance(getattr(_backprop, _name), type):
        getattr(_backprop, _name).__module__ = __name__
del _name
