// The embedding entry (nn/embedding.hpp) against torch.nn.Embedding in float64:
// tests/data/embedding_reference.json, written by tests/reference/embedding_reference.py, holds two networks
// (two embeddings, of a middle column then of the first, with softmax_ce and Adam with weight decay; one of the
// last column with one value per code, bce and SGD with momentum), a batch each with repeated and absent codes,
// every entry's output and every gradient of a first training step, the parameters after each of 4 steps, and
// the outputs after them on the batch and on other rows.
// Tolerance 1e-12 relative to max(1, |value|): the same expressions in double differ from torch by rounding
// only; a gradient not added over the rows that share a code, or put in the wrong row, is off by O(1).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/nn/embedding.hpp"
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
  static const Json document = testing::read_reference("embedding_reference.json");
  return document;
}

using testing::expect_close;
using testing::rows_of;
using testing::unpadded;

NetworkSpec spec_of(const Json& c) { return io::parse_network(c["network"].dump(), c["name"].get<std::string>()); }

TEST(EmbeddingReference, FirstTrainingStepMatchesTorchInDouble) {
  ASSERT_EQ(reference().value("format", ""), "backprop embedding reference");
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
    EXPECT_TRUE(network.backward(workspace, x.data(), y.data(), batch));
    expect_close(unpadded(network, true), first["gradients"].get<std::vector<double>>(), kTorchTolerance,
                 name + " gradients");
    EXPECT_EQ(embedding_code_columns(network.spec()), c["code_columns"].get<std::vector<int>>()) << name;
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

TEST(EmbeddingReference, ParametersAfterStepsAndOutputsMatchTorchInDouble) {
  for (const Json& c : reference()["cases"]) {
    const std::string name = c["name"];
    const Network<double> network = trained<double>(c, [&](const Network<double>& n, std::size_t step) {
      expect_close(unpadded(n, false), c["steps"][step]["parameters"].get<std::vector<double>>(), kTorchTolerance,
                   name + " parameters after step " + std::to_string(step + 1));
    });
    expect_close(evaluated(network, c["x"]), rows_of(c["evaluation"][0]), kTorchTolerance, name + " outputs");
    expect_close(evaluated(network, c["other"]), rows_of(c["evaluation"][1]), kTorchTolerance, name + " other rows");
  }
}

// Training runs in float: the same steps within float rounding of torch's double figures.
TEST(EmbeddingReference, FloatNetworkFollowsTheDoubleOne) {
  for (const Json& c : reference()["cases"]) {
    const Network<float> network = trained<float>(c, [](const Network<float>&, std::size_t) {});
    expect_close(unpadded(network, false), c["steps"].back()["parameters"].get<std::vector<double>>(), 1e-4,
                 c["name"].get<std::string>() + " float parameters");
  }
}

// The one-row step runs dense layers only (its embedding case is NotReached): it declines the network, also
// without dropout or clipping, the other reasons it declines one.
TEST(Embedding, TheOneRowStepDeclinesIt) {
  for (const Json& c : reference()["cases"]) {
    NetworkSpec spec = spec_of(c);
    for (LayerSpec& layer : spec.layers) layer.dropout = 0.0;
    spec.training.clip_grad_norm = 0.0;
    EXPECT_FALSE(RowStep::applies(Network<float>(spec))) << c["name"];
  }
}

TEST(Embedding, GradientCheckPassesForEveryParameter) {
  for (const Json& c : reference()["cases"]) {
    const NetworkSpec spec = spec_of(c);
    std::vector<double> x, y;
    random_batch(x, y, spec, 9, 5);
    for (std::size_t e = 0; e < embedding_code_columns(spec).size(); ++e)
      for (int r = 0; r < 9; ++r) {
        const double code = x[static_cast<std::size_t>(r) * spec.input + embedding_code_columns(spec)[e]];
        EXPECT_EQ(code, std::floor(code));
        EXPECT_LT(code, spec.layers[e].embedding.categories);
      }
    const GradientCheckResult result = gradient_check(spec, x, y);
    EXPECT_LT(result.max_error(), kDefaultGradientTolerance) << c["name"];
    std::size_t parameters = 0;
    for (std::size_t l = 0; l < spec.layers.size(); ++l)
      for (const LayerArray& array : spec.arrays(l)) parameters += array.size;
    EXPECT_EQ(result.parameters_checked, parameters);
  }
}

std::string forward_error(const Json& c, double code) {
  Network<double> network(spec_of(c));
  std::vector<double> x = rows_of(c["x"]);
  x[static_cast<std::size_t>(c["code_columns"][0].get<int>())] = code;  // the first row's first code
  Workspace<double> workspace(network, static_cast<int>(c["x"].size()));
  try {
    network.forward(workspace, x.data(), static_cast<int>(c["x"].size()));
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::bad_input);
    return e.what();
  }
  return "";
}

