// Per-parameter optimizer state under PyTorch's names.
#ifndef ADAMANT_STATE_H_
#define ADAMANT_STATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "adamant/buffer.h"

namespace adamant {

// What PyTorch keeps in `optimizer.state[p]`. Element buffers by name: exp_avg, exp_avg_sq,
// max_exp_avg_sq (Adam/AdamW with amsgrad), exp_inf (Adamax), sum (Adagrad), square_avg, grad_avg,
// momentum_buffer (RMSprop, SGD), acc_delta (Adadelta), and master_param (the float32 master copy of a
// bf16/fp16 parameter, with Precision::master_weights). Buffers are float64 for float64 parameters and
// float32 otherwise. Scalars: `step` (every algorithm but SGD) and `mu_product` (NAdam). A state is empty
// until the parameter's first step with a gradient.
struct ParamState {
  int64_t step = 0;
  double mu_product = 1.0;
  std::map<std::string, Buffer, std::less<>> buffers;

  bool empty() const { return buffers.empty() && step == 0; }
  bool has(std::string_view name) const { return buffers.find(name) != buffers.end(); }
  // Throws std::out_of_range naming the buffer if it does not exist.
  Buffer& at(std::string_view name);
  const Buffer& at(std::string_view name) const;
};

}  // namespace adamant

#endif  // ADAMANT_STATE_H_
