// Checkpoints: bitwise resume for every algorithm and precision mode, the file layout (rebuilt here by an
// independent writer), every refusal of the loader with its message and without side effects, and atomic
// saving, with a failure and a crash in the middle of a save.
#include "adamant/checkpoint.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "adamant/factory.h"
#include "adamant/optimizer.h"
#include "core/checkpoint_internal.h"
#include "core/crc32.h"
#include "fuzz/checkpoint_harness.h"
#include "support/error_of.h"

namespace adamant {
namespace {

using fuzz::FullStateOptions;
using fuzz::MakeOptimizer;
using fuzz::Model;
using fuzz::ParamSpec;
using Json = nlohmann::json;
namespace fs = std::filesystem;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

template <class F>
std::string CheckpointErrorOf(F&& f) {
  return test_support::ErrorOf<CheckpointError>(f);
}

// Parameters large enough for every SIMD path and a thread split to matter little, in two groups.
Model Medium() {
  return Model({{{DType::kFloat32, 67}, {DType::kBFloat16, 45}},
                {{DType::kFloat64, 33}, {DType::kFloat16, 29}, {DType::kFloat32, 8, false}}});
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A directory of its own for each test (ctest runs tests in parallel processes).
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(::testing::TempDir()) /
            ("adamant_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------------------
// An independent reader and writer of the layout (docs/checkpoint-format.md), to check the library's files
// against the document and to build damaged files with a valid checksum.

struct Tensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::string bytes;
};

struct File {
  Json metadata;                // without the checksum
  std::vector<Tensor> tensors;  // in file order
};

File Decompose(const std::string& bytes) {
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  Json header = Json::parse(bytes.substr(8, header_len));
  const std::string data = bytes.substr(8 + header_len);
  File f;
  f.metadata = header["__metadata__"];
  f.metadata.erase("checksum");
  std::vector<std::pair<uint64_t, Tensor>> ordered;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const uint64_t begin = it.value()["data_offsets"][0];
    const uint64_t end = it.value()["data_offsets"][1];
    ordered.push_back({begin, Tensor{it.key(), it.value()["dtype"], it.value()["shape"], data.substr(begin, end - begin)}});
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [begin, t] : ordered) f.tensors.push_back(std::move(t));
  return f;
}

// The tensors back to back in the given order, the checksum over the compact header without it and the
// data, the header padded with spaces to a multiple of 8 bytes with its length.
std::string Compose(const File& f, bool with_checksum = true) {
  Json header = Json::object();
  std::string data;
  for (const Tensor& t : f.tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  header["__metadata__"] = f.metadata;
  if (with_checksum) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "%08x", core::Crc32(data, core::Crc32(header.dump())));
    header["__metadata__"]["checksum"] = std::string("crc32:") + hex;
  }
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  const uint64_t len = text.size();
  return std::string(reinterpret_cast<const char*>(&len), 8) + text + data;
}

// A raw header text (padded) and data, with no checksum computed.
std::string RawFile(std::string header, const std::string& data = "") {
  header.append((8 - (8 + header.size()) % 8) % 8, ' ');
  const uint64_t len = header.size();
  return std::string(reinterpret_cast<const char*>(&len), 8) + header + data;
}

Tensor* Find(File& f, const std::string& name) {
  for (Tensor& t : f.tensors) {
    if (t.name == name) return &t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return nullptr;
}

template <typename T>
std::string Bytes(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(T));
}

// ---------------------------------------------------------------------------------------------------------
// Bitwise resume

struct ResumeCase {
  std::string algorithm;
  bool full_state;  // FullStateOptions: amsgrad, RMSprop's momentum and centered, SGD's momentum, ...
  int precision;    // 0: nearest even, 1: master weights, 2: stochastic rounding
  bool through_file;
  bool bf16_state = false;  // the first group's state_dtype is bfloat16 (the second has float64 parameters)
};

std::string CaseName(const ::testing::TestParamInfo<ResumeCase>& info) {
  const ResumeCase& c = info.param;
  static const char* kPrecision[] = {"nearest", "master", "stochastic"};
  return c.algorithm + (c.full_state ? "_full" : "_default") + "_" + kPrecision[c.precision] +
         (c.through_file ? "_file" : "_bytes") + (c.bf16_state ? "_bf16state" : "");
}

class Resume : public ::testing::TestWithParam<ResumeCase> {};

// Steps 1-4, save, steps 5-8: the same as steps 1-4, then a fresh optimizer (other options, default
// precision) over the parameters as they were at the save, loaded from the checkpoint, steps 5-8.
TEST_P(Resume, IsBitwiseTheUninterruptedRun) {
  const ResumeCase& c = GetParam();
  TempDir dir;
  const OptionList options = c.full_state ? FullStateOptions(c.algorithm) : OptionList{};
  Model model = Medium();
  std::unique_ptr<Optimizer> opt = MakeOptimizer(c.algorithm, model, options);
  // With stochastic rounding of the parameters, of the state too.
  const std::string state_dtype = c.precision == 2 ? "bfloat16_stochastic" : "bfloat16";
  if (c.bf16_state) opt->SetOption(0, "state_dtype", state_dtype);
  Precision precision;
  if (c.precision == 1) precision.master_weights = true;
  if (c.precision == 2) precision = {.rounding = Rounding::kStochastic, .seed = 42};
  opt->set_precision(precision);
  for (int step = 1; step <= 4; ++step) {
    model.SetGrads(step);
    opt->Step();
    opt->set_lr(0, opt->lr(0) * 0.5);  // a schedule: the options saved are those of the moment
  }
  const std::string path = dir.file("opt.safetensors");
  std::string saved;
  if (c.through_file) {
    SaveCheckpoint(*opt, path);
  } else {
    saved = SerializeState(*opt);
  }
  const std::vector<std::string> params_at_save = model.Snapshot();
  for (int step = 5; step <= 8; ++step) {
    model.SetGrads(step);
    opt->Step();
  }

  Model resumed_model = Medium();
  resumed_model.Restore(params_at_save);  // the caller restores its parameters
  std::unique_ptr<Optimizer> resumed = MakeOptimizer(c.algorithm, resumed_model, {{"lr", "0.5"}});
  if (c.through_file) {
    LoadCheckpoint(*resumed, path);
  } else {
    DeserializeState(*resumed, saved);
  }
  EXPECT_EQ(resumed->precision().master_weights, precision.master_weights);
  EXPECT_EQ(resumed->precision().rounding, precision.rounding);
  EXPECT_EQ(resumed->precision().seed, precision.seed);
  EXPECT_EQ(resumed->steps_taken(), 4u);
  for (int step = 5; step <= 8; ++step) {
    resumed_model.SetGrads(step);
    resumed->Step();
  }
  EXPECT_TRUE(resumed_model.Snapshot() == model.Snapshot()) << "parameters differ from the uninterrupted run";
  EXPECT_TRUE(SerializeState(*resumed) == SerializeState(*opt)) << "optimizer state differs";
  if (c.algorithm == "nadam") {
    EXPECT_NE(resumed->state(0, 0).mu_product, 1.0);
    EXPECT_EQ(resumed->state(0, 0).mu_product, opt->state(0, 0).mu_product);
  }
  if (c.precision == 1) {
    EXPECT_TRUE(resumed->state(0, 1).has("master_param"));
  }
  if (c.bf16_state) {
    EXPECT_EQ(resumed->GetOption(0, "state_dtype"), state_dtype);
    EXPECT_EQ(resumed->GetOption(1, "state_dtype"), "float32");
    for (const auto& [name, buffer] : resumed->state(0, 0).buffers) EXPECT_EQ(buffer.dtype(), DType::kBFloat16) << name;
  }
}

std::vector<ResumeCase> ResumeCases() {
  std::vector<ResumeCase> cases;
  for (std::string_view name : AlgorithmNames()) {
    for (bool full : {false, true}) {
      for (int precision : {0, 1, 2}) {
        for (bool file : {false, true}) cases.push_back({std::string(name), full, precision, file});
      }
    }
    for (int precision : {0, 1, 2}) cases.push_back({std::string(name), true, precision, false, true});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryAlgorithm, Resume, ::testing::ValuesIn(ResumeCases()), CaseName);

TEST(Checkpoint, ParametersAreNotPartOfIt) {
  Model model = Model::Small();
  auto opt = MakeOptimizer("adam", model);
  model.SetGrads(1);
  opt->Step();
  const std::string saved = SerializeState(*opt);
  const auto params = model.Snapshot();
  model.SetGrads(2);
  opt->Step();
  const auto moved = model.Snapshot();
  DeserializeState(*opt, saved);
  EXPECT_TRUE(model.Snapshot() == moved);  // loading restores the optimizer only
  EXPECT_FALSE(model.Snapshot() == params);
}

TEST(Checkpoint, LoadingReplacesAllStateAndOptions) {
  Model model = Model::Small();
  auto fresh = MakeOptimizer("adam", model);
  const std::string empty = SerializeState(*fresh);
  auto opt = MakeOptimizer("adam", model, {{"amsgrad", "true"}, {"lr", "0.25"}});
  opt->set_precision({.master_weights = true});
  for (int step = 1; step <= 3; ++step) {
    model.SetGrads(step);
    opt->Step();
  }
  ASSERT_FALSE(opt->state(0, 0).empty());
  DeserializeState(*opt, empty);
  for (size_t g = 0; g < opt->num_param_groups(); ++g) {
    for (size_t i = 0; i < opt->params(g).size(); ++i) EXPECT_TRUE(opt->state(g, i).empty());
  }
  EXPECT_EQ(opt->GetOption(0, "amsgrad"), "false");
  EXPECT_EQ(opt->GetOption(0, "lr"), "0.001");
  EXPECT_EQ(opt->GetOption(1, "lr"), "0.002");
  EXPECT_FALSE(opt->precision().master_weights);
  EXPECT_EQ(opt->steps_taken(), 0u);
}

// ---------------------------------------------------------------------------------------------------------
// The layout

TEST(Crc32, KnownValues) {
  EXPECT_EQ(core::Crc32(""), 0u);
  EXPECT_EQ(core::Crc32("123456789"), 0xCBF43926u);  // the standard check value of CRC-32/ISO-HDLC
  EXPECT_EQ(core::Crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  // Slicing-by-8 agrees with the bytewise definition for every length and split.
  std::mt19937 rng(7);
  std::string text(1000, '\0');
  for (char& c : text) c = static_cast<char>(rng());
  for (size_t n : {1u, 7u, 8u, 9u, 63u, 64u, 65u, 1000u}) {
    uint32_t bytewise = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
      bytewise ^= static_cast<unsigned char>(text[i]);
      for (int k = 0; k < 8; ++k) bytewise = (bytewise & 1) ? (bytewise >> 1) ^ 0xEDB88320u : bytewise >> 1;
    }
    EXPECT_EQ(core::Crc32(std::string_view(text).substr(0, n)), ~bytewise) << n;
    for (size_t split = 0; split <= n; split += 5) {
      EXPECT_EQ(core::Crc32(std::string_view(text).substr(split, n - split), core::Crc32(std::string_view(text).substr(0, split))),
                ~bytewise);
    }
  }
}

TEST(CheckpointLayout, IsTheDocumentedSafetensorsLayout) {
  Model model = Model::Small();
  auto opt = MakeOptimizer("nadam", model, {{"weight_decay", "0.01"}});
  opt->set_precision({.master_weights = true, .seed = 7});
  for (int step = 1; step <= 3; ++step) {
    model.SetGrads(step);
    opt->Step();
  }
  const std::string bytes = SerializeState(*opt);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u);
  const Json header = Json::parse(bytes.substr(8, header_len));
  const Json& meta = header["__metadata__"];
  EXPECT_EQ(meta["format"], "adamant.optimizer_state");
  EXPECT_EQ(meta["format_version"], "1");
  EXPECT_EQ(meta["algorithm"], "nadam");
  EXPECT_EQ(meta["param_groups"], "2");
  EXPECT_EQ(meta["steps_taken"], "3");
  EXPECT_EQ(meta["precision.master_weights"], "true");
  EXPECT_EQ(meta["precision.rounding"], "nearest_even");
  EXPECT_EQ(meta["precision.seed"], "7");
  EXPECT_EQ(meta["group.0.params"], "2");
  EXPECT_EQ(meta["group.1.params"], "3");
  EXPECT_EQ(meta["group.0.option.lr"], "0.002");
  EXPECT_EQ(meta["group.1.option.lr"], "0.004");
  EXPECT_EQ(meta["group.0.option.betas"], "0.9,0.999");
  EXPECT_EQ(meta["group.0.option.weight_decay"], "0.01");
  EXPECT_EQ(meta["group.0.option.eps_mode"], "pytorch");
  for (const std::string& key : opt->option_names()) EXPECT_TRUE(meta.contains("group.1.option." + key)) << key;
  EXPECT_EQ(meta["param.0.1.dtype"], "bfloat16");
  EXPECT_EQ(meta["param.0.1.numel"], "5");
  EXPECT_EQ(meta["param.1.2.dtype"], "float32");
  EXPECT_TRUE(std::string(meta["checksum"]).starts_with("crc32:"));

  // Every state buffer, step and mu_product, exactly; nothing for the parameter without a gradient.
  size_t tensors = 0;
  for (size_t g = 0; g < 2; ++g) {
    for (size_t i = 0; i < opt->params(g).size(); ++i) {
      const ParamState& s = opt->state(g, i);
      const std::string prefix = "state." + std::to_string(g) + "." + std::to_string(i) + ".";
      if (s.empty()) {
        EXPECT_FALSE(header.contains(prefix + "step"));
        continue;
      }
      for (const auto& [name, buffer] : s.buffers) {
        const Json& e = header[prefix + name];
        EXPECT_EQ(e["dtype"], buffer.dtype() == DType::kFloat64 ? "F64" : "F32") << prefix + name;
        EXPECT_EQ(e["shape"], Json::array({buffer.numel()}));
        const uint64_t begin = e["data_offsets"][0];
        EXPECT_EQ(begin % SizeOf(buffer.dtype()), 0u);
        EXPECT_EQ(bytes.compare(8 + header_len + begin, buffer.nbytes(),
                                std::string(static_cast<const char*>(buffer.data()), buffer.nbytes())),
                  0);
        ++tensors;
      }
      const Json& step = header[prefix + "step"];
      EXPECT_EQ(step["dtype"], "I64");
      EXPECT_EQ(step["shape"], Json::array());
      int64_t v = 0;
      std::memcpy(&v, bytes.data() + 8 + header_len + static_cast<uint64_t>(step["data_offsets"][0]), 8);
      EXPECT_EQ(v, 3);
      const Json& mu = header[prefix + "mu_product"];
      EXPECT_EQ(mu["dtype"], "F64");
      double m = 0;
      std::memcpy(&m, bytes.data() + 8 + header_len + static_cast<uint64_t>(mu["data_offsets"][0]), 8);
      EXPECT_EQ(m, s.mu_product);
      tensors += 2;
    }
  }
  EXPECT_EQ(header.size(), tensors + 1);
  EXPECT_TRUE(opt->state(0, 1).has("master_param"));
  // The independent writer, given the same metadata and tensors in the same order, writes the same bytes:
  // the document describes the checksum and the padding completely.
  EXPECT_TRUE(Compose(Decompose(bytes)) == bytes);
}

TEST(CheckpointLayout, SavingIsDeterministic) {
  Model a = Model::Small(), b = Model::Small();
  auto x = MakeOptimizer("rmsprop", a, FullStateOptions("rmsprop"));
  auto y = MakeOptimizer("rmsprop", b, FullStateOptions("rmsprop"));
  for (int step = 1; step <= 2; ++step) {
    a.SetGrads(step);
    b.SetGrads(step);
    x->Step();
    y->Step();
  }
  EXPECT_TRUE(SerializeState(*x) == SerializeState(*y));
}

// ---------------------------------------------------------------------------------------------------------
// What the loader refuses

class Refusals : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = MakeOptimizer("adam", source_model_, {{"amsgrad", "true"}});
    source_->set_precision({.master_weights = true});
    for (int step = 1; step <= 2; ++step) {
      source_model_.SetGrads(step);
      source_->Step();
    }
    good_ = SerializeState(*source_);
    target_ = MakeOptimizer("adam", target_model_, {{"lr", "0.5"}});
    target_model_.SetGrads(9);
    target_->Step();
    before_ = SerializeState(*target_);
  }

  // The message of loading `bytes` into the target, which must be left as it was.
  std::string Refused(const std::string& bytes) {
    const std::string msg = CheckpointErrorOf([&] { DeserializeState(*target_, bytes); });
    EXPECT_TRUE(SerializeState(*target_) == before_) << "a failed load changed the optimizer: " << msg;
    return msg;
  }
  std::string Refused(const File& f) { return Refused(Compose(f)); }
  File Good() const { return Decompose(good_); }

  Model source_model_ = Model::Small();
  Model target_model_ = Model::Small();
  std::unique_ptr<Optimizer> source_, target_;
  std::string good_, before_;
};

