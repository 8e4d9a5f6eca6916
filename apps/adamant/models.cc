#include "models.h"

#include <torch/nn.h>

#include <stdexcept>

#include "fashion_mnist.h"

namespace adamant::app {

std::vector<std::string> ModelNames() { return {"logreg", "mlp", "cnn"}; }

void Validate(const ModelOptions& o) {
  if (o.name != "logreg" && o.name != "mlp" && o.name != "cnn") {
    throw std::invalid_argument("unknown model '" + o.name + "' (valid: logreg, mlp, cnn)");
  }
  if (o.name == "mlp") {
    if (o.hidden.empty()) throw std::invalid_argument("mlp needs at least one hidden layer size");
    for (int64_t h : o.hidden) {
      if (h <= 0) throw std::invalid_argument("hidden layer sizes must be positive, got " + std::to_string(h));
    }
  }
  if (o.name == "cnn" && o.cnn != "small" && o.cnn != "paper") {
    throw std::invalid_argument("unknown cnn '" + o.cnn + "' (valid: small, paper)");
  }
  if (!(o.dropout >= 0.0 && o.dropout < 1.0)) {
    throw std::invalid_argument("dropout must be in [0, 1), got " + std::to_string(o.dropout));
  }
}

bool TakesImages(const ModelOptions& options) { return options.name == "cnn"; }

torch::nn::Sequential MakeModel(const ModelOptions& o) {
  Validate(o);
  namespace nn = torch::nn;
  nn::Sequential model;
  if (o.name == "logreg") {
    model->push_back(nn::Linear(kImagePixels, kNumClasses));
  } else if (o.name == "mlp") {
    int64_t in = kImagePixels;
    for (int64_t h : o.hidden) {
      model->push_back(nn::Linear(in, h));
      model->push_back(nn::ReLU());
      if (o.dropout > 0) model->push_back(nn::Dropout(o.dropout));
      in = h;
    }
    model->push_back(nn::Linear(in, kNumClasses));
  } else if (o.cnn == "small") {
    model->push_back(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)));
    model->push_back(nn::ReLU());
    model->push_back(nn::MaxPool2d(2));  // 14x14
    model->push_back(nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)));
    model->push_back(nn::ReLU());
    model->push_back(nn::MaxPool2d(2));  // 7x7
    model->push_back(nn::Flatten());
    model->push_back(nn::Linear(64 * 7 * 7, 128));
    model->push_back(nn::ReLU());
    if (o.dropout > 0) model->push_back(nn::Dropout(o.dropout));
    model->push_back(nn::Linear(128, kNumClasses));
  } else {
    int64_t in = 1;
    for (int64_t out : {64, 64, 128}) {
      model->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 5).padding(2)));
      model->push_back(nn::ReLU());
      model->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));  // 28 -> 14 -> 7 -> 4
      in = out;
    }
    model->push_back(nn::Flatten());
    model->push_back(nn::Linear(128 * 4 * 4, 1000));
    model->push_back(nn::ReLU());
    if (o.dropout > 0) model->push_back(nn::Dropout(o.dropout));
    model->push_back(nn::Linear(1000, kNumClasses));
  }
  return model;
}

}  // namespace adamant::app
