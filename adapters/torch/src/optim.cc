// The libtorch drop-ins: libtorch's param groups mirrored into adamant's optimizer at each step.
#include "adamant/torch/optim.h"

#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <list>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

#include "adamant/checkpoint.h"

namespace adamant::optim {
namespace {

// The archive's layout version. 3: the optimizer is the core's checkpoint bytes (docs/checkpoint-format.md:
// options, Precision, steps taken, every state buffer, each piece CRC-checked), read by the same fuzzed
// loader as adamant::LoadCheckpoint. Formats 1 and 2 (per-entry tensors) are no longer read.
constexpr int64_t kFormat = 3;
constexpr const char* kFormatKey = "adamant/format";
constexpr const char* kStateKey = "adamant/checkpoint";

std::string Where(size_t group, size_t index) {
  return "param group " + std::to_string(group) + ", parameter " + std::to_string(index);
}

DType DTypeOf(const at::Tensor& t, const std::string& where) {
  switch (t.scalar_type()) {
    case at::kFloat: return DType::kFloat32;
    case at::kDouble: return DType::kFloat64;
    case at::kBFloat16: return DType::kBFloat16;
    case at::kHalf: return DType::kFloat16;
    default:
      TORCH_CHECK(false, "adamant: ", where, " has dtype ", t.scalar_type(),
                  "; supported: float32, float64, bfloat16, float16, complex64, complex128");
  }
  return DType::kFloat32;
}

// A complex tensor as its real and imaginary parts (view_as_real, sharing its memory), as current
// torch.optim steps complex parameters; any other tensor as it is.
at::Tensor RealView(const at::Tensor& t) { return t.is_complex() && !t.is_conj() ? at::view_as_real(t) : t; }

// A view of parameter `p` for adamant's step. A contiguous parameter, or one dense in memory in another
// order (channels_last, a transpose), is stepped as its memory is laid out, with its gradient and state in
// the same order; one with gaps (a strided view of a larger tensor) through its strides (a Layout kept in
// `layouts`), with its gradient and state in row-major order. A gradient laid out otherwise is read through
// a copy kept alive in `keep` (a copy is fine for reading; parameters are never copied: they are updated
// in place). Without `keep` the gradient is left out (the view only describes the parameter).
ParamView View(const at::Tensor& param, size_t group, size_t index, std::vector<at::Tensor>* keep,
               std::list<Layout>& layouts) {
  const std::string where = Where(group, index);
  TORCH_CHECK(param.defined(), "adamant: ", where, " is an undefined tensor");
  TORCH_CHECK(param.device().is_cpu(), "adamant: ", where, " is on ", param.device(), "; adamant updates CPU tensors");
  TORCH_CHECK(param.layout() == at::kStrided, "adamant: ", where, " is not a dense (strided) tensor");
  TORCH_CHECK(!param.is_conj() && !param.is_neg(), "adamant: ", where, " is a conjugate or negative view; it ",
              "cannot be updated in place");
  const at::Tensor p = RealView(param);
  ParamView view;
  view.dtype = DTypeOf(p, where);
  const bool dense = p.is_non_overlapping_and_dense();
  if (!dense) {
    TORCH_CHECK(p.dim() <= Layout::kMaxDims, "adamant: ", where, " has ", p.dim(), " dimensions; a strided ",
                "parameter may have at most ", Layout::kMaxDims);
    Layout& layout = layouts.emplace_back();
    layout.dim = static_cast<int>(p.dim());
    for (int d = 0; d < layout.dim; ++d) {
      layout.sizes[d] = p.size(d);
      layout.strides[d] = p.stride(d);
    }
    layout.strided = true;
    view.layout = &layout;
  }
  view.data = p.data_ptr();
  view.numel = p.numel();
  const at::Tensor& param_grad = param.grad();
  if (keep == nullptr || !param_grad.defined()) return view;
  TORCH_CHECK(!param_grad.is_sparse(), "adamant: ", where, " has a sparse gradient; adamant supports dense gradients");
  TORCH_CHECK(param_grad.device().is_cpu(), "adamant: the gradient of ", where, " is on ", param_grad.device());
  TORCH_CHECK(param_grad.scalar_type() == param.scalar_type(), "adamant: the gradient of ", where, " has dtype ",
              param_grad.scalar_type(), " but the parameter has ", param.scalar_type());
  TORCH_CHECK(param_grad.sizes() == param.sizes(), "adamant: the gradient of ", where, " has shape ",
              param_grad.sizes(), " but the parameter has ", param.sizes());
  const at::Tensor grad = RealView(param_grad.is_conj() ? param_grad.resolve_conj() : param_grad);
  // Read in the order the parameter is stepped: its memory order when dense, else row-major.
  const bool fits = dense ? (p.is_contiguous() ? grad.is_contiguous() : grad.strides() == p.strides())
                          : grad.is_contiguous();
  if (fits) {
    view.grad = grad.data_ptr();
  } else if (dense && !p.is_contiguous()) {
    keep->push_back(at::empty_strided(p.sizes(), p.strides(), grad.options()).copy_(grad));
    view.grad = keep->back().data_ptr();
  } else {
    keep->push_back(grad.contiguous());
    view.grad = keep->back().data_ptr();
  }
  return view;
}

// Runs `f`, turning adamant's std::invalid_argument / std::out_of_range into c10::Error, libtorch's error.
template <class F>
void AsTorchError(F&& f) {
  try {
    f();
  } catch (const c10::Error&) {
    throw;
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "adamant: ", e.what());
  }
}

}  // namespace

