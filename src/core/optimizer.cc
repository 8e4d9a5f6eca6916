// The stateful optimizers: lazily created state under PyTorch's names, step counting, and one call into
// the functional layer per group.
#include "adamant/optimizer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include "adamant/algorithm_info.h"
#include "adamant/functional.h"
#include "adamant/option_text.h"
#include "adamant/state_layout.h"
#include "algorithms/all.h"
#include "core/layout.h"
#include "core/parallel.h"
#include "core/scratch.h"
#include "core/step_plan.h"
#include "kernels/storage.h"

namespace adamant {
namespace {

// A new state buffer of `numel` elements of `dtype` holding `init` everywhere; for int8 (kUInt8) its codes,
// with the block maxima in `absmax`.
Buffer NewState(DType dtype, int64_t numel, double init, bool is_signed, Buffer* absmax) {
  Buffer b(dtype, numel);
  if (dtype == DType::kUInt8) {
    *absmax = Buffer(DType::kFloat32, AbsmaxNumel(numel));
    if (init != 0.0 && numel > 0) {
      std::vector<float> values(static_cast<size_t>(numel), static_cast<float>(init));
      QuantizeBlockwise(values.data(), numel, is_signed, static_cast<uint8_t*>(b.data()), absmax->as<float>().data());
    } else if (numel > 0) {
      // Zero maxima: every code is the zero code, whatever it is.
      std::memset(b.data(), 0, static_cast<size_t>(numel));
    }
  } else if (init != 0.0) {
    b.Fill(init);
  }
  return b;
}

// The state buffer `name` for parameter `p`, created zero-filled (or filled with `init`) on first use, as
// `storage` asks for p's dtype; an int8 one with its block maxima, whose Buffer `absmax` points to (null
// otherwise). A parameter whose size or dtype changed since its state was created (or a buffer of another
// dtype than the options ask for) is an error, not a silent reset.
Buffer& StateBuffer(ParamState& state, const char* name, const ParamView& p, double init = 0.0,
                    StateStorage storage = StateStorage::kFull, bool is_signed = true, Buffer** absmax = nullptr) {
  const DType dtype = StateDType(p.dtype, storage);
  const std::string absmax_name = dtype == DType::kUInt8 ? AbsmaxName(name) : std::string();
  auto it = state.buffers.find(name);
  if (it == state.buffers.end()) {
    Buffer maxima;
    Buffer b = NewState(dtype, p.numel, init, is_signed, &maxima);
    if (dtype == DType::kUInt8) state.buffers.emplace(absmax_name, std::move(maxima));
    it = state.buffers.emplace(name, std::move(b)).first;
  } else if (it->second.numel() != p.numel || it->second.dtype() != dtype) {
    throw std::invalid_argument(std::string("state '") + name + "' has " + std::to_string(it->second.numel()) +
                                " elements of " + std::string(DTypeName(it->second.dtype())) + " but its " +
                                std::string(DTypeName(p.dtype)) + " parameter needs " + std::to_string(p.numel) +
                                " of " + std::string(DTypeName(dtype)));
  }
  if (dtype == DType::kUInt8) {
    // CheckParams made sure that existing int8 state has its maxima, of the right size.
    Buffer& maxima = state.buffers.at(absmax_name);
    if (maxima.numel() != AbsmaxNumel(p.numel) || maxima.dtype() != DType::kFloat32) {
      throw std::invalid_argument("state '" + absmax_name + "' does not fit its buffer '" + name + "'");
    }
    if (absmax != nullptr) *absmax = &maxima;
  }
  return it->second;
}

bool UsesMaster(const ParamView& p, const Precision& precision) {
  return (p.dtype == DType::kBFloat16 || p.dtype == DType::kFloat16) && precision.master_weights;
}

// Widens a bf16/fp16 parameter into `out` (p.numel floats, in row-major order of its layout).
void Widen(const ParamView& p, float* out) {
  const auto* bits = static_cast<const uint16_t*>(p.data);
  const auto widen = [&](int64_t from, int64_t to, int64_t length) {
    for (int64_t i = 0; i < length; ++i) {
      out[to + i] = p.dtype == DType::kBFloat16 ? kernels::BFloat16ToFloat(bits[from + i])
                                                : kernels::Float16ToFloat(bits[from + i]);
    }
  };
  if (core::IsStrided(p) && p.numel > 0) {
    core::ForEachRun(*p.layout, widen);
  } else {
    widen(0, 0, p.numel);
  }
}

// The float32 master copy of a bf16/fp16 parameter (UsesMaster), made from the parameter on first use.
Buffer& MasterWeights(ParamState& state, const ParamView& p) {
  if (!state.has("master_param") && p.numel > 0 && p.data != nullptr) {
    Buffer b(DType::kFloat32, p.numel);
    Widen(p, b.as<float>().data());
    state.buffers.emplace("master_param", std::move(b));
  }
  return StateBuffer(state, "master_param", p);
}

// One state buffer an algorithm's options ask for; a null name keeps the position of one they do not.
struct BufferSpec {
  const char* name;
  double init = 0.0;
  StateStorage storage = StateStorage::kFull;  // as the group's options ask (ResolveStorage decides per parameter)
  bool is_signed = true;                       // its values may be negative (int8: the signed map)
};

using StateRefs = Optimizer::StateRefs;
constexpr int kMasterSlot = StateRefs::kMasterSlot;
constexpr int kAbsmaxSlot = StateRefs::kAbsmaxSlot;

void Note(StateRefs& refs, int slot, const Buffer& b) {
  refs.buffers[slot] = &b;
  refs.data[slot] = const_cast<Buffer&>(b).data();
  refs.dtypes[slot] = b.dtype();
  refs.numels[slot] = b.numel();
}

// Finds (creating on first use) the buffers `specs` name and the master copy, and notes where they are.
// `whole_numel`: the parameter's element count, not its part in a range, so that every process of a sharded
// group stores its buffers alike (ResolveStorage).
StateRefs NoteState(ParamState& state, const ParamView& p, int64_t whole_numel, int64_t min_quant_size,
                    const Precision& precision, std::span<const BufferSpec> specs, uint32_t key) {
  StateRefs refs;
  int k = 0;
  for (const BufferSpec& spec : specs) {
    if (spec.name != nullptr) {
      Buffer* absmax = nullptr;
      Buffer& b = StateBuffer(state, spec.name, p, spec.init, ResolveStorage(spec.storage, p.dtype, whole_numel, min_quant_size),
                              spec.is_signed, &absmax);
      Note(refs, k, b);
      if (absmax != nullptr) Note(refs, kAbsmaxSlot + k, *absmax);
    }
    ++k;
  }
  if (UsesMaster(p, precision)) Note(refs, kMasterSlot, MasterWeights(state, p));
  refs.numel = p.numel;
  refs.dtype = p.dtype;
  refs.key = key;
  refs.stamp = state.buffers.stamp();  // last: finding and creating the buffers renewed both
  refs.buffer_changes = Buffer::changes();
  return refs;
}

// What the options ask for, as StateRefs::key: `bits` from the algorithm, and master weights.
uint32_t Key(const Precision& precision, uint32_t bits = 0) {
  return bits | (precision.master_weights ? 1u << 31 : 0u);
}

// The noted state of parameter i, noted afresh if `stale` (the last note no longer holds: Stale).
const StateRefs& Refs(std::vector<StateRefs>& refs, size_t i, bool stale, uint64_t changes, ParamState& state,
                      const ParamView& p, int64_t whole_numel, int64_t min_quant_size, const Precision& precision,
                      std::span<const BufferSpec> specs, uint32_t key) {
  StateRefs& r = refs[i];
  if (stale) {
    r = StateRefs{};  // forgotten first: NoteState may throw (allocation, a buffer that does not fit)
    r = NoteState(state, p, whole_numel, min_quant_size, precision, specs, key);
  } else {
    r.buffer_changes = changes;  // the buffers were read and found as noted: the next step need not
  }
  return r;
}

// Whether the note `r` of a parameter's state no longer holds for the options' `key`.
bool Stale(const StateRefs& r, const ParamState& state, const ParamView& p, uint32_t key) {
  return r.key != key || !Optimizer::Holds(r, state, p);
}

// Creates the buffers that the stale parameters with[j] lack: for each name the options ask for (and then
// the master copies), those of every such parameter with the same state dtype in one arena
// (Buffer::Contiguous), in parameter order. Why: a step streams each name through memory in parameter
// order, and a group's buffers of one name then lie one after another as one array would; created one
// at a time, a name's buffers alternate page by page with the others', and many small tensors step
// slower (docs/performance.md, "Many small tensors"). Whatever is not made here (an empty master copy)
// is made one at a time by NoteState.
void CreateByName(std::span<const size_t> with, std::span<const char> stale, const Optimizer::GroupParams& group,
                  int64_t min_quant_size, std::vector<ParamState>& states, const Precision& precision,
                  std::span<const BufferSpec> specs) {
  const std::span<const ParamView> params = group.params;
  struct MissingTag;
  struct NumelsTag;
  std::vector<size_t>& missing = core::Scratch<size_t, MissingTag>();
  std::vector<int64_t>& numels = core::Scratch<int64_t, NumelsTag>();
  const auto create = [&](const char* name, DType dtype, auto needs, auto fill) {
    missing.clear();
    numels.clear();
    for (size_t j = 0; j < with.size(); ++j) {
      const size_t i = with[j];
      if (stale[j] && needs(params[i], group.whole[i].numel) && !states[i].has(name)) {
        missing.push_back(i);
        numels.push_back(params[i].numel);
      }
    }
    if (missing.empty()) return;
    std::vector<Buffer> buffers = Buffer::Contiguous(dtype, numels);
    for (size_t k = 0; k < missing.size(); ++k) {
      fill(buffers[k], params[missing[k]]);
      states[missing[k]].buffers.emplace(name, std::move(buffers[k]));
    }
  };
  // int8 buffers (with their maxima) are made one at a time by NoteState: they are for large tensors.
  for (const BufferSpec& spec : specs) {
    if (spec.name == nullptr) continue;
    for (const DType dtype : {DType::kFloat32, DType::kFloat64, DType::kBFloat16}) {
      create(
          spec.name, dtype,
          [&](const ParamView& p, int64_t whole_numel) {
            return StateDType(p.dtype, ResolveStorage(spec.storage, p.dtype, whole_numel, min_quant_size)) == dtype;
          },
          [&](Buffer& b, const ParamView&) {
            if (spec.init != 0.0) b.Fill(spec.init);
          });
    }
  }
  create(
      "master_param", DType::kFloat32,
      [&](const ParamView& p, int64_t) { return UsesMaster(p, precision) && p.numel > 0 && p.data != nullptr; },
      [](Buffer& b, const ParamView& p) { Widen(p, static_cast<float*>(b.data())); });
}

// The positions of the parameters that have a gradient: those a step updates.
const std::vector<size_t>& WithGrads(std::span<const ParamView> params) {
  struct WithGradsTag;
  std::vector<size_t>& with = core::Scratch<size_t, WithGradsTag>();
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].grad != nullptr) with.push_back(i);
  }
  return with;
}

}  // namespace

