// adamant._adamant: the C++ functional layer for Python.
//
// The drop-ins in adamant/torch pass each param group's dict (options by PyTorch's names; other keys such
// as 'params' or 'foreach' are ignored) and, per tensor, a tuple of raw data pointers (tensor.data_ptr()),
// the element count, the dtype, the state pointers, the step and, last, the float32 master copy's pointer
// (0 = none; bfloat16/float16 parameters only); a parameter strided with gaps also has its sizes and
// strides in the step's `layouts` (ReadLayouts). The extension does not link libtorch: it sees only memory.
// Invalid options raise ValueError with PyTorch's message (std::invalid_argument); the GIL is released
// while the elements are updated.
//
// Mixed precision (precision.h): dtype "bfloat16" or "float16" parameters and gradients are 16-bit
// patterns, their state float32. The group's `stochastic_rounding` (bool, default False) and `seed` (int,
// default 0, taken modulo 2^64) select how such parameters without a master pointer are rounded. The
// random bits are keyed by (seed, step, position of the tensor in `tensors`, element): the caller varies
// the seed between calls where that key repeats (SGD has no step; two groups stepped by separate calls
// share positions). adamant.torch mixes a per-optimizer step counter and the group's index into the seed.
//
// Loss scaling and non-finite gradients (nonfinite.h): every step takes `grad_scale` (gradients divided by
// it inside the pass and written back unscaled); `first_nonfinite` is the read-only check adamant.torch runs
// over every group's gradients before a step under nonfinite='skip' or 'raise'. `clip_grad_norm` and
// `clip_grad_value` are adamant::ClipGradNorm and ClipGradValue (clip.h) over gradient tuples.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "adamant/adamant.h"

namespace py = pybind11;

