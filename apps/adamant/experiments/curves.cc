// `adamant compare`'s curve experiments: logistic regression (Kingma & Ba, Figure 1), the multilayer
// network (Figure 2a), the convolutional network (Figure 3) and AdaMax next to Adam (section 7.1).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "experiment.h"

namespace adamant::app {


void LogregExperiment(Context& ctx) {
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

void CnnExperiment(Context& ctx) {
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

void AdamaxExperiment(Context& ctx) {
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

}  // namespace adamant::app
