"""Tables as they come through Python (docs/tables.md): a pandas DataFrame with text, `category` columns and
missing cells given to Network.for_table / Network.fit and to the scikit-learn estimators is read by the
library's table code (the command's inference and encoding, data/table.hpp), and the model keeps the recipe.

The reference is the command itself: the same CSV trained by `backprop train --data T.csv` and the same
DataFrame (pandas.read_csv of that file) trained through Python, with the same seed and settings, give the
same model file byte for byte, and `backprop predict` on the CSV gives the estimator's probabilities (printed
with 9 significant digits: compared at 1e-6 relative)."""
import os
import pickle
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

import backprop
from backprop.sklearn import MLPClassifier, MLPRegressor

COMMAND = os.environ.get("BACKPROP_COMMAND", "backprop")
COLORS = ["red", "green", "blue"]


def table(rows=90):
    """color (text, a few blank), income (whole numbers, some missing), x (fractions), id (distinct), label."""
    frame = {"id": [], "color": [], "income": [], "x": [], "label": []}
    for i in range(rows):
        x = (i * 37 % 100) / 100.0
        frame["id"].append(1000 + i)
        frame["color"].append(None if i % 11 == 5 else COLORS[i % 3])
        frame["income"].append(None if i % 7 == 0 else 40 + i % 17)
        frame["x"].append(x)
        frame["label"].append("yes" if (i % 3 == 0) != (x > 0.5) else "no")
    return pd.DataFrame(frame)


def write_csv(frame, path):
    frame.to_csv(path, index=False)  # None as an empty cell, whole numbers with missing ones as 45.0
    return path


def test_network_for_table_trains_the_commands_model_byte_for_byte(tmp_path):
    csv = write_csv(table(), tmp_path / "t.csv")
    subprocess.run([COMMAND, "train", "--data", str(csv), "--target", "label", "--epochs", "7", "--seed", "5", "--quiet",
                    "--out", str(tmp_path / "a.model")], check=True)
    frame = pd.read_csv(csv)
    X, y = frame.drop(columns="label"), frame["label"]
    net = backprop.Network.for_table(X, y, seed=5)  # --seed: the initialization's seed too
    assert net.table is not None and "identifier" in net.table  # id: every value distinct
    net.fit(X, y, epochs=7, seed=5)
    net.save(tmp_path / "b.model")
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "b.model").read_bytes()
    assert net.classes == ["no", "yes"]
    assert "color=red" in net.features and "income (missing)" in net.features


def test_a_regression_table_folds_its_standardized_targets_back_as_the_command(tmp_path):
    frame = table()
    frame["salary"] = 50000 + 2000 * frame["x"] + np.where(frame["color"] == "red", 5000.0, 0.0)
    frame = frame.drop(columns="label")
    csv = write_csv(frame, tmp_path / "r.csv")
    subprocess.run([COMMAND, "train", "--data", str(csv), "--target", "salary", "--epochs", "5", "--seed", "2", "--quiet",
                    "--out", str(tmp_path / "a.model")], check=True)
    frame = pd.read_csv(csv)
    X, y = frame.drop(columns="salary"), frame["salary"]
    net = backprop.Network.for_table(X, y, seed=2)
    assert net.task == "regression"
    net.fit(X, y, epochs=5, seed=2)
    net.save(tmp_path / "b.model")
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "b.model").read_bytes()


def test_the_estimator_takes_raw_dataframes_and_predicts_as_the_command_on_the_csv(tmp_path):
    frame = table(150)
    frame["color"] = frame["color"].astype("category")
    X, y = frame.drop(columns="label"), frame["label"]
    model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=150, batch_size=16, learning_rate_init=0.01,
                          random_state=0).fit(X, y)
    assert list(model.classes_) == ["no", "yes"]
    assert model.n_features_in_ == 4 and list(model.feature_names_in_) == ["id", "color", "income", "x"]
    assert "color=red" in model.network_.features and "id" not in model.network_.features
    # Columns in another order and one more: matched by name, the extra one left out with a warning.
    moved = X[["x", "income", "color", "id"]].assign(extra=1.0)
    with pytest.warns(UserWarning, match="extra"):
        moved_p = model.predict_proba(moved)
    p = model.predict_proba(X)
    np.testing.assert_array_equal(p, moved_p)
    assert model.score(X, y) > 0.8  # the rule (color red xor x > 0.5) is learnable from these inputs
    # The saved model on the CSV of the same rows, through the command: the same probabilities.
    model.network_.save(tmp_path / "m.model")
    csv = write_csv(X.astype({"color": object}), tmp_path / "x.csv")
    subprocess.run([COMMAND, "predict", str(tmp_path / "m.model"), "--data", str(csv), "--out", str(tmp_path / "p.csv")],
                   check=True, capture_output=True)
    printed = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(printed[["p_0", "p_1"]].to_numpy(), p, rtol=1e-6, atol=1e-7)


