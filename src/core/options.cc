// Validation with torch.optim's messages (current PyTorch), so the Python drop-ins raise the same text.
#include <stdexcept>
#include <string>

#include "adamant/option_text.h"
#include "adamant/options.h"

namespace adamant {
namespace {

// torch writes f"Invalid learning rate: {lr}"; FormatNumber prints the value as Python's repr would.
void Require(bool ok, const char* what, double value) {
  if (!ok) throw std::invalid_argument(std::string(what) + ": " + FormatNumber(value));
}

// `not 0.0 <= x` in PyTorch, which also rejects NaN.
bool NonNegative(double x) { return 0.0 <= x; }

void CheckCommon(double lr, double eps) {
  Require(NonNegative(lr), "Invalid learning rate", lr);
  Require(NonNegative(eps), "Invalid epsilon value", eps);
}

void CheckBetas(const Betas& betas) {
  Require(0.0 <= betas[0] && betas[0] < 1.0, "Invalid beta parameter at index 0", betas[0]);
  Require(0.0 <= betas[1] && betas[1] < 1.0, "Invalid beta parameter at index 1", betas[1]);
}

void CheckWeightDecay(double wd) { Require(NonNegative(wd), "Invalid weight_decay value", wd); }

}  // namespace

std::string_view EpsModeName(EpsMode mode) {
  return mode == EpsMode::kTensorFlow ? "tensorflow" : "pytorch";
}

void Validate(const AdamOptions& o) {
  CheckCommon(o.lr, o.eps);
  CheckBetas(o.betas);
  CheckWeightDecay(o.weight_decay);
}

void Validate(const AdamaxOptions& o) {
  CheckCommon(o.lr, o.eps);
  CheckBetas(o.betas);
  CheckWeightDecay(o.weight_decay);
}

void Validate(const NAdamOptions& o) {
  CheckCommon(o.lr, o.eps);
  CheckBetas(o.betas);
  CheckWeightDecay(o.weight_decay);
  Require(NonNegative(o.momentum_decay), "Invalid momentum_decay value", o.momentum_decay);
}

void Validate(const RAdamOptions& o) {
  CheckCommon(o.lr, o.eps);
  CheckBetas(o.betas);
  CheckWeightDecay(o.weight_decay);
}

void Validate(const AdagradOptions& o) {
  Require(NonNegative(o.lr), "Invalid learning rate", o.lr);
  Require(NonNegative(o.lr_decay), "Invalid lr_decay value", o.lr_decay);
  CheckWeightDecay(o.weight_decay);
  Require(NonNegative(o.initial_accumulator_value), "Invalid initial_accumulator_value value",
          o.initial_accumulator_value);
  Require(NonNegative(o.eps), "Invalid epsilon value", o.eps);
}

void Validate(const RMSpropOptions& o) {
  CheckCommon(o.lr, o.eps);
  Require(NonNegative(o.momentum), "Invalid momentum value", o.momentum);
  CheckWeightDecay(o.weight_decay);
  Require(NonNegative(o.alpha), "Invalid alpha value", o.alpha);
}

void Validate(const AdadeltaOptions& o) {
  Require(NonNegative(o.lr), "Invalid learning rate", o.lr);
  Require(0.0 <= o.rho && o.rho <= 1.0, "Invalid rho value", o.rho);
  Require(NonNegative(o.eps), "Invalid epsilon value", o.eps);
  CheckWeightDecay(o.weight_decay);
}

void Validate(const SGDOptions& o) {
  // PyTorch's SGD checks `x < 0.0`, unlike the other optimizers' `not 0.0 <= x`: NaN passes.
  Require(!(o.lr < 0.0), "Invalid learning rate", o.lr);
  Require(!(o.momentum < 0.0), "Invalid momentum value", o.momentum);
  Require(!(o.weight_decay < 0.0), "Invalid weight_decay value", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
    throw std::invalid_argument("Nesterov momentum requires a momentum and zero dampening");
  }
}

}  // namespace adamant
