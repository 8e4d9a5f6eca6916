// What the experiments of `adamant compare` share: the context of a run (options, output directory,
// progress lines, figures), the learning-rate search and final runs of the paper's protocol, the CSV and
// markdown writers, and the reports. Each experiment is a file of its own in experiments/.
#ifndef ADAMANT_APPS_ADAMANT_EXPERIMENT_H_
#define ADAMANT_APPS_ADAMANT_EXPERIMENT_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "compare.h"
#include "files.h"
#include "train.h"

namespace adamant::app {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Num(double v);
std::string Fixed(double v, int digits);
// A loss that diverged counts as infinitely bad.
double Score(double loss);

// What every experiment shares: the options, where files go, the progress lines.
class Context {
 public:
  explicit Context(const CompareOptions& o) : options_(o), start_(Clock::now()) {
    dir_ = !o.out_dir.empty() ? fs::path(o.out_dir) : fs::path(o.quick ? "runs/compare-quick" : "docs/results");
    PrepareOutputDir(dir_);
  }

  const CompareOptions& options() const { return options_; }
  bool quick() const { return options_.quick; }
  const fs::path& dir() const { return dir_; }

  // Training options for one run of an experiment: data, seed and threads from the command line, no files.
  // `val_size` and `limit_test` bound the evaluation cost of networks that are expensive to run.
  TrainOptions Base(int64_t limit_train, int64_t epochs, int64_t val_size = 5000, int64_t limit_test = 0) const {
    TrainOptions t;
    t.data_dir = options_.data_dir;
    t.threads = options_.threads;
    t.seed = options_.seed;
    t.limit_train = options_.limit_train > 0 ? (limit_train > 0 ? std::min(limit_train, options_.limit_train)
                                                                : options_.limit_train)
                                             : limit_train;
    t.val_size = options_.limit_train > 0 ? std::min<int64_t>(val_size, std::max<int64_t>(options_.limit_train / 2, 50))
                                          : val_size;
    t.limit_test = options_.limit_train > 0 ? t.val_size : limit_test;
    t.epochs = epochs;
    t.out_dir.clear();
    t.progress = "none";
    t.plot = false;
    t.quiet = true;
    return t;
  }
  int64_t FinalEpochs(int64_t full, int64_t quick) const {
    if (options_.epochs > 0) return options_.epochs;
    return quick_or(full, quick);
  }
  template <class T>
  T quick_or(T full, T quick) const {
    return options_.quick ? quick : full;
  }

