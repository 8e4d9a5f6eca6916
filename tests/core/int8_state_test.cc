// int8 state (StateStorage::kInt8, docs/algorithms.md "int8 state"), line by line of its spec:
// - the code maps (pinned against torch by tests/python/test_code_maps.py) are monotone, with their zero
//   where the spec says and no -1.0;
// - the nearest-code search is the brute-force nearest value, ties to the higher index, on adversarial
//   inputs and a sweep of every 4096th float in [-1, 1];
// - a step is the float32 step on the dequantized state (map[code] * absmax), and the state it stores is
//   that step's float32 state requantized block by block (absmax = max |x| of the new values, q = x / absmax
//   in float32, the nearest code), for every algorithm, parameter dtype, target and thread count;
// - zero blocks store zero codes, a non-finite block reads back as NaN, slices on block boundaries give the
//   whole tensor's bits, and what the spec does not allow is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "adamant/algorithm_info.h"
#include "adamant/functional.h"
#include "adamant/optimizer.h"
#include "adamant/options.h"
#include "adamant/param.h"
#include "adamant/state_layout.h"
#include "adamant/threads.h"
#include "kernels/code_maps.h"
#include "kernels/kernels.h"
#include "support/error_of.h"
#include "support/state_storage_cases.h"
#include "support/half.h"

