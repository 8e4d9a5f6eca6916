// The per-tensor work of a step is spread over the threads in runs (core::ParallelRuns): checks, finding
// or creating state, describing the kernel slots, advancing step counters. What that must not change:
// the first failing tensor in order is the one reported and a rejected step changes nothing, whatever the
// thread count; and parameters and state are bit for bit those of one thread.
#include "core/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "adamant/buffer.h"
#include "adamant/functional.h"
#include "adamant/optimizer.h"
#include "adamant/threads.h"

namespace adamant {
namespace {

struct RestoreThreads {
  ~RestoreThreads() { SetNumThreads(0); }
};

// Enough tensors for several runs on every thread count tested.
constexpr size_t kTensors = 2000;

TEST(ParallelRuns, CoverEveryItemOnceInOrderedRuns) {
  RestoreThreads restore;
  for (int threads : {1, 2, 3, 7}) {
    SetNumThreads(threads);
    for (size_t count : {size_t{0}, size_t{1}, size_t{255}, size_t{600}, kTensors}) {
      const int runs = core::RunsFor(count);
      EXPECT_GE(runs, 1);
      EXPECT_LE(runs, threads);
      std::vector<std::atomic<int>> seen(count);
      std::vector<std::pair<size_t, size_t>> ranges(static_cast<size_t>(runs), {1, 0});
      core::ParallelRuns(count, [&](size_t begin, size_t end, int run) {
        ASSERT_GE(run, 0);
        ASSERT_LT(run, runs);
        ranges[static_cast<size_t>(run)] = {begin, end};
        for (size_t i = begin; i < end; ++i) seen[i]++;
      });
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i << " of " << count;
      if (count == 0) continue;
      // Run r covers the items right after run r - 1's.
      size_t next = 0;
      for (const auto& [begin, end] : ranges) {
        EXPECT_EQ(begin, next);
        next = end;
      }
      EXPECT_EQ(next, count);
    }
  }
  SetNumThreads(2);
  EXPECT_EQ(core::RunsFor(kTensors), 2) << "two threads should share 2000 tensors";
}

TEST(ParallelRuns, TheLowestRunsExceptionIsRethrown) {
  RestoreThreads restore;
  for (int threads : {1, 2, 7}) {
    SetNumThreads(threads);
    // Items 1500 and 1900 fail; a loop in order stops at 1500, and so must the runs.
    try {
      core::ParallelRuns(kTensors, [&](size_t begin, size_t end, int) {
        for (size_t i = begin; i < end; ++i) {
          if (i == 1500 || i == 1900) throw std::runtime_error("item " + std::to_string(i));
        }
      });
      ADD_FAILURE() << "no exception with " << threads << " threads";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "item 1500") << threads << " threads";
    }
  }
}

// A model of kTensors float32 parameters of a few elements each (sizes vary, so runs and pieces cut
// tensors at different places).
struct Model {
  std::vector<std::vector<float>> data, grad;
  explicit Model(uint32_t seed = 1) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (size_t i = 0; i < kTensors; ++i) {
      const size_t n = 1 + rng() % 40;
      data.emplace_back(n);
      grad.emplace_back(n);
      for (float& x : data.back()) x = normal(rng);
      for (float& x : grad.back()) x = normal(rng);
    }
  }
  std::vector<ParamView> views() {
    std::vector<ParamView> v;
    for (size_t i = 0; i < data.size(); ++i) {
      v.push_back(MakeParam(data[i].data(), grad[i].data(), static_cast<int64_t>(data[i].size())));
    }
    return v;
  }
};

// Parameters and every state buffer's bytes, with the step counters, for comparison.
template <class Opt>
std::vector<std::vector<uint8_t>> Snapshot(const Opt& opt, const Model& model) {
  std::vector<std::vector<uint8_t>> out;
  for (size_t i = 0; i < model.data.size(); ++i) {
    const auto* p = reinterpret_cast<const uint8_t*>(model.data[i].data());
    out.emplace_back(p, p + model.data[i].size() * sizeof(float));
    const ParamState& s = opt.state(0, i);
    std::vector<uint8_t> state(sizeof(s.step) + sizeof(s.mu_product));
    std::memcpy(state.data(), &s.step, sizeof(s.step));
    std::memcpy(state.data() + sizeof(s.step), &s.mu_product, sizeof(s.mu_product));
    for (const auto& [name, buffer] : s.buffers) {
      state.insert(state.end(), name.begin(), name.end());
      const auto* b = static_cast<const uint8_t*>(buffer.data());
      state.insert(state.end(), b, b + buffer.nbytes());
    }
    out.push_back(std::move(state));
  }
  return out;
}

template <class Opt>
class ManyParams : public ::testing::Test {};
using Optimizers = ::testing::Types<Adam, NAdam, RAdam, Adagrad, RMSprop, SGD>;
TYPED_TEST_SUITE(ManyParams, Optimizers);

