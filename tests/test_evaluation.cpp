// Issue 30: the stratified rows of a validation split and of cross-validation's folds (data/folds.hpp). The
// figures of eval are checked against sklearn.metrics in tests/python/test_metrics.py.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/data/folds.hpp"
#include "backprop/train/prepare.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/train/cross_validation.hpp"
#include "backprop/base/text.hpp"
#include "backprop/nn/loss.hpp"
#include "backprop/train/metrics.hpp"
#include "helpers.hpp"
#include "synthetic_data.hpp"

namespace backprop {
namespace {

// rows labelled 0 but for `rare` rows of class 1 spread through them; feature 0 is the row's index.
Dataset imbalanced(std::size_t rows, std::size_t rare) {
  Dataset d;
  d.source = "imbalanced";
  d.rows = rows;
  d.features = 1;
  d.task = TaskKind::classification;
  d.class_names = {"common", "rare"};
  for (std::size_t r = 0; r < rows; ++r) {
    d.features_f32.push_back(static_cast<float>(r));
    d.labels.push_back(r % (rows / rare) == 0 && r / (rows / rare) < rare ? 1 : 0);
  }
  return d;
}

std::size_t count_of(const Dataset& d, int label) {
  return static_cast<std::size_t>(std::count(d.labels.begin(), d.labels.end(), label));
}

TEST(StratifiedSplit, ARareClassIsAlwaysInTheValidationRowsAndInTheTrainingRows) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Dataset train = imbalanced(100, 3), validation;
    split_validation(train, validation, 0.1, seed);
    EXPECT_EQ(validation.rows, 10u);
    EXPECT_EQ(count_of(validation, 1), 1u) << "seed " << seed;  // 0.3 of a row, raised to one
    EXPECT_EQ(count_of(train, 1), 2u);
    // Every row on exactly one side, each with its own label.
    std::set<float> seen;
    for (const Dataset* part : {&train, &validation})
      for (std::size_t r = 0; r < part->rows; ++r) {
        EXPECT_TRUE(seen.insert(part->features_f32[r]).second);
        EXPECT_EQ(part->labels[r], imbalanced(100, 3).labels[static_cast<std::size_t>(part->features_f32[r])]);
      }
    EXPECT_EQ(seen.size(), 100u);
  }
}

TEST(StratifiedSplit, ProportionalSharesWhenTheClassesAreLarge) {
  Dataset train = imbalanced(1000, 100), validation;
  split_validation(train, validation, 0.25, 5);
  EXPECT_EQ(validation.rows, 250u);
  EXPECT_EQ(count_of(validation, 1), 25u);
  EXPECT_EQ(count_of(validation, 0), 225u);
}

TEST(CrossValidationFolds, EachFoldHoldsEachClassToWithinOneRowAndTheFoldsPartitionTheRows) {
  const Dataset data = imbalanced(103, 7);
  const auto folds = cross_validation_folds(data, 5, 9);
  ASSERT_EQ(folds.size(), 5u);
  std::vector<int> seen(data.rows, 0);
  for (const auto& fold : folds) {
    EXPECT_TRUE(std::is_sorted(fold.begin(), fold.end()));
    EXPECT_GE(fold.size(), 20u);
    EXPECT_LE(fold.size(), 21u);
    std::size_t rare = 0;
    for (std::size_t r : fold) ++seen[r], rare += data.labels[r] == 1 ? 1 : 0;
    EXPECT_GE(rare, 1u);  // 7 rare rows over 5 folds: 1 or 2 in each
    EXPECT_LE(rare, 2u);
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  EXPECT_EQ(cross_validation_folds(data, 5, 9), folds);  // the seed decides
  EXPECT_NE(cross_validation_folds(data, 5, 10), folds);
  EXPECT_THROW(cross_validation_folds(data, 1, 9), Error);
  EXPECT_THROW(cross_validation_folds(data, 104, 9), Error);
}

// The lines of a CSV (header first) for these rows of a data set read from it.
std::string csv_rows(const std::vector<std::string>& lines, const std::vector<std::size_t>& rows) {
  std::string text = lines[0] + "\n";
  for (std::size_t r : rows) text += lines[r + 1] + "\n";
  return text;
}

// cv's fold k (with these options of train) is `backprop train` on the other rows, byte for byte, and its
// figures are `backprop eval`'s on the fold's rows; the mean and std are those of the folds. Returns cv's JSON.
// The cv tests' job in dir: data.csv (120 rows of the rings, two classes) and net.json (2-8-2, adam, a
// validation split, standard scaling) with this learning rate; returns the CSV's lines.
std::vector<std::string> write_rings_job(const testing::TempDir& dir, const std::string& learning_rate = "0.01") {
  const Dataset rings = testing::rings(120, 4);
  std::vector<std::string> lines = {"x,y,ring"};
  for (std::size_t r = 0; r < rings.rows; ++r)
    lines.push_back(format_float(rings.features_f32[2 * r]) + "," + format_float(rings.features_f32[2 * r + 1]) +
                    "," + rings.class_names[static_cast<std::size_t>(rings.labels[r])]);
  testing::write_file(dir / "data.csv", csv_rows(lines, [&] {
                        std::vector<std::size_t> all(rings.rows);
                        std::iota(all.begin(), all.end(), std::size_t{0});
                        return all;
                      }()));
  testing::write_file(dir / "net.json", R"({"input": 2, "layers": [{"units": 8, "activation": "tanh"},
      {"units": 2, "activation": "softmax"}], "loss": "softmax_ce", "optimizer": {"type": "adam",
      "learning_rate": )" + learning_rate + R"(}, "training": {"epochs": 4, "batch_size": 16, "validation_split": 0.2,
      "scale": "standard"}, "seed": 1})");
  return lines;
}

