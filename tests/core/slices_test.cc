// A step over slices of tensors (functional::Tensor::offset and ::position: the shards a process would own)
// gives, in any number of calls, the bits of one step over the whole tensors: the rules are element-wise,
// and stochastic rounding draws by the tensor's position in the whole call and the element's index in the
// whole tensor.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "adamant/functional.h"
#include "adamant/options.h"
#include "adamant/param.h"
#include "adamant/precision.h"
#include "support/half.h"

namespace adamant {
namespace {

constexpr int64_t kSizes[] = {1000, 37, 4097};
constexpr int kTensors = 3;

// Parameters, gradients, state and master copies of kTensors tensors.
struct Model {
  DType dtype;
  std::vector<std::vector<uint16_t>> param16, grad16;
  std::vector<std::vector<float>> param32, grad32, master;
  std::vector<std::vector<float>> state[kMaxStateBuffers];

  Model(DType d, bool with_master) : dtype(d) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t n : kSizes) {
      const auto size = static_cast<size_t>(n);
      param32.emplace_back(size);
      grad32.emplace_back(size);
      param16.emplace_back(size);
      grad16.emplace_back(size);
      for (size_t j = 0; j < size; ++j) {
        param32.back()[j] = normal(rng);
        grad32.back()[j] = normal(rng) * 0.1f;
        param16.back()[j] = test_support::Narrow(DType::kBFloat16, param32.back()[j]);
        grad16.back()[j] = test_support::Narrow(DType::kBFloat16, grad32.back()[j]);
      }
      master.emplace_back(with_master ? size : 0);
      for (size_t j = 0; j < master.back().size(); ++j) master.back()[j] = test_support::Widen(d, param16.back()[j]);
      for (auto& s : state) s.emplace_back(size, 0.0f);
    }
  }

  // Elements [begin, end) of tensor i, as the slice a shard would hold (offset `begin`, position i).
  functional::Tensor Slice(size_t i, int64_t begin, int64_t end, int nbuf, bool fresh) {
    const bool half = dtype != DType::kFloat32;
    void* p = half ? static_cast<void*>(param16[i].data() + begin) : static_cast<void*>(param32[i].data() + begin);
    void* g = half ? static_cast<void*>(grad16[i].data() + begin) : static_cast<void*>(grad32[i].data() + begin);
    functional::Tensor t{ParamView{p, g, end - begin, dtype}};
    for (int k = 0; k < nbuf; ++k) t.state[static_cast<size_t>(k)] = state[k][i].data() + begin;
    t.master = master[i].empty() ? nullptr : master[i].data() + begin;
    t.fresh = fresh;
    t.offset = begin;
    t.position = static_cast<int64_t>(i);
    return t;
  }

  bool operator==(const Model& o) const {
    for (int k = 0; k < kMaxStateBuffers; ++k) {
      if (state[k] != o.state[k]) return false;
    }
    return param16 == o.param16 && param32 == o.param32 && master == o.master;
  }
};

// Steps `model` whole, and a copy in three calls over slices cut at uneven points; both must agree bitwise.
template <class Options>
void ExpectSlicesMatchWhole(const Options& o, int nbuf, bool fresh, DType dtype, bool with_master) {
  SCOPED_TRACE(std::string(DTypeName(dtype)) + (with_master ? " master" : "") + " buffers " + std::to_string(nbuf));
  const Precision precision{.rounding = Rounding::kStochastic, .seed = 1234};
  Model whole(dtype, with_master);
  Model sliced = whole;
  std::vector<functional::Tensor> all;
  for (size_t i = 0; i < kTensors; ++i) {
    functional::Tensor t = whole.Slice(i, 0, kSizes[i], nbuf, fresh);
    t.position = -1;  // its place in this call
    all.push_back(t);
  }
  functional::Step(all, o, precision);
  // Three "shards": each holds a piece of every tensor, cut where no 16-element boundary falls.
  for (int shard = 0; shard < 3; ++shard) {
    std::vector<functional::Tensor> mine;
    for (size_t i = 0; i < kTensors; ++i) {
      const int64_t begin = kSizes[i] * shard / 3 + (shard > 0 ? 1 : 0);
      const int64_t end = shard == 2 ? kSizes[i] : kSizes[i] * (shard + 1) / 3 + 1;
      mine.push_back(sliced.Slice(i, begin, end, nbuf, fresh));
    }
    functional::Step(mine, o, precision);
  }
  EXPECT_TRUE(sliced == whole);
}

TEST(Slices, StepTheSameBitsAsTheWholeTensors) {
  for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
    for (bool with_master : {false, true}) {
      if (dtype == DType::kFloat32 && with_master) continue;
      ExpectSlicesMatchWhole(AdamOptions{.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true}, 3, false, dtype,
                             with_master);
      ExpectSlicesMatchWhole(LionOptions{.lr = 1e-2, .weight_decay = 0.5}, 1, false, dtype, with_master);
      ExpectSlicesMatchWhole(SGDOptions{.lr = 1e-2, .momentum = 0.9, .nesterov = true}, 1, true, dtype, with_master);
    }
  }
}

TEST(Slices, StochasticRoundingDrawsByTheWholeTensorsIndex) {
  // Without the offset a slice would draw the bits of the tensor's first elements: the results differ.
  const Precision precision{.rounding = Rounding::kStochastic, .seed = 99};
  Model whole(DType::kBFloat16, false);
  Model wrong = whole;
  std::vector<functional::Tensor> all = {whole.Slice(0, 0, kSizes[0], 2, false)};
  functional::Step(all, AdamOptions{.lr = 1e-2}, precision);
  std::vector<functional::Tensor> tail = {wrong.Slice(0, 0, 500, 2, false), wrong.Slice(0, 500, kSizes[0], 2, false)};
  tail[1].offset = 0;
  functional::Step(std::span<const functional::Tensor>(&tail[0], 1), AdamOptions{.lr = 1e-2}, precision);
  functional::Step(std::span<const functional::Tensor>(&tail[1], 1), AdamOptions{.lr = 1e-2}, precision);
  EXPECT_FALSE(wrong == whole);
}

TEST(Slices, RefusesANegativeOffsetOrPosition) {
  Model m(DType::kFloat32, false);
  std::vector<functional::Tensor> t = {m.Slice(0, 0, 10, 2, false)};
  t[0].offset = -1;
  EXPECT_THROW(functional::Step(t, AdamOptions{}), std::invalid_argument);
  t[0].offset = 0;
  t[0].position = -2;
  EXPECT_THROW(functional::Step(t, AdamOptions{}), std::invalid_argument);
}

}  // namespace
}  // namespace adamant
