// Reading a file whole, a chunk at a time, with a cap decided from its first bytes: the one reader of files
// into memory. Model and network files come through read_file; data files (data/read_bytes.cpp, with its gzip
// stream and the sizes their headers declare) through the same FileReader and read_chunks.
#pragma once

#include <cstddef>
#include <cstdint>
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
// The chunk the readers read at a time: a SizeLimit sees the first 1 MiB before more is read.
inline constexpr std::size_t kReadChunkBytes = std::size_t{1} << 20;

// A file opened for reading. Throws Error(bad_input) "FILE: is a directory: expected a file" (a directory opens
// as a stream that reads nothing: it would be taken for an empty file) and "FILE: cannot open: REASON".
class FileReader {
 public:
  explicit FileReader(const std::filesystem::path& path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Up to `room` bytes into `into`; 0 at the end. Retries after a signal; Error(runtime) "FILE: cannot read:
  // REASON" on a read error.
  std::size_t read(void* into, std::size_t room);
  // The size of a regular file, known before it is read; nothing for a pipe or a device.
  std::optional<std::uint64_t> size() const { return size_; }

 private:
  std::string name_;
  int descriptor_ = -1;
  std::optional<std::uint64_t> size_;
};

// The loop of every read into memory: grows `bytes` by room(bytes) bytes, fills them by read(into, room) (0 at
// the end), drops what was not filled, and calls check(bytes, finished) after each read, which throws to refuse
// the data; returns at the end. std::bad_alloc (out of memory) goes through as it is.
template <typename Bytes, typename Read, typename Room, typename Check>
void read_chunks(Bytes& bytes, Read&& read, Room&& room, Check&& check) {
  for (bool finished = false; !finished;) {
    const std::size_t used = bytes.size();
    const std::size_t size = room(bytes);
    bytes.resize(used + size);
    const std::size_t got = read(bytes.data() + used, size);
    bytes.resize(used + got);
    finished = got == 0;
    check(bytes, finished);
  }
}

// The whole file, read in chunks of kReadChunkBytes, so that `limit` sees its start before more is read;
// reading stops with Error(bad_input) "FILE: expected at most N bytes (WHAT), got more" past the cap. Throws as
// FileReader does.
std::string read_file(const std::filesystem::path& path, const SizeLimit& limit = {});

}  // namespace backprop
