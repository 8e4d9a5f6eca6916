// Hyperparameters of every algorithm: PyTorch's names, defaults and validation.
//
// Each struct holds one algorithm's options with PyTorch's defaults (current PyTorch, not 1.13: e.g. SGD's
// lr defaults to 1e-3). Validate() throws std::invalid_argument with PyTorch's message ("Invalid learning
// rate: -1.0"); the Python module turns that into ValueError. VisitOptions() lists (name, field) pairs: the
// factory, the command line and checkpoints read and write options through it, so names live in one place.
#ifndef ADAMANT_OPTIONS_H_
#define ADAMANT_OPTIONS_H_

#include <array>
#include <string_view>

namespace adamant {

using Betas = std::array<double, 2>;

// Where the Adam family adds epsilon to the denominator.
//   kPyTorch:    m_hat / (sqrt(v_hat) + eps)  — the Adam paper's Algorithm 1 and torch.optim (default).
//   kTensorFlow: TensorFlow/Keras's "epsilon hat": lr * sqrt(bc2) / bc1 * m / (sqrt(v) + eps), i.e. eps
//                added to the root of the uncorrected v. For Adamax, eps is added after the max instead
//                of inside it (Keras's Adamax).
enum class EpsMode { kPyTorch, kTensorFlow };

struct AdamOptions {
  double lr = 1e-3;
  Betas betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;            // L2 (added to the gradient) unless decoupled_weight_decay
  bool amsgrad = false;                 // max over the raw (uncorrected) second moment
  bool maximize = false;
  bool decoupled_weight_decay = false;  // AdamW: p *= 1 - lr * weight_decay before the update
  bool bias_correction = true;          // false: the uncorrected variant of the Adam paper's Figure 4
  EpsMode eps_mode = EpsMode::kPyTorch;
};

// AdamW is Adam with decoupled weight decay and PyTorch's AdamW default weight_decay of 1e-2.
struct AdamWOptions : AdamOptions {
  AdamWOptions() {
    weight_decay = 1e-2;
    decoupled_weight_decay = true;
  }
};

struct AdamaxOptions {
  double lr = 2e-3;
  Betas betas = {0.9, 0.999};
  double eps = 1e-8;  // inside the max, as PyTorch (kPyTorch); after it with kTensorFlow
  double weight_decay = 0.0;
  bool maximize = false;
  bool bias_correction = true;
  EpsMode eps_mode = EpsMode::kPyTorch;
};

struct NAdamOptions {
  double lr = 2e-3;
  Betas betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum_decay = 4e-3;
  bool decoupled_weight_decay = false;
  bool maximize = false;
  bool bias_correction = true;
  EpsMode eps_mode = EpsMode::kPyTorch;
};

struct RAdamOptions {
  double lr = 1e-3;
  Betas betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;
  bool maximize = false;
  bool bias_correction = true;
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  bool maximize = false;
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;
};

struct AdadeltaOptions {
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0.0;
  bool maximize = false;
};

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
};

// Throw std::invalid_argument with PyTorch's wording for the first invalid value.
void Validate(const AdamOptions& options);
void Validate(const AdamaxOptions& options);
void Validate(const NAdamOptions& options);
void Validate(const RAdamOptions& options);
void Validate(const AdagradOptions& options);
void Validate(const RMSpropOptions& options);
void Validate(const AdadeltaOptions& options);
void Validate(const SGDOptions& options);

// "pytorch" / "tensorflow".
std::string_view EpsModeName(EpsMode mode);

// Calls visit(name, field) for every option, in the order of the struct. Field types: double, bool,
// Betas, EpsMode.
template <class Options, class Visitor>
void VisitOptions(Options& o, Visitor&& visit);

template <class Visitor>
void VisitOptionsImpl(AdamOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("betas", o.betas);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("amsgrad", o.amsgrad);
  visit("maximize", o.maximize);
  visit("decoupled_weight_decay", o.decoupled_weight_decay);
  visit("bias_correction", o.bias_correction);
  visit("eps_mode", o.eps_mode);
}
template <class Visitor>
void VisitOptionsImpl(AdamaxOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("betas", o.betas);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("maximize", o.maximize);
  visit("bias_correction", o.bias_correction);
  visit("eps_mode", o.eps_mode);
}
template <class Visitor>
void VisitOptionsImpl(NAdamOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("betas", o.betas);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("momentum_decay", o.momentum_decay);
  visit("decoupled_weight_decay", o.decoupled_weight_decay);
  visit("maximize", o.maximize);
  visit("bias_correction", o.bias_correction);
  visit("eps_mode", o.eps_mode);
}
template <class Visitor>
void VisitOptionsImpl(RAdamOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("betas", o.betas);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("decoupled_weight_decay", o.decoupled_weight_decay);
  visit("maximize", o.maximize);
  visit("bias_correction", o.bias_correction);
}
template <class Visitor>
void VisitOptionsImpl(AdagradOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("lr_decay", o.lr_decay);
  visit("weight_decay", o.weight_decay);
  visit("initial_accumulator_value", o.initial_accumulator_value);
  visit("eps", o.eps);
  visit("maximize", o.maximize);
}
template <class Visitor>
void VisitOptionsImpl(RMSpropOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("alpha", o.alpha);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("momentum", o.momentum);
  visit("centered", o.centered);
  visit("maximize", o.maximize);
}
template <class Visitor>
void VisitOptionsImpl(AdadeltaOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("rho", o.rho);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("maximize", o.maximize);
}
template <class Visitor>
void VisitOptionsImpl(SGDOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("momentum", o.momentum);
  visit("dampening", o.dampening);
  visit("weight_decay", o.weight_decay);
  visit("nesterov", o.nesterov);
  visit("maximize", o.maximize);
}

template <class Options, class Visitor>
void VisitOptions(Options& o, Visitor&& visit) {
  VisitOptionsImpl(o, visit);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_H_
