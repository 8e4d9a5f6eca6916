// The checkpoint loader's two halves, and a fault-injection hook for the writer: for the fuzzer and the
// tests, not part of the installed API.
#ifndef ADAMANT_CORE_CHECKPOINT_INTERNAL_H_
#define ADAMANT_CORE_CHECKPOINT_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "adamant/optimizer.h"

namespace adamant::checkpoint_internal {

// The element types adamant writes (safetensors names F64, F32, I64, BF16, U8).
enum class ElementType { kF64, kF32, kI64, kBF16, kU8 };

struct TensorEntry {
  ElementType type = ElementType::kF32;
  std::vector<uint64_t> shape;
  uint64_t numel = 1;
  std::string_view data;  // into the parsed bytes
};

// A file whose layout is valid: header length, JSON, tensor entries, offsets tiling the data section, the
// format name and version, and (unless verification is off) the checksum. Nothing is known yet about
// whether it fits a given optimizer.
struct ParsedFile {
  std::map<std::string, std::string, std::less<>> metadata;  // without "checksum"
  std::map<std::string, TensorEntry, std::less<>> tensors;
};

struct Piece {
  std::string name;
  ElementType type;
  std::vector<uint64_t> shape;
  const void* data;
  size_t nbytes;
};

// A checkpoint ready to write: the header (padded) and the tensors' bytes, which stay in the optimizer's
// buffers, so that saving copies nothing.
struct Plan {
  std::string header;
  std::vector<Piece> pieces;  // in file order
  std::deque<uint64_t> scalars;  // the bytes of the scalar tensors (step, mu_product)
};

// The plan of `optimizer`'s checkpoint; throws CheckpointError for state it could not load back.
Plan BuildPlan(const Optimizer& optimizer);
// Calls write(bytes) for each part of the file in order.
void Emit(const Plan& plan, const std::function<void(std::string_view)>& write);
// The hook SetWriteHook sets (SaveCheckpoint calls it).
std::function<void(size_t)>& WriteHook();

// Throws CheckpointError. `verify_checksum` false lets the fuzzer reach the checks behind the checksum,
// which a mutated input would otherwise fail almost always.
ParsedFile Parse(std::string_view bytes, bool verify_checksum = true);

// Checks that `file` fits `optimizer` and restores it, all or nothing. Throws CheckpointError.
void Restore(Optimizer& optimizer, const ParsedFile& file);

// Called by SaveCheckpoint after each chunk written to the temporary file, with the bytes written so far;
// a hook that throws or kills the process simulates a failure or a crash in the middle of a save.
// Null (the default) for none. Not thread-safe: for tests.
void SetWriteHook(std::function<void(size_t bytes_written)> hook);

// The size of the chunks SaveCheckpoint writes (so that a test can interrupt a save after the first).
inline constexpr size_t kWriteChunkBytes = size_t{1} << 20;

}  // namespace adamant::checkpoint_internal

#endif  // ADAMANT_CORE_CHECKPOINT_INTERNAL_H_