nlohmann::json expect_folds_are_train_and_eval(const std::string& options) {
  testing::TempDir dir;
  const std::vector<std::string> lines = write_rings_job(dir);
  const auto cv = testing::run_backprop("cv " + testing::shell_word(dir / "net.json") + " --data " +
                                        testing::shell_word(dir / "data.csv") + " --folds 4 --seed 3 --json --out-dir " +
                                        testing::shell_word(dir / "folds") + options);
  EXPECT_EQ(cv.exit_code, 0) << cv.out;
  if (cv.exit_code != 0) return {};
  const auto result = nlohmann::json::parse(cv.out);
  EXPECT_EQ(result["folds"].size(), 4u);
  if (result["folds"].size() != 4u) return {};

  const io::ModelFile network = io::read_model(dir / "net.json").model;
  const Dataset data = load_for_network(network.network, (dir / "data.csv").string(), "", "", {});
  const auto folds = cross_validation_folds(data, 4, 3);
  for (std::size_t f = 0; f < folds.size(); ++f) {
    std::vector<std::size_t> kept;
    for (std::size_t r = 0; r < data.rows; ++r)
      if (!std::binary_search(folds[f].begin(), folds[f].end(), r)) kept.push_back(r);
    const std::string n = std::to_string(f + 1);
    testing::write_file(dir / ("train" + n + ".csv"), csv_rows(lines, kept));
    testing::write_file(dir / ("test" + n + ".csv"), csv_rows(lines, folds[f]));
    const auto trained = testing::run_backprop(
        "train " + testing::shell_word(dir / "net.json") + " --data " + testing::shell_word(dir / ("train" + n + ".csv")) +
        " --seed 3 --quiet --out " + testing::shell_word(dir / ("model" + n + ".bin")) + options);
    EXPECT_EQ(trained.exit_code, 0) << trained.out;
    EXPECT_EQ(testing::read_text(dir / ("model" + n + ".bin")), testing::read_text(dir / "folds" / ("fold-1-" + n + ".model")))
        << "fold " << n;
    const auto evaluated = testing::run_backprop("eval " + testing::shell_word(dir / ("model" + n + ".bin")) + " --data " +
                                                 testing::shell_word(dir / ("test" + n + ".csv")) + " --json");
    EXPECT_EQ(evaluated.exit_code, 0) << evaluated.out;
    const auto expected = nlohmann::json::parse(evaluated.out);
    const auto& fold = result["folds"][f];
    for (const char* key : {"loss", "accuracy", "rows", "balanced_accuracy", "log_loss", "roc_auc", "f1_macro",
                            "f1_weighted"})
      EXPECT_EQ(fold[key], expected[key]) << "fold " << n << ", " << key;
    EXPECT_EQ(fold.contains("threshold"), expected.contains("threshold")) << "fold " << n;
    if (expected.contains("threshold")) EXPECT_EQ(fold["threshold"], expected["threshold"]) << "fold " << n;
  }
  for (const char* key : {"accuracy", "roc_auc"}) {
    double mean = 0, variance = 0;
    for (const auto& fold : result["folds"]) mean += fold[key].get<double>() / 4;
    for (const auto& fold : result["folds"]) variance += (fold[key].get<double>() - mean) * (fold[key].get<double>() - mean) / 4;
    EXPECT_NEAR(result["mean"][key].get<double>(), mean, 1e-12);
    EXPECT_NEAR(result["std"][key].get<double>(), std::sqrt(variance), 1e-12);
  }
  return result;
}

