// The Python module `backprop` (pybind11) over the same library as the command:
//
//   net = backprop.Network.from_file("examples/xor.json")      # a network file or a model (binary or JSON)
//   history = net.fit(X, y, epochs=20, batch_size=32, optimizer="adam", learning_rate=1e-3,
//                     validation_split=0.1, seed=1, scale="standard")   # list of per-epoch dicts
//   P = net.predict(X)              # (N, K) class probabilities, or (N, OUT) outputs for regression
//   net.evaluate(X, y)              # {"loss", "accuracy", "rows"} or {"loss", "rmse", "mae", "rows"}
//   net.save("model.bin")           # a model file (scaling and classes included); backprop.load reads it
//   backprop.trace("examples/seed.json", input=[1, 2, 3, 4], target=[1], steps=2, loss="bce")
//
// Arrays: X is (N, IN) and is read as float32, C order; an array already of that type and layout is used
// in place (predict reads it batch by batch without a copy; fit and evaluate copy it once into the
// library's Dataset, which owns its rows). y is (N,) integer class indices 0..K-1 for a classification
// network (softmax_ce, or bce with one sigmoid output: K = 2), and (N,) or (N, OUT) numbers otherwise.
//
// Errors: backprop::Error of kind bad_input becomes ValueError, runtime (divergence) RuntimeError, with the
// library's message. The GIL is released while the library computes (fit, predict, evaluate); one
// Network must not be used from two Python threads at once.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/error.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/io/text.hpp"
#include "backprop/kernels/device.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/nn/trace.hpp"
#include "backprop/train/progress.hpp"
#include "backprop/train/trainer.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace backprop::python {
namespace {

// float32, C order: taken as is when the caller's array already is; otherwise numpy converts it once.
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IndexArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

// As the command decides (cli/arguments.cpp): class labels for softmax_ce, and for bce with one output.
TaskKind task_of(const NetworkSpec& spec) {
  if (spec.loss == LossKind::softmax_ce) return TaskKind::classification;
  if (spec.loss == LossKind::bce && spec.output() == 1) return TaskKind::classification;
  return TaskKind::regression;
}
int class_count(const NetworkSpec& spec) { return spec.output() == 1 ? 2 : spec.output(); }

std::string architecture(const NetworkSpec& spec) {
  std::string text = std::to_string(spec.input);
  for (const auto& layer : spec.layers) {
    text += '-';
    text += std::to_string(layer.units);
  }
  return text;
}

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

// A model, a model exported as JSON, or a network file. A JSON file's network is read with its numbers as
// written, in double (as `backprop trace` reads it), so that a trace of it matches the file exactly; the
// float32 network built from it is the same either way.
io::Model read_model(const std::filesystem::path& path) {
  io::Model model = io::load_model(path);
  const std::string text = io::read_file(path);
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') model.network = io::parse_network(text, path.string());
  return model;
}

class PythonNetwork {
 public:
  explicit PythonNetwork(io::Model model)
      : network_(std::make_unique<Network<float>>(model.network)),
        scaling_(std::move(model.scaling)),
        classes_(std::move(model.classes)),
        targets_(std::move(model.targets)),
        features_(std::move(model.features)) {}

  static PythonNetwork from_file(const std::filesystem::path& path) { return PythonNetwork(read_model(path)); }
  static PythonNetwork from_json(const std::string& text) {
    io::Model model;
    model.network = io::parse_network(text, "<json>");
    return PythonNetwork(std::move(model));
  }

  const NetworkSpec& spec() const { return network_->spec(); }
  bool classification() const { return task_of(spec()) == TaskKind::classification; }

  // The spec to trace: as loaded (its weights in double, exactly as the file wrote them) until the
  // network has been trained, then the trained float32 parameters.
  NetworkSpec spec_for_trace() const { return trained_ ? network_->spec_with_parameters() : network_->spec(); }

