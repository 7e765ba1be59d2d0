// Writing a file whole, atomically (io/write_file.hpp).
#include "backprop/io/write_file.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backprop/base/error.hpp"
#include "backprop/io/output_files.hpp"

namespace backprop::io {

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

}  // namespace backprop::io
