// The batch_norm entry (nn/batch_norm.hpp) against torch.nn.BatchNorm1d in float64:
// tests/data/batch_norm_reference.json, written by tests/reference/batch_norm_reference.py, holds two networks
// (batch_norm after hidden activations, twice, with softmax_ce and Adam with weight decay; batch_norm of the
// input with bce and SGD with momentum), a batch each, every entry's output and every gradient of a first
// training step, the parameters and running statistics after each of 4 steps, and the outputs in evaluation
// after them; and under "traces" every figure of `trace` (plain SGD, 2 steps) for two networks with batch_norm.
// Tolerance 1e-12 relative to max(1, |value|): the same expressions in double differ from torch by
// rounding only; a wrong variance (biased for unbiased, a missing eps) moves values by 1e-3 or more.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/nn/batch_norm.hpp"
#include "backprop/nn/batch_rows.hpp"
#include "backprop/nn/gradient_check.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"
#include "backprop/nn/trace.hpp"
#include "helpers.hpp"
#include "torch_reference.hpp"
#include "train/row_step.hpp"

namespace backprop {
namespace {

using Json = nlohmann::json;

constexpr double kTorchTolerance = 1e-12;

const Json& reference() {
  static const Json document = testing::read_reference("batch_norm_reference.json");
  return document;
}

using testing::expect_close;
using testing::rows_of;
using testing::unpadded;

template <typename T>
std::vector<double> to_double(std::span<const T> values) {
  return {values.begin(), values.end()};
}

NetworkSpec spec_of(const Json& c) { return io::parse_network(c["network"].dump(), c["name"].get<std::string>()); }

TEST(BatchNormReference, FirstTrainingStepMatchesTorchInDouble) {
  ASSERT_EQ(reference().value("format", ""), "backprop batch_norm reference");
  ASSERT_EQ(reference()["cases"].size(), 2u);
  for (const Json& c : reference()["cases"]) {
    const std::string name = c["name"];
    Network<double> network(spec_of(c));
    const std::vector<double> x = rows_of(c["x"]), y = rows_of(c["y"]);
    const int batch = static_cast<int>(c["x"].size());
    Workspace<double> workspace(network, batch);
    network.forward(workspace, x.data(), batch, nullptr, true);
    const Json& first = c["first_step"];
    for (std::size_t l = 0; l < network.layer_count(); ++l) {
      const double* a = workspace.a(l);
      expect_close({a, a + static_cast<std::size_t>(batch) * network.layer(l).out}, rows_of(first["outputs"][l]),
                   kTorchTolerance, name + " entry " + std::to_string(l) + " output");
    }
    EXPECT_NEAR(network.loss_value(workspace, y.data(), batch), first["loss"].get<double>(), kTorchTolerance);
    network.backward(workspace, x.data(), y.data(), batch);
    expect_close(unpadded(network, true), first["gradients"].get<std::vector<double>>(), kTorchTolerance,
                 name + " gradients");
  }
}

// Steps as the trainer takes them; returns the network after them.
template <typename T>
Network<T> trained(const Json& c, const std::function<void(const Network<T>&, std::size_t)>& after_step) {
  const NetworkSpec spec = spec_of(c);
  Network<T> network(spec);
  Optimizer<T> optimizer(spec.optimizer, network.parameters().size());
  std::vector<T> x, y;
  for (double v : rows_of(c["x"])) x.push_back(static_cast<T>(v));
  for (double v : rows_of(c["y"])) y.push_back(static_cast<T>(v));
  const int batch = static_cast<int>(c["x"].size());
  Workspace<T> workspace(network, batch);
  for (std::size_t step = 0; step < c["steps"].size(); ++step) {
    network.forward(workspace, x.data(), batch, nullptr, true);
    network.backward(workspace, x.data(), y.data(), batch);
    optimizer.step(network.parameters(), network.gradients(), spec.optimizer.learning_rate);
    after_step(network, step);
  }
  return network;
}

template <typename T>
std::vector<double> evaluated(const Network<T>& network, const Json& rows) {
  std::vector<T> x;
  for (double v : rows_of(rows)) x.push_back(static_cast<T>(v));
  const int batch = static_cast<int>(rows.size());
  Workspace<T> workspace(network, batch);
  network.forward(workspace, x.data(), batch);
  const T* out = network.output(workspace);
  return {out, out + static_cast<std::size_t>(batch) * network.output_size()};
}

TEST(BatchNormReference, ParametersRunningStatisticsAndEvaluationAfterStepsMatchTorchInDouble) {
  for (const Json& c : reference()["cases"]) {
    const std::string name = c["name"];
    const Network<double> network = trained<double>(c, [&](const Network<double>& n, std::size_t step) {
      const Json& expected = c["steps"][step];
      const std::string where = name + " step " + std::to_string(step + 1);
      expect_close(unpadded(n, false), expected["parameters"].get<std::vector<double>>(), kTorchTolerance,
                   where + " parameters");
      expect_close(to_double(n.statistics()), expected["statistics"].get<std::vector<double>>(), kTorchTolerance,
                   where + " running statistics");
    });
    expect_close(evaluated(network, c["x"]), rows_of(c["evaluation"][0]), kTorchTolerance, name + " evaluation");
    expect_close(evaluated(network, c["other"]), rows_of(c["evaluation"][1]), kTorchTolerance,
                 name + " evaluation, other rows");
  }
}

// Float training follows double's within float rounding: 1e-5 relative after 4 steps.
TEST(BatchNormReference, FloatNetworkFollowsTheDoubleOne) {
  for (const Json& c : reference()["cases"]) {
    const Network<float> network = trained<float>(c, [](const Network<float>&, std::size_t) {});
    const Json& last = c["steps"].back();
    expect_close(unpadded(network, false), last["parameters"].get<std::vector<double>>(), 1e-5, "float parameters");
    expect_close(to_double(network.statistics()), last["statistics"].get<std::vector<double>>(), 1e-5,
                 "float statistics");
    expect_close(evaluated(network, c["other"]), rows_of(c["evaluation"][1]), 1e-5, "float evaluation");
  }
}

// A batch computed in shares with the whole batch's statistics (nn/network.hpp's BatchSync: what the
// plain way under mpirun does, SyncBatchNorm's semantics). Threads stand for ranks, each with its own copy of
// the network and a contiguous share of the rows (as dist::rank_rows cuts them, a share of 1 row included);
// their sums meet at a barrier and are added in share order. Every share's outputs, the running statistics on
// every share, and the shares' gradients weighted by rows / B and summed equal the whole batch's in one network
// to 1e-12 relative in double (only the order of the sums differs). Statistics of the share alone (DDP's
// BatchNorm1d) would move them by 1e-2 or more.
class ThreadSync final : public BatchSync {
 public:
  ThreadSync(std::barrier<>& barrier, std::vector<std::vector<double>>& slots, std::size_t index, double weight)
      : barrier_(barrier), slots_(slots), index_(index), weight_(weight), scratch_(64) {}
  void sum(std::span<double> values) override {
    slots_[index_].assign(values.begin(), values.end());
    barrier_.arrive_and_wait();
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] = 0;
      for (const auto& slot : slots_) values[i] += slot[i];
    }
    barrier_.arrive_and_wait();  // every share has read the slots before the next sum writes them
  }
  double weight() const override { return weight_; }
  std::span<double> scratch(std::size_t n) override { return std::span<double>(scratch_).first(n); }

