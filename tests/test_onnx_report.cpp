// `backprop export --format onnx` and `backprop train --report` end to end.
//
// ONNX: the command writes a protobuf ModelProto (or, in a build without ONNX, exits 2 saying so and
// writes nothing). The graph's numbers are checked against `backprop predict` by
// tests/python/test_onnx_export.py, which evaluates the exported graph with numpy.
//
// Report: the page holds the charts (inline SVG), the confusion matrix with escaped class names, the
// network and the settings, and fetches nothing; headless Chromium renders it to a PNG that is decoded here
// (zlib) and must show the training and validation curves' colours on a page that is not blank.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/io/onnx_export.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/train/report.hpp"
#include "helpers.hpp"
#include "image.hpp"

namespace {

namespace fs = std::filesystem;
using backprop::testing::read_text;
using backprop::testing::run_backprop;
using backprop::testing::source_path;
using backprop::testing::TempDir;
using backprop::testing::count_pixels_near;
using backprop::testing::decode_png;
using backprop::testing::Image;
using backprop::testing::write_file;
using ::testing::HasSubstr;
using ::testing::Not;

using backprop::testing::shell_word;

// ---- ONNX ----

TEST(CommandOnnx, ExportWritesAnOnnxModelOrSaysItIsNotBuiltIn) {
  TempDir dir;
  const fs::path out = dir / "seed.onnx";
  const auto result =
      run_backprop("export " + shell_word(source_path("examples/seed.json")) + " --format onnx --out " + shell_word(out));
  if (!backprop::io::onnx_export_available()) {
    EXPECT_EQ(result.exit_code, 2) << result.out;
    EXPECT_THAT(result.out, HasSubstr("ONNX export was not built into this backprop"));
    EXPECT_FALSE(fs::exists(out));
    GTEST_SKIP() << "ONNX export is not built in (BACKPROP_WITH_ONNX off): checked that it exits 2";
  }
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const std::string bytes = read_text(out);
  // ModelProto's fields in number order: ir_version (field 1, varint: tag 0x08) = 6, then producer_name
  // (field 2, length-delimited: tag 0x12) = "backprop".
  ASSERT_GE(bytes.size(), 12u);
  EXPECT_EQ(bytes.substr(0, 12), std::string("\x08\x06\x12\x08" "backprop"));
  for (const char* name : {"input", "output", "layer1_weights", "layer3_bias", "Gemm", "Sigmoid", "batch"})
    EXPECT_THAT(bytes, HasSubstr(name));
}

TEST(CommandOnnx, ABadModelIsRefusedAndTheOutputIsLeftAsItWas) {
  TempDir dir;
  const fs::path out = dir / "model.onnx";
  write_file(dir / "bad.json", "{\"input\": 2, \"layers\": [");
  write_file(out, "previous");
  const auto result = run_backprop("export " + shell_word(dir / "bad.json") + " --format onnx --out " + shell_word(out));
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_THAT(result.out, HasSubstr("bad.json"));
  EXPECT_EQ(read_text(out), "previous");
}

// ---- report: data ----

// Three Gaussian blobs in two features (centres 6 apart, noise 0.5: separable), labelled with names that
// need escaping in HTML.
const std::array<std::string, 3> kLabels = {"<cat>", "dog & co", "fish"};

std::string blobs_csv(int rows, std::uint64_t seed) {
  const double centres[3][2] = {{-3.0, 0.0}, {3.0, 0.0}, {0.0, 5.0}};
  backprop::Random random(seed);
  std::ostringstream out;
  out.precision(9);
  out << "x1,x2,animal\n";
  for (int r = 0; r < rows; ++r) {
    const int label = static_cast<int>(random.below(3));
    out << centres[label][0] + 0.5 * random.normal() << "," << centres[label][1] + 0.5 * random.normal() << ","
        << kLabels[label] << "\n";
  }
  return out.str();
}

const char* kClassifierNetwork = R"({"input": 2, "layers": [{"units": 8, "activation": "relu"},
  {"units": 3, "activation": "softmax"}], "loss": "softmax_ce", "seed": 3,
  "optimizer": {"type": "adam", "learning_rate": 0.02}, "training": {"epochs": 12, "batch_size": 16}})";