TEST_F(Refusals, TheGoodFileLoads) {
  DeserializeState(*target_, good_);
  EXPECT_TRUE(SerializeState(*target_) == good_);
  EXPECT_TRUE(Compose(Good()) == good_);
}

TEST_F(Refusals, Truncated) {
  EXPECT_EQ(Refused(""), "checkpoint: truncated: 0 bytes, less than the 8-byte header length");
  EXPECT_EQ(Refused(good_.substr(0, 5)), "checkpoint: truncated: 5 bytes, less than the 8-byte header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, good_.data(), 8);
  EXPECT_EQ(Refused(good_.substr(0, 100)), "checkpoint: truncated: the header length " + std::to_string(header_len) +
                                               " runs past the end of the file (100 bytes)");
  EXPECT_PRED2(Contains, Refused(good_.substr(0, good_.size() - 1)), "checkpoint: truncated: tensor '");
  for (size_t n = 0; n < good_.size(); ++n) {
    ASSERT_NE(Refused(good_.substr(0, n)), "<no error>") << n;
  }
}

// nlohmann's parser stops at a NUL as at the end of its input: a space of the padding turned into one
// (a single flipped bit) must not pass for the end of the header.
TEST_F(Refusals, ANulInTheHeaderPadding) {
  uint64_t header_len = 0;
  std::memcpy(&header_len, good_.data(), 8);
  std::string header = good_.substr(8, header_len);
  while (!header.empty() && header.back() == ' ') header.pop_back();
  const size_t at = header.size();
  EXPECT_EQ(Refused(RawFile(header + std::string(1, '\0'), good_.substr(8 + header_len))),
            "checkpoint: header holds a NUL byte at " + std::to_string(at) + ": a corrupted file");
}

TEST_F(Refusals, EveryFlippedBit) {
  // A single flipped bit anywhere is refused: by the checksum, or before it by the layout checks (a bit of
  // the padding turns a space into something that is not JSON whitespace).
  for (size_t i = 0; i < good_.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      if (i >= 64 && bit != static_cast<int>(i % 8)) continue;  // all bits of the start, one per byte after
      std::string bad = good_;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      ASSERT_NE(Refused(bad), "<no error>") << "byte " << i << " bit " << bit;
    }
  }
  std::string bad = good_;
  bad.back() = static_cast<char>(bad.back() ^ 1);
  EXPECT_PRED2(Contains, Refused(bad), "checkpoint: checksum mismatch: the file says crc32:");
  EXPECT_PRED2(Contains, Refused(bad), ": the file is corrupted");
}

