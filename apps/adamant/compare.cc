#include "compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include "adamant/optimizer.h"
#include "adamant/schedule.h"
#include "files.h"
#include "train.h"

namespace adamant::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Num(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4g", v);
  return text;
}

std::string Fixed(double v, int digits) {
  if (!std::isfinite(v)) return "diverged";
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", digits, v);
  return text;
}

// A loss that diverged counts as infinitely bad.
double Score(double loss) { return std::isfinite(loss) ? loss : kInf; }

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

// The learning rates of a log grid centred on `center` (a factor of sqrt(10) apart, as the paper's
// "dense grid" thinned to what 2 cores can afford): 5 points, or 3 with --quick.
std::vector<double> Grid(const Context& ctx, double center) {
  if (ctx.quick()) return {center / 3.1622776601683795, center, center * 3.1622776601683795};
  return {center / 10, center / 3.1622776601683795, center, center * 3.1622776601683795, center * 10};
}

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

// The paper's protocol: for each contender, the learning rate with the lowest validation loss after a
// short search run; then the full run at that rate.
std::vector<Final> SearchAndTrain(Context& ctx, const std::string& experiment, const std::vector<Contender>& contenders,
                                  const TrainOptions& search, const TrainOptions& final,
                                  std::vector<SearchRow>* search_rows) {
  std::vector<Final> finals;
  for (const Contender& c : contenders) {
    double best_lr = c.lrs.front();
    double best = kInf;
    for (double lr : c.lrs) {
      TrainOptions t = search;
      t.optimizer = c.optimizer;
      t.optimizer_options = c.fixed;
      t.optimizer_options.emplace_back("lr", Num(lr));
      const TrainResult r = ctx.Run(experiment, "search " + c.label + " lr=" + Num(lr), t);
      const EpochMetrics& m = r.epochs.back();
      search_rows->push_back({c.label, lr, m.val_loss, m.val_accuracy});
      if (Score(m.val_loss) < best) best = Score(m.val_loss), best_lr = lr;
    }
    TrainOptions t = final;
    t.optimizer = c.optimizer;
    t.optimizer_options = c.fixed;
    t.optimizer_options.emplace_back("lr", Num(best_lr));
    finals.push_back({c, best_lr, ctx.Run(experiment, "final " + c.label + " lr=" + Num(best_lr), t)});
  }
  return finals;
}

std::string SearchCsv(const std::vector<SearchRow>& rows) {
  std::string csv = "optimizer,lr,val_loss,val_accuracy\n";
  for (const auto& r : rows) csv += r.label + "," + Num(r.lr) + "," + Fixed(r.val_loss, 6) + "," + Fixed(r.val_accuracy, 4) + "\n";
  return csv;
}

// Per epoch: the training cost of each optimizer (the paper's y axis), validation loss and accuracy.
std::string CurvesCsv(const std::vector<Final>& finals) {
  std::string csv = "optimizer,lr,epoch,step,train_loss,val_loss,val_accuracy,seconds\n";
  for (const Final& f : finals) {
    for (const EpochMetrics& m : f.result.epochs) {
      csv += f.contender.label + "," + Num(f.lr) + "," + std::to_string(m.epoch) + "," + std::to_string(m.step) + "," +
             Fixed(m.train_loss, 6) + "," + Fixed(m.val_loss, 6) + "," + Fixed(m.val_accuracy, 4) + "," +
             Fixed(m.seconds, 2) + "\n";
    }
  }
  return csv;
}

// Per iteration over the first `epochs` epochs: each optimizer step's mini-batch loss.
std::string IterationsCsv(const std::vector<Final>& finals, int64_t epochs) {
  std::string csv = "optimizer,iteration,loss\n";
  for (const Final& f : finals) {
    const int64_t steps_per_epoch = f.result.epochs.empty() ? 0 : f.result.epochs.front().step;
    const auto n = std::min<int64_t>(static_cast<int64_t>(f.result.step_losses.size()), epochs * steps_per_epoch);
    for (int64_t i = 0; i < n; ++i) {
      csv += f.contender.label + "," + std::to_string(i + 1) + "," + Fixed(f.result.step_losses[i], 6) + "\n";
    }
  }
  return csv;
}

double FinalTrainLoss(const Final& f) { return f.result.epochs.empty() ? kInf : Score(f.result.epochs.back().train_loss); }

const Final& Find(const std::vector<Final>& finals, const std::string& label) {
  for (const Final& f : finals) {
    if (f.contender.label == label) return f;
  }
  throw std::logic_error("no contender " + label);
}

