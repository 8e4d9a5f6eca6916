// The adamant command: train networks on Fashion-MNIST with adamant's optimizers.
//
//   adamant train                                   # an MLP with Adam, ~0.89 test accuracy
//   adamant train --model cnn --optimizer adamw --lr 3e-4 --weight-decay 0.1 --schedule cosine --warmup 200
//   adamant train --resume runs/train --epochs 30   # continue a run
//   adamant compare --quick                          # the Adam paper's experiments, small
#include <CLI/CLI.hpp>

#include <c10/util/Exception.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <string_view>
#include <system_error>
#include <string>
#include <vector>

#include "adamant/factory.h"
#include "adamant/schedule.h"
#include "compare.h"
#include "train.h"

namespace adamant::app {
namespace {

std::string Join(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

// Optimizer hyperparameters: a flag per common one, given to the factory only when set (so each algorithm
// keeps its own defaults), and --opt key=value for any option.
struct OptimizerFlags {
  struct Number {
    const char* flag;
    const char* key;
    const char* help;
    double value = 0;
    CLI::Option* option = nullptr;
  };
  struct Switch {
    const char* flag;
    const char* key;
    const char* help;
    bool value = false;
    CLI::Option* option = nullptr;
  };
  std::vector<Number> numbers = {
      {"--lr", "lr", "learning rate (default: the algorithm's, e.g. 1e-3 for adam)"},
      {"--eps", "eps", "epsilon of the denominator"},
      {"--weight-decay", "weight_decay", "weight decay (L2 for adam, decoupled for adamw)"},
      {"--momentum", "momentum", "momentum (sgd, rmsprop)"},
      {"--dampening", "dampening", "dampening (sgd)"},
      {"--alpha", "alpha", "smoothing constant (rmsprop)"},
      {"--rho", "rho", "decay rate (adadelta)"},
      {"--lr-decay", "lr_decay", "learning-rate decay (adagrad)"},
      {"--initial-accumulator-value", "initial_accumulator_value", "initial sum (adagrad)"},
      {"--momentum-decay", "momentum_decay", "momentum decay (nadam)"},
  };
  std::vector<Switch> switches = {
      {"--amsgrad", "amsgrad", "AMSGrad's maximum of the second moments (adam, adamw)"},
      {"--nesterov", "nesterov", "Nesterov momentum (sgd)"},
      {"--centered", "centered", "centered RMSprop"},
  };
  std::string betas;
  CLI::Option* betas_option = nullptr;
  std::string state_dtype;
  CLI::Option* state_dtype_option = nullptr;
  std::vector<std::string> extra;

  void Add(CLI::App* app) {
    const char* group = "Optimizer";
    for (auto& n : numbers) n.option = app->add_option(n.flag, n.value, n.help)->group(group);
    betas_option = app->add_option("--betas", betas, "beta1,beta2 (adam family), e.g. 0.9,0.95")->group(group);
    for (auto& s : switches) s.option = app->add_flag(s.flag, s.value, s.help)->group(group);
    state_dtype_option = app->add_option("--state-dtype", state_dtype,
                                         "how the optimizer state is stored: float32 (default), bfloat16, "
                                         "bfloat16_stochastic, int8 (block-wise; tensors of fewer than "
                                         "min_quant_size elements, 4096 unless --opt min_quant_size=N, keep "
                                         "float32), or per buffer, e.g. exp_avg:int8,exp_avg_sq:bfloat16")
                             ->group(group);
    app->add_option("--opt", extra,
                    "any option as key=value under PyTorch's name, e.g. --opt eps_mode=tensorflow "
                    "--opt decoupled_weight_decay=true (repeatable)")
        ->group(group);
  }

  OptionList ToOptionList() const {
    OptionList list;
    for (const auto& n : numbers) {
      if (n.option->count() > 0) list.emplace_back(n.key, CLI::detail::to_string(n.value));
    }
    if (betas_option->count() > 0) list.emplace_back("betas", betas);
    if (state_dtype_option->count() > 0) list.emplace_back("state_dtype", state_dtype);
    for (const auto& s : switches) {
      if (s.option->count() > 0) list.emplace_back(s.key, s.value ? "true" : "false");
    }
    for (const std::string& entry : extra) {
      const OptionList parsed = ParseOptionList(entry);
      list.insert(list.end(), parsed.begin(), parsed.end());
    }
    return list;
  }
};

// A seed: digits only, within uint64 (CLI11 would wrap -1, and saturate an overflowing one, to 2^64-1).
const CLI::Validator kSeed(
    [](std::string& text) -> std::string {
      uint64_t value = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
        return "must be an integer in [0, 18446744073709551615], got " + text;
      }
      return "";
    },
    "UINT64");

// A run stopped by SIGINT or SIGTERM (with a checkpoint) exits as the shell reports such a signal: 128 + it.
int ExitCode(const TrainResult& result) { return result.interrupted_by != 0 ? 128 + result.interrupted_by : 0; }

// The first line of a message (libtorch's carry context and backtraces below it).
std::string FirstLine(std::string_view text) {
  text.remove_prefix(std::min(text.find_first_not_of("\n \t"), text.size()));
  return std::string(text.substr(0, text.find('\n')));
}
// `adamant train`: its flags, and the run they ask for.
struct TrainCommand {
  CLI::App* train = nullptr;
  TrainOptions o;
  std::string hidden = "512,256";
  std::string resume;
  bool no_plot = false;
  OptimizerFlags flags;