Optimizer::StepPlan::~StepPlan() = default;

namespace {

bool SameView(const ParamView& a, const ParamView& b) {
  return a.data == b.data && a.grad == b.grad && a.numel == b.numel && a.dtype == b.dtype && a.layout == b.layout;
}

}  // namespace

bool Optimizer::Holds(const StateRefs& refs, const ParamState& state, const ParamView& p) {
  // The stamp first: while it is unchanged no buffer was erased, so the noted Buffer objects exist.
  if (refs.stamp != state.buffers.stamp() || refs.numel != p.numel || refs.dtype != p.dtype) return false;
  if (refs.buffer_changes == Buffer::changes()) return true;  // no Buffer anywhere has changed since
  for (int k = 0; k < StateRefs::kMaxBuffers; ++k) {
    const Buffer* b = refs.buffers[k];
    if (b != nullptr && (b->data() != refs.data[k] || b->numel() != refs.numels[k] || b->dtype() != refs.dtypes[k])) {
      return false;
    }
  }
  return true;
}

void Optimizer::ValidateStateDTypes(std::string_view algorithm, const StateDTypes& dtypes, int64_t min_quant_size) {
  if (min_quant_size < 0) {
    throw std::invalid_argument("Invalid min_quant_size value: " + std::to_string(min_quant_size));
  }
  if (dtypes.by_name.empty()) return;
  const AlgorithmInfo* info = FindAlgorithm(algorithm);
  for (const auto& entry : dtypes.by_name) {
    if (info != nullptr && std::find(info->state.begin(), info->state.end(), entry.first) != info->state.end()) continue;
    std::string names;
    if (info != nullptr) {
      for (std::string_view n : info->state) names += (names.empty() ? "" : ", ") + std::string(n);
    }
    throw std::invalid_argument("invalid value for option 'state_dtype': '" + OptionToString(dtypes) + "' (" +
                                std::string(algorithm) + " keeps no state '" + entry.first + "'; its buffers: " +
                                (names.empty() ? "none" : names) + ")");
  }
}