std::string FinalsTable(const std::vector<Final>& finals) {
  std::string md = "| optimizer | learning rate (searched) | final training cost | final validation accuracy | test accuracy | optimizer step |\n|---|---|---|---|---|---|\n";
  for (const Final& f : finals) {
    const EpochMetrics& m = f.result.epochs.back();
    md += "| " + f.contender.label + " | " + Num(f.lr) + " | " + Fixed(m.train_loss, 4) + " | " +
          Fixed(m.val_accuracy, 4) + " | " + Fixed(f.result.test_accuracy, 4) + " | " +
          Fixed(f.result.optimizer_step_ms, 3) + " ms |\n";
  }
  return md;
}

std::string SearchTable(const std::vector<SearchRow>& rows) {
  std::map<std::string, std::string> by_label;
  std::vector<std::string> order;
  for (const SearchRow& r : rows) {
    if (!by_label.count(r.label)) order.push_back(r.label);
    by_label[r.label] += (by_label[r.label].empty() ? "" : ", ") + Num(r.lr) + ": " + Fixed(r.val_loss, 4);
  }
  std::string md = "| optimizer | learning rate: validation loss after the search run |\n|---|---|\n";
  for (const auto& label : order) md += "| " + label + " | " + by_label[label] + " |\n";
  return md;
}

std::string Describe(const TrainOptions& t, const char* role) {
  std::string model = t.model.name;
  if (t.model.name == "mlp") {
    model += " (";
    for (size_t i = 0; i < t.model.hidden.size(); ++i) model += (i ? "-" : "") + std::to_string(t.model.hidden[i]);
    model += " ReLU units, dropout " + Num(t.model.dropout) + ")";
  } else if (t.model.name == "cnn") {
    model += " (" + t.model.cnn + ", dropout " + Num(t.model.dropout) + ")";
  }
  return std::string("- ") + role + ": " + model + ", " +
         (t.limit_train > 0 ? std::to_string(t.limit_train) : std::string("all 55,000")) + " training examples, " +
         std::to_string(t.epochs) + " epoch(s), minibatch " + std::to_string(t.batch_size) + ", schedule " +
         t.schedule + ", seed " + std::to_string(t.seed) + "\n";
}

struct Report {
  std::string title;
  std::string paper;     // what the paper did and claims
  std::string ours;      // what we did differently
  std::string verdict;   // agrees / does not, with the numbers
  std::string settings;  // markdown
  std::string tables;    // markdown
  std::string figure;    // file name, or empty
};

void WriteReport(const Context& ctx, const std::string& name, const Report& r) {
  std::string md = "# " + r.title + "\n\n";
  md += "Regenerate: `" + ctx.Command(name) + "`";
  md += ctx.quick() ? " (a quick run: a subset of the data, fewer epochs, a coarser grid).\n\n" : ".\n\n";
  if (!r.figure.empty()) md += "![" + r.title + "](" + r.figure + ")\n\n";
  md += "## The paper\n\n" + r.paper + "\n\n## Ours\n\n" + r.ours + "\n\n" + r.settings + "\n";
  md += "## Result\n\n" + r.verdict + "\n\n" + r.tables;
  md += "\nEvery curve is in `" + name + ".csv`" + std::string(r.tables.find("search") != std::string::npos ? ", the search in `" + name + "-search.csv`" : "") + ".\n";
  ctx.Write(name + ".md", md);
  std::printf("[%s] report: %s\n", name.c_str(), (ctx.dir() / (name + ".md")).c_str());
}

// ---- Curve experiments: logreg (Fig. 1), mlp (Fig. 2a), cnn (Fig. 3), adamax (section 7) ----

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

void RunCurves(Context& ctx, const CurveSpec& spec) {
  std::vector<SearchRow> search_rows;
  const std::vector<Final> finals = SearchAndTrain(ctx, spec.name, spec.contenders, spec.search, spec.final, &search_rows);
  ctx.Write(spec.name + ".csv", CurvesCsv(finals));
  ctx.Write(spec.name + "-iterations.csv", IterationsCsv(finals, spec.iteration_epochs));
  ctx.Write(spec.name + "-search.csv", SearchCsv(search_rows));
  const bool plotted = ctx.Plot("curves", {spec.name + ".csv", spec.name + "-iterations.csv"}, spec.name + ".png",
                                spec.title + " (Fashion-MNIST)");
  Report r;
  r.title = spec.title;
  r.paper = spec.paper;
  r.ours = spec.ours;
  r.settings = Describe(spec.search, "search run") + Describe(spec.final, "final run") +
               "- learning rate chosen by the lowest validation loss after the search run\n";
  r.tables = "Final runs:\n\n" + FinalsTable(finals) + "\nThe search:\n\n" + SearchTable(search_rows);
  r.verdict = spec.verdict(finals);
  r.figure = plotted ? spec.name + ".png" : "";
  WriteReport(ctx, spec.name, r);
}

