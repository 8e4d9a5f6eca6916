#include "results.h"

#include <cmath>
#include <cstdio>
#include <ostream>

namespace adamant_bench {
std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

namespace {

std::string Number(double x, const char* format = "%.4f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

}  // namespace

double Row::GigabytesPerSecond() const {
  return static_cast<double>(bytes_per_param) * static_cast<double>(shape.total()) / (timing.Median() * 1e-3) /
         1e9;
}

void WriteCsvHeader(std::ostream& out) {
  out << "impl,algorithm,dtypes,shape,tensors,numel,threads,warmup,reps,ms_median,ms_min,ms_max,"
         "bytes_per_param,gbps,paired_probe_ms,paired_default_ms,note,state_bytes_per_param,step_peak_mib\n";
}

void WriteCsvRow(std::ostream& out, const Row& r) {
  out << r.impl << ',' << CsvField(r.algorithm) << ',' << r.dtypes << ',' << r.shape.name << ','
      << r.shape.tensors << ',' << r.shape.numel << ',' << r.threads << ',' << r.timing.warmup << ','
      << r.timing.ms.size() << ',';
  if (r.timing.empty()) {
    out << ",,,";
  } else {
    out << Number(r.timing.Median()) << ',' << Number(r.timing.Min()) << ',' << Number(r.timing.Max()) << ',';
  }
  out << r.bytes_per_param << ',' << (r.timing.empty() ? "" : Number(r.GigabytesPerSecond(), "%.3f")) << ','
      << (r.paired_probe.empty() ? "" : Number(r.paired_probe.Median())) << ','
      << (r.paired_default.empty() ? "" : Number(r.paired_default.Median())) << ',' << CsvField(r.note) << ','
      << (std::isnan(r.state_bytes_per_param) ? "" : Number(r.state_bytes_per_param)) << ','
      << (std::isnan(r.step_peak_mib) ? "" : Number(r.step_peak_mib, "%.2f")) << '\n';
  out.flush();
}

std::string ProgressLine(const Row& r) {
  char buf[256];
  if (r.timing.empty()) {
    std::snprintf(buf, sizeof buf, "%-8s %-16s %-15s %-9s t=%-2d       n/a", r.impl.c_str(), r.algorithm.c_str(),
                  r.dtypes.c_str(), r.shape.name.c_str(), r.threads);
  } else {
    std::snprintf(buf, sizeof buf, "%-8s %-16s %-15s %-9s t=%-2d %9.3f ms %6.1f GB/s", r.impl.c_str(),
                  r.algorithm.c_str(), r.dtypes.c_str(), r.shape.name.c_str(), r.threads, r.timing.Median(),
                  r.GigabytesPerSecond());
  }
  std::string line = buf;
  if (!r.note.empty()) line += "  (" + r.note + ")";
  return line;
}

}  // namespace adamant_bench
