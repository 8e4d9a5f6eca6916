// adamant_bench: builds the list of cases from the flags, runs them one at a time (each allocates and
// frees its own tensors) and writes one CSV row per case. bench/run.py runs this, then the PyTorch script,
// then the report.
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "catalog.h"
#include "flags.h"
#include "results.h"
#include "runners.h"
#include "shapes.h"

namespace adamant_bench {
namespace {

struct Case {
  std::string label;  // for a failure message
  std::function<Row()> run;
};

bool Contains(const std::vector<std::string>& list, const std::string& x) {
  for (const auto& s : list) {
    if (s == x) return true;
  }
  return false;
}

std::vector<const Variant*> SelectVariants(const Flags& flags) {
  std::vector<std::string> known;
  for (const Variant& v : Catalog()) known.push_back(v.name);
  for (const auto& a : flags.algs) {
    if (!Contains(known, a)) throw std::invalid_argument("--alg: unknown '" + a + "' (see --catalog)");
  }
  std::vector<const Variant*> out;
  for (const Variant& v : Catalog()) {
    const bool wanted = flags.algs.empty() ? v.by_default : Contains(flags.algs, v.name);
    if (wanted && (flags.dtypes.empty() || Contains(flags.dtypes, StorageName(v.storage)))) out.push_back(&v);
  }
  return out;
}

// Per shape and thread count: the triad, the probes of the selected layouts, then each variant.
std::vector<Case> BuildCases(const Flags& flags) {
  const std::vector<const Variant*> variants = SelectVariants(flags);
  std::vector<Layout> layouts;
  for (const Variant* v : variants) {
    bool seen = false;
    for (const Layout& l : layouts) seen = seen || l == v->layout();
    if (!seen) layouts.push_back(v->layout());
  }
  const RepPolicy policy = flags.policy;
  auto tag = [](const std::string& what, const Shape& s, int t) {
    return what + " " + s.name + " t=" + std::to_string(t);
  };
  std::vector<Case> cases;
  for (const std::string& name : flags.shapes) {
    const Shape shape = ParseShape(name);
    for (int t : flags.threads) {
      if (Contains(flags.impls, "triad")) {
        cases.push_back({tag("triad", shape, t), [=] { return RunTriad(shape, t, policy); }});
      }
      if (Contains(flags.impls, "probe")) {
        for (const Layout& l : layouts) {
          cases.push_back({tag("probe " + l.Name(), shape, t), [=] { return RunProbe(l, shape, t, policy); }});
        }
      }
      for (const Variant* v : variants) {
        const std::string what = v->name + " " + StorageName(v->storage);
        if (Contains(flags.impls, "adamant")) {
          cases.push_back({tag("adamant " + what, shape, t), [=] { return RunAdamant(*v, shape, t, policy); }});
        }
        if (Contains(flags.impls, "libtorch") && v->in_libtorch && v->storage == Storage::kFloat32) {
          cases.push_back({tag("libtorch " + what, shape, t), [=] { return RunLibtorch(*v, shape, t, policy); }});
        }
      }
    }
  }
  return cases;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << Usage();
      return 0;
    }
  }
  const Flags flags = ParseFlags(args);
  if (!flags.catalog.empty()) {
    std::ofstream out(flags.catalog);
    WriteCatalogCsv(out);
    if (!out) throw std::runtime_error("cannot write " + flags.catalog);
    return 0;
  }
  const std::vector<Case> cases = BuildCases(flags);
  std::ofstream file;
  if (flags.csv != "-") {
    file.open(flags.csv);
    if (!file) throw std::runtime_error("cannot write " + flags.csv);
  }
  std::ostream& csv = flags.csv == "-" ? std::cout : file;
  WriteCsvHeader(csv);
  const auto start = std::chrono::steady_clock::now();
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    Row row;
    try {
      row = cases[i].run();
    } catch (const std::exception& e) {
      // Keep going: one broken case should not cost the other results. The row says what happened.
      ++failures;
      std::cerr << "adamant_bench: " << cases[i].label << ": " << e.what() << "\n";
      continue;
    }
    WriteCsvRow(csv, row);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "[%3zu/%zu %5.0fs] %s\n", i + 1, cases.size(), elapsed, ProgressLine(row).c_str());
  }
  if (failures > 0) std::cerr << "adamant_bench: " << failures << " case(s) failed (see above)\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace adamant_bench

int main(int argc, char** argv) {
  try {
    return adamant_bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "adamant_bench: " << e.what() << "\n";
    return 2;
  }
}
