#include "backprop/io/output_files.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

#include "backprop/base/error.hpp"

namespace backprop::io {

std::filesystem::path final_target(const std::filesystem::path& path) {
  std::filesystem::path current = path;
  for (int links = 0; links <= 40; ++links) {
    std::error_code error;
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(current, error))) return current;
    const std::filesystem::path target = std::filesystem::read_symlink(current, error);
    if (error) return current;
    current = target.is_absolute() ? target : current.parent_path() / target;
  }
  throw_bad_input(path.string() + ": cannot write: expected a file, got a chain of more than 40 symlinks");
}

namespace {

// Which file a path names: an existing file by device and inode, one that does not exist yet by its
// canonical path (the folders' symlinks resolved).
struct FileIdentity {
  bool exists = false;
  bool regular = true;
  dev_t device = 0;
  ino_t inode = 0;
  std::string canonical;

  bool same_as(const FileIdentity& other) const {
    if (exists != other.exists) return false;
    return exists ? device == other.device && inode == other.inode : canonical == other.canonical;
  }
  // Two names of one FIFO or device write to it in turn and destroy nothing: they may repeat.
  bool may_repeat() const { return exists && !regular; }
};

FileIdentity identify(const std::filesystem::path& path) {
  FileIdentity identity;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    identity.exists = true;
    identity.regular = S_ISREG(info.st_mode);
    identity.device = info.st_dev;
    identity.inode = info.st_ino;
    return identity;
  }
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(final_target(path), error);
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(absolute, error);
  identity.canonical = (error ? absolute.lexically_normal() : canonical).string();
  return identity;
}

bool skipped(const NamedFile& file) { return file.path.empty() || file.path == "-"; }

std::string quoted(const NamedFile& file) { return file.name + " " + file.path.string(); }

// An output must be a file name in a folder that exists: refused here rather than after the work.
void check_writable_place(const NamedFile& output) {
  const std::filesystem::path target = final_target(output.path);
  const std::filesystem::path name = target.filename();
  struct stat info {};
  if (name.empty() || name == "." || name == ".." ||
      (::stat(target.c_str(), &info) == 0 && S_ISDIR(info.st_mode)))
    throw_bad_input(quoted(output) + ": cannot write: expected a file name, got a folder");
  const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (::stat(folder.c_str(), &info) != 0)
    throw_bad_input(quoted(output) + ": cannot write: the folder " + folder.string() + " does not exist (" +
                    std::strerror(errno) + ")");
  if (!S_ISDIR(info.st_mode))
    throw_bad_input(quoted(output) + ": cannot write: expected a folder, got " + folder.string() + ", not a folder");
  // A FIFO or a device is written in place; anything else through a temporary file in the folder, so the
  // folder must take a new file: tried now (created and removed at once), as root too, rather than found
  // when the work is done.
  if (::stat(target.c_str(), &info) == 0 && !S_ISREG(info.st_mode)) return;
  std::string probe = (folder / ".backprop-probe-XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0)
    throw_bad_input(quoted(output) + ": cannot write: cannot create a file in the folder " + folder.string() + " (" +
                    std::strerror(errno) + ")");
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace

void check_output_files(const std::vector<NamedFile>& inputs, const std::vector<NamedFile>& outputs,
                        const std::vector<std::pair<std::string, std::string>>& may_share) {
  std::vector<std::pair<const NamedFile*, FileIdentity>> inputs_seen, outputs_seen;
  for (const NamedFile& input : inputs)
    if (!skipped(input)) inputs_seen.emplace_back(&input, identify(input.path));
  for (const NamedFile& output : outputs) {
    if (skipped(output)) continue;
    check_writable_place(output);
    const FileIdentity identity = identify(output.path);
    if (!identity.may_repeat()) {
      for (const auto& [input, other] : inputs_seen) {
        const bool shared = std::find(may_share.begin(), may_share.end(), std::pair(input->name, output.name)) !=
                            may_share.end();
        if (!shared && identity.same_as(other))
          throw_bad_input(quoted(output) + " and " + quoted(*input) +
                          " name the same file: expected an output that is not one of the run's inputs (writing it "
                          "would destroy the input)");
      }
      for (const auto& [earlier, other] : outputs_seen)
        if (identity.same_as(other))
          throw_bad_input(quoted(output) + " and " + quoted(*earlier) +
                          " name the same file: expected a different file for each output (one would overwrite the "
                          "other)");
    }
    outputs_seen.emplace_back(&output, identity);
  }
}

}  // namespace backprop::io