std::string Versus(const std::string& a, double x, const std::string& b, double y) {
  return a + " " + Fixed(x, 4) + (x <= y ? " <= " : " > ") + b + " " + Fixed(y, 4);
}

void Logreg(Context& ctx) {
  CurveSpec s;
  s.name = "logreg";
  s.title = "Logistic regression (Kingma & Ba, Figure 1)";
  s.paper =
      "L2-regularized multinomial logistic regression on MNIST, step size alpha/sqrt(t), minibatch 128, "
      "hyperparameters from a dense grid. Claim: \"Adam yields similar convergence as SGD with momentum and "
      "both converge faster than Adagrad\" (on MNIST; Adagrad wins on sparse features, IMDB BoW).";
  s.ours = "Fashion-MNIST instead of MNIST; L2 through each optimizer's `weight_decay` (1e-4); SGD with "
           "Nesterov momentum 0.9; a 5-point log grid of learning rates (3 with --quick) instead of a dense one.";
  const OptionList l2 = {{"weight_decay", "1e-4"}};
  OptionList nesterov = l2;
  nesterov.insert(nesterov.end(), {{"momentum", "0.9"}, {"nesterov", "true"}});
  s.contenders = {{"Adam", "adam", l2, Grid(ctx, 1e-2)},
                  {"SGD-Nesterov", "sgd", nesterov, Grid(ctx, 1e-1)},
                  {"AdaGrad", "adagrad", l2, Grid(ctx, 1e-1)}};
  s.search = ctx.Base(ctx.quick_or<int64_t>(10000, 3000), ctx.quick_or<int64_t>(3, 2));
  s.search.model.name = "logreg";
  s.search.schedule = "inverse_sqrt";
  s.final = ctx.Base(ctx.quick_or<int64_t>(0, 5000), ctx.FinalEpochs(30, 5));
  s.final.model = s.search.model;
  s.final.schedule = s.search.schedule;
  s.verdict = [](const std::vector<Final>& f) {
    const double adam = FinalTrainLoss(Find(f, "Adam")), sgd = FinalTrainLoss(Find(f, "SGD-Nesterov")),
                 ada = FinalTrainLoss(Find(f, "AdaGrad"));
    const bool similar = std::abs(adam - sgd) <= 0.05 * std::min(adam, sgd);
    const bool faster = std::max(adam, sgd) <= ada;
    return std::string(similar && faster ? "**Agrees.**" : (similar || faster) ? "**Partly agrees.**" : "**Does not agree.**") +
           " Final training cost: Adam " + Fixed(adam, 4) + ", SGD-Nesterov " + Fixed(sgd, 4) + ", AdaGrad " +
           Fixed(ada, 4) + ". Adam and SGD-Nesterov " + (similar ? "are within 5% of each other" : "differ by more than 5%") +
           "; AdaGrad is " + (faster ? "behind both" : "not behind both") + ".";
  };
  RunCurves(ctx, s);
}

ModelOptions Mlp(const Context& ctx) {
  ModelOptions m;
  m.name = "mlp";
  m.hidden = {ctx.quick_or<int64_t>(512, 128), ctx.quick_or<int64_t>(512, 128)};
  m.dropout = 0.2;
  return m;
}

