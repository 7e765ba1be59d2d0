// The run's fingerprint (train/fingerprint.hpp): for resuming a checkpoint and for the ranks of an MPI job.
#include "backprop/train/fingerprint.hpp"

#include <nlohmann/json.hpp>

#include "backprop/dist/communicator.hpp"
#include "backprop/io/network_file.hpp"
#include "io/binary.hpp"

namespace backprop {
namespace {

using Json = nlohmann::json;
using io::Fnv1a;

std::uint64_t dataset_checksum(const Dataset& data) {
  Fnv1a f;
  f.add(data.features_f32.data(), data.features_f32.size() * sizeof(float));
  f.add(data.features_u8.data(), data.features_u8.size());
  f.add(data.labels.data(), data.labels.size() * sizeof(std::int32_t));
  f.add(data.targets.data(), data.targets.size() * sizeof(float));
  f.add(data.weights.data(), data.weights.size() * sizeof(float));  // none: the hash as before weights existed
  for (const auto& name : data.class_names) f.add(name);
  return f.hash;
}

std::string build_description() {
  std::string id = std::string("backprop ") + BACKPROP_VERSION + "; " + __VERSION__ + "; MPI " +
                   (dist::mpi_available() ? "on" : "off");
#ifdef __AVX512F__
  id += "; avx512f";
#endif
#ifdef __AVX2__
  id += "; avx2";
#endif
#ifdef __FMA__
  id += "; fma";
#endif
#ifdef __aarch64__
  id += "; aarch64";
#endif
  return id;
}

// The first place where two JSON values differ, as "optimizer.learning_rate: 0.01 there, 0.02 here".
std::string first_difference(const Json& saved, const Json& now, const std::string& path) {
  if (saved.is_object() && now.is_object()) {
    for (const auto& item : saved.items()) {
      const std::string child = path.empty() ? item.key() : path + "." + item.key();
      if (!now.contains(item.key())) return child + ": set there, not here";
      if (item.value() != now[item.key()]) return first_difference(item.value(), now[item.key()], child);
    }
    for (const auto& item : now.items())
      if (!saved.contains(item.key())) return (path.empty() ? item.key() : path + "." + item.key()) + ": set here, not there";
  }
  if (saved.is_array() && now.is_array() && saved.size() == now.size())
    for (std::size_t i = 0; i < saved.size(); ++i)
      if (saved[i] != now[i]) return first_difference(saved[i], now[i], path + "[" + std::to_string(i) + "]");
  return path + ": " + saved.dump() + " there, " + now.dump() + " here";
}

std::uint64_t hash_of(std::initializer_list<std::uint64_t> values) {
  Fnv1a f;
  for (const std::uint64_t v : values) f.add(&v, sizeof v);
  return f.hash;
}

}  // namespace

RunFingerprint fingerprint_run(const Network<float>& network, const Scaling& scaling, const Dataset& train,
                               const Dataset* validation, bool deterministic) {
  RunFingerprint f;
  f.build = build_description();
  f.deterministic = deterministic;
  NetworkSpec settings = network.spec();
  for (std::size_t l = 0; l < settings.layers.size(); ++l)
    for (const LayerArray& array : settings.arrays(l)) array.values(settings.layers[l]).clear();
  f.settings = Json::parse(io::network_to_json(settings)).dump();
  Fnv1a parameters;
  parameters.add(network.parameters().data(), network.parameters().size() * sizeof(float));
  parameters.add(network.statistics().data(), network.statistics().size() * sizeof(float));
  f.initial_parameters = parameters.hash;
  Fnv1a scale;
  scale.add(to_string(scaling.kind));
  scale.add(scaling.offset.data(), scaling.offset.size() * sizeof(double));
  scale.add(scaling.scale.data(), scaling.scale.size() * sizeof(double));
  f.scaling = scale.hash;
  f.train_rows = train.rows;
  f.train_features = train.features;
  f.train_checksum = dataset_checksum(train);
  if (validation != nullptr) {
    f.has_validation = true;
    f.validation_rows = validation->rows;
    f.validation_checksum = dataset_checksum(*validation);
  }
  return f;
}

std::string run_difference(const RunFingerprint& saved, const RunFingerprint& now) {
  if (saved.settings != now.settings)
    return "the network or training settings differ (" +
           first_difference(Json::parse(saved.settings), Json::parse(now.settings), "") + ")";
  if (saved.initial_parameters != now.initial_parameters)
    return "the network's starting weights differ (a different network file or model)";
  if (saved.train_rows != now.train_rows || saved.train_features != now.train_features)
    return "the training data differs (" + std::to_string(saved.train_rows) + " rows of " +
           std::to_string(saved.train_features) + " features there, " + std::to_string(now.train_rows) + " rows of " +
           std::to_string(now.train_features) + " here)";
  if (saved.train_checksum != now.train_checksum) return "the training data differs (same size, different values)";
  if (saved.has_validation != now.has_validation || saved.validation_rows != now.validation_rows ||
      saved.validation_checksum != now.validation_checksum)
    return "the validation data differs";
  if (saved.scaling != now.scaling) return "the feature scaling differs";
  if (saved.deterministic != now.deterministic)
    return saved.deterministic ? "it was written with --deterministic, give it again"
                               : "it was written without --deterministic, leave it out";
  return "";
}

std::vector<dist::SetupPart> fingerprint_parts(const RunFingerprint& run) {
  return {
      {io::fnv1a_64(run.build),
       "its build (version, compiler or instruction set; build the same sources alike on every host)"},
      {io::fnv1a_64(run.settings), "its network or training recipe (network file, options)"},
      {hash_of({run.train_rows, static_cast<std::uint64_t>(run.train_features), run.train_checksum,
                run.has_validation, run.validation_rows, run.validation_checksum}),
       "its training or validation data (give every host the same files)"},
      {run.initial_parameters, "its network's starting weights (network file, model or --resume)"},
      {run.scaling, "its feature scaling"},
      {run.deterministic, "its command options (--deterministic)"},
  };
}

}  // namespace backprop
