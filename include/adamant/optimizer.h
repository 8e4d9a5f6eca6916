// Stateful optimizers: parameter groups, per-parameter state, step() and zero_grad(), as torch.optim.
//
//   std::vector<float> w(10), g(10);
//   adamant::Adam opt({adamant::MakeParam(w.data(), g.data(), 10)}, {.lr = 1e-2});
//   for (...) { compute g; opt.Step(); }
//
// Non-finite gradients (nonfinite.h): set_nonfinite(NonFinite::kSkip) skips a step whose gradients hold a
// NaN or an infinity (last_step_skipped() says so), kRaise throws NonFiniteGradientError; the default,
// kPropagate, is PyTorch's behaviour and costs nothing. Step(StepArgs{.grad_scale = s}) unscales loss-scaled
// gradients inside the step, and StepArgs{.found_inf = true} skips it, as PyTorch's fused optimizers.
//
// Each optimizer validates its options when constructed and every group's options again at each step
// (groups may be edited between steps, e.g. by a learning-rate schedule), then calls the functional layer.
#ifndef ADAMANT_OPTIMIZER_H_
#define ADAMANT_OPTIMIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adamant/element_range.h"
#include "adamant/nonfinite.h"
#include "adamant/option_text.h"
#include "adamant/options.h"
#include "adamant/param.h"
#include "adamant/precision.h"
#include "adamant/state.h"

namespace adamant {

template <class Options>
struct ParamGroup {
  std::vector<ParamView> params;
  Options options;
};

// The interface every optimizer shares, so code can hold one built by name (see factory.h).
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // "adam", "adamw", ...: the name the factory knows it by.
  virtual std::string_view name() const = 0;

  // One update of every parameter that has a gradient.
  void Step() { Step(StepArgs{}); }
  // The same with a loss scaler's arguments (nonfinite.h): gradients divided by args.grad_scale inside the
  // pass (and left unscaled), or, with args.found_inf, no change at all.
  virtual void Step(const StepArgs& args) = 0;

  // What a step does with a NaN or infinite gradient (nonfinite.h); kPropagate by default. With kSkip and
  // kRaise each step first reads every gradient once (a fast vectorized, multi-threaded pass), so that a
  // skipped or refused step changes nothing: no parameter, state, step count or gradient.
  void set_nonfinite(NonFinite policy) { nonfinite_ = policy; }
  NonFinite nonfinite() const { return nonfinite_; }
  // True if the last Step() that returned normally changed nothing because of args.found_inf or, with
  // kSkip, a non-finite gradient: a learning-rate schedule can then hold back too. A step that throws
  // leaves it as it was.
  bool last_step_skipped() const { return last_step_skipped_; }

  // Sets every gradient to zero in place (the gradient buffers belong to the caller).
  void ZeroGrad();

  virtual size_t num_param_groups() const = 0;
  virtual std::span<ParamView> params(size_t group) = 0;
  virtual std::span<const ParamView> params(size_t group) const = 0;

  // Every option by its PyTorch name, as text (option_text.h): read, and change between steps.
  virtual std::vector<std::string> option_names() const = 0;
  virtual std::string GetOption(size_t group, std::string_view key) const = 0;
  virtual void SetOption(size_t group, std::string_view key, std::string_view value) = 0;
  // Several options of one group at once, validated together after all are read, so that options which
  // constrain each other (SGD's nesterov and momentum) can change in one call: all or nothing.
  virtual void SetOptions(size_t group, const OptionList& values) = 0;
  // Throws what SetOptions would throw for the same values, and changes nothing.
  virtual void CheckOptions(size_t group, const OptionList& values) const = 0;

  // The learning rate, which schedules change, without going through text.
  virtual double lr(size_t group) const = 0;
  virtual void set_lr(size_t group, double lr) = 0;
  // How the group's state buffers are stored (its state_dtype option): the dtype of the state buffer `name`
  // of a `dtype` parameter of the group is state_dtype(group).DTypeOf(name, dtype) (float64 parameters
  // keep float64 state; master_param is always float32). A change between steps applies to buffers made after it: an existing buffer of
  // another dtype is refused at the next step (convert the state, or load a checkpoint).
  virtual const StateDTypes& state_dtype(size_t group) const = 0;
  // The group's min_quant_size option: where state_dtype asks for int8, parameters of fewer elements keep
  // float32 state (state_layout.h, StorageFor). Its changes apply as state_dtype's do.
  virtual int64_t min_quant_size(size_t group) const = 0;
  // Throws std::invalid_argument if `dtypes` names a buffer that algorithm `algorithm` does not keep, or if
  // min_quant_size is negative.
  static void ValidateStateDTypes(std::string_view algorithm, const StateDTypes& dtypes, int64_t min_quant_size = 0);

