// Writing a file whole, atomically, and removing the temporary files of writes cut short by a signal.
#pragma once

#include <filesystem>
#include <string_view>

namespace backprop::io {

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

}  // namespace backprop::io
