#include "backprop/io/text.hpp"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "backprop/base/error.hpp"
#include "backprop/io/output_files.hpp"

namespace backprop::io {

std::string read_file(const std::filesystem::path& path, const SizeLimit& limit) {
  const std::string name = path.string();
  // A directory opens as a stream that reads nothing: without this it would be reported as an empty file.
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw_bad_input(name + ": is a directory: expected a file");
  const int descriptor = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) throw_bad_input(name + ": cannot open: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{descriptor};
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::string bytes;
  ReadLimit cap{kMaxReadFileBytes, "the most a file read whole may have"};
  while (true) {
    const std::size_t used = bytes.size();
    bytes.resize(used + kChunk);  // std::bad_alloc, out of memory, is not a damaged file: it goes through
    const ssize_t got = ::read(descriptor, bytes.data() + used, kChunk);
    if (got < 0 && errno == EINTR) {
      bytes.resize(used);
      continue;
    }
    if (got < 0) {
      const int error_number = errno;
      if (error_number == EISDIR) throw_bad_input(name + ": is a directory: expected a file");
      throw_runtime_error(name + ": cannot read: " + std::strerror(error_number));
    }
    bytes.resize(used + static_cast<std::size_t>(got));
    if (limit) cap = limit(bytes, got == 0);
    if (bytes.size() > cap.bytes)
      throw_bad_input(name + ": expected at most " + std::to_string(cap.bytes) + " bytes (" + cap.what +
                      "), got more: the file was read no further");
    if (got == 0) break;
  }
  return bytes;
}

TextPosition position_of(std::string_view text, std::size_t offset) {
  TextPosition position;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++position.line;
      position.column = 1;
    } else {
      ++position.column;
    }
  }
  return position;
}

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char b = bytes[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    // The length of the sequence and the range of its second byte (RFC 3629, table 3-7 of Unicode).
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      if (b == 0xE0) low = 0xA0;
      if (b == 0xED) high = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      if (b == 0xF0) low = 0x90;
      if (b == 0xF4) high = 0x8F;
    } else {
      return i;
    }
    if (i + length > n || bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (std::size_t k = 2; k < length; ++k)
      if (bytes[i + k] < 0x80 || bytes[i + k] > 0xBF) return i;
    i += length;
  }
  return std::nullopt;
}

std::optional<std::size_t> first_control_character(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) return i;
  }
  return std::nullopt;
}

std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7F) {
      out += c;
      continue;
    }
    static constexpr char digits[] = "0123456789abcdef";
    out += "\\x";
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