TEST(Embedding, ACodeOutsideItsCategoriesIsRefusedNamingTheEntryRowAndValue) {
  const Json& c = reference()["cases"][0];  // layers[0]: 5 categories of input 2
  for (const double bad : {5.0, -1.0, 1.5, std::nan(""), 1e30}) {
    const std::string message = forward_error(c, bad);
    EXPECT_NE(message.find("layers[0] (embedding of input 2): expected a category's code, a whole number in [0, 5), "
                           "in row 1 of the batch, got "),
              std::string::npos)
        << bad << ": " << message;
  }
  EXPECT_EQ(forward_error(c, 4.0), "");
  EXPECT_EQ(forward_error(c, 0.0), "");
}

std::string error_of(const std::string& text) {
  try {
    Network<double> network(io::parse_network(text, "n.json"));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Embedding, NetworkFileMistakesAreNamed) {
  const std::string tail = R"(, {"units": 2, "activation": "softmax"}]})";
  const auto with = [&](const std::string& entries) { return error_of(R"({"input": 3, "layers": [)" + entries + tail); };
  EXPECT_EQ(with(R"({"type": "embedding", "input": 1, "categories": 4, "dim": 2})"), "");
  EXPECT_NE(with(R"({"type": "embedding", "input": 3, "categories": 4, "dim": 2})").find("layers[0].input: expected a "
                                                                                         "position in [0, 3)"),
            std::string::npos);
  EXPECT_NE(with(R"({"type": "embedding", "input": 0, "categories": 0, "dim": 2})").find("layers[0].categories"),
            std::string::npos);
  EXPECT_NE(with(R"({"type": "embedding", "input": 0, "categories": 3, "dim": 0})").find("layers[0].dim"),
            std::string::npos);
  EXPECT_NE(with(R"({"type": "embedding", "input": 0, "categories": 3})").find("layers[0].dim: missing"),
            std::string::npos);
  EXPECT_NE(with(R"({"type": "embedding", "input": 0, "categories": 3, "dim": 2, "units": 4})").find("unknown key"),
            std::string::npos);
  EXPECT_NE(with(R"({"type": "embedding", "input": 0, "categories": 2, "dim": 2, "weights": [[1, 2]]})")
                .find("layers[0].weights"),
            std::string::npos);
  // The second entry reads position 1: the first put its 2 values at positions 0 and 1.
  EXPECT_NE(with(R"({"type": "embedding", "input": 0, "categories": 3, "dim": 2}, )"
                 R"({"type": "embedding", "input": 1, "categories": 3, "dim": 2})")
                .find("layers[1].input: expected a column of the network's input, not one of the values"),
            std::string::npos);
  EXPECT_NE(with(R"({"units": 4, "activation": "relu"}, {"type": "embedding", "input": 0, "categories": 3, "dim": 2})")
                .find("layers[1]: expected embedding entries first"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input": 3, "layers": [{"type": "embedding", "input": 0, "categories": 3, "dim": 2}]})")
                .find("an embedding cannot be the last entry"),
            std::string::npos);
}

TEST(Embedding, NetworkFileRoundTripAndUnitsOfEachEntry) {
  const NetworkSpec spec = spec_of(reference()["cases"][0]);
  EXPECT_EQ(spec.layers[0].units, 4 - 1 + 3);
  EXPECT_EQ(spec.layers[1].units, 6 - 1 + 2);
  const NetworkSpec back = io::parse_network(io::network_to_json(spec), "again.json");
  ASSERT_EQ(back.layers.size(), spec.layers.size());
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(back.layers[l].kind, LayerKind::embedding);
    EXPECT_EQ(back.layers[l].units, spec.layers[l].units);
    EXPECT_EQ(back.layers[l].embedding.column, spec.layers[l].embedding.column);
    EXPECT_EQ(back.layers[l].embedding.categories, spec.layers[l].embedding.categories);
    EXPECT_EQ(back.layers[l].weights, spec.layers[l].weights);
    EXPECT_TRUE(back.layers[l].bias.empty());
  }
}