template <class Core>
Optimizer<Core>::Optimizer(std::vector<::torch::Tensor> params, const DefaultsType& defaults)
    : Optimizer(std::vector<::torch::optim::OptimizerParamGroup>{::torch::optim::OptimizerParamGroup(std::move(params))},
                defaults) {}

template <class Core>
Optimizer<Core>::Optimizer(std::vector<::torch::optim::OptimizerParamGroup> groups, const DefaultsType& defaults)
    : TorchOptimizer(std::move(groups), std::make_unique<GroupOptions>(defaults)),
      core_(std::vector<ParamGroup<CoreOptions>>{}, defaults) {
  // libtorch's add_param_group accepts any options: check each group's now, and their tensors.
  AsTorchError([&] { Sync(nullptr); });
}

template <class Core>
void Optimizer<Core>::Sync(std::vector<::torch::Tensor>* contiguous_grads) const {
  // The layouts of this mirror. Those of the last one stay until every view is replaced: a check that fails
  // halfway leaves views of both (and both lists are kept).
  std::list<Layout> layouts;
  try {
    Mirror(contiguous_grads, layouts);
  } catch (...) {
    layouts_.splice(layouts_.end(), layouts);
    throw;
  }
  layouts_.swap(layouts);
}

template <class Core>
void Optimizer<Core>::Mirror(std::vector<::torch::Tensor>* contiguous_grads, std::list<Layout>& layouts) const {
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    const ::torch::optim::OptimizerParamGroup& group = param_groups_[g];
    const auto* options = dynamic_cast<const GroupOptions*>(&group.options());
    TORCH_CHECK(options != nullptr, "adamant: param group ", g, " has options of another optimizer; give it ",
                "adamant::optim options (or none, for the defaults)");
    if constexpr (std::is_same_v<Core, adamant::Lion>) {
      for (size_t i = 0; i < group.params().size(); ++i) {
        TORCH_CHECK(!group.params()[i].is_complex(), "adamant: ", Where(g, i), " is complex; Lion takes the sign of ",
                    "its update, which has no componentwise meaning for complex numbers (optimize ",
                    "torch::view_as_real(p) to mean the sign of each real and imaginary part)");
      }
    }
    CoreOptions core_options = options->core();
    if constexpr (std::is_same_v<Core, adamant::AdamW>) AdamWFixed::Fix(core_options);
    Validate(core_options);
    if (g >= core_.num_param_groups()) core_.AddParamGroup(ParamGroup<CoreOptions>{{}, core_options});
    ParamGroup<CoreOptions>& mirror = core_.param_group(g);
    mirror.options = core_options;
    mirror.params.resize(group.params().size());
    for (size_t i = 0; i < group.params().size(); ++i) {
      mirror.params[i] = View(group.params()[i], g, i, contiguous_grads, layouts);
    }
  }
}

template <class Core>
::torch::Tensor Optimizer<Core>::step(LossClosure closure) {
  ::torch::NoGradGuard no_grad;
  ::torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  std::vector<::torch::Tensor> grads;
  AsTorchError([&] {
    Sync(&grads);
    core_.Step();
  });
  // The tensors changed in place: tell autograd, as libtorch's in-place ops do.
  for (auto& group : param_groups_) {
    for (auto& p : group.params()) {
      if (p.grad().defined()) ::torch::autograd::impl::bump_version(p);
    }
  }
  ShowState();
  return loss;
}