TEST_F(Refusals, HeaderLength) {
  std::string bad = good_;
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(bad.data(), &huge, 8);
  EXPECT_EQ(Refused(bad), "checkpoint: header length 1099511627776 is absurd (the limit is 104857600 bytes): not a "
                          "checkpoint, or a corrupted one");
  const uint64_t all_ones = ~uint64_t{0};
  std::memcpy(bad.data(), &all_ones, 8);
  EXPECT_PRED2(Contains, Refused(bad), "is absurd");
  uint64_t header_len = 0;
  std::memcpy(&header_len, good_.data(), 8);
  bad = good_;
  const uint64_t odd = header_len - 3;
  std::memcpy(bad.data(), &odd, 8);
  EXPECT_EQ(Refused(bad), "checkpoint: header length " + std::to_string(odd) +
                              " leaves the data section misaligned (8 + " + std::to_string(odd) +
                              " is not a multiple of 8)");
}

TEST_F(Refusals, BadJson) {
  EXPECT_PRED2(Contains, Refused(RawFile("{not json")), "checkpoint: header is not valid JSON: ");
  EXPECT_PRED2(Contains, Refused(RawFile("{\"a\": 1} trailing")), "checkpoint: header is not valid JSON: ");
  EXPECT_PRED2(Contains, Refused(RawFile("{\"a\": 1 /* comment */}")), "header is not valid JSON");
  EXPECT_EQ(Refused(RawFile("[]")), "checkpoint: header is not a JSON object");
  EXPECT_EQ(Refused(RawFile("{\"a\":[[[1]]]}")), "checkpoint: header is not a checkpoint's: its JSON nests deeper than 3 levels");
  EXPECT_EQ(Refused(RawFile(std::string(100000, '[') + std::string(100000, ']'))),
            "checkpoint: header is not a checkpoint's: its JSON nests deeper than 3 levels");
  EXPECT_EQ(Refused(RawFile("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}")),
            "checkpoint: header has the key 'a' twice in one object");
  EXPECT_EQ(Refused(RawFile("{\"__metadata__\":[]}")), "checkpoint: __metadata__ is not a JSON object");
  EXPECT_EQ(Refused(RawFile("{\"__metadata__\":{\"format\":1}}")),
            "checkpoint: __metadata__ value of 'format' is not a string");
}