void Optimizer::ZeroGrad() {
  for (size_t g = 0; g < num_param_groups(); ++g) {
    for (const ParamView& p : params(g)) {
      if (p.grad != nullptr && p.numel > 0) std::memset(p.grad, 0, static_cast<size_t>(p.numel) * SizeOf(p.dtype));
    }
  }
}

bool Optimizer::SkipStep(const StepArgs& args) {
  if (args.found_inf) {
    last_step_skipped_ = true;
    return true;
  }
  if (nonfinite_ == NonFinite::kPropagate) return false;
  // One pass over the gradients of every group before anything changes: skipping or refusing must leave
  // every group as it was, so the check cannot be fused into the per-group updates (docs/design.md).
  struct ViewsTag;
  struct WhereTag;
  std::vector<ParamView>& views = core::Scratch<ParamView, ViewsTag>();
  // Each view's (group, index).
  std::vector<std::pair<size_t, size_t>>& where = core::Scratch<std::pair<size_t, size_t>, WhereTag>();
  for (size_t g = 0; g < num_param_groups(); ++g) {
    const std::span<const ParamView> group = owned_[g].params;  // as the group's range restricts them
    for (size_t i = 0; i < group.size(); ++i) {
      if (group[i].grad == nullptr) continue;
      views.push_back(group[i]);
      where.emplace_back(g, i);
    }
  }
  const std::optional<size_t> bad = functional::FirstNonFinite(views, args.grad_scale);
  if (!bad) return false;
  if (nonfinite_ == NonFinite::kRaise) throw NonFiniteGradientError(name(), where[*bad].first, where[*bad].second);
  last_step_skipped_ = true;
  return true;
}