namespace adamant {
namespace {

using test_support::Narrow;
using test_support::Widen;

constexpr int64_t kBlock = 256;

float Bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

const float* MapOf(bool is_signed) { return is_signed ? kernels::kSignedCodeMap : kernels::kUnsignedCodeMap; }

// The nearest map value by distance, in long double (exact wherever two distances can be close: near a
// midpoint, q and the two values are of one magnitude), ties to the higher index.
int BruteNearest(const float* map, float q) {
  int best = 0;
  long double best_distance = std::numeric_limits<long double>::infinity();
  for (int i = 0; i < 256; ++i) {
    const long double d = std::fabs(static_cast<long double>(q) - static_cast<long double>(map[i]));
    if (d <= best_distance) {
      best = i;
      best_distance = d;
    }
  }
  return best;
}

TEST(CodeMaps, AreIncreasingWithTheirZeroWhereTheSpecSays) {
  for (bool is_signed : {true, false}) {
    const float* map = MapOf(is_signed);
    for (int i = 0; i + 1 < 256; ++i) ASSERT_LT(map[i], map[i + 1]) << is_signed << " " << i;
    EXPECT_EQ(map[255], 1.0f);
    EXPECT_EQ(map[is_signed ? kernels::kSignedZeroCode : kernels::kUnsignedZeroCode], 0.0f);
  }
  EXPECT_GT(kernels::kSignedCodeMap[0], -1.0f);  // -1.0 is not representable
  EXPECT_EQ(kernels::kUnsignedCodeMap[0], 0.0f);
  // The smallest magnitudes: 5.5e-7 signed, 3.25e-7 unsigned.
  EXPECT_FLOAT_EQ(kernels::kSignedCodeMap[128], 5.5e-7f);
  EXPECT_FLOAT_EQ(kernels::kUnsignedCodeMap[1], 3.25e-7f);
}

// Adversarial inputs: zeros, every map value and its neighbours, every midpoint's float neighbours (and the
// midpoint itself where it is a float), +-1, subnormals, values below the smallest code.
std::vector<float> AdversarialInputs(const float* map) {
  std::vector<float> q = {0.0f, -0.0f, 1.0f, -1.0f, std::numeric_limits<float>::denorm_min(),
                          -std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(),
                          -std::numeric_limits<float>::min(), 1e-30f, -1e-30f, 1e-8f, -1e-8f};
  const auto around = [&](float x) {
    q.push_back(x);
    q.push_back(std::nextafter(x, 2.0f));
    q.push_back(std::nextafter(x, -2.0f));
  };
  for (int i = 0; i < 256; ++i) around(map[i]);
  for (int i = 0; i + 1 < 256; ++i) {
    const double mid = (static_cast<double>(map[i]) + map[i + 1]) / 2;
    around(static_cast<float>(mid));
  }
  std::vector<float> kept;
  for (float x : q) {
    if (std::fabs(x) <= 1.0f) kept.push_back(x);
  }
  return kept;
}

TEST(NearestCode, IsTheNearestValueWithTiesUp) {
  for (bool is_signed : {true, false}) {
    const float* map = MapOf(is_signed);
    const kernels::CodeTable& table = is_signed ? kernels::SignedCodeTable() : kernels::UnsignedCodeTable();
    int ties = 0;
    for (float q : AdversarialInputs(map)) {
      // The unsigned map's codes are for non-negative values: a negative q is the zero code.
      const int expected = !is_signed && q <= 0.0f ? 0 : BruteNearest(map, q);
      ASSERT_EQ(kernels::NearestCode(table, q), expected) << is_signed << " q=" << q;
      ASSERT_EQ(kernels::NearestCodeByMidpoints(map, !is_signed && q < 0.0f ? 0.0f : q), expected) << q;
      for (int i = 0; i + 1 < 256; ++i) {
        ties += static_cast<double>(q) == (static_cast<double>(map[i]) + map[i + 1]) / 2;
      }
    }
    EXPECT_GT(ties, 10) << "midpoints that are floats, where ties go up";
    // Every 4096th float in [0, 1] and its negative.
    for (uint32_t u = 0; u <= 0x3F800000u; u += 4096) {
      for (float q : {Bits(u), -Bits(u)}) {
        const int expected = !is_signed && q <= 0.0f ? 0 : BruteNearest(map, q);
        ASSERT_EQ(kernels::NearestCode(table, q), expected) << is_signed << " q=" << q;
      }
    }
  }
}

// The nearest code by a binary search of the midpoints (exact in double), ties up: as BruteNearest (the
// test above checks both against each other), fast enough for whole tensors.
int SearchNearest(const float* map, float q) {
  static const auto midpoints = [] {
    std::array<std::vector<double>, 2> m;
    for (int s = 0; s < 2; ++s) {
      const float* values = MapOf(s == 0);
      for (int i = 0; i + 1 < 256; ++i) m[s].push_back((static_cast<double>(values[i]) + values[i + 1]) / 2);
    }
    return m;
  }();
  const std::vector<double>& mids = midpoints[map == kernels::kSignedCodeMap ? 0 : 1];
  return static_cast<int>(std::upper_bound(mids.begin(), mids.end(), static_cast<double>(q)) - mids.begin());
}

// The spec's quantization of one buffer, written from it: for each block, absmax = max |x| (NaN if any is
// NaN), the zero code where absmax is 0 or not finite, else the nearest code of x / absmax.
void Quantize(const std::vector<float>& x, bool is_signed, std::vector<uint8_t>& codes, std::vector<float>& absmax) {
  const float* map = MapOf(is_signed);
  const int zero = is_signed ? kernels::kSignedZeroCode : kernels::kUnsignedZeroCode;
  const auto n = static_cast<int64_t>(x.size());
  codes.assign(x.size(), 0);
  absmax.assign(static_cast<size_t>((n + kBlock - 1) / kBlock), 0.0f);
  for (int64_t b = 0; b * kBlock < n; ++b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    float m = 0.0f;
    bool nan = false;
    for (int64_t i = b * kBlock; i < end; ++i) {
      nan = nan || std::isnan(x[i]);
      m = std::max(m, std::fabs(x[i]));
    }
    if (nan) m = std::numeric_limits<float>::quiet_NaN();  // the positive quiet NaN, whatever the NaNs were
    absmax[b] = m;
    for (int64_t i = b * kBlock; i < end; ++i) {
      codes[i] = static_cast<uint8_t>(!(m > 0.0f && std::isfinite(m)) ? zero : SearchNearest(map, x[i] / m));
    }
  }
}

std::vector<float> Dequantize(const std::vector<uint8_t>& codes, const std::vector<float>& absmax, bool is_signed) {
  const float* map = MapOf(is_signed);
  std::vector<float> x(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) x[i] = map[codes[i]] * absmax[i / kBlock];
  return x;
}

bool SameBits(const void* a, const void* b, size_t bytes) { return bytes == 0 || std::memcmp(a, b, bytes) == 0; }

// One tensor with int8 state in every buffer, and its parameter as float32 or 16-bit patterns.
struct Int8Tensor {
  DType dtype;
  std::vector<float> param32, grad32;
  std::vector<uint16_t> param16, grad16;
  std::vector<uint8_t> codes[kMaxStateBuffers];
  std::vector<float> absmax[kMaxStateBuffers];
  double mu_product = 1.0;