TEST_F(Refusals, ForeignFiles) {
  EXPECT_EQ(Refused(RawFile("{}")), "checkpoint: not an adamant optimizer checkpoint: no __metadata__ 'format'");
  // A model's weights in safetensors: a valid layout, not a checkpoint.
  File weights;
  weights.metadata = {{"format", "pt"}};
  weights.tensors.push_back({"weight", "F32", {2}, std::string(8, '\0')});
  EXPECT_EQ(Refused(weights), "checkpoint: not an adamant optimizer checkpoint: format 'pt', expected "
                              "'adamant.optimizer_state'");
  File f = Good();
  f.metadata["format_version"] = "2";
  EXPECT_EQ(Refused(f), "checkpoint: format version 2 is newer than the one this adamant reads (1)");
  f.metadata["format_version"] = "01";
  EXPECT_EQ(Refused(f), "checkpoint: no valid __metadata__ 'format_version'");
  f = Good();
  EXPECT_EQ(Refused(Compose(f, /*with_checksum=*/false)), "checkpoint: no __metadata__ 'checksum'");
  std::string bad = good_;
  const size_t at = bad.find("crc32:");
  bad[at + 6] = 'X';
  EXPECT_EQ(Refused(bad).substr(0, 20), "checkpoint: checksum");
}

