// Training checkpoints; the layout is specified in include/backprop/train/checkpoint.hpp.
#include "backprop/train/checkpoint.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "io/binary.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/base/read_file.hpp"
#include "backprop/io/write_file.hpp"
#include "backprop/nn/initializer.hpp"

namespace backprop {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMagic{"BKCKPT\r\n", 8};
constexpr std::size_t kFixedHeaderBytes = 16;  // magic, version, header length
constexpr std::size_t kChecksumBytes = 8;
constexpr std::string_view kFormatName = "backprop-checkpoint";

using io::append_u32;
using io::append_u64;
using io::Fnv1a;
using io::fnv1a_64;
using io::read_u32;
using io::read_u64;

void append_floats(std::string& out, const std::vector<float>& values) {
  for (float v : values) append_u32(out, std::bit_cast<std::uint32_t>(v));
}

std::uint64_t bits(double value) { return std::bit_cast<std::uint64_t>(value); }

// ---- header JSON ----

Json metrics_json(const Metrics& m) {
  return {{"loss", bits(m.loss)}, {"accuracy", bits(m.accuracy)}, {"rmse", bits(m.rmse)}, {"mae", bits(m.mae)},
          {"rows", m.rows}};
}

Json run_json(const RunFingerprint& run) {
  Json j;
  j["settings"] = Json::parse(run.settings);
  j["initial_parameters"] = run.initial_parameters;
  j["scaling"] = run.scaling;
  j["train"] = {{"rows", run.train_rows}, {"features", run.train_features}, {"checksum", run.train_checksum}};
  j["validation"] = run.has_validation ? Json{{"rows", run.validation_rows}, {"checksum", run.validation_checksum}}
                                       : Json(nullptr);
  j["deterministic"] = run.deterministic;
  return j;
}

Json state_json(const TrainingState& s) {
  Json j;
  j["epoch"] = s.epoch;
  j["batch"] = s.batch;
  j["step"] = s.step;
  j["order_random"] = s.order_random;
  j["dropout_random"] = s.dropout_random;
  j["learning_rate"] = bits(s.learning_rate);
  // The counts are whole numbers in the file (the format predates MetricSums' doubles).
  const auto count = [](double v) { return static_cast<std::size_t>(v); };
  j["sums"] = {{"loss_sum", bits(s.sums.loss)}, {"squared_error", bits(s.sums.squared_error)},
               {"absolute_error", bits(s.sums.absolute_error)}, {"correct", count(s.sums.correct)},
               {"rows", count(s.sums.rows)}, {"values", count(s.sums.values)}};
  j["optimizer_steps"] = s.optimizer_steps;
  j["best_validation_loss"] = bits(s.best_validation_loss);
  j["epochs_without_improvement"] = s.epochs_without_improvement;
  Json history = Json::array();
  for (const auto& m : s.history)
    history.push_back({{"epoch", m.epoch}, {"learning_rate", bits(m.learning_rate)}, {"seconds", bits(m.seconds)},
                       {"train", metrics_json(m.train)}, {"has_validation", m.has_validation},
                       {"validation", metrics_json(m.validation)}});
  j["history"] = std::move(history);
  return j;
}

// Reads the header's values; any missing or mistyped key is an error naming its path.
class HeaderReader {
 public:
  explicit HeaderReader(std::string where) : where_(std::move(where)) {}

