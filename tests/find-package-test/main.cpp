// An embedder's program: the installed package through the umbrella header and the high-level API only.
// It writes the tutorial's seed network (examples/seed.json) as a network file, loads it, trains it for 10
// plain SGD steps on its one row (x = [1, 2, 3, 4], y = 1; one row per epoch), predicts, saves, loads the
// model back and evaluates, and checks that:
//  - the first epoch's loss is the loss before the first step, 0.06937370282921486 (the PyTorch float64
//    reference in tests/data/seed_reference.json; the model trains in float32, so to 1e-6);
//  - the loss falls at every epoch, and the output moves toward the target 1;
//  - the loaded model predicts the same bits, and evaluate's loss is mse's 1/2 (a - y)^2 of that output.
// Exit code 0 when every check holds, 1 otherwise.
#include <backprop/backprop.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

const char* const kSeedNetwork = R"({
  "input": 4,
  "layers": [
    {"units": 2, "activation": "sigmoid", "weights": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]], "bias": [0.1, 0.1]},
    {"units": 3, "activation": "sigmoid", "weights": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], "bias": [0.1, 0.1, 0.1]},
    {"units": 1, "activation": "sigmoid", "weights": [[0.1], [0.2], [0.3]], "bias": [0.1]}
  ],
  "loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 0.1}, "seed": 1
})";

int failures = 0;
void check(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

}  // namespace

int main() {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / ("backprop-find-package-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  std::ofstream(folder / "seed.json") << kSeedNetwork;
  try {
    backprop::Model model = backprop::Model::load(folder / "seed.json");
    const std::vector<float> x = {1, 2, 3, 4};  // (rows 1, IN 4)
    const std::vector<float> y = {1};           // (rows 1, OUT 1)
    const float before = model.predict(x)[0];
    const backprop::TrainingResult result = model.fit(x, y, {.epochs = 10, .batch_size = 1}, {.device = "cpu"});
    bool falls = result.history.size() == 10;
    for (std::size_t e = 0; e < result.history.size(); ++e) {
      std::printf("epoch %2zu  loss %.9f\n", e + 1, result.history[e].train.loss);
      if (e > 0) falls = falls && result.history[e].train.loss < result.history[e - 1].train.loss;
    }
    const double reference = 0.06937370282921486;  // PyTorch, float64
    check(!result.history.empty() && std::abs(result.history[0].train.loss - reference) < 1e-6,
          "the first loss matches the PyTorch reference 0.0693737028292149");
    check(falls, "the loss falls at every epoch");
    const std::vector<float> after = model.predict(x);
    check(after.size() == 1 && after[0] > before && after[0] < 1.0f, "the output moves toward the target 1");

    model.save(folder / "seed.model");
    const backprop::Model loaded = backprop::Model::load(folder / "seed.model");
    check(loaded.predict(x) == after, "the saved and loaded model predicts the same");
    const backprop::Metrics metrics = loaded.evaluate(x, y);
    const double expected = 0.5 * (1.0 - after[0]) * (1.0 - after[0]);
    check(metrics.rows == 1 && std::abs(metrics.loss - expected) < 1e-7 && std::isnan(metrics.accuracy),
          "evaluate gives mse's loss of that output (and no accuracy: a regression)");
  } catch (const backprop::Error& e) {
    std::printf("FAIL: %s\n", e.what());
    ++failures;
  }
  std::filesystem::remove_all(folder);
  return failures == 0 ? 0 : 1;
}
