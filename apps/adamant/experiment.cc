#include "experiment.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace adamant::app {

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

double Score(double loss) { return std::isfinite(loss) ? loss : kInf; }

// The learning rates of a log grid centred on `center` (a factor of sqrt(10) apart, as the paper's
// "dense grid" thinned to what 2 cores can afford): 5 points, or 3 with --quick.
std::vector<double> Grid(const Context& ctx, double center) {
  if (ctx.quick()) return {center / 3.1622776601683795, center, center * 3.1622776601683795};
  return {center / 10, center / 3.1622776601683795, center, center * 3.1622776601683795, center * 10};
}

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

ModelOptions Mlp(const Context& ctx) {
  ModelOptions m;
  m.name = "mlp";
  m.hidden = {ctx.quick_or<int64_t>(512, 128), ctx.quick_or<int64_t>(512, 128)};
  m.dropout = 0.2;
  return m;
}

}  // namespace adamant::app