 private:
  std::barrier<>& barrier_;
  std::vector<std::vector<double>>& slots_;
  std::size_t index_;
  double weight_;
  std::vector<double> scratch_;
};

TEST(BatchNormShares, SharesOfABatchComputeTheWholeBatchsStatisticsOutputsAndGradient) {
  for (const Json& c : reference()["cases"]) {
    const NetworkSpec spec = spec_of(c);
    const std::vector<double> x = rows_of(c["x"]), y = rows_of(c["y"]);
    const int batch = static_cast<int>(c["x"].size());
    const auto in = static_cast<std::size_t>(spec.input);
    Network<double> whole(spec);
    const auto out = static_cast<std::size_t>(whole.output_size());
    Workspace<double> workspace(whole, batch);
    whole.forward(workspace, x.data(), batch, nullptr, true);
    const std::vector<double> outputs(whole.output(workspace), whole.output(workspace) + batch * out);
    whole.backward(workspace, x.data(), y.data(), batch);
    for (const int shares : {2, 3}) {
      const std::string what = c["name"].get<std::string>() + ", " + std::to_string(shares) + " shares";
      std::vector<Network<double>> networks(static_cast<std::size_t>(shares), Network<double>(spec));
      std::vector<std::vector<double>> slots(static_cast<std::size_t>(shares)), share_outputs(slots.size());
      std::barrier<> barrier(shares);
      std::vector<std::thread> threads;
      for (int r = 0; r < shares; ++r)
        threads.emplace_back([&, r] {
          const int first = batch * r / shares, rows = batch * (r + 1) / shares - first;
          const auto index = static_cast<std::size_t>(r);
          ThreadSync sync(barrier, slots, index, static_cast<double>(rows) / batch);
          Network<double>& network = networks[index];
          network.set_batch_sync(&sync);
          Workspace<double> share_workspace(network, rows);
          const double* share_x = x.data() + static_cast<std::size_t>(first) * in;
          const double* share_y = y.data() + static_cast<std::size_t>(first) * out;
          network.forward(share_workspace, share_x, rows, nullptr, true);
          share_outputs[index].assign(network.output(share_workspace), network.output(share_workspace) + rows * out);
          network.backward(share_workspace, share_x, share_y, rows);
          network.set_batch_sync(nullptr);
          for (double& g : network.gradients()) g *= static_cast<double>(rows) / batch;
        });
      for (auto& thread : threads) thread.join();
      std::vector<double> joined, gradient(whole.gradients().size(), 0.0);
      for (int r = 0; r < shares; ++r) {
        const auto& share = share_outputs[static_cast<std::size_t>(r)];
        joined.insert(joined.end(), share.begin(), share.end());
        const auto g = networks[static_cast<std::size_t>(r)].gradients();
        for (std::size_t i = 0; i < gradient.size(); ++i) gradient[i] += g[i];
        const Network<double>& share_network = networks[static_cast<std::size_t>(r)];
        expect_close(to_double(share_network.statistics()), to_double(std::as_const(whole).statistics()), 1e-12, what + " running statistics of share " + std::to_string(r));
      }
      expect_close(joined, outputs, 1e-12, what + " outputs");
      expect_close(gradient, to_double(std::as_const(whole).gradients()), 1e-12, what + " gradient");
    }
  }
}

