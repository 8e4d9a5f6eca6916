// Gradient clipping: ClipGradNorm and ClipGradValue against formulas evaluated here in long double,
// torch.nn.utils's semantics (the 1e-6, the clamp to 1, NaN and inf, error_if_nonfinite and its message),
// and bitwise independence of the thread count and SIMD target.
#include "adamant/clip.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/optimizer.h"
#include "adamant/threads.h"
#include "kernels/kernels.h"
#include "kernels/storage.h"

namespace adamant {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A gradient of one dtype, as bytes; values read back exactly (bf16/fp16 widened).
struct Grad {
  DType dtype;
  int64_t n;
  std::vector<unsigned char> bytes;
  Grad(DType d, int64_t numel) : dtype(d), n(numel), bytes(numel * SizeOf(d)) {}
  void Set(int64_t i, double v) {
    switch (dtype) {
      case DType::kFloat32:
        reinterpret_cast<float*>(bytes.data())[i] = static_cast<float>(v);
        return;
      case DType::kFloat64:
        reinterpret_cast<double*>(bytes.data())[i] = v;
        return;
      case DType::kBFloat16:
        reinterpret_cast<uint16_t*>(bytes.data())[i] = kernels::FloatToBFloat16(static_cast<float>(v));
        return;
      case DType::kFloat16:
        reinterpret_cast<uint16_t*>(bytes.data())[i] = kernels::FloatToFloat16(static_cast<float>(v));
        return;
      case DType::kUInt8:  // int8 state's codes, never a parameter's dtype
        return;
    }
  }
  double Get(int64_t i) const {
    switch (dtype) {
      case DType::kFloat32:
        return reinterpret_cast<const float*>(bytes.data())[i];
      case DType::kFloat64:
        return reinterpret_cast<const double*>(bytes.data())[i];
      case DType::kBFloat16:
        return kernels::BFloat16ToFloat(reinterpret_cast<const uint16_t*>(bytes.data())[i]);
      case DType::kFloat16:
        return kernels::Float16ToFloat(reinterpret_cast<const uint16_t*>(bytes.data())[i]);
      case DType::kUInt8:  // int8 state's codes, never a parameter's dtype
        break;
    }
    return 0.0;
  }
  // A parameter view with this gradient (the parameter's data is not used by clipping).
  ParamView view() { return {nullptr, bytes.data(), n, dtype}; }
};

// Gradients of every dtype, of odd sizes around the 65536-element block and the 16 lanes, normal values
// scaled by 10^k.
std::vector<Grad> MakeGrads(uint64_t seed) {
  const std::pair<DType, int64_t> shapes[] = {{DType::kFloat32, 200003}, {DType::kFloat64, 65536},
                                              {DType::kBFloat16, 65537},  {DType::kFloat16, 17},
                                              {DType::kFloat32, 1},       {DType::kFloat32, 0}};
  std::vector<Grad> grads;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  int k = 0;
  for (const auto& [dtype, n] : shapes) {
    grads.emplace_back(dtype, n);
    const double scale = std::pow(10.0, k++ % 3 - 1);
    for (int64_t i = 0; i < n; ++i) grads.back().Set(i, normal(rng) * scale);
  }
  return grads;
}

std::vector<ParamView> Views(std::vector<Grad>& grads) {
  std::vector<ParamView> out;
  for (Grad& g : grads) out.push_back(g.view());
  return out;
}

// The norm of every element, in long double (64-bit mantissa): the reference the double accumulation is
// compared with.
long double ReferenceNorm(const std::vector<Grad>& grads, double p) {
  long double acc = std::isinf(p) && p < 0 ? INFINITY : 0.0L;
  for (const Grad& g : grads) {
    for (int64_t i = 0; i < g.n; ++i) {
      const long double x = std::fabs(static_cast<long double>(g.Get(i)));
      if (std::isinf(p)) {
        acc = p > 0 ? std::max(acc, x) : std::min(acc, x);
      } else if (p == 0) {
        acc += x != 0;
      } else {
        acc += std::pow(x, static_cast<long double>(p));
      }
    }
  }
  if (std::isinf(p) || p == 0) return acc;
  return std::pow(acc, 1.0L / p);
}

class ClipTest : public ::testing::Test {
 protected:
  void TearDown() override {
    SetNumThreads(0);
    kernels::SetTarget("");
  }
};

// The total norm for each order: within a few double roundings per element of the long double sum (the
// double sum of n positive terms has a relative error below n * 2^-53; 400k elements: < 5e-11), exact for
// the max, the min and the count.
TEST_F(ClipTest, NormOfEveryOrder) {
  for (double p : {2.0, 1.0, 3.0, 0.5, kInf, -kInf, 0.0}) {
    std::vector<Grad> grads = MakeGrads(1);
    const std::vector<Grad> before = grads;
    const long double expected = ReferenceNorm(grads, p);
    const double total = ClipGradNorm(Views(grads), 1e300, p);  // max_norm so large nothing is clipped
    if (std::isinf(p) || p == 0) {
      EXPECT_EQ(total, static_cast<double>(expected)) << "p " << p;
    } else {
      EXPECT_NEAR(total, static_cast<double>(expected), 1e-10 * static_cast<double>(expected)) << "p " << p;
    }
    for (size_t k = 0; k < grads.size(); ++k) EXPECT_EQ(grads[k].bytes, before[k].bytes) << "coef 1: untouched";
  }
}

// Clipping multiplies every gradient by coef = max_norm / (total + 1e-6), rounded once to the compute type
// (float32 for float32/bf16/fp16, float64 for float64), product rounded back to the gradient's dtype.
TEST_F(ClipTest, ScalesByTheClampedCoefficient) {
  for (double p : {2.0, kInf, 1.0}) {
    std::vector<Grad> grads = MakeGrads(2);
    const std::vector<Grad> before = grads;
    const double max_norm = 0.25;
    const double total = ClipGradNorm(Views(grads), max_norm, p);
    const double coef = max_norm / (total + 1e-6);
    ASSERT_LT(coef, 1.0);
    for (size_t k = 0; k < grads.size(); ++k) {
      Grad expected = before[k];
      for (int64_t i = 0; i < expected.n; ++i) {
        const double x = before[k].Get(i);
        expected.Set(i, expected.dtype == DType::kFloat64
                            ? x * coef
                            : static_cast<double>(static_cast<float>(x) * static_cast<float>(coef)));
      }
      EXPECT_EQ(grads[k].bytes, expected.bytes) << "gradient " << k << " p " << p;
    }
    // The clipped gradients' norm is max_norm, to within the products' roundings (relative 2^-9 in bf16).
    EXPECT_NEAR(static_cast<double>(ReferenceNorm(grads, p)), max_norm, max_norm * 0x1p-9);
  }
}

// The norm's partial sums sit on fixed blocks: same bits, total and gradients, whatever the threads and
// the target.
TEST_F(ClipTest, SameBitsForEveryThreadCountAndTarget) {
  double first_total = 0.0;
  std::vector<Grad> first;
  for (int t = 0; t < kernels::NumAvailableTargets(); ++t) {
    kernels::SetTarget(kernels::AvailableTarget(t).target);
    for (int threads : {1, 2, 3, 4, 7}) {
      SetNumThreads(threads);
      for (double p : {2.0, 3.0}) {
        std::vector<Grad> grads = MakeGrads(3);
        const double total = ClipGradNorm(Views(grads), 0.5, p);
        if (first.empty() && p == 2.0) {
          first_total = total;
          first = grads;
        } else if (p == 2.0) {
          EXPECT_EQ(std::memcmp(&total, &first_total, sizeof total), 0)
              << kernels::AvailableTarget(t).target << " " << threads << " threads";
          for (size_t k = 0; k < grads.size(); ++k) EXPECT_EQ(grads[k].bytes, first[k].bytes);
        }
      }
    }
  }
}

TEST_F(ClipTest, ErrorIfNonfiniteRaisesPyTorchsMessageAndChangesNothing) {
  const std::pair<double, std::string> orders[] = {{2.0, "2.0"}, {kInf, "inf"}, {1.0, "1.0"}};
  for (double bad : {kNaN, kInf}) {
    for (const auto& [p, text] : orders) {
      std::vector<Grad> grads = MakeGrads(4);
      grads[2].Set(70, bad);
      const std::vector<Grad> before = grads;
      std::string message = "<no error>";
      try {
        ClipGradNorm(Views(grads), 1.0, p, /*error_if_nonfinite=*/true);
      } catch (const std::runtime_error& e) {
        message = e.what();
      }
      EXPECT_EQ(message, "The total norm of order " + text +
                             " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable "
                             "this error and scale the gradients by the non-finite norm anyway, set "
                             "`error_if_nonfinite=False`");
      for (size_t k = 0; k < grads.size(); ++k) EXPECT_EQ(grads[k].bytes, before[k].bytes);
    }
  }
}

// Without error_if_nonfinite, as PyTorch: an infinite norm gives coef 0 (finite gradients become zeros,
// the inf becomes NaN); a NaN norm gives a NaN coefficient and NaN gradients.
TEST_F(ClipTest, NonFiniteNormScalesAsPyTorch) {
  {
    std::vector<Grad> grads = MakeGrads(5);
    grads[0].Set(10, kInf);
    EXPECT_EQ(ClipGradNorm(Views(grads), 1.0), kInf);
    EXPECT_TRUE(std::isnan(grads[0].Get(10)));
    EXPECT_EQ(grads[0].Get(11), 0.0);
    EXPECT_EQ(grads[1].Get(0), 0.0);
  }
  {
    std::vector<Grad> grads = MakeGrads(5);
    grads[1].Set(10, kNaN);
    EXPECT_TRUE(std::isnan(ClipGradNorm(Views(grads), 1.0)));
    EXPECT_TRUE(std::isnan(grads[0].Get(0)));
    EXPECT_TRUE(std::isnan(grads[2].Get(5)));
  }
}

TEST_F(ClipTest, NoGradientsGiveZero) {
  std::vector<ParamView> none = {{nullptr, nullptr, 10, DType::kFloat32}};
  EXPECT_EQ(ClipGradNorm(none, 1.0), 0.0);
  EXPECT_EQ(ClipGradNorm(std::span<const ParamView>(), 1.0), 0.0);
  ClipGradValue(none, 1.0);
}

TEST_F(ClipTest, InvalidGradientsAreRejectedBeforeAnythingChanges) {
  std::vector<Grad> grads = MakeGrads(6);
  std::vector<ParamView> views = Views(grads);
  views[1].numel = -1;
  const std::vector<Grad> before = grads;
  std::string message;
  try {
    ClipGradNorm(views, 1e-3);
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "clip_grad_norm_: parameter 1: negative element count -1");
  views[1].numel = grads[1].n;
  views[3].dtype = static_cast<DType>(42);
  try {
    ClipGradValue(views, 1e-3);
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  EXPECT_EQ(message,
            "clip_grad_value_: parameter 3: unsupported dtype (supported: float32, float64, bfloat16, float16)");
  for (size_t k = 0; k < grads.size(); ++k) EXPECT_EQ(grads[k].bytes, before[k].bytes);
}

// clip_grad_value_: each element clamped to [-c, c], the bounds rounded to the gradient's dtype; NaN
// stays NaN; a negative c sets everything to c (torch.clamp with min > max).
TEST_F(ClipTest, ClipGradValueClamps) {
  for (double c : {0.3, 1e-3, 5.0}) {
    std::vector<Grad> grads = MakeGrads(7);
    grads[0].Set(3, kNaN);
    const std::vector<Grad> before = grads;
    for (int threads : {1, 3}) {
      SetNumThreads(threads);
      grads = before;
      ClipGradValue(Views(grads), c);
      for (size_t k = 0; k < grads.size(); ++k) {
        Grad bound(grads[k].dtype, 2);
        bound.Set(0, -c);
        bound.Set(1, c);
        for (int64_t i = 0; i < grads[k].n; ++i) {
          const double x = before[k].Get(i);
          const double y = grads[k].Get(i);
          if (std::isnan(x)) {
            EXPECT_TRUE(std::isnan(y));
          } else {
            EXPECT_EQ(y, std::min(std::max(x, bound.Get(0)), bound.Get(1))) << "gradient " << k << " element " << i;
          }
        }
      }
    }
  }
  std::vector<Grad> grads = MakeGrads(8);
  ClipGradValue(Views(grads), -0.5);
  for (const Grad& g : grads) {
    for (int64_t i = 0; i < g.n; ++i) ASSERT_EQ(g.Get(i), -0.5);
  }
}

// The Optimizer overloads take every group's gradients.
TEST_F(ClipTest, OptimizerOverloadsTakeEveryGroup) {
  std::vector<float> w1(3, 0.0f), g1 = {3.0f, 0.0f, 0.0f}, w2(1, 0.0f), g2 = {4.0f};
  std::vector<ParamGroup<SGDOptions>> groups = {{{MakeParam(w1.data(), g1.data(), 3)}, SGDOptions{}},
                                                {{MakeParam(w2.data(), g2.data(), 1)}, SGDOptions{}}};
  SGD opt(std::move(groups));
  EXPECT_EQ(ClipGradNorm(opt, 1.0), 5.0);
  EXPECT_FLOAT_EQ(g1[0], 3.0f * static_cast<float>(1.0 / (5.0 + 1e-6)));
  EXPECT_FLOAT_EQ(g2[0], 4.0f * static_cast<float>(1.0 / (5.0 + 1e-6)));
  ClipGradValue(opt, 0.1);
  EXPECT_EQ(g1[0], 0.1f);
  EXPECT_EQ(g2[0], 0.1f);
}

}  // namespace
}  // namespace adamant