namespace {

int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

// The part of a parameter of `numel` elements starting at `start` in its group's concatenation that `range`
// holds, as a range within the parameter (set_range's rules).
std::optional<ElementRange> Inside(int64_t start, int64_t numel, ElementRange range) {
  if (numel < 0) return std::nullopt;
  if (numel == 0) return range.begin <= start && start < range.end ? std::optional<ElementRange>(ElementRange{0, 0}) : std::nullopt;
  const int64_t begin = std::max(range.begin, start);
  const int64_t end = std::min(range.end, SaturatingAdd(start, numel));
  if (begin >= end) return std::nullopt;
  return ElementRange{begin - start, end - start};
}

bool IsStepDType(DType dtype) {
  return dtype == DType::kFloat32 || dtype == DType::kFloat64 || dtype == DType::kBFloat16 || dtype == DType::kFloat16;
}

}  // namespace

void Optimizer::set_range(size_t group, ElementRange range) {
  CheckGroup(group);
  if (range.begin < 0 || range.end < range.begin) {
    throw std::invalid_argument("param group " + std::to_string(group) + ": invalid element range [" +
                                std::to_string(range.begin) + ", " + std::to_string(range.end) +
                                "): it must satisfy 0 <= begin <= end");
  }
  if (ranges_.size() <= group) ranges_.resize(group + 1);
  ranges_[group] = range;
}

ElementRange Optimizer::range(size_t group) const {
  CheckGroup(group);
  return group < ranges_.size() ? ranges_[group] : ElementRange{};
}

std::vector<std::optional<ElementRange>> Optimizer::OwnedElements(size_t group) const {
  const ElementRange r = range(group);
  std::vector<std::optional<ElementRange>> out;
  int64_t start = 0;
  for (const ParamView& p : params(group)) {
    out.push_back(Inside(start, p.numel, r));
    start = SaturatingAdd(start, std::max<int64_t>(p.numel, 0));
  }
  return out;
}

size_t Optimizer::state_nbytes() const {
  size_t bytes = 0;
  for (const std::vector<ParamState>& group : states_) {
    for (const ParamState& state : group) {
      for (const auto& entry : state.buffers) bytes += entry.second.nbytes();
    }
  }
  return bytes;
}

const Optimizer::GroupParams& Optimizer::Own(size_t group, std::span<const ParamView> params) {
  GroupParams& o = owned_[group];
  o.views.clear();
  o.offsets.clear();
  o.positions.clear();
  const ElementRange r = range(group);
  o.whole = params;
  if (r.whole()) {
    o.params = params;
    return o;
  }
  const std::vector<std::optional<ElementRange>> owned = OwnedElements(group);
  int64_t position = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamView& p = params[i];
    ParamView v = p;
    int64_t offset = 0;
    // A parameter CheckParams refuses is left as it is, for CheckParams to name.
    if (p.numel >= 0 && IsStepDType(p.dtype)) {
      const std::optional<ElementRange>& inside = owned[i];
      if (!inside) {
        v.grad = nullptr;
      } else {
        const auto at = [&](void* ptr) {
          return ptr == nullptr ? nullptr : static_cast<void*>(static_cast<char*>(ptr) + inside->begin * static_cast<int64_t>(SizeOf(p.dtype)));
        };
        v.data = at(p.data);
        v.grad = at(p.grad);
        v.numel = inside->end - inside->begin;
        offset = inside->begin;
      }
    }
    o.views.push_back(v);
    o.offsets.push_back(offset);
    o.positions.push_back(p.grad != nullptr ? position++ : -1);
  }
  o.params = o.views;
  return o;
}

Precision Optimizer::NextStepPrecision(size_t group) const {
  Precision p = precision_;
  p.seed = StreamSeed(p.seed, steps_taken_, group);
  return p;
}

