"""scikit-learn estimators over backprop.Network: MLPClassifier and MLPRegressor.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from backprop.sklearn import MLPClassifier
    model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=100, random_state=0))
    model.fit(X_train, y_train).score(X_test, y_test)

They follow the scikit-learn estimator contract (get_params/set_params, fit/predict/score, predict_proba,
partial_fit, pickling, sklearn.utils.estimator_checks.check_estimator) and take the parameters of
scikit-learn's MLPClassifier and MLPRegressor where the meaning is the same, plus backprop's own. The
training itself (options and their checks, scaling, the epochs) is the library's: each fit builds a network
file's network and calls Network.fit with the matching options, so a bad option raises the library's
ValueError naming it ("clip_grad_norm: expected a positive number, got -1").

Differences from scikit-learn's MLP, on purpose:
- max_iter epochs always run (there is no `tol`); early_stopping=True stops after n_iter_no_change epochs
  without a better validation loss and keeps the best parameters.
- solver 'sgd' is plain SGD; scikit-learn's default SGD (momentum 0.9, Nesterov) is solver='nesterov'.
- alpha is scikit-learn's L2 penalty, passed as the optimizer's weight_decay = alpha / batch_size (the
  gradient of scikit-learn's penalty term, averaged over a batch); the library applies it to the biases too.
- scale='standard' (default) standardizes the features inside the model (fitted on the training rows),
  so a Pipeline with a StandardScaler in front is not needed (and does no harm).
- A pandas DataFrame with text or `category` columns or missing cells is a table as it comes
  (docs/tables.md): the library infers the recipe from the training rows as `backprop train --data T.csv`
  does (numeric columns' missing cells the median and an indicator, categories one-hot, identifier and
  constant columns left out), so no ColumnTransformer is needed; network_ keeps the recipe, predict takes
  raw DataFrames (columns matched by name, a category never seen counted in a warning) and network_.save
  writes the command's model file. categorical=[names] reads integer codes as categories (--categorical).
"""
import json
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (_check_sample_weight, check_array, check_is_fitted, check_random_state,
                                      column_or_1d)

from ._backprop import ACTIVATIONS, Network, _frame_needs_table, set_threads, table_inputs, training_settings

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names and backprop's, to the network file's: every element-wise activation
# (softmax is the classifier's output's own), and scikit-learn's 'logistic' for sigmoid.
_ACTIVATIONS = {"logistic": "sigmoid", **{name: name for name in ACTIVATIONS if name != "softmax"}}
_MOMENTUM_SOLVERS = ("momentum", "nesterov")
# scikit-learn's names of Adam's coefficients and the library's settings, each passed to the solvers that read it
# (the library's table says which; it refuses a coefficient with a rule that does not read it).
_ADAM_COEFFICIENTS = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "epsilon"}
_SOLVERS_READING = {s["key"]: s["optimizers"] for s in training_settings() if s["optimizers"] is not None}

# Why three of scikit-learn's checks are declared rather than passed (the "_xfail_checks" tag, which
# check_estimator reports as a SkipTestWarning): a row's prediction is computed in float32 by matrix
# products whose blocking depends on the number of rows in the batch, so the same row predicted inside a
# different batch may differ in its last bit (relative 1e-7), which is what these checks compare, at 1e-7.
_BATCH_DEPENDENT_CHECKS = {
    "check_methods_subset_invariance":
        "float32 matrix products: a row's outputs may differ in the last bit with the batch around it",
    "check_methods_sample_order_invariance":
        "float32 matrix products: a row's outputs may differ in the last bit with the batch around it",
    # And a third, as scikit-learn's own SGD estimators declare it: a row of weight 0 adds nothing to the
    # loss, but it still takes a place in the shuffled mini-batches, which then differ from those without it.
    "check_sample_weights_invariance":
        "zero sample_weight is not equivalent to removing the sample: the mini-batches differ",
}


def _validate_data(estimator, X, y="no_validation", reset=True, **check_params):
    """scikit-learn's own input checks (check_array / check_X_y, n_features_in_, feature_names_in_), so that
    its messages and warnings are the ones its estimator checks expect; X comes back float32, C order, but a
    uint8 array stays uint8: backprop reads uint8 as value / 255 everywhere (as its IDX and NPY files), and a
    network trained on it records that (network_.save keeps it).
    y: "no_validation" (predict) or the targets, None included (fit then says that y is required)."""
    dtype = np.uint8 if isinstance(X, np.ndarray) and X.dtype == np.uint8 else np.float32
    check_params = dict(check_params, dtype=dtype, order="C")
    try:  # scikit-learn >= 1.6
        from sklearn.utils.validation import validate_data
    except ImportError:
        return estimator._validate_data(X, y, reset=reset, **check_params)
    return validate_data(estimator, X, y, reset=reset, **check_params)