void MlpExperiment(Context& ctx) {
  CurveSpec s;
  s.name = "mlp";
  s.title = "Multilayer network with dropout (Kingma & Ba, Figure 2a)";
  s.paper =
      "Two fully connected hidden layers of 1000 ReLU units with dropout on MNIST, minibatch 128. Claim: Adam "
      "\"shows better convergence than other methods\" (AdaGrad, RMSProp, SGD with Nesterov momentum, "
      "AdaDelta) in training cost.";
  s.ours = "Fashion-MNIST; two hidden layers of 512 ReLU units (128 with --quick) instead of 1000, what 2 cores "
           "train in minutes for five optimizers and their searches; dropout 0.2; SGD with Nesterov momentum 0.9; "
           "learning rates from a log grid, searched on 20,000 examples.";
  const OptionList none;
  s.contenders = {{"Adam", "adam", none, Grid(ctx, 1e-3)},
                  {"AdaGrad", "adagrad", none, Grid(ctx, 1e-2)},
                  {"RMSProp", "rmsprop", none, Grid(ctx, 1e-3)},
                  {"SGD-Nesterov", "sgd", {{"momentum", "0.9"}, {"nesterov", "true"}}, Grid(ctx, 3e-2)},
                  {"AdaDelta", "adadelta", none, Grid(ctx, 0.3)}};
  s.search = ctx.Base(ctx.quick_or<int64_t>(20000, 3000), 2);
  s.search.model = Mlp(ctx);
  s.final = ctx.Base(ctx.quick_or<int64_t>(0, 5000), ctx.FinalEpochs(15, 4));
  s.final.model = s.search.model;
  s.verdict = [](const std::vector<Final>& f) {
    const double adam = FinalTrainLoss(Find(f, "Adam"));
    std::string best = "Adam";
    double best_loss = adam;
    std::string all;
    for (const Final& x : f) {
      all += (all.empty() ? "" : ", ") + x.contender.label + " " + Fixed(FinalTrainLoss(x), 4);
      if (FinalTrainLoss(x) < best_loss) best_loss = FinalTrainLoss(x), best = x.contender.label;
    }
    const bool agrees = best == "Adam";
    const bool close = adam <= 1.05 * best_loss;
    return std::string(agrees ? "**Agrees.**" : close ? "**Partly agrees** (Adam within 5% of the best)." : "**Does not agree.**") +
           " Final training cost: " + all + "; lowest: " + best + ".";
  };
  RunCurves(ctx, s);
}

void Cnn(Context& ctx) {
  CurveSpec s;
  s.name = "cnn";
  s.title = "Convolutional network (Kingma & Ba, Figure 3)";
  s.paper =
      "c64-c64-c128-1000: three stages of 5x5 convolutions and 3x3 max pooling (stride 2), then 1000 ReLU "
      "units, on CIFAR-10 with dropout, minibatch 128; the first 3 epochs and 45 epochs. Claim: \"Adam and SGD "
      "eventually converge considerably faster than AdaGrad\", with \"marginal improvement over SGD with "
      "momentum\".";
  s.ours = "Fashion-MNIST (28x28, one channel) instead of CIFAR-10, so the stages go 28 -> 14 -> 7 -> 4; "
           "the same c64-c64-c128-1000 design (`--cnn paper`; the small c32-c64-128 network with --quick), "
           "dropout 0.2 on the 1000 units; a subset of the training set, few epochs and three learning rates per "
           "optimizer (two with --quick): the network trains at about 250 examples per second on 2 cores; SGD "
           "with Nesterov momentum 0.9.";
  auto grid = [&](std::vector<double> full, std::vector<double> quick) { return ctx.quick() ? quick : full; };
  s.contenders = {{"Adam", "adam", {}, grid({1e-4, 3e-4, 1e-3}, {3e-4, 1e-3})},
                  {"AdaGrad", "adagrad", {}, grid({1e-3, 3e-3, 1e-2}, {3e-3, 1e-2})},
                  {"SGD-Nesterov", "sgd", {{"momentum", "0.9"}, {"nesterov", "true"}}, grid({3e-3, 1e-2, 3e-2}, {1e-2, 3e-2})}};
  // The paper's network costs ~200 MFLOP per example and step, about 10 s per 1,000 examples on 2 cores:
  // a subset of the training set and few epochs; --quick trains the small CNN instead.
  s.search = ctx.Base(ctx.quick_or<int64_t>(5000, 1000), 1, 1000, 2000);
  s.search.model.name = "cnn";
  s.search.model.cnn = ctx.quick() ? "small" : "paper";
  s.search.model.dropout = 0.2;
  s.final = ctx.Base(ctx.quick_or<int64_t>(10000, 2000), ctx.FinalEpochs(5, 2), 1000, 2000);
  s.final.model = s.search.model;
  s.iteration_epochs = 3;
  s.verdict = [](const std::vector<Final>& f) {
    const double adam = FinalTrainLoss(Find(f, "Adam")), sgd = FinalTrainLoss(Find(f, "SGD-Nesterov")),
                 ada = FinalTrainLoss(Find(f, "AdaGrad"));
    const bool faster = std::max(adam, sgd) <= ada;
    const bool marginal = adam <= sgd;
    return std::string(faster && marginal ? "**Agrees.**" : faster || marginal ? "**Partly agrees.**" : "**Does not agree.**") +
           " Final training cost: Adam " + Fixed(adam, 4) + ", SGD-Nesterov " + Fixed(sgd, 4) + ", AdaGrad " + Fixed(ada, 4) +
           ". AdaGrad is " + (faster ? "behind both" : "not behind both") + "; " + Versus("Adam", adam, "SGD", sgd) + ".";
  };
  RunCurves(ctx, s);
}

