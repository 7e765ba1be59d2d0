// Text helpers shared by the file readers and the command: whole-file reading with clear errors, and
// number parsing and printing that ignore the C locale (std::from_chars / std::to_chars), so a user
// with a comma-decimal locale reads and writes the same files.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace backprop::io {

// How many bytes a file may have in all, decided from its first bytes: `what` says why, for the message.
struct ReadLimit {
  std::size_t bytes = 0;
  std::string what;
};
// Called after each chunk with the bytes read so far (complete: the file ended); returns the cap, or
// throws Error(bad_input) to refuse the file from its first bytes (a model's magic).
using SizeLimit = std::function<ReadLimit(std::string_view start, bool complete)>;
// Without a SizeLimit: at most 4 GiB.
inline constexpr std::size_t kMaxReadFileBytes = std::size_t{1} << 32;

// The whole file, read in chunks of 1 MiB, so that `limit` sees its start before more is read; reading
// stops with Error(bad_input) "FILE: expected at most N bytes (WHAT), got more" past the cap. Throws
// Error(bad_input) "FILE: cannot open: REASON" when it cannot be opened, Error(runtime) "FILE: cannot read:
// REASON" on a read error; std::bad_alloc (out of memory) goes through as it is.
std::string read_file(const std::filesystem::path& path, const SizeLimit& limit = {});

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

// The whole of text as a finite double, or nothing (also for "nan", "inf", trailing characters).
std::optional<double> parse_double(std::string_view text);

// A comma-separated list of numbers ("1,2,3,4"); rows may be separated by ';'. Throws Error(bad_input)
// naming `what` (an option name) and the offending item.
std::vector<double> parse_number_list(std::string_view text, std::string_view what);

// Writes bytes to path. A regular file (or a new one) is replaced atomically: a temporary file with a
// unique name ("PATH.tmp-PID-XXXXXX") in the same folder, with the old file's permissions, fsync, rename
// over path. A symlink has its final target replaced and stays a link; a FIFO or a device (/dev/null) is
// written in place. On any failure the temporary file is removed and path is left as it was. A folder as
// path, or a folder that does not exist, is Error(bad_input); a failed write is Error(runtime); both name
// the path.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Removes the temporary files write_file_atomically is writing at this moment (in any thread). Safe to call
// from a signal handler (only unlink): a program stopped by SIGINT or SIGTERM calls it in its handler, so
// that no "PATH.tmp-PID-XXXXXX" outlives it (the backprop command does).
void remove_temporaries_in_flight() noexcept;

// Shortest text that reads back to the same double, or float (std::to_chars).
std::string format_double(double value);
std::string format_float(float value);

}  // namespace backprop::io
