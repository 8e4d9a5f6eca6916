// Parameters with a Layout (adamant/param.h): a strided view with gaps is updated in place, bitwise as its
// contiguous copy would be, for every algorithm, float32 and bfloat16 (stochastic rounding, master
// weights); the gaps are never written; bad layouts are refused before anything changes.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "adamant/functional.h"
#include "adamant/optimizer.h"
#include "core/layout.h"
#include "support/error_of.h"
#include "support/half.h"
#include "support/optimizer_types.h"

namespace adamant {
namespace {

using test_support::ErrorOf;

Layout Strided(std::vector<int64_t> sizes, std::vector<int64_t> strides) {
  Layout l;
  l.dim = static_cast<int>(sizes.size());
  for (int d = 0; d < l.dim; ++d) {
    l.sizes[d] = sizes[static_cast<size_t>(d)];
    l.strides[d] = strides[static_cast<size_t>(d)];
  }
  l.strided = true;
  return l;
}

// The data offsets of a layout's elements in row-major order.
std::vector<int64_t> Offsets(const Layout& l) {
  std::vector<int64_t> out;
  int64_t count = 1;
  for (int d = 0; d < l.dim; ++d) count *= l.sizes[d];
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i, offset = 0;
    for (int d = l.dim - 1; d >= 0; --d) {
      offset += rest % l.sizes[d] * l.strides[d];
      rest /= l.sizes[d];
    }
    out.push_back(offset);
  }
  return out;
}

TEST(Layout, RunsCoverEveryElementInRowMajorOrder) {
  const std::vector<Layout> layouts = {
      Strided({2, 3, 4}, {24, 8, 1}),     // gaps between rows: runs of 4
      Strided({3, 4}, {1, 3}),            // a transpose: runs of 1
      Strided({6, 5}, {10, 2}),           // every other column
      Strided({2, 1, 3}, {3, 100, 1}),    // a size-1 dimension with any stride: contiguous
      Strided({4, 2, 3}, {12, 3, 1}),     // gaps merged away where dimensions are contiguous together
      Strided({}, {}),                    // a scalar
  };
  for (const Layout& l : layouts) {
    std::vector<int64_t> seen;
    core::ForEachRun(l, [&](int64_t offset, int64_t index, int64_t length) {
      EXPECT_EQ(index, static_cast<int64_t>(seen.size()));
      for (int64_t k = 0; k < length; ++k) seen.push_back(offset + k);
    });
    EXPECT_EQ(seen, Offsets(l)) << l.dim;
  }
  ParamView p{nullptr, nullptr, 6, DType::kFloat32, nullptr};
  const Layout contiguous = Strided({2, 1, 3}, {3, 100, 1});
  p.layout = &contiguous;
  EXPECT_FALSE(core::IsStrided(p));
  const Layout transposed = Strided({3, 2}, {1, 3});
  p.layout = &transposed;
  EXPECT_TRUE(core::IsStrided(p));
  EXPECT_EQ(core::DataSpan(p), 6);
}

TEST(Layout, BadLayoutsAreRefused) {
  std::vector<float> data(100), grad(100);
  const auto refusal = [&](Layout l, int64_t numel) {
    Adam opt({ParamView{data.data(), grad.data(), numel, DType::kFloat32, &l}});
    const std::vector<float> before = data;
    const std::string error = ErrorOf([&] { opt.Step(); });
    EXPECT_EQ(data, before);
    EXPECT_TRUE(std::as_const(opt).state(0, 0).empty());
    return error;
  };
  EXPECT_EQ(refusal(Strided({3, 4}, {4, 1}), 10),
            "adam: param group 0, parameter 0: layout sizes (3, 4) hold 12 elements, but numel is 10 (a param "
            "group's range cannot cut a parameter with a layout)");
  EXPECT_EQ(refusal(Strided({3, 4}, {0, 1}), 12),
            "adam: param group 0, parameter 0: layout strides (0, 1) for sizes (3, 4) make elements share memory; "
            "each element must have memory of its own");
  EXPECT_EQ(refusal(Strided({4, 4}, {2, 1}), 16),
            "adam: param group 0, parameter 0: layout strides (2, 1) for sizes (4, 4) make elements share memory; "
            "each element must have memory of its own");
  EXPECT_EQ(refusal(Strided({3, 4}, {-4, 1}), 12),
            "adam: param group 0, parameter 0: layout strides (-4, 1) include a negative stride");
  Layout many;
  many.dim = 9;
  EXPECT_EQ(refusal(many, 1), "adam: param group 0, parameter 0: layout has 9 dimensions (0 to 8 are supported)");
  // A gradient inside the span of the strided data (in a gap) is refused like one overlapping it.
  Layout every_other = Strided({10}, {2});
  Adam opt({ParamView{data.data(), data.data() + 1, 10, DType::kFloat32, &every_other}});
  EXPECT_NE(ErrorOf([&] { opt.Step(); }).find("grad and param data overlap in memory"), std::string::npos);
  // The functional layer checks the same.
  Layout wrong = Strided({3, 4}, {4, 1});
  std::vector<float> m(10), v(10);
  const functional::Tensor t{ParamView{data.data(), grad.data(), 10, DType::kFloat32, &wrong}, {m.data(), v.data()}};
  EXPECT_NE(ErrorOf([&] { functional::Step({&t, 1}, AdamOptions{}); }).find("adam: tensor 0: layout sizes (3, 4)"),
            std::string::npos);
}

TEST(Layout, ARangeCuttingAStridedParameterIsRefused) {
  std::vector<float> data(60, 0.5f), grad(30, 0.25f);
  const Layout l = Strided({6, 5}, {10, 2});
  Adam opt({ParamView{data.data(), grad.data(), 30, DType::kFloat32, &l}});
  opt.set_range(0, {0, 12});
  EXPECT_NE(ErrorOf([&] { opt.Step(); }).find("a param group's range cannot cut a parameter with a layout"),
            std::string::npos);
  opt.set_range(0, {0, 30});
  opt.Step();
  EXPECT_EQ(std::as_const(opt).state(0, 0).step, 1);
}

// Values for element k of tensor t at step s, varied enough to exercise every branch of the rules.
float Value(int t, int64_t k, int s) {
  return static_cast<float>(((k * 7 + t * 13 + s * 5) % 23) - 11) / 8.0f;
}

template <class Opt>
class Layouts : public ::testing::Test {};
TYPED_TEST_SUITE(Layouts, test_support::OptimizerTypes);

// Two strided parameters (every other column of a 6x10 matrix; a transposed view with gaps of another)
// and a contiguous one step exactly as contiguous copies of them do, state and all; the gaps stay as they
// were. In float32, and in bfloat16 with stochastic rounding and with master weights.
TYPED_TEST(Layouts, AStridedParameterStepsAsItsContiguousCopy) {
  using Opt = TypeParam;
  const std::vector<Layout> layouts = {Strided({6, 5}, {10, 2}), Strided({5, 6}, {2, 10}), Strided({7}, {1})};
  const std::vector<int64_t> bases = {60, 60, 7};  // elements of the memory each lives in
  for (const DType dtype : {DType::kFloat32, DType::kBFloat16}) {
    for (int precision_case = 0; precision_case < (dtype == DType::kBFloat16 ? 2 : 1); ++precision_case) {
      const size_t size = SizeOf(dtype);
      std::vector<std::vector<uint8_t>> big, copy, grad, grad_copy;
      std::vector<ParamView> strided, plain;
      for (size_t t = 0; t < layouts.size(); ++t) {
        const std::vector<int64_t> offsets = Offsets(layouts[t]);
        const auto n = static_cast<int64_t>(offsets.size());
        big.emplace_back(static_cast<size_t>(bases[t]) * size);
        for (int64_t k = 0; k < bases[t]; ++k) {
          const float x = 0.5f - 0.03f * static_cast<float>(k % 17) + 0.01f * static_cast<float>(t);
          if (dtype == DType::kFloat32) {
            std::memcpy(big[t].data() + k * 4, &x, 4);
          } else {
            const uint16_t h = test_support::Narrow(DType::kBFloat16, x);
            std::memcpy(big[t].data() + k * 2, &h, 2);
          }
        }
        copy.emplace_back(static_cast<size_t>(n) * size);
        for (int64_t k = 0; k < n; ++k) std::memcpy(copy[t].data() + k * size, big[t].data() + offsets[k] * size, size);
        grad.emplace_back(static_cast<size_t>(n) * size);
        grad_copy.emplace_back(static_cast<size_t>(n) * size);
      }
      for (size_t t = 0; t < layouts.size(); ++t) {
        const auto n = static_cast<int64_t>(copy[t].size() / size);
        strided.push_back({big[t].data(), grad[t].data(), n, dtype, t < 2 ? &layouts[t] : nullptr});
        plain.push_back({copy[t].data(), grad_copy[t].data(), n, dtype});
      }
      const std::vector<std::vector<uint8_t>> initial = big;
      Opt a(strided), b(plain);
      Precision precision;
      if (dtype == DType::kBFloat16) {
        precision = precision_case == 0 ? Precision{.rounding = Rounding::kStochastic, .seed = 11}
                                        : Precision{.master_weights = true};
      }
      a.set_precision(precision);
      b.set_precision(precision);
      for (int s = 0; s < 3; ++s) {
        for (size_t t = 0; t < layouts.size(); ++t) {
          for (size_t k = 0; k < grad[t].size() / size; ++k) {
            const float x = Value(static_cast<int>(t), static_cast<int64_t>(k), s);
            if (dtype == DType::kFloat32) {
              std::memcpy(grad[t].data() + k * 4, &x, 4);
            } else {
              const uint16_t h = test_support::Narrow(DType::kBFloat16, x);
              std::memcpy(grad[t].data() + k * 2, &h, 2);
            }
          }
          grad_copy[t] = grad[t];
        }
        a.Step();
        b.Step();
      }
      for (size_t t = 0; t < layouts.size(); ++t) {
        const std::vector<int64_t> offsets = Offsets(layouts[t]);
        std::vector<bool> inside(static_cast<size_t>(bases[t]));
        for (size_t k = 0; k < offsets.size(); ++k) {
          inside[static_cast<size_t>(offsets[k])] = true;
          EXPECT_EQ(0, std::memcmp(big[t].data() + offsets[k] * size, copy[t].data() + k * size, size))
              << DTypeName(dtype) << " case " << precision_case << ", tensor " << t << ", element " << k;
        }
        for (int64_t k = 0; k < bases[t]; ++k) {
          if (!inside[static_cast<size_t>(k)]) {
            EXPECT_EQ(0, std::memcmp(big[t].data() + k * size, initial[t].data() + k * size, size)) << "gap " << k;
          }
        }
        const ParamState& sa = std::as_const(a).state(0, t);
        const ParamState& sb = std::as_const(b).state(0, t);
        EXPECT_EQ(sa.step, sb.step);
        EXPECT_EQ(sa.mu_product, sb.mu_product);
        ASSERT_EQ(sa.buffers.size(), sb.buffers.size());
        for (const auto& [name, buffer] : sa.buffers) {
          ASSERT_TRUE(sb.has(name)) << name;
          EXPECT_EQ(0, std::memcmp(buffer.data(), sb.at(name).data(), buffer.nbytes())) << name << " of " << t;
        }
      }
    }
  }
}

}  // namespace
}  // namespace adamant
