// `adamant compare --experiment state-precision`: float32, bfloat16 and int8 optimizer state at the same
// hyperparameters (Dettmers et al., "8-bit Optimizers via Block-wise Quantization", ICLR 2022).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "experiment.h"

namespace adamant::app {
namespace {

struct Contestant {
  std::string label;
  std::string algorithm;
  OptionList options;
};

struct Stats {
  double mean = 0, spread = 0;  // the mean and the sample standard deviation over seeds
};

Stats Of(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x / static_cast<double>(v.size());
  for (double x : v) s.spread += (x - s.mean) * (x - s.mean);
  s.spread = v.size() > 1 ? std::sqrt(s.spread / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

double Median(std::vector<float> v) {
  if (v.empty()) return std::nan("");
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

void StatePrecisionExperiment(Context& ctx) {
  const std::string name = "state-precision";
  const std::vector<Contestant> contestants = {
      {"Adam", "adam", {{"lr", "1e-3"}}},
      {"AdamW", "adamw", {{"lr", "1e-3"}, {"weight_decay", "1e-2"}}},
      {"Lion", "lion", {{"lr", "1e-4"}, {"weight_decay", "1e-1"}}}};
  const std::vector<std::string> dtypes = {"float32", "bfloat16", "int8"};
  const int seeds = ctx.quick_or(3, 2);
  std::vector<std::pair<std::string, TrainOptions>> networks;
  {
    TrainOptions mlp = ctx.Base(ctx.quick_or<int64_t>(10000, 2000), ctx.FinalEpochs(8, 2), 2000, 5000);
    mlp.model = Mlp(ctx);
    networks.emplace_back("MLP", mlp);
    TrainOptions cnn = ctx.Base(ctx.quick_or<int64_t>(5000, 1000), ctx.FinalEpochs(4, 2), 1000, 2000);
    cnn.model.name = "cnn";
    cnn.model.cnn = "small";
    cnn.model.dropout = 0.2;
    networks.emplace_back("CNN", cnn);
  }
  std::string curves = "network,optimizer,state_dtype,seed,epoch,train_loss,val_loss,val_accuracy\n";
  std::string updates = "network,optimizer,state_dtype,step,relative_difference\n";
  // (network, optimizer, dtype) -> test accuracies over seeds, state bytes, median update difference.
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<double>> accuracy;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> bytes;
  std::map<std::tuple<std::string, std::string, std::string>, double> difference;
  std::map<std::string, std::vector<std::string>> diverged;  // state dtype -> the runs whose loss diverged
  for (const auto& [network, base] : networks) {
    for (const Contestant& c : contestants) {
      for (const std::string& dtype : dtypes) {
        for (int s = 0; s < seeds; ++s) {
          TrainOptions t = base;
          t.seed = base.seed + static_cast<uint64_t>(s);
          t.optimizer = c.algorithm;
          t.optimizer_options = c.options;
          t.optimizer_options.emplace_back("state_dtype", dtype);
          // Along the first float32 trajectory, bfloat16 and int8 state follow it as shadows.
          if (dtype == "float32" && s == 0) t.shadow_state_dtypes = {"bfloat16", "int8"};
          const TrainResult r = ctx.Run(name, network + " " + c.label + " " + dtype + " seed " + std::to_string(t.seed), t);
          for (const EpochMetrics& m : r.epochs) {
            curves += network + "," + c.label + "," + dtype + "," + std::to_string(t.seed) + "," +
                      std::to_string(m.epoch) + "," + Fixed(m.train_loss, 6) + "," + Fixed(m.val_loss, 6) + "," +
                      Fixed(m.val_accuracy, 4) + "\n";
          }
          const auto key = std::make_tuple(network, c.label, dtype);
          accuracy[key].push_back(r.test_accuracy);
          if (r.epochs.empty() || !std::isfinite(r.epochs.back().train_loss)) {
            diverged[dtype].push_back(network + " " + c.label + " seed " + std::to_string(t.seed));
          }
          bytes[key] = r.optimizer_state_bytes;
          for (size_t k = 0; k < r.update_differences.size(); ++k) {
            const std::string& shadow = t.shadow_state_dtypes[k];
            const std::vector<float>& d = r.update_differences[k];
            for (size_t step = 0; step < d.size(); ++step) {
              updates += network + "," + c.label + "," + shadow + "," + std::to_string(step + 1) + "," +
                         Fixed(d[step], 6) + "\n";
            }
            difference[std::make_tuple(network, c.label, shadow)] = Median(d);
          }
        }
      }
    }
  }
  ctx.Write(name + ".csv", curves);
  ctx.Write(name + "-updates.csv", updates);
  const bool plotted = ctx.Plot("precision", {name + ".csv", name + "-updates.csv"}, name + ".png",
                                "float32, bfloat16 and int8 optimizer state at the same hyperparameters");

  std::string table =
      "| network | optimizer | state | test accuracy (mean ± sd over " + std::to_string(seeds) +
      " seeds) | against float32 | state bytes (of float32's) | median relative update difference |\n"
      "|---|---|---|---|---|---|---|\n";
  int within = 0, compared = 0;
  std::string worst;
  double worst_gap = -1;
  for (const auto& [network, base] : networks) {
    for (const Contestant& c : contestants) {
      const Stats full = Of(accuracy[std::make_tuple(network, c.label, std::string("float32"))]);
      const int64_t full_bytes = bytes[std::make_tuple(network, c.label, std::string("float32"))];
      for (const std::string& dtype : dtypes) {
        const auto key = std::make_tuple(network, c.label, dtype);
        const Stats s = Of(accuracy[key]);
        const double gap = s.mean - full.mean;
        std::string against = "-";
        if (dtype != "float32") {
          // "No loss of accuracy": the mean within twice the float32 runs' spread, or within 0.5 points.
          const bool same = gap >= -std::max(2 * full.spread, 0.005);
          within += same ? 1 : 0;
          ++compared;
          if (-gap > worst_gap) worst_gap = -gap, worst = network + " " + c.label + " " + dtype;
          against = (gap >= 0 ? "+" : "") + Fixed(100 * gap, 2) + " points" + (same ? "" : " (a loss)");
        }
        const auto d = difference.find(key);
        table += "| " + network + " | " + c.label + " | " + dtype + " | " + Fixed(s.mean, 4) + " ± " +
                 Fixed(s.spread, 4) + " | " + against + " | " + std::to_string(bytes[key]) + " (" +
                 Fixed(full_bytes > 0 ? static_cast<double>(bytes[key]) / static_cast<double>(full_bytes) : 0.0, 3) +
                 ") | " + (d == difference.end() ? "-" : Fixed(d->second, 4)) + " |\n";
      }
    }
  }
  Report r;
  r.title = "Optimizer state precision: float32, bfloat16 and int8 (Dettmers et al., 2022)";
  r.paper = "Dettmers et al., \"8-bit Optimizers via Block-wise Quantization\" (ICLR 2022): block-wise 8-bit state (dynamic quantization, blocks of 2048 on GPU) for Adam and other stateful "
            "optimizers: \"8-bit optimizers maintain 32-bit performance ... without changes to the original "
            "optimizer hyperparameters\" (abstract; Table 1: language modelling, translation, image "
            "classification and pretraining, the same accuracy as 32-bit state), with the embedding layers kept "
            "stable (StableEmbedding) and tensors under 4096 elements in 32 bits.";
  r.ours = "Fashion-MNIST instead of their large tasks: the MLP and the small CNN, Adam, AdamW and Lion, each at one "
           "set of hyperparameters for all three state dtypes; int8 is adamant's block-wise state (blocks of 256, "
           "bitsandbytes' dynamic map, the exact nearest code, tensors under min_quant_size = 4096 elements in "
           "float32), bfloat16 rounds to nearest even. Test accuracy over " + std::to_string(seeds) +
           " seeds; the update difference is ||u' - u|| / ||u|| per step along the first float32 run, where u' "
           "is the update of an optimizer with the other state dtype that took every step of that run with the "
           "same gradients (its state its own). State bytes are state_nbytes() at the end.";
  r.settings = Describe(networks[0].second, "MLP runs") + Describe(networks[1].second, "CNN runs");
  r.tables = table;
  r.verdict = std::string(within == compared ? "**Agrees.**" : within > 0 ? "**Partly agrees.**" : "**Does not agree.**") +
              " " + std::to_string(within) + " of " + std::to_string(compared) +
              " bfloat16 and int8 runs keep the float32 runs' test accuracy (mean within twice their spread or 0.5 "
              "points)" + (worst_gap > 0 ? "; the largest drop is " + Fixed(100 * worst_gap, 2) + " points (" + worst + ")"
                                         : std::string("; none is below float32")) + ".";
  for (const std::string& dtype : dtypes) {
    const std::vector<std::string>& runs = diverged[dtype];
    if (runs.empty()) continue;
    r.verdict += " " + std::to_string(runs.size()) + " " + dtype + " run(s) diverged (a non-finite training loss):";
    for (size_t i = 0; i < runs.size(); ++i) r.verdict += (i ? ", " : " ") + runs[i];
    r.verdict += ".";
  }
  if (!diverged["int8"].empty()) {
    r.verdict += " Why, as tools/quant/int8_zero_moments.py measures it (docs/algorithms.md, \"int8 state\"): "
                 "elements whose exp_avg_sq is quantized to zero (under half the unsigned map's smallest value, "
                 "3.25e-7 of its block's maximum: a gradient under about 4e-4 of the block's largest) while their "
                 "exp_avg is not take the update exp_avg / (0 + eps), hundreds of times the learning rate. This is "
                 "the instability Dettmers et al. meet in embedding layers (their StableEmbedding keeps those in 32 "
                 "bits); a ReLU network's hidden layers have such rarely active weights too.";
  }
  r.figure = plotted ? name + ".png" : "";
  WriteReport(ctx, name, r);
}

}  // namespace adamant::app
