// adamant train's options: validation messages and the config.json round trip that --resume relies on.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "train.h"

namespace adamant::app {
namespace {

std::string Message(const TrainOptions& o) {
  try {
    Validate(o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "valid";
}

TEST(TrainOptions, Validation) {
  TrainOptions o;
  EXPECT_EQ(Message(o), "valid");
  o.batch_size = 0;
  EXPECT_EQ(Message(o), "--batch-size must be positive, got 0");
  o = {};
  o.model.name = "resnet";
  EXPECT_EQ(Message(o), "unknown model 'resnet' (valid: logreg, mlp, cnn)");
  o = {};
  o.optimizer_options = {{"lr", "-1"}};
  EXPECT_EQ(Message(o), "Invalid learning rate: -1.0");
  o = {};
  o.impl = "torch";
  o.optimizer = "radam";
  EXPECT_EQ(Message(o), "libtorch has no radam (it has adam, adamw, adagrad, rmsprop, sgd); use --impl adamant");
  o.optimizer = "adam";
  o.optimizer_options = {{"maximize", "true"}};
  EXPECT_EQ(Message(o).rfind("libtorch's adam has no option 'maximize'", 0), 0u) << Message(o);
  o = {};
  o.schedule = "step";
  o.gamma = 0;
  EXPECT_EQ(Message(o), "schedule: gamma must be > 0, got 0.0");
  o = {};
  o.progress = "fancy";
  EXPECT_EQ(Message(o), "unknown progress mode 'fancy' (valid: auto, bar, lines, none)");
}

TEST(TrainOptions, JsonRoundTrip) {
  TrainOptions o;
  o.model = {.name = "cnn", .hidden = {10, 20}, .dropout = 0.3, .cnn = "paper"};
  o.optimizer = "adamw";
  o.optimizer_options = {{"betas", "0.9,0.95"}, {"lr", "3e-4"}};
  o.schedule = "cosine";
  o.warmup_steps = 7;
  o.seed = 123;
  o.accumulate = 4;
  const TrainOptions back = TrainOptionsFromJson(ToJson(o));
  EXPECT_EQ(ToJson(back), ToJson(o));
  EXPECT_EQ(back.model.cnn, "paper");
  EXPECT_EQ(back.optimizer_options.size(), 2u);
}

}  // namespace
}  // namespace adamant::app