class _BaseMLP(BaseEstimator):
    """The parameters and the training shared by MLPClassifier and MLPRegressor (see the module's help)."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, momentum=0.9, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, random_state=None,
                 scale="standard", dropout=0.0, schedule="constant", warmup=0, clip_grad_norm=None, threads=None,
                 device=None, checkpoint=None, checkpoint_every=None, resume=None, report=None, batch_norm=False,
                 categorical=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.categorical = categorical
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.scale = scale
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.schedule = schedule
        self.warmup = warmup
        self.clip_grad_norm = clip_grad_norm
        self.threads = threads
        self.device = device
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.report = report

    # ---- what the two estimators define ----
    # _output_layer(): (units, activation, loss) of the last layer; _targets(y): y as Network.fit takes it;
    # _loss_options(): Network.fit's options of the loss (the classifier's label_smoothing).

    def _loss_options(self):
        return {}

    def _more_tags(self):
        return {"_xfail_checks": _BATCH_DEPENDENT_CHECKS}

    # ---- tables as they come ----

    def _categorical(self):
        return None if self.categorical is None else [str(name) for name in self.categorical]

    def _table_X(self, X, first):
        """A DataFrame that the library reads as a table (text, category or missing cells, or `categorical`),
        kept as it is, or None for X to go through scikit-learn's checks. A network fitted on a table reads
        every DataFrame by its recipe and refuses anything else."""
        fitted_on_table = not first and getattr(self, "_table", False)
        if first and self.categorical is not None and not (hasattr(X, "columns") and hasattr(X, "iloc")):
            raise ValueError(f"categorical: expected a pandas DataFrame X (its columns named), got {type(X).__name__}")
        if not fitted_on_table and not (first and _frame_needs_table(X, self.categorical is not None)):
            return None
        if not (hasattr(X, "columns") and hasattr(X, "iloc")):
            raise ValueError("X: expected a pandas DataFrame: the estimator was fitted on a table (its columns "
                             "are matched by name)")
        if first:
            self._table = True
            self.n_features_in_ = X.shape[1]
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return X

    # ---- the network and its training ----

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(s, numbers.Integral) and s >= 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes: expected positive whole numbers, got {self.hidden_layer_sizes!r}")
        return [int(s) for s in sizes]

    def _new_network(self, n_features, seed):
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {', '.join(_ACTIVATIONS)}, got {self.activation!r}")
        hidden = []
        for size in self._hidden_sizes():
            hidden.append({"units": size, "activation": _ACTIVATIONS[self.activation]})
            if self.batch_norm:  # torch's BatchNorm1d of each hidden layer's output
                hidden.append({"type": "batch_norm"})
        units, activation, loss = self._output_layer()
        spec = {"input": int(n_features), "layers": hidden + [{"units": units, "activation": activation}],
                "loss": loss, "seed": int(seed)}
        return Network.from_json(json.dumps(spec))

    def _batch_size(self, rows):
        if self.batch_size == "auto":
            return min(200, rows)
        if not isinstance(self.batch_size, numbers.Integral) or not 1 <= self.batch_size <= rows:
            if isinstance(self.batch_size, numbers.Integral) and self.batch_size > rows:
                warnings.warn(f"batch_size {self.batch_size} is larger than the {rows} rows: clipped to {rows}")
                return rows
            raise ValueError(f"batch_size: expected 'auto' or a whole number >= 1, got {self.batch_size!r}")
        return int(self.batch_size)

    def _fit_options(self, rows, epochs, seed, first):
        """Network.fit's keyword arguments for `epochs` epochs; `first`: the network's first training (the
        scaling is fitted then and kept by later partial_fit calls)."""
        batch_size = self._batch_size(rows)
        options = {"epochs": int(epochs), "batch_size": batch_size, "optimizer": self.solver,
                   "learning_rate": float(self.learning_rate_init), "weight_decay": float(self.alpha) / batch_size,
                   "schedule": self.schedule, "warmup": int(self.warmup), "dropout": float(self.dropout),
                   "seed": int(seed), "device": "" if self.device is None else self.device}
        if self.solver in _MOMENTUM_SOLVERS:
            options["momentum"] = float(self.momentum)
        for parameter, key in _ADAM_COEFFICIENTS.items():
            if self.solver in _SOLVERS_READING[key]:
                options[key] = float(getattr(self, parameter))
        if self.clip_grad_norm is not None:
            options["clip_grad_norm"] = float(self.clip_grad_norm)
        options.update(self._loss_options())
        if first:
            options["scale"] = self.scale
        if self.early_stopping and epochs > 1:
            options["validation_split"] = float(self.validation_fraction)
            options["early_stopping"] = int(self.n_iter_no_change)
        else:
            options["validation_split"] = 0.0
            options["early_stopping"] = 0
        return options

    def _run_files(self):
        """Network.fit's checkpoint, checkpoint_every, resume and report: fit's (a whole run), not partial_fit's."""
        names = ("checkpoint", "checkpoint_every", "resume", "report")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def _train(self, X, targets, epochs, first, sample_weight=None, files=None):
        if self.threads is not None:
            set_threads(int(self.threads))  # the process's matrix-product threads (ValueError outside 1..1024)
        table = getattr(self, "_table", False)
        if first:
            self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            inputs = len(table_inputs(X, categorical=self._categorical())) if table else X.shape[1]
            self.network_ = self._new_network(inputs, self._seed)
            self.loss_curve_ = []
            self.validation_loss_curve_ = [] if self.early_stopping else None
            self.n_iter_ = 0
        # Each call shuffles differently but reproducibly: the seed moves on with the epochs done.
        options = self._fit_options(len(X), epochs, self._seed + self.n_iter_, first)
        if sample_weight is not None:
            options["sample_weight"] = _check_sample_weight(sample_weight, X, dtype=np.float32)
        options.update(files or {})
        if table and first and self.categorical is not None:
            options["categorical"] = self._categorical()
        history = self.network_.fit(X, targets, **options)
        self.loss_curve_ += [epoch["loss"] for epoch in history]
        if self.validation_loss_curve_ is not None:
            self.validation_loss_curve_ += [epoch.get("validation_loss") for epoch in history]
        self.n_iter_ += len(history)
        return self

    def _network_output(self, X):
        check_is_fitted(self, "network_")
        table = self._table_X(X, first=False)
        X = _validate_data(self, X, reset=False) if table is None else table
        return self.network_.predict(X).astype(np.float64)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier trained by backprop: hidden layers of `activation`, a softmax output
    over the classes, softmax cross-entropy loss.

    Parameters (scikit-learn's MLPClassifier's where the meaning is the same; see the module's help):
      hidden_layer_sizes  tuple of hidden layer widths, default (100,)
      activation          'relu' (default), 'logistic' (= 'sigmoid'), or any name of backprop.ACTIVATIONS but
                          'softmax': 'identity', 'tanh', 'leaky_relu', 'silu', ...
      solver              'adam' (default), 'adamw', 'rmsprop', 'sgd' (plain), 'momentum', 'nesterov'
      alpha               L2 penalty (weight_decay = alpha / batch_size), default 1e-4
      batch_size          'auto' (min(200, rows)) or a number of rows
      learning_rate_init  the optimizer's learning rate, default 1e-3
      max_iter            epochs, default 200
      momentum            for solver 'momentum' and 'nesterov', default 0.9
      beta_1, beta_2      for solver 'adam' and 'adamw': decay of the gradient's and the squared gradient's
                          running means, in [0, 1), default 0.9 and 0.999 (torch's betas)
      epsilon             for solver 'adam', 'adamw' and 'rmsprop': added to the root of the second moment,
                          > 0, default 1e-8 (torch's eps)
      early_stopping, validation_fraction, n_iter_no_change
                          hold out that fraction of the rows; stop after that many epochs without a better
                          validation loss, keeping the best parameters
      random_state        None, an int or a RandomState: initialization, shuffling, dropout, split
    backprop's own:
      scale               feature scaling inside the model: 'standard' (default), 'minmax', 'none'
      dropout             dropout rate of the hidden layers in training, default 0
      batch_norm          True: a batch_norm entry (torch's BatchNorm1d) after each hidden layer, default False
      schedule, warmup    learning rate schedule 'constant' (default), 'step', 'cosine', 'one_cycle'; warm-up steps
      clip_grad_norm      clip the gradient's norm to this (None: off)
      threads             threads of the matrix products (process-wide, backprop.set_threads); None: as set
      device              'cpu', 'cuda'; None: $BACKPROP_DEVICE, else the GPU when there is one
      checkpoint, checkpoint_every, resume, report
                          fit's files, as `backprop train`'s flags: save the training state to `checkpoint`
                          between epochs and every checkpoint_every steps; continue an interrupted fit from
                          `resume` (the same parameters and data: bit-identical to the uninterrupted fit;
                          random_state must be an int); write the HTML training report to `report`.
                          partial_fit does not use them
      label_smoothing     train against (1 - eps) one-hot + eps / classes, in [0, 1), default 0 (off): as
                          torch.nn.CrossEntropyLoss(label_smoothing=eps); loss_curve_ and validation_loss_curve_
                          are then that smoothed loss, network_.evaluate the plain cross-entropy
      class_weight        None (default), 'balanced' (n / (classes x the class's rows)) or {label: weight}:
                          each class's weight in the loss, torch.nn.CrossEntropyLoss(weight=); fit(X, y,
                          sample_weight=) weighs the rows too (the weighted mean: sum w l / sum w)
      threshold           two classes: the decision threshold on the second class's probability that predict
                          uses: 'f1' or 'youden' (the one that maximises F1 or Youden's J on the validation rows:
                          needs early_stopping=True), a probability, or None (default: the most probable class).
                          Kept by network_ (network_.threshold, its model file); partial_fit drops it

    Attributes after fit: classes_, n_features_in_ (feature_names_in_ for a DataFrame), network_ (the
    backprop.Network), loss_curve_ (training loss per epoch), validation_loss_curve_ (with early_stopping),
    n_iter_ (epochs run).
    """

    # scikit-learn's estimators list every parameter in their own __init__ (get_params reads its signature):
    # the shared ones as _BaseMLP's, and label_smoothing, which only the classifier's loss has.
    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, momentum=0.9, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, random_state=None,
                 scale="standard", dropout=0.0, schedule="constant", warmup=0, clip_grad_norm=None, threads=None,
                 device=None, checkpoint=None, checkpoint_every=None, resume=None, report=None, batch_norm=False,
                 categorical=None,
                 label_smoothing=0.0, class_weight=None, threshold=None):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate_init=learning_rate_init, max_iter=max_iter, momentum=momentum,
                         beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, random_state=random_state, scale=scale,
                         dropout=dropout, schedule=schedule, warmup=warmup, clip_grad_norm=clip_grad_norm,
                         threads=threads, device=device, checkpoint=checkpoint,
                         checkpoint_every=checkpoint_every, resume=resume, report=report,
                         batch_norm=batch_norm, categorical=categorical)
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.threshold = threshold

    def _loss_options(self):
        options = {"label_smoothing": float(self.label_smoothing)}
        if self.class_weight is None or isinstance(self.class_weight, str):
            options["class_weight"] = "none" if self.class_weight is None else self.class_weight
        else:  # {label: weight}: the network names its classes by their index in classes_
            unknown = [label for label in self.class_weight if label not in self.classes_]
            if unknown:
                raise ValueError(f"class_weight: labels not among the classes {list(self.classes_)}: {unknown}")
            options["class_weight"] = {str(int(np.searchsorted(self.classes_, label))): float(weight)
                                       for label, weight in self.class_weight.items()}
        return options

    def _output_layer(self):
        return len(self.classes_), "softmax", "softmax_ce"

    def _rows(self, X, y, first):
        """X and y checked: X as scikit-learn checks it, or a table kept as it is (y then checked alone)."""
        if first:
            self._table = False
        table = self._table_X(X, first)
        if table is None:
            return _validate_data(self, X, y, reset=first)
        return table, column_or_1d(check_array(y, ensure_2d=False, dtype=None), warn=True)

    def _class_indices(self, y):
        indices = np.searchsorted(self.classes_, y)
        indices = np.minimum(indices, len(self.classes_) - 1)
        unknown = self.classes_[indices] != y
        if np.any(unknown):
            raise ValueError(f"y: labels not among the classes {list(self.classes_)}: {sorted(set(y[unknown]))}")
        return indices.astype(np.int64)

    def fit(self, X, y, sample_weight=None):
        """Train a new network on X (rows, features: any numeric array-like) and y (one label per row:
        numbers or strings; classes_ keeps them); sample_weight: each row's weight in the loss (>= 0).
        Returns self. A DataFrame with text or category columns or missing cells is read as a table as it comes
        (see the module's help)."""
        X, y = self._rows(X, y, first=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs at least 2 classes to train; got 1 class ({self.classes_[0]!r})")
        if self.threshold is not None and len(self.classes_) != 2:
            raise ValueError(f"threshold: expected two classes (the threshold is on the second's probability), "
                             f"got {len(self.classes_)}")
        files = self._run_files()
        if self.threshold is not None:  # kept by network_ (and its model file); picked after training
            files["threshold"] = self.threshold
        return self._train(X, self._class_indices(y), self.max_iter, first=True, sample_weight=sample_weight,
                           files=files)

    def partial_fit(self, X, y, classes=None):
        """One epoch over X and y, from the parameters so far; the first call needs `classes` (every label
        that y may hold) and fits the scaling. Returns self."""
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            # As scikit-learn's SGDClassifier: the balance of one call's rows is not the data's.
            raise ValueError("class_weight 'balanced' is not supported for partial_fit: give the weights as "
                             "{label: weight}, e.g. from sklearn.utils.class_weight.compute_class_weight")
        first = not hasattr(self, "network_")
        X, y = self._rows(X, y, first=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("classes: expected every class label on the first call to partial_fit, got None")
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError(f"classes: expected at least 2 classes, got {list(self.classes_)}")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes: expected {list(self.classes_)} as on the first call, got {list(classes)}")
        return self._train(X, self._class_indices(y), 1, first=first)

    def predict_proba(self, X):
        """(rows, classes) probabilities, columns in the order of classes_."""
        return self._network_output(X)

    def predict(self, X):
        """The class label of each row: the second class where its probability is at least the kept threshold
        (network_.threshold, from the threshold parameter), else the most probable class."""
        probabilities = self.predict_proba(X)  # first: it raises NotFittedError before fit
        threshold = self.network_.threshold
        if threshold is not None:  # the rule of backprop's predict_classes and `backprop predict`
            return self.classes_[(probabilities[:, -1] >= threshold).astype(np.intp)]
        return self.classes_[np.argmax(probabilities, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor trained by backprop: hidden layers of `activation`, an identity
    output per target, mean squared error loss (1/2 mean of squares, as scikit-learn's loss_curve_).

    Parameters and attributes: as MLPClassifier's (help(MLPClassifier)), without classes_; y is (rows,) or
    (rows, targets) numbers, and predict gives the same shape ((rows,) for one target).
    """

    def _output_layer(self):
        return self.n_outputs_, "identity", "mse"

    def _more_tags(self):
        return dict(super()._more_tags(), multioutput=True)

    def _regression_targets(self, X, y, reset):
        if reset:
            self._table = False
        table = self._table_X(X, reset)
        if table is None:
            X, y = _validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True)
        else:
            X, y = table, check_array(y, ensure_2d=False, dtype=np.float64)
        y = np.asarray(y, dtype=np.float32)
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y)

    def fit(self, X, y, sample_weight=None):
        """Train a new network on X (rows, features) and y (rows,) or (rows, targets); sample_weight: each
        row's weight in the loss (>= 0; 1/(2N) sum w (a - y)^2). Returns self."""
        X, y = self._regression_targets(X, y, reset=True)
        self.n_outputs_ = y.shape[1]
        return self._train(X, y, self.max_iter, first=True, sample_weight=sample_weight, files=self._run_files())

    def partial_fit(self, X, y):
        """One epoch over X and y, from the parameters so far (the first call fits the scaling). Returns self."""
        first = not hasattr(self, "network_")
        X, y = self._regression_targets(X, y, reset=first)
        if first:
            self.n_outputs_ = y.shape[1]
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(f"y: expected {self.n_outputs_} target(s) per row as on the first call, got {y.shape[1]}")
        return self._train(X, y, 1, first=first)

    def predict(self, X):
        """(rows,) predictions for one target, (rows, targets) for several."""
        out = self._network_output(X)
        return out.ravel() if out.shape[1] == 1 else out
