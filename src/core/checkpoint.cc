// Checkpoints in the safetensors layout (docs/checkpoint-format.md), the public calls: a writer
// (checkpoint_write.cc) that saves atomically, and a loader that trusts nothing in the file. Loading is
// parse (checkpoint_parse.cc: the layout, on its own) then restore (checkpoint_restore.cc: the contents
// against the optimizer), each checking everything before the optimizer is touched.
#include "adamant/checkpoint.h"

#include "adamant/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <utility>

#include "core/checkpoint_internal.h"
#include "core/checkpoint_schema.h"

namespace adamant {

namespace checkpoint_internal {

std::function<void(size_t)>& WriteHook() {
  static std::function<void(size_t)> hook;
  return hook;
}

void SetWriteHook(std::function<void(size_t)> hook) { WriteHook() = std::move(hook); }

}  // namespace checkpoint_internal

namespace {

using checkpoint_internal::Fail;

std::string ErrnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Writes `bytes` in chunks of kWriteChunkBytes, calling the tests' write hook after each.
void WriteAll(AtomicFile& file, std::string_view bytes, size_t& written) {
  const auto& hook = checkpoint_internal::WriteHook();
  while (!bytes.empty()) {
    const size_t chunk = std::min(bytes.size(), checkpoint_internal::kWriteChunkBytes);
    file.Write(bytes.substr(0, chunk));
    bytes.remove_prefix(chunk);
    written += chunk;
    if (hook) hook(written);
  }
}

}  // namespace

std::string SerializeState(const Optimizer& optimizer) {
  try {
    const checkpoint_internal::Plan plan = checkpoint_internal::BuildPlan(optimizer);
    std::string out;
    size_t total = 8 + plan.header.size();
    for (const auto& piece : plan.pieces) total += piece.nbytes;
    out.reserve(total);
    checkpoint_internal::Emit(plan, [&](std::string_view bytes) { out.append(bytes); });
    return out;
  } catch (const CheckpointError& e) {
    throw CheckpointError(std::string("checkpoint: ") + e.what());
  }
}

void DeserializeState(Optimizer& optimizer, std::string_view bytes) {
  try {
    checkpoint_internal::Restore(optimizer, checkpoint_internal::Parse(bytes));
  } catch (const CheckpointError& e) {
    throw CheckpointError(std::string("checkpoint: ") + e.what());
  }
}

void SaveCheckpoint(const Optimizer& optimizer, const std::string& path) {
  const std::string prefix = "checkpoint '" + path + "': ";
  checkpoint_internal::Plan plan;
  try {
    plan = checkpoint_internal::BuildPlan(optimizer);  // before any file is touched
  } catch (const CheckpointError& e) {
    throw CheckpointError(prefix + e.what());
  }
  // A new file beside the target, flushed and renamed over it (atomic_file.h); anything but a regular file
  // or a new path is refused, a symlink is followed.
  try {
    AtomicFile file(path);
    size_t written = 0;
    checkpoint_internal::Emit(plan, [&](std::string_view bytes) { WriteAll(file, bytes, written); });
    file.Commit();
  } catch (const CheckpointError& e) {
    throw CheckpointError(prefix + e.what());
  } catch (const std::runtime_error& e) {
    throw CheckpointError(prefix + e.what());
  }
}

void LoadCheckpoint(Optimizer& optimizer, const std::string& path) {
  const std::string prefix = "checkpoint '" + path + "': ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CheckpointError(prefix + ErrnoText("cannot open", path));
  std::string bytes;
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) Fail(ErrnoText("cannot stat", path));
    if (!S_ISREG(st.st_mode)) Fail("not a regular file");
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Fail(ErrnoText("cannot read", path));
      if (n == 0) break;  // the file shrank; the parser reports it as truncated
      done += static_cast<size_t>(n);
    }
    bytes.resize(done);
    ::close(fd);
  } catch (const CheckpointError& e) {
    ::close(fd);
    throw CheckpointError(prefix + e.what());
  }
  try {
    checkpoint_internal::Restore(optimizer, checkpoint_internal::Parse(bytes));
  } catch (const CheckpointError& e) {
    throw CheckpointError(prefix + e.what());
  }
}

}  // namespace adamant