TEST(CrossValidationCommand, EachFoldIsTrainOnTheOtherRowsAndEvalOnItsOwn) {
  const auto result = expect_folds_are_train_and_eval("");
  for (const auto& fold : result["folds"]) EXPECT_FALSE(fold.contains("threshold"));
}

// With two threads or more, cv runs the folds side by side, each on one thread (their products are too small
// for the pool to share out): each fold's model file is byte for byte the one of the folds run one after
// another (--threads 1), and so is the JSON. A job whose folds all fail (a learning rate that overflows the
// weights) fails alike: the first fold's error, exit 1, nothing written for the folds.
TEST(CrossValidationCommand, FoldsSideBySideGiveTheBytesOfFoldsOneAfterAnother) {
  testing::TempDir dir;
  write_rings_job(dir);
  {
    const io::ModelFile network = io::read_model(dir / "net.json").model;
    const int threads = kernels::thread_count();
    kernels::set_thread_count(1);
    EXPECT_FALSE(folds_side_by_side(network.network, 120, {}, 4));
    kernels::set_thread_count(2);
    EXPECT_TRUE(folds_side_by_side(network.network, 120, {}, 4));  // else this test would compare nothing new
    EXPECT_FALSE(folds_side_by_side(network.network, 120, {}, 1));
    kernels::set_thread_count(threads);
  }
  const auto cv = [&](int threads, const std::string& folder) {
    return testing::run_backprop("cv " + testing::shell_word(dir / "net.json") + " --data " +
                                 testing::shell_word(dir / "data.csv") + " --folds 4 --repeats 2 --json --threads " +
                                 std::to_string(threads) + " --out-dir " + testing::shell_word(dir / folder));
  };
  const auto one_after_another = cv(1, "one");
  ASSERT_EQ(one_after_another.exit_code, 0) << one_after_another.out;
  for (const int threads : {2, 3}) {
    const std::string folder = "side" + std::to_string(threads);
    const auto side_by_side = cv(threads, folder);
    ASSERT_EQ(side_by_side.exit_code, 0) << side_by_side.out;
    EXPECT_EQ(side_by_side.out, one_after_another.out) << threads << " threads";
    for (const char* name : {"fold-1-1", "fold-1-2", "fold-1-3", "fold-1-4", "fold-2-1", "fold-2-4"}) {
      const std::string file = std::string(name) + ".model";
      EXPECT_EQ(testing::read_text(dir / folder / file), testing::read_text(dir / "one" / file))
          << file << ", " << threads << " threads";
    }
  }
  testing::TempDir failing;
  write_rings_job(failing, "1e38");
  std::string first_error;
  for (const int threads : {1, 2}) {
    const auto result = testing::run_backprop("cv " + testing::shell_word(failing / "net.json") + " --data " +
                                              testing::shell_word(failing / "data.csv") + " --folds 4 --json --threads " +
                                              std::to_string(threads) + " --out-dir " +
                                              testing::shell_word(failing / ("out" + std::to_string(threads))));
    EXPECT_EQ(result.exit_code, 1) << result.out;
    EXPECT_NE(result.out.find("diverged"), std::string::npos) << result.out;
    EXPECT_FALSE(std::filesystem::exists(failing / ("out" + std::to_string(threads)) / "fold-1-1.model"));
    if (threads == 1) first_error = result.out;
    EXPECT_EQ(result.out, first_error) << threads << " threads";
  }
}

