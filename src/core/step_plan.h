// A param group's step as the kernels saw it, kept from one step to the next: the optimizers step the same
// tensors with the same state thousands of times, and describing each tensor again (finding its state,
// checking it, filling its kernel slot) costs more than updating a small tensor's elements. While the
// tensors and their state are as the last step left them, the next step refreshes only what changes with
// the step (the step's scalars, the stochastic-rounding stream, the loss scale) and runs the kernels.
#ifndef ADAMANT_CORE_STEP_PLAN_H_
#define ADAMANT_CORE_STEP_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "adamant/optimizer.h"
#include "adamant/options.h"
#include "adamant/precision.h"
#include "kernels/kernels.h"

namespace adamant::core {

// What the optimizer compares to decide that a step may reuse the plan.
struct PlanBase : Optimizer::StepPlan {
  // For each parameter of the group, the view the plan's step updated (as the group's range restricts
  // it); a view without a gradient for one it did not update.
  std::vector<ParamView> views;
  std::vector<int64_t> offsets;  // parallel to views; empty for a whole group
  std::vector<size_t> with;      // the positions of the updated parameters, in order
  uint32_t key = 0;              // the state the options asked for (optimizer.cc's Key)
  Rounding rounding = Rounding::kNearestEven;
};

// The kernel slots of algorithm A's step over `with`, and each slot's stochastic-rounding position.
template <class A>
struct StepPlanOf : PlanBase {
  std::vector<kernels::StepSlot<A>> slots;
  std::vector<size_t> positions;
};

}  // namespace adamant::core

namespace adamant::functional::internal {

// functional::Step that also keeps the step's slots in `plan` (slots and positions), for StepAgain; false
// if it kept none (a tensor has a layout: adamant/param.h).
template <class A>
bool StepKeeping(std::span<const Tensor> tensors, const typename A::Options& options, const Precision& precision,
                 const StepArgs& args, core::StepPlanOf<A>& plan);

// The step of the same tensors with the same state pointers again, as StepKeeping kept it, now at step
// steps[j] for slot j (0 for algorithms that keep no step count) and, for an algorithm with a scalar
// state, with scalar_states[j] (advanced by the step). Nothing is checked: the caller has made sure that
// the tensors, their state and the options' modes are those the plan was made with, and validated the
// options and arguments. Nothing is fresh.
template <class A>
void StepAgain(core::StepPlanOf<A>& plan, const typename A::Options& options, const Precision& precision,
               const StepArgs& args, std::span<const int64_t> steps, std::span<double* const> scalar_states);

}  // namespace adamant::functional::internal

#endif  // ADAMANT_CORE_STEP_PLAN_H_
