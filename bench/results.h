// One measured case, as a CSV row (the report reads these) and as a progress line.
#ifndef ADAMANT_BENCH_RESULTS_H_
#define ADAMANT_BENCH_RESULTS_H_

#include <cstdint>
#include <iosfwd>
#include <limits>
#include <string>
#include <utility>

#include "shapes.h"
#include "timing.h"

namespace adamant_bench {

struct Row {
  Row() = default;
  Row(std::string impl, std::string algorithm, std::string dtypes, Shape shape, int threads, int bytes_per_param)
      : impl(std::move(impl)), algorithm(std::move(algorithm)), dtypes(std::move(dtypes)), shape(std::move(shape)),
        threads(threads), bytes_per_param(bytes_per_param) {}

  std::string impl;       // adamant, libtorch, probe, triad
  std::string algorithm;  // a catalog name, or the probe's layout, or the triad's formula
  std::string dtypes;     // param/grad/state
  Shape shape;
  int threads = 1;
  int bytes_per_param = 0;
  Timing timing;        // empty: not measured (see note)
  Timing paired_probe;  // adamant rows: the probe of the same layout, timed alternately with `timing`
  Timing paired_default;  // adamant rows of a non-finite policy: the default policy, timed alternately
  std::string note;     // why n/a, or a caveat
  // adamant rows: the optimizer's state_nbytes() per parameter, and how far a step raised the process's
  // resident memory above what it held before the step (its temporaries), in MiB; NaN: not measured.
  double state_bytes_per_param = std::numeric_limits<double>::quiet_NaN();
  double step_peak_mib = std::numeric_limits<double>::quiet_NaN();

  double GigabytesPerSecond() const;  // bytes_per_param * elements / median time, 1e9 bytes per GB
};

// A CSV field: quoted if it holds a comma, a quote or a newline (newlines become spaces).
std::string CsvField(const std::string& s);

// The columns torch_optim_bench.py writes too.
void WriteCsvHeader(std::ostream& out);
void WriteCsvRow(std::ostream& out, const Row& row);

// "adamant   adam      fp32/fp32/fp32 1x10M     t=1  12.345 ms  22.7 GB/s"
std::string ProgressLine(const Row& row);

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_RESULTS_H_