  // State of the index-th parameter of a group (PyTorch keys state by tensor; we key it by position,
  // which survives the caller moving or reallocating its buffers).
  const ParamState& state(size_t group, size_t index) const;
  ParamState& state(size_t group, size_t index);

  // Sharding, a process keeping the state of part of a model: restricts param group `group` to elements
  // [range.begin, range.end) of the concatenation of its parameters in order (every parameter counts, with
  // or without a gradient; ElementRange{}, the default, is the whole group). A parameter's elements
  // outside the range are neither read (its gradient) nor written; its state covers only its elements
  // inside (buffers and master copy of that size); a parameter with none inside gets no state and no step
  // count. A parameter of no elements belongs to the range that holds its start (begin <= start < end).
  // The updates are element-wise, and stochastic rounding draws by the tensor's position in the group and
  // the element's index in the tensor, so optimizers whose ranges partition a group leave it, together,
  // bitwise as one optimizer over the whole group would. The non-finite check (set_nonfinite) reads the
  // range's gradients only: a sharded caller combines the decision across its processes. Set the range
  // before the first step (existing state that does not fit the new range is refused at the next step);
  // checkpoints record it, and load only into an optimizer with the same ranges. Throws
  // std::invalid_argument unless 0 <= begin <= end.
  void set_range(size_t group, ElementRange range);
  ElementRange range(size_t group) const;
  // For each parameter of the group, in order: the part of it inside the group's range, as elements
  // [begin, end) of that parameter; nullopt where the range holds none of it. Parameters with a negative
  // element count hold none.
  std::vector<std::optional<ElementRange>> OwnedElements(size_t group) const;

  // The bytes of every state buffer held (the algorithm's and the master copies), over all groups: 8 per
  // float32 parameter for Adam, 4 with bfloat16 state, 2 and 4 per 256 elements (the block maxima) with
  // int8 state; for a group restricted to a range, those of its elements inside.
  size_t state_nbytes() const;

  // How bf16/fp16 parameters are updated (precision.h). Set it before the first step: switching master
  // weights on later creates the master copies from the parameters as they are then.
  void set_precision(const Precision& precision) { precision_ = precision; }
  const Precision& precision() const { return precision_; }

  // Steps taken by this optimizer (successful Step() calls). Stochastic rounding draws from it, so a
  // checkpoint that restores it repeats the uninterrupted run.
  uint64_t steps_taken() const { return steps_taken_; }
  void set_steps_taken(uint64_t steps) { steps_taken_ = steps; }

