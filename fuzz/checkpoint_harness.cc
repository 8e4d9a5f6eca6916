#include "fuzz/checkpoint_harness.h"

#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <typeinfo>
#include <utility>
#include <vector>

#include "adamant/algorithm_info.h"
#include "adamant/algorithms.h"
#include "adamant/checkpoint.h"
#include "adamant/factory.h"
#include "core/checkpoint_internal.h"
#include "core/checkpoint_schema.h"
#include "kernels/storage.h"

namespace adamant::fuzz {
namespace {

// A value in [-1.375, 1.375] that depends on everything that identifies an element and a step.
float Value(int step, size_t param, int64_t element) {
  return static_cast<float>((element * 7 + static_cast<int64_t>(param) * 13 + step * 5) % 23 - 11) / 8.0f;
}

void Fill(std::string& bytes, DType dtype, int64_t numel, int step, size_t param) {
  bytes.assign(static_cast<size_t>(numel) * SizeOf(dtype), '\0');
  for (int64_t k = 0; k < numel; ++k) {
    const float v = Value(step, param, k);
    char* at = bytes.data() + static_cast<size_t>(k) * SizeOf(dtype);
    switch (dtype) {
      case DType::kFloat32:
        std::memcpy(at, &v, 4);
        break;
      case DType::kFloat64: {
        const double d = v;
        std::memcpy(at, &d, 8);
        break;
      }
      case DType::kBFloat16:
      case DType::kFloat16: {
        const uint16_t h = dtype == DType::kBFloat16 ? kernels::FloatToBFloat16(v) : kernels::FloatToFloat16(v);
        std::memcpy(at, &h, 2);
        break;
      }
      case DType::kUInt8:  // int8 state's codes, never a parameter's dtype
        break;
    }
  }
}

template <class Opt, class Defaults>
std::unique_ptr<Optimizer> Build(Model& model) {
  std::vector<ParamGroup<typename Opt::OptionsType>> groups;
  for (size_t g = 0; g < model.num_groups(); ++g) groups.push_back({model.views(g), Defaults{}});
  return std::make_unique<Opt>(std::move(groups), Defaults{});
}

}  // namespace

Model::Model(std::vector<std::vector<ParamSpec>> groups) : specs_(std::move(groups)) {
  size_t index = 0;
  for (const auto& group : specs_) {
    data_.emplace_back();
    grad_.emplace_back();
    for (const ParamSpec& spec : group) {
      data_.back().emplace_back();
      grad_.back().emplace_back();
      Fill(data_.back().back(), spec.dtype, spec.numel, -1, index);
      Fill(grad_.back().back(), spec.dtype, spec.numel, 0, index);
      ++index;
    }
  }
}

Model Model::Small() {
  return Model({{{DType::kFloat32, 6}, {DType::kBFloat16, 5}},
                {{DType::kFloat64, 3}, {DType::kFloat16, 4}, {DType::kFloat32, 2, false}}});
}

std::vector<ParamView> Model::views(size_t group) {
  std::vector<ParamView> out;
  for (size_t i = 0; i < specs_[group].size(); ++i) {
    const ParamSpec& spec = specs_[group][i];
    out.push_back({data_[group][i].data(), spec.has_grad ? grad_[group][i].data() : nullptr, spec.numel, spec.dtype});
  }
  return out;
}

void Model::SetGrads(int step) {
  size_t index = 0;
  for (size_t g = 0; g < specs_.size(); ++g) {
    for (size_t i = 0; i < specs_[g].size(); ++i, ++index) {
      // In place: the views keep pointing at the same buffers.
      std::string fresh;
      Fill(fresh, specs_[g][i].dtype, specs_[g][i].numel, step, index);
      std::memcpy(grad_[g][i].data(), fresh.data(), fresh.size());
    }
  }
}

std::vector<std::string> Model::Snapshot() const {
  std::vector<std::string> out;
  for (const auto& group : data_) out.insert(out.end(), group.begin(), group.end());
  return out;
}

void Model::Restore(const std::vector<std::string>& snapshot) {
  size_t k = 0;
  for (auto& group : data_) {
    for (std::string& d : group) {
      std::memcpy(d.data(), snapshot.at(k).data(), d.size());
      ++k;
    }
  }
}

std::unique_ptr<Optimizer> MakeOptimizer(std::string_view name, Model& model, const OptionList& options) {
  std::unique_ptr<Optimizer> opt;
#define ADAMANT_BUILD(Class, name_, ...) \
  if (name == name_) opt = Build<Class, Class##Options>(model);
  ADAMANT_OPTIMIZERS(ADAMANT_BUILD, ADAMANT_BUILD)
#undef ADAMANT_BUILD
  if (opt == nullptr) throw std::invalid_argument("unknown optimizer '" + std::string(name) + "'");
  for (size_t g = 0; g < opt->num_param_groups(); ++g) {
    opt->SetOptions(g, options);
    opt->set_lr(g, opt->lr(g) * static_cast<double>(g + 1));
  }
  return opt;
}

OptionList FullStateOptions(std::string_view name) {
  if (name == "adam" || name == "adamw") return {{"amsgrad", "true"}};
  if (name == "rmsprop") return {{"momentum", "0.9"}, {"centered", "true"}};
  if (name == "sgd") return {{"momentum", "0.9"}, {"nesterov", "true"}};
  if (name == "adagrad") return {{"initial_accumulator_value", "0.1"}, {"lr_decay", "0.01"}};
  return {};
}

namespace {

// The ranges of elements (Optimizer::set_range) the file's metadata gives each group of the small model,
// where it gives valid ones: the optimizer is restricted alike, so that the loader is exercised past the
// range check.
std::vector<std::pair<size_t, ElementRange>> RangesOf(const checkpoint_internal::ParsedFile& parsed, size_t groups) {
  std::vector<std::pair<size_t, ElementRange>> ranges;
  for (size_t g = 0; g < groups; ++g) {
    const auto begin = parsed.metadata.find("group." + std::to_string(g) + ".range.begin");
    const auto end = parsed.metadata.find("group." + std::to_string(g) + ".range.end");
    if (begin == parsed.metadata.end() || end == parsed.metadata.end()) continue;
    uint64_t b = 0, e = 0;
    const uint64_t limit = std::numeric_limits<int64_t>::max();
    if (!checkpoint_internal::ParseDecimal(begin->second, limit, b) ||
        !checkpoint_internal::ParseDecimal(end->second, limit, e) || b > e) {
      continue;
    }
    ranges.emplace_back(g, ElementRange{static_cast<int64_t>(b), static_cast<int64_t>(e)});
  }
  return ranges;
}

}  // namespace

void ApplyFileRanges(Optimizer& opt, std::string_view bytes) {
  try {
    const checkpoint_internal::ParsedFile parsed = checkpoint_internal::Parse(bytes, /*verify_checksum=*/false);
    for (const auto& [g, range] : RangesOf(parsed, opt.num_param_groups())) opt.set_range(g, range);
  } catch (const CheckpointError&) {
  }
}

std::string CheckCheckpointInput(std::string_view bytes) {
  // The algorithm the file claims, if its layout parses: the loader is then exercised past the
  // algorithm check.
  std::string algorithm = "adam";
  checkpoint_internal::ParsedFile parsed;
  bool parsed_ok = false;
  try {
    parsed = checkpoint_internal::Parse(bytes, /*verify_checksum=*/false);
    parsed_ok = true;
    const auto it = parsed.metadata.find("algorithm");
    if (it != parsed.metadata.end()) {
      for (std::string_view known : AlgorithmNames()) {
        if (known == it->second) algorithm = it->second;
      }
    }
  } catch (const CheckpointError&) {
  } catch (const std::exception& e) {
    return std::string("Parse threw ") + typeid(e).name() + ", not CheckpointError: " + e.what();
  }

  // Twice: through the public API (checksum verified), and through the two halves without the checksum,
  // which a mutated input would otherwise almost never get past.
  for (const bool verified : {true, false}) {
    if (!verified && !parsed_ok) break;
    Model model = Model::Small();
    std::unique_ptr<Optimizer> opt = MakeOptimizer(algorithm, model, FullStateOptions(algorithm));
    const auto ranges = parsed_ok ? RangesOf(parsed, opt->num_param_groups()) : decltype(RangesOf(parsed, 0)){};
    for (const auto& [g, range] : ranges) opt->set_range(g, range);
    for (int step = 1; step <= 2; ++step) {  // some state of its own, for "unchanged" to mean something
      model.SetGrads(step);
      opt->Step();
    }
    const std::string before = SerializeState(*opt);
    const std::vector<std::string> params = model.Snapshot();
    bool loaded = false;
    try {
      if (verified) {
        DeserializeState(*opt, bytes);
      } else {
        checkpoint_internal::Restore(*opt, parsed);
      }
      loaded = true;
    } catch (const CheckpointError&) {
    } catch (const std::exception& e) {
      return std::string("loading threw ") + typeid(e).name() + ", not CheckpointError: " + e.what();
    }
    if (model.Snapshot() != params) return "loading changed the parameters";
    if (!loaded) {
      if (SerializeState(*opt) != before) return "a failed load changed the optimizer";
      continue;
    }
    try {
      const std::string saved = SerializeState(*opt);
      Model other = Model::Small();
      std::unique_ptr<Optimizer> again = MakeOptimizer(algorithm, other);
      for (const auto& [g, range] : ranges) again->set_range(g, range);
      DeserializeState(*again, saved);
      if (SerializeState(*again) != saved) return "a loaded state does not save and reload to the same bytes";
      model.SetGrads(3);
      opt->Step();
    } catch (const std::exception& e) {
      return std::string("after a successful load: ") + e.what();
    }
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> SeedCorpus() {
  std::vector<std::pair<std::string, std::string>> corpus;
  int k = 0;
  for (std::string_view name : AlgorithmNames()) {
    Model model = Model::Small();
    std::unique_ptr<Optimizer> opt = MakeOptimizer(name, model, FullStateOptions(name));
    Precision precision;
    if (k % 3 == 1) precision.master_weights = true;
    if (k % 3 == 2) precision = {.rounding = Rounding::kStochastic, .seed = 1234u + static_cast<uint64_t>(k)};
    opt->set_precision(precision);
    ++k;
    for (int step = 1; step <= 3; ++step) {
      model.SetGrads(step);
      opt->Step();
    }
    // Every buffer the algorithm can keep is in its seed (FullStateOptions switches them all on), so that
    // the fuzzer starts from each.
    for (std::string_view buffer : FindAlgorithm(name)->state) {
      if (!opt->state(0, 0).has(buffer)) {
        throw std::logic_error("the seed of " + std::string(name) + " has no '" + std::string(buffer) +
                               "': FullStateOptions must switch it on");
      }
    }
    corpus.emplace_back(std::string(name) + ".safetensors", SerializeState(*opt));
  }
  {
    Model model = Model::Small();
    corpus.emplace_back("adam_fresh.safetensors", SerializeState(*MakeOptimizer("adam", model)));
  }
  for (std::string_view name : {"adam", "nadam"}) {
    // The largest step a state may hold (a step past it would not fit an int64), for the fuzzer to start
    // from the arithmetic of huge steps (NAdam's keeps a per-tensor scalar as well).
    Model model = Model::Small();
    std::unique_ptr<Optimizer> opt = MakeOptimizer(name, model);
    model.SetGrads(1);
    opt->Step();
    for (size_t g = 0; g < opt->num_param_groups(); ++g) {
      for (size_t i = 0; i < opt->params(g).size(); ++i) {
        if (!opt->state(g, i).empty()) opt->state(g, i).step = std::numeric_limits<int64_t>::max() - 1;
      }
    }
    corpus.emplace_back(std::string(name) + "_largest_step.safetensors", SerializeState(*opt));
  }
  for (std::string_view name : {"adam", "nadam"}) {
    // Groups restricted to ranges of their elements (a shard): group 0 from inside its first parameter,
    // group 1 to inside its second, with master weights for the bf16 and fp16 parameters in them.
    Model model = Model::Small();
    std::unique_ptr<Optimizer> opt = MakeOptimizer(name, model, FullStateOptions(name));
    opt->set_precision({.master_weights = true});
    opt->set_range(0, {5, ElementRange::kToTheEnd});
    opt->set_range(1, {0, 5});
    for (int step = 1; step <= 2; ++step) {
      model.SetGrads(step);
      opt->Step();
    }
    corpus.emplace_back(std::string(name) + "_range.safetensors", SerializeState(*opt));
  }
  for (std::string_view name : {"adam", "rmsprop"}) {
    // bfloat16 state (BF16 tensors) in group 0; per buffer in group 1, whose float64 parameter keeps
    // float64 state.
    Model model = Model::Small();
    std::unique_ptr<Optimizer> opt = MakeOptimizer(name, model, FullStateOptions(name));
    opt->SetOption(0, "state_dtype", "bfloat16");
    opt->SetOption(1, "state_dtype", std::string(FindAlgorithm(name)->state[0]) + ":bfloat16");
    for (int step = 1; step <= 2; ++step) {
      model.SetGrads(step);
      opt->Step();
    }
    corpus.emplace_back(std::string(name) + "_bf16_state.safetensors", SerializeState(*opt));
  }
  for (std::string_view name : {"adam", "adagrad"}) {
    // int8 state (U8 codes, F32 block maxima) in group 0, of the first buffer only in group 1; with
    // min_quant_size 0, so that these small parameters keep it (the float64 one keeps float64).
    Model model = Model::Small();
    std::unique_ptr<Optimizer> opt = MakeOptimizer(name, model, FullStateOptions(name));
    opt->SetOptions(0, {{"state_dtype", "int8"}, {"min_quant_size", "0"}});
    opt->SetOptions(1, {{"state_dtype", std::string(FindAlgorithm(name)->state[0]) + ":int8"}, {"min_quant_size", "0"}});
    for (int step = 1; step <= 2; ++step) {
      model.SetGrads(step);
      opt->Step();
    }
    corpus.emplace_back(std::string(name) + "_int8_state.safetensors", SerializeState(*opt));
  }
  // Damaged copies of a valid file, each refused at a different check.
  const std::string adam = corpus.front().second;
  uint64_t header_len = 0;
  std::memcpy(&header_len, adam.data(), 8);
  std::string absurd = adam;
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(absurd.data(), &huge, 8);
  std::string flipped = adam;
  flipped.back() = static_cast<char>(flipped.back() ^ 0x10);
  std::string bad_json = adam;
  bad_json[8] = '[';
  corpus.emplace_back("damaged_empty.safetensors", "");
  corpus.emplace_back("damaged_truncated_header.safetensors", adam.substr(0, 8 + header_len / 2));
  corpus.emplace_back("damaged_truncated_data.safetensors", adam.substr(0, adam.size() - 4));
  corpus.emplace_back("damaged_absurd_header_length.safetensors", absurd);
  corpus.emplace_back("damaged_flipped_data_bit.safetensors", flipped);
  corpus.emplace_back("damaged_not_json.safetensors", bad_json);
  return corpus;
}

}  // namespace adamant::fuzz