// Trains the blob classifier with --report; returns the page.
std::string train_with_report(const TempDir& dir, const std::string& extra = "--validation-split 0.25") {
  write_file(dir / "net.json", kClassifierNetwork);
  write_file(dir / "blobs.csv", blobs_csv(240, 11));
  const auto result = run_backprop("train " + shell_word(dir / "net.json") + " --data " + shell_word(dir / "blobs.csv") +
                                   " " + extra + " --scale standard --quiet --out " + shell_word(dir / "m.model") +
                                   " --report " + shell_word(dir / "report.html"));
  EXPECT_EQ(result.exit_code, 0) << result.out;
  return read_text(dir / "report.html");
}

// ---- report: content ----

TEST(CommandReport, ClassificationPageHoldsChartsConfusionNetworkAndSettings) {
  TempDir dir;
  const std::string html = train_with_report(dir);
  ASSERT_FALSE(html.empty());
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("<polyline"));
  EXPECT_THAT(html, HasSubstr("<h2>Loss</h2>"));
  EXPECT_THAT(html, HasSubstr("<h2>Accuracy</h2>"));
  EXPECT_THAT(html, HasSubstr("Confusion matrix (validation set, 60 rows)"));
  // Class names escaped, never raw.
  EXPECT_THAT(html, HasSubstr("&lt;cat&gt;"));
  EXPECT_THAT(html, HasSubstr("dog &amp; co"));
  EXPECT_THAT(html, Not(HasSubstr("<cat>")));
  EXPECT_THAT(html, Not(HasSubstr("dog & co")));
  // Network and settings.
  EXPECT_THAT(html, HasSubstr("2 &rarr; 8"));
  EXPECT_THAT(html, HasSubstr("relu"));
  EXPECT_THAT(html, HasSubstr("51</td>"));  // total parameters: 2*8+8 + 8*3+3
  for (const char* setting : {"adam: learning rate 0.02", "batch size", "epochs", "scaling", "standard", "seed",
                              "training wall time", "best epoch", "stopped early", "blobs.csv", "training rows",
                              "validation rows", "split 0.25 of the training data"})
    EXPECT_THAT(html, HasSubstr(setting));
}

TEST(CommandReport, PageFetchesNothing) {
  TempDir dir;
  const std::string html = train_with_report(dir);
  ASSERT_FALSE(html.empty());
  for (const char* reference : {"http://", "https://", "<script", "<link", "<img", "<iframe", "@import", "url(", "src="})
    EXPECT_THAT(html, Not(HasSubstr(reference))) << reference;
}

TEST(CommandReport, WithoutValidationTheConfusionMatrixCountsTheTrainingSet) {
  TempDir dir;
  const std::string html = train_with_report(dir, "");
  EXPECT_THAT(html, HasSubstr("Confusion matrix (training set, 240 rows)"));
  EXPECT_THAT(html, Not(HasSubstr("validation rows")));
}

TEST(CommandReport, RegressionPageShowsRmseAndNoConfusionMatrix) {
  TempDir dir;
  const fs::path page = dir / "f.html";
  const auto result = run_backprop("train " + shell_word(source_path("examples/noisy-function.json")) + " --data " +
                                   shell_word(source_path("examples/data/noisy-function.csv")) +
                                   " --epochs 3 --quiet --out " + shell_word(dir / "f.model") + " --report " +
                                   shell_word(page));
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const std::string html = read_text(page);
  EXPECT_THAT(html, HasSubstr("<h2>RMSE</h2>"));
  EXPECT_THAT(html, HasSubstr("regression"));
  EXPECT_THAT(html, Not(HasSubstr("Confusion matrix")));
}