void Adamax(Context& ctx) {
  CurveSpec s;
  s.name = "adamax";
  s.title = "AdaMax next to Adam (Kingma & Ba, section 7.1)";
  s.paper = "AdaMax replaces Adam's second moment by an exponentially weighted infinity norm, u = max(beta2*u, |g|), "
            "with no bias correction of u. The paper proposes it as \"a simple and stable\" variant; it reports no "
            "separate experiment.";
  s.ours = "Both on the MLP of the `mlp` experiment, each with its learning rate searched on the same grid.";
  s.contenders = {{"Adam", "adam", {}, Grid(ctx, 1e-3)}, {"AdaMax", "adamax", {}, Grid(ctx, 2e-3)}};
  s.search = ctx.Base(ctx.quick_or<int64_t>(20000, 3000), 2);
  s.search.model = Mlp(ctx);
  s.final = ctx.Base(ctx.quick_or<int64_t>(0, 5000), ctx.FinalEpochs(15, 4));
  s.final.model = s.search.model;
  s.verdict = [](const std::vector<Final>& f) {
    const Final& adam = Find(f, "Adam");
    const Final& adamax = Find(f, "AdaMax");
    const double gap = std::abs(adam.result.test_accuracy - adamax.result.test_accuracy);
    const bool stable = std::isfinite(FinalTrainLoss(adamax));
    return std::string(stable && gap <= 0.01 ? "**Agrees.**" : stable ? "**Partly agrees.**" : "**Does not agree.**") +
           " AdaMax trains stably to a final training cost of " + Fixed(FinalTrainLoss(adamax), 4) + " (Adam " +
           Fixed(FinalTrainLoss(adam), 4) + "), test accuracy " + Fixed(adamax.result.test_accuracy, 4) + " against " +
           Fixed(adam.result.test_accuracy, 4) + " (" + (gap <= 0.01 ? "within" : "more than") + " one point).";
  };
  RunCurves(ctx, s);
}

// ---- Bias correction (Fig. 4) ----