  // Trains, printing one line when done (a long run also prints a line per epoch).
  TrainResult Run(const std::string& experiment, const std::string& what, const TrainOptions& t) {
    const auto start = Clock::now();
    TrainResult r;
    try {
      r = Train(t);
    } catch (const std::exception& e) {
      throw std::runtime_error(experiment + ": " + what + ": " + e.what());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const EpochMetrics last = r.epochs.empty() ? EpochMetrics{} : r.epochs.back();
    std::printf("[%s] %-34s train_loss %-9s val_loss %-9s val_acc %.4f  %5.1fs  (total %.0fs)\n", experiment.c_str(),
                what.c_str(), Fixed(last.train_loss, 4).c_str(), Fixed(last.val_loss, 4).c_str(), last.val_accuracy,
                seconds, std::chrono::duration<double>(Clock::now() - start_).count());
    std::fflush(stdout);
    return r;
  }

  void Write(const std::string& name, const std::string& text) const { WriteFileAtomically(dir_ / name, text); }

  // Draws `png` from `csv` with plot_compare.py (kind: curves, bias, amsgrad, heatmap); warns on failure.
  bool Plot(const std::string& kind, const std::vector<std::string>& inputs, const std::string& png,
            const std::string& title) const {
    std::vector<std::string> args = {kind, (dir_ / png).string(), title};
    for (const auto& in : inputs) args.push_back((dir_ / in).string());
    std::string error;
    if (RunPythonScript("plot_compare.py", args, &error)) return true;
    std::fprintf(stderr, "adamant: warning: no figure %s: %s\n", png.c_str(), error.c_str());
    return false;
  }

  std::string Command(const std::string& experiment) const {
    std::string c = "build/apps/adamant/adamant compare --experiment " + experiment;
    if (options_.quick) c += " --quick";
    if (options_.seed != 0) c += " --seed " + std::to_string(options_.seed);
    if (options_.limit_train > 0) c += " --limit-train " + std::to_string(options_.limit_train);
    if (options_.epochs > 0) c += " --epochs " + std::to_string(options_.epochs);
    if (!options_.out_dir.empty()) c += " --out " + options_.out_dir;
    return c;
  }

 private:
  CompareOptions options_;
  fs::path dir_;
  Clock::time_point start_;
};

// One optimizer of a curve experiment: its fixed options and the learning rates searched.
struct Contender {
  std::string label;
  std::string optimizer;
  OptionList fixed;
  std::vector<double> lrs;
};

struct SearchRow {
  std::string label;
  double lr;
  double val_loss;
  double val_accuracy;
};

struct Final {
  Contender contender;
  double lr = 0;
  TrainResult result;
};

struct Report {
  std::string title;
  std::string paper;     // what the paper did and claims
  std::string ours;      // what we did differently
  std::string verdict;   // agrees / does not, with the numbers
  std::string settings;  // markdown
  std::string tables;    // markdown
  std::string figure;    // file name, or empty
};

// The learning rates of a log grid centred on `center` (a factor of sqrt(10) apart, as the paper's
// "dense grid" thinned to what 2 cores can afford): 5 points, or 3 with --quick.
std::vector<double> Grid(const Context& ctx, double center);

// The paper's protocol: for each contender, the learning rate with the lowest validation loss after a
// short search run; then the full run at that rate.
std::vector<Final> SearchAndTrain(Context& ctx, const std::string& experiment, const std::vector<Contender>& contenders,
                                  const TrainOptions& search, const TrainOptions& final,
                                  std::vector<SearchRow>* search_rows);

std::string SearchCsv(const std::vector<SearchRow>& rows);
// Per epoch: the training cost of each optimizer (the paper's y axis), validation loss and accuracy.
std::string CurvesCsv(const std::vector<Final>& finals);
// Per iteration over the first `epochs` epochs: each optimizer step's mini-batch loss.
std::string IterationsCsv(const std::vector<Final>& finals, int64_t epochs);
double FinalTrainLoss(const Final& f);
const Final& Find(const std::vector<Final>& finals, const std::string& label);
std::string FinalsTable(const std::vector<Final>& finals);
std::string SearchTable(const std::vector<SearchRow>& rows);
// The settings of a run as a markdown list item.
std::string Describe(const TrainOptions& t, const char* role);
void WriteReport(const Context& ctx, const std::string& name, const Report& r);

// ---- Curve experiments: the search, the final runs, their figure and report ----

struct CurveSpec {
  std::string name;
  std::string title;
  std::string paper;
  std::string ours;
  std::vector<Contender> contenders;
  TrainOptions search;
  TrainOptions final;
  int64_t iteration_epochs = 3;
  std::function<std::string(const std::vector<Final>&)> verdict;
};

void RunCurves(Context& ctx, const CurveSpec& spec);

std::string Versus(const std::string& a, double x, const std::string& b, double y);

// The multilayer network of Kingma & Ba's Figure 2a (two hidden layers of 512, dropout), smaller with --quick.
ModelOptions Mlp(const Context& ctx);

// The experiments (experiments/*.cc), each writing its CSVs, figure and report under ctx.dir().
void LogregExperiment(Context& ctx);
void MlpExperiment(Context& ctx);
void CnnExperiment(Context& ctx);
void AdamaxExperiment(Context& ctx);
void BiasCorrectionExperiment(Context& ctx);
void AmsgradExperiment(Context& ctx);
void AdamWExperiment(Context& ctx);
void StatePrecisionExperiment(Context& ctx);

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_EXPERIMENT_H_
