// The networks `adamant train` knows, as libtorch modules over 28x28 single-channel images.
#ifndef ADAMANT_APPS_ADAMANT_MODELS_H_
#define ADAMANT_APPS_ADAMANT_MODELS_H_

#include <torch/nn/modules/container/sequential.h>

#include "model_options.h"

namespace adamant::app {

// Input: [batch, 784] for logreg and mlp, [batch, 1, 28, 28] for cnn. Output: [batch, 10] logits.
//  logreg  Linear(784, 10): multinomial logistic regression.
//  mlp     Linear-ReLU-Dropout per hidden size, then Linear(.., 10).
//  cnn     small: c32-c64 (3x3, ReLU, 2x2 max-pool) then 128 ReLU units with dropout.
//          paper: Kingma & Ba's c64-c64-c128-1000: three stages of 5x5 convolution (ReLU) and 3x3 max-pool
//          with stride 2 (28 -> 14 -> 7 -> 4), then 1000 ReLU units with dropout.
torch::nn::Sequential MakeModel(const ModelOptions& options);

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_MODELS_H_
