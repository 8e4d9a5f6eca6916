#include "files.h"

#include "adamant/atomic_file.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace adamant::app {
namespace {

[[noreturn]] void Fail(const std::string& what, const std::filesystem::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

// The directory the running executable is in (for the scripts installed beside it).
std::filesystem::path ExecutableDir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

}  // namespace

void PrepareOutputDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot write to output directory " + dir.string() + ": " + ec.message());
  const auto probe = dir / ".adamant-write-test";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    throw std::runtime_error("cannot write to output directory " + dir.string() + ": " + std::strerror(errno));
  }
  ::close(fd);
  std::filesystem::remove(probe, ec);
}

void WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes) {
  adamant::WriteFileAtomically(path.string(), bytes);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool RunPythonScript(const std::string& script, const std::vector<std::string>& args, std::string* error) {
  std::filesystem::path path = ExecutableDir() / script;
  if (!std::filesystem::exists(path)) path = std::filesystem::path(ADAMANT_APP_SOURCE_DIR) / script;
  if (!std::filesystem::exists(path)) {
    *error = script + " not found next to the executable or in " ADAMANT_APP_SOURCE_DIR;
    return false;
  }
  std::vector<std::string> argv_strings = {"/usr/bin/python3", path.string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork failed: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  *error = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "/usr/bin/python3 not found"
                                                           : "/usr/bin/python3 " + path.string() + " failed";
  return false;
}

}  // namespace adamant::app
