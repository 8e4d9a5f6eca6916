// Per-parameter optimizer state under PyTorch's names.
#ifndef ADAMANT_STATE_H_
#define ADAMANT_STATE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory_resource>
#include <string>
#include <string_view>
#include <utility>

#include "adamant/buffer.h"

namespace adamant {

// The buffers of one parameter's state by name: a std::map<std::string, Buffer> that also carries a
// stamp, renewed by every member that can change the map or a buffer in it (each non-const one, copying
// and moving). An optimizer remembers where a parameter's buffers are from one step to the next and
// trusts that only while the stamp is unchanged, so a step over thousands of tensors does not look each
// one up by name again; whatever the caller changes through this interface is seen at the next step.
// The map's nodes come from one pool shared by all states, so that the nodes of a model's parameters lie
// side by side in memory rather than between their buffers, one per page.
class StateBuffers {
 public:
  using Map = std::map<std::string, Buffer, std::less<>, std::pmr::polymorphic_allocator<std::pair<const std::string, Buffer>>>;
  using value_type = Map::value_type;
  using iterator = Map::iterator;
  using const_iterator = Map::const_iterator;

  StateBuffers() = default;
  StateBuffers(const StateBuffers& other) : map_(other.map_, Nodes()) {}
  StateBuffers(StateBuffers&& other) noexcept : map_(std::move(other.map_)) { other.Touch(); }
  StateBuffers& operator=(const StateBuffers& other);
  StateBuffers& operator=(StateBuffers&& other) noexcept;

  bool empty() const { return map_.empty(); }
  size_t size() const { return map_.size(); }
  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  const_iterator find(std::string_view name) const { return map_.find(name); }
  bool contains(std::string_view name) const { return map_.find(name) != map_.end(); }
  const Buffer& at(std::string_view name) const;

  // These may change the buffers (through the iterator or reference they return): each renews the stamp.
  iterator begin() { return Touch(), map_.begin(); }
  iterator end() { return Touch(), map_.end(); }
  iterator find(std::string_view name) { return Touch(), map_.find(name); }
  Buffer& at(std::string_view name);
  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    Touch();
    return map_.emplace(std::forward<Args>(args)...);
  }
  size_t erase(std::string_view name);
  iterator erase(const_iterator it) { return Touch(), map_.erase(it); }
  void clear() { Touch(), map_.clear(); }

  // Different after any change made through the members above; never 0.
  uint64_t stamp() const { return stamp_; }

 private:
  void Touch();
  static std::pmr::memory_resource* Nodes();

  Map map_{Nodes()};
  uint64_t stamp_ = NewStamp();

  static uint64_t NewStamp();
};

// What PyTorch keeps in `optimizer.state[p]`. Element buffers by name: exp_avg, exp_avg_sq,
// max_exp_avg_sq (Adam/AdamW with amsgrad), exp_inf (Adamax), sum (Adagrad), square_avg, grad_avg,
// momentum_buffer (RMSprop, SGD), acc_delta (Adadelta), and master_param (the float32 master copy of a
// bf16/fp16 parameter, with Precision::master_weights). Buffers are float64 for float64 parameters and
// float32 otherwise. Scalars: `step` (every algorithm but SGD) and `mu_product` (NAdam). A state is empty
// until the parameter's first step with a gradient.
struct ParamState {
  int64_t step = 0;
  double mu_product = 1.0;
  StateBuffers buffers;

  bool empty() const { return buffers.empty() && step == 0; }
  bool has(std::string_view name) const { return buffers.find(name) != buffers.end(); }
  // Throws std::out_of_range naming the buffer if it does not exist.
  Buffer& at(std::string_view name);
  const Buffer& at(std::string_view name) const;
};

}  // namespace adamant

#endif  // ADAMANT_STATE_H_
