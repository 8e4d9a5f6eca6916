// `adamant compare`: runs the chosen experiments (experiments/*.cc) and writes the index of their reports.
#include "compare.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "experiment.h"
#include "files.h"

namespace adamant::app {
namespace {

// README.md of the output directory: each experiment's report that exists there, with its verdict line.
void WriteIndex(const Context& ctx) {
  std::string md = "# Results: the papers' experiments on Fashion-MNIST (Adam, AMSGrad, AdamW, 8-bit optimizers)\n\n"
                   "Written by `adamant compare` (`build/apps/adamant/adamant compare` runs them all; `--experiment "
                   "NAME` one). Each report gives the paper's claim, what we ran, the figure and our verdict.\n\n"
                   "| experiment | verdict |\n|---|---|\n";
  for (const std::string& name : ExperimentNames()) {
    const fs::path report = ctx.dir() / (name + ".md");
    if (!fs::exists(report)) continue;
    const std::string text = ReadFile(report);
    const size_t title_end = text.find('\n');
    const std::string title = text.substr(2, title_end - 2);
    std::string verdict;
    const size_t result = text.find("## Result\n\n");
    if (result != std::string::npos) {
      const size_t start = result + 11;
      verdict = text.substr(start, text.find('\n', start) - start);
    }
    md += "| [" + title + "](" + name + ".md) | " + verdict + " |\n";
  }
  ctx.Write("README.md", md);
}

const std::vector<std::pair<std::string, void (*)(Context&)>>& Experiments() {
  static const std::vector<std::pair<std::string, void (*)(Context&)>> kExperiments = {
      {"logreg", LogregExperiment},   {"mlp", MlpExperiment},           {"cnn", CnnExperiment},
      {"bias-correction", BiasCorrectionExperiment}, {"amsgrad", AmsgradExperiment}, {"adamw", AdamWExperiment},
      {"adamax", AdamaxExperiment},   {"state-precision", StatePrecisionExperiment}};
  return kExperiments;
}

}  // namespace

std::vector<std::string> ExperimentNames() {
  std::vector<std::string> names;
  for (const auto& [name, run] : Experiments()) names.push_back(name);
  return names;
}

void Compare(const CompareOptions& options) {
  std::vector<std::string> chosen = options.experiments;
  if (chosen.empty() || (chosen.size() == 1 && chosen[0] == "all")) chosen = ExperimentNames();
  for (const std::string& name : chosen) {
    bool known = false;
    for (const auto& [n, run] : Experiments()) known |= n == name;
    if (!known) {
      std::string valid;
      for (const auto& n : ExperimentNames()) valid += (valid.empty() ? "" : ", ") + n;
      throw std::invalid_argument("unknown experiment '" + name + "' (valid: " + valid + ", all)");
    }
  }
  Context ctx(options);
  const auto start = Clock::now();
  for (const auto& [name, run] : Experiments()) {
    if (std::find(chosen.begin(), chosen.end(), name) == chosen.end()) continue;
    std::printf("[%s] starting\n", name.c_str());
    std::fflush(stdout);
    run(ctx);
  }
  WriteIndex(ctx);
  std::printf("compare: %zu experiment(s) in %.0f s; reports, figures and CSVs in %s\n", chosen.size(),
              std::chrono::duration<double>(Clock::now() - start).count(), ctx.dir().c_str());
}

}  // namespace adamant::app