  py::list fit(const FloatArray& x, const py::array& y, std::optional<int> epochs, std::optional<int> batch_size,
               std::optional<std::string> optimizer, std::optional<double> learning_rate,
               std::optional<double> momentum, std::optional<double> weight_decay,
               std::optional<std::string> schedule, std::optional<long> warmup,
               std::optional<double> clip_grad_norm, std::optional<double> dropout,
               std::optional<int> early_stopping, std::optional<double> validation_split,
               std::optional<std::uint64_t> seed, std::optional<std::string> scale, bool verbose,
               const std::string& device_name) {
    // Training continues from the current parameters; the options override the network file's recipe.
    NetworkSpec spec = network_->spec_with_parameters();
    TrainingSpec& t = spec.training;
    if (epochs) {
      if (*epochs < 1) throw_bad_input("epochs: expected a number >= 1, got " + std::to_string(*epochs));
      t.epochs = *epochs;
    }
    if (batch_size) {
      if (*batch_size < 1) throw_bad_input("batch_size: expected a number >= 1, got " + std::to_string(*batch_size));
      t.batch_size = *batch_size;
    }
    if (optimizer) spec.optimizer.type = *optimizer;
    if (learning_rate) spec.optimizer.learning_rate = *learning_rate;
    if (momentum) spec.optimizer.momentum = *momentum;
    if (weight_decay) spec.optimizer.weight_decay = *weight_decay;
    if (schedule) {
      const auto kind = parse_schedule(*schedule);
      if (!kind) throw_bad_input("schedule: expected constant, step or cosine, got '" + *schedule + "'");
      t.schedule.kind = *kind;
    }
    if (warmup) t.schedule.warmup_steps = *warmup;
    if (clip_grad_norm) {
      if (!(*clip_grad_norm > 0) || !std::isfinite(*clip_grad_norm))
        throw_bad_input("clip_grad_norm: expected a positive number, got " + io::format_double(*clip_grad_norm));
      t.clip_grad_norm = *clip_grad_norm;
    }
    if (dropout)
      for (std::size_t l = 0; l + 1 < spec.layers.size(); ++l) spec.layers[l].dropout = *dropout;
    if (early_stopping) {
      if (*early_stopping < 0)
        throw_bad_input("early_stopping: expected a patience >= 0 (0: off), got " + std::to_string(*early_stopping));
      t.early_stopping = *early_stopping;
    }
    if (validation_split) {
      if (!(*validation_split >= 0 && *validation_split < 1))
        throw_bad_input("validation_split: expected a fraction in [0, 1), got " + io::format_double(*validation_split));
      t.validation_split = *validation_split;
    }
    if (seed) spec.seed = *seed;
    if (scale) {
      const auto kind = parse_scaling(*scale);
      if (!kind) throw_bad_input("scale: expected none, standard or minmax, got '" + *scale + "'");
      t.scale = *kind;
    }
    validate(spec);
    validate(spec.optimizer);
    validate(spec.training.schedule);

    Dataset train_data = dataset_of(spec, x, y);
    const bool is_classification = train_data.task == TaskKind::classification;
    auto network = std::make_unique<Network<float>>(spec);
    const auto device = kernels::open_device(device_name);
    TrainingResult result;
    Scaling scaling = scaling_;
    {
      py::gil_scoped_release release;
      Dataset validation_data;
      const bool has_validation = t.validation_split > 0;
      if (has_validation) split_validation(train_data, validation_data, t.validation_split, spec.seed);
      // Fitted on the training rows; a trained model keeps its own unless `scale` asks for a new one
      // (its parameters were learnt on inputs scaled that way), as `backprop train` does.
      if (scaling.empty() || scale) scaling = fit_scaling(t.scale, train_data);
      ObserverList observers;
      InterruptCheck interrupt;
      observers.add(&interrupt);
      ConsoleProgress progress(stdout, ::isatty(STDOUT_FILENO) != 0, is_classification);
      if (verbose) observers.add(&progress);
      result = train(*network, train_data, has_validation ? &validation_data : nullptr, scaling, &observers, nullptr,
                     {nullptr, false, device.get()});
      std::fflush(stdout);
    }
    network_ = std::move(network);
    scaling_ = std::move(scaling);
    classes_ = train_data.class_names;
    targets_ = train_data.target_names;
    trained_ = true;

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

  // (N, K) probabilities for classification (K = 2 for one sigmoid output: [1 - p, p]), or (N, OUT)
  // outputs. A 1-D X is one row. Rows are read in place when no scaling applies.
  py::array_t<float> predict(const FloatArray& x) const {
    const int in = network_->input_size();
    if (x.ndim() != 1 && x.ndim() != 2)
      throw_bad_input("X: expected a 2-D array (rows, " + std::to_string(in) + "), got shape " + shape_text(x));
    const std::size_t rows = x.ndim() == 1 ? 1 : static_cast<std::size_t>(x.shape(0));
    const py::ssize_t columns = x.shape(x.ndim() - 1);
    if (columns != in)
      throw_bad_input("X: expected " + std::to_string(in) + " features per row (the network's inputs), got shape " +
                      shape_text(x));
    const int outputs = network_->output_size();
    const bool two_class_sigmoid = classification() && outputs == 1;
    const std::size_t result_columns = two_class_sigmoid ? 2 : static_cast<std::size_t>(outputs);
    py::array_t<float> result({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(result_columns)});
    if (rows == 0) return result;
    if (!scaling_.empty() && scaling_.offset.size() != static_cast<std::size_t>(in))
      throw_bad_input("the model's scaling has " + std::to_string(scaling_.offset.size()) + " features, expected " +
                      std::to_string(in));

    const float* source = x.data();
    float* out = result.mutable_data();
    {
      py::gil_scoped_release release;
      forward_rows(out, source, rows, two_class_sigmoid);
    }
    return result;
  }

  py::dict evaluate(const FloatArray& x, const py::array& y, int batch_size, const std::string& device_name) const {
    if (batch_size < 1) throw_bad_input("batch_size: expected a number >= 1, got " + std::to_string(batch_size));
    const Dataset data = dataset_of(spec(), x, y);
    const auto device = kernels::open_device(device_name);
    Metrics m;
    {
      py::gil_scoped_release release;
      m = backprop::evaluate(*network_, data, scaling_, batch_size, device.get());
    }
    py::dict d = metrics_dict(m, data.task == TaskKind::classification, "");
    d["rows"] = m.rows;
    return d;
  }

  void save(const std::filesystem::path& path, const std::string& format) const {
    io::Model model;
    model.network = network_->spec_with_parameters();
    model.scaling = scaling_;
    model.classes = classes_;
    model.targets = targets_;
    model.features = features_;
    if (format == "binary")
      io::save_model(path, model);
    else if (format == "json")
      io::export_model_json(path, model);
    else
      throw_bad_input("format: expected binary or json, got '" + format + "'");
  }

  py::list layers() const {
    py::list list;
    for (const LayerSpec& layer : spec().layers) {
      py::dict d("units"_a = layer.units, "activation"_a = std::string(to_string(layer.activation)));
      if (layer.activation == Activation::leaky_relu) d["slope"] = layer.slope;
      d["dropout"] = layer.dropout;
      list.append(std::move(d));
    }
    return list;
  }

  py::object scaling() const {
    if (scaling_.empty()) return py::none();
    return py::dict("kind"_a = std::string(to_string(scaling_.kind)), "offset"_a = array_of(scaling_.offset),
                    "scale"_a = array_of(scaling_.scale));
  }

  std::size_t checked_layer(long layer) const {
    const long count = static_cast<long>(network_->layer_count());
    if (layer < 0) layer += count;  // Python's negative indices
    if (layer < 0 || layer >= count)
      throw py::index_error("layer " + std::to_string(layer) + " out of range: the network has " +
                            std::to_string(count) + " layers");
    return static_cast<std::size_t>(layer);
  }
  // Copies of layer l's parameters: weights (IN, OUT), bias (OUT).
  py::array_t<float> weights(long layer) const {
    const std::size_t l = checked_layer(layer);
    const auto w = network_->weights(l);
    return array_of(std::vector<float>(w.begin(), w.end()), network_->layer(l).in, network_->layer(l).out);
  }
  py::array_t<float> bias(long layer) const {
    const auto b = network_->bias(checked_layer(layer));
    return array_of(std::vector<float>(b.begin(), b.end()));
  }

  std::string repr() const {
    return "<backprop.Network " + architecture(spec()) + ", loss " + std::string(to_string(spec().loss)) +
           (classes_.empty() ? "" : ", " + std::to_string(classes_.size()) + " classes") + ">";
  }

  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<std::string>& targets() const { return targets_; }

 private:
  // out (rows, OUT), or (rows, 2) for two_class_sigmoid = the network's outputs for x (rows, IN), in
  // batches of 256, each scaled into a buffer when the model has a scaling, else read where it lies.
  void forward_rows(float* out, const float* x, std::size_t rows, bool two_class_sigmoid) const {
    const int in = network_->input_size();
    const int outputs = network_->output_size();
    const std::size_t out_columns = two_class_sigmoid ? 2 : static_cast<std::size_t>(outputs);
    const int batch_size = static_cast<int>(std::min<std::size_t>(256, rows));
    Workspace<float> workspace(*network_, batch_size);
    std::vector<float> scaled(scaling_.empty() ? 0 : static_cast<std::size_t>(batch_size) * in);  // (B, IN)
    for (std::size_t start = 0; start < rows; start += batch_size) {
      const std::size_t count = std::min<std::size_t>(batch_size, rows - start);
      const float* batch = x + start * in;  // (count, IN)
      if (!scaling_.empty()) {
        for (std::size_t r = 0; r < count; ++r)
          for (int f = 0; f < in; ++f)  // as Dataset::gather_rows: in double, then float
            scaled[r * in + f] = static_cast<float>((static_cast<double>(batch[r * in + f]) - scaling_.offset[f]) /
                                                    scaling_.scale[f]);
        batch = scaled.data();
      }
      network_->forward(workspace, batch, static_cast<int>(count));
      const float* a = network_->output(workspace);  // (count, OUT)
      float* rows_out = out + start * out_columns;   // (count, out_columns)
      if (two_class_sigmoid) {
        for (std::size_t r = 0; r < count; ++r) {
          rows_out[2 * r] = 1.0f - a[r];
          rows_out[2 * r + 1] = a[r];
        }
      } else {
        std::copy(a, a + count * outputs, rows_out);
      }
    }
  }

  // The arrays as the library's Dataset (X is copied: a Dataset owns its rows). Checks shapes, label
  // ranges and finiteness with messages naming the row and column.
  Dataset dataset_of(const NetworkSpec& spec, const FloatArray& x, const py::array& y) const {
    Dataset d;
    d.source = "X";
    if (x.ndim() != 2)
      throw_bad_input("X: expected a 2-D array (rows, features), got shape " + shape_text(x));
    const auto rows = static_cast<std::size_t>(x.shape(0));
    if (x.shape(1) != spec.input)
      throw_bad_input("X: expected " + std::to_string(spec.input) + " features per row (the network's inputs), got shape " +
                      shape_text(x));
    if (rows == 0) throw_bad_input("X: expected at least one row, got none");
    d.rows = rows;
    d.features = spec.input;
    d.features_f32.assign(x.data(), x.data() + rows * spec.input);
    for (std::size_t i = 0; i < d.features_f32.size(); ++i)
      if (!std::isfinite(d.features_f32[i]))
        throw_bad_input("X: row " + std::to_string(i / spec.input) + ", column " + std::to_string(i % spec.input) +
                        ": expected a finite number, got " + io::format_float(d.features_f32[i]));

    const bool labelled_rows = y.ndim() == 1 || (y.ndim() == 2 && y.shape(1) == 1);
    d.task = task_of(spec);
    if (d.task == TaskKind::classification) {
      const int classes = class_count(spec);
      const char kind = y.dtype().kind();
      if ((kind != 'i' && kind != 'u' && kind != 'b') || !labelled_rows)
        throw_bad_input("y: expected class indices in [0, " + std::to_string(classes) +
                        ") as a 1-D integer array (the network classifies), got an array of " +
                        std::string(py::str(y.dtype())) + " of shape " + shape_text(y));
      if (static_cast<std::size_t>(y.shape(0)) != rows)
        throw_bad_input("y: expected " + std::to_string(rows) + " labels (one per row of X), got " +
                        std::to_string(y.shape(0)));
      const IndexArray labels = IndexArray::ensure(y);
      d.labels.resize(rows);
      for (std::size_t r = 0; r < rows; ++r) {
        const std::int64_t label = labels.data()[r];
        if (label < 0 || label >= classes)
          throw_bad_input("y: row " + std::to_string(r) + ": expected a class index in [0, " + std::to_string(classes) +
                          "), got " + std::to_string(label));
        d.labels[r] = static_cast<std::int32_t>(label);
      }
      if (static_cast<int>(classes_.size()) == classes) {
        d.class_names = classes_;
      } else {
        for (int c = 0; c < classes; ++c) d.class_names.push_back(std::to_string(c));
      }
      return d;
    }

    const int outputs = spec.output();
    const bool fits = y.ndim() == 2 ? y.shape(1) == outputs : (y.ndim() == 1 && outputs == 1);
    if (!fits || static_cast<std::size_t>(y.shape(0)) != rows)
      throw_bad_input("y: expected targets of shape (" + std::to_string(rows) + ", " + std::to_string(outputs) + ")" +
                      (outputs == 1 ? " or (" + std::to_string(rows) + ",)" : std::string()) +
                      " (one row per row of X, one number per output), got shape " + shape_text(y));
    const char kind = y.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u')
      throw_bad_input("y: expected numbers (the network does regression), got an array of " +
                      std::string(py::str(y.dtype())));
    const FloatArray targets = FloatArray::ensure(y);
    d.targets.assign(targets.data(), targets.data() + rows * outputs);
    for (std::size_t i = 0; i < d.targets.size(); ++i)
      if (!std::isfinite(d.targets[i]))
        throw_bad_input("y: row " + std::to_string(i / outputs) + ", column " + std::to_string(i % outputs) +
                        ": expected a finite number, got " + io::format_float(d.targets[i]));
    d.target_count = outputs;
    if (static_cast<int>(targets_.size()) == outputs) d.target_names = targets_;
    return d;
  }

  std::unique_ptr<Network<float>> network_;
  Scaling scaling_;
  std::vector<std::string> classes_;
  std::vector<std::string> targets_;
  std::vector<std::string> features_;
  bool trained_ = false;
};

// backprop.trace: every figure of `steps` plain SGD steps on one batch, in double precision.
py::list trace_network(const py::object& network, const DoubleArray& input, const DoubleArray& target, int steps,
                       std::optional<std::string> loss, std::optional<double> learning_rate) {
  NetworkSpec spec;
  if (py::isinstance<PythonNetwork>(network)) {
    spec = network.cast<const PythonNetwork&>().spec_for_trace();
  } else {
    std::filesystem::path path;
    try {
      path = network.cast<std::filesystem::path>();
    } catch (const py::cast_error&) {
      throw py::type_error("network: expected a path (a network file or a model) or a backprop.Network, got " +
                           std::string(py::str(py::type::of(network))));
    }
    spec = read_model(path).network;
  }
  TraceOptions options;
  options.input.assign(input.data(), input.data() + input.size());
  options.target.assign(target.data(), target.data() + target.size());
  options.steps = steps;
  if (loss) {
    options.loss = parse_loss(*loss);
    if (!options.loss) throw_bad_input("loss: expected mse, bce or softmax_ce, got '" + *loss + "'");
  }
  options.learning_rate = learning_rate;
  const Trace result = trace(spec, options);

  const auto batch = static_cast<std::size_t>(result.batch);
  py::list out;
  for (const TraceStep& step : result.steps) {
    py::list layers;
    for (const TraceLayer& l : step.layers) {
      const auto in = static_cast<std::size_t>(l.in);
      const auto units = static_cast<std::size_t>(l.out);
      layers.append(py::dict("activation"_a = std::string(to_string(l.activation)), "z"_a = array_of(l.z, batch, units),
                             "a"_a = array_of(l.a, batch, units), "delta"_a = array_of(l.delta, batch, units),
                             "grad_weights"_a = array_of(l.grad_weights, in, units),
                             "grad_bias"_a = array_of(l.grad_bias), "weights"_a = array_of(l.weights, in, units),
                             "bias"_a = array_of(l.bias)));
    }
    out.append(py::dict("step"_a = step.step, "loss"_a = step.loss, "layers"_a = std::move(layers)));
  }
  return out;
}

}  // namespace
}  // namespace backprop::python

