// The files a run writes, checked before it starts: that none of them is a file the run reads or another
// output (a run that saves over its own data destroys it), and that each can be created where it is named.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace backprop::io {

// A file as the caller names it in messages ("--out", "the network file") and its path. An empty path
// (an option not given) and "-" (standard input or output) are skipped.
struct NamedFile {
  std::string name;
  std::filesystem::path path;
};

// Throws Error(bad_input) naming both when an output names the same file as an input or as another
// output: existing files are compared by device and inode (so different spellings, hard links and
// symlinks are caught), outputs that do not exist yet by their canonical path. Files that are not regular
// files (/dev/null, a FIFO) may be named any number of times. `may_share` lists pairs of names (input,
// output) allowed to name the same file: a checkpoint resumed and then rewritten. Also throws
// Error(bad_input) for an output whose folder does not exist, or that names a folder.
void check_output_files(const std::vector<NamedFile>& inputs, const std::vector<NamedFile>& outputs,
                        const std::vector<std::pair<std::string, std::string>>& may_share = {});

// The path that writing to `path` writes: the final target of a chain of symlinks (relative targets taken
// from the link's folder), or path itself when it is not a symlink. A chain of more than 40 links is
// Error(bad_input).
std::filesystem::path final_target(const std::filesystem::path& path);

}  // namespace backprop::io