namespace adamant::python {
namespace {

void ReadField(std::string_view key, py::handle value, double& out) {
  try {
    out = py::cast<double>(value);
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(key) + " must be a number, got " +
                         std::string(py::str(value.get_type().attr("__name__"))));
  }
}
void ReadField(std::string_view key, py::handle value, bool& out) {
  if (!py::isinstance<py::bool_>(value) && !py::isinstance<py::int_>(value)) {
    throw py::type_error(std::string(key) + " must be a bool, got " +
                         std::string(py::str(value.get_type().attr("__name__"))));
  }
  out = py::cast<bool>(value);
}
// Any pair torch.optim takes: a tuple, a list, a 2-element tensor (anything with len() and indexing).
void ReadField(std::string_view key, py::handle value, Betas& out) {
  if (py::isinstance<py::str>(value) || !py::hasattr(value, "__len__") || !py::hasattr(value, "__getitem__")) {
    throw py::type_error(std::string(key) + " must be a pair of numbers");
  }
  if (py::len(value) != 2) throw py::value_error(std::string(key) + " must be a pair of numbers");
  ReadField(key, value[py::int_(0)], out[0]);
  ReadField(key, value[py::int_(1)], out[1]);
}
void ReadField(std::string_view key, py::handle value, EpsMode& out) {
  OptionFromString(key, py::cast<std::string>(py::str(value)), out);
}
// A group's state_dtype is the drop-ins' to honour: they make the state tensors of the dtype it asks for
// and pass each tensor's storage with the step (`storages`), which is what the step follows. Not read here.
void ReadField(std::string_view, py::handle, StateDTypes&) {}
// min_quant_size too: it only chooses the storage of a tensor's state.
void ReadField(std::string_view, py::handle, int64_t&) {}

// Options from a param group dict, starting from `defaults`; absent keys keep their default.
template <class Options>
Options ReadOptions(const py::dict& group, Options defaults) {
  VisitOptions(defaults, [&](std::string_view key, auto& field) {
    const py::str k(key.data(), key.size());
    if (group.contains(k)) ReadField(key, group[k], field);
  });
  return defaults;
}

void* Ptr(py::handle h) { return reinterpret_cast<void*>(py::cast<uintptr_t>(h)); }

DType ReadDType(py::handle h) {
  const std::string s = py::cast<std::string>(py::str(h));
  if (s == "float32" || s == "torch.float32") return DType::kFloat32;
  if (s == "float64" || s == "torch.float64") return DType::kFloat64;
  if (s == "bfloat16" || s == "torch.bfloat16") return DType::kBFloat16;
  if (s == "float16" || s == "torch.float16") return DType::kFloat16;
  throw py::type_error("unsupported dtype " + s + " (supported: float32, float64, bfloat16, float16)");
}

// The group's `stochastic_rounding` and `seed` (master weights are passed per tensor, not read here).
Precision ReadPrecision(const py::dict& group) {
  Precision precision;
  if (group.contains("stochastic_rounding")) {
    bool stochastic = false;
    ReadField("stochastic_rounding", group["stochastic_rounding"], stochastic);
    if (stochastic) precision.rounding = Rounding::kStochastic;
  }
  if (group.contains("seed")) {
    const py::object value = group["seed"];
    if (py::isinstance<py::bool_>(value) || !PyIndex_Check(value.ptr())) {
      throw py::type_error("seed must be an int, got " + std::string(py::str(value.get_type().attr("__name__"))));
    }
    const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
    if (!index) throw py::error_already_set();
    precision.seed = PyLong_AsUnsignedLongLongMask(index.ptr());  // modulo 2^64: negative seeds are fine
    if (PyErr_Occurred()) throw py::error_already_set();
  }
  return precision;
}

// The master pointer of a tuple (0 = none).
float* Master(py::handle h) { return static_cast<float*>(Ptr(h)); }

// (param_ptr, grad_ptr, numel, dtype, ...) -> ParamView; `rest` is the index of the first extra field.
ParamView ReadParam(const py::tuple& t) {
  return ParamView{Ptr(t[0]), Ptr(t[1]), py::cast<int64_t>(t[2]), ReadDType(t[3])};
}

py::tuple AsTuple(py::handle h, size_t size, const char* layout) {
  py::tuple t = py::cast<py::tuple>(h);
  if (t.size() != size) {
    throw py::value_error("expected a tuple " + std::string(layout) + ", got " + std::to_string(t.size()) + " items");
  }
  return t;
}

// The tuple layout of algorithm `info`'s tensors, for messages: (param, grad, numel, dtype, <its state
// buffers>, step, <its scalar state>, master), or momentum_buffer_initialized in place of the step for an
// algorithm that keeps none (SGD).
std::string Layout(const AlgorithmInfo& info) {
  std::string out = "(param, grad, numel, dtype";
  for (std::string_view name : info.state) out += ", " + std::string(name);
  if (info.counts_steps) {
    out += ", step";
  } else {
    for (std::string_view name : info.state) out += ", " + std::string(name) + "_initialized";
  }
  if (!info.scalar_state.empty()) out += ", " + std::string(info.scalar_state);
  return out + ", master)";
}

// What the step function of one algorithm needs to read its tuples, found once when the module loads.
struct Tuples {
  explicit Tuples(std::string_view name)
      : info(*FindAlgorithm(name)),
        layout(Layout(info)),
        size(4 + info.state.size() + 1 + (info.scalar_state.empty() ? 0 : 1) + 1) {}
  const AlgorithmInfo& info;
  std::string layout;  // for messages
  size_t size;         // items per tuple
};

// One step of an algorithm over the tensors' tuples (`tuples`) with the group's options on top of
// `defaults`, fixed by `fix` (a variant's fixed options). Returns the new scalar state of each tensor for
// the algorithms that keep one (NAdam's mu_product), else None. With `check_only`, the call checks
// everything and changes nothing (as a step with found_inf does).
// The layouts of a step's tensors (adamant/param.h): `layouts` is None, or a list parallel to the tensors of
// None (contiguous in memory, or dense in the order the other pointers follow) or (sizes, strides): a
// parameter strided with gaps, its gradient and state in row-major order.
std::vector<std::optional<adamant::Layout>> ReadLayouts(const py::object& layouts, size_t count) {
  std::vector<std::optional<adamant::Layout>> out(count);
  if (layouts.is_none()) return out;
  const auto list = py::cast<py::list>(layouts);
  if (list.size() != count) {
    throw py::value_error("layouts has " + std::to_string(list.size()) + " entries for " + std::to_string(count) +
                          " tensors");
  }
  for (size_t i = 0; i < count; ++i) {
    if (list[i].is_none()) continue;
    const auto pair = AsTuple(list[i], 2, "(sizes, strides)");
    const auto sizes = py::cast<std::vector<int64_t>>(pair[0]);
    const auto strides = py::cast<std::vector<int64_t>>(pair[1]);
    if (sizes.size() != strides.size() || sizes.size() > static_cast<size_t>(adamant::Layout::kMaxDims)) {
      throw py::value_error("tensor " + std::to_string(i) + ": a layout has as many sizes as strides, at most " +
                            std::to_string(adamant::Layout::kMaxDims));
    }
    adamant::Layout& l = out[i].emplace();
    l.dim = static_cast<int>(sizes.size());
    for (int d = 0; d < l.dim; ++d) {
      l.sizes[d] = sizes[static_cast<size_t>(d)];
      l.strides[d] = strides[static_cast<size_t>(d)];
    }
    l.strided = true;
  }
  return out;
}

// Per tensor, how its state buffers are stored: a bit mask (bit k: buffer k is bfloat16; bit 8 + k:
// rounded stochastically; bit 16 + k: int8), or, where a buffer is int8, a tuple (mask, the data_ptr() of
// each buffer's block maxima, 0 for none); the step's `storages` when it is not None.
void ReadStorages(const py::object& storages, std::span<functional::Tensor> tensors, size_t buffers) {
  const auto list = py::cast<py::list>(storages);
  if (list.size() != tensors.size()) {
    throw py::value_error("storages has " + std::to_string(list.size()) + " entries for " +
                          std::to_string(tensors.size()) + " tensors");
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint32_t mask = 0;
    py::tuple absmax;
    if (py::isinstance<py::tuple>(list[i])) {
      absmax = AsTuple(list[i], 1 + buffers, "(mask, <the block maxima of each buffer>)");
      mask = py::cast<uint32_t>(absmax[0]);
    } else {
      mask = py::cast<uint32_t>(list[i]);
    }
    for (size_t k = 0; k < buffers; ++k) {
      if (mask >> (16 + k) & 1u) {
        if (absmax.empty()) throw py::value_error("tensor " + std::to_string(i) + ": int8 state without its block maxima");
        tensors[i].state_storage[k] = StateStorage::kInt8;
        tensors[i].state_absmax[k] = static_cast<float*>(Ptr(absmax[1 + k]));
      } else if (mask >> k & 1u) {
        tensors[i].state_storage[k] = mask >> (8 + k) & 1u ? StateStorage::kBFloat16Stochastic : StateStorage::kBFloat16;
      }
    }
  }
}

template <class Options, class Fix>
py::object StepOf(const Tuples& tuples, Options defaults, Fix fix, const py::dict& group, const py::list& items,
                  double grad_scale, bool check_only, const py::object& layout_list, const py::object& storage_list) {
  const AlgorithmInfo& info = tuples.info;
  Options o = ReadOptions(group, defaults);
  fix(o);
  const size_t buffers = info.state.size();
  const bool scalar = !info.scalar_state.empty();
  const size_t size = tuples.size;
  std::vector<functional::Tensor> tensors;
  std::vector<double> scalars;
  tensors.reserve(items.size());
  scalars.reserve(items.size());
  for (py::handle h : items) {
    auto t = AsTuple(h, size, tuples.layout.c_str());
    functional::Tensor x;
    x.param = ReadParam(t);
    for (size_t k = 0; k < buffers; ++k) x.state[k] = Ptr(t[4 + k]);
    if (info.counts_steps) {
      x.step = py::cast<int64_t>(t[4 + buffers]);
    } else {
      x.fresh = !py::cast<bool>(t[4 + buffers]);
    }
    if (scalar) scalars.push_back(py::cast<double>(t[5 + buffers]));
    x.master = Master(t[size - 1]);
    tensors.push_back(x);
  }
  if (scalar) {
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].scalar_state = &scalars[i];
  }
  const std::vector<std::optional<adamant::Layout>> layouts = ReadLayouts(layout_list, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (layouts[i]) tensors[i].param.layout = &*layouts[i];
  }
  if (!storage_list.is_none()) ReadStorages(storage_list, tensors, buffers);
  const Precision precision = ReadPrecision(group);
  {
    const StepArgs args{grad_scale, check_only};
    py::gil_scoped_release release;
    functional::Step(tensors, o, precision, args);
  }
  if (!scalar) return py::none();
  return py::cast(scalars);
}