  void Add(CLI::App& parent) {
    train = parent.add_subcommand(
        "train",
        "Train a network on Fashion-MNIST (Debian's dataset-fashion-mnist) and write metrics.csv, curves.png, "
        "summary.json and checkpoint.pt to --out.");
    const char* model_group = "Model and data";
    train->add_option("--model", o.model.name, "logreg | mlp | cnn")->capture_default_str()->group(model_group);
    train->add_option("--hidden", hidden, "mlp: hidden layer sizes, comma-separated")
        ->capture_default_str()
        ->group(model_group);
    train->add_option("--dropout", o.model.dropout, "dropout before each hidden layer's output (mlp, cnn)")
        ->capture_default_str()
        ->group(model_group);
    train->add_option("--cnn", o.model.cnn, "cnn: small (c32-c64-128) | paper (Kingma & Ba's c64-c64-c128-1000)")
        ->capture_default_str()
        ->group(model_group);
    train->add_option("--data-dir", o.data_dir, "directory with the four Fashion-MNIST .gz files")
        ->capture_default_str()
        ->group(model_group);
    train->add_option("--limit-train", o.limit_train, "use only N training examples (0: all 55,000)")
        ->capture_default_str()
        ->group(model_group);
    train->add_option("--val-size", o.val_size, "examples held out of the training files for validation")
        ->capture_default_str()
        ->group(model_group);
    train->add_option("--limit-test", o.limit_test, "evaluate on only N test examples (0: all 10,000)")
        ->capture_default_str()
        ->group(model_group);

    const char* opt_group = "Optimizer";
    train
        ->add_option("--optimizer", o.optimizer, "algorithm: " + Join(AlgorithmNames()))
        ->capture_default_str()
        ->group(opt_group);
    train
        ->add_option("--impl", o.impl,
                     "adamant, or torch for libtorch's own optimizer as a baseline (adam, adamw, adagrad, rmsprop, sgd)")
        ->capture_default_str()
        ->group(opt_group);
    flags.Add(train);

    const char* run_group = "Training";
    train->add_option("--epochs", o.epochs, "passes over the training set")->capture_default_str()->group(run_group);
    train->add_option("--batch-size", o.batch_size, "examples per mini-batch")->capture_default_str()->group(run_group);
    train->add_option("--accumulate", o.accumulate, "mini-batches per optimizer step (gradient accumulation)")
        ->capture_default_str()
        ->group(run_group);
    train->add_option("--schedule", o.schedule, "learning-rate schedule: " + Join(ScheduleNames()))
        ->capture_default_str()
        ->group(run_group);
    train->add_option("--warmup", o.warmup_steps, "linear warmup over N optimizer steps")
        ->capture_default_str()
        ->group(run_group);
    train->add_option("--gamma", o.gamma, "step: factor every --step-size epochs; exponential: factor per epoch")
        ->capture_default_str()
        ->group(run_group);
    train->add_option("--step-size", o.step_size, "step: epochs between decays")->capture_default_str()->group(run_group);
    train->add_option("--min-lr", o.min_lr, "cosine: learning rate at the end")->capture_default_str()->group(run_group);
    train->add_option("--clip-grad-norm", o.clip_grad_norm, "clip the global gradient norm to this (0: off)")
        ->capture_default_str()
        ->group(run_group);
    train->add_option("--nonfinite", o.nonfinite,
                      "a NaN or infinite gradient: propagate (PyTorch's behaviour), skip the step, or raise an error")
        ->capture_default_str()
        ->group(run_group);
    train->add_option("--max-steps", o.max_steps, "stop after N optimizer steps, with a checkpoint (0: no limit)")
        ->capture_default_str()
        ->group(run_group);
    train->add_option("--threads", o.threads, "threads for the network and the optimizer (0: all cores)")
        ->capture_default_str()
        ->group(run_group);
    train->add_option("--seed", o.seed, "seed of the initialization, data split, shuffles and dropout")
        ->check(kSeed)
        ->capture_default_str()
        ->group(run_group);

    const char* out_group = "Output";
    train->add_option("--out", o.out_dir, "output directory (an earlier run in it is not replaced without --overwrite)")
        ->capture_default_str()
        ->group(out_group);
    train->add_flag("--overwrite", o.overwrite, "replace the earlier run in --out")->group(out_group);
    train->add_option("--checkpoint-every", o.checkpoint_every,
                      "write checkpoint.pt every N optimizer steps too (it is always written at each epoch's end, at "
                      "--max-steps, on SIGINT/SIGTERM and at the end)")
        ->capture_default_str()
        ->group(out_group);
    train
        ->add_option("--resume", resume,
                     "continue the run in DIR from its checkpoint, with its options (only --epochs, --max-steps, "
                     "--threads, --checkpoint-every, --progress and --no-plot may be given)")
        ->group(out_group);
    train->add_option("--progress", o.progress, "auto | bar | lines | none (auto: a bar on a terminal)")
        ->capture_default_str()
        ->group(out_group);
    train->add_flag("--no-plot", no_plot, "do not draw curves.png")->group(out_group);
  }

