// The command line of adamant_bench.
#ifndef ADAMANT_BENCH_FLAGS_H_
#define ADAMANT_BENCH_FLAGS_H_

#include <string>
#include <vector>

#include "timing.h"

namespace adamant_bench {

struct Flags {
  std::vector<std::string> impls;   // adamant, libtorch, probe, triad
  std::vector<std::string> algs;    // catalog names; empty: the catalog's default set
  std::vector<std::string> dtypes;  // fp32, bf16 (parameter storage); empty: both
  std::vector<std::string> shapes;
  std::vector<int> threads;
  RepPolicy policy;
  std::string csv = "-";  // rows go here ("-": stdout)
  std::string catalog;    // if set: write the catalog CSV here and exit
};

// The usage text (--help).
std::string Usage();

// Throws std::invalid_argument naming the bad flag or value. --help is the caller's business.
Flags ParseFlags(const std::vector<std::string>& args);

// Online CPUs this process may run on (what `nproc` prints).
int AvailableCpus();

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_FLAGS_H_
