// AtomicFile (atomic_file.h): the target holds its old content or all of the new, never part of it; nothing
// but a regular file or a new path is replaced; symlinks are followed; no temporary is left behind, also
// by a process that was killed.
#include "adamant/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace adamant {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/adamant-atomic-XXXXXX";
    ASSERT_NE(::mkdtemp(name), nullptr);
    dir_ = name;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // The names in the directory, sorted.
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string ErrorOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "<no error>";
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesANewFileAndReplacesAnOldOne) {
  WriteFileAtomically(Path("a"), "first");
  EXPECT_EQ(Read(Path("a")), "first");
  AtomicFile file(Path("a"));
  file.Write("sec");
  file.Write("ond");
  EXPECT_EQ(Read(Path("a")), "first");  // until Commit
  EXPECT_EQ(Names().size(), 2u);        // the target and the temporary beside it
  file.Commit();
  EXPECT_EQ(Read(Path("a")), "second");
  EXPECT_EQ(Names(), std::vector<std::string>{"a"});
}

TEST_F(AtomicFileTest, AFileNotCommittedLeavesNothing) {
  WriteFileAtomically(Path("a"), "old");
  {
    AtomicFile file(Path("a"));
    file.Write("half of the new");
  }
  EXPECT_EQ(Read(Path("a")), "old");
  EXPECT_EQ(Names(), std::vector<std::string>{"a"});
}

// A disk that fills up while writing (here: a file size limit, which fails write(2) as a full disk does).
TEST_F(AtomicFileTest, AFullDiskLeavesTheOldFileAndNoTemporary) {
  WriteFileAtomically(Path("a"), "old");
  rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  const std::string msg = ErrorOf([&] { WriteFileAtomically(Path("a"), std::string(100000, 'x')); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(msg.rfind("cannot write " + Path("a") + ".tmp.", 0), 0u) << msg;
  EXPECT_NE(msg.find("File too large"), std::string::npos) << msg;
  EXPECT_EQ(Read(Path("a")), "old");
  EXPECT_EQ(Names(), std::vector<std::string>{"a"});
}

TEST_F(AtomicFileTest, RefusesAnythingButARegularFile) {
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  fs::create_directory(Path("dir"));
  EXPECT_EQ(ErrorOf([&] { AtomicFile f(Path("fifo")); }),
            "cannot replace " + Path("fifo") + ": it is a FIFO (only a regular file is replaced)");
  EXPECT_EQ(ErrorOf([&] { AtomicFile f(Path("dir")); }),
            "cannot replace " + Path("dir") + ": it is a directory (only a regular file is replaced)");
  EXPECT_EQ(ErrorOf([&] { AtomicFile f("/dev/null"); }),
            "cannot replace /dev/null: it is a character device (only a regular file is replaced)");
  EXPECT_EQ(ErrorOf([&] { AtomicFile f(""); }), "cannot write a file with an empty name");
  struct stat st;
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_TRUE(fs::is_fifo(Path("fifo")));
  EXPECT_TRUE(fs::is_directory(Path("dir")));
  EXPECT_EQ(Names(), (std::vector<std::string>{"dir", "fifo"}));
  // A symlink to a FIFO is refused as the FIFO is.
  fs::create_symlink(Path("fifo"), Path("to-fifo"));
  EXPECT_NE(ErrorOf([&] { AtomicFile f(Path("to-fifo")); }).find("it is a FIFO"), std::string::npos);
}

TEST_F(AtomicFileTest, FollowsSymbolicLinks) {
  fs::create_directory(Path("real"));
  WriteFileAtomically(Path("real/target"), "old");
  fs::create_symlink("real/target", Path("link"));  // relative, resolved against the link's directory
  fs::create_symlink(Path("link"), Path("link2"));  // a link to a link
  WriteFileAtomically(Path("link2"), "new");
  EXPECT_TRUE(fs::is_symlink(Path("link")));
  EXPECT_TRUE(fs::is_symlink(Path("link2")));
  EXPECT_EQ(Read(Path("real/target")), "new");
  // A dangling link: the file it names is created.
  fs::create_symlink("real/new", Path("dangling"));
  WriteFileAtomically(Path("dangling"), "made");
  EXPECT_EQ(Read(Path("real/new")), "made");
  EXPECT_TRUE(fs::is_symlink(Path("dangling")));
  // A loop is refused.
  fs::create_symlink(Path("loop-b"), Path("loop-a"));
  fs::create_symlink(Path("loop-a"), Path("loop-b"));
  EXPECT_NE(ErrorOf([&] { WriteFileAtomically(Path("loop-a"), "x"); }).find("Too many levels"), std::string::npos);
}

TEST_F(AtomicFileTest, RemovesTheTemporariesOfProcessesThatNoLongerExist) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) std::_Exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // a process id that no longer exists
  const std::string dead = Path("a.tmp." + std::to_string(child) + ".0");
  const std::string alive = Path("a.tmp." + std::to_string(::getppid()) + ".3");
  const std::string other = Path("b.tmp." + std::to_string(child) + ".0");  // another file's
  for (const std::string& p : {dead, alive, other}) std::ofstream(p) << "partial";
  WriteFileAtomically(Path("a"), "new");
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(Read(Path("a")), "new");
}

}  // namespace
}  // namespace adamant
