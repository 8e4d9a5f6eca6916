// libtorch quick start: fit a linear model with adamant's Adam as a torch::optim::Optimizer, under
// libtorch's StepLR, and save the optimizer with torch::save (README, "libtorch quick start").
//
//   build/examples/libtorch_quickstart
#include <torch/torch.h>

#include <cstdio>

#include "adamant/torch/optim.h"

int main() {
  torch::manual_seed(0);
  auto model = torch::nn::Linear(10, 1);
  adamant::optim::Adam opt(model->parameters(), {.lr = 0.1});  // as torch::optim::Adam(..., AdamOptions(0.1))
  torch::optim::StepLR schedule(opt, /*step_size=*/50, /*gamma=*/0.5);
  auto x = torch::randn({64, 10}), y = x.sum(1, true);
  float loss_value = 0.0f;
  for (int step = 1; step <= 200; ++step) {
    opt.zero_grad();
    auto loss = torch::mse_loss(model->forward(x), y);
    loss.backward();
    opt.step();
    schedule.step();
    loss_value = loss.item<float>();
  }
  std::printf("loss %.4f, lr %g\n", loss_value, opt.param_groups()[0].options().get_lr());
  torch::save(opt, "libtorch_quickstart_optimizer.pt");
}
