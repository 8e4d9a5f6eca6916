// The libtorch drop-ins: the same updates as adamant's C++ optimizers, libtorch's interfaces (param groups,
// schedulers, torch::save/load), and errors for what they cannot update in place.
#include "adamant/torch/optim.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "adamant/adamant.h"

namespace adamant::optim {
namespace {

std::vector<torch::Tensor> MakeParams(uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({7, 5}).requires_grad_(), torch::randn({5}).requires_grad_(),
          torch::randn({33}).requires_grad_()};
}

// Deterministic gradients for step `t`.
void SetGrads(std::vector<torch::Tensor>& params, int t) {
  for (size_t i = 0; i < params.size(); ++i) {
    torch::manual_seed(1000 * t + i);
    params[i].mutable_grad() = torch::randn(params[i].sizes());
  }
}

std::vector<torch::Tensor> Clone(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

void ExpectBitwiseEqual(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}

// A parameter of float tensors stepped through adamant's own C++ optimizer, for comparison.
std::vector<ParamView> Views(std::vector<torch::Tensor>& params) {
  std::vector<ParamView> views;
  for (auto& p : params) views.push_back(MakeParam(p.data_ptr<float>(), p.grad().data_ptr<float>(), p.numel()));
  return views;
}

TEST(TorchOptim, AdamStepsExactlyAsAdamantsOptimizer) {
  auto params = MakeParams(1);
  auto reference = Clone(params);
  Adam opt(params, {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true});
  SetGrads(reference, 1);
  adamant::Adam core(Views(reference), {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true});
  for (int t = 1; t <= 10; ++t) {
    SetGrads(params, t);
    SetGrads(reference, t);
    for (size_t i = 0; i < reference.size(); ++i) core.params(0)[i].grad = reference[i].grad().data_ptr();
    opt.step();
    core.Step();
  }
  ExpectBitwiseEqual(params, reference);
  EXPECT_EQ(opt.core().state(0, 0).step, 10);
  EXPECT_TRUE(opt.core().state(0, 2).has("max_exp_avg_sq"));
}

// libtorch 1.13's own optimizers against the drop-ins, within float rounding (their op order differs).
template <class Theirs, class Ours>
void CompareWithLibtorch(Ours& ours, std::vector<torch::Tensor>& ours_params, Theirs& theirs,
                         std::vector<torch::Tensor>& theirs_params) {
  for (int t = 1; t <= 20; ++t) {
    SetGrads(ours_params, t);
    SetGrads(theirs_params, t);
    ours.step();
    theirs.step();
  }
  for (size_t i = 0; i < ours_params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(ours_params[i], theirs_params[i], 1e-5, 1e-6))
        << "parameter " << i << ": max difference "
        << (ours_params[i] - theirs_params[i]).abs().max().item<double>();
  }
}

TEST(TorchOptim, MatchesLibtorchAdamAdamWAdagradRMSpropSGD) {
  {
    auto a = MakeParams(3), b = Clone(a);
    Adam ours(a, {.lr = 1e-2, .weight_decay = 1e-2});
    torch::optim::Adam theirs(b, torch::optim::AdamOptions(1e-2).weight_decay(1e-2));
    CompareWithLibtorch(ours, a, theirs, b);
  }
  {
    auto a = MakeParams(4), b = Clone(a);
    AdamW ours(a);
    torch::optim::AdamW theirs(b, torch::optim::AdamWOptions(1e-3));  // both: weight_decay 1e-2
    CompareWithLibtorch(ours, a, theirs, b);
  }
  {
    auto a = MakeParams(5), b = Clone(a);
    Adagrad ours(a, {.lr = 0.1, .lr_decay = 0.01});
    torch::optim::Adagrad theirs(b, torch::optim::AdagradOptions(0.1).lr_decay(0.01));
    CompareWithLibtorch(ours, a, theirs, b);
  }
  {
    auto a = MakeParams(6), b = Clone(a);
    RMSprop ours(a, {.lr = 1e-2, .momentum = 0.9, .centered = true});
    torch::optim::RMSprop theirs(b, torch::optim::RMSpropOptions(1e-2).momentum(0.9).centered(true));
    CompareWithLibtorch(ours, a, theirs, b);
  }
  {
    auto a = MakeParams(7), b = Clone(a);
    SGD ours(a, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    torch::optim::SGD theirs(b, torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
    CompareWithLibtorch(ours, a, theirs, b);
  }
}

TEST(TorchOptim, SaveAndLoadContinueTheTrajectoryBitwise) {
  for (const auto name : AlgorithmNames()) {
    SCOPED_TRACE(std::string(name));
    auto straight = MakeParams(8);
    auto resumed = Clone(straight);
    const OptionList options = name == "sgd" ? OptionList{{"momentum", "0.9"}} : OptionList{};
    auto a = Create(name, straight, options);
    for (int t = 1; t <= 5; ++t) SetGrads(straight, t), a->step();
    // Save after 5 steps; the resumed optimizer starts from copies of the parameters and the archive.
    std::stringstream archive_bytes;
    {
      torch::serialize::OutputArchive archive;
      a->save(archive);
      archive.save_to(archive_bytes);
    }
    resumed = Clone(straight);
    auto b = Create(name, resumed, options);
    {
      torch::serialize::InputArchive archive;
      archive.load_from(archive_bytes);
      b->load(archive);
    }
    for (int t = 6; t <= 10; ++t) {
      SetGrads(straight, t), a->step();
      SetGrads(resumed, t), b->step();
    }
    ExpectBitwiseEqual(straight, resumed);
  }
}

// state_dtype through the drop-ins' options: bfloat16 buffers in the core underneath, saved and loaded
// with it, and the same trajectory as adamant's own optimizer with that option.
// `steps` steps of the drop-in over `params` and of adamant's own optimizer `core` over `reference` (whose
// views Views made), with the same gradients.
void StepBoth(Adam& opt, std::vector<torch::Tensor>& params, adamant::Adam& core, std::vector<torch::Tensor>& reference,
              int steps) {
  for (int t = 1; t <= steps; ++t) {
    SetGrads(params, t), opt.step();
    SetGrads(reference, t);
    for (size_t i = 0; i < reference.size(); ++i) core.params(0)[i].grad = reference[i].grad().data_ptr();
    core.Step();
  }
}

TEST(TorchOptim, BFloat16StateThroughTheOptions) {
  auto params = MakeParams(8);
  auto reference = Clone(params);
  Adam opt(params, {.lr = 1e-2, .state_dtype = StateStorage::kBFloat16});
  SetGrads(reference, 1);
  adamant::Adam core(Views(reference), {.lr = 1e-2, .state_dtype = StateStorage::kBFloat16});
  StepBoth(opt, params, core, reference, 3);
  ExpectBitwiseEqual(params, reference);
  EXPECT_EQ(opt.core().state(0, 0).at("exp_avg").dtype(), DType::kBFloat16);
  EXPECT_EQ(opt.core().state_nbytes(), core.state_nbytes());
  std::stringstream bytes;
  torch::save(opt, bytes);
  auto copy = Clone(params);
  Adam loaded(copy);
  torch::load(loaded, bytes);
  EXPECT_EQ(loaded.core().GetOption(0, "state_dtype"), "bfloat16");
  EXPECT_EQ(loaded.core().state(0, 1).at("exp_avg_sq").dtype(), DType::kBFloat16);
}

// int8 state (every tensor, min_quant_size 0): the same bits as adamant's optimizer, the codes in state() as
// kByte tensors, and torch::save/load continuing the run bitwise.
TEST(TorchOptim, Int8StateThroughTheOptions) {
  auto params = MakeParams(8);
  auto reference = Clone(params);
  const adamant::AdamOptions options{.lr = 1e-2, .state_dtype = StateStorage::kInt8, .min_quant_size = 0};
  Adam opt(params, options);
  SetGrads(reference, 1);
  adamant::Adam core(Views(reference), options);
  StepBoth(opt, params, core, reference, 3);
  ExpectBitwiseEqual(params, reference);
  EXPECT_EQ(opt.core().state(0, 0).at("exp_avg").dtype(), DType::kUInt8);
  EXPECT_EQ(opt.core().state_nbytes(), core.state_nbytes());
  const auto& entry = static_cast<const torch::optim::AdamParamState&>(
      *opt.state().at(c10::guts::to_string(params[0].unsafeGetTensorImpl())));
  EXPECT_EQ(entry.exp_avg().scalar_type(), torch::kByte);
  std::stringstream bytes;
  torch::save(opt, bytes);
  auto copy = Clone(params);
  Adam loaded(copy);
  torch::load(loaded, bytes);
  EXPECT_EQ(loaded.core().GetOption(0, "state_dtype"), "int8");
  for (int t = 4; t <= 5; ++t) {
    SetGrads(params, t), opt.step();
    SetGrads(copy, t), loaded.step();
  }
  ExpectBitwiseEqual(params, copy);
}

// state() is libtorch's map, as torch::optim fills it: libtorch's ParamState classes where libtorch has the
// algorithm, keyed as libtorch keys them, whose tensors are adamant's state (the same memory).
TEST(TorchOptim, StateMapShowsTheStateAsTorchOptim) {
  auto params = MakeParams(4);
  auto theirs = Clone(params);
  Adam opt(params, {.lr = 1e-2, .amsgrad = true});
  torch::optim::Adam reference(theirs, torch::optim::AdamOptions(1e-2).amsgrad(true));
  EXPECT_TRUE(opt.state().empty());
  for (int t = 1; t <= 3; ++t) {
    SetGrads(params, t), opt.step();
    SetGrads(theirs, t), reference.step();
  }
  ASSERT_EQ(opt.state().size(), reference.state().size());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& ours = static_cast<torch::optim::AdamParamState&>(
        *opt.state().at(c10::guts::to_string(params[i].unsafeGetTensorImpl())));
    const auto& libtorch = static_cast<torch::optim::AdamParamState&>(
        *reference.state().at(c10::guts::to_string(theirs[i].unsafeGetTensorImpl())));
    EXPECT_EQ(ours.step(), 3);
    EXPECT_EQ(ours.step(), libtorch.step());
    EXPECT_EQ(ours.exp_avg().sizes(), libtorch.exp_avg().sizes());
    EXPECT_TRUE(torch::allclose(ours.exp_avg(), libtorch.exp_avg(), 1e-5, 1e-7));
    EXPECT_TRUE(torch::allclose(ours.max_exp_avg_sq(), libtorch.max_exp_avg_sq(), 1e-5, 1e-9));
    // The same memory as adamant's state.
    EXPECT_EQ(ours.exp_avg_sq().data_ptr(), opt.core().state(0, i).at("exp_avg_sq").data());
  }
  // Written in place through the map, adamant's state changes; the next step updates the step shown.
  auto& first = static_cast<torch::optim::AdamParamState&>(
      *opt.state().at(c10::guts::to_string(params[0].unsafeGetTensorImpl())));
  first.exp_avg().zero_();
  EXPECT_EQ(opt.core().state(0, 0).at("exp_avg").as<float>()[0], 0.0f);
  SetGrads(params, 4), opt.step();
  EXPECT_EQ(static_cast<torch::optim::AdamParamState&>(
                *opt.state().at(c10::guts::to_string(params[0].unsafeGetTensorImpl())))
                .step(),
            4);
}

// The algorithms libtorch lacks show adamant::optim::ParamState: step, mu_product and the buffers by name;
// a loaded archive's state shows at once.
TEST(TorchOptim, StateMapOfTheOtherAlgorithms) {
  auto params = MakeParams(6);
  NAdam opt(params);
  SetGrads(params, 1), opt.step();
  const auto& entry =
      static_cast<ParamState&>(*opt.state().at(c10::guts::to_string(params[1].unsafeGetTensorImpl())));
  EXPECT_EQ(entry.step, 1);
  EXPECT_DOUBLE_EQ(entry.mu_product, opt.core().state(0, 1).mu_product);
  ASSERT_EQ(entry.buffers.size(), 2u);
  EXPECT_EQ(entry.buffers.at("exp_avg").sizes(), params[1].sizes());
  std::stringstream bytes;
  torch::save(opt, bytes);
  auto copy = Clone(params);
  NAdam loaded(copy);
  EXPECT_TRUE(loaded.state().empty());
  torch::load(loaded, bytes);
  EXPECT_EQ(loaded.state().size(), params.size());
}

TEST(TorchOptim, TorchSaveAndLoadWork) {
  auto params = MakeParams(9);
  NAdam opt(params);
  SetGrads(params, 1);
  opt.step();
  const std::string path = ::testing::TempDir() + "/adamant_nadam.pt";
  torch::save(opt, path);
  auto copy = Clone(params);
  NAdam loaded(copy);
  torch::load(loaded, path);
  EXPECT_EQ(loaded.core().state(0, 1).step, 1);
  EXPECT_DOUBLE_EQ(loaded.core().state(0, 1).mu_product, opt.core().state(0, 1).mu_product);
}

// libtorch does not check its archives' CRCs on load, so a byte flipped in a state tensor's record (or in
// an option's text) would load silently as other state: the drop-ins' archive holds the core's checkpoint
// bytes, whose loader checks every piece. (Damage to the zip structure is libtorch's reader's to find; it
// can crash on some, see docs/reliability.md.)
TEST(TorchOptim, ADamagedArchiveIsRefused) {
  auto params = MakeParams(12);
  Adam adam(params, {.lr = 0.00125, .amsgrad = true});
  for (int t = 1; t <= 3; ++t) SetGrads(params, t), adam.step();
  std::ostringstream saved;
  torch::save(adam, saved);
  const std::string good = saved.str();
  const std::string expected = SerializeState(adam.core());
  // Where the values lie in the file: each state buffer's bytes (stored as they are in memory) and the
  // learning rate's text.
  std::vector<size_t> positions;
  for (size_t i = 0; i < params.size(); ++i) {
    for (const auto& [name, buffer] : adam.core().state(0, i).buffers) {
      const std::string bytes(static_cast<const char*>(buffer.data()), buffer.nbytes());
      const size_t at = good.find(bytes);
      ASSERT_NE(at, std::string::npos) << name;
      for (size_t k : {size_t{0}, bytes.size() / 2, bytes.size() - 1}) positions.push_back(at + k);
    }
  }
  const size_t lr = good.find("0.00125");
  ASSERT_NE(lr, std::string::npos);
  positions.push_back(lr + 6);  // 0.00125 -> 0.00124: a valid rate, so only the checksum can tell
  for (size_t pos : positions) {
    std::string damaged = good;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x01);
    auto copy = Clone(params);
    Adam loaded(copy, {.lr = 0.5});
    std::istringstream in(damaged);
    try {
      torch::load(loaded, in);
      ADD_FAILURE() << "byte " << pos << ": loaded";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find("adamant: checkpoint: "), std::string::npos) << e.what();
    }
    EXPECT_EQ(loaded.param_groups()[0].options().get_lr(), 0.5) << "a refused load changed the options";
    EXPECT_TRUE(loaded.core().state(0, 0).empty()) << "a refused load changed the state";
  }
  std::istringstream in(good);
  auto copy = Clone(params);
  Adam loaded(copy);
  torch::load(loaded, in);
  EXPECT_TRUE(SerializeState(loaded.core()) == expected);
}

