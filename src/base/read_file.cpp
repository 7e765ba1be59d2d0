// Reading a file whole (base/read_file.hpp).
#include "backprop/base/read_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backprop/base/error.hpp"

namespace backprop {

FileReader::FileReader(const std::filesystem::path& path) : name_(path.string()) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw_bad_input(name_ + ": is a directory: expected a file");
  descriptor_ = ::open(name_.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor_ < 0) throw_bad_input(name_ + ": cannot open: " + std::strerror(errno));
  struct stat status {};
  if (::fstat(descriptor_, &status) == 0 && S_ISREG(status.st_mode)) size_ = static_cast<std::uint64_t>(status.st_size);
}

FileReader::~FileReader() { ::close(descriptor_); }

std::size_t FileReader::read(void* into, std::size_t room) {
  while (true) {
    const ssize_t got = ::read(descriptor_, into, room);
    if (got >= 0) return static_cast<std::size_t>(got);
    const int error_number = errno;
    if (error_number == EINTR) continue;
    if (error_number == EISDIR) throw_bad_input(name_ + ": is a directory: expected a file");
    throw_runtime_error(name_ + ": cannot read: " + std::strerror(error_number));
  }
}

std::string read_file(const std::filesystem::path& path, const SizeLimit& limit) {
  FileReader file(path);
  std::string bytes;
  ReadLimit cap{kMaxReadFileBytes, "the most a file read whole may have"};
  read_chunks(
      bytes, [&](char* into, std::size_t room) { return file.read(into, room); },
      [](const std::string&) { return kReadChunkBytes; },
      [&](const std::string& start, bool complete) {
        if (limit) cap = limit(start, complete);
        if (start.size() > cap.bytes)
          throw_bad_input(path.string() + ": expected at most " + std::to_string(cap.bytes) + " bytes (" + cap.what +
                          "), got more: the file was read no further");
      });
  return bytes;
}

}  // namespace backprop
