#include <vector>

#include "memory.h"
#include "partition.h"
#include "probe_data.h"
#include "runners.h"
#include "triad.h"

namespace adamant_bench {

Row RunProbe(const Layout& layout, const Shape& shape, int threads, const RepPolicy& policy) {
  Row row{"probe", layout.Name(), layout.Dtypes(), shape, threads, layout.BytesPerParam()};
  ProbeData probe(layout, shape, threads);
  row.timing = TimeSteps(policy, [&] { probe.Step(); });
  return row;
}

Row RunTriad(const Shape& shape, int threads, const RepPolicy& policy) {
  Row row{"triad", "a=b+s*c", "fp32", shape, threads, 12};
  const Shape flat{shape.name, 1, shape.total()};
  TensorList a(flat, 4, 1), b(flat, 4, 2), c(flat, 4, 3);
  const Partition partition(std::vector<int64_t>{flat.total()}, threads, kAlignElements);
  row.timing = TimeSteps(policy, [&] {
    TriadStep(static_cast<float*>(a[0]), static_cast<const float*>(b[0]), static_cast<const float*>(c[0]), 0.5f,
              partition, threads);
  });
  return row;
}

}  // namespace adamant_bench