void Optimizer::CheckParams(size_t group, std::span<const ParamView> params) const {
  const auto fail = [&](size_t i, const std::string& what) {
    throw std::invalid_argument(std::string(name()) + ": param group " + std::to_string(group) + ", parameter " +
                                std::to_string(i) + ": " + what);
  };
  const std::vector<ParamState>& states = states_[group];
  const std::vector<StateRefs>* refs = group < refs_.size() ? &refs_[group] : nullptr;
  // The views the group's last step updated, each checked then against the state it left.
  const auto* plan = group < plans_.size() ? static_cast<const core::PlanBase*>(plans_[group].plan.get()) : nullptr;
  const StateDTypes& storage = state_dtype(group);
  const int64_t min_quant = min_quant_size(group);
  const bool same_dtypes = group < noted_dtypes_.size() && noted_dtypes_[group].first == storage &&
                           noted_dtypes_[group].second == min_quant;
  const std::span<const ParamView> whole = this->params(group);
  const std::vector<int64_t>& offsets = owned_[group].offsets;  // empty for a whole group
  const AlgorithmInfo* info = FindAlgorithm(name());
  // Spread over the threads; the first failing parameter in order is the one reported, as in a loop.
  core::ParallelRuns(params.size(), [&](size_t begin, size_t end, int) {
    for (size_t i = begin; i < end; ++i) {
      const ParamView& p = params[i];
      if (p.grad == nullptr) continue;
      if (p.numel < 0) fail(i, "negative element count " + std::to_string(p.numel));
      if (!IsStepDType(p.dtype)) fail(i, "unsupported dtype (supported: float32, float64, bfloat16, float16)");
      if (p.numel > 0 && p.data == nullptr) fail(i, "param data is null");
      // Past this no buffer of the state could be allocated, and the byte counts below would overflow.
      if (static_cast<uint64_t>(p.numel) > std::numeric_limits<uintptr_t>::max() / 16) {
        fail(i, "element count " + std::to_string(p.numel) + " is too large");
      }
      if (p.layout != nullptr) {
        if (const std::string error = core::LayoutError(p); !error.empty()) fail(i, error);
      }
      // int8 state's blocks are runs of 256 elements of the parameter from its first: a strided parameter's
      // runs would cut them, and so would a range that starts inside one.
      if (info != nullptr && p.dtype != DType::kFloat64) {
        for (std::string_view buffer : info->state) {
          if (StorageFor(storage, min_quant, buffer, p.dtype, whole[i].numel) != StateStorage::kInt8) continue;
          if (core::IsStrided(p)) {
            fail(i, "int8 state is for contiguous parameters (its blocks are runs of 256 elements); this one is strided");
          }
          if (!offsets.empty() && offsets[i] % kStateBlockSize != 0) {
            fail(i, "the group's range starts inside it at element " + std::to_string(offsets[i]) +
                        ", which is not a multiple of 256: int8 state needs the range's ends on its blocks");
          }
          break;
        }
      }
      // The kernels read the gradient and write the parameter in one pass through restrict pointers: a
      // gradient sharing memory with its parameter would be read after it was overwritten. (The memory a
      // strided parameter spans counts whole, gaps included.)
      const auto address = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); };
      const uintptr_t data_bytes = static_cast<uintptr_t>(p.numel > 0 ? core::DataSpan(p) : 0) * SizeOf(p.dtype);
      const uintptr_t bytes = static_cast<uintptr_t>(p.numel) * SizeOf(p.dtype);
      if (p.numel > 0 && data_bytes > std::numeric_limits<uintptr_t>::max() - address(p.data)) {
        fail(i, "param data runs past the end of the address space");
      }
      if (p.numel > 0 && address(p.grad) < address(p.data) + data_bytes && address(p.data) < address(p.grad) + bytes) {
        fail(i, std::string("grad and param data overlap in memory") +
                    (p.grad == p.data ? " (the same pointer)" : "") + ": the gradient must be a buffer of its own");
      }
      if (p.numel > 0 && bytes > std::numeric_limits<uintptr_t>::max() - address(p.grad)) {
        fail(i, "grad runs past the end of the address space");
      }
      // The step counts from state.step + 1, which must fit an int64 (state may be set by hand).
      const int64_t step = states[i].step;  // Step sized `states` to the group
      if (step < 0 || step == std::numeric_limits<int64_t>::max()) {
        fail(i, "state step is " + std::to_string(step) + "; it must be a number of steps taken, in [0, " +
                    std::to_string(std::numeric_limits<int64_t>::max() - 1) + "]");
      }
      // State noted by an earlier step and unchanged since was checked then (and what that step added fits);
      // the gradient, which may move between steps, is checked against it on every step, unless the last
      // step updated this very view with this state.
      const bool noted = same_dtypes && refs != nullptr && i < refs->size() && Holds((*refs)[i], states[i], p);
      if (noted && plan != nullptr && i < plan->views.size() && SameView(plan->views[i], p)) continue;
      if (noted && p.numel > 0) {
        const StateRefs& r = (*refs)[i];
        bool overlaps = false;
        for (int k = 0; k < StateRefs::kMaxBuffers; ++k) {
          const uintptr_t state_bytes = static_cast<uintptr_t>(r.numels[k]) * SizeOf(r.dtypes[k]);
          overlaps = overlaps || (r.data[k] != nullptr && address(p.grad) < address(r.data[k]) + state_bytes &&
                                  address(r.data[k]) < address(p.grad) + bytes);
        }
        if (!overlaps) continue;
      } else if (noted) {
        continue;
      }
      for (const auto& [buffer_name, buffer] : states[i].buffers) {
        const uintptr_t state_bytes = static_cast<uintptr_t>(buffer.numel()) * SizeOf(buffer.dtype());
        if (p.numel > 0 && buffer.numel() > 0 && address(p.grad) < address(buffer.data()) + state_bytes &&
            address(buffer.data()) < address(p.grad) + bytes) {
          fail(i, "grad and state '" + buffer_name + "' overlap in memory: the gradient must be a buffer of its own");
        }
      }
      for (const auto& [buffer_name, buffer] : states[i].buffers) {
        const std::optional<BufferLayout> expected =
            ExpectedBuffer(buffer_name, storage, min_quant, p.dtype, whole[i].numel, p.numel);
        if (!expected) {
          fail(i, "state '" + buffer_name + "' holds block maxima, but the options keep '" +
                      std::string(AbsmaxOf(buffer_name)) + "' of this parameter in " +
                      std::string(DTypeName(StateDType(p.dtype, StorageFor(storage, min_quant, AbsmaxOf(buffer_name),
                                                                           p.dtype, whole[i].numel)))) +
                      ", not int8");
        }
        if (buffer.numel() != expected->numel || buffer.dtype() != expected->dtype) {
          fail(i, "state '" + buffer_name + "' has " + std::to_string(buffer.numel()) + " elements of " +
                      std::string(DTypeName(buffer.dtype())) + " but the " + std::string(DTypeName(p.dtype)) +
                      " parameter needs " + std::to_string(expected->numel) + " of " +
                      std::string(DTypeName(expected->dtype)));
        }
        // int8 codes mean nothing without their maxima, nor maxima without their codes: a step that made
        // the missing half afresh would read garbage.
        if (const std::string problem = UnpairedInt8(states[i], buffer_name); !problem.empty()) fail(i, problem);
      }
    }
  });
}

