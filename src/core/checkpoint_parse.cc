// The checkpoint loader's first half: the layout of a file on its own (header, JSON, entries, offsets,
// checksum), trusting nothing in it.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/checkpoint_internal.h"
#include "core/checkpoint_schema.h"
#include "core/crc32.h"

namespace adamant::checkpoint_internal {

static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian; so must the host be");

using Json = nlohmann::json;

namespace {

// Refuses containers nested deeper than a checkpoint's and repeated keys, as the parser meets them.
class HeaderCallback {
 public:
  bool operator()(int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (depth > kMaxJsonDepth) Fail("header is not a checkpoint's: its JSON nests deeper than " + std::to_string(kMaxJsonDepth + 1) + " levels");
        if (event == Json::parse_event_t::object_start) keys_.emplace_back();
        break;
      case Json::parse_event_t::key:
        if (!keys_.empty() && !keys_.back().insert(parsed.get<std::string>()).second) {
          Fail("header has the key " + Quote(parsed.get<std::string>()) + " twice in one object");
        }
        break;
      case Json::parse_event_t::object_end:
        if (!keys_.empty()) keys_.pop_back();
        break;
      default:
        break;
    }
    return true;
  }

 private:
  std::vector<std::set<std::string>> keys_;  // of the objects being parsed
};

// A non-negative JSON integer no larger than `limit`.
bool Unsigned(const Json& j, uint64_t limit, uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return out <= limit;
}

TensorEntry ParseEntry(const std::string& name, const Json& value, std::string_view data, uint64_t& begin) {
  const std::string where = "tensor " + Quote(name) + ": ";
  if (!value.is_object()) Fail(where + "its entry is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) Fail(where + "no '" + key + "'");
  }
  if (value.size() != 3) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets") {
        Fail(where + "unknown key " + Quote(it.key()) + " (an entry has dtype, shape, data_offsets)");
      }
    }
  }
  TensorEntry e;
  const Json& dtype = value["dtype"];
  const std::string type_name = dtype.is_string() ? dtype.get<std::string>() : dtype.dump();
  if (type_name == "F64") {
    e.type = ElementType::kF64;
  } else if (type_name == "F32") {
    e.type = ElementType::kF32;
  } else if (type_name == "BF16") {
    e.type = ElementType::kBF16;
  } else if (type_name == "I64") {
    e.type = ElementType::kI64;
  } else if (type_name == "U8") {
    e.type = ElementType::kU8;
  } else {
    Fail(where + "dtype " + Quote(type_name) + " is not one a checkpoint holds (F64, F32, I64, BF16, U8)");
  }
  const Json& shape = value["shape"];
  if (!shape.is_array() || shape.size() > kMaxDims) {
    Fail(where + "shape " + Quote(shape.dump()) + " is not a list of at most " + std::to_string(kMaxDims) + " sizes");
  }
  const uint64_t size = TypeSize(e.type);
  const uint64_t max_numel = data.size() / size;  // more elements than this cannot be in the file
  for (const Json& d : shape) {
    uint64_t dim = 0;
    if (!Unsigned(d, std::numeric_limits<uint64_t>::max(), dim)) Fail(where + "bad size " + Quote(d.dump()) + " in its shape");
    e.shape.push_back(dim);
  }
  const bool empty = std::find(e.shape.begin(), e.shape.end(), uint64_t{0}) != e.shape.end();
  for (uint64_t dim : e.shape) {
    if (empty) {
      e.numel = 0;
      break;
    }
    if (e.numel > max_numel / dim) {
      Fail(where + "shape " + Quote(shape.dump()) + " has more elements than the " + std::to_string(data.size()) +
           "-byte data section holds");
    }
    e.numel *= dim;
  }
  const Json& offsets = value["data_offsets"];
  uint64_t end = 0;
  constexpr uint64_t kAny = std::numeric_limits<uint64_t>::max();
  if (!offsets.is_array() || offsets.size() != 2 || !Unsigned(offsets[0], kAny, begin) ||
      !Unsigned(offsets[1], kAny, end) || begin > end) {
    Fail(where + "data_offsets " + Quote(offsets.dump()) + " are not [begin, end] with begin <= end");
  }
  if (end > data.size()) {
    Fail("truncated: " + where + "data_offsets " + Quote(offsets.dump()) + " run past the end of the " +
         std::to_string(data.size()) + "-byte data section");
  }
  if (end - begin != e.numel * size) {
    Fail(where + "data_offsets " + Quote(offsets.dump()) + " span " + std::to_string(end - begin) +
         " bytes, but its shape " + Quote(shape.dump()) + " of " + std::string(TypeName(e.type)) + " needs " +
         std::to_string(e.numel * size));
  }
  if (begin % size != 0) {
    Fail(where + "data_offsets " + Quote(offsets.dump()) + " are misaligned: " + std::string(TypeName(e.type)) +
         " data must start at a multiple of " + std::to_string(size) + " bytes");
  }
  e.data = data.substr(begin, end - begin);
  return e;
}

}  // namespace