  // The exit status: 0, or 130/143 for a run stopped by SIGINT/SIGTERM. Throws on errors.
  int Run() {
    o.plot = !no_plot;
    if (!resume.empty()) {
      // Run-length settings may change; anything else would not be the same run.
      const std::vector<std::pair<std::string, std::string>> allowed = {
          {"--epochs", "epochs"},       {"--max-steps", "max_steps"}, {"--threads", "threads"},
          {"--checkpoint-every", "checkpoint_every"}, {"--progress", "progress"}, {"--no-plot", "plot"},
          {"--resume", ""}};
      std::vector<std::string> overridden;
      for (const CLI::Option* opt : train->get_options()) {
        if (opt->count() == 0 || opt->get_name() == "--help") continue;
        bool ok = false;
        for (const auto& [flag, field] : allowed) {
          if (opt->check_lname(flag.substr(2))) {
            ok = true;
            if (!field.empty()) overridden.push_back(field);
          }
        }
        if (!ok) {
          throw std::invalid_argument(opt->get_name() + " cannot be given with --resume: the run continues with the "
                                      "options in " + resume + "/config.json");
        }
      }
      return ExitCode(Resume(resume, o, overridden));
    }
    if (train->count("--out") > 0 && o.out_dir.empty()) {
      throw std::invalid_argument("--out must name a directory, got ''");
    }
    o.model.hidden.clear();
    for (const std::string& part : CLI::detail::split(hidden, ',')) {
      try {
        o.model.hidden.push_back(std::stoll(part));
      } catch (const std::exception&) {
        throw std::invalid_argument("--hidden expects comma-separated sizes, got '" + hidden + "'");
      }
    }
    o.optimizer_options = flags.ToOptionList();
    return ExitCode(Train(o));
  }
};

// `adamant compare`: its flags.
struct CompareCommand {
  CLI::App* compare = nullptr;
  CompareOptions c;

  void Add(CLI::App& parent) {
    compare = parent.add_subcommand(
        "compare",
        "Reproduce the experiments of Kingma & Ba's Adam paper (and of AMSGrad's and AdamW's) on Fashion-MNIST: "
        "search each optimizer's learning rate on the validation split, train the best, and write CSVs, figures "
        "and a report per experiment.");
    compare
        ->add_option("--experiment", c.experiments,
                     "experiment(s) to run, repeatable or comma-separated: " + [] {
                       std::string names;
                       for (const auto& n : ExperimentNames()) names += (names.empty() ? "" : ", ") + n;
                       return names;
                     }() + ", all (default: all)")
        ->delimiter(',');
    compare->add_flag("--quick", c.quick, "a subset of the data, fewer epochs, a coarser grid (all in about a minute on two cores)");
    compare->add_option("--out", c.out_dir, "where reports, figures and CSVs go (default: docs/results, or "
                                             "runs/compare-quick with --quick)");
    compare->add_option("--data-dir", c.data_dir, "directory with the four Fashion-MNIST .gz files")->capture_default_str();
    compare->add_option("--threads", c.threads, "threads (0: all cores)")->check(CLI::NonNegativeNumber)->capture_default_str();
    compare->add_option("--seed", c.seed, "seed of every run")->check(kSeed)->capture_default_str();
    compare->add_option("--limit-train", c.limit_train, "at most N training examples in any run (0: each experiment's own)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    compare->add_option("--epochs", c.epochs, "epochs of every final run (0: each experiment's own)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
  }
};

int Main(int argc, char** argv) {
  // A full disk or a file size limit makes a write fail with an error, which is reported; not a signal.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"adamant: Adam-family optimizers. Trains networks on Fashion-MNIST with them and reproduces the "
               "experiments of the Adam, AMSGrad, AdamW and 8-bit optimizer papers.",
               "adamant"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "adamant 0.1.0");
  TrainCommand train;
  train.Add(app);
  CompareCommand compare;
  compare.Add(app);
  if (argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "train" && std::string_view(argv[1]) != "compare") {
    std::fprintf(stderr, "adamant: error: unknown command '%s' (the commands are train and compare; see adamant "
                 "--help)\n", argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error; usage errors exit with 2.
    std::fprintf(stderr, "adamant: error: %s (see adamant %s--help)\n", e.what(),
                 train.train->parsed() ? "train " : compare.compare->parsed() ? "compare " : "");
    return 2;
  }

  try {
    if (compare.compare->parsed()) {
      Compare(compare.c);
      return 0;
    }
    return train.Run();
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "adamant: error: %s\n", FirstLine(e.what_without_backtrace()).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "adamant: error: %s\n", FirstLine(e.what()).c_str());
  }
  return 1;
}

}  // namespace
}  // namespace adamant::app

int main(int argc, char** argv) { return adamant::app::Main(argc, argv); }
