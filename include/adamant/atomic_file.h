// Writing a file so that a crash, a full disk or a kill leaves either its old content or all of the new,
// never part of it: the bytes go to a new temporary file beside the target, which is flushed to disk and
// renamed over the target, and then the directory entry is flushed.
//
//   adamant::AtomicFile file("run/checkpoint.bin");   // creates run/checkpoint.bin.tmp.<pid>.<n>
//   file.Write(bytes);                                // any number of times
//   file.Commit();                                    // fsync, rename, fsync the directory
//
// A file that is not committed (an exception, a return) is removed by the destructor. A temporary left by a
// process that was killed (SIGKILL, power loss) is removed by the next AtomicFile for the same target once
// that process no longer exists.
//
// What the target may be: a regular file, or a path where nothing exists yet. Anything else (a directory, a
// device such as /dev/null, a FIFO, a socket) is refused before anything is created, since renaming over it
// would replace it. A symbolic link is followed, deliberately: the file it points to (at any depth) is
// replaced and the link stays, as `cp` or an editor's save would do; the temporary lies beside that file.
#ifndef ADAMANT_ATOMIC_FILE_H_
#define ADAMANT_ATOMIC_FILE_H_

#include <string>
#include <string_view>

namespace adamant {

class AtomicFile {
 public:
  // Throws std::runtime_error ("cannot replace PATH: it is a directory", "cannot create PATH.tmp...: REASON").
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends `bytes`; throws std::runtime_error ("cannot write TMP: No space left on device").
  void Write(std::string_view bytes);
  // Makes the written bytes the target's content. Throws std::runtime_error; the target is then unchanged.
  void Commit();

  const std::string& target() const { return target_; }        // the path written (a symlink resolved)
  const std::string& temporary() const { return temporary_; }  // where the bytes go until Commit

 private:
  std::string target_;
  std::string temporary_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `bytes` to `path` with an AtomicFile.
void WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace adamant

#endif  // ADAMANT_ATOMIC_FILE_H_