TEST_F(Refusals, Offsets) {
  // Out of range, overlapping, a hole, trailing bytes, misaligned, a shape that does not match its bytes.
  File f = Good();
  std::string bytes = Compose(f);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  Json header = Json::parse(bytes.substr(8, header_len));
  const std::string data = bytes.substr(8 + header_len);
  const auto rebuilt = [&](const Json& h, const std::string& d) {
    Json copy = h;
    copy["__metadata__"].erase("checksum");
    char hex[16];
    std::snprintf(hex, sizeof(hex), "%08x", core::Crc32(d, core::Crc32(copy.dump())));
    copy["__metadata__"]["checksum"] = std::string("crc32:") + hex;
    return RawFile(copy.dump(), d);
  };
  const std::string first = f.tensors[0].name;   // 8-byte tensors come first
  const std::string second = f.tensors[1].name;
  Json h = header;
  h[second]["data_offsets"] = h[first]["data_offsets"];
  EXPECT_PRED2(Contains, Refused(rebuilt(h, data)), "(it overlaps the tensor before it)");
  h = header;
  h[first]["data_offsets"] = {data.size() - 4, data.size() + 4};
  EXPECT_EQ(Refused(rebuilt(h, data)), "checkpoint: truncated: tensor '" + first + "': data_offsets '[" +
                                          std::to_string(data.size() - 4) + "," + std::to_string(data.size() + 4) +
                                          "]' run past the end of the " + std::to_string(data.size()) +
                                          "-byte data section");
  h = header;
  h[first]["data_offsets"] = {8, 0};
  EXPECT_EQ(Refused(rebuilt(h, data)),
            "checkpoint: tensor '" + first + "': data_offsets '[8,0]' are not [begin, end] with begin <= end");
  h = header;
  h[first]["data_offsets"] = {-8, 0};
  EXPECT_PRED2(Contains, Refused(rebuilt(h, data)), "are not [begin, end] with begin <= end");
  h = header;
  h[first]["data_offsets"] = {0, "8"};
  EXPECT_PRED2(Contains, Refused(rebuilt(h, data)), "are not [begin, end] with begin <= end");
  EXPECT_EQ(Refused(rebuilt(header, data + std::string(8, '\0'))),
            "checkpoint: the data section has 8 bytes after the last tensor");
  h = header;
  h.erase(first);
  EXPECT_PRED2(Contains, Refused(rebuilt(h, data)), "expected 0 (a hole)");

  File m;  // a 4-byte tensor first puts the 8-byte one after it at offset 4
  m.metadata = f.metadata;
  m.tensors.push_back({"state.0.0.exp_avg_x", "F32", {1}, std::string(4, '\0')});
  m.tensors.push_back({"state.0.0.step", "I64", {}, Bytes<int64_t>(1)});
  EXPECT_EQ(Refused(m), "checkpoint: tensor 'state.0.0.step': data_offsets '[4,12]' are misaligned: I64 data must "
                        "start at a multiple of 8 bytes");
  f = Good();
  Find(f, "state.0.0.exp_avg")->shape = {5};
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.0.0.exp_avg': data_offsets '[" +
                            std::to_string(header["state.0.0.exp_avg"]["data_offsets"][0].get<uint64_t>()) + "," +
                            std::to_string(header["state.0.0.exp_avg"]["data_offsets"][1].get<uint64_t>()) +
                            "]' span 24 bytes, but its shape '[5]' of F32 needs 20");
  f = Good();
  Find(f, "state.0.0.exp_avg")->shape = {uint64_t{1} << 62, 4};
  EXPECT_PRED2(Contains, Refused(f), "has more elements than the");
  f = Good();
  Find(f, "state.0.0.exp_avg")->shape = {1, 1, 1, 1, 1, 1, 1, 1, 6};
  EXPECT_PRED2(Contains, Refused(f), "is not a list of at most 8 sizes");
}

TEST_F(Refusals, TensorEntries) {
  File f = Good();
  Find(f, "state.0.0.exp_avg")->dtype = "F16";
  EXPECT_PRED2(Contains, Refused(f), "dtype 'F16' is not one a checkpoint holds (F64, F32, I64, BF16, U8)");
  // BF16 is held (bfloat16 state), but not where the options ask for float32.
  f = Good();
  Find(f, "state.0.0.exp_avg")->dtype = "BF16";
  EXPECT_PRED2(Contains, Refused(f), "of BF16 needs");
  std::string text = good_;
  const size_t at = text.find("\"shape\"");
  text.replace(at, 7, "\"shapf\"");
  EXPECT_PRED2(Contains, Refused(text), "no 'shape'");
  EXPECT_PRED2(Contains, Refused(RawFile("{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"extra\":1}}",
                                          std::string(4, '\0'))),
               "tensor 'x': unknown key 'extra' (an entry has dtype, shape, data_offsets)");
  EXPECT_PRED2(Contains, Refused(RawFile("{\"x\":[]}")), "tensor 'x': its entry is not a JSON object");
  EXPECT_PRED2(Contains, Refused(RawFile("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}")),
               "bad size '1.5' in its shape");
  EXPECT_PRED2(Contains, Refused(RawFile("{\"\\u0001\\n\":{}}")), "tensor '\\x01\\x0a': no 'dtype'");
}

