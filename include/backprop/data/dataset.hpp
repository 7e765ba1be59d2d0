// A data set in memory and its loaders (CSV, IDX of the MNIST family, NPY).
//
// Features are kept as loaded: float32, or uint8 (IDX images, uint8 NPY) which reads as value / 255.
// Keeping uint8 costs a quarter of the memory; rows are converted to float per batch by gather_rows,
// which also applies the feature scaling, so a training loop never holds a float copy of the whole set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backprop/base/kinds.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/data/table.hpp"

namespace backprop {

class TableRows;

struct Dataset {
  std::string source;        // the file, for messages
  std::size_t rows = 0;
  int features = 0;
  std::vector<float> features_f32;        // (rows, features), or empty when features_u8 is used
  std::vector<std::uint8_t> features_u8;  // (rows, features), value / 255
  std::vector<std::string> feature_names; // CSV header names; empty for IDX and NPY
  std::vector<std::string> ignored_columns;  // CSV columns neither a feature nor a target (by name matching)

  TaskKind task = TaskKind::classification;
  std::vector<std::int32_t> labels;       // classification: class index per row, in [0, class_names.size())
  std::vector<std::string> class_names;   // classification: class index -> label as written in the data
  std::vector<float> targets;             // regression: (rows, target_count)
  int target_count = 0;                   // regression: numbers per row
  std::vector<std::string> target_names;  // regression: CSV header names of the targets
  // Each row's weight in the training loss (nn/loss.hpp): the sample weight column times its class's weight
  // (prepare_training_data); empty: every row 1.
  std::vector<float> weights;
  // A table as it came (data/table.hpp): the recipe its raw columns were encoded by (then feature_names are
  // the inputs' names), the rows left out for a missing target, and the cells of a value training never saw.
  std::shared_ptr<const TableRecipe> table;
  std::size_t rows_without_target = 0;
  std::size_t unknown_values = 0;
  // A table whose recipe was inferred, read with LoadOptions::keep_rows: its cells as read, for recipes
  // inferred again on some of its rows (cv's folds).
  std::shared_ptr<const TableRows> table_rows;

