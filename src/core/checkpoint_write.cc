// The checkpoint writer: an optimizer's state as the plan of a file, whose tensors stay in its buffers.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "adamant/state_layout.h"
#include "core/checkpoint_internal.h"
#include "core/checkpoint_schema.h"
#include "core/crc32.h"

namespace adamant::checkpoint_internal {

static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian; so must the host be");

using Json = nlohmann::json;

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
    const ElementRange range = opt.range(g);
    if (!range.whole()) {
      meta["group." + group + ".range.begin"] = Decimal(static_cast<uint64_t>(range.begin));
      meta["group." + group + ".range.end"] = Decimal(static_cast<uint64_t>(range.end));
    }
    const std::vector<std::optional<ElementRange>> owned = opt.OwnedElements(g);
    for (size_t i = 0; i < params.size(); ++i) {
      const ParamView& p = params[i];
      const std::string where = "param group " + group + ", parameter " + std::to_string(i);
      const std::string id = group + "." + std::to_string(i);
      if (!IsSupported(p.dtype)) Fail("cannot save " + where + ": unsupported dtype");
      if (p.numel < 0) Fail("cannot save " + where + ": negative element count " + std::to_string(p.numel));
      meta["param." + id + ".dtype"] = DTypeName(p.dtype);
      meta["param." + id + ".numel"] = Decimal(static_cast<uint64_t>(p.numel));
      const ParamState& s = opt.state(g, i);
      if (!algorithm->counts_steps && s.step != 0) Fail("cannot save " + where + ": " + std::string(algorithm->name) + " keeps no step, but it is " + std::to_string(s.step));
      if (s.step < 0) Fail("cannot save " + where + ": negative step " + std::to_string(s.step));
      if (algorithm->scalar_state.empty() && s.mu_product != 1.0) {
        Fail("cannot save " + where + ": only nadam keeps a mu_product");
      }
      if (s.empty() && s.mu_product == 1.0) continue;  // no state yet
      if (!owned[i]) Fail("cannot save " + where + ": it has state but lies outside the group's range");
      const int64_t state_numel = owned[i]->end - owned[i]->begin;  // the state of the part inside the range
      for (const auto& [name, buffer] : s.buffers) {
        const std::string problem = BufferProblem(*algorithm, name, p.dtype);
        if (!problem.empty()) Fail("cannot save " + where + ": " + problem);
        const std::optional<BufferLayout> expected =
            ExpectedBuffer(name, opt.state_dtype(g), opt.min_quant_size(g), p.dtype, p.numel, state_numel);
        if (!expected) Fail("cannot save " + where + ": state '" + name + "' holds block maxima of state that is not int8");
        if (buffer.dtype() != expected->dtype || buffer.numel() != expected->numel) {
          Fail("cannot save " + where + ": state '" + name + "' has " + std::to_string(buffer.numel()) +
               " elements of " + std::string(DTypeName(buffer.dtype())) + " but the " +
               std::string(DTypeName(p.dtype)) + " parameter needs " + std::to_string(expected->numel) + " of " +
               std::string(DTypeName(expected->dtype)));
        }
        // int8 codes and their block maxima come in pairs: half of one could not be loaded.
        if (const std::string problem = UnpairedInt8(s, name); !problem.empty()) {
          Fail("cannot save " + where + ": " + problem);
        }
        plan.pieces.push_back({"state." + id + "." + name, TypeOf(expected->dtype),
                               {static_cast<uint64_t>(expected->numel)}, buffer.data(), buffer.nbytes()});
      }
      if (algorithm->counts_steps) scalar("state." + id + ".step", ElementType::kI64, static_cast<uint64_t>(s.step));
      if (!algorithm->scalar_state.empty()) scalar("state." + id + ".mu_product", ElementType::kF64, std::bit_cast<uint64_t>(s.mu_product));
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

void Emit(const Plan& plan, const std::function<void(std::string_view)>& write) {
  const uint64_t header_len = plan.header.size();
  write(std::string_view(reinterpret_cast<const char*>(&header_len), 8));
  write(std::string_view(plan.header));
  for (const Piece& piece : plan.pieces) write(std::string_view(static_cast<const char*>(piece.data), piece.nbytes));
}

}  // namespace adamant::checkpoint_internal