TEST_F(Refusals, WrongOptimizer) {
  Model model = Model::Small();
  auto sgd = MakeOptimizer("sgd", model);
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*sgd, good_); }),
            "checkpoint: the checkpoint is of a 'adam' optimizer, not 'sgd'");
  auto adamw = MakeOptimizer("adamw", model);
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*adamw, good_); }),
            "checkpoint: the checkpoint is of a 'adam' optimizer, not 'adamw'");

  Model one_group({{{DType::kFloat32, 6}, {DType::kBFloat16, 5}}});
  auto adam1 = MakeOptimizer("adam", one_group);
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*adam1, good_); }),
            "checkpoint: the checkpoint has 2 param groups, the optimizer 1");
  Model more({{{DType::kFloat32, 6}, {DType::kBFloat16, 5}, {DType::kFloat32, 1}},
              {{DType::kFloat64, 3}, {DType::kFloat16, 4}, {DType::kFloat32, 2, false}}});
  auto adam3 = MakeOptimizer("adam", more);
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*adam3, good_); }),
            "checkpoint: param group 0 has 2 parameters in the checkpoint, 3 in the optimizer");
  Model sizes({{{DType::kFloat32, 7}, {DType::kBFloat16, 5}},
               {{DType::kFloat64, 3}, {DType::kFloat16, 4}, {DType::kFloat32, 2, false}}});
  auto adam7 = MakeOptimizer("adam", sizes);
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*adam7, good_); }),
            "checkpoint: parameter 0 of param group 0 is 'float32' with 6 elements in the checkpoint, but float32 "
            "with 7 in the optimizer");
  Model dtypes({{{DType::kFloat32, 6}, {DType::kFloat16, 5}},
                {{DType::kFloat64, 3}, {DType::kFloat16, 4}, {DType::kFloat32, 2, false}}});
  auto adam16 = MakeOptimizer("adam", dtypes);
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*adam16, good_); }),
            "checkpoint: parameter 1 of param group 0 is 'bfloat16' with 5 elements in the checkpoint, but float16 "
            "with 5 in the optimizer");
}

TEST_F(Refusals, Metadata) {
  File f = Good();
  f.metadata.erase("group.1.option.eps");
  EXPECT_EQ(Refused(f), "checkpoint: no __metadata__ 'group.1.option.eps'");
  f = Good();
  f.metadata["group.0.option.momentum"] = "0.9";
  EXPECT_EQ(Refused(f), "checkpoint: unknown __metadata__ key 'group.0.option.momentum'");
  f = Good();
  f.metadata["group.1.option.lr"] = "-1";  // group 0 is fine: nothing may change
  EXPECT_EQ(Refused(f), "checkpoint: param group 1: Invalid learning rate: -1.0");
  f.metadata["group.1.option.lr"] = "fast";
  EXPECT_EQ(Refused(f), "checkpoint: param group 1: invalid value for option 'lr': 'fast' (expected a number)");
  f = Good();
  f.metadata["group.0.option.betas"] = "0.9,1.0";
  EXPECT_EQ(Refused(f), "checkpoint: param group 0: Invalid beta parameter at index 1: 1.0");
  f = Good();
  f.metadata["param_groups"] = "-2";
  EXPECT_EQ(Refused(f), "checkpoint: __metadata__ 'param_groups' is '-2', not a count");
  f = Good();
  f.metadata["steps_taken"] = "18446744073709551616";
  EXPECT_EQ(Refused(f), "checkpoint: __metadata__ 'steps_taken' is '18446744073709551616', not a count");
  f = Good();
  f.metadata["precision.rounding"] = "up";
  EXPECT_EQ(Refused(f), "checkpoint: __metadata__ 'precision.rounding' is 'up', not nearest_even or stochastic");
  f = Good();
  f.metadata["precision.master_weights"] = "1";
  EXPECT_EQ(Refused(f), "checkpoint: __metadata__ 'precision.master_weights' is '1', not true or false");
  f = Good();
  f.metadata.erase("algorithm");
  EXPECT_EQ(Refused(f), "checkpoint: no __metadata__ 'algorithm'");
}

TEST_F(Refusals, StateTensors) {
  File f = Good();
  Find(f, "state.0.0.exp_avg")->name = "state.0.0.velocity";
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.0.0.velocity': 'velocity' is not state of adam (its state: "
                        "exp_avg, exp_avg_sq, max_exp_avg_sq, master_param, step)");
  f = Good();
  Find(f, "state.0.1.master_param")->name = "state.0.0.master_param";
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.0.0.master_param': master_param is state of bfloat16 and "
                        "float16 parameters only, not float32");
  f = Good();
  f.tensors.erase(std::find_if(f.tensors.begin(), f.tensors.end(), [](const Tensor& t) { return t.name == "state.1.0.step"; }));
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.1.0.step' is missing");
  f = Good();
  Find(f, "state.0.0.step")->bytes = Bytes<int64_t>(-1);
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.0.0.step': negative step -1");
  f = Good();
  Find(f, "state.0.0.step")->dtype = "F64";
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.0.0.step': is F64 of shape [], expected I64 of shape []");
  f = Good();
  Find(f, "state.1.0.exp_avg")->dtype = "I64";  // float64 parameter: 3 x 8 bytes either way
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.1.0.exp_avg': is I64 of shape [3], expected F64 of shape [3]");
  f = Good();
  Tensor* t = Find(f, "state.0.0.exp_avg");
  t->shape = {2, 3};
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.0.0.exp_avg': is F32 of shape [2,3], expected F32 of shape [6]");
  f = Good();
  f.tensors.push_back({"state.1.2.exp_avg", "F32", {2}, std::string(8, '\0')});  // shape fits; no step
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.1.2.step' is missing");
  for (const char* name : {"state.00.0.exp_avg", "state.0.exp_avg", "state.0.0.", "opt.0.0.exp_avg", "state.-1.0.x",
                           "state.0.+1.x"}) {
    f = Good();
    f.tensors.push_back({name, "F32", {}, std::string(4, '\0')});
    EXPECT_EQ(Refused(f), std::string("checkpoint: tensor '") + name +
                              "': not of the form state.<group>.<index>.<name>");
  }
  f = Good();
  f.tensors.push_back({"state.5.0.exp_avg", "F32", {}, std::string(4, '\0')});
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.5.0.exp_avg': param group 5 does not exist (there are 2)");
  f = Good();
  f.tensors.push_back({"state.0.9.exp_avg", "F32", {}, std::string(4, '\0')});
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.0.9.exp_avg': param group 0 has no parameter 9 (it has 2)");
  f = Good();
  f.tensors.push_back({"state.0.0.mu_product", "F64", {}, Bytes<double>(1.0)});
  std::rotate(f.tensors.begin(), f.tensors.end() - 1, f.tensors.end());  // 8-byte tensors first
  EXPECT_EQ(Refused(f), "checkpoint: tensor 'state.0.0.mu_product': adam keeps no mu_product");
}