  Int8Tensor(DType d, int64_t n, const AlgorithmInfo& info, uint32_t seed) : dtype(d) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t j = 0; j < n; ++j) {
      param32.push_back(normal(rng));
      grad32.push_back(normal(rng) * 0.1f);
      if (d != DType::kFloat32) {
        param16.push_back(Narrow(d, param32.back()));
        grad16.push_back(Narrow(d, grad32.back()));
      }
    }
    for (size_t k = 0; k < info.buffers.size(); ++k) {
      const bool is_signed = info.buffers[k].values == StateValues::kSigned;
      std::vector<float> x(static_cast<size_t>(n));
      // Magnitudes over several decades, as moments have.
      for (float& v : x) v = (is_signed ? normal(rng) : std::fabs(normal(rng))) * std::pow(10.0f, -3.0f * std::fabs(normal(rng)));
      Quantize(x, is_signed, codes[k], absmax[k]);
    }
  }

  functional::Tensor Tensor(int64_t step) {
    const bool half = dtype != DType::kFloat32;
    functional::Tensor t{ParamView{half ? static_cast<void*>(param16.data()) : param32.data(),
                                   half ? static_cast<void*>(grad16.data()) : grad32.data(),
                                   static_cast<int64_t>(param32.size()), dtype}};
    for (int k = 0; k < kMaxStateBuffers; ++k) {
      if (codes[k].empty() && !param32.empty()) continue;
      t.state[k] = codes[k].data();
      t.state_absmax[k] = absmax[k].data();
      t.state_storage[k] = StateStorage::kInt8;
    }
    t.step = step;
    t.scalar_state = &mu_product;
    t.fresh = step == 1;
    return t;
  }
};

// Three steps of `test` (int8 state); before each, the reference takes the same parameter and float32
// state holding the dequantized values, and steps it: the parameters must be the same bits and the test's
// codes and maxima the reference's new state quantized by the spec.
template <class Options>
void CheckAgainstDequantized(const char* name, const Options& options, DType dtype, int64_t n) {
  const AlgorithmInfo& info = *FindAlgorithm(name);
  Int8Tensor test(dtype, n, info, 7);
  const Int8Tensor initial = test;
  for (int64_t step = 1; step <= 3; ++step) {
    Int8Tensor reference = test;
    std::vector<float> state[kMaxStateBuffers];
    functional::Tensor r = reference.Tensor(step);
    for (size_t k = 0; k < info.buffers.size(); ++k) {
      state[k] = Dequantize(test.codes[k], test.absmax[k], info.buffers[k].values == StateValues::kSigned);
      r.state[k] = state[k].data();
      r.state_absmax[k] = nullptr;
      r.state_storage[k] = StateStorage::kFull;
    }
    const functional::Tensor t = test.Tensor(step);
    functional::Step({&t, 1}, options);
    functional::Step({&r, 1}, options);
    const std::string where = std::string(name) + " " + std::string(DTypeName(dtype)) + " n=" + std::to_string(n) +
                              " step " + std::to_string(step);
    ASSERT_TRUE(SameBits(test.param32.data(), reference.param32.data(), test.param32.size() * 4)) << where;
    ASSERT_EQ(test.param16, reference.param16) << where;
    ASSERT_TRUE(SameBits(&test.mu_product, &reference.mu_product, sizeof(double))) << where;
    for (size_t k = 0; k < info.buffers.size(); ++k) {
      const bool is_signed = info.buffers[k].values == StateValues::kSigned;
      std::vector<uint8_t> codes;
      std::vector<float> absmax;
      Quantize(state[k], is_signed, codes, absmax);
      // A buffer the options leave unused (RMSprop's grad_avg when not centered) is not written at all.
      const std::vector<float> held = Dequantize(reference.codes[k], reference.absmax[k], is_signed);
      if (SameBits(held.data(), state[k].data(), held.size() * 4)) {
        codes = reference.codes[k];
        absmax = reference.absmax[k];
      }
      ASSERT_TRUE(SameBits(absmax.data(), test.absmax[k].data(), absmax.size() * 4)) << where << " " << info.buffers[k].name;
      ASSERT_EQ(codes, test.codes[k]) << where << " " << info.buffers[k].name;
    }
  }
  // The state moved: the comparisons were not of untouched buffers (every algorithm's first buffer is used).
  EXPECT_NE(test.codes[0], initial.codes[0]) << name;
}