void BiasCorrection(Context& ctx) {
  const std::string name = "bias-correction";
  const std::vector<double> lrs = ctx.quick() ? std::vector<double>{1e-5, 1e-3, 1e-1}
                                              : std::vector<double>{1e-5, 1e-4, 1e-3, 1e-2, 1e-1};
  const int64_t epochs = ctx.FinalEpochs(20, 3);
  const int64_t early = std::max<int64_t>(1, epochs / 10);  // the paper's 10 and 100 epochs, scaled
  TrainOptions base = ctx.Base(ctx.quick_or<int64_t>(5000, 1000), epochs, 1000, 1000);
  base.model.name = "mlp";
  base.model.hidden = {256};
  base.model.dropout = 0.0;
  std::string csv = "beta1,beta2,lr,bias_correction,epochs,train_loss\n";
  // cell -> (loss with correction, loss without) at the early and the final budget, best over lr.
  struct Cell {
    double with_early = kInf, without_early = kInf, with_final = kInf, without_final = kInf;
  };
  std::map<std::pair<double, double>, Cell> cells;
  // (beta1, beta2, lr) -> early loss with and without correction, for the large step sizes.
  std::map<std::tuple<double, double, double>, std::pair<double, double>> early_by_lr;
  for (double beta1 : {0.0, 0.9}) {
    for (double beta2 : {0.99, 0.999, 0.9999}) {
      for (double lr : lrs) {
        for (bool correction : {true, false}) {
          TrainOptions t = base;
          t.optimizer = "adam";
          t.optimizer_options = {{"lr", Num(lr)},
                                 {"betas", Num(beta1) + "," + Num(beta2)},
                                 {"bias_correction", correction ? "true" : "false"}};
          const TrainResult r = ctx.Run(name, "b1=" + Num(beta1) + " b2=" + Num(beta2) + " lr=" + Num(lr) +
                                                  (correction ? " corrected" : " uncorrected"), t);
          Cell& cell = cells[{beta1, beta2}];
          for (const EpochMetrics& m : r.epochs) {
            if (m.epoch != early && m.epoch != epochs) continue;
            csv += Num(beta1) + "," + Num(beta2) + "," + Num(lr) + "," + (correction ? "1" : "0") + "," +
                   std::to_string(m.epoch) + "," + Fixed(m.train_loss, 6) + "\n";
            if (m.epoch == early) {
              auto& pair = early_by_lr[{beta1, beta2, lr}];
              (correction ? pair.first : pair.second) = Score(m.train_loss);
            }
            double& slot = m.epoch == early ? (correction ? cell.with_early : cell.without_early)
                                            : (correction ? cell.with_final : cell.without_final);
            slot = std::min(slot, Score(m.train_loss));
            if (early == epochs) (correction ? cell.with_final : cell.without_final) = slot;
          }
        }
      }
    }
  }
  ctx.Write(name + ".csv", csv);
  const bool plotted = ctx.Plot("bias", {name + ".csv"}, name + ".png", "Bias correction (Fashion-MNIST MLP)");

  // The paper's claim is about stability: with beta2 near 1 and large step sizes, the uncorrected update
  // blows up early in training. Count those cells where the corrected loss is lower.
  int stable = 0, large = 0;
  std::string stability = "| beta1 | beta2 | step size | loss after " + std::to_string(early) +
                          " epoch(s): corrected / uncorrected |\n|---|---|---|---|\n";
  for (const auto& [key, losses] : early_by_lr) {
    const auto& [beta1, beta2, lr] = key;
    if (beta2 < 0.999 || lr < 1e-2) continue;
    ++large;
    stable += losses.first < losses.second;
    stability += "| " + Num(beta1) + " | " + Num(beta2) + " | " + Num(lr) + " | " + Fixed(losses.first, 4) + " / " +
                 Fixed(losses.second, 4) + " |\n";
  }
  int wins = 0;
  std::string table = "| beta1 | beta2 | best loss after " + std::to_string(early) + " epoch(s): corrected / uncorrected | after " +
                      std::to_string(epochs) + " epochs: corrected / uncorrected |\n|---|---|---|---|\n";
  for (const auto& [key, c] : cells) {
    table += "| " + Num(key.first) + " | " + Num(key.second) + " | " + Fixed(c.with_early, 4) + " / " +
             Fixed(c.without_early, 4) + " | " + Fixed(c.with_final, 4) + " / " + Fixed(c.without_final, 4) + " |\n";
    wins += c.with_early <= c.without_early;
  }
  Report r;
  r.title = "Bias correction (Kingma & Ba, Figure 4)";
  r.paper = "A variational autoencoder trained with beta1 in {0, 0.9}, beta2 in {0.99, 0.999, 0.9999} and log10(step "
            "size) from -5 to -1, with and without the bias-correction terms; loss after 10 and 100 epochs. Claim: "
            "\"values beta2 close to 1 ... lead to instabilities in training when no bias correction term was "
            "present, especially at first few epochs\"; with the correction the loss is as good or better everywhere.";
  r.ours = "The MLP (one hidden layer of 256 ReLU units, no dropout) instead of a VAE; training loss after " +
           std::to_string(early) + " and " + std::to_string(epochs) + " epochs (the paper's 10 and 100); `bias_correction=false` "
           "is adamant's option for the uncorrected update.";
  r.settings = Describe(base, "every run") + "- Adam at every (beta1, beta2, step size) of the grid, with and without bias correction\n";
  r.tables = "Large step sizes (>= 1e-2) with beta2 >= 0.999, where the paper sees the instability:\n\n" +
             stability + "\nBest training loss over all step sizes (lower is better):\n\n" + table;
  r.verdict =
      std::string(stable == large ? "**Agrees** on stability." : stable * 2 >= large ? "**Partly agrees.**" : "**Does not agree.**") +
      " With beta2 >= 0.999 and step sizes >= 1e-2, the corrected update has the lower early loss in " +
      std::to_string(stable) + " of " + std::to_string(large) + " runs: without the correction the first steps are "
      "larger by (1 - beta1^t) / sqrt(1 - beta2^t) (up to 100x for beta1 = 0, beta2 = 0.9999) and blow up. The "
      "converse holds at small step sizes, where those larger first steps help: the best loss over all step "
      "sizes is lower with the correction in only " + std::to_string(wins) + " of " + std::to_string(cells.size()) +
      " (beta1, beta2) settings after " + std::to_string(early) + " epoch(s)" +
      (wins == static_cast<int>(cells.size()) ? ", as the paper reports."
                                              : "; the paper reports the correction as no worse anywhere, which we do not see.");
  r.figure = plotted ? name + ".png" : "";
  WriteReport(ctx, name, r);
}

// ---- AMSGrad's counterexamples (Reddi, Kale & Kumar) ----

struct Online {
  std::string label;
  double big;       // the gradient every `period` steps
  double small;     // the gradient otherwise (negative: pulls x towards +1)
  int64_t period;
  double beta1, beta2, alpha;
};