// cv --threshold: each fold's model keeps the threshold train --threshold picks on that fold's validation
// rows, and its figures are eval's on that model, at that threshold (the same JSON, "threshold" included).
// The kept thresholds are the folds' own, not the default 0.5 (else the option would not have been applied).
TEST(CrossValidationCommand, WithAThresholdEachFoldsFiguresAreAtItsModelsThreshold) {
  for (const char* rule : {"f1", "youden", "0.3"}) {
    SCOPED_TRACE(rule);
    const auto result = expect_folds_are_train_and_eval(std::string(" --threshold ") + rule);
    std::set<double> thresholds;
    for (const auto& fold : result["folds"]) {
      ASSERT_TRUE(fold.contains("threshold"));
      thresholds.insert(fold["threshold"].get<double>());
    }
    if (std::string(rule) == "0.3")
      EXPECT_EQ(thresholds, std::set<double>{0.3});
    else
      EXPECT_FALSE(thresholds.count(0.5) == 1 && thresholds.size() == 1);
  }
}

// nn/loss.hpp's weighted loss and dL/dz in double against PyTorch's (tests/reference/class_weight_reference.py):
// CrossEntropyLoss(weight=), BCELoss(weight=) and sample weights, to 1e-12.
TEST(WeightedLoss, IsTorchsWeightedLoss) {
  const auto reference =
      nlohmann::json::parse(testing::read_text(testing::source_path("tests/data/class_weight_reference.json")));
  ASSERT_EQ(reference["cases"].size(), 4u);
  for (const auto& c : reference["cases"]) {
    const std::string name = c["case"];
    const LossKind loss = name.starts_with("softmax_ce") ? LossKind::softmax_ce
                          : name.starts_with("bce")      ? LossKind::bce
                                                         : LossKind::mse;
    const auto z_rows = c["z"].get<std::vector<std::vector<double>>>();
    const int batch = static_cast<int>(z_rows.size()), outputs = static_cast<int>(z_rows[0].size());
    std::vector<double> z, a, y, grad;
    for (const auto& row : z_rows) z.insert(z.end(), row.begin(), row.end());
    for (const auto& row : c["y"].get<std::vector<std::vector<double>>>()) y.insert(y.end(), row.begin(), row.end());
    for (const auto& row : c["grad"].get<std::vector<std::vector<double>>>())
      grad.insert(grad.end(), row.begin(), row.end());
    const std::vector<double> weights = c["rows"].get<std::vector<double>>();
    a = z;
    DenseLayer layer{outputs, outputs, Activation::identity};
    if (loss == LossKind::bce) {
      layer.activation = Activation::sigmoid;
      for (double& v : a) v = 1 / (1 + std::exp(-v));
    } else if (loss == LossKind::softmax_ce) {
      layer.activation = Activation::softmax;
      for (int r = 0; r < batch; ++r) {
        double sum = 0;
        for (int o = 0; o < outputs; ++o) sum += std::exp(z[r * outputs + o]);
        for (int o = 0; o < outputs; ++o) a[r * outputs + o] = std::exp(z[r * outputs + o]) / sum;
      }
    }
    const double value = loss_value<double>(loss, 0.0, z.data(), a.data(), y.data(), batch, outputs, weights.data());
    EXPECT_NEAR(value, c["loss"].get<double>(), 1e-12 * std::abs(c["loss"].get<double>())) << name;
    std::vector<double> dz(z.size());
    loss_backward<double>(dz.data(), loss, 0.0, z.data(), a.data(), y.data(), layer, batch, weights.data());
    for (std::size_t i = 0; i < dz.size(); ++i) EXPECT_NEAR(dz[i], grad[i], 1e-12) << name << ", element " << i;
    // Every weight 1 is the unweighted loss (to rounding: the weighted sum adds each row's loss whole).
    const std::vector<double> ones(static_cast<std::size_t>(batch), 1.0);
    const double plain = loss_value<double>(loss, 0.0, z.data(), a.data(), y.data(), batch, outputs);
    EXPECT_NEAR(loss_value<double>(loss, 0.0, z.data(), a.data(), y.data(), batch, outputs, ones.data()), plain,
                1e-15 * plain) << name;
  }
}

