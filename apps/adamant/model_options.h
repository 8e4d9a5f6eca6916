// The options of the networks `adamant train` knows, without libtorch (models.h builds them), so that what
// only describes runs (compare's experiments, config.json) compiles without it.
#ifndef ADAMANT_APPS_ADAMANT_MODEL_OPTIONS_H_
#define ADAMANT_APPS_ADAMANT_MODEL_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace adamant::app {

struct ModelOptions {
  std::string name = "mlp";                // logreg | mlp | cnn
  std::vector<int64_t> hidden = {512, 256};  // mlp: hidden layer sizes
  double dropout = 0.2;                    // mlp, cnn: before each hidden fully connected layer's output
  std::string cnn = "small";               // cnn: small | paper
};

std::vector<std::string> ModelNames();

// Throws std::invalid_argument for an unknown name, a bad size or a dropout outside [0, 1).
void Validate(const ModelOptions& options);

// Whether the model takes images as [batch, 1, 28, 28] rather than flat vectors.
bool TakesImages(const ModelOptions& options);

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_MODEL_OPTIONS_H_