// Projected online Adam or AMSGrad on f_t(x) = g_t * x over [-1, 1], step size alpha / sqrt(t).
// Returns rows "setting,method,t,x,average_regret" at log-spaced t.
std::string RunOnline(const Online& p, bool amsgrad, int64_t steps, double* final_x, double* final_regret) {
  double x = 0.0, grad = 0.0;
  AdamOptions o;
  o.lr = p.alpha;
  o.betas = {p.beta1, p.beta2};
  o.amsgrad = amsgrad;
  adamant::Adam opt({MakeParam(&x, &grad, 1)}, o);
  double regret = 0.0;
  std::string rows;
  int64_t next = 1;
  for (int64_t t = 1; t <= steps; ++t) {
    grad = (t % p.period == 1 % p.period) ? p.big : p.small;
    regret += grad * x - grad * -1.0;  // against the best fixed point, x* = -1
    opt.set_lr(0, p.alpha / std::sqrt(static_cast<double>(t)));
    opt.Step();
    x = std::clamp(x, -1.0, 1.0);
    if (t == next || t == steps) {
      rows += p.label + "," + (amsgrad ? "AMSGrad" : "Adam") + "," + std::to_string(t) + "," + Fixed(x, 6) + "," +
              Fixed(regret / static_cast<double>(t), 6) + "\n";
      next = std::max(next + 1, static_cast<int64_t>(std::ceil(static_cast<double>(next) * 1.05)));
    }
  }
  *final_x = x;
  *final_regret = regret / static_cast<double>(steps);
  return rows;
}

void Amsgrad(Context& ctx) {
  const std::string name = "amsgrad";
  const int64_t steps = ctx.quick_or<int64_t>(2000000, 200000);
  const std::vector<Online> problems = {
      {"online: 1010x every 101st step; -10x otherwise", 1010, -10, 101, 0.9, 0.99, 0.1},
      // Theorem 1 with C = 3: beta1 = 0, beta2 = 1/(1 + C^2), alpha < sqrt(1 - beta2).
      {"Theorem 1: 3x every 3rd step; -x otherwise", 3, -1, 3, 0.0, 1.0 / (1.0 + 9.0), 0.5},
  };
  std::string csv = "setting,method,t,x,average_regret\n";
  std::string table = "| setting | method | x after " + std::to_string(steps) + " steps | average regret R_t/t |\n|---|---|---|---|\n";
  int correct = 0;
  for (const Online& p : problems) {
    for (bool ams : {false, true}) {
      double x = 0, regret = 0;
      csv += RunOnline(p, ams, steps, &x, &regret);
      table += "| " + p.label + " | " + (ams ? "AMSGrad" : "Adam") + " | " + Fixed(x, 4) + " | " + Fixed(regret, 4) + " |\n";
      correct += ams ? x < 0 : x > 0;  // the claim: Adam ends near +1, AMSGrad near the optimum -1
      std::printf("[%s] %s, %s: x = %.4f, average regret %.4f\n", name.c_str(), p.label.c_str(), ams ? "AMSGrad" : "Adam",
                  x, regret);
    }
  }
  ctx.Write(name + ".csv", csv);
  const bool plotted = ctx.Plot("amsgrad", {name + ".csv"}, name + ".png", "Adam's non-convergence and AMSGrad");
  Report r;
  r.title = "Adam's non-convergence and AMSGrad (Reddi, Kale & Kumar, 2018)";
  r.paper = "On the online problem f_t(x) = 1010x if t mod 101 = 1, else -10x, over [-1, 1] (beta1 = 0.9, beta2 = "
            "0.99), Adam's iterate converges to the worst point +1 while AMSGrad, which keeps the maximum of the "
            "second moments, converges to the optimum -1 and its average regret goes to 0. Theorem 1 builds such a "
            "problem for beta1 = 0, beta2 = 1/(1 + C^2): f_t = Cx every third step, else -x.";
  r.ours = "adamant's Adam and Adam with `amsgrad=true` (float64, one parameter, step size alpha/sqrt(t), projection onto "
           "[-1, 1] after each step), " + std::to_string(steps) + " steps; alpha = 0.1 for the first problem and 0.5 "
           "for Theorem 1's (C = 3).";
  r.tables = table;
  r.verdict = std::string(correct == 4 ? "**Agrees.**" : correct >= 2 ? "**Partly agrees.**" : "**Does not agree.**") +
              " Adam ends on the positive side and AMSGrad on the negative side in " + std::to_string(correct) +
              " of 4 runs.";
  r.figure = plotted ? name + ".png" : "";
  WriteReport(ctx, name, r);
}

// ---- Decoupled weight decay (Loshchilov & Hutter) ----

