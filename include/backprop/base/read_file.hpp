// Reading a file whole, a chunk at a time, with a cap decided from its first bytes: the one reader of files
// into memory (model and network files by io/, data files by data/, with its gzip stream and declared sizes).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace backprop {

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

}  // namespace backprop