// (grad_ptr, numel, dtype) tuples as gradient-only ParamViews.
std::vector<ParamView> ReadGrads(const py::list& items) {
  std::vector<ParamView> out;
  out.reserve(items.size());
  for (py::handle h : items) {
    auto t = AsTuple(h, 3, "(grad, numel, dtype)");
    out.push_back(ParamView{nullptr, Ptr(t[0]), py::cast<int64_t>(t[1]), ReadDType(t[2])});
  }
  return out;
}

std::optional<size_t> FirstNonFinite(const py::list& items, double grad_scale) {
  const std::vector<ParamView> grads = ReadGrads(items);
  py::gil_scoped_release release;
  return functional::FirstNonFinite(grads, grad_scale);
}

double ClipNorm(const py::list& items, double max_norm, double norm_type, bool error_if_nonfinite) {
  const std::vector<ParamView> grads = ReadGrads(items);
  py::gil_scoped_release release;
  return ClipGradNorm(grads, max_norm, norm_type, error_if_nonfinite);
}

void ClipValue(const py::list& items, double clip_value) {
  const std::vector<ParamView> grads = ReadGrads(items);
  py::gil_scoped_release release;
  ClipGradValue(grads, clip_value);
}

// Two of the (address, nbytes) regions that share a byte, as (lower index, higher index): the first such
// pair in address order, found in one pass over the regions sorted by address (a region overlaps an earlier
// one exactly when it starts before the furthest end among them).
std::optional<std::pair<size_t, size_t>> FirstOverlap(const py::list& items) {
  struct Region {
    uintptr_t begin, end;
    size_t index;
  };
  std::vector<Region> regions;
  regions.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    auto t = AsTuple(items[i], 2, "(address, nbytes)");
    const auto begin = py::cast<uintptr_t>(t[0]);
    const auto size = py::cast<uintptr_t>(t[1]);
    if (size > 0) regions.push_back({begin, begin + size, i});  // empty regions hold no byte
  }
  std::sort(regions.begin(), regions.end(), [](const Region& a, const Region& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.index < b.index;
  });
  for (size_t k = 1, furthest = 0; k < regions.size(); ++k) {
    if (regions[k].begin < regions[furthest].end) {
      return std::make_pair(std::min(regions[k].index, regions[furthest].index),
                            std::max(regions[k].index, regions[furthest].index));
    }
    if (regions[k].end > regions[furthest].end) furthest = k;
  }
  return std::nullopt;
}

