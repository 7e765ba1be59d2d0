// The compiled part of the Python package `backprop` (pybind11; python/backprop/__init__.py re-exports it,
// python/backprop/sklearn.py adds the scikit-learn estimators) over the same library as the command. Network wraps the C++
// high-level API, backprop::Model (model.hpp): the policy (the options and their checks, reading a model,
// preparing the data) is the library's, shared with `backprop train`; this file converts numpy arrays and
// keyword arguments, and prints nothing of its own.
//
//   net = backprop.Network.from_file("examples/xor.json")      # a network file or a model (binary or JSON)
//   history = net.fit(X, y, epochs=20, batch_size=32, optimizer="adam", learning_rate=1e-3,
//                     validation_split=0.1, seed=1, scale="standard")   # list of per-epoch dicts
//   net.fit(X, y, epochs=20, checkpoint="run.ckpt", checkpoint_every=100, resume="run.ckpt", report="run.html")
//   P = net.predict(X)              # (N, K) class probabilities, or (N, OUT) outputs for regression; for one
//                                   # sigmoid output two columns [1 - p, p] (Model::predict: the one column p)
//   net.evaluate(X, y)              # {"loss", "accuracy", "rows", ...} or {"loss", "rmse", "mae", "rows", ...}: the
//                                   # figures of `backprop eval --json` (scikit-learn's names); the loss
//                                   # without the recipe's label smoothing (the plain cross-entropy)
//   net.save("model.bin")           # a model file (scaling and classes included); backprop.load reads it
//   backprop.trace("examples/seed.json", input=[1, 2, 3, 4], target=[1], steps=2, loss="bce")
//
// Arrays: X is (N, IN); a uint8 array is read as value / 255 (as IDX and uint8 NPY files are, and recorded
// in the model trained on it), anything else as float32, C order; a pandas DataFrame given to a network that
// knows its features' names (a model trained on a CSV) has its columns matched by name (by_name); an array already of that type and layout is used
// in place (predict reads it batch by batch without a copy, scaled a batch at a time by the library;
// fit and evaluate copy it once into the library's Dataset, which owns its rows). y is (N,) integer class indices 0..K-1 for a classification
// network (softmax_ce, or bce with one sigmoid output: K = 2), and (N,) or (N, OUT) numbers otherwise.
//
// Errors: backprop::Error of kind bad_input becomes ValueError, runtime (divergence) RuntimeError, with the
// library's message.
//
// Threads: the GIL is released while the library computes (fit, predict, evaluate, save). A Network holds
// its model through a shared pointer to a model that is never changed: every call takes the pointer under
// the GIL and computes on that model, while fit trains a copy and swaps the pointer in, under the GIL, when
// it is done. So predict, evaluate and save run in parallel with each other and with a fit on the same
// Network (they see the model from before the fit, or after it, whole); two fits on one Network run one
// after the other, the second from the first's result.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "backprop/data/columns.hpp"
#include "backprop/train/prepare.hpp"
#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/model.hpp"
#include "backprop/io/trace_render.hpp"
#include "backprop/nn/trace.hpp"
#include "backprop/train/progress.hpp"
#include "backprop/train/settings.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace backprop::python {
namespace {

// float32, C order: taken as is when the caller's array already is; otherwise numpy converts it once.
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IndexArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

std::string shape_text(const py::array& a) {
  std::string text = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    if (d > 0) text += ", ";
    text += std::to_string(a.shape(d));
  }
  text += a.ndim() == 1 ? ",)" : ")";
  return text;
}

// (rows, cols) row-major numbers as a numpy array of that shape (a copy).
template <typename T>
py::array_t<T> array_of(const std::vector<T>& values, std::size_t rows, std::size_t cols) {
  py::array_t<T> out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}
