// adamant's optimizers as libtorch optimizers: drop-ins for torch::optim::Adam, AdamW, Adagrad, RMSprop, SGD,
// and the algorithms libtorch lacks (Adamax, NAdam, RAdam, Adadelta and every other of adamant/algorithms.h).
//
//   #include <adamant/torch/optim.h>
//   auto model = torch::nn::Linear(784, 10);
//   adamant::optim::Adam opt(model->parameters(), {.lr = 1e-3, .weight_decay = 1e-4});
//   torch::optim::StepLR schedule(opt, /*step_size=*/10, /*gamma=*/0.5);
//   for (...) { opt.zero_grad(); loss.backward(); opt.step(); }
//   schedule.step();
//   torch::save(opt, "opt.pt");  torch::load(opt, "opt.pt");
//
// Each class is a torch::optim::Optimizer: param groups are libtorch's (`param_groups()`, `add_param_group`),
// a group's options are an `adamant::optim::Options<...>` holding adamant's option struct (so `get_lr`/`set_lr`
// and libtorch's LR schedulers work), and `step()` runs adamant's fused step over the groups' tensors in place.
// The state lives in adamant's optimizer underneath, by position (`core().state(group, index)`), under
// PyTorch's names. libtorch's `state()` map shows it after each step and load, as torch::optim keeps it:
// keyed by the parameter's TensorImpl, libtorch's own ParamState classes for Adam, AdamW, Adagrad, RMSprop
// and SGD (AdamParamState's step, exp_avg, ...), adamant::optim::ParamState for the others. Its tensors
// share memory with adamant's state: changing their elements in place changes the state; replacing a
// tensor or an entry in the map does not (the map is refreshed from adamant's state at the next step).
// With state_dtype int8 a buffer there is its uint8 codes (kByte), and its block maxima ("exp_avg_absmax")
// appear in adamant::optim::ParamState only (docs/algorithms.md, "int8 state"). The master copies of
// bf16/fp16 parameters appear in ParamState only. `torch::save`/`torch::load` write and read it as
// adamant's own checkpoint bytes (adamant::SerializeState: options, precision, steps taken, every state
// buffer, CRC-checked; docs/checkpoint-format.md) in one entry of libtorch's archive, so that a damaged
// state or option is refused by `load` (c10::Error "adamant: checkpoint: ...") and nothing changes, though
// libtorch does not check its archives' CRCs. Damage to the zip structure itself is left to libtorch.
//
// Parameters must be CPU tensors of float32, float64, bfloat16, float16, complex64 or complex128 (a complex
// one stepped as its real and imaginary parts, torch::view_as_real, as current torch.optim does; not by
// Lion), updated in place, never through a copy: contiguous, dense in another order (channels_last, a transpose), or strided with gaps (a view of a
// larger tensor, stepped through its strides: adamant/param.h's Layout); gradients of the same dtype and
// shape (one laid out otherwise is read through a copy). Errors are thrown as c10::Error (libtorch's TORCH_CHECK) for tensors, and
// std::invalid_argument for options, with the messages of adamant's C++ API.
#ifndef ADAMANT_TORCH_OPTIM_H_
#define ADAMANT_TORCH_OPTIM_H_

#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adamant/algorithms.h"
#include "adamant/factory.h"
#include "adamant/optimizer.h"
#include "adamant/options.h"

namespace adamant::optim {

// A param group's options: adamant's option struct for the algorithm.
template <class CoreOptions>
class Options : public ::torch::optim::OptimizerCloneableOptions<Options<CoreOptions>> {
 public:
  // Implicit, so that `Adam(params, {.lr = 1e-3})` and `OptimizerParamGroup(params, make_unique<...>(o))` read well.
  Options(const CoreOptions& core = CoreOptions{}) : core_(core) {}  // NOLINT(google-explicit-constructor)

  CoreOptions& core() { return core_; }
  const CoreOptions& core() const { return core_; }

  double get_lr() const override { return core_.lr; }
  void set_lr(const double lr) override { core_.lr = lr; }

