// Text helpers that every layer uses: positions and checks of text for messages, number parsing and printing
// that ignore the C locale (std::from_chars / std::to_chars, so a user with a comma-decimal locale reads and
// writes the same files), and the one HTML escaper.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace backprop {

// 1-based line and column of a 0-based byte offset in text.
struct TextPosition {
  std::size_t line = 1;
  std::size_t column = 1;
};
TextPosition position_of(std::string_view text, std::size_t offset);

// The offset of the first byte of text that is not part of valid UTF-8 (overlong forms, surrogates and
// code points above U+10FFFF are invalid too), or nothing when all of it is valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

// The offset of the first control character (below 0x20, or 0x7F) in text, or nothing: names (classes,
// features, targets) go into messages, CSV and the terminal, where such a byte would cut or forge a line.
std::optional<std::size_t> first_control_character(std::string_view text);

// A user's string (a file name) as one line of plain text: control characters written \xNN, so that a
// newline in a name cannot end a line of the output (a comment of the dot graph) or forge one.
std::string printable(std::string_view text);

// printable(text), cut to its first 60 characters ("..." added) for a message that quotes the input.
std::string quoted_excerpt(std::string_view text);

// text with & < > " ' written as HTML entities: safe as an element's text and inside either kind of
// quoted attribute (the report, the trace's page).
std::string html_escape(std::string_view text);

// The whole of text as a finite double, or nothing (also for "nan", "inf", trailing characters).
std::optional<double> parse_double(std::string_view text);

// A comma-separated list of numbers ("1,2,3,4"); rows may be separated by ';'. Throws Error(bad_input)
// naming `what` (an option name) and the offending item.
std::vector<double> parse_number_list(std::string_view text, std::string_view what);

// Shortest text that reads back to the same double, or float (std::to_chars).
std::string format_double(double value);
std::string format_float(float value);
// printf's %.*f (fixed: `digits` decimals) and %.*g (general: `digits` significant digits) as in the "C"
// locale, whatever locale an embedding program set (std::to_chars never reads it; snprintf would write "0,5"
// under de_DE). "nan" where to_chars fails.
std::string format_fixed(double value, int digits);
std::string format_general(double value, int digits);

}  // namespace backprop