// The one-row step runs dense layers only (its batch_norm case is NotReached): it declines the network, also
// without dropout or clipping, the other reasons it declines one.
TEST(BatchNorm, TheOneRowStepDeclinesIt) {
  for (const Json& c : reference()["cases"]) {
    NetworkSpec spec = spec_of(c);
    for (LayerSpec& layer : spec.layers) layer.dropout = 0.0;
    spec.training.clip_grad_norm = 0.0;
    EXPECT_FALSE(RowStep::applies(Network<float>(spec))) << c["name"];
  }
}

// Where the network keeps a batch_norm's own values, as the kind's arrays and saved_count say: its running mean and
// variance (given in the spec) are statistics(l), mean first, and come back by spec_with_parameters into its
// LayerSettings; the dense entries keep none. After a training forward through the dense layer after it (which
// writes its own z), its saved values still hold s = 1 / sqrt(var + eps) of the batch, computed here in double from
// the rows (float's rounding: 1e-5 relative).
TEST(BatchNorm, ItsStatisticsAndSavedValuesAreItsOwn) {
  NetworkSpec spec;
  spec.input = 3;
  spec.layers.resize(3);
  spec.layers[0].units = 3;
  spec.layers[0].activation = Activation::identity;
  spec.layers[0].weights = {1, 0, 0, 0, 1, 0, 0, 0, 1};  // the identity: the batch_norm sees x itself
  spec.layers[0].bias = {0, 0, 0};
  spec.layers[1].kind = LayerKind::batch_norm;
  spec.layers[1].units = 3;
  spec.layers[1].activation = Activation::identity;
  spec.layers[1].batch_norm.running_mean = {0.5, -1.5, 2.0};
  spec.layers[1].batch_norm.running_var = {0.25, 3.0, 1.5};
  spec.layers[2].units = 2;
  spec.layers[2].activation = Activation::identity;
  const Network<float> network(spec);
  EXPECT_TRUE(network.statistics(0).empty());
  EXPECT_TRUE(network.statistics(2).empty());
  const std::vector<float> expected{0.5f, -1.5f, 2.0f, 0.25f, 3.0f, 1.5f};
  EXPECT_EQ(std::vector<float>(network.statistics(1).begin(), network.statistics(1).end()), expected);
  const NetworkSpec back = network.spec_with_parameters();
  EXPECT_EQ(back.layers[1].batch_norm.running_mean, (std::vector<double>{0.5, -1.5, 2.0}));
  EXPECT_EQ(back.layers[1].batch_norm.running_var, (std::vector<double>{0.25, 3.0, 1.5}));
  EXPECT_TRUE(back.layers[0].batch_norm.running_mean.empty());

  const int batch = 4;
  const std::vector<double> x{1.0, -2.0, 0.5, 3.0, 0.0, 2.5, -1.0, 4.0, 1.5, 0.5, -3.0, 3.5};
  const std::vector<float> xf(x.begin(), x.end());
  Workspace<float> workspace(network, batch);
  EXPECT_EQ(workspace.saved(0).size(), 0u);
  EXPECT_EQ(workspace.saved(1).size(), 3u);
  EXPECT_EQ(workspace.saved(2).size(), 0u);
  network.forward(workspace, xf.data(), batch, nullptr, true);
  for (int j = 0; j < 3; ++j) {
    double mean = 0, variance = 0;
    for (int r = 0; r < batch; ++r) mean += x[r * 3 + j] / batch;
    for (int r = 0; r < batch; ++r) variance += (x[r * 3 + j] - mean) * (x[r * 3 + j] - mean) / batch;
    const double s = 1.0 / std::sqrt(variance + spec.layers[1].batch_norm.eps);
    EXPECT_NEAR(workspace.saved(1)[j], s, 1e-5 * s) << "feature " << j;
  }
}

