// Tables as they come (data/table.hpp): the recipe inferred from a small table worked by hand, its encoding,
// the model that keeps it, and the command on raw rows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/data/folds.hpp"
#include "backprop/data/table.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/train/cross_validation.hpp"
#include "backprop/train/prepare.hpp"
#include "helpers.hpp"

namespace backprop {
namespace {

using ::testing::HasSubstr;
using testing::CommandResult;
using testing::read_text;
using testing::run_backprop;
using testing::shell_word;
using testing::TempDir;
using testing::write_file;

// 12 rows: id distinct whole numbers, color text (red 5, blue 4, green 2, one blank), income with two missing
// cells ("NA", "?"), k constant, label with one missing cell (row 3).
constexpr const char* kTable =
    "id,color,income,k,label\n"
    "1,red,10,c,yes\n"
    "2,blue,NA,c,no\n"
    "3,red,30,c,\n"
    "4,green,20,c,no\n"
    "5,red,40,c,yes\n"
    "6,blue,?,c,no\n"
    "7,,50,c,yes\n"
    "8,red,60,c,yes\n"
    "9,blue,70,c,no\n"
    "10,green,80,c,no\n"
    "11,red,90,c,yes\n"
    "12,blue,100,c,no\n";

const TableColumn& column(const TableRecipe& recipe, const std::string& name) {
  for (const TableColumn& c : recipe.columns)
    if (c.name == name) return c;
  throw std::runtime_error("no column " + name);
}

// Rows read later (predict, eval) by the recipe and classes `trained` was read with.
Dataset encoded_by(const Dataset& trained, const std::filesystem::path& path, const std::string& target) {
  LoadOptions options;
  options.table = trained.table.get();
  options.target = target;
  options.known_classes = trained.class_names;
  return load_dataset(path, std::nullopt, options);
}

TEST(Table, TheRecipeOfASmallTableIsTheOneWorkedByHand) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  const Dataset data = load_table((dir / "t.csv").string(), {"label", std::nullopt, {}, {}});
  ASSERT_TRUE(data.table);
  const TableRecipe& recipe = *data.table;
  EXPECT_EQ(column(recipe, "id").kind, ColumnKind::identifier);
  EXPECT_EQ(column(recipe, "k").kind, ColumnKind::constant);
  const TableColumn& income = column(recipe, "income");
  EXPECT_EQ(income.kind, ColumnKind::numeric);
  // The 10 present values 10, 20, ..., 100 (30 included: the recipe is inferred on every row, the target's
  // missing row too): median (50 + 60) / 2 = 55.
  EXPECT_DOUBLE_EQ(income.median, 55.0);
  EXPECT_TRUE(income.indicator);
  const TableColumn& color = column(recipe, "color");
  EXPECT_EQ(color.kind, ColumnKind::categorical);
  // By count: red 5, blue 4, green 2.
  EXPECT_EQ(color.categories, (std::vector<std::string>{"red", "blue", "green"}));
  EXPECT_FALSE(color.other);
  EXPECT_TRUE(color.missing_slot);
  EXPECT_EQ(recipe.input_names(), (std::vector<std::string>{"color=red", "color=blue", "color=green",
                                                            "color (missing)", "income", "income (missing)"}));
  EXPECT_EQ(data.task, TaskKind::classification);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(data.rows, 11U);
  EXPECT_EQ(data.rows_without_target, 1U);
  ASSERT_EQ(data.features, 6);
  // Row 2 (blue, NA): blue's slot, the median and the indicator. Row 7 (blank color, 50) is the 6th kept row.
  const std::vector<float> row2(data.features_f32.begin() + 6, data.features_f32.begin() + 12);
  EXPECT_EQ(row2, (std::vector<float>{0, 1, 0, 0, 55, 1}));
  const std::vector<float> row7(data.features_f32.begin() + 5 * 6, data.features_f32.begin() + 6 * 6);
  EXPECT_EQ(row7, (std::vector<float>{0, 0, 0, 1, 50, 0}));
  EXPECT_EQ(data.labels[0], 1);  // yes
  EXPECT_EQ(data.labels[1], 0);  // no
  // A value training never saw in a column without "other" sets no input and is counted.
  write_file(dir / "new.csv", "color,income,label\npurple,5,no\nred,,yes\n");
  const Dataset later = encoded_by(data, dir / "new.csv", "label");
  EXPECT_EQ(later.unknown_values, 1U);
  EXPECT_EQ(later.ignored_columns.size(), 0U);
  EXPECT_EQ(std::vector<float>(later.features_f32.begin(), later.features_f32.begin() + 6),
            (std::vector<float>{0, 0, 0, 0, 5, 0}));
  EXPECT_EQ(std::vector<float>(later.features_f32.begin() + 6, later.features_f32.end()),
            (std::vector<float>{1, 0, 0, 0, 55, 1}));
}

TEST(Table, TheTaskComesFromTheTarget) {
  TempDir dir;
  std::string few = "x,y\n", many = "x,y\n", fractions = "x,y\n";
  for (int i = 0; i < 40; ++i) {
    few += std::to_string(i % 7) + "," + std::to_string(i % 3) + "\n";
    many += std::to_string(i % 7) + "," + std::to_string(i % 11) + "\n";
    fractions += std::to_string(i % 7) + "," + std::to_string(i % 3) + ".5\n";
  }
  write_file(dir / "few.csv", few);
  write_file(dir / "many.csv", many);
  write_file(dir / "fractions.csv", fractions);
  EXPECT_EQ(load_table((dir / "few.csv").string(), {}).task, TaskKind::classification);  // 3 whole values
  EXPECT_EQ(load_table((dir / "many.csv").string(), {}).task, TaskKind::regression);     // 11 > kMaxClassValues
  EXPECT_EQ(load_table((dir / "fractions.csv").string(), {}).task, TaskKind::regression);
  EXPECT_EQ(load_table((dir / "many.csv").string(), {"", TaskKind::classification, {}, {}}).class_names.size(), 11U);
  // x (distinct whole numbers, 10 rows) is an identifier: left out, nothing remains.
  write_file(dir / "only_id.csv", "x,y\n" + std::string("1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n7,a\n8,b\n9,a\n10,b\n"));
  EXPECT_THROW(load_table((dir / "only_id.csv").string(), {}), Error);
  // Forced categorical: the integer codes become categories.
  const Dataset forced = load_table((dir / "few.csv").string(), {"x", std::nullopt, {"y"}, {}});
  EXPECT_EQ(column(*forced.table, "y").kind, ColumnKind::categorical);
}

TEST(Table, RareValuesArePooledAndUnseenOnesCounted) {
  TempDir dir;
  // 40 values of v, value j seen j + 2 times (so the 30 most frequent are 10..39), and a target.
  std::string text = "v,y\n";
  for (int j = 0; j < 40; ++j)
    for (int k = 0; k < j + 2; ++k) text += "v" + std::to_string(j) + "," + std::to_string(k % 2) + "\n";
  write_file(dir / "t.csv", text);
  TableSettings pool;
  pool.target = "y";
  pool.many_categories = ManyCategories::pool;  // (the default embeds: TableEmbedding below)
  const Dataset data = load_table((dir / "t.csv").string(), pool);
  const TableColumn& v = column(*data.table, "v");
  ASSERT_EQ(v.categories.size(), kMaxCategories);
  EXPECT_EQ(v.categories.front(), "v39");
  EXPECT_EQ(v.categories.back(), "v10");
  EXPECT_TRUE(v.other);
  EXPECT_EQ(data.features, 31);
  EXPECT_EQ(data.unknown_values, 0U);
  // Encoded by that recipe, a pooled value and an unseen one both go to "other" (they cannot be told apart
  // without keeping every rare value), uncounted.
  write_file(dir / "new.csv", "v,y\nv0,0\nnever,1\nv39,0\n");
  const Dataset later = encoded_by(data, dir / "new.csv", "y");
  EXPECT_EQ(later.unknown_values, 0U);
  EXPECT_EQ(later.features_f32[0 * 31 + 30], 1.0F);  // v0: pooled
  EXPECT_EQ(later.features_f32[1 * 31 + 30], 1.0F);  // never: unknown, into other
  EXPECT_EQ(later.features_f32[2 * 31 + 0], 1.0F);   // v39: the most frequent
}

TEST(TableCommand, OneCommandTrainsAndTheModelTakesRawRowsByName) {
  TempDir dir;
  std::string text = "id,color,income,x,label\n";
  for (int i = 0; i < 200; ++i) {
    const char* color = i % 3 == 0 ? "red" : (i % 3 == 1 ? "green" : "blue");
    const double x = (i * 37 % 100) / 100.0;
    const bool yes = (i % 3 == 0) != (x > 0.5);
    text += std::to_string(i) + "," + color + "," + (i % 10 == 0 ? "" : std::to_string(40 + i % 17)) + "," +
            std::to_string(x) + "," + (yes ? "yes" : "no") + "\n";
  }
  write_file(dir / "t.csv", text);
  const CommandResult trained = run_backprop("train --data " + shell_word(dir / "t.csv") + " --target label --seed 3 --out " +
                                             shell_word(dir / "m.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  EXPECT_THAT(trained.out, HasSubstr("identifier"));
  EXPECT_THAT(trained.out, HasSubstr("categorical"));
  const io::ModelFile model = io::load_model(dir / "m.model");
  ASSERT_TRUE(model.table);
  EXPECT_EQ(model.features, model.table->input_names());
  // The same rows with the columns in another order, an extra column and no id: the same predictions.
  std::string moved = "extra,x,label,income,color\n";
  std::string same = "color,income,x\n";
  for (int i = 0; i < 200; ++i) {
    const char* color = i % 3 == 0 ? "red" : (i % 3 == 1 ? "green" : "blue");
    const std::string income = i % 10 == 0 ? "NA" : std::to_string(40 + i % 17);
    const std::string x = std::to_string((i * 37 % 100) / 100.0);
    moved += "z," + x + ",?," + income + "," + color + "\n";
    same += std::string(color) + "," + income + "," + x + "\n";
  }
  write_file(dir / "moved.csv", moved);
  write_file(dir / "same.csv", same);
  const CommandResult a = run_backprop("predict " + shell_word(dir / "m.model") + " --data " + shell_word(dir / "moved.csv") +
                                       " --out " + shell_word(dir / "a.csv"));
  const CommandResult b = run_backprop("predict " + shell_word(dir / "m.model") + " --data " + shell_word(dir / "same.csv") +
                                       " --out " + shell_word(dir / "b.csv"));
  ASSERT_EQ(a.exit_code, 0) << a.out;
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_THAT(a.out, HasSubstr("'extra'"));
  EXPECT_EQ(read_text(dir / "a.csv"), read_text(dir / "b.csv"));
  const CommandResult eval = run_backprop("eval " + shell_word(dir / "m.model") + " --data " + shell_word(dir / "t.csv") +
                                          " --target label --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  EXPECT_THAT(eval.out, HasSubstr("\"rows\":200"));
  // A column the model needs is missing; a numeric column holds text: exit 2 naming them.
  write_file(dir / "short.csv", "color,income\nred,3\n");
  const CommandResult missing = run_backprop("predict " + shell_word(dir / "m.model") + " --data " + shell_word(dir / "short.csv"));
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  EXPECT_THAT(missing.out, HasSubstr("expected a column named 'x'"));
  write_file(dir / "text.csv", "color,income,x\nred,lots,0.5\n");
  const CommandResult text_cell = run_backprop("predict " + shell_word(dir / "m.model") + " --data " + shell_word(dir / "text.csv"));
  EXPECT_EQ(text_cell.exit_code, 2) << text_cell.out;
  EXPECT_THAT(text_cell.out, HasSubstr("text.csv:2:2: expected a number in column 2 (income)"));
  // The JSON export keeps the recipe and loads back to the same one.
  const CommandResult json = run_backprop("export " + shell_word(dir / "m.model") + " --format json --out " + shell_word(dir / "m.json"));
  ASSERT_EQ(json.exit_code, 0) << json.out;
  const io::ModelFile back = io::load_model(dir / "m.json");
  ASSERT_TRUE(back.table);
  EXPECT_EQ(back.table->input_names(), model.table->input_names());
  EXPECT_EQ(io::model_bytes(back), io::model_bytes(model));
  // ONNX and C would take the encoded inputs: refused, saying why.
  for (const std::string format : {"onnx", "c"}) {
    const CommandResult exported = run_backprop("export " + shell_word(dir / "m.model") + " --format " + format +
                                                " --out " + shell_word(dir / (format == "c" ? "m.h" : "m.onnx")));
    EXPECT_EQ(exported.exit_code, 2) << exported.out;
    EXPECT_THAT(exported.out, HasSubstr("expected a model whose inputs are the table's numeric columns"));
  }
}

}  // namespace
}  // namespace backprop