def test_an_unseen_category_is_counted_not_an_error():
    frame = table(60)
    X, y = frame.drop(columns="label"), frame["label"]
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=1).fit(X, y)
    new = X.head(4).copy()
    new["color"] = ["purple", "red", "purple", "blue"]
    with pytest.warns(UserWarning, match="2 cell"):
        assert model.predict(new).shape == (4,)


def test_integer_codes_stay_numeric_unless_named_categorical():
    frame = table(60)
    frame["code"] = [i % 4 for i in range(60)]
    X, y = frame.drop(columns="label"), frame["label"]
    plain = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    assert "code" in plain.network_.features
    coded = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0, categorical=["code"]).fit(X, y)
    assert [f for f in coded.network_.features if f.startswith("code")] == ["code=0", "code=1", "code=2", "code=3"]
    assert backprop.table_inputs(X, categorical=["code"]) == coded.network_.features


def test_the_regressor_takes_a_table_and_predicts_in_the_datas_units():
    frame = table(120)
    y = 50000 + 2000 * frame["x"] + np.where(frame["color"] == "red", 5000.0, 0.0)
    X = frame.drop(columns="label")
    model = MLPRegressor(hidden_layer_sizes=(16,), max_iter=60, random_state=0).fit(X, y)
    predicted = model.predict(X)
    assert predicted.shape == (120,)
    # Trained on standardized targets and folded back: predictions near the data's 5e4, not near 0.
    assert abs(predicted.mean() - y.mean()) < 0.05 * y.mean()
    assert model.score(X, y) > 0.5


def test_network_fit_infers_the_recipe_for_a_network_of_its_width():
    frame = table(60)
    X, y = frame.drop(columns="label"), frame["label"]
    inputs = backprop.table_inputs(X)
    # By count: red 19, blue 18, green 18 (five blank cells at i % 11 == 5), ties by text; id left out.
    assert inputs == ["color=red", "color=blue", "color=green", "color (missing)", "income", "income (missing)", "x"]
    wrong = backprop.Network.from_json('{"input": 3, "layers": [{"units": 2, "activation": "softmax"}], "loss": "softmax_ce"}')
    with pytest.raises(ValueError, match="network's 3 inputs, got 7"):
        wrong.fit(X, y, epochs=1)
    net = backprop.Network.from_json('{"input": 7, "layers": [{"units": 2, "activation": "softmax"}], "loss": "softmax_ce"}')
    net.fit(X, y, epochs=2)
    assert net.features == inputs and net.classes == ["no", "yes"]
    assert net.evaluate(X, y)["rows"] == 60
    # A text cell in a numeric column: ValueError naming the row and the column.
    bad = X.head(3).astype({"income": object})
    bad.iloc[1, bad.columns.get_loc("income")] = "lots"
    with pytest.raises(ValueError, match="X: row 1, column 3: expected a number in column 3 \\(income\\)"):
        net.predict(bad)


def test_numeric_arrays_and_numeric_dataframes_are_read_as_before():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    a = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(pd.DataFrame(X, columns=list("abc")), y)
    assert a.network_.table is None and b.network_.table is None
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(pd.DataFrame(X, columns=list("abc"))))
    with pytest.raises(ValueError):
        a.predict(np.where(X > 1, np.nan, X))  # NaN in an array is still refused


def test_a_fitted_table_estimator_pickles_with_its_recipe_and_refuses_arrays():
    frame = table(60)
    X, y = frame.drop(columns="label"), frame["label"]
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=2).fit(X, y)
    back = pickle.loads(pickle.dumps(model))
    assert back.network_.table == model.network_.table
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match="expected a pandas DataFrame"):
        model.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="categorical: expected a pandas DataFrame"):
        MLPClassifier(categorical=["a"]).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    net = backprop.Network.from_json('{"input": 2, "layers": [{"units": 2, "activation": "softmax"}], "loss": "softmax_ce"}')
    with pytest.raises(ValueError, match="categorical: expected a pandas DataFrame"):
        net.fit(np.zeros((4, 2), dtype=np.float32), np.array([0, 1, 0, 1]), categorical=["a"])


def test_pandas_own_dtypes_are_read_as_their_values():
    frame = table(60)
    X = frame.drop(columns="label").astype({"color": "string", "income": "Int64"})
    y = frame["label"]
    expected = backprop.table_inputs(frame.drop(columns="label"))
    assert backprop.table_inputs(X) == expected
    net = backprop.Network.for_table(X, y, seed=1)
    plain = backprop.Network.for_table(frame.drop(columns="label"), y, seed=1)
    net.fit(X, y, epochs=2)
    plain.fit(frame.drop(columns="label"), y, epochs=2)
    np.testing.assert_array_equal(net.predict(X), plain.predict(frame.drop(columns="label")))


