#include "fileio.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>

#include "covekit/errors.hpp"

namespace covekit::fileio {

namespace {

[[noreturn]] void io_error(const std::string& what, const std::string& path) {
  throw InvalidInput(what + " '" + path + "': " + std::strerror(errno));
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(int fd, const std::string& tmp)>& fill) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::random_device rd;  // a fresh name per attempt: concurrent savers never share one
  const fs::path tmp = dir / (target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                              std::to_string(rd()));
  {
    Fd f;
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (f.fd < 0) io_error("cannot create", tmp.string());
    try {
      fill(f.fd, tmp.string());
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
    if (::fsync(f.fd) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      errno = e;
      io_error("cannot fsync", tmp.string());
    }
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    io_error("cannot rename the temporary file onto", path);
  }
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd >= 0) ::fsync(d.fd);  // best effort: some filesystems refuse directory fsync
}

void write_file_atomic(const std::string& path, std::string_view data) {
  write_file_atomic(path, [&](int fd, const std::string& tmp) { write_all(fd, data.data(), data.size(), tmp); });
}

void write_all(int fd, const void* data, std::size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t w = ::write(fd, p, size);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) io_error("cannot write", path);
    p += w;
    size -= static_cast<std::size_t>(w);
  }
}

MappedFile::MappedFile(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) io_error("cannot open", path);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) io_error("cannot stat", path);
  if (S_ISDIR(st.st_mode)) throw InvalidInput("'" + path + "' is a directory; pass the index file");
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0) return;
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, f.fd, 0);
  if (p == MAP_FAILED) io_error("cannot map", path);
  data_ = p;
  ::madvise(p, size_, MADV_SEQUENTIAL);  // read once, front to back: early pages can go
}

void MappedFile::release(std::string_view part) const noexcept {
  if (!data_ || part.empty()) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto lo = (reinterpret_cast<std::uintptr_t>(part.data()) + page - 1) / page * page;
  const auto hi = (reinterpret_cast<std::uintptr_t>(part.data()) + part.size()) / page * page;
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace covekit::fileio
