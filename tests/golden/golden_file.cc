#include "golden/golden_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

namespace adamant::golden {

static_assert(std::endian::native == std::endian::little, "golden files are little-endian; so must the host be");

namespace {

using Json = nlohmann::json;

bool ParseElementType(const std::string& s, ElementType& out) {
  static const std::pair<const char*, ElementType> kTypes[] = {
      {"F32", ElementType::kF32}, {"F64", ElementType::kF64}, {"U8", ElementType::kU8}, {"I64", ElementType::kI64}};
  for (const auto& [name, type] : kTypes) {
    if (s == name) return out = type, true;
  }
  return false;
}

// A non-negative JSON integer that fits in `limit`, or false.
bool NonNegativeInteger(const Json& j, uint64_t limit, uint64_t& out) {
  if (!j.is_number_integer()) return false;
  if (j.is_number_unsigned()) {
    out = j.get<uint64_t>();
  } else {
    const int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
  }
  return out <= limit;
}

}  // namespace

std::string_view ElementTypeName(ElementType type) {
  switch (type) {
    case ElementType::kF32: return "F32";
    case ElementType::kF64: return "F64";
    case ElementType::kU8: return "U8";
    case ElementType::kI64: return "I64";
  }
  return "?";
}

size_t ElementSize(ElementType type) {
  switch (type) {
    case ElementType::kF32: return 4;
    case ElementType::kF64: return 8;
    case ElementType::kU8: return 1;
    case ElementType::kI64: return 8;
  }
  return 0;
}

GoldenFile GoldenFile::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path + ": read error");
  return Parse(bytes, path);
}

void GoldenFile::Fail(const std::string& what) const { throw std::runtime_error(source_ + ": " + what); }

GoldenFile GoldenFile::Parse(std::string_view bytes, std::string source) {
  GoldenFile f;
  f.source_ = std::move(source);
  if (bytes.size() < 8) f.Fail("truncated: " + std::to_string(bytes.size()) + " bytes, less than the 8-byte header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);  // little-endian (static_assert above)
  if (header_len > bytes.size() - 8) {
    f.Fail("header length " + std::to_string(header_len) + " runs past the end of the file (" +
           std::to_string(bytes.size()) + " bytes)");
  }
  const std::string_view header_text = bytes.substr(8, header_len);
  const std::string_view body = bytes.substr(8 + header_len);

  Json header;
  try {
    header = Json::parse(header_text);
  } catch (const Json::parse_error& e) {
    f.Fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) f.Fail("header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const Json& value = it.value();
    if (name == "__metadata__") {
      if (!value.is_object()) f.Fail("__metadata__ is not a JSON object");
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string()) f.Fail("__metadata__ value of '" + m.key() + "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!value.is_object()) f.Fail(where + "entry is not a JSON object");
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!value.contains(key)) f.Fail(where + "missing '" + key + "'");
    }
    Entry e;
    if (!value["dtype"].is_string() || !ParseElementType(value["dtype"].get<std::string>(), e.info.type)) {
      f.Fail(where + "unsupported dtype " + value["dtype"].dump() + " (supported: F32, F64, U8, I64)");
    }
    const Json& shape = value["shape"];
    if (!shape.is_array()) f.Fail(where + "shape is not an array");
    uint64_t numel = 1;
    for (const Json& d : shape) {
      uint64_t dim = 0;
      if (!NonNegativeInteger(d, std::numeric_limits<int32_t>::max(), dim)) {
        f.Fail(where + "bad dimension " + d.dump() + " in shape " + shape.dump());
      }
      e.info.shape.push_back(static_cast<int64_t>(dim));
      numel *= dim;
      if (numel > (uint64_t{1} << 40)) f.Fail(where + "shape " + shape.dump() + " is implausibly large");
    }
    e.info.numel = static_cast<int64_t>(numel);
    const Json& offsets = value["data_offsets"];
    uint64_t begin = 0, end = 0;
    if (!offsets.is_array() || offsets.size() != 2 || !NonNegativeInteger(offsets[0], body.size(), begin) ||
        !NonNegativeInteger(offsets[1], body.size(), end) || begin > end) {
      f.Fail(where + "data_offsets " + offsets.dump() + " are not [begin, end] within the " +
             std::to_string(body.size()) + "-byte data section");
    }
    const uint64_t nbytes = numel * ElementSize(e.info.type);
    if (end - begin != nbytes) {
      f.Fail(where + "data_offsets " + offsets.dump() + " span " + std::to_string(end - begin) + " bytes but shape " +
             shape.dump() + " of " + std::string(ElementTypeName(e.info.type)) + " needs " + std::to_string(nbytes));
    }
    e.info.begin = begin;
    e.info.end = end;
    auto data = std::make_shared<std::byte[]>(std::max<size_t>(nbytes, 1));
    std::memcpy(data.get(), body.data() + begin, nbytes);
    e.data = std::move(data);
    f.tensors_.emplace(name, std::move(e));  // JSON object keys are unique
  }

  // The tensors must tile the data section: no overlap, no hole, nothing after the last one.
  std::vector<std::tuple<size_t, size_t, std::string>> order;  // (begin, end, name)
  for (const auto& [name, e] : f.tensors_) order.emplace_back(e.info.begin, e.info.end, name);
  std::sort(order.begin(), order.end());
  size_t expected = 0;
  for (const auto& [begin, end, name] : order) {
    if (begin != expected) {
      f.Fail("tensor '" + name + "' starts at byte " + std::to_string(begin) + " of the data section, expected " +
             std::to_string(expected) + (begin < expected ? " (overlaps the previous tensor)" : " (hole)"));
    }
    expected = end;
  }
  if (expected != body.size()) {
    f.Fail("data section has " + std::to_string(body.size() - expected) + " trailing bytes after the last tensor");
  }
  return f;
}

