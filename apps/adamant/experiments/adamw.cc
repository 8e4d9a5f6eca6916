// `adamant compare --experiment adamw`: decoupled weight decay against L2 (Loshchilov & Hutter, ICLR
// 2019).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "adamant/schedule.h"
#include "experiment.h"

namespace adamant::app {

void AdamWExperiment(Context& ctx) {
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

}  // namespace adamant::app
