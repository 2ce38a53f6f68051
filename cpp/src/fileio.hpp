// Private file helpers of the index formats: atomic writes (temp file beside the
// target, fsync, rename, fsync of the folder) and read-only memory maps. Failures throw
// InvalidInput with the path and the system's reason.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace covekit::fileio {

// Writes the file at `path` atomically: `fill` writes the content to the descriptor of a
// temporary file beside it (named `tmp`, for messages), which is then fsynced and
// renamed over `path`. A crash leaves the old file or the new one, never a mix; the
// temporary file is removed when `fill` throws.
void write_file_atomic(const std::string& path, const std::function<void(int fd, const std::string& tmp)>& fill);
void write_file_atomic(const std::string& path, std::string_view data);

// write(2) until done (EINTR retried).
void write_all(int fd, const void* data, std::size_t size, const std::string& path);

// A whole file mapped read-only, for reading once front to back (RAII).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  [[nodiscard]] std::string_view bytes() const noexcept {
    return data_ ? std::string_view(static_cast<const char*>(data_), size_) : std::string_view();
  }
  // Drops the whole pages inside `part` (a view into bytes()) from this process's memory;
  // they read back from the file if touched again.
  void release(std::string_view part) const noexcept;

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace covekit::fileio