template <typename T>
py::array_t<T> array_of(const std::vector<T>& values) {
  py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

py::dict metrics_dict(const Metrics& m, bool classification, const std::string& prefix) {
  py::dict d;
  d[py::str(prefix + "loss")] = m.loss;
  if (classification) {
    d[py::str(prefix + "accuracy")] = m.accuracy;
  } else {
    d[py::str(prefix + "rmse")] = m.rmse;
    d[py::str(prefix + "mae")] = m.mae;
  }
  return d;
}

// Lets Ctrl-C stop a long fit: every 16 batches it takes the GIL and asks Python for pending signals;
// the KeyboardInterrupt propagates out of train() as py::error_already_set.
class InterruptCheck : public TrainingObserver {
 public:
  void on_batch(int, std::size_t batch, std::size_t batches, double) override {
    if (batch % 16 != 0 && batch != batches) return;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
};

// The training options of fit's keyword arguments: the library checks them (TrainingOptions::validate),
// naming the keyword ("clip_grad_norm: expected a positive number, got 0").
struct FitArguments {
  TrainingOptions options;
  std::vector<float> sample_weight;  // (N) or empty
  RunFiles files;                    // checkpoint, checkpoint_every, resume, report (train/run.hpp)
  std::optional<ThresholdChoice> threshold;  // 'f1', 'youden' or a number (train/threshold.hpp)
  bool verbose = false;
  std::string device;
};

// y as the numbers Model takes, after the checks of its numpy shape and type (the library checks the
// count, the ranges and finiteness): class indices, a 1-D integer array (or (N, 1)), for a classifier;
// (N,) or (N, OUT) numbers otherwise.
std::vector<float> targets_of(const Model& model, std::size_t rows, const py::array& y) {
  const bool labelled_rows = y.ndim() == 1 || (y.ndim() == 2 && y.shape(1) == 1);
  const char kind = y.dtype().kind();
  if (model.task() == TaskKind::classification) {
    if ((kind != 'i' && kind != 'u' && kind != 'b') || !labelled_rows)
      throw_bad_input("y: expected class indices in [0, " + std::to_string(class_count(model.spec())) +
                      ") as a 1-D integer array (the network classifies), got an array of " +
                      std::string(py::str(y.dtype())) + " of shape " + shape_text(y));
    const IndexArray labels = IndexArray::ensure(y);
    return std::vector<float>(labels.data(), labels.data() + labels.size());  // class indices are small
  }
  const int outputs = model.output_size();
  const bool fits = y.ndim() == 2 ? y.shape(1) == outputs : (y.ndim() == 1 && outputs == 1);
  if (!fits || static_cast<std::size_t>(y.shape(0)) != rows)
    throw_bad_input("y: expected targets of shape (" + std::to_string(rows) + ", " + std::to_string(outputs) + ")" +
                    (outputs == 1 ? " or (" + std::to_string(rows) + ",)" : std::string()) +
                    " (one row per row of X, one number per output), got shape " + shape_text(y));
  if (kind != 'f' && kind != 'i' && kind != 'u')
    throw_bad_input("y: expected numbers (the network does regression), got an array of " +
                    std::string(py::str(y.dtype())));
  const FloatArray targets = FloatArray::ensure(y);
  return std::vector<float>(targets.data(), targets.data() + targets.size());
}

// X as a network that knows its features' names takes it: a table with named columns (a pandas DataFrame:
// `columns` and `iloc`) has them matched by name, the rule of CSV files (data::plan_columns): each feature's
// column wherever it stands, a missing one ValueError naming it, other columns left out with one warning.
// Anything else (arrays, a network without names) as it is, by position.
py::object by_name(const py::object& x, const Model& model) {
  if (model.features().empty() || !py::hasattr(x, "columns") || !py::hasattr(x, "iloc")) return x;
  std::vector<std::string> header;
  for (const py::handle column : x.attr("columns")) header.push_back(py::str(column));
  LoadOptions options;
  options.task = model.task();
  options.expected_features = model.input_size();
  options.feature_names = model.features();
  options.target_names = model.targets();
  options.target_optional = true;
  const data::ColumnPlan plan = data::plan_columns(header, 0, "X", options);
  std::vector<std::string> left_out;
  for (const std::size_t c : plan.ignored) left_out.push_back(header[c]);
  for (const std::size_t c : plan.targets) left_out.push_back(header[c]);
  if (!left_out.empty())
    PyErr_WarnEx(PyExc_UserWarning, ("X: left out " + std::to_string(left_out.size()) +
                                     " column(s) that the network does not take: '" + data::header_text(left_out) +
                                     "'").c_str(), 1);
  const py::object all = py::module_::import("builtins").attr("slice")(py::none());
  return x.attr("iloc")[py::make_tuple(all, py::cast(plan.features))];
}

// A number as a CSV would hold it: the shortest text that reads back to it ("3", "0.1", "1e+16").
std::string number_text(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// A numpy or pandas dtype's kind ('f', 'i', 'u', 'b', 'O', ...): pandas' own dtypes (string, Int64, boolean)
// have one too.
char dtype_kind(const py::handle& dtype) { return py::str(dtype.attr("kind")).cast<std::string>().front(); }

bool is_frame(const py::handle& x) {
  return py::hasattr(x, "columns") && py::hasattr(x, "iloc") && py::hasattr(x, "dtypes");
}

// A numeric pandas column (numpy's integers and floats, pandas' nullable ones with pd.NA) as numbers, NaN
// where missing (TableCells::numbers); false where it is not one, or an integer column holds a value beyond
// 2^53 (read by its text, exactly).
bool numeric_cells(const py::object& series, char kind, TableCells& cells) {
  if (kind != 'f' && kind != 'i' && kind != 'u') return false;
  const py::object numpy = py::module_::import("numpy");
  // An integer column without missing cells (pd.NA in a nullable one): each value written as an integer.
  cells.whole = kind != 'f' && !py::bool_(series.attr("hasnans")).cast<bool>();
  if (cells.whole) {
    constexpr std::int64_t kExact = std::int64_t{1} << 53;
    const IndexArray values = IndexArray::ensure(series.attr("to_numpy")("dtype"_a = "int64"));
    const auto* v = values.data();
    if (std::any_of(v, v + values.size(), [](std::int64_t x) { return x > kExact || x < -kExact; })) return false;
  }
  const DoubleArray values = DoubleArray::ensure(
      series.attr("to_numpy")("dtype"_a = "float64", "na_value"_a = numpy.attr("nan")));
  cells.numbers.assign(values.data(), values.data() + values.size());
  return true;
}

// One pandas column (a Series) as a table's cells: numbers as numbers (numeric_cells), True and False as those
// words, anything else as str() of it; None, NaN, NaT and pd.NA missing. A column of `category` dtype reads its
// values.
TableCells series_cells(const std::string& name, const py::object& series) {
  TableCells cells;
  cells.name = name;
  const py::object numpy = py::module_::import("numpy");
  const std::string dtype_name = py::str(series.attr("dtype"));
  const char kind = dtype_name == "category" ? 'O' : dtype_kind(series.attr("dtype"));
  if (numeric_cells(series, kind, cells)) return cells;
  const py::array missing = series.attr("isna")().attr("to_numpy")("dtype"_a = "bool");
  const auto rows = static_cast<std::size_t>(missing.size());
  const bool* is_missing = static_cast<const bool*>(missing.data());
  cells.missing.assign(is_missing, is_missing + rows);
  cells.text.resize(rows);
  if (kind == 'i' || kind == 'u') {  // beyond 2^53
    const IndexArray values = IndexArray::ensure(series.attr("to_numpy")("dtype"_a = "int64"));
    for (std::size_t r = 0; r < rows; ++r) cells.text[r] = std::to_string(values.data()[r]);
  } else {
    const py::list values = series.attr("astype")("object").attr("tolist")();
    for (std::size_t r = 0; r < rows; ++r) {
      if (cells.missing[r]) continue;
      const py::handle v = values[r];
      if (py::isinstance<py::str>(v)) cells.text[r] = v.cast<std::string>();
      else if (py::isinstance<py::bool_>(v)) cells.text[r] = v.cast<bool>() ? "True" : "False";
      else if (py::isinstance<py::float_>(v) || py::isinstance(v, numpy.attr("floating")))
        cells.text[r] = number_text(v.cast<double>());
      else cells.text[r] = py::str(v).cast<std::string>();
    }
  }
  return cells;
}

// A DataFrame's columns as cells (by position: names as str()), and the names of its `category` columns, which
// are read as categories whatever they hold (as --categorical would name them).
std::vector<TableCells> frame_cells(const py::object& frame, std::vector<std::string>& categories) {
  std::vector<TableCells> columns;
  const py::list names = frame.attr("columns").attr("tolist")();
  const py::object all = py::module_::import("builtins").attr("slice")(py::none());
  for (std::size_t c = 0; c < names.size(); ++c) {
    const std::string name = py::str(names[c]);
    const py::object series = frame.attr("iloc")[py::make_tuple(all, c)];
    if (std::string(py::str(series.attr("dtype"))) == "category") categories.push_back(name);
    columns.push_back(series_cells(name, series));
  }
  return columns;
}

// Whether X is read as a table as it comes: a DataFrame given to a model with a recipe, or one with a column
// that is not numbers (text, category, bool, ...) or a missing cell, or with `categorical` named. Numeric
// DataFrames without missing cells and arrays are read as they always were.
bool frame_needs_table(const py::object& x, bool categorical);
bool reads_as_table(const py::object& x, const Model& model, bool categorical) {
  return is_frame(x) && (model.table() != nullptr || frame_needs_table(x, categorical));
}
bool frame_needs_table(const py::object& x, bool categorical) {
  if (!is_frame(x)) return false;
  if (categorical) return true;
  for (const py::handle dtype : x.attr("dtypes")) {
    if (std::string(py::str(dtype)) == "category") return true;
    const char kind = dtype_kind(dtype);
    if (kind != 'f' && kind != 'i' && kind != 'u') return true;
  }
  return py::bool_(x.attr("isna")().attr("to_numpy")().attr("any")());
}

// y as the target columns of a table, named after it (a Series' name, a DataFrame's columns; "y", or "y0",
// "y1", ... for an array) unless the name is taken by X's columns; `target` gets their names joined by ','.
std::vector<TableCells> target_cells(const py::object& y, const std::vector<TableCells>& x, std::string& target) {
  auto free_name = [&](std::string name) {
    auto taken = [&](const std::string& n) {
      return std::any_of(x.begin(), x.end(), [&](const TableCells& c) { return c.name == n; }) ||
             n.find(',') != std::string::npos || n.empty();
    };
    while (taken(name)) name = "(" + name + ")";
    return name;
  };
  std::vector<TableCells> columns;
  if (is_frame(y)) {
    std::vector<std::string> ignored;
    columns = frame_cells(y, ignored);
    for (TableCells& c : columns) c.name = free_name(c.name);
  } else if (py::hasattr(y, "isna") && py::hasattr(y, "name")) {  // a Series
    const std::string name = y.attr("name").is_none() ? "y" : std::string(py::str(y.attr("name")));
    columns.push_back(series_cells(free_name(name), y));
  } else {
    const py::object pandas = py::module_::import("pandas");
    const py::array values = py::array::ensure(y);
    if (!values || values.ndim() < 1 || values.ndim() > 2)
      throw_bad_input("y: expected one target per row (N,) or (N, T), got " + (values ? shape_text(values) : "no array"));
    if (values.ndim() == 1) {
      columns.push_back(series_cells(free_name("y"), pandas.attr("Series")(values)));
    } else {
      const py::object frame = pandas.attr("DataFrame")(values);
      std::vector<std::string> ignored;
      columns = frame_cells(frame, ignored);
      for (TableCells& c : columns) c.name = free_name("y" + c.name);
    }
  }
  target.clear();
  for (const TableCells& c : columns) target += (target.empty() ? "" : ",") + c.name;
  return columns;
}

// The library's notes about a table's rows (rows without a target, categories never seen, columns left out)
// as Python warnings.
void warn_table_notes(const Dataset& data) {
  std::vector<std::string> notes = table_notes(data);  // as Model::fit_table's notes
  if (const std::string ignored = ignored_columns_note(data); !ignored.empty()) notes.push_back(ignored);
  for (const std::string& note : notes) PyErr_WarnEx(PyExc_UserWarning, note.c_str(), 1);
}

// X read by a model's recipe, as the numbers (rows, IN) the network takes; anything else as it is.
py::object table_input(const py::object& x, const Model& model) {
  if (model.table() == nullptr || !is_frame(x)) return x;
  std::vector<std::string> categories;
  const Dataset data = model.table_data(frame_cells(x, categories), "", false);
  warn_table_notes(data);
  return array_of(data.features_f32, data.rows, static_cast<std::size_t>(data.features));
}

// X as the library takes it: a uint8 array as bytes (read as value / 255, as IDX and uint8 NPY files are),
// anything else as float32 (numpy converts it once when it is not already float32 in C order).
using ByteArray = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
struct Features {
  FloatArray floats;
  ByteArray bytes;
  bool is_bytes = false;

  Features(const py::object& table, const Model& model) {
    py::object x = by_name(table, model);
    if (py::hasattr(x, "to_numpy")) x = x.attr("to_numpy")();  // a DataFrame of uint8 columns stays uint8
    is_bytes = py::isinstance<py::array>(x) &&
               py::reinterpret_borrow<py::array>(x).dtype().is(py::dtype::of<std::uint8_t>());
    if (is_bytes)
      bytes = py::cast<ByteArray>(x);
    else
      floats = py::cast<FloatArray>(x);
  }
  // X of predict: a DataFrame read by the model's recipe where it has one (table_input), else as above.
  static Features of(const py::object& x, const Model& model) { return Features(table_input(x, model), model); }
  const py::array& array() const { return is_bytes ? static_cast<const py::array&>(bytes) : floats; }
  std::span<const float> float_values() const { return {floats.data(), static_cast<std::size_t>(floats.size())}; }
  std::span<const std::uint8_t> byte_values() const {
    return {bytes.data(), static_cast<std::size_t>(bytes.size())};
  }
};

// X (rows, IN) for fit and evaluate: its numpy shape checked here, its values by the library.
void check_rows(const Model& model, const py::array& x) {
  if (x.ndim() != 2) throw_bad_input("X: expected a 2-D array (rows, features), got shape " + shape_text(x));
  if (x.shape(1) != model.input_size())
    throw_bad_input("X: expected " + std::to_string(model.input_size()) +
                    " features per row (the network's inputs), got shape " + shape_text(x));
}

// backprop.Network: a thin wrapper over backprop::Model (model.hpp), with numpy arrays.
// Whether two tables hold the same cells (numbers bit for bit, so that NaN matches NaN).
bool same_cells(const std::vector<TableCells>& a, const std::vector<TableCells>& b) {
  const auto same = [](const TableCells& x, const TableCells& y) {
    return x.name == y.name && x.whole == y.whole && x.text == y.text && x.missing == y.missing &&
           x.numbers.size() == y.numbers.size() &&
           std::memcmp(x.numbers.data(), y.numbers.data(), x.numbers.size() * sizeof(double)) == 0;
  };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), same);
}

class PythonNetwork {
 public:
  explicit PythonNetwork(Model model) : model_(std::make_shared<const Model>(std::move(model))) {}

  static PythonNetwork from_file(const std::filesystem::path& path) { return PythonNetwork(Model::load(path)); }
  static PythonNetwork from_json(const std::string& text) { return PythonNetwork(Model::from_json(text)); }
  // What to_bytes wrote (pickle's state): the binary model, its checksum checked.
  static PythonNetwork from_bytes(const py::bytes& data) {
    return PythonNetwork(Model(io::load_model_bytes(std::string(data), "backprop.Network bytes")));
  }
  py::bytes to_bytes() const {
    const std::shared_ptr<const Model> model = model_;
    std::string bytes;
    {
      py::gil_scoped_release release;
      bytes = io::model_bytes(model->to_model_file());
    }
    return py::bytes(bytes);
  }

  // The cells and target for_table read, and its rows (Model::for_table's `read`), until the first fit.
  struct TableRead {
    std::vector<TableCells> columns;
    std::string target;
    Dataset rows;
  };
  void keep_first_read(std::shared_ptr<TableRead> read) { first_read_ = std::move(read); }

  // The model now; call with the GIL held (fit swaps the pointer under it). The model itself never changes.
  const Model& model() const { return *model_; }
  const NetworkSpec& spec() const { return model_->spec(); }
  TaskKind task() const { return model_->task(); }
  bool classification() const { return task() == TaskKind::classification; }

  py::list fit(const Features& x, const py::array& y, const FitArguments& arguments) {
    check_rows(*model_, x.array());
    const std::vector<float> targets = targets_of(*model_, static_cast<std::size_t>(x.array().shape(0)), y);
    return run_fit(arguments, "arrays X and y", [&](Model& trained, const RunSettings& settings) {
      const std::span<const float> weights = arguments.sample_weight;
      return x.is_bytes ? trained.fit_bytes(x.byte_values(), targets, arguments.options, settings, weights)
                        : trained.fit(x.float_values(), targets, arguments.options, settings, weights);
    });
  }

  // A table as it comes: X's columns and y's, the recipe the model's or inferred (`inference`). The first fit of
  // for_table's network on the cells for_table read (`plain`: no recipe argument given) trains on the rows it
  // read then (Model::fit_table_read) instead of reading them again.
  py::list fit_table(const std::vector<TableCells>& columns, const std::string& target, const TableInference& inference,
                     const FitArguments& arguments, bool plain) {
    std::shared_ptr<TableRead> first;
    first.swap(first_read_);  // kept for the first fit only
    if (first && !(plain && arguments.sample_weight.empty() && target == first->target && same_cells(columns, first->columns)))
      first.reset();
    std::vector<std::string> notes;
    py::list history = run_fit(arguments, "a table X and y", [&](Model& trained, const RunSettings& settings) {
      if (first) return trained.fit_table_read(std::move(first->rows), arguments.options, settings, &notes);
      return trained.fit_table(columns, target, inference, arguments.options, settings, arguments.sample_weight,
                               &notes);
    });
    for (const std::string& note : notes) PyErr_WarnEx(PyExc_UserWarning, note.c_str(), 1);
    return history;
  }

  // Trains a copy of the model by `train` with the GIL released and publishes it; the per-epoch history.
  py::list run_fit(const FitArguments& arguments, const std::string& data_name,
                   const std::function<TrainingResult(Model&, const RunSettings&)>& train) {
    const bool is_classification = classification();
    TrainingResult result;
    {
      py::gil_scoped_release release;
      const std::lock_guard<std::mutex> one_fit_at_a_time(*fit_mutex_);
      std::shared_ptr<const Model> current;
      {
        py::gil_scoped_acquire gil;
        current = model_;
      }
      // A copy to train (Model(to_model_file()) trains bit for bit as the model it copies: the same
      // parameters, scaling and names), published under the GIL when done.
      auto trained = std::make_shared<Model>(current->to_model_file());
      ObserverList observers;
      InterruptCheck interrupt;
      observers.add(&interrupt);
      ConsoleProgress progress(stdout, ::isatty(STDOUT_FILENO) != 0, is_classification);
      if (arguments.verbose) observers.add(&progress);
      RunSettings settings;
      settings.device = arguments.device;
      settings.observer = &observers;
      settings.files = arguments.files;
      settings.sources = {"backprop.Network.fit", "", data_name, ""};
      settings.threshold = arguments.threshold;
      if (arguments.verbose) settings.notice = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
      result = train(*trained, settings);
      std::fflush(stdout);
      py::gil_scoped_acquire gil;
      model_ = std::move(trained);
    }
    py::list history;
    for (const EpochMetrics& m : result.history) {
      py::dict d;
      d["epoch"] = m.epoch;
      d["learning_rate"] = m.learning_rate;
      d["seconds"] = m.seconds;
      for (auto item : metrics_dict(m.train, is_classification, "")) d[item.first] = item.second;
      if (m.has_validation)
        for (auto item : metrics_dict(m.validation, is_classification, "validation_")) d[item.first] = item.second;
      history.append(std::move(d));
    }
    return history;
  }

  // (N, K) probabilities for classification (K = 2 for one sigmoid output: [1 - p, p], where Model::predict
  // gives the one column p), or (N, OUT) outputs. A 1-D X is one row. Model::predict reads the rows in
  // place and writes straight into the result (but for the two-column case).
  py::array_t<float> predict(const Features& features) const {
    const py::array& x = features.array();
    const std::shared_ptr<const Model> model = model_;  // this call's model, whatever a fit does meanwhile
    const int in = model->input_size();
    if (x.ndim() != 1 && x.ndim() != 2)
      throw_bad_input("X: expected a 2-D array (rows, " + std::to_string(in) + "), got shape " + shape_text(x));
    const std::size_t rows = x.ndim() == 1 ? 1 : static_cast<std::size_t>(x.shape(0));
    if (x.shape(x.ndim() - 1) != in)
      throw_bad_input("X: expected " + std::to_string(in) + " features per row (the network's inputs), got shape " +
                      shape_text(x));
    const auto outputs = static_cast<std::size_t>(model->output_size());
    const bool two_class_sigmoid = classification() && outputs == 1;
    const std::size_t columns = two_class_sigmoid ? 2 : outputs;
    py::array_t<float> result({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(columns)});
    float* out = result.mutable_data();
    {
      py::gil_scoped_release release;
      // (rows, OUTPUTS) into out, or for one sigmoid output into p and then out as [1 - p, p].
      std::vector<float> p(two_class_sigmoid ? rows : 0);
      const std::span<float> into = two_class_sigmoid ? std::span<float>(p) : std::span<float>(out, rows * outputs);
      if (features.is_bytes)
        model->predict_bytes(features.byte_values(), into);
      else
        model->predict(features.float_values(), into);
      for (std::size_t r = 0; r < p.size(); ++r) {
        out[2 * r] = 1.0f - p[r];
        out[2 * r + 1] = p[r];
      }
    }
    return result;
  }

  py::object evaluate(const Features& x, const py::array& y, int batch_size, const std::string& device) const {
    const std::shared_ptr<const Model> model = model_;
    check_rows(*model, x.array());
    const std::vector<float> targets = targets_of(*model, static_cast<std::size_t>(x.array().shape(0)), y);
    std::string text;
    {
      py::gil_scoped_release release;
      RunSettings settings;
      settings.device = device;
      settings.batch_size = batch_size;
      text = report_json(x.is_bytes ? model->report_bytes(x.byte_values(), targets, settings)
                                    : model->report(x.float_values(), targets, settings));
    }
    // The names and the layout of `backprop eval --json`, written once (train/metrics.hpp).
    return py::module_::import("json").attr("loads")(text);
  }

  // A copy of the model with the threshold, published under the GIL (the model itself never changes).
  void set_threshold(std::optional<double> threshold) {
    auto changed = std::make_shared<Model>(model_->to_model_file());
    changed->set_threshold(threshold);
    model_ = std::move(changed);
  }

  py::array_t<std::int64_t> predict_classes(const Features& features) const {
    const py::array_t<float> probabilities = predict(features);  // (N, K), the checks of predict
    if (!classification()) throw_bad_input("predict_classes: expected a classifying network, got a regression");
    const std::shared_ptr<const Model> model = model_;
    const auto rows = static_cast<std::size_t>(probabilities.shape(0));
    const int width = static_cast<int>(probabilities.shape(1));
    py::array_t<std::int64_t> result(static_cast<py::ssize_t>(rows));
    for (std::size_t r = 0; r < rows; ++r)
      result.mutable_data()[r] = predicted_class(probabilities.data() + r * width, width, model->threshold());
    return result;
  }

  void save(const std::filesystem::path& path, const std::string& format) const {
    if (format != "binary" && format != "json")
      throw_bad_input("format: expected binary or json, got '" + format + "'");
    const std::shared_ptr<const Model> model = model_;
    py::gil_scoped_release release;
    model->save(path, format == "json" ? ModelFormat::json : ModelFormat::binary);
  }

  py::list layers() const {
    py::list list;
    for (std::size_t l = 0; l < spec().layers.size(); ++l) {
      py::dict d;
      for (const auto& [key, value] : layer_fields(spec(), l))
        d[py::str(std::string(key))] = std::visit(
            [](const auto& v) -> py::object {
              if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string_view>) return py::str(std::string(v));
              else return py::cast(v);
            },
            value);
      list.append(std::move(d));
    }
    return list;
  }

  py::object scaling() const {
    const Scaling& scaling = model_->scaling();
    if (scaling.empty()) return py::none();
    return py::dict("kind"_a = std::string(to_string(scaling.kind)), "offset"_a = array_of(scaling.offset),
                    "scale"_a = array_of(scaling.scale));
  }

  std::size_t checked_layer(long layer) const {
    const long count = static_cast<long>(model_->network().layer_count());
    if (layer < 0) layer += count;  // Python's negative indices
    if (layer < 0 || layer >= count)
      throw py::index_error("layer " + std::to_string(layer) + " out of range: the network has " +
                            std::to_string(count) + " layers");
    return static_cast<std::size_t>(layer);
  }
  // Copies of layer l's parameters: weights (IN, OUT), bias (OUT); a batch_norm's scale (OUT) and shift (OUT); an
  // embedding's weights (categories, D) and an empty bias.
  py::array_t<float> weights(long layer) const {
    const std::size_t l = checked_layer(layer);
    const Network<float>& network = model_->network();
    const auto w = network.weights(l);
    std::vector<float> values(w.begin(), w.end());
    const LayerArray weights = spec().arrays(l).front();  // a dense layer's (IN, OUT), an embedding's (N, D)
    if (weights.columns == 0) return array_of(values);
    return array_of(values, weights.size / weights.columns, weights.columns);
  }
  py::array_t<float> bias(long layer) const {
    const auto b = model_->network().bias(checked_layer(layer));
    return array_of(std::vector<float>(b.begin(), b.end()));
  }

  std::string repr() const {
    const auto& classes = model_->classes();
    return "<backprop.Network " + architecture(spec()) + ", loss " + std::string(to_string(spec().loss)) +
           (classes.empty() ? "" : ", " + std::to_string(classes.size()) + " classes") + ">";
  }

 private:
  std::shared_ptr<const Model> model_;  // read and replaced with the GIL held
  std::unique_ptr<std::mutex> fit_mutex_ = std::make_unique<std::mutex>();  // a pointer: Network stays movable
  std::shared_ptr<TableRead> first_read_;  // for_table's rows, until the first fit (with the GIL held)
};