  // For the optimizers' own use (public so that their helpers can name it):
  // Where the last step found one parameter's state: the algorithm's buffers (in its kernel's order), the
  // master copy, and the block maxima of int8 buffers. It holds while the state's stamp (StateBuffers),
  // the parameter's size and dtype, and `key` (which buffers the options ask for) are unchanged, and each
  // buffer still has the address, size and dtype noted (a Buffer replaced through a reference kept from
  // before is noticed too). The buffers are only read for that when some Buffer has changed since
  // (Buffer::changes()): in a training loop, none has.
  struct StateRefs {
    // Slots 0-2 the algorithm's buffers, 3 master_param, 4-6 the block maxima of buffers 0-2 (int8).
    static constexpr int kMaxBuffers = 7;
    static constexpr int kMasterSlot = 3;
    static constexpr int kAbsmaxSlot = 4;
    uint64_t stamp = 0;           // 0: nothing noted
    uint64_t buffer_changes = 0;  // Buffer::changes() when the buffers were last seen as noted
    int64_t numel = -1;
    DType dtype = DType::kFloat32;
    uint32_t key = 0;
    const Buffer* buffers[kMaxBuffers] = {};
    void* data[kMaxBuffers] = {};
    DType dtypes[kMaxBuffers] = {};   // each buffer's dtype
    int64_t numels[kMaxBuffers] = {};  // and element count
  };
  // The parameters of a group as its range restricts them (set_range): `params` are views of the
  // elements inside the range (a view without a gradient where there are none), parallel to the group's,
  // `offsets` where each view starts in its parameter and `positions` each parameter's position among
  // those of the group that have a gradient; both are empty for the whole group, whose views are the
  // parameters themselves.
  struct GroupParams {
    std::span<const ParamView> params;
    std::span<const ParamView> whole;  // the group's parameters themselves
    std::vector<ParamView> views;
    std::vector<int64_t> offsets;
    std::vector<int64_t> positions;
  };
  // True if `refs` still describes `state` for the parameter `p` (StateRefs::key aside).
  static bool Holds(const StateRefs& refs, const ParamState& state, const ParamView& p);
  // A group's last step as the kernels saw it (its kind is internal: core/step_plan.h), so that the next
  // step over the same tensors and state reuses it. A copy of an optimizer starts without one.
  class StepPlan {
   public:
    virtual ~StepPlan();
  };
  class KeptPlan {
   public:
    KeptPlan() = default;
    KeptPlan(const KeptPlan&) {}
    KeptPlan& operator=(const KeptPlan&) { return plan.reset(), *this; }
    KeptPlan(KeptPlan&&) noexcept = default;
    KeptPlan& operator=(KeptPlan&&) noexcept = default;
    std::unique_ptr<StepPlan> plan;
  };

 protected:
  void CheckGroup(size_t group) const;
  // Checks the parameters of a group that have a gradient (size, dtype, pointers) and that their existing
  // state fits them, so that creating state and updating cannot fail halfway.
  void CheckParams(size_t group, std::span<const ParamView> params) const;
  // The precision of param group `group` for the next step: its seed is StreamSeed(seed, steps_taken(),
  // group) (precision.h), so stochastic rounding draws new bits every step and tensor i of one group does
  // not share its bits with tensor i of another.
  Precision NextStepPrecision(size_t group) const;
  // Counts a step that updated every group (NextStepPrecision then draws new bits).
  void CountStep() { ++steps_taken_; }
  // True if the step must change nothing: args.found_inf, or a non-finite gradient under kSkip (and sets
  // last_step_skipped()); throws NonFiniteGradientError under kRaise. Called once everything is checked.
  bool SkipStep(const StepArgs& args);
  void set_last_step_skipped(bool skipped) { last_step_skipped_ = skipped; }

  // Fills owned_[group] from the group's parameters and range.
  const GroupParams& Own(size_t group, std::span<const ParamView> params);

  // The noted state of every parameter, parallel to states_; grown by the steps.
  std::vector<std::vector<StateRefs>> refs_;
  // The state_dtype of each group when its notes were last made by a step that succeeded: under another,
  // the notes say nothing of whether the buffers fit (CheckParams checks them all).
  std::vector<std::pair<StateDTypes, int64_t>> noted_dtypes_;  // and min_quant_size
  std::vector<KeptPlan> plans_;       // parallel to the groups; grown by the steps
  std::vector<ElementRange> ranges_;  // parallel to the groups, or shorter (the rest are whole)
  std::vector<GroupParams> owned_;    // filled by each step: Own

  std::vector<std::vector<ParamState>> states_;  // parallel to the groups
  Precision precision_;
  uint64_t steps_taken_ = 0;  // steps that were taken (not skipped)
  NonFinite nonfinite_ = NonFinite::kPropagate;
  bool last_step_skipped_ = false;
};

// Holds the groups of one algorithm's options; subclasses implement StepGroup().
template <class Options>
class OptimizerBase : public Optimizer {
 public:
  using OptionsType = Options;

  const Options& defaults() const { return defaults_; }

  // A group with the optimizer's default options.
  void AddParamGroup(std::vector<ParamView> params) { AddParamGroup({std::move(params), defaults_}); }
  virtual void AddParamGroup(ParamGroup<Options> group) {
    Check(group.options);
    states_.emplace_back(group.params.size());
    groups_.push_back(std::move(group));
  }

  ParamGroup<Options>& param_group(size_t i) {
    CheckGroup(i);
    return groups_[i];
  }
  const ParamGroup<Options>& param_group(size_t i) const {
    CheckGroup(i);
    return groups_[i];
  }