void Optimizer::CheckGroup(size_t group) const {
  if (group >= states_.size()) {
    throw std::out_of_range("param group " + std::to_string(group) + " does not exist (there are " +
                            std::to_string(states_.size()) + ")");
  }
}

const ParamState& Optimizer::state(size_t group, size_t index) const {
  CheckGroup(group);
  const auto& states = states_[group];
  if (index < states.size()) return states[index];
  if (index < params(group).size()) {
    static const ParamState kEmpty;  // appended since the last step: no state yet
    return kEmpty;
  }
  throw std::out_of_range("param group " + std::to_string(group) + " has no parameter " + std::to_string(index));
}

ParamState& Optimizer::state(size_t group, size_t index) {
  CheckGroup(group);
  auto& states = states_[group];
  // A parameter appended to the group since the last step has (empty) state too.
  if (index >= states.size() && index < params(group).size()) states.resize(params(group).size());
  if (index >= states.size()) {
    throw std::out_of_range("param group " + std::to_string(group) + " has no parameter " + std::to_string(index));
  }
  return states[index];
}

namespace {

// The buffers algorithm A's options ask for, with their initial values; a null name keeps the position
// of a buffer they do not use.
template <class A>
std::array<BufferSpec, A::kState.size()> SpecsOf(const typename A::Options& o, algorithms::ModeBits modes) {
  std::array<BufferSpec, A::kState.size()> specs;
  for (size_t k = 0; k < specs.size(); ++k) {
    const int buffer = static_cast<int>(k);
    specs[k] = {A::Uses(modes, buffer) ? A::kState[k].name.data() : nullptr, A::Init(o, buffer),
                o.state_dtype.Of(A::kState[k].name), A::kState[k].values == StateValues::kSigned};
  }
  return specs;
}

// The used buffers and their storages as StateRefs::key bits.
template <class A>
uint32_t UsedBits(algorithms::ModeBits modes, std::span<const BufferSpec> specs) {
  uint32_t bits = 0;
  for (size_t k = 0; k < A::kState.size(); ++k) {
    if (!A::Uses(modes, static_cast<int>(k))) continue;
    bits |= 1u << k | static_cast<uint32_t>(specs[k].storage) << (8 + 4 * k);
  }
  return bits;
}

// Whether the group's last step, `plan`, can be taken again: the same parameters have a gradient, each
// with the view, offset and stochastic-rounding position it had, and its state is as noted then, for the
// same options' `key`. Fills steps[j] (the step now taken) and scalar_states[j] on the way.
template <class A>
bool Reusable(const core::StepPlanOf<A>& plan, const Optimizer::GroupParams& group, std::span<const size_t> with,
              std::vector<ParamState>& states, std::vector<StateRefs>& refs, uint32_t key,
              std::vector<int64_t>& steps, std::vector<double*>& scalar_states) {
  if (plan.key != key || plan.views.size() != group.params.size() || plan.with.size() != with.size() ||
      plan.offsets != group.offsets) {
    return false;
  }
  steps.resize(with.size());
  scalar_states.resize(A::kScalarState.empty() ? 0 : with.size());
  const uint64_t changes = Buffer::changes();
  std::atomic<bool> reusable{true};
  core::ParallelRuns(with.size(), [&](size_t begin, size_t end, int) {
    for (size_t j = begin; j < end && reusable.load(std::memory_order_relaxed); ++j) {
      const size_t i = with[j];
      const ParamView& p = group.params[i];
      StateRefs& r = refs[i];
      const size_t position = group.positions.empty() ? j : static_cast<size_t>(group.positions[i]);
      if (plan.with[j] != i || !SameView(plan.views[i], p) || plan.positions[j] != position || r.key != key ||
          !Optimizer::Holds(r, states[i], p)) {
        reusable.store(false, std::memory_order_relaxed);
        return;
      }
      r.buffer_changes = changes;  // the buffers were found as noted: the next step need not read them
      steps[j] = states[i].step + 1;
      if constexpr (!A::kScalarState.empty()) scalar_states[j] = &states[i].mu_product;
    }
  });
  return reusable.load();
}

// One group's step of algorithm A: finds (creating on first use) the state of the parameters that have a
// gradient, runs the functional step over them, and counts their steps only once it has succeeded. An
// algorithm whose state is set from the first gradient (kFreshState) tells the step which buffers are
// new, and a failed step removes them again: no half-made state. The step is kept in `kept`: while the
// next one updates the same tensors with the same state (Reusable), it only runs the kept step again.
template <class A>
void StepAlgorithm(const typename A::Options& o, const Optimizer::GroupParams& group,
                   std::vector<ParamState>& states, std::vector<StateRefs>& refs,
                   std::unique_ptr<Optimizer::StepPlan>& kept, const Precision& precision, const StepArgs& args) {
  const algorithms::ModeBits modes = A::ModesOf(o);
  const auto specs = SpecsOf<A>(o, modes);
  const uint32_t used = UsedBits<A>(modes, specs);
  const uint32_t key = Key(precision, used);
  const std::vector<size_t>& with = WithGrads(group.params);
  auto* plan = dynamic_cast<core::StepPlanOf<A>*>(kept.get());
  if (plan != nullptr && !args.found_inf) {
    struct StepsTag;
    struct ScalarStatesTag;
    std::vector<int64_t>& steps = core::Scratch<int64_t, StepsTag>();
    std::vector<double*>& scalar_states = core::Scratch<double*, ScalarStatesTag>();
    if (Reusable(*plan, group, with, states, refs, key, steps, scalar_states)) {
      functional::internal::StepAgain<A>(*plan, o, precision, args, steps, scalar_states);
      if constexpr (A::kCountsSteps) {
        core::ParallelRuns(with.size(), [&](size_t begin, size_t end, int) {
          for (size_t j = begin; j < end; ++j) states[with[j]].step = steps[j];
        });
      }
      return;
    }
  }
  // Made again below; none is kept if the step fails.
  std::unique_ptr<core::StepPlanOf<A>> next(plan != nullptr ? static_cast<core::StepPlanOf<A>*>(kept.release())
                                                            : new core::StepPlanOf<A>());
  kept.reset();
  struct TensorsTag;
  struct StaleTag;
  struct FreshTag;
  std::vector<functional::Tensor>& tensors = core::ScratchOfSize<functional::Tensor, TensorsTag>(with.size());
  std::vector<char>& stale = core::ScratchOfSize<char, StaleTag>(with.size());
  std::vector<char>& fresh = core::ScratchOfSize<char, FreshTag>(with.size());
  const uint64_t changes = Buffer::changes();  // before the notes are checked: what Refs records for those that hold
  std::atomic<bool> any_stale{false};
  core::ParallelRuns(with.size(), [&](size_t begin, size_t end, int) {
    bool any = false;
    for (size_t j = begin; j < end; ++j) {
      const size_t i = with[j];
      stale[j] = Stale(refs[i], states[i], group.params[i], key);
      any = any || stale[j];
      if constexpr (A::kFreshState) {
        // A noted buffer was there after a step that succeeded: that step set it. Otherwise it is new
        // unless the state already has one.
        bool existed = !stale[j];
        for (const BufferSpec& spec : specs) existed = existed || (spec.name != nullptr && states[i].has(spec.name));
        fresh[j] = used != 0 && !existed;
      } else {
        fresh[j] = 0;
      }
    }
    if (any) any_stale.store(true, std::memory_order_relaxed);
  });
  if (any_stale.load()) CreateByName(with, stale, group, o.min_quant_size, states, precision, specs);
  core::ParallelRuns(with.size(), [&](size_t begin, size_t end, int) {
    for (size_t j = begin; j < end; ++j) {
      const size_t i = with[j];
      ParamState& s = states[i];
      const StateRefs& r = Refs(refs, i, stale[j], changes, s, group.params[i], group.whole[i].numel,
                                o.min_quant_size, precision, specs, key);
      functional::Tensor& t = tensors[j];
      t = functional::Tensor{};
      t.param = group.params[i];
      for (size_t k = 0; k < specs.size(); ++k) {
        t.state[k] = r.data[k];
        // As the buffer found is stored (CheckParams or its creation made it what the options ask for):
        // float64 parameters keep float64 state, small ones float32 in place of int8 (StorageFor).
        const DType dtype = r.dtypes[k];
        t.state_storage[k] = dtype == DType::kUInt8      ? StateStorage::kInt8
                             : dtype == DType::kBFloat16 ? (IsBFloat16(specs[k].storage) ? specs[k].storage
                                                                                          : StateStorage::kBFloat16)
                                                         : StateStorage::kFull;
        t.state_absmax[k] = static_cast<float*>(r.data[kAbsmaxSlot + k]);
      }
      t.step = s.step + 1;
      t.master = static_cast<float*>(r.data[kMasterSlot]);
      if constexpr (!A::kScalarState.empty()) t.scalar_state = &s.mu_product;
      t.fresh = fresh[j] != 0;
      if (!group.offsets.empty()) {
        t.offset = group.offsets[i];
        t.position = group.positions[i];
      }
    }
  });
  try {
    if (!functional::internal::StepKeeping<A>(tensors, o, precision, args, *next)) next.reset();
  } catch (...) {
    if constexpr (A::kFreshState) {
      for (size_t j = 0; j < with.size(); ++j) {
        if (!fresh[j]) continue;
        for (const BufferSpec& spec : specs) {
          if (spec.name == nullptr) continue;
          states[with[j]].buffers.erase(spec.name);
          states[with[j]].buffers.erase(AbsmaxName(spec.name));
        }
      }
    }
    throw;
  }
  if constexpr (A::kCountsSteps) {
    core::ParallelRuns(with.size(), [&](size_t begin, size_t end, int) {
      for (size_t j = begin; j < end; ++j) ++states[with[j]].step;
    });
  }
  if (args.found_inf || next == nullptr) return;  // nothing ran, or a layout: no slots to keep
  next->views.assign(group.params.begin(), group.params.end());
  next->offsets = group.offsets;
  next->with.assign(with.begin(), with.end());
  next->key = key;
  kept = std::move(next);
}

}  // namespace