TYPED_TEST(ManyParams, StepsAreBitwiseThoseOfOneThread) {
  RestoreThreads restore;
  std::vector<std::vector<uint8_t>> one;
  for (int threads : {1, 2, 7}) {
    SetNumThreads(threads);
    Model model;
    typename TypeParam::OptionsType options;
    if constexpr (requires { options.momentum; }) options.momentum = 0.9;
    TypeParam opt(model.views(), options);
    for (int step = 0; step < 3; ++step) {
      // A parameter without a gradient now and then: it keeps its place and its state.
      std::vector<ParamView>& params = opt.param_group(0).params;
      params[7].grad = step == 1 ? nullptr : model.grad[7].data();
      opt.Step();
    }
    const auto snapshot = Snapshot(opt, model);
    if (threads == 1) {
      one = snapshot;
      if constexpr (!std::is_same_v<TypeParam, SGD>) {
        EXPECT_EQ(opt.state(0, 7).step, 2);
        EXPECT_EQ(opt.state(0, 8).step, 3);
      }
    } else {
      EXPECT_TRUE(snapshot == one) << threads << " threads differ from one";
    }
  }
}

TYPED_TEST(ManyParams, TheFirstBadParameterIsReportedAndNothingChanges) {
  RestoreThreads restore;
  for (int threads : {1, 2, 7}) {
    SetNumThreads(threads);
    Model model;
    TypeParam opt(model.views());
    opt.Step();
    const auto before = Snapshot(opt, model);
    // Two parameters whose gradient is their own data: the first in order is named.
    std::vector<ParamView>& params = opt.param_group(0).params;
    params[1234].grad = params[1234].data;
    params[1777].grad = params[1777].data;
    try {
      opt.Step();
      ADD_FAILURE() << "no error with " << threads << " threads";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("parameter 1234:"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(Snapshot(opt, model) == before) << threads << " threads";
  }
}

TEST(ManyTensors, TheFirstBadTensorIsReportedAndMuProductIsKept) {
  RestoreThreads restore;
  for (int threads : {1, 2, 7}) {
    SetNumThreads(threads);
    Model model;
    std::vector<std::vector<float>> m(kTensors), v(kTensors);
    std::vector<double> mu(kTensors, 1.0);
    std::vector<functional::Tensor> tensors;
    for (size_t i = 0; i < kTensors; ++i) {
      m[i].resize(model.data[i].size());
      v[i].resize(model.data[i].size());
      tensors.push_back({MakeParam(model.data[i].data(), model.grad[i].data(),
                                   static_cast<int64_t>(model.data[i].size())),
                         {m[i].data(), v[i].data()}, 1, nullptr, &mu[i]});
    }
    const Model untouched = model;
    tensors[1900].state[1] = nullptr;  // exp_avg_sq
    tensors[1300].state[0] = nullptr;  // exp_avg
    try {
      functional::Step(tensors, NAdamOptions{});
      ADD_FAILURE() << "no error with " << threads << " threads";
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "nadam: tensor 1300: exp_avg is null");
    }
    for (size_t i = 0; i < kTensors; ++i) {
      ASSERT_EQ(mu[i], 1.0) << "tensor " << i;
      ASSERT_TRUE(model.data[i] == untouched.data[i]) << "tensor " << i;
    }
    // With found_inf nothing changes either; once valid, every tensor steps and advances its product.
    tensors[1900].state[1] = v[1900].data();
    tensors[1300].state[0] = m[1300].data();
    functional::Step(tensors, NAdamOptions{}, {}, {.found_inf = true});
    for (size_t i = 0; i < kTensors; ++i) ASSERT_EQ(mu[i], 1.0) << "tensor " << i;
    functional::Step(tensors, NAdamOptions{});
    const double mu1 = 0.9 * (1.0 - 0.5 * std::pow(0.96, 0.004));
    for (size_t i = 0; i < kTensors; ++i) ASSERT_EQ(mu[i], mu1) << "tensor " << i;
    EXPECT_FALSE(model.data[0] == untouched.data[0]);
  }
}

// The optimizers read a parameter's state buffers again only when some Buffer has changed since their
// last step (Buffer::changes()): every way of changing a Buffer's array must count.
TEST(BufferChanges, MovesAndAssignmentsCountWritingElementsDoesNot) {
  Buffer a(DType::kFloat32, 8);
  Buffer b(DType::kFloat32, 4);
  uint64_t before = Buffer::changes();
  a.Fill(2.0);
  a.as<float>()[3] = 1.0f;
  EXPECT_EQ(Buffer::changes(), before) << "writing elements";
  const auto changed = [&](const char* what) {
    EXPECT_GT(Buffer::changes(), before) << what;
    before = Buffer::changes();
  };
  Buffer c(std::move(a));
  changed("move construction");
  a = std::move(c);
  changed("move assignment");
  b = a;
  changed("copy assignment");
  std::swap(a, b);
  changed("swap");
  EXPECT_EQ(b.numel(), 8);
}

}  // namespace
}  // namespace adamant