// Network.fit's keyword arguments, into FitArguments.
// A training setting's keyword (train/settings.hpp) into its TrainingOptions field; None leaves it unset. A
// value of another type is TypeError naming the keyword; its range is the library's check.
void set_option(TrainingOptions& options, const TrainingSetting& setting, const py::handle& value) {
  if (value.is_none()) return;
  std::visit(
      [&](auto field) {
        using Value = typename std::remove_reference_t<decltype(options.*field)>::value_type;
        const auto refuse = [&] {
          const std::string_view type = setting.type();
          return py::type_error("fit(): " + std::string(setting.key) + ": expected " +
                                (type == "text"    ? "a str"
                                 : type == "float" ? "a number"
                                 : type == "bool"  ? "True or False"
                                                   : "an int") +
                                ", got " + std::string(py::str(py::type::of(value).attr("__name__"))));
        };
        if constexpr (std::is_same_v<Value, bool>) {
          // True or False (numpy's too), not any object with a truth value: centered=1.5 is a mistake.
          py::detail::make_caster<bool> switch_value;
          if (!switch_value.load(value, false)) throw refuse();
          options.*field = static_cast<bool>(switch_value);
        } else {
          try {
            options.*field = value.cast<Value>();
          } catch (const py::cast_error&) {
            throw refuse();
          }
        }
      },
      setting.field);
}