ParsedFile Parse(std::string_view bytes, bool verify_checksum) {
  if (bytes.size() < 8) {
    Fail("truncated: " + std::to_string(bytes.size()) + " bytes, less than the 8-byte header length");
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > kMaxHeaderBytes) {
    Fail("header length " + std::to_string(header_len) + " is absurd (the limit is " + std::to_string(kMaxHeaderBytes) +
         " bytes): not a checkpoint, or a corrupted one");
  }
  if (header_len > bytes.size() - 8) {
    Fail("truncated: the header length " + std::to_string(header_len) + " runs past the end of the file (" +
         std::to_string(bytes.size()) + " bytes)");
  }
  if ((8 + header_len) % kAlignment != 0) {
    Fail("header length " + std::to_string(header_len) + " leaves the data section misaligned (8 + " +
         std::to_string(header_len) + " is not a multiple of " + std::to_string(kAlignment) + ")");
  }
  const std::string_view header_text = bytes.substr(8, header_len);
  const std::string_view data = bytes.substr(8 + header_len);

  // The JSON parser would take a NUL for the end of its input and ignore what follows.
  if (const size_t nul = header_text.find('\0'); nul != std::string_view::npos) {
    Fail("header holds a NUL byte at " + std::to_string(nul) + ": a corrupted file");
  }
  Json header;
  try {
    header = Json::parse(header_text.begin(), header_text.end(), HeaderCallback());
  } catch (const Json::exception& e) {
    std::string what = e.what();
    if (what.size() > 200) what = what.substr(0, 200) + "...";
    Fail("header is not valid JSON: " + what);
  }
  if (!header.is_object()) Fail("header is not a JSON object");

  ParsedFile file;
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> extents;  // (begin, end, name)
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const Json& value = it.value();
    if (name == "__metadata__") {
      if (!value.is_object()) Fail("__metadata__ is not a JSON object");
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string()) Fail("__metadata__ value of " + Quote(m.key()) + " is not a string");
        file.metadata.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    uint64_t begin = 0;
    TensorEntry entry = ParseEntry(name, value, data, begin);
    extents.emplace_back(begin, begin + entry.data.size(), name);
    file.tensors.emplace(name, entry);
  }
  // The tensors tile the data section, as safetensors requires: no overlap, no hole, nothing after them.
  std::sort(extents.begin(), extents.end());
  uint64_t expected = 0;
  for (const auto& [begin, end, name] : extents) {
    if (begin != expected) {
      Fail("tensor " + Quote(name) + " starts at byte " + std::to_string(begin) + " of the data section, expected " +
           std::to_string(expected) + (begin < expected ? " (it overlaps the tensor before it)" : " (a hole)"));
    }
    expected = end;
  }
  if (expected != data.size()) {
    Fail("the data section has " + std::to_string(data.size() - expected) + " bytes after the last tensor");
  }

  const auto format = file.metadata.find("format");
  if (format == file.metadata.end()) Fail("not an adamant optimizer checkpoint: no __metadata__ 'format'");
  if (format->second != kFormat) {
    Fail("not an adamant optimizer checkpoint: format " + Quote(format->second) + ", expected '" + std::string(kFormat) + "'");
  }
  const auto version = file.metadata.find("format_version");
  uint64_t v = 0;
  if (version == file.metadata.end() || !ParseDecimal(version->second, std::numeric_limits<uint64_t>::max(), v)) {
    Fail("no valid __metadata__ 'format_version'");
  }
  if (v != kFormatVersion) {
    Fail("format version " + version->second + (v > kFormatVersion ? " is newer than" : " is not") +
         " the one this adamant reads (" + Decimal(kFormatVersion) + ")");
  }

  const auto checksum = file.metadata.find("checksum");
  if (verify_checksum) {
    if (checksum == file.metadata.end()) Fail("no __metadata__ 'checksum'");
    const std::string& text = checksum->second;
    uint32_t stored = 0;
    const std::string_view hex = std::string_view(text).substr(std::min(text.size(), kChecksumPrefix.size()));
    const auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), stored, 16);
    if (!text.starts_with(kChecksumPrefix) || hex.size() != 8 || ec != std::errc() || ptr != hex.data() + hex.size() ||
        ChecksumText(stored) != text) {
      Fail("checksum " + Quote(text) + " is not of the form crc32:<8 lowercase hex digits>");
    }
    header["__metadata__"].erase("checksum");
    uint32_t crc = core::Crc32(header.dump());
    crc = core::Crc32(data, crc);
    if (crc != stored) {
      Fail("checksum mismatch: the file says " + text + ", its contents give " + ChecksumText(crc) +
           ": the file is corrupted");
    }
  }
  if (checksum != file.metadata.end()) file.metadata.erase(checksum);
  return file;
}

}  // namespace adamant::checkpoint_internal