namespace backprop {
namespace {

TEST(TableRegression, TargetsAreStandardizedForTrainingAndFoldedBackIntoTheOutputLayer) {
  TempDir dir;
  // y = 50000 + 2000 x + a category's 5000: the scale of a salary.
  std::string text = "x,c,y\n";
  double sum = 0, squares = 0;
  std::vector<double> ys;
  for (int i = 0; i < 120; ++i) {
    const double x = (i * 7 % 40) / 4.0;
    const double y = 50000 + 2000 * x + (i % 2 == 0 ? 5000 : 0);
    ys.push_back(y);
    text += std::to_string(x) + "," + (i % 2 == 0 ? "a" : "b") + "," + std::to_string(y) + "\n";
  }
  write_file(dir / "t.csv", text);
  NetworkSpec spec;
  Dataset data = load_table((dir / "t.csv").string(), {});
  ASSERT_EQ(data.task, TaskKind::regression);
  spec = default_table_network(data, {});
  spec.training.validation_split = 0;
  const TrainingData prepared = prepare_training_data(spec, data, std::nullopt, std::nullopt, std::nullopt);
  for (const double y : ys) sum += y;
  const double mean = sum / 120;
  for (const double y : ys) squares += (y - mean) * (y - mean);
  ASSERT_EQ(prepared.target_offset.size(), 1U);
  EXPECT_NEAR(prepared.target_offset[0], mean, 1e-9 * mean);
  EXPECT_NEAR(prepared.target_scale[0], std::sqrt(squares / 120), 1e-9 * mean);
  EXPECT_NEAR(prepared.train.targets[0], (ys[0] - mean) / std::sqrt(squares / 120), 1e-6);
  // Folding: the folded network's output is the trained one's times the scale plus the offset.
  const Network<float> trained(spec);
  const Network<float> folded(predicting_spec(trained, prepared));
  std::vector<float> row(prepared.train.features_f32.begin(), prepared.train.features_f32.begin() + data.features);
  Workspace<float> a(trained, 1), b(folded, 1);
  trained.forward(a, row.data(), 1);
  folded.forward(b, row.data(), 1);
  const double raw = trained.output(a)[0], back = folded.output(b)[0];
  EXPECT_NEAR(back, raw * prepared.target_scale[0] + prepared.target_offset[0], 1e-6 * mean);
  // The command's model predicts in the data's units: its RMSE is a small part of the targets' spread.
  const CommandResult trained_cmd = run_backprop("train --data " + shell_word(dir / "t.csv") + " --out " + shell_word(dir / "m.model"));
  ASSERT_EQ(trained_cmd.exit_code, 0) << trained_cmd.out;
  const CommandResult eval = run_backprop("eval " + shell_word(dir / "m.model") + " --data " + shell_word(dir / "t.csv") + " --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  const auto at = eval.out.find("\"r2\":");
  ASSERT_NE(at, std::string::npos) << eval.out;
  EXPECT_GT(std::stod(eval.out.substr(at + 5)), 0.95) << eval.out;
}

}  // namespace
}  // namespace backprop