// Validates a dict of options for `algorithm` (raises ValueError with PyTorch's message).
void ValidateOptions(const std::string& algorithm, const py::dict& options) {
#define ADAMANT_VALIDATE(Class, name) \
  if (algorithm == name) return Validate(ReadOptions(options, Class##Options{}));
#define ADAMANT_VALIDATE_VARIANT(Class, name, Base) \
  if (algorithm == name) return Validate(ReadOptions(options, Base##Options(Class##Options{})));
  ADAMANT_OPTIMIZERS(ADAMANT_VALIDATE, ADAMANT_VALIDATE_VARIANT)
#undef ADAMANT_VALIDATE
#undef ADAMANT_VALIDATE_VARIANT
  throw py::value_error("unknown algorithm '" + algorithm + "'");
}

// int8 state's conversions (adamant/state_layout.h) on raw memory: numel float32 values to codes and
// ceil(numel / 256) block maxima, and back.
void Quantize(uintptr_t values, int64_t numel, bool is_signed, uintptr_t codes, uintptr_t absmax) {
  if (numel < 0) throw py::value_error("negative element count");
  py::gil_scoped_release release;
  QuantizeBlockwise(reinterpret_cast<const float*>(values), numel, is_signed, reinterpret_cast<uint8_t*>(codes),
                    reinterpret_cast<float*>(absmax));
}
void Dequantize(uintptr_t codes, uintptr_t absmax, int64_t numel, bool is_signed, uintptr_t out) {
  if (numel < 0) throw py::value_error("negative element count");
  py::gil_scoped_release release;
  DequantizeBlockwise(reinterpret_cast<const uint8_t*>(codes), reinterpret_cast<const float*>(absmax), numel,
                      is_signed, reinterpret_cast<float*>(out));
}

// Whether each of its state buffers can be negative (int8 state: the signed map), in the order of its
// tuples.
py::tuple StateSigned(const std::string& algorithm) {
  const AlgorithmInfo* info = FindAlgorithm(algorithm);
  if (info == nullptr) throw py::value_error("unknown algorithm '" + algorithm + "'");
  py::list out;
  for (const StateSpec& spec : info->buffers) out.append(py::bool_(spec.values == StateValues::kSigned));
  return py::tuple(out);
}

// Its state buffers' names, in the order of its tuples.
py::tuple StateNames(const std::string& algorithm) {
  const AlgorithmInfo* info = FindAlgorithm(algorithm);
  if (info == nullptr) throw py::value_error("unknown algorithm '" + algorithm + "'");
  py::list names;
  for (std::string_view name : info->state) names.append(py::str(name.data(), name.size()));
  return py::tuple(names);
}

}  // namespace

PYBIND11_MODULE(_adamant, m) {
  m.doc() = "adamant's C++ optimizer steps (the functional layer); use adamant.torch for torch.optim drop-ins";
  m.def("validate", &ValidateOptions, py::arg("algorithm"), py::arg("options"));
  // Each step takes the loss scale (1.0: none); found_inf and the non-finite policies are applied by the
  // caller, which sees every group (adamant.torch.Optimizer.step).
  // check_only: every check of the call, and no change (adamant.torch checks every group before any runs).
  const auto scale = py::arg("grad_scale") = 1.0;
  const auto check_only = py::arg("check_only") = false;
  // layouts: None, or per tensor None or (sizes, strides) of a parameter strided with gaps (ReadLayouts).
  const auto layouts = py::arg("layouts") = py::none();
  // storages: None, or per tensor a bit mask of its bfloat16 and int8 state buffers (ReadStorages).
  const auto storages = py::arg("storages") = py::none();
  // One step function per optimizer, by its name: adamant._adamant.adam(group, tensors, ...).
#define ADAMANT_BIND_STEP(name, defaults, fix)                                                              \
  m.def(                                                                                                    \
      name,                                                                                                 \
      [tuples = Tuples(name)](const py::dict& g, const py::list& t, double s, bool c, const py::object& l,     \
                              const py::object& st) { return StepOf(tuples, defaults, fix, g, t, s, c, l, st); }, \
      py::arg("group"), py::arg("tensors"), scale, check_only, layouts, storages);
#define ADAMANT_BIND(Class, name) ADAMANT_BIND_STEP(name, Class##Options{}, [](auto&) {})
#define ADAMANT_BIND_VARIANT(Class, name, Base) \
  ADAMANT_BIND_STEP(name, Base##Options(Class##Options{}), [](Base##Options& o) { Class##Fixed::Fix(o); })
  ADAMANT_OPTIMIZERS(ADAMANT_BIND, ADAMANT_BIND_VARIANT)
#undef ADAMANT_BIND_STEP
#undef ADAMANT_BIND
#undef ADAMANT_BIND_VARIANT
  m.def("state_names", &StateNames, py::arg("algorithm"),
        "The names of an algorithm's state buffers, in the order of its step's tuples");
  m.def("state_signed", &StateSigned, py::arg("algorithm"),
        "Whether each of an algorithm's state buffers can be negative (int8 state: the signed code map)");
  m.def("quantize_blockwise", &Quantize, py::arg("values"), py::arg("numel"), py::arg("signed"), py::arg("codes"),
        py::arg("absmax"), "int8 state's block-wise quantization of numel float32 values (by data_ptr())");
  m.def("dequantize_blockwise", &Dequantize, py::arg("codes"), py::arg("absmax"), py::arg("numel"),
        py::arg("signed"), py::arg("out"), "int8 state's codes and block maxima back to float32 (by data_ptr())");
  m.def("stream_seed", &adamant::StreamSeed, py::arg("seed"), py::arg("steps_taken"), py::arg("group"),
        "The seed of a param group's stochastic rounding on the next step (adamant::StreamSeed)");
  m.def("mix_seed", &adamant::MixSeed, py::arg("x"), "splitmix64's finalizer on a 64-bit integer (adamant::MixSeed)");
  m.def("first_overlap", &FirstOverlap, py::arg("regions"),
        "The (lower, higher) indices of two (address, nbytes) regions that share a byte, or None");
  m.def("first_nonfinite", &FirstNonFinite, py::arg("grads"), scale,
        "Index of the first (grad_ptr, numel, dtype) whose gradient / grad_scale holds a NaN or an inf, or None");
  m.def("clip_grad_norm", &ClipNorm, py::arg("grads"), py::arg("max_norm"), py::arg("norm_type") = 2.0,
        py::arg("error_if_nonfinite") = false,
        "adamant::ClipGradNorm over (grad_ptr, numel, dtype) tuples; returns the total norm (a float)");
  m.def("clip_grad_value", &ClipValue, py::arg("grads"), py::arg("clip_value"),
        "adamant::ClipGradValue over (grad_ptr, numel, dtype) tuples");
  std::vector<std::string> names;
  for (const AlgorithmInfo& info : Algorithms()) names.emplace_back(info.name);
  m.attr("algorithms") = py::cast(names);
}

}  // namespace adamant::python
