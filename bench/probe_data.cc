#include "probe_data.h"

#include "kernels/kernels.h"

namespace adamant_bench {
namespace {

// Whether the library's active kernel copy prefetches: its AVX-512 copy does (src/kernels/loop.h), chosen
// by the library's own dispatch, so an ADAMANT_TARGET that forces another copy is followed.
bool LibraryPrefetches() { return adamant::kernels::Active().target == "avx512"; }

}  // namespace

ProbeData::ProbeData(const Layout& layout, const Shape& shape, int threads)
    : layout_(layout),
      threads_(threads),
      params_(shape, StorageBytes(layout.storage), 1),
      grads_(shape, StorageBytes(layout.storage), 2),
      partition_(std::vector<int64_t>(static_cast<size_t>(shape.tensors), shape.numel), threads, kAlignElements) {
  for (int s = 0; s < layout.states; ++s) states_.emplace_back(shape, StorageBytes(layout.state), 3 + s);
  tensors_.resize(params_.size());
  for (size_t t = 0; t < tensors_.size(); ++t) {
    tensors_[t] = {params_[t], grads_[t], {}, shape.numel};
    for (int s = 0; s < layout.states; ++s) tensors_[t].state[s] = states_[s][t];
  }
}

void ProbeData::Step() {
  ProbeStep(layout_.storage == Storage::kBFloat16, layout_.states, StorageBytes(layout_.state), tensors_,
            partition_, threads_, LibraryPrefetches());
}

}  // namespace adamant_bench