  using Optimizer::Step;
  // Every check of every group happens before any group is updated: a rejected or skipped step changes
  // nothing.
  void Step(const StepArgs& args) override {
    if (refs_.size() < groups_.size()) refs_.resize(groups_.size());
    if (owned_.size() < groups_.size()) owned_.resize(groups_.size());
    if (plans_.size() < groups_.size()) plans_.resize(groups_.size());
    if (noted_dtypes_.size() < groups_.size()) noted_dtypes_.resize(groups_.size());
    for (size_t g = 0; g < groups_.size(); ++g) {
      // Parameters appended to a group since the last step start with empty state.
      if (states_[g].size() < groups_[g].params.size()) states_[g].resize(groups_[g].params.size());
      refs_[g].resize(groups_[g].params.size());
      Check(groups_[g].options);
      CheckParams(g, Own(g, groups_[g].params).params);
    }
    ValidateStepArgs(args);
    if (SkipStep(args)) return;
    for (size_t g = 0; g < groups_.size(); ++g) {
      StepGroup(groups_[g].options, owned_[g], states_[g], refs_[g], plans_[g].plan, NextStepPrecision(g), args);
      noted_dtypes_[g] = {groups_[g].options.state_dtype, groups_[g].options.min_quant_size};
    }
    CountStep();
    set_last_step_skipped(false);
  }

  size_t num_param_groups() const override { return groups_.size(); }
  std::span<ParamView> params(size_t group) override { return param_group(group).params; }
  std::span<const ParamView> params(size_t group) const override { return param_group(group).params; }

  std::vector<std::string> option_names() const override {
    std::vector<std::string> names;
    Options o = defaults_;
    VisitOptions(o, [&](std::string_view key, auto&) { names.emplace_back(key); });
    return names;
  }
  std::string GetOption(size_t group, std::string_view key) const override {
    Options o = param_group(group).options;
    std::string out;
    bool found = false;
    VisitOptions(o, [&](std::string_view k, auto& field) {
      if (k == key) out = OptionToString(field), found = true;
    });
    if (!found) ThrowUnknownOption(key);
    return out;
  }
  void SetOption(size_t group, std::string_view key, std::string_view value) override {
    Options o = param_group(group).options;
    bool found = false;
    VisitOptions(o, [&](std::string_view k, auto& field) {
      if (k == key) OptionFromString(k, value, field), found = true;
    });
    if (!found) ThrowUnknownOption(key);
    Check(o);
    groups_[group].options = o;
  }
  void SetOptions(size_t group, const OptionList& values) override {
    Options o = WithOptions(group, values);
    groups_[group].options = o;
  }
  void CheckOptions(size_t group, const OptionList& values) const override { WithOptions(group, values); }
  double lr(size_t group) const override { return param_group(group).options.lr; }
  void set_lr(size_t group, double lr) override { param_group(group).options.lr = lr; }
  const StateDTypes& state_dtype(size_t group) const override { return param_group(group).options.state_dtype; }
  int64_t min_quant_size(size_t group) const override { return param_group(group).options.min_quant_size; }

 protected:
  // `algorithm`: the name of the algorithm whose options these are (before the subclass exists, name()
  // cannot say it).
  OptimizerBase(std::vector<ParamGroup<Options>> groups, const Options& defaults, std::string_view algorithm)
      : algorithm_(algorithm), defaults_(defaults) {
    Check(defaults_);
    for (auto& group : groups) AddParamGroup(std::move(group));
  }
  OptimizerBase(std::vector<ParamView> params, const Options& defaults, std::string_view algorithm)
      : algorithm_(algorithm), defaults_(defaults) {
    Check(defaults_);
    AddParamGroup(std::move(params));
  }

  // Validates options: the algorithm's Validate, the buffer names of state_dtype, and min_quant_size.
  void Check(const Options& o) const {
    Validate(o);
    ValidateStateDTypes(algorithm_, o.state_dtype, o.min_quant_size);
  }

  void ThrowUnknownOption(std::string_view key) const {
    std::string valid;
    for (const auto& n : option_names()) valid += (valid.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown option '" + std::string(key) + "' for " + std::string(name()) +
                                " (valid: " + valid + ")");
  }