// Without weights, an embedding's start is drawn N(0, 1) from the seed, as torch.nn.Embedding's: over 4000
// draws the mean is within 0.1 of 0 and the variance within 0.1 of 1 (5 and 9 standard errors).
TEST(Embedding, WeightsStartNormalFromTheSeed) {
  const NetworkSpec spec = io::parse_network(
      R"({"input": 2, "layers": [{"type": "embedding", "input": 0, "categories": 1000, "dim": 4},)"
      R"( {"units": 1, "activation": "sigmoid"}], "loss": "bce", "seed": 3})",
      "n.json");
  const Network<double> a(spec), b(spec);
  const auto w = a.weights(0);
  ASSERT_EQ(w.size(), 4000u);
  double sum = 0, squares = 0;
  for (double v : w) sum += v, squares += v * v;
  EXPECT_NEAR(sum / 4000, 0.0, 0.1);
  EXPECT_NEAR(squares / 4000 - (sum / 4000) * (sum / 4000), 1.0, 0.1);
  EXPECT_TRUE(std::equal(w.begin(), w.end(), b.weights(0).begin()));
}

// The trace (nn/trace.hpp) of the reference's networks: its first step's outputs, loss and every gradient are
// torch's first training step (they do not depend on the optimizer), and its update is plain SGD's p - lr g of
// torch's gradients. Each entry's codes are the columns it reads; the rows of codes absent from the batch have a
// gradient of exactly 0 and keep their values. Tolerance kTorchTolerance, as above.
TEST(EmbeddingTrace, FiguresOfTheFirstStepMatchTorchInDouble) {
  for (const Json& c : reference()["cases"]) {
    const std::string name = c["name"];
    const NetworkSpec spec = spec_of(c);
    TraceOptions options;
    options.input = rows_of(c["x"]);
    options.target = rows_of(c["y"]);
    options.steps = 2;
    const Trace traced = trace(spec, options);
    ASSERT_EQ(traced.steps.size(), 2u);
    const TraceStep& step = traced.steps[0];
    const Json& first = c["first_step"];
    EXPECT_NEAR(step.loss, first["loss"].get<double>(), kTorchTolerance) << name;
    const std::vector<double> torch_gradients = first["gradients"].get<std::vector<double>>();
    const std::vector<double> start = unpadded(Network<double>(spec), false);
    std::vector<double> gradients, before, after;
    const std::vector<int> columns = embedding_code_columns(spec);
    for (std::size_t l = 0; l < step.layers.size(); ++l) {
      const TraceLayer& layer = step.layers[l];
      expect_close(layer.a, rows_of(first["outputs"][l]), kTorchTolerance, name + " entry " + std::to_string(l) + " a");
      for (auto [all, part] : {std::pair{&gradients, &layer.grad_weights}, std::pair{&gradients, &layer.grad_bias},
                               std::pair{&before, &layer.weights_before}, std::pair{&before, &layer.bias_before},
                               std::pair{&after, &layer.weights}, std::pair{&after, &layer.bias}})
        all->insert(all->end(), part->begin(), part->end());
      if (layer.kind != LayerKind::embedding) continue;
      const TraceEmbedding& e = layer.embedding;
      ASSERT_EQ(static_cast<int>(e.codes.size()), traced.batch);
      for (int r = 0; r < traced.batch; ++r)
        EXPECT_EQ(e.codes[r], static_cast<int>(options.input[r * spec.input + columns[l]])) << name << " row " << r;
      for (int code = 0; code < e.categories; ++code) {
        if (std::find(e.codes.begin(), e.codes.end(), code) != e.codes.end()) continue;
        for (int d = 0; d < e.dim; ++d) {
          const std::size_t k = static_cast<std::size_t>(code) * e.dim + d;
          EXPECT_EQ(layer.grad_weights[k], 0.0) << name << " entry " << l << " row " << code;
          EXPECT_EQ(layer.weights[k], layer.weights_before[k]) << name << " entry " << l << " row " << code;
        }
      }
      EXPECT_EQ(e.grad_input.empty(), l == 0) << name << " entry " << l;
    }
    expect_close(gradients, torch_gradients, kTorchTolerance, name + " gradients");
    EXPECT_EQ(before, start) << name;
    std::vector<double> expected(start.size());
    for (std::size_t i = 0; i < start.size(); ++i)
      expected[i] = start[i] - spec.optimizer.learning_rate * torch_gradients[i];
    expect_close(after, expected, kTorchTolerance, name + " after the update");
    // The second step starts from the first one's parameters.
    for (std::size_t l = 0; l < step.layers.size(); ++l)
      EXPECT_EQ(traced.steps[1].layers[l].weights_before, step.layers[l].weights) << name << " entry " << l;
  }
}

