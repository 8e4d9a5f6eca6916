#include "adamant/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace adamant {
namespace {

[[noreturn]] void Fail(const std::string& what, const std::string& path, int error) {
  throw std::runtime_error(what + " " + path + ": " + std::strerror(error));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// `path` with its symbolic links followed to the file they name (which need not exist yet).
std::string Resolved(const std::string& path) {
  std::string at = path;
  for (int depth = 0; depth < 40; ++depth) {  // Linux's own limit on nested links
    struct stat st;
    if (::lstat(at.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return at;
    std::string link(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4095) + 1, '\0');
    const ssize_t n = ::readlink(at.c_str(), link.data(), link.size());
    if (n < 0) Fail("cannot read the symbolic link", at, errno);
    link.resize(static_cast<size_t>(n));
    at = link.starts_with('/') ? link : DirectoryOf(at) + "/" + link;
  }
  Fail("cannot follow", path, ELOOP);
}

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Removes the temporaries "<name>.tmp.<pid>.<n>" in `dir` whose process no longer exists (killed while
// writing): they can never be committed.
void RemoveStaleTemporaries(const std::string& dir, const std::string& name) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;  // creating the temporary will say what is wrong
  const std::string prefix = name + ".tmp.";
  while (const dirent* entry = ::readdir(d)) {
    const std::string_view file = entry->d_name;
    if (!file.starts_with(prefix)) continue;
    std::string_view rest = file.substr(prefix.size());
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 9) continue;
    int64_t pid = 0;
    bool digits = true;
    for (char c : rest.substr(0, dot)) {
      digits = digits && c >= '0' && c <= '9';
      pid = pid * 10 + (c - '0');
    }
    bool counter = dot + 1 < rest.size();
    for (char c : rest.substr(dot + 1)) counter = counter && c >= '0' && c <= '9';
    if (!digits || !counter || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      ::unlinkat(::dirfd(d), entry->d_name, 0);
    }
  }
  ::closedir(d);
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) {
  if (path.empty()) throw std::runtime_error("cannot write a file with an empty name");
  target_ = Resolved(path);
  struct stat st;
  if (::stat(target_.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      throw std::runtime_error("cannot replace " + path + ": it is " + KindOf(st.st_mode) +
                               " (only a regular file is replaced)");
    }
  } else if (errno != ENOENT) {
    Fail("cannot write", path, errno);
  }
  // A new file beside the target (rename is atomic only within one file system), never an existing one.
  const std::string dir = DirectoryOf(target_);
  const std::string name = BaseName(target_);
  RemoveStaleTemporaries(dir, name);
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; fd_ < 0; ++attempt) {
    temporary_ = target_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && (errno != EEXIST || attempt >= 100)) Fail("cannot create", temporary_, errno);
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temporary_.empty()) ::unlink(temporary_.c_str());
}

void AtomicFile::Write(std::string_view bytes) {
  if (fd_ < 0) throw std::runtime_error("cannot write " + temporary_ + ": the file was committed");
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("cannot write", temporary_, errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void AtomicFile::Commit() {
  if (fd_ < 0) throw std::runtime_error("cannot commit " + temporary_ + " twice");
  // On disk before the rename makes it the file: otherwise a crash could leave a renamed but empty file in
  // place of the old one.
  if (::fsync(fd_) != 0) Fail("cannot flush", temporary_, errno);
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) Fail("cannot close", temporary_, errno);
  if (::rename(temporary_.c_str(), target_.c_str()) != 0) {
    Fail("cannot rename " + temporary_ + " to", target_, errno);
  }
  committed_ = true;
  // The rename itself is durable once the directory is flushed.
  const std::string dir = DirectoryOf(target_);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) Fail("cannot open directory", dir, errno);
  const int synced = ::fsync(dir_fd);
  const int error = errno;
  ::close(dir_fd);
  if (synced != 0) Fail("cannot flush directory", dir, error);
}

void WriteFileAtomically(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.Write(bytes);
  file.Commit();
}

}  // namespace adamant