// Network.fit's keyword arguments, into FitArguments: the training settings by the library's table (any
// other keyword is TypeError, as Python says it), class_weight also as {label: weight}.
py::list fit(PythonNetwork& network, const py::object& x, const py::object& y, const py::object& class_weight,
             const py::object& sample_weight, bool verbose, const std::string& device,
             std::optional<std::filesystem::path> checkpoint, std::optional<long> checkpoint_every,
             std::optional<std::filesystem::path> resume, std::optional<std::filesystem::path> report,
             const py::object& threshold, std::optional<std::vector<std::string>> categorical,
             std::optional<std::vector<std::string>> missing_values, const py::kwargs& settings) {
  FitArguments arguments;
  if (py::isinstance<py::str>(threshold))
    arguments.threshold = parse_threshold(threshold.cast<std::string>());
  else if (!threshold.is_none())
    arguments.threshold = parse_threshold(format_general(threshold.cast<double>(), 17));
  for (const auto& [keyword, value] : settings) {
    const std::string key = py::str(keyword);
    const auto all = training_settings();
    const auto setting = std::find_if(all.begin(), all.end(), [&](const TrainingSetting& s) { return s.key == key; });
    if (setting == all.end() || key == "class_weight")
      throw py::type_error("fit() got an unexpected keyword argument '" + key + "'");
    set_option(arguments.options, *setting, value);
  }
  // class_weight: "balanced", "none", or {label: weight} (labels as the model's classes name them).
  if (py::isinstance<py::dict>(class_weight)) {
    std::string text;
    for (auto item : class_weight.cast<py::dict>())
      text += (text.empty() ? "" : ",") + py::str(item.first).cast<std::string>() + "=" +
              py::repr(py::float_(item.second.cast<double>())).cast<std::string>();
    arguments.options.class_weight = text;
  } else {
    set_option(arguments.options, training_setting("class_weight"), class_weight);
  }
  if (!sample_weight.is_none()) {
    const auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(sample_weight);
    if (!array || array.ndim() != 1)  // its length: Model::fit's check
      throw_bad_input("sample_weight: expected one number per row of X, a 1-D array");
    arguments.sample_weight.assign(array.data(), array.data() + array.shape(0));
  }
  arguments.verbose = verbose;
  arguments.device = device;
  arguments.files = {checkpoint.value_or(""), checkpoint_every, resume.value_or(""), report.value_or("")};
  if (reads_as_table(x, network.model(), categorical.has_value())) {
    TableInference inference;
    std::vector<TableCells> columns = frame_cells(x, inference.categorical);
    if (categorical) inference.categorical.insert(inference.categorical.end(), categorical->begin(), categorical->end());
    inference.missing_values = missing_values.value_or(std::vector<std::string>{});
    std::string target;
    for (TableCells& c : target_cells(y, columns, target)) columns.push_back(std::move(c));
    return network.fit_table(columns, target, inference, arguments, !categorical && !missing_values);
  }
  if (missing_values || categorical)
    throw_bad_input(std::string(categorical ? "categorical" : "missing_values") +
                    ": expected a pandas DataFrame X (a table as it comes, its columns named), got " +
                    std::string(py::str(py::type::of(x).attr("__name__"))));
  return network.fit(Features(x, network.model()), py::array::ensure(y), arguments);
}