// Central differences of the training objective (batch statistics) against the backward pass.
TEST(BatchNorm, GradientCheckPassesForEveryParameter) {
  for (const Json& c : reference()["cases"]) {
    const GradientCheckResult result = gradient_check(spec_of(c), rows_of(c["x"]), rows_of(c["y"]));
    EXPECT_LT(result.max_error(), 1e-6) << c["name"];
    EXPECT_EQ(result.layers.size(), c["network"]["layers"].size());
  }
}

// Evaluation's batch_norms folded into the dense layers after them compute the same outputs.
TEST(BatchNorm, FoldingIntoTheNextDenseLayerKeepsEvaluationsOutputs) {
  for (const Json& c : reference()["cases"]) {
    const Network<double> network = trained<double>(c, [](const Network<double>&, std::size_t) {});
    std::vector<std::size_t> from;
    const NetworkSpec folded = fold_batch_norms(network.spec_with_parameters(), &from);
    EXPECT_FALSE(folded.has(LayerKind::batch_norm));
    const std::size_t dense = c["network"]["layers"].size() - (c["name"] == "input_bce_momentum" ? 1 : 2);
    ASSERT_EQ(folded.layers.size(), dense);
    ASSERT_EQ(from.size(), dense);
    EXPECT_EQ(from[0], 0u);
    expect_close(evaluated(Network<double>(folded), c["other"]), evaluated(network, c["other"]), 1e-12, "folded");
  }
}

// One row has no batch variance: the gradient check and the trace refuse it, naming what they expect.
TEST(BatchNorm, GradcheckAndTraceOfOneRowAreRefusedWithAMessage) {
  const Json& c = reference()["cases"][0];
  const std::vector<double> x = rows_of(c["x"]), y = rows_of(c["y"]);
  const std::size_t in = c["network"]["input"], out = 3;
  try {
    gradient_check(spec_of(c), {x.begin(), x.begin() + in}, {y.begin(), y.begin() + out});
    ADD_FAILURE() << "a gradient check of one row was taken";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("expected at least 2 rows for a network with batch_norm"),
              std::string::npos)
        << e.what();
  }
  TraceOptions options;
  options.input.assign(x.begin(), x.begin() + in);
  options.target.assign(y.begin(), y.begin() + out);
  try {
    trace(spec_of(c), options);
    ADD_FAILURE() << "a network with batch_norm was traced on one row";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("expected at least 2 rows for a network with batch_norm"),
              std::string::npos)
        << e.what();
  }
}