#define ADAMANT_DEFINE_STEP_GROUP(Class, name)                                                        \
  void Class::StepGroup(const Class##Options& options, const GroupParams& params,                    \
                        std::vector<ParamState>& states, std::vector<StateRefs>& refs,                \
                        std::unique_ptr<StepPlan>& plan, const Precision& precision,                  \
                        const StepArgs& args) {                                                       \
    StepAlgorithm<algorithms::Class>(options, params, states, refs, plan, precision, args);           \
  }
ADAMANT_OPTIMIZERS(ADAMANT_DEFINE_STEP_GROUP, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_DEFINE_STEP_GROUP

std::vector<std::string> AdamW::option_names() const {
  std::vector<std::string> names = Adam::option_names();
  std::erase(names, AdamWFixed::kHiddenOption);
  return names;
}

std::string AdamW::GetOption(size_t group, std::string_view key) const {
  if (key == AdamWFixed::kHiddenOption) ThrowUnknownOption(key);
  return Adam::GetOption(group, key);
}

namespace {

void RejectDecoupledKey(std::string_view key) {
  if (key == AdamWFixed::kHiddenOption) {
    throw std::invalid_argument("unknown option '" + std::string(key) + "' for adamw (" + AdamWFixed::kWhyHidden +
                                ")");
  }
}

}  // namespace

void AdamW::SetOption(size_t group, std::string_view key, std::string_view value) {
  RejectDecoupledKey(key);
  Adam::SetOption(group, key, value);
}

void AdamW::SetOptions(size_t group, const OptionList& values) {
  for (const auto& entry : values) RejectDecoupledKey(entry.first);
  Adam::SetOptions(group, values);
}

void AdamW::CheckOptions(size_t group, const OptionList& values) const {
  for (const auto& entry : values) RejectDecoupledKey(entry.first);
  Adam::CheckOptions(group, values);
}

}  // namespace adamant