// Network.for_table: the default network and recipe of `backprop train --data T.csv` for X and y.
PythonNetwork network_for_table(const py::object& x, const py::object& y, std::optional<std::string> task,
                                std::optional<std::vector<int>> hidden, std::optional<std::vector<std::string>> categorical,
                                std::optional<std::vector<std::string>> missing_values, std::optional<std::uint64_t> seed,
                                std::optional<std::string> many_categories) {
  if (!is_frame(x)) throw_bad_input("X: expected a pandas DataFrame (a table as it comes), got " +
                                    std::string(py::str(py::type::of(x).attr("__name__"))));
  TableInference inference;
  inference.seed = seed;
  std::vector<TableCells> columns = frame_cells(x, inference.categorical);
  if (categorical) inference.categorical.insert(inference.categorical.end(), categorical->begin(), categorical->end());
  inference.missing_values = missing_values.value_or(std::vector<std::string>{});
  inference.hidden = hidden.value_or(std::vector<int>{});
  if (task) {
    const std::optional<TaskKind> kind = parse_task(*task);
    if (!kind) throw_bad_input("task: expected " + task_names(" or ") + ", got '" + *task + "'");
    inference.task = *kind;
  }
  if (many_categories) {
    const std::optional<ManyCategories> choice = parse_many_categories(*many_categories);
    if (!choice)
      throw_bad_input("many_categories: expected " + many_categories_names(" or ") + ", got '" + *many_categories + "'");
    inference.many_categories = *choice;
  }
  auto read = std::make_shared<PythonNetwork::TableRead>();
  for (TableCells& c : target_cells(y, columns, read->target)) columns.push_back(std::move(c));
  PythonNetwork network(Model::for_table(columns, read->target, inference, &read->rows));
  read->columns = std::move(columns);
  network.keep_first_read(std::move(read));
  return network;
}