  const Json& at(const Json& object, const char* key, const std::string& path) const {
    if (!object.is_object() || !object.contains(key)) fail(path + key, "missing");
    return object[key];
  }
  template <typename T>
  T whole(const Json& object, const char* key, const std::string& path = "") const {
    const Json& v = at(object, key, path);
    if (!v.is_number_integer()) fail(path + key, "expected a whole number");
    if constexpr (std::is_unsigned_v<T>) {
      if (!v.is_number_unsigned()) fail(path + key, "expected a whole number >= 0");
    }
    return v.get<T>();
  }
  double real(const Json& object, const char* key, const std::string& path = "") const {
    return std::bit_cast<double>(whole<std::uint64_t>(object, key, path));
  }
  std::string text(const Json& object, const char* key, const std::string& path = "") const {
    const Json& v = at(object, key, path);
    if (!v.is_string()) fail(path + key, "expected a string");
    return v.get<std::string>();
  }
  bool flag(const Json& object, const char* key, const std::string& path = "") const {
    const Json& v = at(object, key, path);
    if (!v.is_boolean()) fail(path + key, "expected true or false");
    return v.get<bool>();
  }
  Metrics metrics(const Json& object, const std::string& path) const {
    Metrics m;
    m.loss = real(object, "loss", path);
    m.accuracy = real(object, "accuracy", path);
    m.rmse = real(object, "rmse", path);
    m.mae = real(object, "mae", path);
    m.rows = whole<std::size_t>(object, "rows", path);
    return m;
  }
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw_bad_input(where_ + path + ": " + what);
  }

 private:
  std::string where_;
};

RunFingerprint read_run(const HeaderReader& r, const Json& run) {
  RunFingerprint f;
  const Json& settings = r.at(run, "settings", "run.");
  if (!settings.is_object()) r.fail("run.settings", "expected an object");
  f.settings = settings.dump();
  f.initial_parameters = r.whole<std::uint64_t>(run, "initial_parameters", "run.");
  f.scaling = r.whole<std::uint64_t>(run, "scaling", "run.");
  const Json& train = r.at(run, "train", "run.");
  f.train_rows = r.whole<std::size_t>(train, "rows", "run.train.");
  f.train_features = r.whole<int>(train, "features", "run.train.");
  f.train_checksum = r.whole<std::uint64_t>(train, "checksum", "run.train.");
  const Json& validation = r.at(run, "validation", "run.");
  f.has_validation = !validation.is_null();
  if (f.has_validation) {
    f.validation_rows = r.whole<std::size_t>(validation, "rows", "run.validation.");
    f.validation_checksum = r.whole<std::uint64_t>(validation, "checksum", "run.validation.");
  }
  f.deterministic = r.flag(run, "deterministic", "run.");
  return f;
}