// The fewest rows of a training batch (nn/batch_rows.hpp): a network with a batch_norm entry asks for 2, as
// docs/contracts.md states, and names the kind and why in the one message training, gradcheck and trace give;
// the same network without its batch_norm entries asks for 1 and its statistics do not span the batch.
TEST(BatchNorm, ANetworkWithItAsksForTwoRowsInEveryBatch) {
  const NetworkSpec spec = spec_of(reference()["cases"][0]);
  const FewestBatchRows fewest = fewest_batch_rows(spec);
  EXPECT_EQ(fewest.rows, 2);
  EXPECT_EQ(fewest.kind, LayerKind::batch_norm);
  EXPECT_TRUE(fewest.spans_batch());
  EXPECT_EQ(fewest.expected(" in every batch"),
            "expected at least 2 rows in every batch for a network with batch_norm (one row has no batch variance)");
  NetworkSpec plain = spec;
  std::erase_if(plain.layers, [](const LayerSpec& layer) { return layer.kind == LayerKind::batch_norm; });
  ASSERT_LT(plain.layers.size(), spec.layers.size());
  const FewestBatchRows none = fewest_batch_rows(plain);
  EXPECT_EQ(none.rows, 1);
  EXPECT_EQ(none.kind, LayerKind::dense);
  EXPECT_FALSE(none.spans_batch());
}

// Every figure of `trace` for a network with batch_norm against torch in float64 (the reference's "traces":
// BatchNorm1d in training, plain torch.optim.SGD, 2 steps; a batch_norm of the input, one after a hidden layer,
// two in a row with their own momentum and eps). Tolerance 1e-12 relative to max(1, |value|), as above.
TEST(BatchNormTrace, EveryFigureOfEachStepMatchesTorchInDouble) {
  ASSERT_EQ(reference()["traces"].size(), 2u);
  for (const Json& c : reference()["traces"]) {
    TraceOptions options;
    options.input = rows_of(c["x"]);
    options.target = rows_of(c["y"]);
    options.steps = static_cast<int>(c["steps"].size());
    const Trace traced = trace(spec_of(c), options);
    ASSERT_EQ(traced.steps.size(), c["steps"].size());
    ASSERT_EQ(traced.batch, static_cast<int>(c["x"].size()));
    for (std::size_t s = 0; s < traced.steps.size(); ++s) {
      const Json& expected = c["steps"][s];
      const TraceStep& step = traced.steps[s];
      const std::string where = c["name"].get<std::string>() + " step " + std::to_string(s + 1);
      EXPECT_LE(std::abs(step.loss - expected["loss"].get<double>()), kTorchTolerance) << where;
      ASSERT_EQ(step.layers.size(), expected["layers"].size());
      for (std::size_t l = 0; l < step.layers.size(); ++l) {
        const TraceLayer& layer = step.layers[l];
        const Json& e = expected["layers"][l];
        const std::string at = where + " entry " + std::to_string(l) + " ";
        auto check = [&](const std::vector<double>& actual, const char* key) {
          const Json& v = e[key];
          expect_close(actual, !v.empty() && v[0].is_array() ? rows_of(v) : v.get<std::vector<double>>(),
                       kTorchTolerance, at + key);
        };
        check(layer.a, "a");
        check(layer.delta, "delta");
        if (e.contains("type")) {
          ASSERT_EQ(layer.kind, LayerKind::batch_norm) << at;
          const TraceBatchNorm& bn = layer.batch_norm;
          check(bn.mean, "mean");
          check(bn.variance, "variance");
          check(bn.inv_std, "inv_std");
          check(bn.xhat, "xhat");
          check(bn.running_mean, "running_mean");
          check(bn.running_var, "running_var");
          check(layer.grad_weights, "grad_scale");
          check(layer.grad_bias, "grad_shift");
          check(layer.weights, "scale");
          check(layer.bias, "shift");
          EXPECT_EQ(bn.grad_input.empty(), !e.contains("grad_input")) << at;
          if (e.contains("grad_input")) check(bn.grad_input, "grad_input");
          // The running statistics before this step's forward are those after the previous one's.
          if (s > 0) {
            EXPECT_EQ(bn.running_mean_before, traced.steps[s - 1].layers[l].batch_norm.running_mean) << at;
            EXPECT_EQ(bn.running_var_before, traced.steps[s - 1].layers[l].batch_norm.running_var) << at;
          }
        } else {
          ASSERT_EQ(layer.kind, LayerKind::dense) << at;
          check(layer.z, "z");
          check(layer.grad_weights, "grad_weights");
          check(layer.grad_bias, "grad_bias");
          check(layer.weights, "weights");
          check(layer.bias, "bias");
        }
      }
    }
  }
}