namespace backprop {
namespace {

// OpenBLAS and oneDNN are opened on the first product that needs one, not at start: a small table's whole run
// (every product under the pool's share-out size, on the library's own loops) maps neither, and a network whose
// products are large opens the library of its float products then. Seen in the dynamic loader's own log
// (LD_DEBUG=files names each object as it is mapped).
// The standard scaling fits a numeric column's value only: the one-hot, binary and missing inputs stay 0/1
// flags, as scikit-learn's ColumnTransformer scales its numeric columns only (a rare category standardized is
// a large input). The scaling is fitted on kTable's 11 rows with a label: income 10, NA, 20, 40, 50, ?, 60, ...,
// 100, the missing ones read as the recipe's median, 55, of the ten present cells (the recipe is inferred on
// every row, row 3's 30 included): mean 630 / 11.
TEST(TableCommand, TheScalingFitsTheNumericValuesAndLeavesTheFlags) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  const CommandResult trained = run_backprop("train --data " + shell_word(dir / "t.csv") + " --target label --epochs 1 "
                                             "--validation-split 0 --out " + shell_word(dir / "m.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const io::ModelFile model = io::load_model(dir / "m.model");
  ASSERT_EQ(model.scaling.kind, ScalingKind::standard);
  ASSERT_EQ(model.features.size(), model.scaling.offset.size());
  const std::vector<double> income = {10, 55, 20, 40, 50, 55, 60, 70, 80, 90, 100};
  const double mean = 630.0 / 11.0;
  double squares = 0.0;
  for (const double x : income) squares += (x - mean) * (x - mean);
  int flags = 0;
  for (std::size_t i = 0; i < model.features.size(); ++i) {
    if (model.features[i] == "income") {
      EXPECT_NEAR(model.scaling.offset[i], mean, 1e-9);
      EXPECT_NEAR(model.scaling.scale[i], std::sqrt(squares / 11.0), 1e-9);  // ddof 0, as StandardScaler
      continue;
    }
    EXPECT_EQ(model.scaling.offset[i], 0.0) << model.features[i];
    EXPECT_EQ(model.scaling.scale[i], 1.0) << model.features[i];
    ++flags;
  }
  EXPECT_EQ(flags, 5);  // color=red, =blue, =green, color (missing), income (missing)
}

TEST(TableCommand, ASmallTablesRunOpensNeitherOpenBlasNorOneDnnNorZlib) {
  TempDir dir;
  std::string text = "color,x,z,label\n";
  for (int i = 0; i < 120; ++i)
    text += std::string(i % 2 == 0 ? "red" : "blue") + "," + std::to_string(i % 7) + "," + std::to_string(i % 5 * 0.5) +
            "," + (i % 3 == 0 ? "yes" : "no") + "\n";
  write_file(dir / "t.csv", text);
  ASSERT_EQ(::setenv("LD_DEBUG", "files", 1), 0);
  const CommandResult small = run_backprop("train --data " + shell_word(dir / "t.csv") +
                                           " --target label --epochs 3 --out " + shell_word(dir / "small.model"));
  // 2 x 120 x 512 x 512 flops a product: shared out, so through the float library.
  const CommandResult large = run_backprop("train --data " + shell_word(dir / "t.csv") +
                                           " --target label --epochs 1 --hidden 512,512 --batch-size 120 --out " +
                                           shell_word(dir / "large.model"));
  ::unsetenv("LD_DEBUG");
  ASSERT_EQ(small.exit_code, 0) << small.out;
  ASSERT_EQ(large.exit_code, 0) << large.out;
  ASSERT_THAT(small.out, HasSubstr("file=libc.so.6"));  // the log was written
  EXPECT_THAT(small.out, ::testing::Not(HasSubstr("libopenblas")));
  EXPECT_THAT(small.out, ::testing::Not(HasSubstr("libdnnl")));
  EXPECT_THAT(small.out, ::testing::Not(HasSubstr("libz.so")));  // opened for a .gz file only
#ifdef BACKPROP_TEST_ONEDNN
  EXPECT_THAT(large.out, HasSubstr("libdnnl"));
  EXPECT_THAT(large.out, ::testing::Not(HasSubstr("libopenblas")));
#else
  EXPECT_THAT(large.out, HasSubstr("libopenblas"));
#endif
}

TEST(TableCommand, InfoAndTheReportShowTheRecipe) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  const CommandResult trained = run_backprop("train --data " + shell_word(dir / "t.csv") + " --target label --epochs 3 "
                                             "--validation-split 0 --out " + shell_word(dir / "m.model") + " --report " +
                                             shell_word(dir / "r.html"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const CommandResult info = run_backprop("info " + shell_word(dir / "m.model"));
  ASSERT_EQ(info.exit_code, 0) << info.out;
  EXPECT_THAT(info.out, HasSubstr("income  numeric"));
  EXPECT_THAT(info.out, HasSubstr("identifier   0       left out"));
  const std::string report = read_text(dir / "r.html");
  EXPECT_THAT(report, HasSubstr("Columns of the table"));
  EXPECT_THAT(report, HasSubstr("color   categorical  4       red, blue, green; missing its own category"));
}

}  // namespace
}  // namespace backprop

namespace backprop {
namespace {

TEST(TableBadInput, OneClassDuplicateNamesAndTooManyValuesAreClear) {
  TempDir dir;
  write_file(dir / "one.csv", "x,c,y\n1,a,same\n2,b,same\n3,a,same\n");
  const CommandResult one = run_backprop("train --data " + shell_word(dir / "one.csv") + " --out " + shell_word(dir / "m.model"));
  EXPECT_EQ(one.exit_code, 2) << one.out;
  EXPECT_THAT(one.out, HasSubstr("expected at least two classes in the target column, got one ('same')"));
  EXPECT_FALSE(std::filesystem::exists(dir / "m.model"));
  write_file(dir / "twice.csv", "x,x,y\n1,2,a\n2,3,b\n");
  const CommandResult twice = run_backprop("train --data " + shell_word(dir / "twice.csv") + " --out " + shell_word(dir / "m.model"));
  EXPECT_EQ(twice.exit_code, 2) << twice.out;
  EXPECT_THAT(twice.out, HasSubstr("twice.csv:1:2:"));
  // More distinct texts than kMaxDistinct: the column is left out as an identifier, its values not all kept.
  std::string text = "name,x,y\n";
  for (std::size_t i = 0; i <= kMaxDistinct; ++i)
    text += "n" + std::to_string(i) + "," + std::to_string(i % 5) + "," + (i % 2 == 0 ? "a" : "b") + "\n";
  text += "n0,1,a\n";  // not every value distinct: only the cap makes it an identifier
  write_file(dir / "many.csv", text);
  const Dataset data = load_table((dir / "many.csv").string(), {});
  ASSERT_EQ(data.table->columns.size(), 2U);
  EXPECT_EQ(data.table->columns[0].kind, ColumnKind::identifier);
  EXPECT_THAT(data.table->columns[0].reason, HasSubstr("more than 100000 distinct values"));
  EXPECT_EQ(data.features, 1);
}

}  // namespace
}  // namespace backprop

namespace backprop {
namespace {

TEST(Table, AColumnOfNumbersAndTextIsReadAgainAsCategoriesWithTheTextsAsWritten) {
  TempDir dir;
  // "size": numbers and text mixed (1.0 written two ways is two categories: the text is the value).
  write_file(dir / "t.csv", "size,x,y\n1.0,1,a\n2,2,b\nbig,3,a\n1,4,b\n2,5,a\nbig,6,b\n1.0,7,a\n2,1,b\n");
  const Dataset data = load_table((dir / "t.csv").string(), {"y", std::nullopt, {}, {}});
  const TableColumn& size = column(*data.table, "size");
  EXPECT_EQ(size.kind, ColumnKind::categorical);
  // By count, ties by text: "2" 3, "1.0" 2, "big" 2, "1" 1.
  EXPECT_EQ(size.categories, (std::vector<std::string>{"2", "1.0", "big", "1"}));
  ASSERT_EQ(data.features, 5);
  EXPECT_EQ(std::vector<float>(data.features_f32.begin(), data.features_f32.begin() + 4),
            (std::vector<float>{0, 1, 0, 0}));  // row 1: "1.0"
  EXPECT_EQ(std::vector<float>(data.features_f32.begin() + 3 * 5, data.features_f32.begin() + 3 * 5 + 4),
            (std::vector<float>{0, 0, 0, 1}));  // row 4: "1"
}

}  // namespace
}  // namespace backprop

namespace backprop {
namespace {

TEST(TableCommand, ANetworkFileMayLeaveTheInputAndTheOutputUnitsToTheData) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  write_file(dir / "open.json", R"({"layers": [{"units": 5, "activation": "tanh"}, {"activation": "sigmoid"}],
    "loss": "bce", "training": {"epochs": 2}})");
  const CommandResult r = run_backprop("train " + shell_word(dir / "open.json") + " --data " + shell_word(dir / "t.csv") +
                                       " --target label --out " + shell_word(dir / "m.model"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const io::ModelFile model = io::load_model(dir / "m.model");
  ASSERT_TRUE(model.table);
  EXPECT_EQ(model.network.input, 6);                // the recipe's inputs (TheRecipeOfASmallTable...)
  EXPECT_EQ(model.network.layers.back().units, 1);  // bce over two classes
  EXPECT_EQ(model.network.layers.front().units, 5);
  EXPECT_EQ(model.classes, (std::vector<std::string>{"no", "yes"}));
}

}  // namespace
}  // namespace backprop

#include "backprop/model.hpp"

namespace backprop {
namespace {

// kTable's cells column by column, as Python's DataFrame gives them: the blank and "NA" cells of the CSV as
// missing (pandas reads them as NaN), "?" kept as text (the recipe's list makes it missing).
std::vector<TableCells> table_columns(const std::string& csv) {
  std::vector<TableCells> columns;
  std::size_t start = 0;
  bool header = true;
  while (start < csv.size()) {
    const std::size_t end = csv.find('\n', start);
    const std::string line = csv.substr(start, end - start);
    start = end + 1;
    std::vector<std::string> cells;
    std::size_t from = 0;
    while (true) {
      const std::size_t comma = line.find(',', from);
      cells.push_back(line.substr(from, comma - from));
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (header) {
        columns.push_back({cells[c], {}, {}});
        continue;
      }
      const bool missing = cells[c].empty() || cells[c] == "NA";
      columns[c].text.push_back(missing ? "" : cells[c]);
      columns[c].missing.push_back(missing ? 1 : 0);
    }
    header = false;
  }
  return columns;
}

TEST(TableColumns, ColumnsGivenOneByOneAreReadAsTheCsvOfTheSameCells) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  const Dataset csv = load_table((dir / "t.csv").string(), {"label", std::nullopt, {}, {}});
  LoadOptions options;
  options.infer_table = true;
  options.infer_task = true;
  options.target = "label";
  const Dataset columns = table_from_columns(table_columns(kTable), "X", options);
  ASSERT_TRUE(columns.table);
  EXPECT_EQ(columns.feature_names, csv.feature_names);
  EXPECT_EQ(columns.features_f32, csv.features_f32);
  EXPECT_EQ(columns.labels, csv.labels);
  EXPECT_EQ(columns.class_names, csv.class_names);
  EXPECT_EQ(columns.rows_without_target, 1U);
  ASSERT_EQ(columns.table->columns.size(), csv.table->columns.size());
  for (std::size_t c = 0; c < csv.table->columns.size(); ++c) {
    EXPECT_EQ(columns.table->columns[c].kind, csv.table->columns[c].kind) << c;
    EXPECT_EQ(columns.table->columns[c].median, csv.table->columns[c].median) << c;
    EXPECT_EQ(columns.table->columns[c].categories, csv.table->columns[c].categories) << c;
  }
  // Read by the recipe: a text cell in a numeric column names the row (0-based) and the column.
  std::vector<TableCells> bad = table_columns(kTable);
  bad[2].text[4] = "lots";
  bad[2].missing[4] = 0;
  LoadOptions by_recipe;
  by_recipe.table = csv.table.get();
  by_recipe.target = "label";
  by_recipe.known_classes = csv.class_names;
  try {
    table_from_columns(bad, "X", by_recipe);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("X: row 4, column 3: expected a number in column 3 (income)"));
  }
}

// The same table trained by the command and by Model::for_table + fit_table (Python's Network.for_table and
// fit): the same model file, byte for byte.
TEST(TableColumns, ModelForTableTrainsTheCommandsModelByteForByte) {
  TempDir dir;
  std::string text = "color,income,x,label\n";
  for (int i = 0; i < 60; ++i) {
    const char* color = i % 3 == 0 ? "red" : (i % 3 == 1 ? "green" : "blue");
    const double x = (i * 37 % 100) / 100.0;
    text += std::string(color) + "," + (i % 7 == 0 ? "" : std::to_string(40 + i % 17)) + "," + format_float(static_cast<float>(x)) +
            "," + ((i % 3 == 0) != (x > 0.5) ? "yes" : "no") + "\n";
  }
  write_file(dir / "t.csv", text);
  const CommandResult trained = run_backprop("train --data " + shell_word(dir / "t.csv") +
                                             " --target label --epochs 7 --seed 5 --quiet --out " + shell_word(dir / "a.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const std::vector<TableCells> columns = table_columns(text);
  TableInference inference;
  inference.seed = 5;  // --seed: the initialization's too
  Model model = Model::for_table(columns, "label", inference);
  TrainingOptions options;
  options.epochs = 7;
  options.seed = 5;
  model.fit_table(columns, "label", {}, options);
  model.save(dir / "b.model");
  EXPECT_EQ(read_text(dir / "a.model"), read_text(dir / "b.model"));
  // The rows for_table read, trained on without reading them again: the same model; another model's are refused.
  Dataset read;
  Model once = Model::for_table(columns, "label", inference, &read);
  EXPECT_EQ(read.rows, 60U);
  const Dataset kept = read;
  once.fit_table_read(std::move(read), options);
  once.save(dir / "c.model");
  EXPECT_EQ(read_text(dir / "a.model"), read_text(dir / "c.model"));
  Model other = Model::for_table(columns, "label", inference);
  EXPECT_THROW(other.fit_table_read(kept, options), Error);
  // The model reads the columns by its recipe for predictions.
  const Dataset rows = model.table_data(columns, "", false);
  EXPECT_EQ(rows.rows, 60U);
  EXPECT_EQ(rows.features, model.input_size());
}

TEST(TableCommand, ASampleWeightColumnIsReadAsWeightsAndNotAsAFeature) {
  TempDir dir;
  // kTable with a weight column w: row r's weight r / 4 (row 3, whose target is missing, left out with it).
  std::string text;
  int row = 0;
  for (std::size_t start = 0; start < std::string(kTable).size();) {
    const std::string table = kTable;
    const std::size_t end = table.find('\n', start);
    text += table.substr(start, end - start) + (row == 0 ? ",w" : "," + format_float(static_cast<float>(row) / 4)) + "\n";
    start = end + 1;
    ++row;
  }
  write_file(dir / "t.csv", text);
  TableSettings settings{"label", std::nullopt, {}, {}};
  settings.sample_weight = "w";
  const Dataset data = load_table((dir / "t.csv").string(), settings);
  const Dataset plain = load_table((dir / "t.csv").string(), {"label", std::nullopt, {}, {}});
  EXPECT_EQ(data.feature_names, (std::vector<std::string>(plain.feature_names.begin(), plain.feature_names.end() - 1)));
  EXPECT_EQ(std::count(plain.feature_names.begin(), plain.feature_names.end(), "w"), 1);
  EXPECT_EQ(data.weights, (std::vector<float>{0.25F, 0.5F, 1.0F, 1.25F, 1.5F, 1.75F, 2.0F, 2.25F, 2.5F, 2.75F, 3.0F}));
  const CommandResult trained = run_backprop("train --data " + shell_word(dir / "t.csv") +
                                             " --target label --sample-weight w --epochs 3 --out " + shell_word(dir / "m.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const io::ModelFile model = io::load_model(dir / "m.model");
  ASSERT_TRUE(model.table);
  for (const TableColumn& c : model.table->columns) EXPECT_NE(c.name, "w");
  // Trained further on the same table: the model's recipe reads it, the weight column again as weights.
  const CommandResult further = run_backprop("train " + shell_word(dir / "m.model") + " --data " + shell_word(dir / "t.csv") +
                                             " --target label --sample-weight w --epochs 1 --out " + shell_word(dir / "n.model"));
  EXPECT_EQ(further.exit_code, 0) << further.out;
  // A blank or negative weight: exit 2 naming the file, line and column; nothing written.
  for (const std::string cell : {"", "-1", "heavy"}) {
    std::string bad = text;
    const std::size_t line = bad.find("4,green,20,c,no,");  // line 5
    const std::size_t comma = bad.rfind(',', bad.find('\n', line));
    bad.replace(comma + 1, bad.find('\n', line) - comma - 1, cell);
    write_file(dir / "bad.csv", bad);
    const CommandResult refused = run_backprop("train --data " + shell_word(dir / "bad.csv") +
                                               " --target label --sample-weight w --out " + shell_word(dir / "bad.model"));
    EXPECT_EQ(refused.exit_code, 2) << refused.out;
    EXPECT_THAT(refused.out, HasSubstr("bad.csv:5:6: expected a sample weight (a number >= 0) in column 6 (w), got '" + cell + "'"));
    EXPECT_FALSE(std::filesystem::exists(dir / "bad.model"));
  }
  const CommandResult absent = run_backprop("train --data " + shell_word(dir / "t.csv") +
                                            " --target label --sample-weight weight --out " + shell_word(dir / "x.model"));
  EXPECT_EQ(absent.exit_code, 2) << absent.out;
  EXPECT_THAT(absent.out, HasSubstr("expected a column named 'weight' (the sample weights)"));
}

TEST(TableCommand, LabelsWithoutANetworkFileAreTheLabelsOfNpyDataAndRefusedForACsv) {
  TempDir dir;
  std::vector<std::uint8_t> pixels, labels;
  for (int r = 0; r < 40; ++r) {
    pixels.push_back(static_cast<std::uint8_t>(r * 37 % 256));
    pixels.push_back(static_cast<std::uint8_t>(r * 91 % 256));
    labels.push_back(r * 37 % 256 > 127 ? 1 : 0);
  }
  write_file(dir / "x.npy", testing::npy_u8("(40, 2)", pixels));
  write_file(dir / "y.npy", testing::npy_u8("(40,)", labels));
  const CommandResult trained = run_backprop("train --data " + shell_word(dir / "x.npy") + " --labels " +
                                             shell_word(dir / "y.npy") + " --epochs 3 --out " + shell_word(dir / "m.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const io::ModelFile model = io::load_model(dir / "m.model");
  EXPECT_FALSE(model.table);
  EXPECT_EQ(model.network.input, 2);
  EXPECT_EQ(model.classes, (std::vector<std::string>{"0", "1"}));
  EXPECT_TRUE(model.byte_inputs);
  // A CSV table: its target is a column, as for a numeric CSV with a network file.
  write_file(dir / "t.csv", kTable);
  const CommandResult csv = run_backprop("train --data " + shell_word(dir / "t.csv") + " --labels " +
                                         shell_word(dir / "y.npy") + " --out " + shell_word(dir / "c.model"));
  EXPECT_EQ(csv.exit_code, 2) << csv.out;
  EXPECT_THAT(csv.out, HasSubstr("expected no labels file with CSV data (the target is a column of the CSV)"));
}

}  // namespace
}  // namespace backprop

#include "backprop/nn/embedding.hpp"

namespace backprop {
namespace {

// 861 rows: a (numeric), v (v1..v39, v_j seen j + 2 times, v0 once, two missing cells), w (32 values, w_k in
// the rows r with r % 32 == k), y (yes/no).
std::string many_values_table() {
  std::vector<std::string> v{"v0", "", ""};
  for (int j = 1; j < 40; ++j)
    for (int k = 0; k < j + 2; ++k) v.push_back("v" + std::to_string(j));
  std::string text = "a,v,w,y\n";
  for (std::size_t r = 0; r < v.size(); ++r)
    text += std::to_string(r % 5) + "," + v[r] + ",w" + std::to_string(r % 32) + "," + (r % 2 == 0 ? "yes" : "no") + "\n";
  return text;
}

TEST(TableEmbedding, ManyValuesBecomeCodesOfAnEmbeddingByTheDocumentedRule) {
  TempDir dir;
  write_file(dir / "t.csv", many_values_table());
  TableSettings settings;
  settings.target = "y";
  settings.many_categories = ManyCategories::embedding;
  const Dataset data = load_table((dir / "t.csv").string(), settings);
  const TableColumn& v = column(*data.table, "v");
  // v1..v39 kept by frequency (v0, seen once, is left to the unknown code); 39 + unknown + missing = 41 codes;
  // round(1.6 x 41^0.56) = round(12.80) = 13 values.
  ASSERT_EQ(v.categories.size(), 39U);
  EXPECT_EQ(v.categories.front(), "v39");
  EXPECT_EQ(v.categories.back(), "v1");
  EXPECT_TRUE(v.other);
  EXPECT_TRUE(v.missing_slot);
  EXPECT_EQ(v.codes(), 41);
  EXPECT_EQ(v.embedding, 13);
  const TableColumn& w = column(*data.table, "w");
  EXPECT_EQ(w.codes(), 33);       // 32 values + unknown
  EXPECT_EQ(w.embedding, 11);     // round(1.6 x 33^0.56) = round(11.34)
  EXPECT_EQ(embedding_dim(1), 2);  // round(1.6): at least 2
  EXPECT_EQ(embedding_dim(1000), kMaxEmbeddingDim);  // round(76.6), capped
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"a", "v (code)", "w (code)"}));
  EXPECT_EQ(data.unknown_values, 0U);  // v0 in training: a rare value, not an unknown one
  // Row 0 (v0): the unknown code 39; rows 1, 2 (missing): code 40; row 3 (v1, the rarest kept): 38.
  EXPECT_EQ(data.features_f32[0 * 3 + 1], 39.0F);
  EXPECT_EQ(data.features_f32[1 * 3 + 1], 40.0F);
  EXPECT_EQ(data.features_f32[3 * 3 + 1], 38.0F);
  // Row 5 (w5): w0..w28 have 27 rows each (861 = 26 x 32 + 29), ordered by text: w0, w1, w10..w19, w2,
  // w20..w28, w3, w4, w5 (code 24).
  EXPECT_EQ(data.features_f32[5 * 3 + 2], 24.0F);
  // The default network: an entry per embedded column; w's code sits after v's 13 values (position 2 + 12).
  const NetworkSpec spec = default_table_network(data, {});
  ASSERT_GE(spec.layers.size(), 3U);
  EXPECT_EQ(spec.layers[0].kind, LayerKind::embedding);
  EXPECT_EQ(spec.layers[0].embedding.column, 1);
  EXPECT_EQ(spec.layers[0].embedding.categories, 41);
  EXPECT_EQ(spec.layers[0].units, 3 - 1 + 13);
  EXPECT_EQ(spec.layers[1].kind, LayerKind::embedding);
  EXPECT_EQ(spec.layers[1].embedding.column, 14);
  EXPECT_EQ(spec.layers[1].embedding.categories, 33);
  EXPECT_EQ(spec.layers[1].units, 15 - 1 + 11);
  EXPECT_EQ(spec.layers[2].kind, LayerKind::dense);
  EXPECT_EQ(embedding_code_columns(spec), (std::vector<int>{1, 2}));  // mapped back to the recipe's inputs
  // Rows read later: a value never seen and one too rare to keep read as unknown and are counted; a kept
  // value and a missing cell are not.
  write_file(dir / "new.csv", "a,v,w,y\n1,never,w3,yes\n1,v0,w3,no\n1,v39,w3,yes\n1,,w3,no\n");
  const Dataset later = encoded_by(data, dir / "new.csv", "y");
  EXPECT_EQ(later.unknown_values, 2U);
  EXPECT_EQ(later.features_f32[0 * 3 + 1], 39.0F);
  EXPECT_EQ(later.features_f32[1 * 3 + 1], 39.0F);
  EXPECT_EQ(later.features_f32[2 * 3 + 1], 0.0F);
  EXPECT_EQ(later.features_f32[3 * 3 + 1], 40.0F);
  // Pooling, the other choice: v's 30 most frequent values, "other" and "missing" as inputs.
  settings.many_categories = ManyCategories::pool;
  const Dataset pooled = load_table((dir / "t.csv").string(), settings);
  EXPECT_EQ(column(*pooled.table, "v").embedding, 0);
  EXPECT_EQ(column(*pooled.table, "v").width(), 32);
}

// 600 rows: g (60 groups of 10 rows), x; y = the group's effect ((7g mod 11) - 5) + x.
std::string grouped_table() {
  std::string text = "g,x,y\n";
  for (int r = 0; r < 600; ++r) {
    const int g = r % 60;
    const double x = ((r * 37) % 100) / 100.0;
    text += "g" + std::to_string(g) + "," + format_float(static_cast<float>(x)) + "," +
            format_float(static_cast<float>((7 * g) % 11 - 5 + x)) + "\n";
  }
  return text;
}

TEST(TableEmbedding, TheCommandTrainsPredictsAndEvaluatesThroughAnEmbeddingAndKeepsItInTheFile) {
  TempDir dir;
  write_file(dir / "t.csv", grouped_table());
  const CommandResult trained = run_backprop("train --data " + shell_word(dir / "t.csv") +
                                             " --target y --many-categories embedding --seed 3 --out " + shell_word(dir / "m.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  EXPECT_THAT(trained.out, HasSubstr("an embedding of 16 values for each of 61 codes"));  // round(1.6 x 61^0.56) = round(15.99)
  const io::ModelFile model = io::load_model(dir / "m.model");
  ASSERT_TRUE(model.table);
  EXPECT_EQ(model.table->columns[0].embedding, 16);
  EXPECT_EQ(model.network.layers[0].kind, LayerKind::embedding);
  EXPECT_EQ(io::model_bytes(model), read_text(dir / "m.model"));  // loads back to the same bytes
  const CommandResult info = run_backprop("info " + shell_word(dir / "m.model"));
  EXPECT_THAT(info.out, HasSubstr("an embedding of 16 values"));
  // The 60 groups' effects are learnt: on its rows (600, each group's 10), R2 well above what x alone gives
  // (x explains about 1/10 of y's variance: var(x) = 0.083 against the effects' 10).
  const CommandResult eval = run_backprop("eval " + shell_word(dir / "m.model") + " --data " + shell_word(dir / "t.csv") +
                                          " --target y --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  const std::size_t at = eval.out.find("\"r2\":");
  ASSERT_NE(at, std::string::npos) << eval.out;
  EXPECT_GT(std::stod(eval.out.substr(at + 5)), 0.9) << eval.out;
  // A group never seen reads as unknown, counted on standard error; one row out per row in.
  write_file(dir / "new.csv", "x,g\n0.5,g3\n0.5,nobody\n0.5,\n");
  const CommandResult predicted = run_backprop("predict " + shell_word(dir / "m.model") + " --data " +
                                               shell_word(dir / "new.csv") + " --out " + shell_word(dir / "p.csv"));
  ASSERT_EQ(predicted.exit_code, 0) << predicted.out;
  EXPECT_THAT(predicted.out, HasSubstr("1 cell(s) held a category the model never saw"));  // nobody (a blank: not a category)
  const std::string predictions = read_text(dir / "p.csv");
  EXPECT_EQ(std::count(predictions.begin(), predictions.end(), '\n'), 4);
  // The JSON export keeps the mapping and loads back to the same model; ONNX and C refuse the recipe.
  const CommandResult json = run_backprop("export " + shell_word(dir / "m.model") + " --format json --out " +
                                          shell_word(dir / "m.json"));
  ASSERT_EQ(json.exit_code, 0) << json.out;
  EXPECT_THAT(read_text(dir / "m.json"), HasSubstr("\"embedding\": 16"));
  EXPECT_EQ(io::model_bytes(io::load_model(dir / "m.json")), io::model_bytes(model));
  for (const std::string format : {"onnx", "c"}) {
    const CommandResult exported = run_backprop("export " + shell_word(dir / "m.model") + " --format " + format +
                                                " --out " + shell_word(dir / (format == "c" ? "m.h" : "m.onnx")));
    EXPECT_EQ(exported.exit_code, 2) << exported.out;
  }
}

TEST(TableEmbedding, AModelFileWhoseMappingDoesNotFitItsNetworkIsRefused) {
  TempDir dir;
  write_file(dir / "t.csv", grouped_table());
  ASSERT_EQ(run_backprop("train --data " + shell_word(dir / "t.csv") + " --target y --many-categories embedding --epochs 1 "
                         "--quiet --out " + shell_word(dir / "m.model")).exit_code, 0);
  ASSERT_EQ(run_backprop("export " + shell_word(dir / "m.model") + " --format json --out " + shell_word(dir / "m.json")).exit_code, 0);
  const std::string good = read_text(dir / "m.json");
  auto refused = [&](const std::string& from, const std::string& to, const std::string& message) {
    std::string bad = good;
    const std::size_t at = bad.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    bad.replace(at, from.size(), to);
    write_file(dir / "bad.json", bad);
    const CommandResult r = run_backprop("info " + shell_word(dir / "bad.json"));
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr(message));
  };
  refused("\"embedding\": 16", "\"embedding\": 0", "expected the values of a categorical column's embedding");
  refused("\"g0\",", "", "expected an embedding entry of 60 categories reading input 0");  // 60 codes for 61
}

TEST(TableEmbedding, ModelForTableWithEmbeddingsTrainsTheCommandsModelByteForByte) {
  TempDir dir;
  const std::string text = grouped_table();
  write_file(dir / "t.csv", text);
  const CommandResult trained = run_backprop("train --data " + shell_word(dir / "t.csv") +
                                             " --target y --many-categories embedding --epochs 4 --seed 5 --quiet --out " +
                                             shell_word(dir / "a.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const std::vector<TableCells> columns = table_columns(text);
  TableInference inference;
  inference.seed = 5;
  inference.many_categories = ManyCategories::embedding;
  Model model = Model::for_table(columns, "y", inference);
  TrainingOptions options;
  options.epochs = 4;
  options.seed = 5;
  model.fit_table(columns, "y", {}, options);
  model.save(dir / "b.model");
  EXPECT_EQ(read_text(dir / "a.model"), read_text(dir / "b.model"));
}

// cv on a table as it came: each fold infers its recipe on its training rows, so each fold's model is `backprop
// train` on a CSV of just those rows, byte for byte, and its figures `backprop eval`'s of that model on the fold's
// rows (a value seen only in a fold's test rows is unknown to that fold's recipe; the medians and the embedded
// groups kept differ from fold to fold). Side by side (two threads) the same bits as one after another.
TEST(TableCrossValidation, EachFoldInfersItsRecipeOnItsTrainingRowsAsTrainOnThemWould) {
  TempDir dir;
  std::vector<std::string> lines = {"color,income,group,label"};
  for (int i = 0; i < 80; ++i) {
    const char* color = i == 17 ? "purple" : i % 11 == 5 ? "" : i % 3 == 0 ? "red" : (i % 3 == 1 ? "green" : "blue");
    const int income = 20 + (i * 29) % 61;
    const bool yes = (i % 3 == 0) != (income > 50);
    lines.push_back(std::string(color) + "," + (i % 9 == 4 ? "NA" : std::to_string(income)) + ",g" +
                    std::to_string(i % 40) + "," + (yes ? "yes" : "no"));
  }
  const auto csv = [&](const std::vector<std::size_t>& rows) {
    std::string text = lines[0] + "\n";
    for (const std::size_t r : rows) text += lines[r + 1] + "\n";
    return text;
  };
  std::vector<std::size_t> all(80);
  std::iota(all.begin(), all.end(), std::size_t{0});
  write_file(dir / "t.csv", csv(all));
  const std::string flags = " --target label --epochs 5 --seed 3";
  const auto cv = [&](const std::string& more) {
    return run_backprop("cv --data " + shell_word(dir / "t.csv") + flags + " --folds 4" + more);
  };
  const CommandResult one = cv(" --json --quiet --threads 1 --out-dir " + shell_word(dir / "one"));
  ASSERT_EQ(one.exit_code, 0) << one.out;
  const CommandResult two = cv(" --json --quiet --threads 2 --out-dir " + shell_word(dir / "two"));
  ASSERT_EQ(two.exit_code, 0) << two.out;
  EXPECT_EQ(two.out, one.out);
  const auto result = nlohmann::json::parse(one.out);
  ASSERT_EQ(result["folds"].size(), 4U);

  TableSettings settings;
  settings.target = "label";
  const Dataset data = load_table((dir / "t.csv").string(), settings);
  ASSERT_EQ(data.rows, 80U);
  {  // two threads run these folds side by side, else the comparison above would test nothing new
    const int threads = kernels::thread_count();
    kernels::set_thread_count(2);
    EXPECT_TRUE(folds_side_by_side(default_table_network(data, {}), data.rows, {}, 4));
    kernels::set_thread_count(threads);
  }
  const auto folds = cross_validation_folds(data, 4, 3);
  std::set<double> medians;
  std::set<int> group_codes;
  int with_purple = 0;
  for (std::size_t f = 0; f < folds.size(); ++f) {
    std::vector<std::size_t> kept;
    for (std::size_t r = 0; r < data.rows; ++r)
      if (!std::binary_search(folds[f].begin(), folds[f].end(), r)) kept.push_back(r);
    const std::string n = std::to_string(f + 1);
    write_file(dir / ("train" + n + ".csv"), csv(kept));
    write_file(dir / ("test" + n + ".csv"), csv(folds[f]));
    const CommandResult trained = run_backprop("train --data " + shell_word(dir / ("train" + n + ".csv")) + flags +
                                               " --quiet --out " + shell_word(dir / ("m" + n + ".model")));
    ASSERT_EQ(trained.exit_code, 0) << trained.out;
    const std::string fold_model = "fold-1-" + n + ".model";
    // The bytes compared as one value (a difference would print kilobytes of parameters).
    EXPECT_TRUE(read_text(dir / ("m" + n + ".model")) == read_text(dir / "one" / fold_model)) << "fold " << n;
    EXPECT_TRUE(read_text(dir / "two" / fold_model) == read_text(dir / "one" / fold_model)) << "fold " << n;
    const CommandResult evaluated = run_backprop("eval " + shell_word(dir / ("m" + n + ".model")) + " --data " +
                                                 shell_word(dir / ("test" + n + ".csv")) + " --target label --json");
    ASSERT_EQ(evaluated.exit_code, 0) << evaluated.out;
    const auto expected = nlohmann::json::parse(evaluated.out.substr(evaluated.out.find('{')));
    for (const char* key : {"loss", "accuracy", "rows", "balanced_accuracy", "roc_auc"})
      EXPECT_EQ(result["folds"][f][key], expected[key]) << "fold " << n << ", " << key;
    const io::ModelFile model = io::load_model(dir / "one" / fold_model);
    ASSERT_TRUE(model.table);
    medians.insert(column(*model.table, "income").median);
    group_codes.insert(column(*model.table, "group").codes());
    const auto& colors = column(*model.table, "color").categories;
    with_purple += std::find(colors.begin(), colors.end(), "purple") != colors.end() ? 1 : 0;
  }
  EXPECT_GT(medians.size(), 1U);
  EXPECT_GT(group_codes.size(), 1U);
  EXPECT_EQ(with_purple, 3);  // not in the recipe of the fold whose test rows hold it
  const auto& colors = column(*data.table, "color").categories;
  EXPECT_NE(std::find(colors.begin(), colors.end(), "purple"), colors.end());  // the whole table's recipe has it
  const CommandResult noted = cv("");
  ASSERT_EQ(noted.exit_code, 0) << noted.out;
  EXPECT_THAT(noted.out, HasSubstr("each fold infers its own recipe on its training rows"));
  EXPECT_THAT(noted.out, HasSubstr("cell(s) of the folds' test rows held a category their fold's training rows never held"));
}

}  // namespace
}  // namespace backprop