// backprop.table_inputs: the names of the inputs that the recipe inferred from X makes.
std::vector<std::string> table_inputs(const py::object& x, std::optional<std::vector<std::string>> categorical,
                                      std::optional<std::vector<std::string>> missing_values) {
  if (!is_frame(x)) throw_bad_input("X: expected a pandas DataFrame (a table as it comes), got " +
                                    std::string(py::str(py::type::of(x).attr("__name__"))));
  LoadOptions options;
  options.infer_table = true;
  options.target_optional = true;
  const std::vector<TableCells> columns = frame_cells(x, options.categorical);
  if (categorical) options.categorical.insert(options.categorical.end(), categorical->begin(), categorical->end());
  options.missing_values = missing_values.value_or(std::vector<std::string>{});
  options.many_categories = ManyCategories::pool;  // as a network without a recipe reads X (Model::read_table)
  // Every column a feature: a target named after none of them (plan_columns' rule with target_optional).
  options.target = "\x01";
  return table_from_columns(columns, "X", options).feature_names;
}

// X and y of evaluate: a DataFrame X read by the model's recipe, with y as its target column(s).
std::pair<py::object, py::object> table_rows(const py::object& x, const py::object& y, const Model& model) {
  if (model.table() == nullptr || !is_frame(x)) return {x, y};
  std::vector<std::string> categories;
  std::vector<TableCells> columns = frame_cells(x, categories);
  std::string target;
  for (TableCells& c : target_cells(y, columns, target)) columns.push_back(std::move(c));
  const Dataset data = model.table_data(columns, target, true);
  warn_table_notes(data);
  py::object features = array_of(data.features_f32, data.rows, static_cast<std::size_t>(data.features));
  if (data.task == TaskKind::classification)
    return {features, array_of(std::vector<std::int64_t>(data.labels.begin(), data.labels.end()))};
  return {features, array_of(data.targets, data.rows, static_cast<std::size_t>(data.target_count))};
}

// Network.fit's help: the fixed text and each training setting of the library's table. Made once; pybind
// keeps the pointer.
const std::string& fit_doc() {
  static const std::string doc = [] {
    std::string text =
        "Train on X (N, IN) and y: class indices (N,) for a classifier, numbers (N,) or (N, OUT) otherwise.\n"
        "device: 'cpu' or 'cuda'; '' (default): $BACKPROP_DEVICE, else the GPU when there is one.\n"
        "Settings left None keep the network file's recipe ('training', 'optimizer'); training continues from\n"
        "the current parameters. class_weight: also {label: weight} (classifiers); sample_weight: (N,)\n"
        "weights of the rows in the loss (torch's CrossEntropyLoss(weight=) / BCELoss(weight=)).\n"
        "checkpoint: save the training state to this file between epochs and every checkpoint_every steps;\n"
        "resume: continue from such a checkpoint (the same network as it started, X, y and options: the\n"
        "result is bit-identical to the uninterrupted fit); report: write the HTML training report there.\n"
        "threshold: two classes: the decision threshold on P(second class) the network keeps (predict_classes,\n"
        "evaluate, MLPClassifier.predict): 'f1' or 'youden' (picked on the validation_split rows, as\n"
        "`backprop eval` prints them) or a probability; None: none (a threshold from before is dropped).\n"
        "A pandas DataFrame X with text or category columns or missing cells is a table as it comes\n"
        "(docs/tables.md), as `backprop train --data T.csv` reads it: y then holds labels as written (or\n"
        "numbers), a network with a recipe reads X by it, one without infers it from X (the network's\n"
        "\"input\" must be its width: backprop.table_inputs(X), or build it with Network.for_table) and keeps\n"
        "it; categorical: columns read as categories whatever they hold (as --categorical; `category` columns\n"
        "are), missing_values: the cells that mean missing (as --missing-values).\n"
        "Returns the history: one dict per epoch (epoch, learning_rate, seconds, loss,\n"
        "accuracy or rmse and mae, and validation_... with a validation split).\n\nSettings (backprop.training_settings()):\n";
    for (const TrainingSetting& setting : training_settings())
      text += "  " + std::string(setting.key) + " (" + std::string(setting.type() == "text" ? "str" : setting.type()) +
              "): " + setting.help_text() + "\n";
    return text;
  }();
  return doc;
}

// An optimizer's coefficient: the names of the rules that read it (optimizer_uses); None for another setting.
py::object optimizers_reading(const TrainingSetting& setting) {
  if (setting.optimizer_key().empty()) return py::none();
  py::list names;
  for (const auto& [kind, name] : kOptimizerNames)
    if (optimizer_uses(kind, setting.optimizer_key())) names.append(std::string(name));
  return names;
}

// The library's table of training settings (train/settings.hpp) as dicts.
py::list settings_list() {
  py::list list;
  for (const TrainingSetting& s : training_settings())
    list.append(py::dict("key"_a = std::string(s.key), "type"_a = std::string(s.type() == "text" ? "str" : s.type()),
                         "flag"_a = s.flag(), "file_key"_a = std::string(s.file_key),
                         "file_default"_a = std::string(s.file_default), "help"_a = s.help_text(),
                         "example"_a = std::string(s.example), "sklearn"_a = std::string(s.sklearn),
                         "fingerprint"_a = s.fingerprint, "optimizers"_a = optimizers_reading(s)));
  return list;
}

// backprop.trace's result: the list of steps (indexing, len, iteration as a list) and the trace written out
// for a learner by the library's renderers, as `backprop trace --format` writes it; Jupyter shows the page.
struct PythonTrace {
  Trace trace;
  std::string source;
  py::list steps;
  io::TraceRenderOptions render_options;  // the source, and the input as given where the model scaled it

  std::string render(io::TraceFormat format, int digits, bool expand) const {
    io::TraceRenderOptions options = render_options;
    options.digits = digits;
    options.expand = expand;
    return io::render_trace(trace, format, options);
  }
  // Jupyter's rich display: nothing (the plain repr) for a network too large to write out.
  py::object rich(io::TraceFormat format) const {
    try {
      return py::str(render(format, 4, true));
    } catch (const Error&) {
      return py::none();
    }
  }
};

// A figure of backprop.trace's steps, under the names of `backprop trace --json`: numbers as numpy arrays (a
// (rows, cols) block 2-D), codes as a list.
py::object figure_object(const TraceFigure& figure) {
  if (const auto* word = std::get_if<std::string_view>(&figure.value)) return py::str(std::string(*word));
  if (const auto* number = std::get_if<int>(&figure.value)) return py::int_(*number);
  if (const auto* codes = std::get_if<std::span<const int>>(&figure.value))
    return py::cast(std::vector<int>(codes->begin(), codes->end()));
  const auto numbers = std::get<std::span<const double>>(figure.value);
  const std::vector<double> values(numbers.begin(), numbers.end());
  if (figure.rows > 0)
    return array_of(values, static_cast<std::size_t>(figure.rows), static_cast<std::size_t>(figure.cols));
  return array_of(values);
}