const std::string& GoldenFile::Metadata(std::string_view key) const {
  auto it = metadata_.find(std::string(key));
  if (it == metadata_.end()) Fail("no metadata '" + std::string(key) + "'");
  return it->second;
}

std::vector<std::string> GoldenFile::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, e] : tensors_) names.push_back(name);
  return names;
}

const TensorInfo& GoldenFile::Info(std::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) Fail("no tensor '" + std::string(name) + "'");
  return it->second.info;
}

const GoldenFile::Entry& GoldenFile::Find(std::string_view name, ElementType type) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) Fail("no tensor '" + std::string(name) + "'");
  if (it->second.info.type != type) {
    Fail("tensor '" + std::string(name) + "' is " + std::string(ElementTypeName(it->second.info.type)) +
         ", read as " + std::string(ElementTypeName(type)));
  }
  return it->second;
}

int64_t GoldenFile::CheckRow(std::string_view name, const TensorInfo& info, int64_t row) const {
  if (info.shape.size() != 2) {
    Fail("tensor '" + std::string(name) + "' has " + std::to_string(info.shape.size()) + " dimensions, rows need 2");
  }
  if (row < 0 || row >= info.shape[0]) {
    Fail("tensor '" + std::string(name) + "': row " + std::to_string(row) + " out of range [0, " +
         std::to_string(info.shape[0]) + ")");
  }
  return info.shape[1];
}

void GoldenFile::CheckIndex(std::string_view name, const TensorInfo& info, int64_t index) const {
  if (info.shape.size() != 1) {
    Fail("tensor '" + std::string(name) + "' has " + std::to_string(info.shape.size()) +
         " dimensions, indexing needs 1");
  }
  if (index < 0 || index >= info.shape[0]) {
    Fail("tensor '" + std::string(name) + "': index " + std::to_string(index) + " out of range [0, " +
         std::to_string(info.shape[0]) + ")");
  }
}

}  // namespace adamant::golden
