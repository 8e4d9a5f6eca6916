#include "flags.h"

#include <sched.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "shapes.h"

namespace adamant_bench {
namespace {

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

int ParseInt(const std::string& flag, const std::string& value, int min) {
  size_t used = 0;
  int x = 0;
  try {
    x = std::stoi(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty() || x < min) {
    throw std::invalid_argument(flag + ": want an integer >= " + std::to_string(min) + ", got '" + value + "'");
  }
  return x;
}

double ParseSeconds(const std::string& flag, const std::string& value) {
  size_t used = 0;
  double x = -1;
  try {
    x = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty() || !(x >= 0)) {
    throw std::invalid_argument(flag + ": want seconds >= 0, got '" + value + "'");
  }
  return x;
}

void CheckChoices(const std::string& flag, const std::vector<std::string>& values,
                  const std::vector<std::string>& valid) {
  for (const auto& v : values) {
    if (std::find(valid.begin(), valid.end(), v) == valid.end()) {
      std::string list;
      for (const auto& s : valid) list += (list.empty() ? "" : ", ") + s;
      throw std::invalid_argument(flag + ": unknown '" + v + "' (valid: " + list + ")");
    }
  }
}

}  // namespace

std::string Usage() {
  return R"(adamant_bench: time optimizer steps of adamant and libtorch against a same-pattern probe and a triad.

Usage: adamant_bench [flags]
  --impl=LIST       adamant,libtorch,probe,triad (default: all four)
  --alg=LIST        catalog names (default: the default set; see --catalog)
  --dtype=LIST      fp32,bf16: parameter storage (default: both)
  --shape=LIST      TENSORSxNUMEL with k/M suffixes (default: 1x10M,1x50M,100x100k,10000x1k)
  --threads=LIST    thread counts (default: 1 and the available CPUs)
  --warmup=N        untimed steps per case (default 2)
  --min-reps=N      timed steps per case, at least (default 3)
  --reps=N          timed steps per case, at most (default 30)
  --max-seconds=S   stop timing a case after min-reps once its timed steps took S seconds (default 0.5)
                    Unless --warmup or --min-reps is given, a case whose first step takes S/2 or more
                    gets 1 warm-up step and at least 2 timed steps (1 if it took 3*S or more).
  --quick           shape 1x10M, warm-up 1, 2 to 3 timed steps (flags given after it still apply)
  --csv=PATH        write the rows here (default: stdout); progress goes to stderr
  --catalog=PATH    write the catalog (variants, options, byte model) as CSV and exit
  --help            this text
)";
}

int AvailableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

Flags ParseFlags(const std::vector<std::string>& args) {
  Flags f;
  std::optional<std::vector<std::string>> shapes;
  std::optional<std::vector<int>> threads;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    const size_t eq = flag.find('=');
    const bool has_value = eq != std::string::npos;
    if (has_value) value = flag.substr(eq + 1), flag = flag.substr(0, eq);
    auto need_value = [&]() -> const std::string& {
      if (!has_value) {
        if (i + 1 >= args.size()) throw std::invalid_argument(flag + ": missing value");
        value = args[++i];
      }
      return value;
    };
    if (flag == "--quick") {
      if (has_value) throw std::invalid_argument("--quick takes no value");
      if (!shapes) shapes = std::vector<std::string>{"1x10M"};
      f.policy.warmup = 1, f.policy.min_reps = 2, f.policy.max_reps = 3, f.policy.max_seconds = 0.2;
    } else if (flag == "--impl") {
      f.impls = SplitList(need_value());
      CheckChoices(flag, f.impls, {"adamant", "libtorch", "probe", "triad"});
    } else if (flag == "--alg") {
      f.algs = SplitList(need_value());
    } else if (flag == "--dtype") {
      f.dtypes = SplitList(need_value());
      CheckChoices(flag, f.dtypes, {"fp32", "bf16"});
    } else if (flag == "--shape") {
      shapes = SplitList(need_value());
      for (const auto& s : *shapes) ParseShape(s);  // throws on a bad one
    } else if (flag == "--threads") {
      threads.emplace();
      for (const auto& s : SplitList(need_value())) threads->push_back(ParseInt(flag, s, 1));
    } else if (flag == "--warmup") {
      f.policy.warmup = ParseInt(flag, need_value(), 0);
      f.policy.adaptive = false;
    } else if (flag == "--min-reps") {
      f.policy.min_reps = ParseInt(flag, need_value(), 1);
      f.policy.adaptive = false;
    } else if (flag == "--reps") {
      f.policy.max_reps = ParseInt(flag, need_value(), 1);
    } else if (flag == "--max-seconds") {
      f.policy.max_seconds = ParseSeconds(flag, need_value());
    } else if (flag == "--csv") {
      f.csv = need_value();
    } else if (flag == "--catalog") {
      f.catalog = need_value();
    } else {
      throw std::invalid_argument("unknown flag '" + args[i] + "' (see --help)");
    }
  }
  f.policy.min_reps = std::min(f.policy.min_reps, f.policy.max_reps);
  if (f.impls.empty()) f.impls = {"adamant", "libtorch", "probe", "triad"};
  f.shapes = shapes ? *shapes : DefaultShapes();
  if (threads) {
    f.threads = *threads;
  } else {
    f.threads = {1};
    if (AvailableCpus() > 1) f.threads.push_back(AvailableCpus());
  }
  return f;
}

}  // namespace adamant_bench
