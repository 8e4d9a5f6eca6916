#include <omp.h>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/dtype.h"
#include "adamant/factory.h"
#include "adamant/nonfinite.h"
#include "adamant/param.h"
#include "adamant/threads.h"
#include "memory.h"
#include "probe_data.h"
#include "runners.h"

namespace adamant_bench {
namespace {

// DType::kBFloat16 once the library has it (the bench builds before and after it arrives).
template <class D = adamant::DType>
std::optional<D> Bf16DType() {
  if constexpr (requires { D::kBFloat16; }) {
    return D::kBFloat16;
  } else {
    return std::nullopt;
  }
}

// Sets the library's thread count; returns a caveat for the row, if any.
std::string UseThreads(int n) {
#if ADAMANT_BENCH_HAVE_SET_NUM_THREADS
  adamant::SetNumThreads(n);
  const int got = adamant::GetNumThreads();
  return got == n ? "" : "adamant::GetNumThreads() = " + std::to_string(got);
#else
  // Until the library defines SetNumThreads: its documented default, OpenMP's team size.
  omp_set_num_threads(n);
  return n > 1 ? "adamant::SetNumThreads not in the library yet" : "";
#endif
}

}  // namespace

Row RunAdamant(const Variant& v, const Shape& shape, int threads, const RepPolicy& policy) {
  const Layout layout = v.layout();
  Row row{"adamant", v.name, layout.Dtypes(), shape, threads, layout.BytesPerParam()};
  const std::optional<adamant::DType> dtype =
      v.storage == Storage::kBFloat16 ? Bf16DType() : std::optional(adamant::DType::kFloat32);
  if (!dtype) {
    row.note = "n/a: adamant::DType has no kBFloat16 yet";
    return row;
  }
  const int bytes = StorageBytes(v.storage);
  TensorList params(shape, bytes, 1), grads(shape, bytes, 2);
  std::vector<adamant::ParamView> views;
  for (size_t t = 0; t < params.size(); ++t) views.push_back({params[t], grads[t], shape.numel, *dtype});
  row.note = UseThreads(threads);
  try {
    auto opt = adamant::CreateOptimizer(v.algorithm, std::move(views), adamant::ParseOptionList(v.options));
    std::function<void()> skip;
    if (v.skip_to_step > 0) {
      skip = [&] {
        for (size_t t = 0; t < opt->params(0).size(); ++t) opt->state(0, t).step = v.skip_to_step;
      };
    }
    // The probe of the same layout, stepped alternately with the optimizer: the ratio of the two holds up
    // on a busy machine better than a ratio to a probe timed minutes apart.
    ProbeData probe(layout, shape, threads);
    if (v.nonfinite.empty()) {
      std::vector<Timing> t = TimeInterleaved(policy, {[&] { opt->Step(); }, [&] { probe.Step(); }}, skip);
      row.timing = t[0];
      row.paired_probe = t[1];
      row.step_peak_mib = StepPeakMiB([&] { opt->Step(); });
    } else {
      // The same optimizer under the policy and under the default, in turn: the gradients are finite, so
      // both take every step, and the difference is the policy's check.
      const adamant::NonFinite checked = adamant::ParseNonFinite(v.nonfinite);
      std::vector<Timing> t = TimeInterleaved(policy,
                                              {[&] { opt->set_nonfinite(checked), opt->Step(); },
                                               [&] { opt->set_nonfinite(adamant::NonFinite::kPropagate), opt->Step(); },
                                               [&] { probe.Step(); }},
                                              skip);
      row.timing = t[0];
      row.paired_default = t[1];
      row.paired_probe = t[2];
    }
    row.state_bytes_per_param = static_cast<double>(opt->state_nbytes()) / static_cast<double>(shape.total());
  } catch (const std::invalid_argument& e) {
    row.timing = {};
    row.note = std::string("n/a: ") + e.what();
  }
  return row;
}

}  // namespace adamant_bench
