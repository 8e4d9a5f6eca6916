// The checkpoint loader's second half: a parsed file's contents against the optimizer, all or nothing.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>


#include "adamant/state_layout.h"
#include "core/checkpoint_internal.h"
#include "core/checkpoint_schema.h"
#include "kernels/storage.h"

namespace adamant::checkpoint_internal {

static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian; so must the host be");

namespace {

// "[begin, end)", the end of a range to the end of its group as "the end".
std::string RangeText(const ElementRange& r) {
  return "[" + std::to_string(r.begin) + ", " + (r.end == ElementRange::kToTheEnd ? "the end" : std::to_string(r.end)) + ")";
}

double ElementOf(const Buffer& b, int64_t i) {
  if (b.dtype() == DType::kBFloat16) return kernels::BFloat16ToFloat(static_cast<const uint16_t*>(b.data())[i]);
  return b.dtype() == DType::kFloat64 ? b.as<double>()[static_cast<size_t>(i)]
                                      : static_cast<double>(b.as<float>()[static_cast<size_t>(i)]);
}

// The first element below zero of a buffer the algorithm's spec says is never negative (NaN is not below
// zero: a run under the propagate policy may hold one), or nullopt.
std::optional<int64_t> FirstNegative(const AlgorithmInfo& algorithm, std::string_view name, const Buffer& b) {
  const auto spec = std::find_if(algorithm.buffers.begin(), algorithm.buffers.end(),
                                 [&](const StateSpec& s) { return s.name == name; });
  if (spec == algorithm.buffers.end() || spec->values != StateValues::kNonNegative) return std::nullopt;
  if (b.dtype() == DType::kUInt8) return std::nullopt;  // int8 codes of the unsigned map: never negative
  const auto first = [](auto values) -> std::optional<int64_t> {
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i] < 0) return static_cast<int64_t>(i);
    }
    return std::nullopt;
  };
  if (b.dtype() == DType::kBFloat16) {
    const auto* bits = static_cast<const uint16_t*>(b.data());
    for (int64_t i = 0; i < b.numel(); ++i) {
      if (kernels::BFloat16ToFloat(bits[i]) < 0) return i;
    }
    return std::nullopt;
  }
  return b.dtype() == DType::kFloat64 ? first(b.as<double>()) : first(b.as<float>());
}

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
  bool Has(const std::string& key) const { return values_.find(key) != values_.end(); }
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
  std::vector<StateDTypes> storages(num_groups);  // each group's state_dtype in the checkpoint
  std::vector<int64_t> min_quant_sizes(num_groups);  // and min_quant_size
  std::vector<std::vector<ParamState>> states(num_groups);
  for (size_t g = 0; g < num_groups; ++g) {
    const std::string group = std::to_string(g);
    const std::span<const ParamView> params = opt.params(g);
    const uint64_t saved_params = meta.Count("group." + group + ".params");
    if (saved_params != params.size()) {
      Fail("param group " + group + " has " + std::to_string(saved_params) + " parameters in the checkpoint, " +
           std::to_string(params.size()) + " in the optimizer");
    }
    for (const std::string& key : option_names) {
      const std::string meta_key = "group." + group + ".option." + key;
      // Checkpoints from before state_dtype existed hold float32 state.
      if (key == "state_dtype" && !meta.Has(meta_key)) {
        options[g].emplace_back(key, "float32");
        continue;
      }
      // Nor had they min_quant_size, which matters to int8 state only.
      if (key == "min_quant_size" && !meta.Has(meta_key)) {
        options[g].emplace_back(key, OptionToString(AdamOptions{}.min_quant_size));
        continue;
      }
      options[g].emplace_back(key, meta.Get(meta_key));
    }
    try {
      opt.CheckOptions(g, options[g]);
      for (const auto& [key, value] : options[g]) {
        if (key == "state_dtype") OptionFromString(key, value, storages[g]);
        if (key == "min_quant_size") OptionFromString(key, value, min_quant_sizes[g]);
      }
    } catch (const std::invalid_argument& e) {
      Fail("param group " + group + ": " + e.what());
    }
    // Written only for a group restricted to a range (Optimizer::set_range).
    ElementRange range;
    if (meta.Has("group." + group + ".range.begin") || meta.Has("group." + group + ".range.end")) {
      range.begin = static_cast<int64_t>(meta.Count("group." + group + ".range.begin"));
      range.end = static_cast<int64_t>(meta.Count("group." + group + ".range.end"));
    }
    if (range != opt.range(g)) {
      Fail("param group " + group + " holds the state of elements " + RangeText(range) +
           " of the group in the checkpoint, but the optimizer's range is " + RangeText(opt.range(g)));
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

  // State tensors, into new states: of each parameter's elements inside its group's range.
  std::vector<std::vector<std::optional<ElementRange>>> owned(num_groups);
  for (size_t g = 0; g < num_groups; ++g) owned[g] = opt.OwnedElements(g);
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
    const std::optional<ElementRange> inside = owned[g][i];
    if (!inside) Fail(where + "parameter " + std::to_string(i) + " of param group " + std::to_string(g) + " is outside the group's range");
    const int64_t state_numel = inside->end - inside->begin;
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
      if (algorithm->scalar_state.empty()) Fail(where + std::string(algorithm->name) + " keeps no mu_product");
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
      const std::optional<BufferLayout> layout =
          ExpectedBuffer(key, storages[g], min_quant_sizes[g], p.dtype, p.numel, state_numel);
      if (!layout) {
        Fail(where + "block maxima of '" + std::string(AbsmaxOf(key)) +
             "', which the group's state_dtype and min_quant_size do not keep as int8 for this parameter");
      }
      expect(TypeOf(layout->dtype), {static_cast<uint64_t>(layout->numel)});
      Buffer buffer(layout->dtype, layout->numel);
      if (buffer.nbytes() != 0) std::memcpy(buffer.data(), entry.data.data(), buffer.nbytes());
      // A block maximum is a largest |x|: never below zero (NaN where the block held one).
      if (!AbsmaxOf(key).empty()) {
        const std::span<const float> maxima = buffer.as<float>();
        for (size_t b = 0; b < maxima.size(); ++b) {
          if (maxima[b] < 0) {
            Fail(where + "element " + std::to_string(b) + " is " + FormatNumber(maxima[b]) +
                 ", but a block maximum is never negative");
          }
        }
      }
      // A second moment below zero has no square root: the step would make NaNs of it, silently.
      if (const std::optional<int64_t> bad = FirstNegative(*algorithm, key, buffer)) {
        Fail(where + "element " + std::to_string(*bad) + " is " + FormatNumber(ElementOf(buffer, *bad)) + ", but " +
             std::string(key) + " is never negative");
      }
      s.buffers.emplace(std::string(key), std::move(buffer));
    }
  }
  for (size_t g = 0; g < num_groups; ++g) {
    for (size_t i = 0; i < states[g].size(); ++i) {
      const std::string id = std::to_string(g) + "." + std::to_string(i);
      if (has_any[g][i] && algorithm->counts_steps && !has_step[g][i]) Fail("tensor 'state." + id + ".step' is missing");
      if (has_any[g][i] && !algorithm->scalar_state.empty() && !has_mu[g][i]) Fail("tensor 'state." + id + ".mu_product' is missing");
      // int8 codes and their block maxima come in pairs.
      for (const auto& entry : states[g][i].buffers) {
        const std::string_view of = AbsmaxOf(entry.first);
        if (entry.second.dtype() == DType::kUInt8 && !states[g][i].has(AbsmaxName(entry.first))) {
          Fail("tensor 'state." + id + "." + AbsmaxName(entry.first) + "' is missing (the block maxima of int8 state '" +
               entry.first + "')");
        }
        if (!of.empty() && !states[g][i].has(of)) {
          Fail("tensor 'state." + id + "." + std::string(of) + "' is missing (the int8 state whose block maxima '" +
               entry.first + "' holds)");
        }
      }
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

}  // namespace adamant::checkpoint_internal
