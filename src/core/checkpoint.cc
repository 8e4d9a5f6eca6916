// Checkpoints in the safetensors layout (docs/checkpoint-format.md): a writer that saves atomically, and a
// loader that trusts nothing in the file. Loading is parse (the layout, on its own) then restore (the
// contents against the optimizer), each checking everything before the optimizer is touched.
#include "adamant/checkpoint.h"

#include "adamant/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/checkpoint_internal.h"
#include "core/crc32.h"

namespace adamant {

static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian; so must the host be");

namespace checkpoint_internal {
namespace {

using Json = nlohmann::json;

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

[[noreturn]] void Fail(const std::string& what) { throw CheckpointError(what); }

// `text` for a message: at most 80 characters, anything but printable ASCII as \xNN.
std::string Quote(std::string_view text) {
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (text.size() > 80) out += "...";
  return out + "'";
}

std::string_view TypeName(ElementType type) {
  switch (type) {
    case ElementType::kF64: return "F64";
    case ElementType::kF32: return "F32";
    case ElementType::kI64: return "I64";
  }
  return "?";
}

uint64_t TypeSize(ElementType type) { return type == ElementType::kF32 ? 4 : 8; }

ElementType TypeOf(DType state_dtype) {
  return state_dtype == DType::kFloat64 ? ElementType::kF64 : ElementType::kF32;
}

// What each algorithm keeps per parameter (state.h); master_param is allowed for bf16/fp16 parameters of
// every algorithm.
struct AlgorithmInfo {
  std::string_view name;
  std::vector<std::string_view> buffers;
  bool counts_steps = true;  // all but SGD
  bool mu_product = false;   // NAdam
};

const AlgorithmInfo* FindAlgorithm(std::string_view name) {
  static const std::vector<AlgorithmInfo> kAlgorithms = {
      {"adam", {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}},
      {"adamw", {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}},
      {"adamax", {"exp_avg", "exp_inf"}},
      {"nadam", {"exp_avg", "exp_avg_sq"}, true, true},
      {"radam", {"exp_avg", "exp_avg_sq"}},
      {"adagrad", {"sum"}},
      {"rmsprop", {"square_avg", "momentum_buffer", "grad_avg"}},
      {"adadelta", {"square_avg", "acc_delta"}},
      {"sgd", {"momentum_buffer"}, false},
  };
  for (const AlgorithmInfo& a : kAlgorithms) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

bool IsHalf(DType d) { return d == DType::kBFloat16 || d == DType::kFloat16; }
bool IsSupported(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kBFloat16 || d == DType::kFloat16;
}

// Why buffer `name` cannot be state of a parameter of `dtype` under `algorithm`, or empty if it can.
std::string BufferProblem(const AlgorithmInfo& algorithm, std::string_view name, DType dtype) {
  if (name == "master_param") {
    return IsHalf(dtype) ? "" : "master_param is state of bfloat16 and float16 parameters only, not " +
                                    std::string(DTypeName(dtype));
  }
  if (std::find(algorithm.buffers.begin(), algorithm.buffers.end(), name) != algorithm.buffers.end()) return "";
  std::string known;
  for (std::string_view b : algorithm.buffers) known += std::string(b) + ", ";
  return Quote(name) + " is not state of " + std::string(algorithm.name) + " (its state: " + known +
         "master_param" + (algorithm.counts_steps ? ", step" : "") + (algorithm.mu_product ? ", mu_product" : "") +
         ")";
}

std::string Decimal(uint64_t v) { return std::to_string(v); }

// A decimal as written by Decimal(): digits only, no sign, no leading zero, at most `limit`.
bool ParseDecimal(std::string_view s, uint64_t limit, uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && out <= limit;
}

std::string ChecksumText(uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", crc);
  return std::string(kChecksumPrefix) + buf;
}

// --------------------------------------------------------------------------------------------------------
// Writing

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

Plan BuildPlan(const Optimizer& opt) {
  const AlgorithmInfo* algorithm = FindAlgorithm(opt.name());
  if (algorithm == nullptr) Fail("cannot save an optimizer named " + Quote(opt.name()) + ": not one of adamant's");
  Plan plan;
  Json meta = Json::object();
  meta["format"] = kFormat;
  meta["format_version"] = Decimal(kFormatVersion);
  meta["algorithm"] = algorithm->name;
  meta["param_groups"] = Decimal(opt.num_param_groups());
  meta["steps_taken"] = Decimal(opt.steps_taken());
  const Precision& precision = opt.precision();
  meta["precision.master_weights"] = precision.master_weights ? "true" : "false";
  meta["precision.rounding"] = precision.rounding == Rounding::kStochastic ? "stochastic" : "nearest_even";
  meta["precision.seed"] = Decimal(precision.seed);
  const std::vector<std::string> option_names = opt.option_names();
  const auto scalar = [&](const std::string& name, ElementType type, uint64_t bits) {
    plan.scalars.push_back(bits);
    plan.pieces.push_back({name, type, {}, &plan.scalars.back(), 8});
  };
  for (size_t g = 0; g < opt.num_param_groups(); ++g) {
    const std::string group = std::to_string(g);
    const std::span<const ParamView> params = opt.params(g);
    meta["group." + group + ".params"] = Decimal(params.size());
    for (const std::string& key : option_names) meta["group." + group + ".option." + key] = opt.GetOption(g, key);
    for (size_t i = 0; i < params.size(); ++i) {
      const ParamView& p = params[i];
      const std::string where = "param group " + group + ", parameter " + std::to_string(i);
      const std::string id = group + "." + std::to_string(i);
      if (!IsSupported(p.dtype)) Fail("cannot save " + where + ": unsupported dtype");
      if (p.numel < 0) Fail("cannot save " + where + ": negative element count " + std::to_string(p.numel));
      meta["param." + id + ".dtype"] = DTypeName(p.dtype);
      meta["param." + id + ".numel"] = Decimal(static_cast<uint64_t>(p.numel));
      const ParamState& s = opt.state(g, i);
      if (!algorithm->counts_steps && s.step != 0) Fail("cannot save " + where + ": sgd keeps no step, but it is " + std::to_string(s.step));
      if (s.step < 0) Fail("cannot save " + where + ": negative step " + std::to_string(s.step));
      if (!algorithm->mu_product && s.mu_product != 1.0) {
        Fail("cannot save " + where + ": only nadam keeps a mu_product");
      }
      if (s.empty() && s.mu_product == 1.0) continue;  // no state yet
      const DType state_dtype = StateDType(p.dtype);
      for (const auto& [name, buffer] : s.buffers) {
        const std::string problem = BufferProblem(*algorithm, name, p.dtype);
        if (!problem.empty()) Fail("cannot save " + where + ": " + problem);
        if (buffer.dtype() != state_dtype || buffer.numel() != p.numel) {
          Fail("cannot save " + where + ": state '" + name + "' has " + std::to_string(buffer.numel()) +
               " elements of " + std::string(DTypeName(buffer.dtype())) + " but the " +
               std::string(DTypeName(p.dtype)) + " parameter needs " + std::to_string(p.numel) + " of " +
               std::string(DTypeName(state_dtype)));
        }
        plan.pieces.push_back({"state." + id + "." + name, TypeOf(state_dtype), {static_cast<uint64_t>(p.numel)},
                               buffer.data(), buffer.nbytes()});
      }
      if (algorithm->counts_steps) scalar("state." + id + ".step", ElementType::kI64, static_cast<uint64_t>(s.step));
      if (algorithm->mu_product) scalar("state." + id + ".mu_product", ElementType::kF64, std::bit_cast<uint64_t>(s.mu_product));
    }
  }
  // 8-byte elements first: every tensor then starts at a multiple of its element size.
  std::stable_sort(plan.pieces.begin(), plan.pieces.end(),
                   [](const Piece& a, const Piece& b) { return TypeSize(a.type) > TypeSize(b.type); });
  Json header = Json::object();
  uint64_t offset = 0;
  for (const Piece& piece : plan.pieces) {
    Json entry = Json::object();
    entry["dtype"] = TypeName(piece.type);
    entry["shape"] = piece.shape;
    entry["data_offsets"] = Json::array({offset, offset + piece.nbytes});
    header[piece.name] = std::move(entry);
    offset += piece.nbytes;
  }
  header["__metadata__"] = meta;
  uint32_t crc = core::Crc32(header.dump());
  for (const Piece& piece : plan.pieces) {
    crc = core::Crc32(std::string_view(static_cast<const char*>(piece.data), piece.nbytes), crc);
  }
  header["__metadata__"]["checksum"] = ChecksumText(crc);
  plan.header = header.dump();
  plan.header.append((kAlignment - (8 + plan.header.size()) % kAlignment) % kAlignment, ' ');
  return plan;
}

// Calls write(bytes) for each part of the file in order.
template <class Write>
void Emit(const Plan& plan, Write write) {
  const uint64_t header_len = plan.header.size();
  write(std::string_view(reinterpret_cast<const char*>(&header_len), 8));
  write(std::string_view(plan.header));
  for (const Piece& piece : plan.pieces) write(std::string_view(static_cast<const char*>(piece.data), piece.nbytes));
}

std::function<void(size_t)>& WriteHook() {
  static std::function<void(size_t)> hook;
  return hook;
}

// --------------------------------------------------------------------------------------------------------
// Parsing

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
  } else if (type_name == "I64") {
    e.type = ElementType::kI64;
  } else {
    Fail(where + "dtype " + Quote(type_name) + " is not one a checkpoint holds (F64, F32, I64)");
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

namespace {

// Reads the metadata of a parsed file, remembering which keys were read so that any other key is refused.
class Metadata {
 public:
  explicit Metadata(const std::map<std::string, std::string, std::less<>>& values) : values_(values) {}

  const std::string& Get(const std::string& key) {
    const auto it = values_.find(key);
    if (it == values_.end()) Fail("no __metadata__ " + Quote(key));
    read_.insert(key);
    return it->second;
  }
  uint64_t Count(const std::string& key, uint64_t limit = std::numeric_limits<int64_t>::max()) {
    const std::string& text = Get(key);
    uint64_t v = 0;
    if (!ParseDecimal(text, limit, v)) Fail("__metadata__ " + Quote(key) + " is " + Quote(text) + ", not a count");
    return v;
  }
  bool Bool(const std::string& key) {
    const std::string& text = Get(key);
    if (text != "true" && text != "false") Fail("__metadata__ " + Quote(key) + " is " + Quote(text) + ", not true or false");
    return text == "true";
  }
  void CheckAllRead() const {
    for (const auto& [key, value] : values_) {
      if (read_.find(key) == read_.end()) Fail("unknown __metadata__ key " + Quote(key));
    }
  }

 private:
  const std::map<std::string, std::string, std::less<>>& values_;
  std::set<std::string, std::less<>> read_;
};

// "state.<group>.<index>.<name>", the numbers as Decimal() writes them.
bool SplitStateName(std::string_view name, uint64_t& group, uint64_t& index, std::string_view& rest) {
  constexpr std::string_view kPrefix = "state.";
  if (!name.starts_with(kPrefix)) return false;
  name.remove_prefix(kPrefix.size());
  const size_t dot1 = name.find('.');
  if (dot1 == std::string_view::npos) return false;
  const size_t dot2 = name.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return false;
  rest = name.substr(dot2 + 1);
  return !rest.empty() && ParseDecimal(name.substr(0, dot1), std::numeric_limits<uint64_t>::max(), group) &&
         ParseDecimal(name.substr(dot1 + 1, dot2 - dot1 - 1), std::numeric_limits<uint64_t>::max(), index);
}

template <typename T>
T ReadScalar(const TensorEntry& e) {
  T v;
  std::memcpy(&v, e.data.data(), sizeof(T));
  return v;
}

}  // namespace

void Restore(Optimizer& opt, const ParsedFile& file) {
  const AlgorithmInfo* algorithm = FindAlgorithm(opt.name());
  if (algorithm == nullptr) Fail("cannot restore an optimizer named " + Quote(opt.name()) + ": not one of adamant's");
  Metadata meta(file.metadata);
  meta.Get("format");
  meta.Get("format_version");
  const std::string& saved_algorithm = meta.Get("algorithm");
  if (saved_algorithm != algorithm->name) {
    Fail("the checkpoint is of a " + Quote(saved_algorithm) + " optimizer, not '" + std::string(algorithm->name) + "'");
  }
  const size_t num_groups = opt.num_param_groups();
  const uint64_t saved_groups = meta.Count("param_groups");
  if (saved_groups != num_groups) {
    Fail("the checkpoint has " + std::to_string(saved_groups) + " param groups, the optimizer " +
         std::to_string(num_groups));
  }
  const uint64_t steps_taken = meta.Count("steps_taken", std::numeric_limits<uint64_t>::max());
  Precision precision;
  precision.master_weights = meta.Bool("precision.master_weights");
  const std::string& rounding = meta.Get("precision.rounding");
  if (rounding == "stochastic") {
    precision.rounding = Rounding::kStochastic;
  } else if (rounding != "nearest_even") {
    Fail("__metadata__ 'precision.rounding' is " + Quote(rounding) + ", not nearest_even or stochastic");
  }
  precision.seed = meta.Count("precision.seed", std::numeric_limits<uint64_t>::max());

  // Options and parameters, group by group.
  const std::vector<std::string> option_names = opt.option_names();
  std::vector<OptionList> options(num_groups);
  std::vector<std::vector<ParamState>> states(num_groups);
  for (size_t g = 0; g < num_groups; ++g) {
    const std::string group = std::to_string(g);
    const std::span<const ParamView> params = opt.params(g);
    const uint64_t saved_params = meta.Count("group." + group + ".params");
    if (saved_params != params.size()) {
      Fail("param group " + group + " has " + std::to_string(saved_params) + " parameters in the checkpoint, " +
           std::to_string(params.size()) + " in the optimizer");
    }
    for (const std::string& key : option_names) options[g].emplace_back(key, meta.Get("group." + group + ".option." + key));
    try {
      opt.CheckOptions(g, options[g]);
    } catch (const std::invalid_argument& e) {
      Fail("param group " + group + ": " + e.what());
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string id = group + "." + std::to_string(i);
      const std::string& dtype = meta.Get("param." + id + ".dtype");
      const uint64_t numel = meta.Count("param." + id + ".numel");
      const ParamView& p = params[i];
      if (dtype != DTypeName(p.dtype) || p.numel < 0 || numel != static_cast<uint64_t>(p.numel)) {
        Fail("parameter " + std::to_string(i) + " of param group " + group + " is " + Quote(dtype) + " with " +
             std::to_string(numel) + " elements in the checkpoint, but " + std::string(DTypeName(p.dtype)) + " with " +
             std::to_string(p.numel) + " in the optimizer");
      }
    }
    states[g].resize(params.size());
  }
  meta.CheckAllRead();

  // State tensors, into new states.
  std::vector<std::vector<uint8_t>> has_step(num_groups), has_mu(num_groups), has_any(num_groups);
  for (size_t g = 0; g < num_groups; ++g) {
    has_step[g].assign(states[g].size(), 0);
    has_mu[g].assign(states[g].size(), 0);
    has_any[g].assign(states[g].size(), 0);
  }
  for (const auto& tensor : file.tensors) {
    const std::string& name = tensor.first;
    const TensorEntry& entry = tensor.second;
    const std::string where = "tensor " + Quote(name) + ": ";
    uint64_t g = 0, i = 0;
    std::string_view key;
    if (!SplitStateName(name, g, i, key)) Fail(where + "not of the form state.<group>.<index>.<name>");
    if (g >= num_groups) Fail(where + "param group " + std::to_string(g) + " does not exist (there are " + std::to_string(num_groups) + ")");
    if (i >= states[g].size()) {
      Fail(where + "param group " + std::to_string(g) + " has no parameter " + std::to_string(i) + " (it has " +
           std::to_string(states[g].size()) + ")");
    }
    const ParamView& p = opt.params(g)[i];
    ParamState& s = states[g][i];
    has_any[g][i] = 1;
    const auto expect = [&](ElementType type, const std::vector<uint64_t>& shape) {
      if (entry.type != type || entry.shape != shape) {
        std::string want = "[";
        for (size_t d = 0; d < shape.size(); ++d) want += (d ? "," : "") + std::to_string(shape[d]);
        std::string got = "[";
        for (size_t d = 0; d < entry.shape.size(); ++d) got += (d ? "," : "") + std::to_string(entry.shape[d]);
        Fail(where + "is " + std::string(TypeName(entry.type)) + " of shape " + got + "], expected " +
             std::string(TypeName(type)) + " of shape " + want + "]");
      }
    };
    if (key == "step") {
      if (!algorithm->counts_steps) Fail(where + std::string(algorithm->name) + " keeps no step");
      expect(ElementType::kI64, {});
      s.step = ReadScalar<int64_t>(entry);
      if (s.step < 0) Fail(where + "negative step " + std::to_string(s.step));
      has_step[g][i] = 1;
    } else if (key == "mu_product") {
      if (!algorithm->mu_product) Fail(where + std::string(algorithm->name) + " keeps no mu_product");
      expect(ElementType::kF64, {});
      s.mu_product = ReadScalar<double>(entry);
      // A product of momentum coefficients, each in [0, 1).
      if (!(s.mu_product >= 0.0 && s.mu_product <= 1.0)) {
        Fail(where + "mu_product " + FormatNumber(s.mu_product) + " is not in [0, 1]");
      }
      has_mu[g][i] = 1;
    } else {
      const std::string problem = BufferProblem(*algorithm, key, p.dtype);
      if (!problem.empty()) Fail(where + problem);
      const DType state_dtype = StateDType(p.dtype);
      expect(TypeOf(state_dtype), {static_cast<uint64_t>(p.numel)});
      Buffer buffer(state_dtype, p.numel);
      if (buffer.nbytes() != 0) std::memcpy(buffer.data(), entry.data.data(), buffer.nbytes());
      s.buffers.emplace(std::string(key), std::move(buffer));
    }
  }
  for (size_t g = 0; g < num_groups; ++g) {
    for (size_t i = 0; i < states[g].size(); ++i) {
      const std::string id = std::to_string(g) + "." + std::to_string(i);
      if (has_any[g][i] && algorithm->counts_steps && !has_step[g][i]) Fail("tensor 'state." + id + ".step' is missing");
      if (has_any[g][i] && algorithm->mu_product && !has_mu[g][i]) Fail("tensor 'state." + id + ".mu_product' is missing");
    }
  }

  // Everything is checked. Options first: SetOptions cannot fail on values CheckOptions accepted, but if
  // it did, the groups already set get their old values back.
  std::vector<OptionList> old_options(num_groups);
  for (size_t g = 0; g < num_groups; ++g) {
    for (const std::string& key : option_names) old_options[g].emplace_back(key, opt.GetOption(g, key));
  }
  size_t set = 0;
  try {
    for (; set < num_groups; ++set) opt.SetOptions(set, options[set]);
  } catch (...) {
    for (size_t g = 0; g < set; ++g) opt.SetOptions(g, old_options[g]);
    throw;
  }
  // The rest cannot throw.
  opt.set_precision(precision);
  opt.set_steps_taken(steps_taken);
  for (size_t g = 0; g < num_groups; ++g) {
    for (size_t i = 0; i < states[g].size(); ++i) std::swap(opt.state(g, i), states[g][i]);
  }
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
