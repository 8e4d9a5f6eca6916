// The libtorch drop-ins: libtorch's param groups mirrored into adamant's optimizer at each step.
#include "adamant/torch/optim.h"

#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

#include "adamant/option_text.h"

namespace adamant::optim {
namespace {

// The archive's layout version: raise it when the keys below change meaning. 2 added "adamant/checksum";
// format 1 archives (no checksum) are still read.
constexpr int64_t kFormat = 2;
constexpr const char* kChecksumKey = "adamant/checksum";
// Every state buffer name adamant's optimizers use (adamant/state.h).
constexpr std::array<const char*, 10> kBufferNames = {"exp_avg",    "exp_avg_sq", "max_exp_avg_sq", "exp_inf",
                                                      "sum",        "square_avg", "grad_avg",       "momentum_buffer",
                                                      "acc_delta",  "master_param"};

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
                  "; supported: float32, float64, bfloat16, float16");
  }
  return DType::kFloat32;
}

at::ScalarType ScalarTypeOf(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return at::kFloat;
    case DType::kFloat64: return at::kDouble;
    case DType::kBFloat16: return at::kBFloat16;
    case DType::kFloat16: return at::kHalf;
  }
  return at::kFloat;
}

// A view of parameter `p` for adamant's step. Its gradient, if not contiguous, is read through a copy kept
// alive in `keep` (a copy is fine for reading; parameters are never copied: they are updated in place).
// Without `keep` the gradient is left out (the view only describes the parameter).
ParamView View(const at::Tensor& p, size_t group, size_t index, std::vector<at::Tensor>* keep) {
  const std::string where = Where(group, index);
  TORCH_CHECK(p.defined(), "adamant: ", where, " is an undefined tensor");
  TORCH_CHECK(p.device().is_cpu(), "adamant: ", where, " is on ", p.device(), "; adamant updates CPU tensors");
  TORCH_CHECK(p.layout() == at::kStrided, "adamant: ", where, " is not a dense (strided) tensor");
  ParamView view;
  view.dtype = DTypeOf(p, where);
  TORCH_CHECK(p.is_contiguous(), "adamant: ", where,
              " is not contiguous; adamant updates parameters in place, so make the parameter contiguous before "
              "creating the optimizer");
  view.data = p.data_ptr();
  view.numel = p.numel();
  const at::Tensor& grad = p.grad();
  if (keep == nullptr || !grad.defined()) return view;
  TORCH_CHECK(!grad.is_sparse(), "adamant: ", where, " has a sparse gradient; adamant supports dense gradients");
  TORCH_CHECK(grad.device().is_cpu(), "adamant: the gradient of ", where, " is on ", grad.device());
  TORCH_CHECK(grad.scalar_type() == p.scalar_type(), "adamant: the gradient of ", where, " has dtype ",
              grad.scalar_type(), " but the parameter has ", p.scalar_type());
  TORCH_CHECK(grad.sizes() == p.sizes(), "adamant: the gradient of ", where, " has shape ", grad.sizes(),
              " but the parameter has ", p.sizes());
  if (grad.is_contiguous()) {
    view.grad = grad.data_ptr();
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

// A checksum of the entries of an optimizer archive, whatever their order: the sum of each entry's
// FNV-1a 64 over its key and value bytes. libtorch does not check its archives' CRCs on load, so a flipped
// byte in a state tensor would otherwise load silently; any change to one entry changes its term.
class Checksum {
 public:
  void Add(const std::string& key, const c10::IValue& v) {
    uint64_t h = Bytes(kOffset, key.data(), key.size() + 1);  // with the '\0': key and value stay apart
    if (v.isInt()) {
      const int64_t x = v.toInt();
      h = Bytes(Bytes(h, "i", 1), &x, sizeof(x));
    } else if (v.isDouble()) {
      const double x = v.toDouble();
      h = Bytes(Bytes(h, "d", 1), &x, sizeof(x));
    } else if (v.isString()) {
      h = Bytes(Bytes(h, "s", 1), v.toStringRef().data(), v.toStringRef().size());
    } else {
      h = Bytes(h, "?", 1);
    }
    sum_ += h;
  }
  void Add(const std::string& key, const at::Tensor& t) {
    const at::Tensor c = t.contiguous();
    const int64_t header[2] = {static_cast<int64_t>(c.scalar_type()), c.numel()};
    uint64_t h = Bytes(Bytes(Bytes(kOffset, key.data(), key.size() + 1), "t", 1), header, sizeof(header));
    sum_ += Bytes(h, c.data_ptr(), c.nbytes());
  }
  std::string Hex() const {
    char text[17];
    std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(sum_));
    return text;
  }

 private:
  static constexpr uint64_t kOffset = 0xcbf29ce484222325ull;
  static uint64_t Bytes(uint64_t h, const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
  }
  uint64_t sum_ = 0;
};

// An OutputArchive that adds every entry written to a Checksum.
struct SummedWriter {
  ::torch::serialize::OutputArchive& archive;
  Checksum sum;
  void operator()(const std::string& key, const c10::IValue& v) {
    sum.Add(key, v);
    archive.write(key, v);
  }
  void operator()(const std::string& key, const at::Tensor& t) {
    sum.Add(key, t);
    archive.write(key, t);
  }
};

int64_t ReadInt(::torch::serialize::InputArchive& archive, const std::string& key, Checksum& sum) {
  c10::IValue v;
  TORCH_CHECK(archive.try_read(key, v), "adamant: the optimizer archive has no '", key, "'");
  TORCH_CHECK(v.isInt(), "adamant: the optimizer archive's '", key, "' is not an integer");
  sum.Add(key, v);
  return v.toInt();
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
void Optimizer<Core>::Sync(std::vector<::torch::Tensor>* contiguous_grads) {
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    ::torch::optim::OptimizerParamGroup& group = param_groups_[g];
    auto* options = dynamic_cast<GroupOptions*>(&group.options());
    TORCH_CHECK(options != nullptr, "adamant: param group ", g, " has options of another optimizer; give it ",
                "adamant::optim options (or none, for the defaults)");
    CoreOptions core_options = options->core();
    if constexpr (std::is_same_v<Core, adamant::AdamW>) core_options.decoupled_weight_decay = true;
    Validate(core_options);
    if (g >= core_.num_param_groups()) core_.AddParamGroup(ParamGroup<CoreOptions>{{}, core_options});
    ParamGroup<CoreOptions>& mirror = core_.param_group(g);
    mirror.options = core_options;
    mirror.params.resize(group.params().size());
    for (size_t i = 0; i < group.params().size(); ++i) {
      mirror.params[i] = View(group.params()[i], g, i, contiguous_grads);
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
  return loss;
}

template <class Core>
void Optimizer<Core>::save(::torch::serialize::OutputArchive& out) const {
  SummedWriter write{out, {}};
  write("adamant/format", c10::IValue(kFormat));
  write("adamant/algorithm", c10::IValue(std::string(core_.name())));
  write("adamant/steps_taken", c10::IValue(static_cast<int64_t>(core_.steps_taken())));
  write("param_groups/size", c10::IValue(static_cast<int64_t>(param_groups_.size())));
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    const std::string prefix = "param_groups/" + std::to_string(g) + "/";
    CoreOptions options = static_cast<const GroupOptions&>(param_groups_[g].options()).core();
    VisitOptions(options, [&](std::string_view key, auto& field) {
      write(prefix + std::string(key), c10::IValue(OptionToString(field)));
    });
    const auto& params = param_groups_[g].params();
    write(prefix + "params", c10::IValue(static_cast<int64_t>(params.size())));
    const bool mirrored = g < core_.num_param_groups();
    for (size_t i = 0; i < params.size(); ++i) {
      if (!mirrored || i >= core_.params(g).size()) continue;
      const ParamState& state = core_.state(g, i);
      const std::string key = "state/" + std::to_string(g) + "/" + std::to_string(i) + "/";
      write(key + "step", c10::IValue(state.step));
      write(key + "mu_product", c10::IValue(state.mu_product));
      for (const auto& [name, buffer] : state.buffers) {
        at::Tensor t = at::from_blob(const_cast<void*>(buffer.data()), {buffer.numel()},
                                     at::TensorOptions().dtype(ScalarTypeOf(buffer.dtype())))
                           .clone();
        if (params[i].numel() == buffer.numel()) t = t.view(params[i].sizes());
        write(key + name, t);
      }
    }
  }
  out.write(kChecksumKey, c10::IValue(write.sum.Hex()));
}

template <class Core>
void Optimizer<Core>::load(::torch::serialize::InputArchive& archive) {
  Checksum sum;  // of every entry read, compared with the archive's own
  const int64_t format = ReadInt(archive, "adamant/format", sum);
  TORCH_CHECK(format == kFormat || format == 1, "adamant: the optimizer archive has format ", format,
              "; this build reads formats 1 and ", kFormat);
  c10::IValue algorithm;
  TORCH_CHECK(archive.try_read("adamant/algorithm", algorithm) && algorithm.isString(),
              "adamant: not an adamant optimizer archive (no 'adamant/algorithm')");
  TORCH_CHECK(algorithm.toStringRef() == core_.name(), "adamant: the archive holds a '", algorithm.toStringRef(),
              "' optimizer, not '", core_.name(), "'");
  sum.Add("adamant/algorithm", algorithm);
  const int64_t steps_taken = ReadInt(archive, "adamant/steps_taken", sum);
  const int64_t num_groups = ReadInt(archive, "param_groups/size", sum);
  TORCH_CHECK(num_groups == static_cast<int64_t>(param_groups_.size()), "adamant: the archive has ", num_groups,
              " param groups, this optimizer ", param_groups_.size());

  // Everything is read and checked into these before anything changes.
  std::vector<CoreOptions> options(param_groups_.size());
  std::vector<std::vector<ParamState>> states(param_groups_.size());
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    const std::string prefix = "param_groups/" + std::to_string(g) + "/";
    options[g] = static_cast<const GroupOptions&>(param_groups_[g].options()).core();
    AsTorchError([&] {
      VisitOptions(options[g], [&](std::string_view key, auto& field) {
        c10::IValue v;
        TORCH_CHECK(archive.try_read(prefix + std::string(key), v) && v.isString(), "the archive has no option '",
                    key, "' for param group ", g);
        sum.Add(prefix + std::string(key), v);
        OptionFromString(key, v.toStringRef(), field);
      });
      Validate(options[g]);
    });
    const auto& params = param_groups_[g].params();
    const int64_t num_params = ReadInt(archive, prefix + "params", sum);
    TORCH_CHECK(num_params == static_cast<int64_t>(params.size()), "adamant: param group ", g, " of the archive has ",
                num_params, " parameters, this optimizer's ", params.size());
    states[g].resize(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string key = "state/" + std::to_string(g) + "/" + std::to_string(i) + "/";
      c10::IValue step;
      if (!archive.try_read(key + "step", step)) continue;  // no state yet
      sum.Add(key + "step", step);
      TORCH_CHECK(step.isInt() && step.toInt() >= 0, "adamant: bad step for ", Where(g, i));
      ParamState& state = states[g][i];
      state.step = step.toInt();
      c10::IValue mu_product;
      TORCH_CHECK(archive.try_read(key + "mu_product", mu_product) && mu_product.isDouble(),
                  "adamant: the archive has no mu_product for ", Where(g, i));
      sum.Add(key + "mu_product", mu_product);
      state.mu_product = mu_product.toDouble();
      const ParamView p = View(params[i], g, i, nullptr);
      const DType state_dtype = StateDType(p.dtype);
      for (const char* name : kBufferNames) {
        at::Tensor t;
        if (!archive.try_read(key + name, t)) continue;
        sum.Add(key + name, t);
        TORCH_CHECK(t.numel() == p.numel && t.scalar_type() == ScalarTypeOf(state_dtype), "adamant: state '", name,
                    "' of ", Where(g, i), " has ", t.numel(), " elements of ", t.scalar_type(), " but the parameter needs ",
                    p.numel, " of ", ScalarTypeOf(state_dtype));
        Buffer buffer(state_dtype, p.numel);
        std::memcpy(buffer.data(), t.contiguous().data_ptr(), buffer.nbytes());
        state.buffers.emplace(name, std::move(buffer));
      }
    }
  }

  if (format >= 2) {
    c10::IValue expected;
    TORCH_CHECK(archive.try_read(kChecksumKey, expected) && expected.isString(),
                "adamant: the optimizer archive is damaged: it has no '", kChecksumKey, "'");
    TORCH_CHECK(expected.toStringRef() == sum.Hex(), "adamant: the optimizer archive is damaged: its checksum (",
                expected.toStringRef(), ") does not match its content (", sum.Hex(), ")");
  }

  // Commit.
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    static_cast<GroupOptions&>(param_groups_[g].options()).core() = options[g];
  }
  AsTorchError([&] { Sync(nullptr); });
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    for (size_t i = 0; i < states[g].size(); ++i) core_.state(g, i) = std::move(states[g][i]);
  }
  core_.set_steps_taken(static_cast<uint64_t>(steps_taken));
}

template class Optimizer<adamant::Adam>;
template class Optimizer<adamant::AdamW>;
template class Optimizer<adamant::Adamax>;
template class Optimizer<adamant::NAdam>;
template class Optimizer<adamant::RAdam>;
template class Optimizer<adamant::Adagrad>;
template class Optimizer<adamant::RMSprop>;
template class Optimizer<adamant::Adadelta>;
template class Optimizer<adamant::SGD>;

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
  static const std::vector<std::pair<std::string_view, Maker>> kMakers = {
      {"adam", Make<adamant::Adam>},         {"adamw", Make<adamant::AdamW>},     {"adamax", Make<adamant::Adamax>},
      {"nadam", Make<adamant::NAdam>},       {"radam", Make<adamant::RAdam>},     {"adagrad", Make<adamant::Adagrad>},
      {"rmsprop", Make<adamant::RMSprop>},   {"adadelta", Make<adamant::Adadelta>}, {"sgd", Make<adamant::SGD>},
  };
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