namespace {

// A view of a state buffer as a tensor of its parameter's shape (or flat, for the part of a parameter a
// range holds), sharing its memory. Read through const access, which leaves the state's stamp (and so
// the optimizer's notes of where its buffers are) as it is; the view may write the elements.
::torch::Tensor ViewOf(const Buffer& b, const ::torch::Tensor& p) {
  void* data = const_cast<void*>(b.data());
  const auto dtype = b.dtype() == DType::kFloat64    ? ::torch::kDouble
                     : b.dtype() == DType::kBFloat16 ? ::torch::kBFloat16
                     : b.dtype() == DType::kUInt8    ? ::torch::kByte
                                                     : ::torch::kFloat;
  const auto options = ::torch::TensorOptions().dtype(dtype);
  if (b.numel() == p.numel()) {
    // A complex parameter's state is its real view's: shown as that (the shape of view_as_real(p)).
    const auto sizes = p.is_complex() ? ::torch::view_as_real(p.detach()).sizes() : p.sizes();
    if (b.numel() == c10::multiply_integers(sizes)) return ::torch::from_blob(data, sizes, options);
  }
  return ::torch::from_blob(data, {b.numel()}, options);
}

::torch::Tensor Named(const adamant::ParamState& s, const char* name, const ::torch::Tensor& p) {
  return s.has(name) ? ViewOf(s.at(name), p) : ::torch::Tensor();
}

// libtorch's ParamState for algorithm Core, or adamant's, holding views of `s`.
template <class Core>
std::unique_ptr<::torch::optim::OptimizerParamState> EntryOf(const adamant::ParamState& s, const ::torch::Tensor& p) {
  if constexpr (std::is_same_v<Core, adamant::Adam> || std::is_same_v<Core, adamant::AdamW>) {
    using State = std::conditional_t<std::is_same_v<Core, adamant::AdamW>, ::torch::optim::AdamWParamState,
                                     ::torch::optim::AdamParamState>;
    auto e = std::make_unique<State>();
    e->step(s.step).exp_avg(Named(s, "exp_avg", p)).exp_avg_sq(Named(s, "exp_avg_sq", p));
    e->max_exp_avg_sq(Named(s, "max_exp_avg_sq", p));
    return e;
  } else if constexpr (std::is_same_v<Core, adamant::Adagrad>) {
    auto e = std::make_unique<::torch::optim::AdagradParamState>();
    e->step(s.step).sum(Named(s, "sum", p));
    return e;
  } else if constexpr (std::is_same_v<Core, adamant::RMSprop>) {
    auto e = std::make_unique<::torch::optim::RMSpropParamState>();
    e->step(s.step).square_avg(Named(s, "square_avg", p)).momentum_buffer(Named(s, "momentum_buffer", p));
    e->grad_avg(Named(s, "grad_avg", p));
    return e;
  } else if constexpr (std::is_same_v<Core, adamant::SGD>) {
    auto e = std::make_unique<::torch::optim::SGDParamState>();
    e->momentum_buffer(Named(s, "momentum_buffer", p));
    return e;
  } else {
    auto e = std::make_unique<adamant::optim::ParamState>();
    e->step = s.step;
    e->mu_product = s.mu_product;
    for (const auto& [name, buffer] : s.buffers) e->buffers[name] = ViewOf(buffer, p);
    return e;
  }
}

// Updates the step count of an entry EntryOf<Core> made; false if `entry` is of another type (set by
// hand), which is then made again.
template <class Core>
bool SetStep(::torch::optim::OptimizerParamState& entry, const adamant::ParamState& s) {
  const auto set = [&](auto* e) {
    if (e != nullptr) e->step(s.step);
    return e != nullptr;
  };
  if constexpr (std::is_same_v<Core, adamant::Adam>) {
    return set(dynamic_cast<::torch::optim::AdamParamState*>(&entry));
  } else if constexpr (std::is_same_v<Core, adamant::AdamW>) {
    return set(dynamic_cast<::torch::optim::AdamWParamState*>(&entry));
  } else if constexpr (std::is_same_v<Core, adamant::Adagrad>) {
    return set(dynamic_cast<::torch::optim::AdagradParamState*>(&entry));
  } else if constexpr (std::is_same_v<Core, adamant::RMSprop>) {
    return set(dynamic_cast<::torch::optim::RMSpropParamState*>(&entry));
  } else if constexpr (std::is_same_v<Core, adamant::SGD>) {
    return dynamic_cast<::torch::optim::SGDParamState*>(&entry) != nullptr;
  } else {
    auto* e = dynamic_cast<adamant::optim::ParamState*>(&entry);
    if (e == nullptr) return false;
    e->step = s.step;
    e->mu_product = s.mu_product;
    return true;
  }
}

}  // namespace

