// `adamant train`: one network, one optimizer, Fashion-MNIST; metrics, plot, summary and checkpoints.
#ifndef ADAMANT_APPS_ADAMANT_TRAIN_H_
#define ADAMANT_APPS_ADAMANT_TRAIN_H_

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "adamant/factory.h"
#include "fashion_mnist.h"
#include "model_options.h"

namespace adamant::app {

struct TrainOptions {
  ModelOptions model;
  std::string optimizer = "adam";
  OptionList optimizer_options;  // key=value under PyTorch's names; the algorithm's defaults for the rest
  std::string impl = "adamant";  // adamant | torch (libtorch's own optimizer, a baseline)

  std::string schedule = "constant";  // constant | inverse_sqrt | step | exponential | cosine
  int64_t warmup_steps = 0;
  double gamma = 0.1;      // step: factor every step_size epochs; exponential: factor per epoch
  double step_size = 1.0;  // step: epochs between decays
  double min_lr = 0.0;     // cosine: the rate at the end of training

  double clip_grad_norm = 0.0;  // 0: no clipping
  std::string nonfinite = "propagate";  // propagate | skip | raise (adamant's optimizers only)
  int64_t accumulate = 1;       // mini-batches per optimizer step
  int64_t batch_size = 128;
  int64_t epochs = 15;
  int64_t max_steps = 0;  // stop (with a checkpoint) after this many optimizer steps; 0: no limit
  int threads = 0;        // 0: all cores
  uint64_t seed = 0;

  std::string data_dir = kDefaultDataDir;
  int64_t limit_train = 0;  // 0: all 55,000 training examples left after the validation split
  int64_t val_size = 5000;
  int64_t limit_test = 0;  // 0: all 10,000

  std::string out_dir = "runs/train";  // empty: write no files (results in memory only)
  int64_t checkpoint_every = 0;  // optimizer steps between checkpoints; 0: at each epoch's end (and at
                                 // --max-steps, and on SIGINT/SIGTERM) only
  std::string progress = "auto";
  bool plot = true;
  bool quiet = false;      // no lines on stdout (not part of config.json)
  // Experiments only (not part of config.json; a run with files refuses them): for each state dtype here,
  // a shadow of adamant's optimizer with that state_dtype follows the run. Before each step it takes the
  // parameters and gradients as they are, steps, and its update is compared with the run's
  // (TrainResult::update_differences); the run itself is not changed.
  std::vector<std::string> shadow_state_dtypes;
  bool overwrite = false;  // replace an earlier run in out_dir (not part of config.json)
};

// Throws std::invalid_argument naming the first bad option.
void Validate(const TrainOptions& options);

nlohmann::json ToJson(const TrainOptions& options);
TrainOptions TrainOptionsFromJson(const nlohmann::json& json);

struct EpochMetrics {
  int64_t epoch = 0;
  int64_t step = 0;
  double train_loss = 0;
  double val_loss = 0;
  double val_accuracy = 0;
  double lr = 0;
  double seconds = 0;
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;
  std::vector<float> step_losses;  // mean training loss of each optimizer step's mini-batches
  double test_loss = 0;
  double test_accuracy = 0;
  int64_t steps = 0;
  int64_t skipped_steps = 0;  // steps skipped for a non-finite gradient (--nonfinite skip)
  double seconds = 0;
  double optimizer_step_ms = 0;  // mean wall time of optimizer.step()
  int64_t optimizer_state_bytes = -1;  // adamant's state_nbytes() at the end (-1: --impl torch)
  std::string weights_checksum;  // FNV-1a 64 of the final parameters' bytes: equal runs, equal checksums
  bool finished = false;         // false when stopped by max_steps or a signal
  int interrupted_by = 0;        // SIGINT or SIGTERM when a signal stopped the run (with a checkpoint)
  // Per shadow (TrainOptions::shadow_state_dtypes), per step: ||shadow update - update|| / ||update||, the
  // norms over all parameters.
  std::vector<std::vector<float>> update_differences;
};

// Trains and writes, in options.out_dir: config.json (the options), metrics.csv, checkpoint.pt,
// summary.json and curves.png. Prints a line per epoch on stdout and progress on stderr. Nothing is written
// before the options, the data and the model are checked; an earlier run in out_dir is refused unless
// options.overwrite. SIGINT and SIGTERM stop the run after the step in progress, with a checkpoint.
TrainResult Train(const TrainOptions& options);

// Continues the run in `dir` from its checkpoint.pt with its config.json, with `epochs`, `max_steps`,
// `threads`, `checkpoint_every`, `progress` and `plot` replaced by `overrides`' where `overridden` says so.
TrainResult Resume(const std::string& dir, const TrainOptions& overrides, const std::vector<std::string>& overridden);

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_TRAIN_H_
