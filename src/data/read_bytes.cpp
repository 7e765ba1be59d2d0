// Reading a data file into memory in chunks, plain or gzip-compressed, refusing as soon as the data runs
// past what its header declares (IDX, NPY) or past the CSV cap: a small .gz that unpacks to gigabytes is
// refused after its declared size, not after it has filled the memory.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/base/read_file.hpp"
#include "base/huge_pages.hpp"
#include "base/plugin.hpp"
#include "loaders.hpp"

namespace backprop::data {

namespace {

std::string lowercase_name(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return name;
}

bool is_gzip_name(const std::filesystem::path& path) {
  const std::string name = lowercase_name(path);
  return name.size() > 3 && name.ends_with(".gz");
}

// The uncompressed size a gzip file declares in its last 4 bytes (modulo 2^32), to allocate once; deflate
// expands at most about 1032:1, so a larger claim is not trusted.
std::uint64_t gzip_size_hint(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return 0;
  const std::streamoff size = in.tellg();
  if (size < 18) return 0;
  in.seekg(size - 4);
  unsigned char trailer[4] = {};
  if (!in.read(reinterpret_cast<char*>(trailer), 4)) return 0;
  const std::uint64_t declared = std::uint64_t{trailer[0]} | (std::uint64_t{trailer[1]} << 8) |
                                 (std::uint64_t{trailer[2]} << 16) | (std::uint64_t{trailer[3]} << 24);
  return std::min<std::uint64_t>(declared, static_cast<std::uint64_t>(size) * 1032);
}

// Reads up to `room` bytes into `into`; 0 at the end. Throws Error(bad_input) naming the file on a failure.
using ReadChunk = std::function<std::size_t(std::uint8_t* into, std::size_t room)>;

// How far the data may go, from its first bytes (nothing while they do not say yet).
std::optional<DeclaredEnd> limit_of(const std::filesystem::path& path, const std::string& name,
                                    const std::vector<std::uint8_t>& prefix, bool complete, std::size_t csv_limit) {
  if (prefix.size() < 6 && !complete && !format_by_name(path)) return std::nullopt;
  switch (format_of(path, prefix)) {
    case FileFormat::csv:
      check_csv_text(std::string_view(reinterpret_cast<const char*>(prefix.data()), prefix.size()), name, complete);
      return DeclaredEnd{csv_limit, ""};
    case FileFormat::idx:
      return idx_declared_end(prefix, name);
    case FileFormat::npy:
      return npy_declared_end(prefix, name);
  }
  return std::nullopt;
}

[[noreturn]] void refuse_beyond(const std::string& name, const DeclaredEnd& end, std::optional<std::uint64_t> total) {
  const std::string got = total ? std::to_string(*total - end.bytes) + " more bytes"
                                : std::string("more (the data goes on; it was read no further)");
  if (end.what.empty())
    throw_bad_input(name + ": expected CSV data of at most " + std::to_string(end.bytes) +
                    " bytes (the reader's cap, docs/reliability.md; use NPY or IDX for more), got " +
                    (total ? "a file of " + std::to_string(*total) + " bytes" : std::string("more")));
  throw_bad_input(name + ": byte offset " + std::to_string(end.bytes) + ": expected the end of the file after " +
                  end.what + ", got " + got);
}

// The bytes of one stream, read a chunk at a time (base/read_file.hpp's loop). `total`: the size when known
// beforehand (a regular file), so that a file longer than its header declares is refused before it is read;
// `hint`: an expected size to allocate once.
// `path` gives the format by its name; `name` is how messages call the stream.
std::vector<std::uint8_t> read_data_chunks(const std::filesystem::path& path, const std::string& name,
                                           const ReadChunk& read_chunk, std::optional<std::uint64_t> total,
                                           std::uint64_t hint, std::size_t csv_limit) {
  std::vector<std::uint8_t> bytes;
  std::optional<DeclaredEnd> end;
  // Within the capacity reserved for the declared size (at least one byte: the read that finds the end), so
  // that the last read does not make the vector grow to twice the data (the peak it saves: docs/performance.md,
  // "Measurements behind the code"); past it, a chunk, which the check below refuses.
  // Before that, the expected size and one byte: a small file is then one read into a buffer of its size, not
  // a chunk of kReadChunkBytes zeroed and faulted in for a few kilobytes (docs/performance.md, "A small table's
  // whole process").
  const auto room = [&](const std::vector<std::uint8_t>& so_far) {
    if (end && so_far.capacity() > so_far.size()) return std::min(kReadChunkBytes, so_far.capacity() - so_far.size());
    return !end && hint > 0 ? static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunkBytes, hint + 1))
                            : kReadChunkBytes;
  };
  const auto check = [&](std::vector<std::uint8_t>& so_far, bool finished) {
    if (!end) {
      end = limit_of(path, name, so_far, finished, csv_limit);
      if (end && total && *total > end->bytes) refuse_beyond(name, *end, total);
      if (end) {
        so_far.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(end->bytes, hint) + 1));
        advise_huge_pages(so_far.data(), so_far.capacity());
      }
    }
    if (end && so_far.size() > end->bytes) refuse_beyond(name, *end, total);
  };
  read_chunks(bytes, read_chunk, room, check);
  return bytes;
}