TEST(TrainingReport, EscapesTextAndRefusesAConfusionMatrixOfTheWrongSize) {
  EXPECT_EQ(backprop::html_escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  backprop::TrainingReport report;
  report.spec.input = 2;
  report.class_names = {"a", "b"};
  report.confusion = {1, 2, 3};
  EXPECT_THROW(backprop::training_report_html(report), backprop::Error);
  report.confusion = {1, 2, 3, 4};
  report.settings = {{"data <file>", "x&y"}};
  const std::string html = backprop::training_report_html(report);  // no epochs: the charts say so
  EXPECT_THAT(html, HasSubstr("No values to plot"));
  EXPECT_THAT(html, HasSubstr("data &lt;file&gt;"));
  EXPECT_THAT(html, HasSubstr("x&amp;y"));
}

// ---- report: rendered by headless Chromium ----

// The page at `page` rendered by headless Chromium (1200 pixels wide), or nothing where Chromium is missing.
std::optional<Image> render(const TempDir& dir, const fs::path& page, int height) {
  const fs::path chromium = "/usr/bin/chromium";
  if (!fs::exists(chromium)) return std::nullopt;
  const fs::path screenshot = dir / (page.stem().string() + ".png");
  // A fresh profile, nothing fetched; `timeout` so that a hung browser fails the test rather than the run.
  const std::string command = backprop::testing::headless_chromium(chromium, dir / "profile") +
                              " --screenshot=" + shell_word(screenshot) + " --window-size=1200," +
                              std::to_string(height) + " " + shell_word("file://" + page.string()) + " > " +
                              shell_word(dir / "chromium.log") + " 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_TRUE(fs::exists(screenshot)) << "chromium wrote no screenshot (status " << status << "):\n"
                                      << read_text(dir / "chromium.log");
  if (!fs::exists(screenshot)) return Image{};
  return decode_png(read_text(screenshot));
}

constexpr const char* kNoChromium = "SKIPPED: /usr/bin/chromium is not installed (Debian package chromium), so the "
                                    "report was not rendered; CI installs it";

TEST(CommandReport, ChromiumRendersThePage) {
  TempDir dir;
  const std::string html = train_with_report(dir);
  ASSERT_FALSE(html.empty());
  const std::optional<Image> rendered = render(dir, dir / "report.html", 3200);
  if (!rendered) GTEST_SKIP() << kNoChromium;
  const Image& image = *rendered;
  ASSERT_EQ(image.width, 1200);
  ASSERT_EQ(image.height, 3200);

  // Not blank: the page's background is a light grey (#f4f6f9) and its sections white; text, grid,
  // curves and the confusion matrix's shading are the rest.
  std::size_t ink = 0;
  for (const auto& p : image.pixels)
    if (p[0] < 200 || p[1] < 200 || p[2] < 200) ++ink;
  EXPECT_GT(ink, image.pixels.size() / 200) << "the screenshot is (nearly) blank";
  // The SVG was drawn: the training curve's blue (#1f77b4) and the validation curve's orange (#ff7f0e).
  EXPECT_GT(count_pixels_near(image, 0x1f, 0x77, 0xb4, 24), 200u) << "no training curve in the screenshot";
  EXPECT_GT(count_pixels_near(image, 0xff, 0x7f, 0x0e, 24), 200u) << "no validation curve in the screenshot";
  // Three classes: the third class's curves against the rest in green (#2ca02c), and the reliability plot's
  // count bars (#c9d3e0).
  EXPECT_THAT(html, HasSubstr("ROC curves, each class against the rest"));
  EXPECT_GT(count_pixels_near(image, 0x2c, 0xa0, 0x2c, 24), 150u) << "no third class's curve in the screenshot";
  EXPECT_GT(count_pixels_near(image, 0xc9, 0xd3, 0xe0, 6), 150u) << "no reliability bars in the screenshot";
}

// A regression's page: the residual plot's points and the permutation importance's bars (#3b7dd8).
TEST(CommandReport, ChromiumRendersTheResidualsAndTheImportance) {
  TempDir dir;
  const fs::path page = dir / "f.html";
  const auto result = run_backprop("train " + shell_word(source_path("examples/noisy-function.json")) + " --data " +
                                   shell_word(source_path("examples/data/noisy-function.csv")) +
                                   " --epochs 3 --quiet --out " + shell_word(dir / "f.model") + " --report " +
                                   shell_word(page) + " --report-importance 2");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const std::string html = read_text(page);
  EXPECT_THAT(html, HasSubstr("<h2>Residuals (validation set, 400 rows)</h2>"));
  EXPECT_THAT(html, HasSubstr("<h2>Permutation importance (validation set, 400 rows)</h2>"));
  EXPECT_THAT(html, HasSubstr("over 2 shuffles"));
  const std::optional<Image> rendered = render(dir, page, 2400);
  if (!rendered) GTEST_SKIP() << kNoChromium;
  ASSERT_EQ(rendered->height, 2400);
  // The residuals' dots in the training blue, below the loss and RMSE charts (which end above y = 560 at this
  // width): the lower part of the page holds no other curve.
  Image lower = *rendered;
  lower.pixels.erase(lower.pixels.begin(), lower.pixels.begin() + 560 * lower.width);
  EXPECT_GT(count_pixels_near(lower, 0x1f, 0x77, 0xb4, 24), 200u) << "no residual points in the screenshot";
  EXPECT_GT(count_pixels_near(*rendered, 0x3b, 0x7d, 0xd8, 12), 100u) << "no importance bars in the screenshot";
}

}  // namespace