class EmbeddingFiles : public ::testing::Test {
 protected:
  // Named by the test and the process: the random seed it was named by before is the same in processes
  // started in the same millisecond (as ctest -j starts them), and one's TearDown removed the other's files.
  testing::TempDir temp_;
  const std::filesystem::path dir_ = temp_.path();
};

TEST_F(EmbeddingFiles, ModelFilesKeepTheWeightsBitForBitAndSayVersion6) {
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
    EXPECT_EQ(unpadded(back, false), unpadded(network, false)) << name;
    EXPECT_EQ(loaded.network.layers[0].embedding.column, 2) << name;
    EXPECT_EQ(loaded.network.layers[1].embedding.categories, 3) << name;
  }
  EXPECT_EQ(static_cast<unsigned char>(io::model_bytes(model)[8]), io::kEmbeddingModelFormatVersion);
  // A model without an embedding keeps the version it had.
  io::ModelFile plain;
  plain.network = Network<float>(spec_of(reference()["cases"][1])).spec_with_parameters();
  plain.network.layers.erase(plain.network.layers.begin());
  plain.network.input = 3;
  EXPECT_EQ(static_cast<unsigned char>(io::model_bytes(plain)[8]), io::kFirstModelFormatVersion);
}

// The command trains (on the CPU and the emulated device), predicts, traces and exports C with an embedding; a
// trace of a code outside the table is exit 2.
TEST_F(EmbeddingFiles, TheCommandTrainsPredictsTracesAndExportsIt) {
  {
    std::ofstream csv(dir_ / "t.csv");
    csv << "x1,code,label\n";
    for (int r = 0; r < 40; ++r) csv << (r % 7) * 0.25 << "," << r % 5 << "," << (r % 5 >= 2) << "\n";
    std::ofstream net(dir_ / "n.json");
    net << R"({"input": 2, "layers": [{"type": "embedding", "input": 1, "categories": 5, "dim": 3},)"
           R"( {"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}], "loss": "bce",)"
           R"( "training": {"epochs": 5, "batch_size": 8, "scale": "standard"}})";
  }
  const std::string d = dir_.string() + "/";
  const auto status = [&](const std::string& arguments, const std::string& environment = "") {
    const int raw = std::system(
        ("cd " + d + " && " + environment + " \"" + BACKPROP_COMMAND + "\" " + arguments + " > out.txt 2>&1").c_str());
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  };
  EXPECT_EQ(status("train n.json --data t.csv --target label --out m.model"), 0);
  EXPECT_EQ(status("predict m.model --data t.csv --out p.csv"), 0);
  EXPECT_EQ(io::load_model(dir_ / "m.model").scaling.scale[1], 1.0);  // the codes left as they are
  EXPECT_EQ(status("train n.json --data t.csv --target label --out d.model", "BACKPROP_DEVICE=emulated"), 0);
  EXPECT_EQ(status("trace n.json --input '0.5,3' --target 1"), 0);
  EXPECT_EQ(status("trace n.json --input '0.5,5' --target 1"), 2) << "a code outside [0, 5)";
  EXPECT_THAT(testing::read_text(dir_ / "out.txt"), ::testing::HasSubstr("expected a category's code, a whole number in [0, 5)"));
  EXPECT_EQ(status("trace n.json --input '0.5,2.5' --target 1 --json"), 2) << "a code that is not whole";
  EXPECT_EQ(status("export m.model --format c --out m.h"), 0);
  EXPECT_EQ(io::load_model(dir_ / "d.model").network.layers[0].weights.size(), 5u * 3u) << "trained on the device";
  EXPECT_THAT(testing::read_text(dir_ / "m.c"), ::testing::HasSubstr("static const float model_e1[5][3] = {"));
}

