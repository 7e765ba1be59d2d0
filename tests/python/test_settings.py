"""The library's table of training settings (train/settings.hpp, backprop.training_settings()) against the
Python side: Network.fit takes each setting's keyword (and no other), the .pyi stub the package ships lists each
with its type, the scikit-learn estimators have the parameter the table names, and the docs' lists of the
command's options name every flag. (The network file, the options' checks, the fingerprint and the command's flags:
tests/test_settings.cpp.)"""
import ast
import json
import pathlib
import re

import numpy as np
import pytest

import backprop
from backprop.sklearn import MLPClassifier, MLPRegressor

ROOT = pathlib.Path(__file__).resolve().parents[2]
SETTINGS = backprop.training_settings()
# Network.fit's keywords that are not training settings: the data's weights and how and where the run goes.
FIT_OWN = {"sample_weight", "verbose", "device", "checkpoint", "checkpoint_every", "resume", "report", "threshold",
           "categorical", "missing_values"}  # the last two: a DataFrame read as a table (docs/tables.md)
# The estimators' parameters that are not one setting's: the network's shape and the run's place.
ESTIMATOR_OWN = {"hidden_layer_sizes", "activation", "batch_norm", "early_stopping", "threads", "device", "checkpoint",
                 "checkpoint_every", "resume", "report", "threshold", "categorical"}
PYTHON_TYPES = {"int": int, "float": float, "bool": lambda text: {"true": True, "false": False}[text], "str": str}


def network(optimizer="momentum"):
    return backprop.Network.from_json(json.dumps({
        "input": 2, "layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "softmax"}],
        "loss": "softmax_ce", "optimizer": {"type": optimizer}, "training": {"epochs": 1}, "seed": 3}))


def optimizer_for(setting):
    """The network's optimizer where the setting applies: an optimizer's coefficient needs a rule that reads it."""
    rules = setting["optimizers"]
    return "momentum" if rules is None or "momentum" in rules else rules[0]


def test_the_table_names_every_setting_once():
    keys = [s["key"] for s in SETTINGS]
    assert len(keys) == len(set(keys)) and len(keys) >= 16
    for s in SETTINGS:
        assert s["flag"] == "--" + s["key"].replace("_", "-")
        assert s["type"] in PYTHON_TYPES and s["help"] and s["file_key"] and s["example"]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s["key"])
def test_fit_takes_each_settings_keyword(setting):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    value = PYTHON_TYPES[setting["type"]](setting["example"])
    keywords = {"validation_split": 0.25, setting["key"]: value}  # early_stopping needs validation rows
    assert network(optimizer_for(setting)).fit(X, y, **keywords)
    # Of its type: another is TypeError naming the keyword.
    wrong = {"int": 1.5, "float": "text", "bool": 1, "str": object()}[setting["type"]]
    with pytest.raises(TypeError, match=f"{setting['key']}: expected"):
        network(optimizer_for(setting)).fit(X, y, **{setting["key"]: wrong})


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s["optimizers"] is not None], ids=lambda s: s["key"])
def test_an_optimizers_keyword_reaches_its_key_and_is_refused_where_unread(setting, tmp_path):
    # The keyword's value is the trained network's "optimizer" key (its JSON model file); a rule that does not
    # read it refuses it (ValueError naming the keyword), as a network file's key is refused.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 2)).astype(np.float32)
    y = (X[:, 1] > 0).astype(np.int64)
    value = PYTHON_TYPES[setting["type"]](setting["example"])
    net = network(setting["optimizers"][0])
    net.fit(X, y, **{setting["key"]: value})
    net.save(str(tmp_path / "net.json"), format="json")
    assert json.loads((tmp_path / "net.json").read_text())["optimizer"][setting["key"]] == value
    for rule in ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"):
        if rule not in setting["optimizers"]:
            with pytest.raises(ValueError, match=f"^{setting['key']}: expected no {setting['key']} with the "
                                                 f"optimizer {rule}, which does not use it"):
                network(rule).fit(X, y, **{setting["key"]: value})


def test_fit_refuses_a_keyword_that_is_not_a_setting():
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        network().fit(np.zeros((4, 2), np.float32), np.zeros(4, np.int64), epoch=3)


def test_the_stub_lists_each_setting_with_its_type():
    # The stub the package ships (the build writes it from python/backprop/_backprop.pyi.in and the settings' list).
    tree = ast.parse(pathlib.Path(backprop.__file__).with_name("_backprop.pyi").read_text())
    network_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Network")
    fit = next(n for n in network_class.body if isinstance(n, ast.FunctionDef) and n.name == "fit")
    annotations = {a.arg: ast.unparse(a.annotation) for a in fit.args.kwonlyargs}
    assert set(annotations) == {s["key"] for s in SETTINGS} | FIT_OWN
    for s in SETTINGS:
        if s["key"] != "class_weight":  # also {label: weight}
            assert annotations[s["key"]] == f"Optional[{s['type']}]", s["key"]


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_the_estimators_have_the_parameter_the_table_names(estimator):
    params = set(estimator().get_params())
    named = {s["sklearn"] for s in SETTINGS if s["sklearn"]}
    classifier_only = {"label_smoothing", "class_weight"}  # the classifier's loss alone has them
    expected = named - (classifier_only if estimator is MLPRegressor else set())
    assert expected <= params
    assert params - named <= ESTIMATOR_OWN


@pytest.mark.parametrize("solver", ["adam", "adamw", "rmsprop", "sgd", "momentum"])
def test_the_estimators_pass_adams_coefficients_to_the_solvers_that_read_them(solver, tmp_path):
    # scikit-learn's beta_1, beta_2, epsilon reach the network's optimizer where the solver reads them (their
    # rules by the table); another solver trains as without them (the library would refuse them).
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    model = MLPClassifier(hidden_layer_sizes=(4,), solver=solver, beta_1=0.8, beta_2=0.99, epsilon=1e-6, max_iter=2,
                          random_state=0).fit(X, y)
    model.network_.save(str(tmp_path / "net.json"), format="json")
    optimizer = json.loads((tmp_path / "net.json").read_text())["optimizer"]
    readers = {s["key"]: s["optimizers"] for s in SETTINGS if s["optimizers"] is not None}
    for key, value in {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}.items():
        assert optimizer.get(key) == (value if solver in readers[key] else None), key
    if solver == "adam":
        with pytest.raises(ValueError, match=r"^beta1: expected a number in \[0, 1\), got 1$"):
            MLPClassifier(hidden_layer_sizes=(4,), beta_1=1.0, max_iter=1).fit(X, y)


def test_the_contracts_list_every_flag_of_train():
    contracts = (ROOT / "docs" / "contracts.md").read_text()
    for s in SETTINGS:
        assert f"`{s['flag']}" in contracts, s["flag"]


def test_the_readmes_list_of_the_recipes_flags_is_the_table():
    # Every flag of the table, in its order (train --help's), and no other: the list says it is every setting's.
    readme = (ROOT / "README.md").read_text()
    sentence = readme[readme.index("every\n  recipe setting has a flag"):]
    sentence = sentence[:sentence.index("The file format and every option")]
    assert re.findall(r"`(--[a-z0-9-]+)`", sentence) == [s["flag"] for s in SETTINGS]


def test_the_trace_loss_choices_are_the_losses_table():
    with pytest.raises(ValueError, match=r"^loss: expected one of mse, bce, softmax_ce, got 'hinge'$"):
        backprop.trace(str(ROOT / "examples" / "seed.json"), input=[1, 2, 3, 4], target=[1], loss="hinge")