TEST(CheckpointRefusals, AlgorithmSpecificState) {
  Model model = Model::Small();
  auto nadam = MakeOptimizer("nadam", model);
  model.SetGrads(1);
  nadam->Step();
  const std::string good = SerializeState(*nadam);
  const std::string before = good;
  File f = Decompose(good);
  Find(f, "state.0.0.mu_product")->bytes = Bytes<double>(1.5);
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*nadam, Compose(f)); }),
            "checkpoint: tensor 'state.0.0.mu_product': mu_product 1.5 is not in [0, 1]");
  Find(f, "state.0.0.mu_product")->bytes = Bytes<double>(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*nadam, Compose(f)); }),
            "checkpoint: tensor 'state.0.0.mu_product': mu_product nan is not in [0, 1]");
  f = Decompose(good);
  f.tensors.erase(std::find_if(f.tensors.begin(), f.tensors.end(),
                               [](const Tensor& t) { return t.name == "state.0.1.mu_product"; }));
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*nadam, Compose(f)); }),
            "checkpoint: tensor 'state.0.1.mu_product' is missing");
  EXPECT_TRUE(SerializeState(*nadam) == before);

  Model sgd_model = Model::Small();
  auto sgd = MakeOptimizer("sgd", sgd_model, {{"momentum", "0.9"}});
  sgd_model.SetGrads(1);
  sgd->Step();
  f = Decompose(SerializeState(*sgd));
  f.tensors.insert(f.tensors.begin(), Tensor{"state.0.0.step", "I64", {}, Bytes<int64_t>(1)});
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*sgd, Compose(f)); }),
            "checkpoint: tensor 'state.0.0.step': sgd keeps no step");
  f = Decompose(SerializeState(*sgd));
  f.metadata["group.0.option.nesterov"] = "true";
  f.metadata["group.0.option.momentum"] = "0.0";
  EXPECT_EQ(CheckpointErrorOf([&] { DeserializeState(*sgd, Compose(f)); }),
            "checkpoint: param group 0: Nesterov momentum requires a momentum and zero dampening");
  // Options that constrain each other are set together: nesterov with momentum from a file of a
  // momentum-0 optimizer loads.
  Model plain_model = Model::Small();
  auto plain = MakeOptimizer("sgd", plain_model);
  f.metadata["group.0.option.momentum"] = "0.5";
  f.metadata["group.1.option.momentum"] = "0.5";
  f.metadata["group.1.option.nesterov"] = "true";
  DeserializeState(*plain, Compose(f));
  EXPECT_EQ(plain->GetOption(0, "nesterov"), "true");
  EXPECT_EQ(plain->GetOption(1, "momentum"), "0.5");
}

TEST(CheckpointSave, RefusesStateItCouldNotLoad) {
  Model model = Model::Small();
  auto opt = MakeOptimizer("adam", model);
  model.SetGrads(1);
  opt->Step();
  opt->state(0, 0).buffers.at("exp_avg") = Buffer(DType::kFloat32, 7);
  EXPECT_EQ(CheckpointErrorOf([&] { SerializeState(*opt); }),
            "checkpoint: cannot save param group 0, parameter 0: state 'exp_avg' has 7 elements of float32 but the "
            "float32 parameter needs 6 of float32");
  opt->state(0, 0).buffers.erase("exp_avg");
  opt->state(0, 0).buffers.emplace("velocity", Buffer(DType::kFloat32, 6));
  EXPECT_PRED2(Contains, CheckpointErrorOf([&] { SerializeState(*opt); }),
               "cannot save param group 0, parameter 0: 'velocity' is not state of adam");
  TempDir dir;
  const std::string path = dir.file("opt.safetensors");
  EXPECT_PRED2(Contains, CheckpointErrorOf([&] { SaveCheckpoint(*opt, path); }),
               "checkpoint '" + path + "': cannot save param group 0, parameter 0:");
  EXPECT_TRUE(dir.entries().empty());  // no file, not even a temporary one
  opt->state(0, 0).buffers.erase("velocity");
  opt->state(1, 0).mu_product = 0.5;
  EXPECT_EQ(CheckpointErrorOf([&] { SerializeState(*opt); }),
            "checkpoint: cannot save param group 1, parameter 0: only nadam keeps a mu_product");
}

// ---------------------------------------------------------------------------------------------------------
// Files: atomic saves

TEST(CheckpointFile, SaveReplacesAndLeavesNothingElse) {
  TempDir dir;
  const std::string path = dir.file("opt.safetensors");
  Model model = Model::Small();
  auto opt = MakeOptimizer("adamax", model);
  SaveCheckpoint(*opt, path);
  model.SetGrads(1);
  opt->Step();
  SaveCheckpoint(*opt, path);  // over the old one
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"opt.safetensors"});
  EXPECT_TRUE(ReadFile(path) == SerializeState(*opt));
  auto other = MakeOptimizer("adamax", model);
  LoadCheckpoint(*other, path);
  EXPECT_TRUE(SerializeState(*other) == SerializeState(*opt));
}

