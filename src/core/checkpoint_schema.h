// What the checkpoint writer and loader share (docs/checkpoint-format.md): the format's constants, the state
// each algorithm keeps, names and numbers as the file spells them. Internal to src/core.
#ifndef ADAMANT_CORE_CHECKPOINT_SCHEMA_H_
#define ADAMANT_CORE_CHECKPOINT_SCHEMA_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adamant/algorithm_info.h"
#include "adamant/checkpoint.h"
#include "adamant/dtype.h"
#include "core/checkpoint_internal.h"

namespace adamant::checkpoint_internal {

constexpr std::string_view kFormat = "adamant.optimizer_state";
constexpr uint64_t kFormatVersion = 1;
// The safetensors library's own limit; a real header is a few hundred bytes per parameter.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
// 8 + the header length is a multiple of this, so that every tensor, placed by decreasing element size,
// starts at a file offset that is a multiple of its element size.
constexpr uint64_t kAlignment = 8;
// Containers in a valid header: the header object (depth 0), tensor entries and __metadata__ (1), shape
// and data_offsets (2). Anything deeper is refused while parsing, before it costs memory or recursion.
constexpr int kMaxJsonDepth = 2;
constexpr size_t kMaxDims = 8;
constexpr std::string_view kChecksumPrefix = "crc32:";

[[noreturn]] inline void Fail(const std::string& what) { throw CheckpointError(what); }

// `text` for a message: at most 80 characters, anything but printable ASCII as \xNN.
std::string Quote(std::string_view text);

std::string_view TypeName(ElementType type);
uint64_t TypeSize(ElementType type);
ElementType TypeOf(DType state_dtype);

// What each algorithm keeps per parameter (algorithm_info.h); master_param is allowed for bf16/fp16
// parameters of every algorithm.
using adamant::AlgorithmInfo;
using adamant::FindAlgorithm;

bool IsHalf(DType d);
bool IsSupported(DType d);

// Why buffer `name` cannot be state of a parameter of `dtype` under `algorithm`, or empty if it can.
std::string BufferProblem(const AlgorithmInfo& algorithm, std::string_view name, DType dtype);

std::string Decimal(uint64_t v);
// A decimal as written by Decimal(): digits only, no sign, no leading zero, at most `limit`.
bool ParseDecimal(std::string_view s, uint64_t limit, uint64_t& out);

std::string ChecksumText(uint32_t crc);

}  // namespace adamant::checkpoint_internal

#endif  // ADAMANT_CORE_CHECKPOINT_SCHEMA_H_
