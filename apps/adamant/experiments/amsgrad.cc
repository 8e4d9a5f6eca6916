// `adamant compare --experiment amsgrad`: AMSGrad on the online counterexamples of Reddi, Kale & Kumar
// (ICLR 2018), where Adam does not converge.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "adamant/optimizer.h"
#include "experiment.h"

namespace adamant::app {

namespace {

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

}  // namespace

void AmsgradExperiment(Context& ctx) {
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

}  // namespace adamant::app
