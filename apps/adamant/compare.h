// `adamant compare`: the experiments of Kingma & Ba (ICLR 2015) and of the papers that corrected Adam
// (Reddi, Kale & Kumar, ICLR 2018; Loshchilov & Hutter, ICLR 2019), on Fashion-MNIST. Each experiment
// searches each optimizer's learning rate on the validation split, trains the best setting, and writes a
// CSV of every curve, a figure laid out like the paper's, and a report with the paper's claim next to ours.
#ifndef ADAMANT_APPS_ADAMANT_COMPARE_H_
#define ADAMANT_APPS_ADAMANT_COMPARE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fashion_mnist.h"

namespace adamant::app {

struct CompareOptions {
  std::vector<std::string> experiments;  // empty: all, in ExperimentNames() order
  bool quick = false;                    // a subset of the data, fewer epochs, a coarser grid
  std::string out_dir;                   // empty: docs/results (full) or runs/compare-quick (--quick)
  std::string data_dir = kDefaultDataDir;
  int threads = 0;
  uint64_t seed = 0;
  int64_t limit_train = 0;  // > 0: at most this many training examples in every run (for tests)
  int64_t epochs = 0;       // > 0: this many epochs in every final run (for tests)
  std::string progress = "auto";
};

// logreg, mlp, cnn, bias-correction, amsgrad, adamw, adamax.
std::vector<std::string> ExperimentNames();

// Runs the experiments; throws std::invalid_argument for an unknown one.
void Compare(const CompareOptions& options);

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_COMPARE_H_