def test_partial_fit_infers_the_recipe_on_the_first_call_and_reads_later_ones_by_it():
    frame = table(90)
    X, y = frame.drop(columns="label"), frame["label"]
    model = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    model.partial_fit(X.iloc[:45], y.iloc[:45], classes=["no", "yes"])
    recipe = model.network_.table
    later = X.iloc[45:].copy()
    later.loc[later.index[0], "color"] = "purple"  # unseen: counted, not an error
    with pytest.warns(UserWarning, match="never saw"):
        model.partial_fit(later, y.iloc[45:])
    assert model.network_.table == recipe and model.n_iter_ == 2
    assert model.predict(X).shape == (90,)


def test_numeric_columns_read_as_numbers_make_the_model_their_text_makes():
    """Numeric columns travel as numbers (TableCells::numbers), not as text: the reference is the text path,
    the same frame with every column of object dtype (each number written as its shortest decimal, the CSV's
    reading, checked against the command above). Cells chosen where the two could part: a float column with
    -999 listed as missing, an integer column read as categories (named '3', not '3.0'), a float32 column,
    an integer column with -999 and a float column with an infinity (read as text: a column of categories)."""
    rows = 60
    i = np.arange(rows)
    frame = pd.DataFrame({
        "x": np.where(i % 9 == 4, -999.0, (i * 37 % 100) / 7.0),
        "code": (i % 4) * 3,
        "f32": ((i * 13 % 50) / 3.0).astype(np.float32),
        "count": np.where(i % 10 == 3, -999, i * i),
        "wild": np.where(i % 15 == 1, np.inf, np.where(i % 2 == 0, 0.5, 1.25)),
        "y": np.where((i * 37 % 100) > 45, "hi", "lo"),
    })
    as_text = frame.astype(object)
    assert (as_text.dtypes == object).all()

    def model_bytes(data):
        X, y = data.drop(columns="y"), data["y"]
        net = backprop.Network.for_table(X, y, categorical=["code"], missing_values=["-999", ""], seed=3)
        net.fit(X, y, epochs=2, seed=3)
        return net, net.to_bytes()

    numbers, numbers_bytes = model_bytes(frame)
    text, text_bytes = model_bytes(as_text)
    assert numbers.table == text.table and numbers.features == text.features
    assert numbers_bytes == text_bytes
    for name in ["x (missing)", "code=3", "count (missing)", "wild=inf", "wild=0.5"]:
        assert name in numbers.features, name
    assert backprop.table_inputs(frame.drop(columns="y")) == backprop.table_inputs(as_text.drop(columns="y"))


def test_cv_reads_a_tables_sample_weight_column_as_weights_in_every_fold(tmp_path):
    """`backprop cv --sample-weight w` on a raw table: the column is no input of any fold's model, and it weighs
    the loss as a weighted mean (each row's share w / sum(w)): doubling every weight changes no bit (a power of
    two scales the products and their sum exactly), while other weights give other models."""
    frame = table().drop(columns="id")
    frame["w"] = [1.0 + (i % 4) for i in range(len(frame))]

    def fold_models(weights, name):
        data = frame.assign(w=weights)
        csv = write_csv(data, tmp_path / (name + ".csv"))
        folder = tmp_path / name
        subprocess.run([COMMAND, "cv", "--data", str(csv), "--target", "label", "--sample-weight", "w", "--folds",
                        "3", "--epochs", "4", "--seed", "3", "--quiet", "--out-dir", str(folder)], check=True)
        paths = sorted(folder.iterdir())
        assert len(paths) == 3, paths
        return [p.read_bytes() for p in paths], [backprop.load(p).features for p in paths]

    models, features = fold_models(frame["w"], "weighted")
    doubled, _ = fold_models(2 * frame["w"], "doubled")
    even, _ = fold_models(np.ones(len(frame)), "even")
    for names in features:
        assert "color=red" in names and not any(n == "w" or n.startswith("w ") for n in names), names
    assert models == doubled
    assert all(a != b for a, b in zip(models, even))


def grouped(rows=400, groups=50):
    """g: `groups` text values of rows / groups rows each (more than 30: embedded by default), x, y."""
    g = ["g%d" % (i % groups) for i in range(rows)]
    x = [(i * 37 % 100) / 100.0 for i in range(rows)]
    y = [(7 * (i % groups)) % 11 - 5 + xi for i, xi in enumerate(x)]
    return pd.DataFrame({"g": g, "x": x, "y": y})