TEST(CheckpointFile, FileErrorsNameThePath) {
  TempDir dir;
  Model model = Model::Small();
  auto opt = MakeOptimizer("adam", model);
  const std::string missing = dir.file("missing.safetensors");
  EXPECT_EQ(CheckpointErrorOf([&] { LoadCheckpoint(*opt, missing); }),
            "checkpoint '" + missing + "': cannot open " + missing + ": No such file or directory");
  const std::string d = dir.file("");
  EXPECT_EQ(CheckpointErrorOf([&] { LoadCheckpoint(*opt, d); }), "checkpoint '" + d + "': not a regular file");
  const std::string nowhere = dir.file("no/such/dir/opt.safetensors");
  EXPECT_PRED2(Contains, CheckpointErrorOf([&] { SaveCheckpoint(*opt, nowhere); }),
               "checkpoint '" + nowhere + "': cannot create " + nowhere + ".tmp.");
  const std::string damaged = dir.file("damaged.safetensors");
  WriteFile(damaged, "garbage");
  EXPECT_EQ(CheckpointErrorOf([&] { LoadCheckpoint(*opt, damaged); }),
            "checkpoint '" + damaged + "': truncated: 7 bytes, less than the 8-byte header length");
}

// A model whose checkpoint is several write chunks long.
Model Large() { return Model({{{DType::kFloat32, 200000}}, {{DType::kFloat32, 150000}}}); }

class InterruptedSave : public ::testing::Test {
 protected:
  void SetUp() override {
    opt_ = MakeOptimizer("adam", model_);
    model_.SetGrads(1);
    opt_->Step();
    SaveCheckpoint(*opt_, path_);
    old_ = ReadFile(path_);
    model_.SetGrads(2);
    opt_->Step();
    ASSERT_GT(SerializeState(*opt_).size(), 2 * checkpoint_internal::kWriteChunkBytes);
  }
  void TearDown() override { checkpoint_internal::SetWriteHook(nullptr); }

  // The old checkpoint is intact and loads.
  void ExpectOldCheckpoint() {
    EXPECT_TRUE(ReadFile(path_) == old_);
    Model model = Large();
    auto opt = MakeOptimizer("adam", model);
    LoadCheckpoint(*opt, path_);
    EXPECT_EQ(opt->state(0, 0).step, 1);
  }

  TempDir dir_;
  std::string path_ = dir_.file("opt.safetensors");
  Model model_ = Large();
  std::unique_ptr<Optimizer> opt_;
  std::string old_;
};

TEST_F(InterruptedSave, AFailedWriteKeepsTheOldCheckpoint) {
  checkpoint_internal::SetWriteHook([](size_t written) {
    if (written >= checkpoint_internal::kWriteChunkBytes) throw std::runtime_error("disk full (simulated)");
  });
  try {
    SaveCheckpoint(*opt_, path_);
    ADD_FAILURE() << "no error";
  } catch (const CheckpointError& e) {  // one error type, naming the file
    EXPECT_EQ(e.what(), "checkpoint '" + path_ + "': disk full (simulated)");
  }
  ExpectOldCheckpoint();
  EXPECT_EQ(dir_.entries(), std::vector<std::string>{"opt.safetensors"});  // the partial file was removed
}

TEST_F(InterruptedSave, AProcessKilledMidWriteKeepsTheOldCheckpoint) {
  // A child process writes a megabyte of the new checkpoint and is killed: no destructor, no cleanup.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    checkpoint_internal::SetWriteHook([](size_t written) {
      if (written >= checkpoint_internal::kWriteChunkBytes) ::raise(SIGKILL);
    });
    SaveCheckpoint(*opt_, path_);
    ::_exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  ExpectOldCheckpoint();
  // What the crash leaves: the old checkpoint and a partial temporary file beside it, which nothing reads.
  const std::vector<std::string> entries = dir_.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0], "opt.safetensors");
  EXPECT_TRUE(entries[1].starts_with("opt.safetensors.tmp.")) << entries[1];
  const std::string partial = ReadFile(dir_.file(entries[1]));
  EXPECT_GE(partial.size(), checkpoint_internal::kWriteChunkBytes);
  EXPECT_LT(partial.size(), SerializeState(*opt_).size());
  Model model = Large();
  auto opt = MakeOptimizer("adam", model);
  EXPECT_PRED2(Contains, CheckpointErrorOf([&] { LoadCheckpoint(*opt, dir_.file(entries[1])); }), "truncated");
  // The next save removes the leftover of the dead process and succeeds.
  SaveCheckpoint(*opt_, path_);
  EXPECT_TRUE(ReadFile(path_) == SerializeState(*opt_));
  EXPECT_EQ(dir_.entries(), std::vector<std::string>{"opt.safetensors"});
}

TEST(CheckpointFile, OnlyARegularFileIsReplaced) {
  TempDir dir;
  Model model = Model::Small();
  auto opt = MakeOptimizer("adam", model);
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(CheckpointErrorOf([&] { SaveCheckpoint(*opt, fifo); }),
            "checkpoint '" + fifo + "': cannot replace " + fifo + ": it is a FIFO (only a regular file is replaced)");
  EXPECT_EQ(CheckpointErrorOf([&] { SaveCheckpoint(*opt, "/dev/null"); }),
            "checkpoint '/dev/null': cannot replace /dev/null: it is a character device (only a regular file is "
            "replaced)");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"fifo"});
  // A symlink is followed: the file it names is replaced, the link stays.
  const std::string target = dir.file("target.safetensors");
  const std::string link = dir.file("link.safetensors");
  ::symlink(target.c_str(), link.c_str());
  SaveCheckpoint(*opt, link);
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_TRUE(ReadFile(target) == SerializeState(*opt));
}

}  // namespace
}  // namespace adamant