// The public conversion (state set other than by a step: an initial value, a full-precision state loaded)
// is the spec's, bit for bit: random values over decades, a zero block, blocks with a NaN, an infinity, a
// subnormal maximum, and a short last block.
TEST(QuantizeBlockwise, IsTheSpecsQuantizationAndDequantization) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const bool is_signed : {true, false}) {
    std::vector<float> x(7 * kBlock + 100);
    for (float& v : x) v = (is_signed ? normal(rng) : std::fabs(normal(rng))) * std::pow(10.0f, -4.0f * std::fabs(normal(rng)));
    std::fill(x.begin() + kBlock, x.begin() + 2 * kBlock, 0.0f);
    x[2 * kBlock + 5] = std::numeric_limits<float>::quiet_NaN();
    x[3 * kBlock + 7] = -std::numeric_limits<float>::infinity();
    for (int64_t i = 4 * kBlock; i < 5 * kBlock; ++i) x[i] = std::numeric_limits<float>::denorm_min() * static_cast<float>(i % 7);
    x[5 * kBlock] = -x[5 * kBlock + 1];  // the unsigned map's negative values are its zero code
    std::vector<uint8_t> want_codes, codes(x.size());
    std::vector<float> want_absmax, absmax(static_cast<size_t>(AbsmaxNumel(static_cast<int64_t>(x.size()))));
    Quantize(x, is_signed, want_codes, want_absmax);
    QuantizeBlockwise(x.data(), static_cast<int64_t>(x.size()), is_signed, codes.data(), absmax.data());
    EXPECT_EQ(codes, want_codes) << is_signed;
    ASSERT_EQ(absmax.size(), want_absmax.size());
    EXPECT_TRUE(SameBits(absmax.data(), want_absmax.data(), absmax.size() * 4)) << is_signed;
    std::vector<float> back(x.size());
    DequantizeBlockwise(codes.data(), absmax.data(), static_cast<int64_t>(x.size()), is_signed, back.data());
    const std::vector<float> want_back = Dequantize(codes, absmax, is_signed);
    EXPECT_TRUE(SameBits(back.data(), want_back.data(), back.size() * 4)) << is_signed;
  }
}

class Int8State : public ::testing::TestWithParam<int> {};

TEST_P(Int8State, IsTheFloat32StepOnTheDequantizedStateRequantized) {
  test_support::ForEveryTarget(GetParam(), [] {
    test_support::ForEveryAlgorithmWithInt8State([&](const char* name, const auto& options) {
      // A short last block, one block, and the AVX-512 copy's prefetching (from 2048).
      for (int64_t n : {1000, 256, 4097}) CheckAgainstDequantized(name, options, DType::kFloat32, n);
      for (DType d : {DType::kBFloat16, DType::kFloat16}) CheckAgainstDequantized(name, options, d, 1000);
    });
    // Enough elements for two threads (2^16), where the pieces meet on a block boundary.
    CheckAgainstDequantized("adam", AdamOptions{.amsgrad = true}, DType::kFloat32, 70000);
  });
}

INSTANTIATE_TEST_SUITE_P(Threads, Int8State, ::testing::Values(1, 2));

TEST(Int8State, AZeroBlockStoresZeroCodesAndANonFiniteOneReadsBackAsNaN) {
  // SGD with momentum: a fresh buffer is set to the gradient, so the stored state is the gradient's.
  constexpr int64_t n = 3 * kBlock;
  std::vector<float> w(n, 1.0f), g(n, 0.5f), absmax(3, 0.0f);
  std::vector<uint8_t> codes(n, 0);
  for (int64_t i = 0; i < kBlock; ++i) g[i] = 0.0f;           // block 0: zeros
  g[kBlock + 3] = std::numeric_limits<float>::infinity();     // block 1: an infinity
  g[2 * kBlock + 5] = std::numeric_limits<float>::quiet_NaN();  // block 2: a NaN
  functional::Tensor t{ParamView{w.data(), g.data(), n, DType::kFloat32}, {codes.data()}};
  t.state_storage[0] = StateStorage::kInt8;
  t.state_absmax[0] = absmax.data();
  t.fresh = true;
  functional::Step({&t, 1}, SGDOptions{.lr = 0.1, .momentum = 0.9});
  EXPECT_EQ(absmax[0], 0.0f);
  EXPECT_TRUE(std::isinf(absmax[1]));
  EXPECT_TRUE(std::isnan(absmax[2]));
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(codes[i], kernels::kSignedZeroCode) << i;
  const std::vector<float> back = Dequantize(codes, absmax, true);
  for (int64_t i = 0; i < kBlock; ++i) ASSERT_EQ(back[i], 0.0f);
  for (int64_t i = kBlock; i < n; ++i) ASSERT_TRUE(std::isnan(back[i])) << i;
}

