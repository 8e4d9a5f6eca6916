// Quick start: train an L2-regularized logistic regression with each of adamant's algorithms and print a
// table of the results. Every optimizer is built by name through the factory, as a config file would.
//
//   make run            (or: build/examples/quickstart)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "adamant/adamant.h"

namespace {

// A seeded binary classification problem: 4096 points in 32 dimensions, labels from a hidden linear rule
// with 5% of them flipped, so the optimum has a non-zero loss.
struct Dataset {
  static constexpr int kN = 4096;
  static constexpr int kD = 32;
  std::vector<float> x;  // kN x kD
  std::vector<float> y;  // 0 or 1
};

Dataset MakeDataset() {
  Dataset d;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform;
  std::vector<float> w_true(Dataset::kD);
  for (float& w : w_true) w = normal(rng);
  d.x.resize(Dataset::kN * Dataset::kD);
  d.y.resize(Dataset::kN);
  for (int i = 0; i < Dataset::kN; ++i) {
    float z = 0;
    for (int j = 0; j < Dataset::kD; ++j) {
      d.x[i * Dataset::kD + j] = normal(rng);
      z += d.x[i * Dataset::kD + j] * w_true[j];
    }
    d.y[i] = (z > 0) != (uniform(rng) < 0.05f) ? 1.0f : 0.0f;
  }
  return d;
}

// Mean cross-entropy plus 0.5 * 1e-4 * |w|^2; fills the gradient of the weights and of the bias.
double LossAndGradient(const Dataset& d, const std::vector<float>& w, float b, std::vector<float>& gw, float& gb) {
  constexpr double kL2 = 1e-4;
  std::vector<double> acc(Dataset::kD, 0.0);
  double loss = 0, acc_b = 0;
  for (int i = 0; i < Dataset::kN; ++i) {
    double z = b;
    for (int j = 0; j < Dataset::kD; ++j) z += double(d.x[i * Dataset::kD + j]) * w[j];
    const double p = 1.0 / (1.0 + std::exp(-z));
    loss += d.y[i] ? -std::log(std::max(p, 1e-12)) : -std::log(std::max(1.0 - p, 1e-12));
    const double r = p - d.y[i];
    for (int j = 0; j < Dataset::kD; ++j) acc[j] += r * d.x[i * Dataset::kD + j];
    acc_b += r;
  }
  double reg = 0;
  for (int j = 0; j < Dataset::kD; ++j) {
    gw[j] = static_cast<float>(acc[j] / Dataset::kN + kL2 * w[j]);
    reg += 0.5 * kL2 * double(w[j]) * w[j];
  }
  gb = static_cast<float>(acc_b / Dataset::kN);
  return loss / Dataset::kN + reg;
}

double Accuracy(const Dataset& d, const std::vector<float>& w, float b) {
  int correct = 0;
  for (int i = 0; i < Dataset::kN; ++i) {
    double z = b;
    for (int j = 0; j < Dataset::kD; ++j) z += double(d.x[i * Dataset::kD + j]) * w[j];
    correct += (z > 0) == (d.y[i] > 0.5f);
  }
  return double(correct) / Dataset::kN;
}

struct Run {
  const char* algorithm;
  const char* options;  // key=value, as accepted by adamant::ParseOptionList
};

}  // namespace

int main() {
  constexpr int kSteps = 300;
  const Dataset data = MakeDataset();
  const Run runs[] = {
      {"adam", "lr=0.05"},
      {"adamw", "lr=0.05 weight_decay=0.01"},
      {"adamax", "lr=0.1"},
      {"nadam", "lr=0.05"},
      {"radam", "lr=0.05"},
      {"adagrad", "lr=0.5"},
      {"rmsprop", "lr=0.01"},
      {"adadelta", "lr=10"},
      {"sgd", "lr=2 momentum=0.9 nesterov=true"},
      {"lion", "lr=0.01"},  // sign updates: a smaller lr than Adam's (Chen et al., 2023)
  };

  std::vector<float> w0(Dataset::kD, 0.0f), gw(Dataset::kD);
  float gb = 0;
  const double initial = LossAndGradient(data, w0, 0.0f, gw, gb);
  std::printf("adamant quickstart: logistic regression, %d examples x %d features, %d full-batch steps\n",
              Dataset::kN, Dataset::kD, kSteps);
  std::printf("initial loss %.6f\n\n", initial);
  std::printf("%-9s %-32s %12s %12s %9s %10s\n", "optimizer", "options", "loss@50", "final loss", "accuracy",
              "step (us)");
  for (const Run& run : runs) {
    std::vector<float> w(Dataset::kD, 0.0f);
    float b = 0.0f;
    auto opt = adamant::CreateOptimizer(
        run.algorithm, {adamant::MakeParam(w.data(), gw.data(), Dataset::kD), adamant::MakeParam(&b, &gb, 1)},
        adamant::ParseOptionList(run.options));
    double loss = 0, loss50 = 0, step_seconds = 0;
    for (int step = 1; step <= kSteps; ++step) {
      loss = LossAndGradient(data, w, b, gw, gb);
      if (step == 50) loss50 = loss;
      const auto t0 = std::chrono::steady_clock::now();
      opt->Step();
      step_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    loss = LossAndGradient(data, w, b, gw, gb);
    std::printf("%-9s %-32s %12.6f %12.6f %9.4f %10.2f\n", run.algorithm, run.options, loss50, loss,
                Accuracy(data, w, b), 1e6 * step_seconds / kSteps);
  }
  return 0;
}
