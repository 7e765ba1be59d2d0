// Tables as they come: a CSV with text columns, blank cells and columns that carry nothing, turned into the
// numbers a network takes by a recipe that is inferred from the training rows and kept in the model, so that
// the model then takes the raw rows.
//
// The rules (docs/tables.md has them with examples):
// - A cell is missing when it is, after trimming, one of TableRecipe::missing_values ("", "NA", "N/A", "NaN",
//   "?", "null" unless changed).
// - A column is numeric when each of its cells that is not missing reads as a finite number, else categorical
//   (a forced kind, TableLoad::categorical, makes integer codes categories). A categorical column of exactly
//   two values and no missing cell is binary.
// - Left out, with a note: a constant column (fewer than two distinct values and no missing cell, or every
//   cell missing), and an identifier: a text or integer column whose values are all distinct (no missing
//   cell, at least kIdentifierRows rows; a number column with fractions is kept, as a coordinate carries
//   information), and a text column with more than kMaxDistinct distinct values.
// - Numeric: a missing cell takes the training rows' median, and a column with missing cells in training gets
//   an indicator input (1 where the cell was missing).
// - Categorical: one input for each of the kMaxCategories most frequent values (ties by text), one for the
//   values pooled beyond them ("other") when there are such, one for a missing cell when training had one. With
//   ManyCategories::embedding, a column of more than kMaxCategories values is instead one input of codes for an
//   embedding entry (nn/embedding.hpp) of embedding_dim values: a code for each value seen at least
//   kMinEmbeddedCount times (by frequency, ties by text), then the "unknown" code (the values seen fewer times
//   share it in training, so that it learns what a rare value is worth; a value not kept reads as it in
//   prediction and is counted), then one for a missing cell when training had one. A
//   value never seen in training goes to "other" where it exists (uncounted: it cannot be told from a pooled
//   one), else sets no input and is counted (Dataset::unknown_values); never an error. Binary: one input, 1 for the second value (in text order),
//   0 for the first, 0.5 for a missing or unseen one.
// - The target: its rows with a missing cell are left out of training (Dataset::rows_without_target). Without
//   a task given, a target of text, or of at most kMaxClassValues distinct whole numbers, is a classification;
//   any other numeric target a regression.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backprop/base/kinds.hpp"

namespace backprop {

#define BACKPROP_COLUMN_KINDS(X) X(numeric) X(binary) X(categorical) X(constant) X(identifier)
enum class ColumnKind { BACKPROP_COLUMN_KINDS(BACKPROP_KIND_ENUMERATOR) };
#define BACKPROP_COLUMN_KIND_NAME(kind) {ColumnKind::kind, #kind},
inline constexpr KindName<ColumnKind> kColumnKindNames[] = {BACKPROP_COLUMN_KINDS(BACKPROP_COLUMN_KIND_NAME)};
#undef BACKPROP_COLUMN_KIND_NAME

struct TableColumn {
  std::string name;
  ColumnKind kind = ColumnKind::numeric;
  double median = 0.0;                  // numeric: the value of a missing cell
  bool indicator = false;               // numeric: an input that is 1 where the cell is missing
  std::vector<std::string> categories;  // binary (2), categorical: the values kept, one input each
  bool other = false;                   // categorical: an input for the values pooled beyond `categories`
  bool missing_slot = false;            // categorical: an input for a missing cell
  std::string reason;                   // constant, identifier: why the column is left out (for the note)
  int embedding = 0;                    // categorical: the values of its embedding (one input of codes); 0: none

  // An embedded column's codes: one per category, the unknown one (other), the missing one.
  int codes() const { return static_cast<int>(categories.size()) + 1 + (missing_slot ? 1 : 0); }

  bool kept() const { return kind != ColumnKind::constant && kind != ColumnKind::identifier; }
  int width() const;  // the inputs it makes
};

struct TableRecipe {
  std::vector<std::string> missing_values{"", "NA", "N/A", "NaN", "?", "null"};
  std::vector<TableColumn> columns;  // every feature column of the training table, in its order

  int width() const;                             // the network's inputs
  std::vector<std::string> input_names() const;  // each input's name: "age", "age (missing)", "color=red", ...
  // Whether each input is a numeric column's value, which scaling fits; the others (one-hot, binary and
  // missing indicators, an embedding's codes) are 0/1 flags or indices that the scaling leaves as they are.
  std::vector<bool> measured_inputs() const;
  bool is_missing(std::string_view cell) const;
};

// One column of a table given column by column (a pandas DataFrame, data/dataset.hpp's table_from_columns),
// read as a CSV of the same cells would be (the rules above, trimming included). Either text: each cell's
// text as a CSV would hold it, and whether the cell is missing whatever its text (None); or numbers (a numeric
// column, `text` empty): each cell's value, NaN where missing, read as the CSV cell of its shortest decimal
// (format_double; `whole`: an integer column, its values written as integers, each exact in a double) would be,
// the same float and the same missing list, without writing the text unless the column is read as categories.
struct TableCells {
  std::string name;
  std::vector<std::string> text;
  std::vector<unsigned char> missing;  // 1: missing (text only)
  std::vector<double> numbers;
  bool whole = false;

  std::size_t size() const { return text.empty() ? numbers.size() : text.size(); }
};

inline constexpr std::size_t kMaxCategories = 30;
inline constexpr std::size_t kMaxDistinct = 100000;
inline constexpr std::size_t kMaxClassValues = 10;
inline constexpr std::size_t kIdentifierRows = 10;
inline constexpr std::size_t kMinEmbeddedCount = 2;

// What a categorical column of more than kMaxCategories values becomes (--many-categories).
#define BACKPROP_MANY_CATEGORIES(X) X(pool) X(embedding)
enum class ManyCategories { BACKPROP_MANY_CATEGORIES(BACKPROP_KIND_ENUMERATOR) };
#define BACKPROP_MANY_CATEGORIES_NAME(choice) {ManyCategories::choice, #choice},
inline constexpr KindName<ManyCategories> kManyCategoriesNames[] = {BACKPROP_MANY_CATEGORIES(BACKPROP_MANY_CATEGORIES_NAME)};
#undef BACKPROP_MANY_CATEGORIES_NAME
inline constexpr ManyCategories kDefaultManyCategories = ManyCategories::embedding;
std::string_view to_string(ManyCategories choice);
std::optional<ManyCategories> parse_many_categories(std::string_view name);
// "pool, embedding", or with `last` before the last name.
std::string many_categories_names(std::string_view last = ", ");
// The values an embedding of `codes` codes gives each: round(1.6 codes^0.56) (fast.ai's rule), at most
// kMaxEmbeddingDim and at least 2.
inline constexpr int kMaxEmbeddingDim = 16;
int embedding_dim(int codes);

std::string_view to_string(ColumnKind kind);
std::optional<ColumnKind> parse_column_kind(std::string_view name);

// The recipe as a short table for people: one line per column (name, kind, inputs, what fills a missing
// cell, the categories or why it is left out).
std::string describe_table(const TableRecipe& recipe);

}  // namespace backprop