template <class Core>
void Optimizer<Core>::ShowState() {
  shown_.resize(param_groups_.size());
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    const std::vector<::torch::Tensor>& params = param_groups_[g].params();
    std::vector<Shown>& shown = shown_[g];
    shown.resize(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const ::torch::Tensor& p = params[i];
      Shown& k = shown[i];
      if (k.impl != p.unsafeGetTensorImpl()) {
        // libtorch's key for a parameter's state (torch/optim/*.cpp).
        k.key = c10::guts::to_string(p.unsafeGetTensorImpl());
        k.impl = p.unsafeGetTensorImpl();
        k.stamp = 0;
      }
      const adamant::ParamState& s = std::as_const(core_).state(g, i);
      auto it = state_.find(k.key);
      if (s.empty()) {
        if (it != state_.end()) state_.erase(it);
        k.stamp = 0;
        continue;
      }
      const uint64_t stamp = s.buffers.stamp();
      if (it == state_.end() || it->second == nullptr || k.stamp != stamp || !SetStep<Core>(*it->second, s)) {
        state_[k.key] = EntryOf<Core>(s, p);
        k.stamp = stamp;
      }
    }
  }
}

template <class Core>
void Optimizer<Core>::save(::torch::serialize::OutputArchive& archive) const {
  std::string bytes;
  AsTorchError([&] {
    Sync(nullptr);  // the mirror takes the groups' current options (a scheduler's lr) and tensors
    bytes = SerializeState(core_);
  });
  archive.write(kFormatKey, c10::IValue(kFormat));
  archive.write(kStateKey, ::torch::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size())}, ::torch::kUInt8)
                               .clone());
}

template <class Core>
void Optimizer<Core>::load(::torch::serialize::InputArchive& archive) {
  c10::IValue format;
  TORCH_CHECK(archive.try_read(kFormatKey, format) && format.isInt(),
              "adamant: not an adamant optimizer archive (no '", kFormatKey, "')");
  TORCH_CHECK(format.toInt() == kFormat, "adamant: the optimizer archive has format ", format.toInt(),
              "; this build reads format ", kFormat, " only");
  ::torch::Tensor state;
  TORCH_CHECK(archive.try_read(kStateKey, state) && state.scalar_type() == ::torch::kUInt8 && state.dim() == 1,
              "adamant: the optimizer archive has no '", kStateKey, "' bytes");
  state = state.contiguous();
  const std::string_view bytes(static_cast<const char*>(state.data_ptr()), static_cast<size_t>(state.numel()));
  // The loader checks everything (algorithm, groups, parameter counts and sizes, every CRC) before it
  // changes anything; then the groups' options follow the core's.
  AsTorchError([&] {
    Sync(nullptr);
    DeserializeState(core_, bytes);
  });
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    static_cast<GroupOptions&>(param_groups_[g].options()).core() = core_.param_group(g).options;
  }
  state_.clear();
  shown_.clear();
  ShowState();
}

#define ADAMANT_INSTANTIATE(Class, name, ...) template class Optimizer<adamant::Class>;
ADAMANT_OPTIMIZERS(ADAMANT_INSTANTIATE, ADAMANT_INSTANTIATE)
#undef ADAMANT_INSTANTIATE

namespace {

template <class Core>
std::unique_ptr<TorchOptimizer> Make(std::vector<::torch::Tensor> params, const adamant::Optimizer& built) {
  typename Optimizer<Core>::DefaultsType defaults;
  static_cast<typename Core::OptionsType&>(defaults) = static_cast<const Core&>(built).defaults();
  return std::make_unique<Optimizer<Core>>(std::move(params), defaults);
}

using Maker = std::function<std::unique_ptr<TorchOptimizer>(std::vector<::torch::Tensor>, const adamant::Optimizer&)>;

}  // namespace

std::unique_ptr<TorchOptimizer> Create(std::string_view name, std::vector<::torch::Tensor> params,
                                       const OptionList& options) {
#define ADAMANT_MAKER(Class, name, ...) {name, Make<adamant::Class>},
  static const std::vector<std::pair<std::string_view, Maker>> kMakers = {
      ADAMANT_OPTIMIZERS(ADAMANT_MAKER, ADAMANT_MAKER)};
#undef ADAMANT_MAKER
  // adamant's factory parses and validates (same messages); its optimizer supplies the defaults.
  const std::unique_ptr<adamant::Optimizer> built = adamant::CreateOptimizer(name, {}, options);
  for (const auto& [n, make] : kMakers) {
    if (n == built->name()) return make(std::move(params), *built);
  }
  throw std::logic_error("adamant::optim::Create: no libtorch adapter for '" + std::string(name) + "'");
}

adamant::Optimizer* CoreOf(::torch::optim::Optimizer& optimizer) {
  auto* ours = dynamic_cast<TorchOptimizer*>(&optimizer);
  return ours == nullptr ? nullptr : &ours->core();
}

}  // namespace adamant::optim