// backprop.trace: every figure of `steps` plain SGD steps on one batch, in double precision.
PythonTrace trace_network(const py::object& network, const DoubleArray& input, const DoubleArray& target, int steps,
                          std::optional<std::string> loss, std::optional<double> learning_rate) {
  NetworkSpec spec;
  io::ModelFile model;  // its scaling: the trace is of what the model computes, as predict
  std::string source = "a backprop.Network";
  if (py::isinstance<PythonNetwork>(network)) {
    const Model& traced = network.cast<const PythonNetwork&>().model();
    spec = traced.spec_for_trace();
    model = traced.to_model_file();
  } else {
    std::filesystem::path path;
    try {
      path = network.cast<std::filesystem::path>();
    } catch (const py::cast_error&) {
      throw py::type_error("network: expected a path (a network file or a model) or a backprop.Network, got " +
                           std::string(py::str(py::type::of(network))));
    }
    io::LoadedModel loaded = io::read_model(path);
    spec = std::move(loaded.exact_network);
    model = std::move(loaded.model);
    source = path.string();
  }
  TraceOptions options;
  const std::vector<double> given(input.data(), input.data() + input.size());
  options.input = io::traced_input(model, given);
  options.target.assign(target.data(), target.data() + target.size());
  options.steps = steps;
  if (loss) {
    options.loss = parse_loss(*loss);
    if (!options.loss) throw_bad_input("loss: expected one of " + loss_names() + ", got '" + *loss + "'");
  }
  options.learning_rate = learning_rate;
  const Trace result = trace(spec, options);

  py::list out;
  for (const TraceStep& step : result.steps) {
    py::list layers;
    for (const TraceLayer& l : step.layers) {
      py::dict layer;
      if (l.kind == LayerKind::dense) layer["activation"] = std::string(to_string(l.activation));
      for (const TraceFigure& figure : trace_figures(l, result.batch))
        layer[py::str(std::string(figure.name))] = figure_object(figure);
      layers.append(std::move(layer));
    }
    out.append(py::dict("step"_a = step.step, "loss"_a = step.loss, "layers"_a = std::move(layers)));
  }
  io::TraceRenderOptions render_options = io::trace_render_options(model, given, 4, true, source);
  return PythonTrace{result, std::move(source), std::move(out), std::move(render_options)};
}

// The tables as they come (docs/tables.md): Network.for_table, .table and .features, table_inputs.
void add_table_api(py::module_& m) {
  py::reinterpret_borrow<py::class_<PythonNetwork>>(m.attr("Network"))
      .def_static("for_table", &network_for_table, "X"_a, "y"_a, py::kw_only(), "task"_a = py::none(),
                  "hidden"_a = py::none(), "categorical"_a = py::none(), "missing_values"_a = py::none(),
                  "seed"_a = py::none(), "many_categories"_a = py::none(),
                  "The network and recipe `backprop train --data T.csv --target C` makes without a network file, for\n"
                  "a DataFrame X and its targets y (a Series named as the column, or an array): the recipe inferred\n"
                  "from X's columns (docs/tables.md; `category` columns and those `categorical` names read as\n"
                  "categories), the default layers (or `hidden`), the task from y unless given, its weights drawn\n"
                  "from `seed` (--seed), columns of many values pooled or embedded as `many_categories` says\n"
                  "('pool' or 'embedding', --many-categories). Not trained: fit(X, y, seed=) then trains it as that\n"
                  "command does, and save writes the same model file. The rows it read are kept for the first fit:\n"
                  "on the same cells (no sample_weight, categorical or missing_values) it trains on them without\n"
                  "reading the table again.")
      .def_property_readonly(
          "table",
          [](const PythonNetwork& n) -> py::object {
            if (n.model().table() == nullptr) return py::none();
            return py::str(backprop::describe_table(*n.model().table()));
          },
          "The recipe of a network trained on a table as it comes, as `backprop info` shows it; None without one.")
      .def_property_readonly("features", [](const PythonNetwork& n) { return n.model().features(); },
                             "The inputs' names (a CSV's columns, or a recipe's inputs: 'color=red'); may be empty.");
  m.def("table_inputs", &table_inputs, "X"_a, py::kw_only(), "categorical"_a = py::none(),
        "missing_values"_a = py::none(),
        "The names of the inputs that the recipe inferred from the DataFrame X makes (docs/tables.md): its length\n"
        "is the \"input\" of a network to fit on X ('age', 'age (missing)', 'color=red', ...).");
  m.def("_frame_needs_table", &frame_needs_table, "X"_a, "categorical"_a,
        "Whether fit reads X as a table as it comes (a DataFrame with a column that is not numbers or a missing\n"
        "cell, or categorical columns named): the estimators' rule, Network.fit's for a network without a recipe.");
}

}  // namespace
}  // namespace backprop::python