  // Row r, feature f as a float (before scaling).
  float feature(std::size_t r, int f) const;
  // out (count, features) = scaling(features of rows indices[0..count)), as float.
  void gather_rows(float* out, const std::size_t* indices, std::size_t count, const Scaling& scaling) const;
  // out (count, outputs): the target rows for the network: one-hot rows of width `outputs` for
  // classification with softmax_ce (outputs = classes), a single 0/1 for bce with one output
  // (outputs = 1, two classes), the numbers for regression.
  void gather_targets(float* out, const std::size_t* indices, std::size_t count, int outputs) const;
  // Asks the cache for row r's features and its label or target, some steps before they are read: a
  // shuffled epoch reads the rows in an order the hardware cannot guess, but the program knows it.
  void prefetch_row(std::size_t r) const;
  // The same for rows indices[0..count), cut as gather_rows cuts them (wide rows on the thread pool, so that
  // each thread asks for its share while a batch's products are still to come).
  void prefetch_rows(const std::size_t* indices, std::size_t count) const;
};

struct LoadOptions {
  TaskKind task = TaskKind::classification;
  // CSV: the target column(s), by name or 0-based index; several separated by ','. Empty: the last column.
  std::string target;
  // The class labels a model already knows (eval, predict): a label outside them is an error naming the
  // file and line; empty: the labels are collected from the data (train), numbers in numeric order,
  // otherwise strings in lexicographic order.
  std::vector<std::string> known_classes;
  // The feature count the network expects; checked with a message naming the file.
  std::optional<int> expected_features;
  // The feature names a model knows (as many as expected_features): CSV columns are matched to them by name,
  // in the model's order, wherever they stand; a missing one is an error naming it, other columns are
  // ignored (Dataset::ignored_columns). Empty: by position (every column but the targets, in order).
  std::vector<std::string> feature_names;
  // The target names a regression model knows: without `target`, the columns of these names when the
  // header has them all.
  std::vector<std::string> target_names;
  // predict: the data may have no target column (a CSV whose header lacks --target, or no --labels).
  bool target_optional = false;
  // CSV as it comes (data/table.hpp): encoded by `table` (a model's recipe: its columns matched by name, and
  // feature_names, expected_features and known_classes as the model's), or with infer_table a recipe
  // inferred from the rows (every column but the targets), `categorical` naming columns read as categories
  // and `missing_values` replacing the default list when not empty. infer_task: the task from the target
  // column (data/table.hpp's rule) instead of `task`.
  const TableRecipe* table = nullptr;
  bool infer_table = false;
  bool infer_task = false;
  std::vector<std::string> categorical;
  ManyCategories many_categories = kDefaultManyCategories;  // an inferred recipe's columns of many values
  std::vector<std::string> missing_values;
  // A table as it comes: the column (by header name) of each row's weight in the training loss, read into
  // Dataset::weights (a number >= 0 in each row, else an error naming the row and column) and not a feature.
  std::string sample_weight;
  // An inferred table: its cells kept as read in Dataset::table_rows.
  bool keep_rows = false;
};

// Loads by extension: .csv (header row), *-idx3-ubyte[.gz] / .idx[.gz] with labels_path in IDX1, .npy with
// labels_path a .npy. Throws Error(bad_input) "FILE:LINE:COLUMN: expected ..." (CSV) or
// "FILE: record N / byte offset B: expected ..." (IDX, NPY) for: an empty or truncated file, missing or
// ragged columns, non-numbers, NaN or Inf, a label the model has no class for, counts of images and labels
// that differ, a feature count that does not match the network, declared sizes larger than the file.
//
// Details the contract above leaves open:
// - Any name ending in .gz is decompressed first (so .csv.gz and .npy.gz work too). A name with none of
//   the extensions is recognised by its first bytes (the NPY magic, IDX's two zero bytes, else CSV).
//   data_path "-" is CSV read from standard input (messages name it "<stdin>").
// - CSV columns: the rule is data/columns.hpp's: each header name at most once, the targets,
//   the features by name when feature_names is given, the rest ignored.
// - Binary messages read "FILE: record N (byte offset B): ..." with N and B 0-based, or
//   "FILE: header (byte offset B): ..." for the header; CSV messages about the whole header row name
//   "FILE:LINE:" without a column.
// - Labels files may be IDX1 or .npy whatever the features are; integers are class labels, floats are
//   accepted for classification when whole. With known_classes all written as integers ("0", "7"), an
//   integer label is matched by value; otherwise it is an index into known_classes. Without known_classes,
//   class_names are "0".."K-1", K = the largest label + 1. For regression a labels file gives
//   target_count = its second dimension (1 for (N)) and target_names "0", "1", ...
// - target_optional: a target that is absent is no error (no labels, every column a feature; with an empty
//   `target`, the last column is still the target unless the column count equals expected_features); a
//   CSV target column that is present is skipped without reading its values (predict ignores it), and
//   IDX/NPY labels given are loaded as usual. class_names = known_classes when given.
Dataset load_dataset(const std::filesystem::path& data_path, const std::optional<std::filesystem::path>& labels_path,
                     const LoadOptions& options);

// A table as it comes given column by column (a pandas DataFrame): read as parse_table reads a CSV of the
// same cells (options.table or options.infer_table, the header the columns' names), the same recipe inferred
// or applied and the same encoding; messages name `source` and a row by its 0-based index ("X: row 4,
// column 2: ..."). Every column must have as many cells as the first.
Dataset table_from_columns(const std::vector<TableCells>& columns, const std::string& source, const LoadOptions& options);

namespace data {
struct RawTable;
}

// A table as it came, its cells kept as read (LoadOptions::keep_rows), so that a recipe can be inferred again
// on some of its rows and rows encoded by it: cv's folds, each inferring its own on its training rows as
// scikit-learn's cross_validate fits a pipeline on each fold's. The task and the classes stay the whole table's.
class TableRows {
 public:
  TableRows(std::shared_ptr<const data::RawTable> raw, LoadOptions options, std::vector<std::size_t> kept,
            const Dataset& data);
  // Rows `rows` of the Dataset read with it (indices into its rows, those with a target) with a recipe inferred
  // on them alone: the Dataset a CSV of just those rows gives (with the whole table's task and classes), but
  // that a column holding text in any row of the table is read as categories, as a dtype is the whole
  // column's (else a fold's test rows could hold text in a column its training rows read as numbers).
  Dataset infer(const std::vector<std::size_t>& rows) const;
  // Rows `rows` encoded by `recipe` (one that infer gave): as a model of that recipe reads them.
  Dataset encode(const std::vector<std::size_t>& rows, const std::shared_ptr<const TableRecipe>& recipe) const;

 private:
  std::shared_ptr<const data::RawTable> raw_;
  LoadOptions options_;
  std::vector<std::size_t> kept_;  // the Dataset's rows: rows of raw_
  std::vector<std::string> missing_values_;
};

// One line for the front-ends to show when columns were ignored ("FILE: ignored 2 columns that are not
// features of the model: 'x', 'y'"), or "" when none was.
std::string ignored_columns_note(const Dataset& data);

// Splits off round(fraction x rows) rows (after a shuffle from the seed) as a validation set: the last ones
// of the shuffled order, stratified by class for classification (held_out_rows, data/folds.hpp).
void split_validation(Dataset& train, Dataset& validation, double fraction, std::uint64_t seed);

// Every value of a (rows, width) row-major array finite, else Error(bad_input) naming the array ("X"), the
// row and the column.
void check_finite(std::span<const float> values, std::size_t width, const char* array);

// A model trained on uint8 data reads each byte as value / 255, so float features given to it must be in
// [0, 1]: a value outside is Error(bad_input) naming the source, row and column ("X: row 0, column 3: expected
// a number in [0, 1] ..."), as raw 0-255 values would be read 255 times too large. uint8 data (features_u8)
// passes: it is read as the model was trained.
void check_byte_inputs(const Dataset& data);
void check_byte_inputs(std::span<const float> values, std::size_t width, const std::string& source);

}  // namespace backprop