// zlib is opened on the first gzip file a run reads (by the soname CMake read, BACKPROP_ZLIB_LIBRARY), not
// linked: most runs read none, and a linked library is mapped and relocated at every start
// (docs/performance.md, "Process start"). The functions called are zlib's own.
struct Zlib {
  decltype(&gzopen) open = nullptr;
  decltype(&gzbuffer) buffer = nullptr;
  decltype(&gzread) read = nullptr;
  decltype(&gzerror) error = nullptr;
  decltype(&gzclose) close = nullptr;
};

const Zlib& zlib() {
  static const Zlib library = [] {
    const char* what = "zlib (" BACKPROP_ZLIB_LIBRARY ", for a .gz data file)";
    void* handle = open_library(BACKPROP_ZLIB_LIBRARY, what);
    Zlib opened;
    opened.open = reinterpret_cast<decltype(&gzopen)>(plugin_function(handle, "gzopen", what));
    opened.buffer = reinterpret_cast<decltype(&gzbuffer)>(plugin_function(handle, "gzbuffer", what));
    opened.read = reinterpret_cast<decltype(&gzread)>(plugin_function(handle, "gzread", what));
    opened.error = reinterpret_cast<decltype(&gzerror)>(plugin_function(handle, "gzerror", what));
    opened.close = reinterpret_cast<decltype(&gzclose)>(plugin_function(handle, "gzclose", what));
    return opened;
  }();
  return library;
}

std::vector<std::uint8_t> read_gzip_file(const std::filesystem::path& path, std::size_t csv_limit) {
  const std::string name = path.string();
  const Zlib& z = zlib();
  errno = 0;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(z.open(name.c_str(), "rb"), z.close);
  if (!file) throw_bad_input(name + ": cannot open: " + (errno ? std::strerror(errno) : "out of memory"));
  z.buffer(file.get(), 1 << 18);
  std::uint64_t decompressed = 0;
  const ReadChunk read_chunk = [&](std::uint8_t* into, std::size_t room) -> std::size_t {
    const int got = z.read(file.get(), into, static_cast<unsigned>(std::min<std::size_t>(room, INT_MAX / 2)));
    if (got > 0) {
      decompressed += static_cast<std::uint64_t>(got);
      return static_cast<std::size_t>(got);
    }
    int status = Z_OK;
    const char* message = z.error(file.get(), &status);
    if (status != Z_OK && status != Z_STREAM_END)
      throw_bad_input(name + ": byte offset " + std::to_string(decompressed) +
                      " of the decompressed data: expected a complete gzip stream, got " +
                      (status == Z_ERRNO ? std::string(std::strerror(errno)) : std::string(message)) +
                      (status == Z_BUF_ERROR ? " (the file is truncated)" : ""));
    return 0;
  };
  return read_data_chunks(path, name, read_chunk, std::nullopt, gzip_size_hint(path), csv_limit);
}

}  // namespace

std::optional<FileFormat> format_by_name(const std::filesystem::path& path) {
  std::string name = lowercase_name(path);
  if (name.size() > 3 && name.ends_with(".gz")) name.resize(name.size() - 3);
  if (name.ends_with(".csv")) return FileFormat::csv;
  if (name.ends_with(".npy")) return FileFormat::npy;
  if (name.ends_with("ubyte") || name.ends_with(".idx") || name.find(".idx") != std::string::npos ||
      name.find("-idx") != std::string::npos)
    return FileFormat::idx;
  return std::nullopt;
}

FileFormat format_of(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  if (const auto by_name = format_by_name(path)) return *by_name;
  if (bytes.size() >= 6 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0) return FileFormat::npy;
  if (bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0) return FileFormat::idx;
  return FileFormat::csv;
}

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path, std::size_t csv_limit) {
  if (is_gzip_name(path)) return read_gzip_file(path, csv_limit);
  FileReader file(path);
  const ReadChunk read_chunk = [&](std::uint8_t* into, std::size_t room) { return file.read(into, room); };
  // A regular file longer than its header declares is refused before it is read, naming its length.
  const std::optional<std::uint64_t> size = file.size();
  return read_data_chunks(path, path.string(), read_chunk, size, size.value_or(0), csv_limit);
}

std::string read_standard_input(std::size_t csv_limit) {
  const ReadChunk read_chunk = [](std::uint8_t* into, std::size_t room) -> std::size_t {
    std::cin.read(reinterpret_cast<char*>(into), static_cast<std::streamsize>(room));
    if (std::cin.bad()) throw_bad_input("<stdin>: cannot read");
    return static_cast<std::size_t>(std::cin.gcount());
  };
  const std::vector<std::uint8_t> bytes =
      read_data_chunks("stdin.csv", "<stdin>", read_chunk, std::nullopt, 0, csv_limit);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace backprop::data