PYBIND11_MODULE(_backprop, m) {
  using backprop::python::PythonNetwork;
  using backprop::python::Features;
  m.doc() = "Feedforward neural networks by an explicit forward pass and backpropagation (the backprop C++ library)";
  m.attr("__version__") = BACKPROP_VERSION;
  std::vector<std::string> activations;  // in base/kinds.hpp's order
  for (const backprop::ActivationName& entry : backprop::kActivationNames) activations.emplace_back(entry.name);
  m.attr("ACTIVATIONS") = py::tuple(py::cast(activations));

  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const backprop::Error& e) {
      PyErr_SetString(e.kind() == backprop::ErrorKind::bad_input ? PyExc_ValueError : PyExc_RuntimeError, e.what());
    }
  });

  py::class_<PythonNetwork>(m, "Network",
                            "A network with its feature scaling and class names: what a model file holds.\n\n"
                            "Pickles through its binary model bytes (to_bytes). Thread-safe: predict, evaluate,\n"
                            "save and to_bytes run in parallel (the GIL is released), also during a fit of the\n"
                            "same Network, which they see whole before or after; two fits run one after the other.")
      .def_static("from_file", &PythonNetwork::from_file, "path"_a,
                  "Load a network file (JSON) or a model (binary, or JSON from `backprop export`).")
      .def_static("from_json", &PythonNetwork::from_json, "text"_a, "A network from the text of a network file.")
      .def_static("from_bytes", &PythonNetwork::from_bytes, "data"_a,
                  "A network from to_bytes()'s bytes; damaged bytes (checksum, truncation) raise ValueError.")
      .def("to_bytes", &PythonNetwork::to_bytes,
           "The binary model file's bytes (parameters, scaling, class names, checksum): what save writes.")
      .def(py::pickle([](const PythonNetwork& n) { return py::make_tuple(n.to_bytes()); },
                      [](const py::tuple& state) {
                        if (state.size() != 1 || !py::isinstance<py::bytes>(state[0]))
                          throw py::value_error("backprop.Network: expected a pickled state of (bytes,)");
                        return PythonNetwork::from_bytes(state[0].cast<py::bytes>());
                      }))
      .def("fit", &backprop::python::fit, "X"_a, "y"_a, py::kw_only(), "class_weight"_a = py::none(),
           "sample_weight"_a = py::none(), "verbose"_a = false, "device"_a = "", "checkpoint"_a = py::none(),
           "checkpoint_every"_a = py::none(), "resume"_a = py::none(), "report"_a = py::none(),
           "threshold"_a = py::none(), "categorical"_a = py::none(), "missing_values"_a = py::none(),
           backprop::python::fit_doc().c_str())
      .def("predict", [](const PythonNetwork& n, const py::object& x) { return n.predict(Features::of(x, n.model())); }, "X"_a,
           "(N, K) class probabilities (K = 2 for one sigmoid output) or (N, OUT) outputs, float32.")
      .def("evaluate",
           [](const PythonNetwork& n, const py::object& x, const py::object& y, int batch_size, const std::string& device) {
             const auto [rows, targets] = backprop::python::table_rows(x, y, n.model());
             return n.evaluate(Features(rows, n.model()), py::array::ensure(targets), batch_size, device);
           },
           "X"_a, "y"_a, py::kw_only(), "batch_size"_a = 256, "device"_a = "",
           "{'loss', 'accuracy', 'rows', ...} for a classifier, {'loss', 'rmse', 'mae', 'rows', ...} otherwise:\n"
           "the figures of `backprop eval --json`, named as scikit-learn's functions (balanced_accuracy,\n"
           "log_loss, roc_auc, average_precision, f1_macro, classes, confusion_matrix, r2, ...).\n"
           "The loss is the plain one: without the recipe's label smoothing.")
      .def("save", &PythonNetwork::save, "path"_a, py::kw_only(), "format"_a = "binary",
           "Write a model file (atomically): binary, or format='json' (readable, reads back bit-exact).")
      .def("weights", &PythonNetwork::weights, "layer"_a, "A copy of layer's weights, (IN, OUT) float32 (a batch_norm's scale, (OUT,); an embedding's, "
           "(categories, dim)).")
      .def("bias", &PythonNetwork::bias, "layer"_a, "A copy of layer's bias, (OUT,) float32 (a batch_norm's shift).")
      .def_property_readonly("layers", &PythonNetwork::layers, "One dict per layer: units, activation, dropout.")
      .def_property_readonly(
          "architecture", [](const PythonNetwork& n) { return backprop::architecture(n.spec()); },
          "The layer sizes and activations as text, e.g. '2-16(tanh)-3(softmax)'.")
      .def_property_readonly("input_size", [](const PythonNetwork& n) { return n.spec().input; },
                             "Features per row (IN).")
      .def_property_readonly("output_size", [](const PythonNetwork& n) { return n.spec().output(); },
                             "Outputs of the last layer (OUT).")
      .def_property_readonly(
          "loss", [](const PythonNetwork& n) { return std::string(to_string(n.spec().loss)); },
          "'mse', 'bce' or 'softmax_ce'.")
      .def_property_readonly(
          "label_smoothing", [](const PythonNetwork& n) { return n.spec().training.label_smoothing; },
          "The recipe's label smoothing (training.label_smoothing; softmax_ce only, 0: off).")
      .def_property_readonly(
          "task", [](const PythonNetwork& n) { return backprop::to_string(n.task()); },
          "'classification' (bce, softmax_ce) or 'regression' (mse).")
      .def_property_readonly("classes", [](const PythonNetwork& n) { return n.model().classes(); },
                             "Class names by index (set by fit or a model file; empty before).")
      .def_property_readonly("targets", [](const PythonNetwork& n) { return n.model().targets(); },
                             "Output names of a regression model (from a CSV header; may be empty).")
      .def_property_readonly("scaling", &PythonNetwork::scaling, "{'kind', 'offset', 'scale'} or None.")
      .def_property("threshold", [](const PythonNetwork& n) { return n.model().threshold(); },
                    &PythonNetwork::set_threshold,
                    "Two classes: the kept decision threshold on P(second class) (fit(threshold=), a model file's\n"
                    "\"threshold\"), or None: predict_classes and evaluate take the more probable class.")
      .def("predict_classes", [](const PythonNetwork& n, const py::object& x) { return n.predict_classes(Features::of(x, n.model())); },
           "X"_a, "(N,) class indices, int64: at the kept threshold where there is one, else the more probable class.")
      .def("__repr__", &PythonNetwork::repr);

  backprop::python::add_table_api(m);
  m.def("load", &PythonNetwork::from_file, "path"_a, "Network.from_file(path).");
  using backprop::python::PythonTrace;
  using backprop::io::TraceFormat;
  py::class_<PythonTrace>(m, "Trace",
                          "The steps of backprop.trace (a list: trace[0]['loss']), and the trace written out for a "
                          "learner: text(), markdown(), html(), dot(), as `backprop trace --format` writes them.")
      .def("__len__", [](const PythonTrace& t) { return t.steps.size(); })
      .def("__getitem__", [](const PythonTrace& t, const py::object& index) { return t.steps[index]; })
      .def("__iter__", [](const PythonTrace& t) { return t.steps.attr("__iter__")(); })
      .def_property_readonly("steps", [](const PythonTrace& t) { return t.steps; }, "The list of steps.")
      .def("text", [](const PythonTrace& t, int digits, bool expand) { return t.render(TraceFormat::text, digits, expand); },
           py::kw_only(), "digits"_a = 4, "expand"_a = true, "The readable trace (with each figure's working).")
      .def("markdown",
           [](const PythonTrace& t, int digits, bool expand) { return t.render(TraceFormat::markdown, digits, expand); },
           py::kw_only(), "digits"_a = 4, "expand"_a = true, "A Markdown document, the math as LaTeX.")
      .def("html", [](const PythonTrace& t, int digits) { return t.render(TraceFormat::html, digits, true); },
           py::kw_only(), "digits"_a = 4, "A self-contained page that steps through the trace (loads nothing).")
      .def("dot", [](const PythonTrace& t, int digits) { return t.render(TraceFormat::dot, digits, true); },
           py::kw_only(), "digits"_a = 4, "A Graphviz graph of the last step, for `dot -Tsvg`.")
      .def("_repr_html_", [](const PythonTrace& t) { return t.rich(TraceFormat::html); })
      .def("_repr_markdown_", [](const PythonTrace& t) { return t.rich(TraceFormat::markdown); })
      .def("__repr__", [](const PythonTrace& t) {
        return "<backprop.Trace of " + t.source + ": " + std::to_string(t.steps.size()) + " step(s)>";
      });
  m.def("trace", &backprop::python::trace_network, "network"_a, py::kw_only(), "input"_a, "target"_a,
        "steps"_a = 1, "loss"_a = py::none(), "learning_rate"_a = py::none(),
        "Every figure of `steps` plain SGD steps on one batch, in double precision, as `backprop trace`:\n"
        "network is a path (network file or model) or a Network; input (B, IN) and target (B, OUT), or one row\n"
        "each. Returns a Trace: a list of steps: {'step', 'loss', 'layers': [{'activation', 'z', 'a', 'delta' (B, OUT),\n"
        "'grad_weights', 'weights' (IN, OUT), 'grad_bias', 'bias' (OUT,)}]}; weights and bias after the step;\n"
        "and .text(), .markdown(), .html(), .dot(): every figure with its working.");
  m.def("training_settings", &backprop::python::settings_list,
        "The training settings, each as the library declares it once (train/settings.hpp): key (fit's keyword),\n"
        "type, flag (backprop train's), file_key (the network file's), file_default, help, example, sklearn (the\n"
        "estimators' parameter) and fingerprint (whether a checkpoint resumes only with the same value).");
  m.def("set_threads", &backprop::kernels::set_thread_count, "threads"_a,
        "Threads of the matrix products for the whole process, 1 to 1024 (ValueError otherwise); the default\n"
        "is the machine's cores. Results do not depend on it. A change waits for the product running now.");
}