// One traced step is one training step: `train` for one epoch of one batch with plain SGD writes the parameters
// the trace computes after its step (the model file in float32, the trace in double: within 1e-5 of
// max(1, |value|), float32's rounding over a few operations on values near 1). A table row that no code picks
// is bit for bit the start's in both.
TEST_F(EmbeddingFiles, TheTracedStepIsTrainingsStep) {
  {
    std::ofstream csv(dir_ / "t.csv");
    csv << "x0,code,x2,label\n0.5,2,1.5,1\n-1,0,0.25,0\n0.75,2,-0.5,1\n2,3,1,0\n-0.25,0,-1.5,1\n";
    std::ofstream net(dir_ / "n.json");
    net << R"({"input": 3, "layers": [{"type": "embedding", "input": 1, "categories": 4, "dim": 2},)"
           R"( {"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}], "loss": "bce",)"
           R"( "optimizer": {"type": "sgd", "learning_rate": 0.5}, "seed": 11, "training": {"epochs": 1, "batch_size": 5}})";
  }
  const std::string d = dir_.string() + "/";
  const auto run = [&](const std::string& arguments) {
    const int raw = std::system(("cd " + d + " && \"" + BACKPROP_COMMAND + "\" " + arguments + " > out.txt 2>&1").c_str());
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  };
  ASSERT_EQ(run("train n.json --data t.csv --target label --out m.model"), 0) << testing::read_text(dir_ / "out.txt");
  ASSERT_EQ(run("trace n.json --input '0.5,2,1.5;-1,0,0.25;0.75,2,-0.5;2,3,1;-0.25,0,-1.5' --target '1;0;1;0;1' --json"), 0);
  const Json traced = Json::parse(testing::read_text(dir_ / "out.txt"));
  const io::ModelFile model = io::load_model(dir_ / "m.model");
  const Json& layers = traced["steps"][0]["layers"];
  ASSERT_EQ(model.network.layers.size(), layers.size());
  auto flat = [](const Json& value) {
    std::vector<double> out;
    for (const Json& row : value)
      if (row.is_array())
        for (const Json& v : row) out.push_back(v.get<double>());
      else
        out.push_back(row.get<double>());
    return out;
  };
  for (std::size_t l = 0; l < layers.size(); ++l) {
    expect_close(model.network.layers[l].weights, flat(layers[l]["weights"]), 1e-5, "entry " + std::to_string(l) + " weights");
    if (l > 0) expect_close(model.network.layers[l].bias, flat(layers[l]["bias"]), 1e-5, "entry " + std::to_string(l) + " bias");
  }
  EXPECT_EQ(layers[0]["codes"], Json::parse("[2, 0, 2, 3, 0]"));
  const Network<float> start(io::parse_network(testing::read_text(dir_ / "n.json"), "n.json"));
  for (int d = 0; d < 2; ++d) {  // row 1: no code 1 in the batch
    EXPECT_EQ(model.network.layers[0].weights[2 + d], static_cast<double>(start.weights(0)[2 + d]));
    EXPECT_EQ(layers[0]["grad_weights"][1][d].get<double>(), 0.0);
  }
}

}  // namespace
}  // namespace backprop