TrainingState read_state(const HeaderReader& r, const Json& s) {
  TrainingState state;
  const std::string p = "state.";
  state.epoch = r.whole<int>(s, "epoch", p);
  if (state.epoch < 1) r.fail(p + "epoch", "expected a whole number >= 1");
  state.batch = r.whole<std::size_t>(s, "batch", p);
  state.step = r.whole<long>(s, "step", p);
  state.order_random = r.text(s, "order_random", p);
  state.dropout_random = r.text(s, "dropout_random", p);
  for (const auto* random_state : {&state.order_random, &state.dropout_random}) {
    try {
      Random(0).set_state(*random_state);
    } catch (const Error&) {
      r.fail(p + (random_state == &state.order_random ? "order_random" : "dropout_random"),
             "expected a random generator state");
    }
  }
  state.learning_rate = r.real(s, "learning_rate", p);
  const Json& sums = r.at(s, "sums", p);
  state.sums.loss = r.real(sums, "loss_sum", p + "sums.");
  state.sums.squared_error = r.real(sums, "squared_error", p + "sums.");
  state.sums.absolute_error = r.real(sums, "absolute_error", p + "sums.");
  state.sums.correct = static_cast<double>(r.whole<std::size_t>(sums, "correct", p + "sums."));
  state.sums.rows = static_cast<double>(r.whole<std::size_t>(sums, "rows", p + "sums."));
  state.sums.values = static_cast<double>(r.whole<std::size_t>(sums, "values", p + "sums."));
  state.optimizer_steps = r.whole<long>(s, "optimizer_steps", p);
  state.best_validation_loss = r.real(s, "best_validation_loss", p);
  state.epochs_without_improvement = r.whole<int>(s, "epochs_without_improvement", p);
  const Json& history = r.at(s, "history", p);
  if (!history.is_array()) r.fail(p + "history", "expected an array");
  for (std::size_t i = 0; i < history.size(); ++i) {
    const std::string path = p + "history[" + std::to_string(i) + "].";
    const Json& h = history[i];
    EpochMetrics m;
    m.epoch = r.whole<int>(h, "epoch", path);
    m.learning_rate = r.real(h, "learning_rate", path);
    m.seconds = r.real(h, "seconds", path);
    m.train = r.metrics(r.at(h, "train", path), path + "train.");
    m.has_validation = r.flag(h, "has_validation", path);
    m.validation = r.metrics(r.at(h, "validation", path), path + "validation.");
    state.history.push_back(m);
  }
  return state;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  const TrainingState& s = checkpoint.state;
  const std::string model = io::model_to_json(checkpoint.model);
  const std::size_t arena = s.optimizer_state.empty() ? s.best_parameters.size() : s.optimizer_state.front().size();
  Json header;
  header["format"] = std::string(kFormatName);
  header["run"] = run_json(checkpoint.run);
  header["state"] = state_json(s);
  header["sizes"] = {{"model_bytes", model.size()},
                     {"order", s.order.size()},
                     {"arena", arena},
                     {"optimizer_arenas", s.optimizer_state.size()},
                     {"best_parameters", s.best_parameters.size()}};
  const std::string header_text = header.dump();

  std::string bytes;
  bytes.reserve(kFixedHeaderBytes + header_text.size() + model.size() + 8 * s.order.size() +
                4 * arena * (s.optimizer_state.size() + 1) + kChecksumBytes);
  bytes.append(kMagic);
  append_u32(bytes, kCheckpointFormatVersion);
  append_u32(bytes, static_cast<std::uint32_t>(header_text.size()));
  bytes.append(header_text);
  bytes.append(model);
  for (std::size_t index : s.order) append_u64(bytes, index);
  for (const auto& values : s.optimizer_state) append_floats(bytes, values);
  append_floats(bytes, s.best_parameters);
  append_u64(bytes, fnv1a_64(bytes));
  io::write_file_atomically(path, bytes);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  const std::string file = path.string();
  // The magic first: a file that is not a checkpoint is refused from its first bytes, not read whole.
  const std::string bytes = read_file(path, [&file](std::string_view start, bool) -> ReadLimit {
    if (start.substr(0, kMagic.size()) != kMagic.substr(0, std::min(start.size(), kMagic.size())))
      throw_bad_input(file + ": offset 0: wrong magic: expected \"BKCKPT\\r\\n\" (a checkpoint written by backprop "
                      "train --checkpoint) (not a usable checkpoint)");
    return {kMaxReadFileBytes, "the most a checkpoint is read"};
  });
  const std::size_t size = bytes.size();
  auto fail = [&](std::size_t offset, const std::string& what) {
    throw_bad_input(file + ": offset " + std::to_string(offset) + ": " + what + " (not a usable checkpoint)");
  };
  if (std::string_view(bytes).substr(0, kMagic.size()) != kMagic.substr(0, std::min(size, kMagic.size())))
    fail(0, "wrong magic: expected \"BKCKPT\\r\\n\" (a checkpoint written by backprop train --checkpoint)");
  if (size < kFixedHeaderBytes + kChecksumBytes)
    fail(size, "truncated: " + std::to_string(size) + " bytes, a checkpoint has at least " +
                   std::to_string(kFixedHeaderBytes + kChecksumBytes));
  const std::uint32_t version = read_u32(bytes, 8);
  if (version != kCheckpointFormatVersion)
    fail(8, "format version " + std::to_string(version) + ", this program reads version " +
                std::to_string(kCheckpointFormatVersion));
  // The checksum first: a damaged file is refused as damaged, whatever byte was hit.
  const std::uint64_t stored = read_u64(bytes, size - kChecksumBytes);
  if (stored != fnv1a_64(std::string_view(bytes).substr(0, size - kChecksumBytes)))
    fail(size - kChecksumBytes, "checksum mismatch: the file is damaged or truncated");

  const std::uint64_t header_length = read_u32(bytes, 12);
  if (header_length > size - kFixedHeaderBytes - kChecksumBytes) fail(12, "header length does not fit in the file");
  Json header;
  try {
    header = Json::parse(bytes.begin() + kFixedHeaderBytes, bytes.begin() + kFixedHeaderBytes + header_length);
  } catch (const Json::exception& e) {
    fail(kFixedHeaderBytes, std::string("header: ") + e.what());
  }
  const HeaderReader r(file + ": header: ");
  if (!header.is_object() || !header.contains("format") || header["format"] != kFormatName)
    r.fail("format", "expected \"backprop-checkpoint\"");
  Checkpoint checkpoint;
  checkpoint.run = read_run(r, r.at(header, "run", ""));
  checkpoint.state = read_state(r, r.at(header, "state", ""));
  const Json& sizes = r.at(header, "sizes", "");
  const auto model_bytes = r.whole<std::uint64_t>(sizes, "model_bytes", "sizes.");
  const auto order = r.whole<std::uint64_t>(sizes, "order", "sizes.");
  const auto arena = r.whole<std::uint64_t>(sizes, "arena", "sizes.");
  const auto arenas = r.whole<std::uint64_t>(sizes, "optimizer_arenas", "sizes.");
  const auto best = r.whole<std::uint64_t>(sizes, "best_parameters", "sizes.");
  // The best epoch's state is the parameters (an arena), then the running statistics of the kinds that keep them
  // (batch_norm): at least an arena; the trainer checks its exact size against the network it resumes.
  if (arenas > 16 || (best != 0 && best < arena)) r.fail("sizes", "not the sizes of a training state");

  std::size_t offset = kFixedHeaderBytes + header_length;
  const std::uint64_t room = size - kChecksumBytes - offset;
  // Each term is checked against what is left before it is used, so nothing overflows (arenas <= 16).
  const std::uint64_t after_model = model_bytes <= room ? room - model_bytes : 0;
  const std::uint64_t floats = order <= after_model / 8 ? (after_model - 8 * order) / 4 : 0;
  const bool fits = model_bytes <= room && order <= after_model / 8 && arena <= floats && arenas * arena <= floats &&
                    best <= floats - arenas * arena &&
                    model_bytes + 8 * order + 4 * (arenas * arena + best) == room;
  if (!fits) fail(offset, "the sizes in the header do not match the file's " + std::to_string(size) + " bytes");

  checkpoint.model = io::load_model_bytes(std::string_view(bytes).substr(offset, model_bytes), file + ": model");
  offset += model_bytes;
  checkpoint.state.order.resize(order);
  for (auto& index : checkpoint.state.order) {
    index = read_u64(bytes, offset);
    if (index >= order) fail(offset, "a row index " + std::to_string(index) + " outside the " + std::to_string(order) + " rows");
    offset += 8;
  }
  auto read_floats = [&](std::vector<float>& values, std::uint64_t count) {
    values.resize(count);
    for (float& v : values) {
      v = std::bit_cast<float>(read_u32(bytes, offset));
      offset += 4;
    }
  };
  checkpoint.state.optimizer_state.resize(arenas);
  for (auto& values : checkpoint.state.optimizer_state) read_floats(values, arena);
  read_floats(checkpoint.state.best_parameters, best);
  return checkpoint;
}

void check_same_run(const Checkpoint& checkpoint, const RunFingerprint& run, const std::filesystem::path& path) {
  const std::string what = run_difference(checkpoint.run, run);
  if (!what.empty())
    throw_bad_input(path.string() + ": this checkpoint was written by a different run: " + what +
                    "; resume with the same network file, data and options as the run that wrote it");
}

}  // namespace backprop