PYBIND11_MODULE(backprop, m) {
  using backprop::python::PythonNetwork;
  m.doc() = "Feedforward neural networks by an explicit forward pass and backpropagation (the backprop C++ library)";
  m.attr("__version__") = BACKPROP_VERSION;

  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const backprop::Error& e) {
      PyErr_SetString(e.kind() == backprop::ErrorKind::bad_input ? PyExc_ValueError : PyExc_RuntimeError, e.what());
    }
  });

  py::class_<PythonNetwork>(m, "Network",
                            "A network with its feature scaling and class names: what a model file holds.")
      .def_static("from_file", &PythonNetwork::from_file, "path"_a,
                  "Load a network file (JSON) or a model (binary, or JSON from `backprop export`).")
      .def_static("from_json", &PythonNetwork::from_json, "text"_a, "A network from the text of a network file.")
      .def("fit", &PythonNetwork::fit, "X"_a, "y"_a, py::kw_only(), "epochs"_a = py::none(),
           "batch_size"_a = py::none(), "optimizer"_a = py::none(), "learning_rate"_a = py::none(),
           "momentum"_a = py::none(), "weight_decay"_a = py::none(), "schedule"_a = py::none(),
           "warmup"_a = py::none(), "clip_grad_norm"_a = py::none(), "dropout"_a = py::none(),
           "early_stopping"_a = py::none(), "validation_split"_a = py::none(), "seed"_a = py::none(),
           "scale"_a = py::none(), "verbose"_a = false, "device"_a = "",
           "Train on X (N, IN) and y: class indices (N,) for a classifier, numbers (N,) or (N, OUT) otherwise.\n"
           "device: 'cpu' or 'cuda'; '' (default): $BACKPROP_DEVICE, else the GPU when there is one.\n"
           "Options left None keep the network file's recipe ('training', 'optimizer'); training continues from\n"
           "the current parameters. Returns the history: one dict per epoch (epoch, learning_rate, seconds, loss,\n"
           "accuracy or rmse and mae, and validation_... with a validation split).")
      .def("predict", &PythonNetwork::predict, "X"_a,
           "(N, K) class probabilities (K = 2 for one sigmoid output) or (N, OUT) outputs, float32.")
      .def("evaluate", &PythonNetwork::evaluate, "X"_a, "y"_a, py::kw_only(), "batch_size"_a = 256, "device"_a = "",
           "{'loss', 'accuracy', 'rows'} for a classifier, {'loss', 'rmse', 'mae', 'rows'} otherwise.")
      .def("save", &PythonNetwork::save, "path"_a, py::kw_only(), "format"_a = "binary",
           "Write a model file (atomically): binary, or format='json' (readable, reads back bit-exact).")
      .def("weights", &PythonNetwork::weights, "layer"_a, "A copy of layer's weights, (IN, OUT) float32.")
      .def("bias", &PythonNetwork::bias, "layer"_a, "A copy of layer's bias, (OUT,) float32.")
      .def_property_readonly("layers", &PythonNetwork::layers, "One dict per layer: units, activation, dropout.")
      .def_property_readonly("architecture",
                             [](const PythonNetwork& n) { return backprop::python::architecture(n.spec()); })
      .def_property_readonly("input_size", [](const PythonNetwork& n) { return n.spec().input; })
      .def_property_readonly("output_size", [](const PythonNetwork& n) { return n.spec().output(); })
      .def_property_readonly("loss", [](const PythonNetwork& n) { return std::string(to_string(n.spec().loss)); })
      .def_property_readonly("task", [](const PythonNetwork& n) {
        return n.classification() ? "classification" : "regression";
      })
      .def_property_readonly("classes", &PythonNetwork::classes,
                             "Class names by index (set by fit or a model file; empty before).")
      .def_property_readonly("targets", &PythonNetwork::targets)
      .def_property_readonly("scaling", &PythonNetwork::scaling, "{'kind', 'offset', 'scale'} or None.")
      .def("__repr__", &PythonNetwork::repr);

  m.def("load", &PythonNetwork::from_file, "path"_a, "Network.from_file(path).");
  m.def("trace", &backprop::python::trace_network, "network"_a, py::kw_only(), "input"_a, "target"_a,
        "steps"_a = 1, "loss"_a = py::none(), "learning_rate"_a = py::none(),
        "Every figure of `steps` plain SGD steps on one batch, in double precision, as `backprop trace`:\n"
        "network is a path (network file or model) or a Network; input (B, IN) and target (B, OUT), or one row\n"
        "each. Returns a list of steps: {'step', 'loss', 'layers': [{'activation', 'z', 'a', 'delta' (B, OUT),\n"
        "'grad_weights', 'weights' (IN, OUT), 'grad_bias', 'bias' (OUT,)}]}; weights and bias after the step.");
  m.def("set_threads", &backprop::kernels::set_thread_count, "threads"_a,
        "Threads of the matrix products (OpenBLAS's pool).");
}