 private:
  CoreOptions core_;
};

// adamant::optim::AdamOptions, ...: a group's options for each algorithm (AdamW's groups take AdamOptions).
#define ADAMANT_GROUP_OPTIONS(Class, name) using Class##Options = Options<adamant::Class##Options>;
ADAMANT_OPTIMIZERS(ADAMANT_GROUP_OPTIONS, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_GROUP_OPTIONS

// A parameter's entry in `state()` for the algorithms libtorch has no ParamState for (Adamax, NAdam, RAdam,
// Adadelta, Lion): its step, NAdam's mu_product, and its buffers by PyTorch's names (master_param too).
struct ParamState : ::torch::optim::OptimizerCloneableParamState<ParamState> {
  int64_t step = 0;
  double mu_product = 1.0;
  std::map<std::string, ::torch::Tensor> buffers;
};

// What every adamant libtorch optimizer shares, whatever its algorithm: reach adamant's optimizer
// underneath (state, precision, option names) from a torch::optim::Optimizer& (see CoreOf).
class TorchOptimizer : public ::torch::optim::Optimizer {
 public:
  using ::torch::optim::Optimizer::Optimizer;

  virtual adamant::Optimizer& core() = 0;
  virtual const adamant::Optimizer& core() const = 0;

  // How bf16/fp16 parameters are updated (adamant/precision.h).
  void set_precision(const Precision& precision) { core().set_precision(precision); }

  // What a step does with a NaN or infinite gradient (adamant/nonfinite.h), and whether the last step was
  // skipped for one (so that a schedule can hold back too).
  void set_nonfinite(NonFinite policy) { core().set_nonfinite(policy); }
  bool last_step_skipped() const { return core().last_step_skipped(); }
};

// The default options of algorithm `Core` (AdamW's differ from Adam's, its option struct's).
template <class Core>
struct DefaultOptions {
  using type = typename Core::OptionsType;
};
template <>
struct DefaultOptions<adamant::AdamW> {
  using type = adamant::AdamWOptions;
};

template <class Core>
class Optimizer : public TorchOptimizer {
 public:
  using CoreOptions = typename Core::OptionsType;
  using GroupOptions = Options<CoreOptions>;
  // AdamWOptions for AdamW (weight_decay 1e-2), the group option struct otherwise.
  using DefaultsType = typename DefaultOptions<Core>::type;

  explicit Optimizer(std::vector<::torch::Tensor> params, const DefaultsType& defaults = DefaultsType{});
  // Groups built with `std::make_unique<GroupOptions>(...)` keep their options; others get the defaults.
  explicit Optimizer(std::vector<::torch::optim::OptimizerParamGroup> groups,
                     const DefaultsType& defaults = DefaultsType{});

  // Runs `closure` (with gradients enabled) if given, then one fused step of every group; returns the
  // closure's loss or an undefined tensor. A rejected step (bad tensor or option) changes nothing.
  ::torch::Tensor step(LossClosure closure = nullptr) override;

  void save(::torch::serialize::OutputArchive& archive) const override;
  // Restores options and state saved by `save` from an optimizer of the same algorithm over parameters of
  // the same count and sizes; anything else is rejected (c10::Error) and changes nothing.
  void load(::torch::serialize::InputArchive& archive) override;

  Core& core() override { return core_; }
  const Core& core() const override { return core_; }

 private:
  // Mirrors libtorch's groups (tensors, options) into adamant's optimizer; gradients are read through
  // `contiguous_grads` where they are not contiguous.
  void Sync(std::vector<::torch::Tensor>* contiguous_grads) const;
  // Sync's work, the layouts of strided parameters made in `layouts`.
  void Mirror(std::vector<::torch::Tensor>* contiguous_grads, std::list<Layout>& layouts) const;
  // Refreshes libtorch's state() map from adamant's state: entries rebuilt where the state's buffers
  // changed (StateBuffers::stamp), step counts updated, entries of parameters without state removed.
  void ShowState();

  // What ShowState last made for each parameter, by group and position.
  struct Shown {
    const void* impl = nullptr;  // the parameter's TensorImpl when its key was made
    std::string key;
    uint64_t stamp = 0;  // of the state's buffers when the entry was made
  };
  std::vector<std::vector<Shown>> shown_;

  // A mirror of the groups, refreshed by each step and by save (which is const to libtorch).
  mutable Core core_;
  // The layouts of the mirror's strided parameters, which its views point at.
  mutable std::list<Layout> layouts_;
};

// adamant::optim::Adam, AdamW, ...: one drop-in per optimizer of the list (adamant/algorithms.h).
#define ADAMANT_DROP_IN(Class, name, ...)    \
  using Class = Optimizer<adamant::Class>; \
  extern template class Optimizer<adamant::Class>;
ADAMANT_OPTIMIZERS(ADAMANT_DROP_IN, ADAMANT_DROP_IN)
#undef ADAMANT_DROP_IN

// By name and key=value options, as adamant::CreateOptimizer (factory.h): same names, options, errors.
std::unique_ptr<TorchOptimizer> Create(std::string_view name, std::vector<::torch::Tensor> params,
                                       const OptionList& options = {});

// adamant's optimizer underneath `optimizer`, or nullptr when it is not one of adamant's.
adamant::Optimizer* CoreOf(::torch::optim::Optimizer& optimizer);

}  // namespace adamant::optim

#endif  // ADAMANT_TORCH_OPTIM_H_