void AdamW(Context& ctx) {
  const std::string name = "adamw";
  const std::vector<double> lrs = ctx.quick() ? std::vector<double>{3e-4, 1e-3, 3e-3}
                                              : std::vector<double>{1e-4, 3e-4, 1e-3, 3e-3};
  const std::vector<double> decays = ctx.quick() ? std::vector<double>{1e-4, 1e-2, 1}
                                                 : std::vector<double>{1e-4, 1e-3, 1e-2, 1e-1, 1};
  TrainOptions base = ctx.Base(ctx.quick_or<int64_t>(10000, 3000), ctx.FinalEpochs(8, 3), 2000, 2000);
  base.model = Mlp(ctx);
  base.model.dropout = 0.0;  // weight decay is the only regularizer here
  std::string csv = "method,lr,weight_decay,val_loss,val_error\n";
  struct Best {
    double error = kInf, lr = 0, wd = 0;
  };
  std::map<std::string, Best> best;
  std::map<std::string, std::map<double, double>> best_wd_per_lr;  // method -> lr -> best wd
  for (const char* method : {"Adam+L2", "AdamW"}) {
    for (double lr : lrs) {
      double row_best = kInf;
      for (double wd : decays) {
        TrainOptions t = base;
        t.optimizer = std::string(method) == "AdamW" ? "adamw" : "adam";
        t.optimizer_options = {{"lr", Num(lr)}, {"weight_decay", Num(wd)}};
        const TrainResult r = ctx.Run(name, std::string(method) + " lr=" + Num(lr) + " wd=" + Num(wd), t);
        const EpochMetrics& m = r.epochs.back();
        const double error = std::isfinite(m.val_loss) ? 1.0 - m.val_accuracy : kInf;
        csv += std::string(method) + "," + Num(lr) + "," + Num(wd) + "," + Fixed(m.val_loss, 6) + "," + Fixed(error, 4) + "\n";
        if (error < best[method].error) best[method] = {error, lr, wd};
        if (error < row_best) row_best = error, best_wd_per_lr[method][lr] = wd;
      }
    }
  }
  ctx.Write(name + ".csv", csv);
  const bool plotted = ctx.Plot("heatmap", {name + ".csv"}, name + ".png", "Adam with L2 against AdamW (validation error)");
  auto distinct = [&](const std::string& method) {
    std::map<double, int> seen;
    for (const auto& [lr, wd] : best_wd_per_lr[method]) ++seen[wd];
    return seen.size();
  };
  const Best& l2 = best["Adam+L2"];
  const Best& w = best["AdamW"];
  Report r;
  r.title = "Decoupled weight decay: Adam with L2 against AdamW (Loshchilov & Hutter, 2019)";
  r.paper = "Adam's L2 regularization is not weight decay: the decay is scaled by the adaptive denominator. "
            "Decoupling it (AdamW) \"decouples the optimal choice of weight decay factor from the setting of the "
            "learning rate\" and \"substantially improves Adam's generalization performance\" (their Figures 2-3: "
            "heatmaps of test error over learning rate and weight decay).";
  r.ours = "The MLP without dropout (so weight decay is the only regularizer), the same grid of learning rates and weight "
           "decays for both, validation error after a fixed budget.";
  r.settings = Describe(base, "every run");
  r.tables = "| method | best validation error | at lr | at weight decay | distinct best weight decays across learning rates |\n|---|---|---|---|---|\n"
             "| Adam+L2 | " + Fixed(l2.error, 4) + " | " + Num(l2.lr) + " | " + Num(l2.wd) + " | " + std::to_string(distinct("Adam+L2")) +
             " |\n| AdamW | " + Fixed(w.error, 4) + " | " + Num(w.lr) + " | " + Num(w.wd) + " | " + std::to_string(distinct("AdamW")) + " |\n";
  const bool better = w.error <= l2.error;
  const bool decoupled = distinct("AdamW") <= distinct("Adam+L2");
  r.verdict = std::string(better && decoupled ? "**Agrees.**" : better || decoupled ? "**Partly agrees.**" : "**Does not agree.**") +
              " Best validation error: AdamW " + Fixed(w.error, 4) + ", Adam with L2 " + Fixed(l2.error, 4) +
              "; the best weight decay changes with the learning rate " + std::to_string(distinct("AdamW")) +
              " way(s) for AdamW and " + std::to_string(distinct("Adam+L2")) + " for Adam with L2.";
  r.figure = plotted ? name + ".png" : "";
  WriteReport(ctx, name, r);
}

// README.md of the output directory: each experiment's report that exists there, with its verdict line.
void WriteIndex(const Context& ctx) {
  std::string md = "# Results: the Adam paper's experiments on Fashion-MNIST\n\n"
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
      {"logreg", Logreg}, {"mlp", MlpExperiment}, {"cnn", Cnn},       {"bias-correction", BiasCorrection},
      {"amsgrad", Amsgrad}, {"adamw", AdamW},     {"adamax", Adamax}};
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