  // The group's options with `values` applied, validated; throws naming an unknown or repeated key.
  Options WithOptions(size_t group, const OptionList& values) const {
    Options o = param_group(group).options;
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string& key = values[i].first;
      const std::string& value = values[i].second;
      for (size_t j = 0; j < i; ++j) {
        if (values[j].first == key) {
          throw std::invalid_argument("option '" + key + "' given twice for " + std::string(name()));
        }
      }
      bool found = false;
      VisitOptions(o, [&](std::string_view k, auto& field) {
        if (k == key) OptionFromString(k, value, field), found = true;
      });
      if (!found) ThrowUnknownOption(key);
    }
    Check(o);
    return o;
  }

  // Updates the parameters of one group that have a gradient (as its range restricts them), creating their
  // state on first use; `refs` notes where each parameter's state is, and `plan` keeps the step, for the
  // next step.
  virtual void StepGroup(const Options& options, const GroupParams& params, std::vector<ParamState>& states,
                         std::vector<StateRefs>& refs, std::unique_ptr<StepPlan>& plan,
                         const Precision& precision, const StepArgs& args) = 0;

 private:
  std::string_view algorithm_;
  Options defaults_;
  std::vector<ParamGroup<Options>> groups_;
};

#define ADAMANT_DECLARE_OPTIMIZER(Class, OptionsT, name_)                                  \
  class Class : public OptimizerBase<OptionsT> {                                          \
   public:                                                                                \
    explicit Class(std::vector<ParamView> params, const OptionsT& defaults = OptionsT{})   \
        : OptimizerBase(std::move(params), defaults, name_) {}                            \
    Class(std::vector<ParamGroup<OptionsT>> groups, const OptionsT& defaults = OptionsT{}) \
        : OptimizerBase(std::move(groups), defaults, name_) {}                            \
    static constexpr std::string_view kName = name_;                                      \
    std::string_view name() const override { return kName; }                             \
                                                                                          \
   protected:                                                                             \
    void StepGroup(const OptionsT& options, const GroupParams& params,                   \
                   std::vector<ParamState>& states, std::vector<StateRefs>& refs,         \
                   std::unique_ptr<StepPlan>& plan, const Precision& precision,           \
                   const StepArgs& args) override;                                        \
  }

// adamant::Adam, adamant::Adamax, ...: one class per algorithm of the list (adamant/algorithms.h).
#define ADAMANT_DECLARE_ALGORITHM(Class, name) ADAMANT_DECLARE_OPTIMIZER(Class, Class##Options, name);
ADAMANT_OPTIMIZERS(ADAMANT_DECLARE_ALGORITHM, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_DECLARE_ALGORITHM
#undef ADAMANT_DECLARE_OPTIMIZER

// AdamW: Adam with decoupled weight decay (PyTorch's AdamW, weight_decay 1e-2 by default).
class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<ParamView> params, const AdamWOptions& defaults = AdamWOptions{})
      : Adam(std::move(params), defaults) {}
  // Every group is made decoupled: a group built from plain AdamOptions would otherwise silently be Adam.
  AdamW(std::vector<ParamGroup<AdamOptions>> groups, const AdamWOptions& defaults = AdamWOptions{})
      : Adam(Decoupled(std::move(groups)), defaults) {}
  static constexpr std::string_view kName = "adamw";
  std::string_view name() const override { return kName; }

  using Adam::AddParamGroup;
  void AddParamGroup(ParamGroup<AdamOptions> group) override {
    group.options.decoupled_weight_decay = true;
    Adam::AddParamGroup(std::move(group));
  }
  // AdamW always decouples: the option is not offered (as PyTorch's AdamW has no such argument).
  std::vector<std::string> option_names() const override;
  std::string GetOption(size_t group, std::string_view key) const override;
  void SetOption(size_t group, std::string_view key, std::string_view value) override;
  void SetOptions(size_t group, const OptionList& values) override;
  void CheckOptions(size_t group, const OptionList& values) const override;

 private:
  static std::vector<ParamGroup<AdamOptions>> Decoupled(std::vector<ParamGroup<AdamOptions>> groups) {
    for (auto& g : groups) g.options.decoupled_weight_decay = true;
    return groups;
  }
};

}  // namespace adamant

#endif  // ADAMANT_OPTIMIZER_H_