TEST(TorchOptim, LoadRejectsAnotherAlgorithmAndChangesNothing) {
  auto params = MakeParams(10);
  Adam adam(params);
  SetGrads(params, 1);
  adam.step();
  torch::serialize::OutputArchive out;
  adam.save(out);
  std::stringstream bytes;
  out.save_to(bytes);

  RMSprop rmsprop(params, {.lr = 0.5});
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  try {
    rmsprop.load(in);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("adamant: checkpoint: the checkpoint is of a 'adam' optimizer, not 'rmsprop'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(rmsprop.param_groups()[0].options().get_lr(), 0.5);
}

TEST(TorchOptim, LoadRejectsOtherParameterCounts) {
  auto params = MakeParams(11);
  Adam adam(params);
  SetGrads(params, 1);
  adam.step();
  std::stringstream bytes;
  {
    torch::serialize::OutputArchive out;
    adam.save(out);
    out.save_to(bytes);
  }
  std::vector<torch::Tensor> fewer = {params[0].detach().clone().requires_grad_()};
  Adam other(fewer);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  EXPECT_THROW(
      {
        try {
          other.load(in);
        } catch (const c10::Error& e) {
          EXPECT_NE(std::string(e.what()).find("param group 0 has 3 parameters in the checkpoint, 1 in the optimizer"),
                    std::string::npos)
              << e.what();
          throw;
        }
      },
      c10::Error);
}

TEST(TorchOptim, StepLRDrivesTheLearningRate) {
  // libtorch's StepLR drives adamant's SGD exactly as it drives libtorch's own.
  auto params = MakeParams(12);
  auto reference = Clone(params);
  SGD opt(params, {.lr = 1.0});
  torch::optim::SGD theirs(reference, torch::optim::SGDOptions(1.0));
  torch::optim::StepLR schedule(opt, /*step_size=*/2, /*gamma=*/0.5);
  torch::optim::StepLR their_schedule(theirs, /*step_size=*/2, /*gamma=*/0.5);
  std::vector<double> lrs;
  for (int epoch = 0; epoch < 6; ++epoch) {
    SetGrads(params, epoch + 1);
    SetGrads(reference, epoch + 1);
    const auto before = params[0].detach().clone();
    opt.step();
    theirs.step();
    // SGD without momentum moves by exactly lr * grad: the rate the step used.
    lrs.push_back(((before - params[0]) / params[0].grad()).mean().item<double>());
    EXPECT_EQ(opt.core().lr(0), theirs.param_groups()[0].options().get_lr());
    schedule.step();
    their_schedule.step();
  }
  ExpectBitwiseEqual(params, reference);
  EXPECT_NEAR(lrs.front(), 1.0, 1e-5);
  EXPECT_NEAR(lrs.back(), 0.25, 1e-5);
}

TEST(TorchOptim, ParamGroupsAddedLaterAndPerGroupOptions) {
  auto params = MakeParams(13);
  Adam opt(std::vector<torch::Tensor>{params[0]}, {.lr = 1e-3});
  opt.add_param_group(torch::optim::OptimizerParamGroup({params[1]}, std::make_unique<AdamOptions>(
                                                                              adamant::AdamOptions{.lr = 0.5})));
  opt.add_parameters({params[2]});  // appended to group 0
  SetGrads(params, 1);
  const auto before = Clone(params);
  opt.step();
  ASSERT_EQ(opt.core().num_param_groups(), 2u);
  EXPECT_EQ(opt.core().lr(1), 0.5);
  // Adam's first step moves each element by about lr.
  EXPECT_NEAR((before[1] - params[1]).abs().max().item<double>(), 0.5, 1e-3);
  EXPECT_NEAR((before[2] - params[2]).abs().max().item<double>(), 1e-3, 1e-5);
  EXPECT_EQ(opt.core().state(0, 1).step, 1);
}

TEST(TorchOptim, ClosureAndAutogradVersion) {
  auto params = MakeParams(14);
  Adam opt(params);
  const auto version = params[0]._version();
  const torch::Tensor loss = opt.step([&] {
    opt.zero_grad();
    torch::Tensor l = params[0].square().sum() + params[1].sum() + params[2].sum();
    l.backward();
    return l;
  });
  EXPECT_TRUE(loss.defined());
  EXPECT_GT(params[0]._version(), version);
}

TEST(TorchOptim, BFloat16WithMasterWeights) {
  auto params = MakeParams(15);
  std::vector<torch::Tensor> half;
  for (auto& p : params) half.push_back(p.detach().to(torch::kBFloat16).requires_grad_());
  std::vector<torch::Tensor> full;
  for (auto& p : half) full.push_back(p.detach().to(torch::kFloat32).requires_grad_());
  Adam ours(half, {.lr = 1e-2});
  ours.set_precision({.master_weights = true});
  Adam reference(full, {.lr = 1e-2});
  for (int t = 1; t <= 5; ++t) {
    SetGrads(full, t);
    for (size_t i = 0; i < half.size(); ++i) {
      half[i].mutable_grad() = full[i].grad().to(torch::kBFloat16);  // both see the same bf16 gradient
      full[i].mutable_grad() = half[i].grad().to(torch::kFloat32);
    }
    ours.step();
    reference.step();
  }
  // The master copy follows the float32 trajectory exactly; the parameter is its rounding.
  for (size_t i = 0; i < half.size(); ++i) {
    const Buffer& master = ours.core().state(0, i).at("master_param");
    const torch::Tensor m = torch::from_blob(const_cast<void*>(master.data()), {master.numel()}, torch::kFloat32);
    EXPECT_TRUE(torch::equal(m, full[i].detach().flatten())) << i;
    EXPECT_TRUE(torch::equal(half[i].detach().flatten(), m.to(torch::kBFloat16))) << i;
  }
}

// torch::save carries the precision and the count of steps taken (the stochastic-rounding stream) with the
// state: a bf16 run with stochastic rounding resumed from the file continues bitwise, with its options as
// saved (a scheduler's lr).
TEST(TorchOptim, SaveAndLoadKeepPrecisionAndTheRoundingStream) {
  auto params = MakeParams(16);
  std::vector<torch::Tensor> half;
  for (auto& p : params) half.push_back(p.detach().to(torch::kBFloat16).requires_grad_());
  auto grads = [&](std::vector<torch::Tensor>& ps, int t) {
    SetGrads(ps, t);
    for (auto& p : ps) p.mutable_grad() = p.grad().to(torch::kBFloat16);
  };
  Adam straight(half, {.lr = 1e-3});
  straight.set_precision({.rounding = Rounding::kStochastic, .seed = 5});
  for (int t = 1; t <= 3; ++t) grads(half, t), straight.step();
  straight.param_groups()[0].options().set_lr(2e-3);  // after the last step, as a scheduler would
  std::stringstream bytes;
  torch::save(straight, bytes);
  auto copy = Clone(half);
  Adam resumed(copy, {.lr = 0.5});
  torch::load(resumed, bytes);
  EXPECT_EQ(resumed.core().precision().rounding, Rounding::kStochastic);
  EXPECT_EQ(resumed.core().precision().seed, 5u);
  EXPECT_EQ(resumed.core().steps_taken(), 3u);
  EXPECT_EQ(resumed.param_groups()[0].options().get_lr(), 2e-3);
  for (int t = 4; t <= 6; ++t) {
    grads(half, t), straight.step();
    grads(copy, t), resumed.step();
  }
  ExpectBitwiseEqual(half, copy);
}

template <class F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(TorchOptimErrors, ClearMessages) {
  auto params = MakeParams(16);
  EXPECT_NE(ErrorOf([&] { Adam(params, {.lr = -1.0}); }).find("Invalid learning rate: -1.0"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { Create("adamx", params); }).find("unknown optimizer 'adamx'"), std::string::npos);

  torch::Tensor expanded = torch::randn({3}).expand({4, 3}).requires_grad_();
  Adam shared_memory(std::vector<torch::Tensor>{expanded});
  expanded.mutable_grad() = torch::randn({4, 3});
  EXPECT_NE(ErrorOf([&] { shared_memory.step(); }).find("make elements share memory"), std::string::npos);
  torch::Tensor ints = torch::zeros({3}, torch::kInt32);
  EXPECT_NE(ErrorOf([&] { SGD(std::vector<torch::Tensor>{ints}); }).find("has dtype Int"), std::string::npos);

  Adam opt(params);
  params[0].mutable_grad() = torch::randn({7, 5}).to_sparse();
  EXPECT_NE(ErrorOf([&] { opt.step(); }).find("sparse gradient"), std::string::npos);
  params[0].mutable_grad() = torch::randn({7, 5}, torch::kFloat64);
  EXPECT_NE(ErrorOf([&] { opt.step(); }).find("has dtype Double but the parameter has Float"), std::string::npos);
  // Nothing was updated by the rejected steps.
  EXPECT_EQ(opt.core().state(0, 0).step, 0);

  torch::optim::OptimizerParamGroup foreign({params[1]}, std::make_unique<torch::optim::AdamOptions>(1e-3));
  opt.add_param_group(foreign);
  params[0].mutable_grad() = torch::randn({7, 5});
  EXPECT_NE(ErrorOf([&] { opt.step(); }).find("param group 1 has options of another optimizer"), std::string::npos);
}

TEST(TorchOptim, NonContiguousGradientIsReadThroughACopy) {
  auto params = MakeParams(17);
  auto reference = Clone(params);
  SGD a(params, {.lr = 0.1});
  SGD b(reference, {.lr = 0.1});
  SetGrads(reference, 1);
  for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = reference[i].grad().clone();
  params[0].mutable_grad() = reference[0].grad().t().contiguous().t();  // same values, transposed strides
  ASSERT_FALSE(params[0].grad().is_contiguous());
  a.step();
  b.step();
  ExpectBitwiseEqual(params, reference);
}

// A strided view with gaps (every other column of a matrix) and a transposed parameter are updated in
// place, bitwise as their contiguous copies, and within float rounding of libtorch's own Adam on the same
// views; the columns between are never written.
TEST(TorchOptim, StridedAndTransposedParametersAreUpdatedInPlace) {
  using torch::indexing::None;
  using torch::indexing::Slice;
  torch::manual_seed(19);
  torch::Tensor base = torch::randn({6, 10});
  torch::Tensor base_theirs = base.clone();
  const torch::Tensor initial = base.clone();
  std::vector<torch::Tensor> params = {base.index({Slice(), Slice(None, None, 2)}).requires_grad_(),
                                       torch::randn({4, 3}).t().requires_grad_()};
  std::vector<torch::Tensor> theirs_params = {base_theirs.index({Slice(), Slice(None, None, 2)}).requires_grad_(),
                                              params[1].detach().clone().t().contiguous().t().requires_grad_()};
  std::vector<torch::Tensor> copies = {params[0].detach().contiguous().requires_grad_(),
                                       params[1].detach().contiguous().requires_grad_()};
  ASSERT_FALSE(params[0].is_non_overlapping_and_dense());
  ASSERT_FALSE(params[1].is_contiguous());
  Adam ours(params, {.lr = 1e-2, .weight_decay = 0.1});
  Adam contiguous(copies, {.lr = 1e-2, .weight_decay = 0.1});
  torch::optim::Adam theirs(theirs_params, torch::optim::AdamOptions(1e-2).weight_decay(0.1));
  for (int t = 1; t <= 5; ++t) {
    SetGrads(params, t);
    SetGrads(copies, t);
    SetGrads(theirs_params, t);
    ours.step();
    contiguous.step();
    theirs.step();
  }
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::equal(params[i], copies[i])) << "parameter " << i;
    EXPECT_TRUE(torch::allclose(params[i], theirs_params[i], 1e-5, 1e-6)) << "parameter " << i;
  }
  EXPECT_TRUE(torch::equal(base.index({Slice(), Slice(1, None, 2)}), initial.index({Slice(), Slice(1, None, 2)})));
  EXPECT_FALSE(torch::equal(base.index({Slice(), Slice(None, None, 2)}), initial.index({Slice(), Slice(None, None, 2)})));
}