std::optional<double> parse_double(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0.0;
  std::from_chars_result parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec == std::errc::result_out_of_range) {
    // Out of double's range: 1e-400 underflows to 0 (finite, taken), 1e400 overflows (refused). The wider
    // long double tells which.
    long double wide = 0.0L;
    parsed = std::from_chars(text.data(), text.data() + text.size(), wide);
    value = static_cast<double>(wide);
  }
  if (text.empty() || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

std::vector<double> parse_number_list(std::string_view text, std::string_view what) {
  std::vector<double> values;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find_first_of(",;", start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(start, end - start);
    const auto value = parse_double(item);
    if (!value)
      throw_bad_input(std::string(what) + ": expected comma-separated finite numbers, got '" + std::string(item) +
                      "' in '" + std::string(text) + "'");
    values.push_back(*value);
    start = end + 1;
  }
  return values;
}

namespace {

[[noreturn]] void throw_cannot_write(const std::filesystem::path& path, const std::string& step, int error_number) {
  throw_runtime_error(path.string() + ": cannot write: " + step + ": " + std::strerror(error_number));
}

// Writes all of bytes to fd, retrying after a signal; false with errno set on a failure.
bool write_all(int fd, std::string_view bytes) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return true;
}

// A FIFO, a character device or a socket is written as it is: there is no file to replace, and renaming
// a file over it would destroy it (as root, --out /dev/null made /dev/null a regular file).
void write_in_place(const std::filesystem::path& path, const std::filesystem::path& target, std::string_view bytes) {
  const int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw_cannot_write(path, "open " + target.string(), errno);
  if (!write_all(fd, bytes)) {
    const int error_number = errno;
    ::close(fd);
    throw_cannot_write(path, "write " + target.string(), error_number);
  }
  if (::close(fd) != 0) throw_cannot_write(path, "close " + target.string(), errno);
}

// The temporary files being written now, for remove_temporaries_in_flight (called from a signal handler: a
// fixed array of C strings, atomics for the slots' states, nothing allocated there).
constexpr int kTemporarySlots = 16;
constexpr std::size_t kTemporaryPathBytes = 4096;
struct TemporarySlot {
  std::atomic<int> state{0};  // 0: free; 1: being filled; 2: holds a path
  char path[kTemporaryPathBytes];
};
TemporarySlot temporary_slots[kTemporarySlots];

// Holds a temporary file's name in a slot from before the file is created until it is renamed or removed, so
// that a signal arriving at any moment in between finds the name (a name held a moment before its file exists
// is unlinked in vain, which is harmless).
class TemporaryInFlight {
 public:
  TemporaryInFlight() = default;
  void hold(const std::filesystem::path& path) {
    release();
    const std::string& name = path.native();
    if (name.size() >= kTemporaryPathBytes) return;
    for (int i = 0; i < kTemporarySlots; ++i) {
      int expected = 0;
      if (!temporary_slots[i].state.compare_exchange_strong(expected, 1)) continue;
      std::memcpy(temporary_slots[i].path, name.c_str(), name.size() + 1);
      temporary_slots[i].state.store(2);
      slot_ = i;
      return;
    }
  }
  void release() {
    if (slot_ >= 0) temporary_slots[slot_].state.store(0);
    slot_ = -1;
  }
  ~TemporaryInFlight() { release(); }
  TemporaryInFlight(const TemporaryInFlight&) = delete;
  TemporaryInFlight& operator=(const TemporaryInFlight&) = delete;

 private:
  int slot_ = -1;
};

// Creates "<target>.tmp-<pid>-<6 characters>" with O_EXCL (mkstemp's guarantee: a name nobody else holds,
// never a file or link that was already there), mode 0666 less the umask, as a new file would get. The pid
// stays in the name so that a checkpoint's abandoned temporaries can be told from a running process's.
// Its name is held in `in_flight` before the file is created.
int create_temporary(const std::filesystem::path& path, const std::filesystem::path& target,
                     std::filesystem::path& temporary, TemporaryInFlight& in_flight) {
  static constexpr char letters[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t state = (std::uint64_t(::getpid()) << 32) ^
                        std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                        (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string suffix = ".tmp-" + std::to_string(::getpid()) + "-";
    for (int i = 0; i < 6; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;  // a 64-bit LCG step (Knuth's MMIX)
      suffix += letters[(state >> 33) % (sizeof letters - 1)];
    }
    temporary = std::filesystem::path(target).concat(suffix);
    in_flight.hold(temporary);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    const int error = errno;
    in_flight.release();  // another's file, or none: not ours to remove
    if (error != EEXIST) throw_cannot_write(path, "cannot create " + temporary.string(), error);
  }
  throw_cannot_write(path, "cannot create a temporary file beside " + target.string(), EEXIST);
}

}  // namespace

void remove_temporaries_in_flight() noexcept {
  for (TemporarySlot& slot : temporary_slots)
    if (slot.state.load() == 2) ::unlink(slot.path);
}

// A regular file (or a new one) is replaced through a temporary file in its folder: written, fsynced,
// renamed over it, then the folder fsynced (best effort). On any failure the temporary file is removed and
// the file is untouched. A symlink has its final target replaced; the link stays.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  if (path.filename().empty() || path.filename() == "." || path.filename() == "..")
    throw_bad_input(path.string() + ": cannot write: expected a file name, got a folder");
  const std::filesystem::path target = final_target(path);
  struct stat existing {};
  const bool exists = ::stat(target.c_str(), &existing) == 0;
  if (exists && S_ISDIR(existing.st_mode))
    throw_bad_input(path.string() + ": cannot write: expected a file name, got a folder");
  if (exists && !S_ISREG(existing.st_mode)) return write_in_place(path, target, bytes);
  const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  // A missing folder is the caller's mistake, as the command's check up front says (exit 2); what fails
  // from here on is a failed write (Error(runtime), exit 1).
  struct stat folder_info {};
  const int folder_error = ::stat(folder.c_str(), &folder_info) != 0 ? errno : S_ISDIR(folder_info.st_mode) ? 0 : ENOTDIR;
  if (folder_error != 0)
    throw_bad_input(path.string() + ": cannot write: the folder " + folder.string() + " does not exist (" +
                    std::strerror(folder_error) + ")");

  std::filesystem::path temporary;
  TemporaryInFlight in_flight;  // the name, removed by a signal handler should the process be stopped
  const int fd = create_temporary(path, target, temporary, in_flight);
  auto fail = [&](const std::string& step, int error_number, bool close_fd) {
    if (close_fd) ::close(fd);
    ::unlink(temporary.c_str());
    throw_cannot_write(path, step, error_number);
  };
  // The replacement keeps the file's permissions (and its owner and group, where this process may set them).
  if (exists) {
    if (::fchmod(fd, existing.st_mode & 07777) != 0) fail("chmod " + temporary.string(), errno, true);
    [[maybe_unused]] const int ignored = ::fchown(fd, existing.st_uid, existing.st_gid);
  }
  if (!write_all(fd, bytes)) fail("write " + temporary.string(), errno, true);
  if (::fsync(fd) != 0) fail("fsync " + temporary.string(), errno, true);
  if (::close(fd) != 0) fail("close " + temporary.string(), errno, false);
  if (::rename(temporary.c_str(), target.c_str()) != 0) fail("rename " + temporary.string(), errno, false);

  // Make the rename itself durable; a folder that cannot be opened or synced (some file systems) is not
  // an error: the file is complete either way.
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
}

std::string format_double(double value) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return error == std::errc() ? std::string(buffer, end) : std::string("nan");
}

std::string format_float(float value) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return error == std::errc() ? std::string(buffer, end) : std::string("nan");
}

}  // namespace backprop::io