TEST(Int8State, SlicesOnBlockBoundariesGiveTheWholeTensorsBits) {
  const AlgorithmInfo& info = *FindAlgorithm("adam");
  Int8Tensor whole(DType::kFloat32, 4097, info, 3);
  Int8Tensor sliced = whole;
  const functional::Tensor w = whole.Tensor(1);
  functional::Step({&w, 1}, AdamOptions{.amsgrad = true});
  const int64_t cuts[] = {0, 256, 2560, 4097};
  for (int c = 0; c + 1 < 4; ++c) {
    functional::Tensor t = sliced.Tensor(1);
    const int64_t begin = cuts[c];
    t.param.data = sliced.param32.data() + begin;
    t.param.grad = sliced.grad32.data() + begin;
    t.param.numel = cuts[c + 1] - begin;
    for (int k = 0; k < 3; ++k) {
      t.state[k] = sliced.codes[k].data() + begin;
      t.state_absmax[k] = sliced.absmax[k].data() + begin / kBlock;
    }
    t.offset = begin;
    t.position = 0;
    functional::Step({&t, 1}, AdamOptions{.amsgrad = true});
  }
  EXPECT_TRUE(SameBits(whole.param32.data(), sliced.param32.data(), whole.param32.size() * 4));
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(whole.codes[k], sliced.codes[k]) << k;
    EXPECT_TRUE(SameBits(whole.absmax[k].data(), sliced.absmax[k].data(), whole.absmax[k].size() * 4)) << k;
  }
}

TEST(Int8State, WhatTheSpecDoesNotAllowIsRefused) {
  const auto error = [](functional::Tensor t) {
    return test_support::ErrorOf([&] { functional::Step({&t, 1}, AdamOptions{}); });
  };
  std::vector<float> p(512, 1.0f), g(512, 1.0f), absmax(4, 0.0f);
  std::vector<uint8_t> m(512), v(512);
  functional::Tensor t{ParamView{p.data(), g.data(), 512, DType::kFloat32}, {m.data(), v.data()}};
  t.state_storage = {StateStorage::kInt8, StateStorage::kInt8};
  t.state_absmax = {absmax.data(), absmax.data() + 2};
  EXPECT_EQ(error(t), "<no error>");
  functional::Tensor missing = t;
  missing.state_absmax[1] = nullptr;
  EXPECT_EQ(error(missing), "adam: tensor 0: exp_avg_sq: int8 state needs its block maxima (state_absmax)");
  functional::Tensor overlapping = t;
  overlapping.state_absmax[1] = absmax.data() + 1;
  EXPECT_EQ(error(overlapping), "adam: tensor 0: exp_avg_absmax and exp_avg_sq_absmax overlap in memory: each must be a buffer of its own");
  functional::Tensor unaligned = t;
  unaligned.offset = 100;
  unaligned.position = 0;
  EXPECT_EQ(error(unaligned),
            "adam: tensor 0: exp_avg: an int8 slice starts on a block boundary (offset a multiple of 256), not at 100");
  std::vector<double> p64(8, 1.0), g64(8, 1.0);
  functional::Tensor wide{ParamView{p64.data(), g64.data(), 8, DType::kFloat64}, {m.data(), v.data()}};
  wide.state_storage = t.state_storage;
  wide.state_absmax = t.state_absmax;
  EXPECT_EQ(error(wide), "adam: tensor 0: exp_avg: int8 state is not for float64 parameters");
}

}  // namespace
}  // namespace adamant