@pytest.mark.parametrize("choice", [None, "embedding", "pool"])
def test_many_categories_train_the_commands_model_byte_for_byte(tmp_path, choice):
    csv = write_csv(grouped(), tmp_path / "g.csv")
    flags = [] if choice is None else ["--many-categories", choice]
    subprocess.run([COMMAND, "train", "--data", str(csv), "--target", "y", "--epochs", "4", "--seed", "7", "--quiet",
                    "--out", str(tmp_path / "a.model")] + flags, check=True)
    frame = pd.read_csv(csv)
    X, y = frame.drop(columns="y"), frame["y"]
    keywords = {} if choice is None else {"many_categories": choice}
    net = backprop.Network.for_table(X, y, seed=7, **keywords)
    embedded = choice != "pool"  # the default embeds a column of more than 30 values
    assert ("an embedding of" in net.table) == embedded
    assert net.features == (["g (code)", "x"] if embedded else net.features)
    net.fit(X, y, epochs=4, seed=7)
    net.save(tmp_path / "b.model")
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "b.model").read_bytes()
    new = X.head(3).copy()
    new["g"] = ["g1", "nobody", "g2"]
    if embedded:  # an unseen value reads as the unknown code, counted
        with pytest.warns(UserWarning, match="1 cell"):
            assert net.predict(new).shape == (3, 1)


def test_many_categories_refuses_a_choice_it_does_not_know():
    frame = grouped()
    with pytest.raises(ValueError, match="many_categories: expected pool or embedding"):
        backprop.Network.for_table(frame.drop(columns="y"), frame["y"], many_categories="onehot")


def test_validation_split_0_turns_for_tables_early_stopping_off_as_the_command_does(tmp_path):
    # One rule in the library (stop_early_only_with_validation): without validation rows there is nothing to stop
    # on, so the default's early stopping is off unless early_stopping is given, in the command and in Python.
    csv = write_csv(table(), tmp_path / "t.csv")
    subprocess.run([COMMAND, "train", "--data", str(csv), "--target", "label", "--epochs", "30", "--seed", "4",
                    "--validation-split", "0", "--quiet", "--out", str(tmp_path / "a.model")], check=True)
    frame = pd.read_csv(csv)
    X, y = frame.drop(columns="label"), frame["label"]
    net = backprop.Network.for_table(X, y, seed=4)
    history = net.fit(X, y, epochs=30, seed=4, validation_split=0)
    assert len(history) == 30  # every epoch: no early stopping on rows that are not there
    net.save(tmp_path / "b.model")
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "b.model").read_bytes()


def test_for_table_then_fit_reads_the_table_once_and_again_only_when_the_cells_changed(tmp_path):
    """Network.for_table keeps the rows it read for its first fit on the same cells: that fit trains on them as
    the command does (one reading: the values seen once in an embedded column are the unknown code of its own
    training rows, not "never seen", so no warning; read again, they were counted as unseen). X changed in place
    in between is read again: the same model as a network fitted on the changed cells."""
    rows = 300
    X = pd.DataFrame({"g": ["g%d" % (i % 50) if i < 250 else "u%d" % i for i in range(rows)], "x": [(i * 37 % 100) / 100.0 for i in range(rows)]})
    y = pd.Series(["a" if (i * 31) % 7 < 3 else "b" for i in range(rows)], name="label")
    assert (X["g"].value_counts() == 1).any()  # values seen once: the embedding's unknown code
    csv = write_csv(X.assign(label=y), tmp_path / "t.csv")
    subprocess.run([COMMAND, "train", "--data", str(csv), "--target", "label", "--epochs", "3", "--seed", "5", "--quiet",
                    "--out", str(tmp_path / "a.model")], check=True)
    net = backprop.Network.for_table(X, y, seed=5)
    assert "an embedding of" in net.table
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no note about categories never seen
        net.fit(X, y, epochs=3, seed=5)
    net.save(tmp_path / "b.model")
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "b.model").read_bytes()

    changed = backprop.Network.for_table(X, y, seed=5)
    X.loc[0, "x"] = 0.999  # after for_table, before fit
    with pytest.warns(UserWarning, match="never saw in training"):  # read again by the recipe
        changed.fit(X, y, epochs=3, seed=5)
    reference = backprop.Network.for_table(X.assign(x=X["x"].where(X.index != 0, (0 * 37 % 100) / 100.0)), y, seed=5)
    with pytest.warns(UserWarning, match="never saw in training"):
        reference.fit(X.copy(), y, epochs=3, seed=5)
    assert changed.to_bytes() == reference.to_bytes()