// The curves behind ROC AUC and average precision, by hand: scores 0.9 (+), 0.8 (-), 0.8 (+), 0.3 (-); the
// tie at 0.8 is one point.
TEST(Curves, RocAndPrecisionRecallPointsByHand) {
  const std::vector<double> scores = {0.9, 0.8, 0.8, 0.3};
  const std::vector<std::uint8_t> positive = {1, 0, 1, 0};
  const auto roc = roc_curve(scores, positive);
  const std::vector<std::pair<double, double>> expected_roc = {{0, 0}, {0, 0.5}, {0.5, 1}, {1, 1}};
  ASSERT_EQ(roc.size(), expected_roc.size());
  for (std::size_t i = 0; i < roc.size(); ++i) {
    EXPECT_DOUBLE_EQ(roc[i].x, expected_roc[i].first) << i;
    EXPECT_DOUBLE_EQ(roc[i].y, expected_roc[i].second) << i;
  }
  const auto pr = precision_recall_curve(scores, positive);
  const std::vector<std::pair<double, double>> expected_pr = {{0, 1}, {0.5, 1}, {1, 2.0 / 3}, {1, 0.5}};
  ASSERT_EQ(pr.size(), expected_pr.size());
  for (std::size_t i = 0; i < pr.size(); ++i) {
    EXPECT_DOUBLE_EQ(pr[i].x, expected_pr[i].first) << i;
    EXPECT_DOUBLE_EQ(pr[i].y, expected_pr[i].second) << i;
  }
  // The areas: trapezoids under the ROC (0.5 x 0.75 + 0.5 x 1 = 0.875), the steps of the PR curve
  // (0.5 x 1 + 0.5 x 2/3).
  EXPECT_DOUBLE_EQ(roc_auc(scores, positive), 0.875);
  EXPECT_DOUBLE_EQ(average_precision(scores, positive), 0.5 + 0.5 * 2.0 / 3);
  EXPECT_TRUE(roc_curve(scores, std::vector<std::uint8_t>(4, 1)).empty());
}

// train --report shows each class's scores and, for two classes, the ROC and precision-recall curves with
// the areas eval reports on the same rows.
TEST(CrossValidationCommand, TheReportShowsTheCurvesAndEachClassesScores) {
  testing::TempDir dir;
  const Dataset rings = testing::rings(200, 6);
  std::string csv = "x,y,ring\n";
  for (std::size_t r = 0; r < rings.rows; ++r)
    csv += format_float(rings.features_f32[2 * r]) + "," + format_float(rings.features_f32[2 * r + 1]) + "," +
           rings.class_names[static_cast<std::size_t>(rings.labels[r])] + "\n";
  testing::write_file(dir / "data.csv", csv);
  testing::write_file(dir / "net.json", R"({"input": 2, "layers": [{"units": 8, "activation": "tanh"},
      {"units": 1, "activation": "sigmoid"}], "loss": "bce", "optimizer": {"type": "adam", "learning_rate": 0.02},
      "training": {"epochs": 10, "batch_size": 16}, "seed": 2})");
  const auto trained = testing::run_backprop("train " + testing::shell_word(dir / "net.json") + " --data " +
                                             testing::shell_word(dir / "data.csv") + " --quiet --out " +
                                             testing::shell_word(dir / "m.bin") + " --report " +
                                             testing::shell_word(dir / "report.html"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const std::string page = testing::read_text(dir / "report.html");
  const auto evaluated = testing::run_backprop("eval " + testing::shell_word(dir / "m.bin") + " --data " +
                                               testing::shell_word(dir / "data.csv") + " --json");
  const auto figures = nlohmann::json::parse(evaluated.out);
  char auc[64], ap[64];
  std::snprintf(auc, sizeof auc, "ROC curve (AUC %.4f)", figures["roc_auc"].get<double>());
  std::snprintf(ap, sizeof ap, "Precision-recall curve (average precision %.4f)",
                figures["average_precision"].get<double>());
  EXPECT_NE(page.find(auc), std::string::npos) << auc;
  EXPECT_NE(page.find(ap), std::string::npos) << ap;
  EXPECT_NE(page.find("Precision, recall and F1 per class (training set, 200 rows)"), std::string::npos);
  char f1[64];
  std::snprintf(f1, sizeof f1, "%.4f", figures["classes"]["outer"]["f1"].get<double>());
  EXPECT_NE(page.find(std::string("<td>outer</td>")), std::string::npos);
  EXPECT_NE(page.find(f1), std::string::npos) << f1;
  EXPECT_NE(page.find("<polyline class=\"series\""), std::string::npos);
}

}  // namespace
}  // namespace backprop