class BatchNormFiles : public ::testing::Test {
 protected:
  // Named by the test and the process: the random seed it was named by before is the same in processes
  // started in the same millisecond (as ctest -j starts them), and one's TearDown removed the other's files.
  testing::TempDir temp_;
  const std::filesystem::path dir_ = temp_.path();
};

TEST_F(BatchNormFiles, ModelFilesKeepTheRunningStatisticsBitForBitAndSayVersion3) {
  const Json& c = reference()["cases"][0];
  const Network<float> network = trained<float>(c, [](const Network<float>&, std::size_t) {});
  io::ModelFile model;
  model.network = network.spec_with_parameters();
  for (const std::string name : {"m.bkp", "m.json"}) {
    const auto path = dir_ / name;
    if (name == "m.bkp")
      io::save_model(path, model);
    else
      io::export_model_json(path, model);
    const io::ModelFile loaded = io::load_model(path);
    const Network<float> back(loaded.network);
    EXPECT_EQ(std::vector<float>(back.parameters().begin(), back.parameters().end()),
              std::vector<float>(network.parameters().begin(), network.parameters().end()))
        << name;
    EXPECT_EQ(std::vector<float>(back.statistics().begin(), back.statistics().end()),
              std::vector<float>(network.statistics().begin(), network.statistics().end()))
        << name;
    EXPECT_EQ(loaded.network.layers[1].batch_norm.momentum, 0.1);
    EXPECT_EQ(loaded.network.layers[3].batch_norm.momentum, 0.25);
    EXPECT_EQ(loaded.network.layers[3].batch_norm.eps, 1e-3);
  }
  const std::string bytes = io::model_bytes(model);
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]), io::kBatchNormModelFormatVersion);
}

std::string error_of(const std::string& text) {
  try {
    Network<double> network(io::parse_network(text, "n.json"));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BatchNorm, NetworkFileMistakesAreNamed) {
  const std::string head = R"({"input": 3, "layers": [{"units": 4, "activation": "relu"}, )";
  const std::string tail = R"(, {"units": 2, "activation": "softmax"}]})";
  EXPECT_NE(error_of(head + R"({"type": "batch_norm", "units": 5})" + tail).find("layers[1].units: expected 4"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "batch_norm", "momentum": 1.5})" + tail).find("layers[1].momentum"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "batch_norm", "eps": 0})" + tail).find("layers[1].eps"), std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "batch_norm", "activation": "relu"})" + tail).find("unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "layer_norm"})" + tail).find("layers[1].type: unknown layer type"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input": 3, "layers": [{"units": 4, "activation": "relu"}, {"type": "batch_norm"}]})")
                .find("batch_norm cannot be the last entry"),
            std::string::npos);
  EXPECT_EQ(error_of(head + R"({"type": "batch_norm", "units": 4, "momentum": 0.5})" + tail), "");
}

// A network file's batch_norm written and read back is the same network.
TEST(BatchNorm, NetworkFileRoundTrip) {
  const NetworkSpec spec = spec_of(reference()["cases"][0]);
  const NetworkSpec back = io::parse_network(io::network_to_json(spec), "again.json");
  ASSERT_EQ(back.layers.size(), spec.layers.size());
  EXPECT_EQ(back.layers[1].kind, LayerKind::batch_norm);
  EXPECT_EQ(back.layers[3].batch_norm.momentum, 0.25);
  EXPECT_EQ(back.layers[3].batch_norm.eps, 1e-3);
  EXPECT_EQ(back.layers[1].units, 4);
}

}  // namespace
}  // namespace backprop