// A complex parameter is stepped as its real view, bitwise, also strided; Lion refuses it.
TEST(TorchOptim, ComplexParametersStepAsTheirRealView) {
  using torch::indexing::None;
  using torch::indexing::Slice;
  torch::manual_seed(20);
  torch::Tensor base = torch::randn({6, 4}, torch::kComplexFloat);
  std::vector<torch::Tensor> params = {torch::randn({5}, torch::kComplexDouble).requires_grad_(),
                                       base.index({Slice(None, None, 2), 1}).requires_grad_()};
  std::vector<torch::Tensor> real;
  for (const auto& p : params) real.push_back(torch::view_as_real(p.detach()).clone().requires_grad_());
  RMSprop ours(params, {.lr = 1e-2, .momentum = 0.9, .centered = true});
  RMSprop reference(real, {.lr = 1e-2, .momentum = 0.9, .centered = true});
  for (int t = 1; t <= 4; ++t) {
    for (size_t i = 0; i < params.size(); ++i) {
      torch::manual_seed(100 * t + i);
      const torch::Tensor g = torch::randn(params[i].sizes(), params[i].options().requires_grad(false));
      params[i].mutable_grad() = g;
      real[i].mutable_grad() = torch::view_as_real(g).clone();
    }
    ours.step();
    reference.step();
  }
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(torch::view_as_real(params[i].detach()), real[i]));
  EXPECT_TRUE(torch::equal(base.index({Slice(None, None, 2), 1}), params[1].detach()));
  torch::Tensor z = torch::zeros({3}, torch::kComplexFloat).requires_grad_();
  EXPECT_NE(ErrorOf([&] { Lion(std::vector<torch::Tensor>{z}); }).find("is complex; Lion takes the sign"),
            std::string::npos);
}

TEST(TorchOptim, CoreOfFindsAdamantsOptimizer) {
  auto params = MakeParams(18);
  auto ours = Create("radam", params);
  torch::optim::Adam theirs(params);
  ASSERT_NE(CoreOf(*ours), nullptr);
  EXPECT_EQ(CoreOf(*ours)->name(), "radam");
  EXPECT_EQ(CoreOf(theirs), nullptr);
}

}  // namespace
}  // namespace adamant::optim
