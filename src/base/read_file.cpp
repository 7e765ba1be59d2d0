// Reading a file whole (base/read_file.hpp).
#include "backprop/base/read_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "backprop/base/error.hpp"

namespace backprop {

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

}  // namespace backprop
