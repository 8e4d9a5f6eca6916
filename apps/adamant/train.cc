#include "train.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "adamant/atomic_file.h"
#include "adamant/nonfinite.h"
#include "adamant/schedule.h"
#include "adamant/torch/optim.h"
#include "adamant/threads.h"
#include "files.h"
#include "models.h"
#include "optimizers.h"
#include "progress.h"
#include "sealed_file.h"

namespace adamant::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kConfigFile = "config.json";
constexpr const char* kMetricsFile = "metrics.csv";
constexpr const char* kCheckpointFile = "checkpoint.pt";
constexpr const char* kSummaryFile = "summary.json";
constexpr const char* kPlotFile = "curves.png";
constexpr const char* kMetricsHeader = "epoch,step,train_loss,val_loss,val_accuracy,lr,seconds\n";
constexpr int64_t kEvalBatch = 1000;
// The files of a run: an earlier run in a directory is not replaced unless asked (--overwrite).
constexpr const char* kRunFiles[] = {kConfigFile, kMetricsFile, kCheckpointFile, kSummaryFile, kPlotFile};
// The first line of a message (libtorch's errors carry TorchScript context and backtraces below it).
std::string FirstLine(std::string_view text) {
  const size_t begin = std::min(text.find_first_not_of("\n \t"), text.size());
  text.remove_prefix(begin);
  return std::string(text.substr(0, text.find('\n')));
}

// Set by SIGINT or SIGTERM during training: the run stops after the step in progress, with a checkpoint.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void OnStopSignal(int signal) {
  g_stop_signal = signal;
  std::signal(signal, SIG_DFL);  // a second one stops the process at once
}

// Catches SIGINT and SIGTERM while it lives.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    old_int_ = std::signal(SIGINT, OnStopSignal);
    old_term_ = std::signal(SIGTERM, OnStopSignal);
  }
  ~StopSignals() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

// splitmix64: the shuffles are ours, not the standard library's, so a seed means the same order everywhere.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<int64_t> Permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    state = Mix(state);
    std::swap(p[i], p[state % static_cast<uint64_t>(i + 1)]);
  }
  return p;
}

// A split as tensors: standardized float inputs ([n, 784], or [n, 1, 28, 28] for images) and int64 labels.
struct Tensors {
  torch::Tensor x;
  torch::Tensor y;
  int64_t size() const { return y.size(0); }
};

Tensors Select(const Split& split, const std::vector<int64_t>& rows, double mean, double std, bool images) {
  const auto n = static_cast<int64_t>(rows.size());
  torch::Tensor x = torch::empty({n, kImagePixels}, torch::kFloat32);
  torch::Tensor y = torch::empty({n}, torch::kInt64);
  float* xp = x.data_ptr<float>();
  int64_t* yp = y.data_ptr<int64_t>();
  const float scale = static_cast<float>(1.0 / (255.0 * std));
  const float shift = static_cast<float>(mean / std);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* src = split.images.data() + rows[i] * kImagePixels;
    for (int j = 0; j < kImagePixels; ++j) xp[i * kImagePixels + j] = static_cast<float>(src[j]) * scale - shift;
    yp[i] = split.labels[static_cast<size_t>(rows[i])];
  }
  if (images) x = x.view({n, 1, kImageSide, kImageSide});
  return {x, y};
}

struct Data {
  Tensors train, val, test;
};

// The validation split is a seeded sample of the training files; inputs are standardized with the mean
// and standard deviation of the training examples' pixels.
Data LoadData(const TrainOptions& o) {
  const FashionMnist raw = LoadFashionMnist(o.data_dir);
  const std::vector<int64_t> order = Permutation(raw.train.count(), Mix(o.seed ^ 0x5eed5a17ull));
  if (o.val_size >= raw.train.count()) {
    throw std::invalid_argument("--val-size " + std::to_string(o.val_size) + " leaves no training examples (the " +
                                "training files hold " + std::to_string(raw.train.count()) + ")");
  }
  const int64_t val_size = o.val_size;
  std::vector<int64_t> val_rows(order.begin(), order.begin() + val_size);
  std::vector<int64_t> train_rows(order.begin() + val_size, order.end());
  if (o.limit_train > 0 && o.limit_train < static_cast<int64_t>(train_rows.size())) train_rows.resize(o.limit_train);
  std::sort(train_rows.begin(), train_rows.end());  // the epoch shuffles decide the order
  std::vector<int64_t> test_rows(static_cast<size_t>(raw.test.count()));
  for (int64_t i = 0; i < raw.test.count(); ++i) test_rows[i] = i;
  if (o.limit_test > 0 && o.limit_test < raw.test.count()) test_rows.resize(o.limit_test);

  double sum = 0, sum_sq = 0;
  for (int64_t r : train_rows) {
    for (int j = 0; j < kImagePixels; ++j) {
      const double v = raw.train.images[r * kImagePixels + j] / 255.0;
      sum += v, sum_sq += v * v;
    }
  }
  const double count = static_cast<double>(train_rows.size()) * kImagePixels;
  const double mean = sum / count;
  const double std = std::sqrt(std::max(sum_sq / count - mean * mean, 1e-12));
  const bool images = TakesImages(o.model);
  return {Select(raw.train, train_rows, mean, std, images), Select(raw.train, val_rows, mean, std, images),
          Select(raw.test, test_rows, mean, std, images)};
}

// The last data set loaded, kept for the next run with the same data settings (compare trains many).
const Data& CachedData(const TrainOptions& o) {
  static std::string key;
  static std::unique_ptr<Data> data;
  const std::string wanted = o.data_dir + "|" + std::to_string(o.seed) + "|" + std::to_string(o.limit_train) + "|" +
                             std::to_string(o.val_size) + "|" + std::to_string(o.limit_test) + "|" +
                             (TakesImages(o.model) ? "images" : "vectors");
  if (data == nullptr || key != wanted) {
    data = std::make_unique<Data>(LoadData(o));
    key = wanted;
  }
  return *data;
}

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

Evaluation Evaluate(torch::nn::Sequential& model, const Tensors& data) {
  torch::NoGradGuard no_grad;
  model->eval();
  double loss = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < data.size(); start += kEvalBatch) {
    const int64_t end = std::min(start + kEvalBatch, data.size());
    const torch::Tensor logits = model->forward(data.x.slice(0, start, end));
    const torch::Tensor y = data.y.slice(0, start, end);
    loss += torch::nn::functional::cross_entropy(
                logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                .item<double>();
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
  }
  model->train();
  const double n = static_cast<double>(std::max<int64_t>(data.size(), 1));
  return {loss / n, static_cast<double>(correct) / n};
}

std::string WeightsChecksum(torch::nn::Sequential& model) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (const auto& p : model->parameters()) {
    const torch::Tensor c = p.detach().contiguous();
    const auto* bytes = static_cast<const uint8_t*>(c.data_ptr());
    for (size_t i = 0; i < c.nbytes(); ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  }
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(h));
  return text;
}

std::string MetricsRow(const EpochMetrics& m) {
  char row[256];
  std::snprintf(row, sizeof(row), "%lld,%lld,%.9g,%.9g,%.6f,%.9g,%.3f\n", static_cast<long long>(m.epoch),
                static_cast<long long>(m.step), m.train_loss, m.val_loss, m.val_accuracy, m.lr, m.seconds);
  return row;
}

// Everything a run needs to continue exactly where a checkpoint left it.
struct Position {
  int64_t epoch = 1;        // 1-based epoch in progress
  int64_t batch = 0;        // next mini-batch of that epoch
  int64_t step = 0;         // optimizer steps taken
  int64_t skipped_steps = 0;  // skipped for a non-finite gradient
  double loss_sum = 0;      // this epoch's training loss so far (sum over examples)
  int64_t loss_count = 0;   // and its number of examples
  double seconds = 0;       // training time before this process
  double step_seconds = 0;  // time in optimizer.step() before this process
  std::string metrics_csv = kMetricsHeader;
  std::vector<float> step_losses;
  std::vector<EpochMetrics> epochs;
};

torch::Tensor EpochsTensor(const std::vector<EpochMetrics>& epochs) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(epochs.size()), 7}, torch::kFloat64);
  for (size_t i = 0; i < epochs.size(); ++i) {
    const EpochMetrics& m = epochs[i];
    const double row[7] = {static_cast<double>(m.epoch), static_cast<double>(m.step), m.train_loss, m.val_loss,
                           m.val_accuracy, m.lr, m.seconds};
    for (int j = 0; j < 7; ++j) t[static_cast<int64_t>(i)][j] = row[j];
  }
  return t;
}

std::vector<EpochMetrics> EpochsFromTensor(const torch::Tensor& t) {
  std::vector<EpochMetrics> out;
  for (int64_t i = 0; i < t.size(0); ++i) {
    auto v = [&](int j) { return t[i][j].item<double>(); };
    out.push_back({static_cast<int64_t>(v(0)), static_cast<int64_t>(v(1)), v(2), v(3), v(4), v(5), v(6)});
  }
  return out;
}

void SaveCheckpoint(const fs::path& path, torch::nn::Sequential& model, torch::optim::Optimizer& optimizer,
                    const Position& pos, const std::string& fingerprint) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("trainer/config", c10::IValue(fingerprint));
  archive.write("trainer/epoch", c10::IValue(pos.epoch));
  archive.write("trainer/batch", c10::IValue(pos.batch));
  archive.write("trainer/step", c10::IValue(pos.step));
  archive.write("trainer/skipped_steps", c10::IValue(pos.skipped_steps));
  archive.write("trainer/loss_sum", c10::IValue(pos.loss_sum));
  archive.write("trainer/loss_count", c10::IValue(pos.loss_count));
  archive.write("trainer/seconds", c10::IValue(pos.seconds));
  archive.write("trainer/step_seconds", c10::IValue(pos.step_seconds));
  archive.write("trainer/metrics_csv", c10::IValue(pos.metrics_csv));
  archive.write("trainer/step_losses",
                torch::from_blob(const_cast<float*>(pos.step_losses.data()),
                                 {static_cast<int64_t>(pos.step_losses.size())}, torch::kFloat32)
                    .clone());
  archive.write("trainer/epochs", EpochsTensor(pos.epochs));
  {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("trainer/rng", generator.get_state());
  }
  // In memory first, then sealed and written atomically: a full disk leaves the previous checkpoint.
  std::ostringstream bytes;
  archive.save_to(bytes);
  try {
    adamant::WriteFileAtomically(path.string(), Sealed(bytes.str()));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("cannot save checkpoint " + path.string() + ": " + e.what());
  }
}

template <class T>
T ReadScalar(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue v;
  if (!archive.try_read(key, v)) throw std::runtime_error("the checkpoint has no '" + key + "'");
  if constexpr (std::is_same_v<T, double>) return v.toDouble();
  if constexpr (std::is_same_v<T, int64_t>) return v.toInt();
  if constexpr (std::is_same_v<T, std::string>) return v.toStringRef();
}

Position ReadPosition(const fs::path& path, torch::serialize::InputArchive& archive, torch::nn::Sequential& model,
                      torch::optim::Optimizer& optimizer, const std::string& fingerprint);

// Restores the model, the optimizer and the generator from the bytes of checkpoint.pt, `file`, verified
// (Unsealed) first.
Position LoadCheckpoint(const fs::path& path, const std::string& file, torch::nn::Sequential& model,
                        torch::optim::Optimizer& optimizer, const std::string& fingerprint) {
  std::istringstream bytes{std::string(Unsealed(path.string(), file))};
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes);
    return ReadPosition(path, archive, model, optimizer, fingerprint);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path.string() + " is not a readable checkpoint (" +
                             FirstLine(e.what_without_backtrace()) + ")");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path.string() + ": " + FirstLine(e.what()));
  } catch (const std::exception& e) {  // TorchScript's ErrorReport, for a pickle it cannot read
    throw std::runtime_error(path.string() + " is not a readable checkpoint (" + FirstLine(e.what()) + ")");
  }
}

Position ReadPosition(const fs::path& path, torch::serialize::InputArchive& archive, torch::nn::Sequential& model,
                      torch::optim::Optimizer& optimizer, const std::string& fingerprint) {
  if (ReadScalar<std::string>(archive, "trainer/config") != fingerprint) {
    throw std::runtime_error("it was written by a run with other options than " +
                             (path.parent_path() / kConfigFile).string());
  }
  torch::serialize::InputArchive model_archive;
  archive.read("model", model_archive);
  model->load(model_archive);
  torch::serialize::InputArchive optimizer_archive;
  archive.read("optimizer", optimizer_archive);
  optimizer.load(optimizer_archive);
  Position pos;
  pos.epoch = ReadScalar<int64_t>(archive, "trainer/epoch");
  pos.batch = ReadScalar<int64_t>(archive, "trainer/batch");
  pos.step = ReadScalar<int64_t>(archive, "trainer/step");
  pos.skipped_steps = ReadScalar<int64_t>(archive, "trainer/skipped_steps");
  pos.loss_sum = ReadScalar<double>(archive, "trainer/loss_sum");
  pos.loss_count = ReadScalar<int64_t>(archive, "trainer/loss_count");
  pos.seconds = ReadScalar<double>(archive, "trainer/seconds");
  pos.step_seconds = ReadScalar<double>(archive, "trainer/step_seconds");
  pos.metrics_csv = ReadScalar<std::string>(archive, "trainer/metrics_csv");
  torch::Tensor losses, epochs, rng;
  archive.read("trainer/step_losses", losses);
  archive.read("trainer/epochs", epochs);
  archive.read("trainer/rng", rng);
  pos.step_losses.assign(losses.data_ptr<float>(), losses.data_ptr<float>() + losses.numel());
  pos.epochs = EpochsFromTensor(epochs);
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(rng);
  return pos;
}

// The options a checkpoint must agree with to be resumed: all but those that only say how long or how a
// run goes on (epochs, max_steps, threads, checkpoint_every, progress, plot) and where it is.
std::string Fingerprint(const TrainOptions& o) {
  nlohmann::json j = ToJson(o);
  for (const char* key : {"epochs", "max_steps", "threads", "checkpoint_every", "progress", "plot", "out_dir"}) {
    j.erase(key);
  }
  return j.dump();
}

Schedule MakeSchedule(const TrainOptions& o, int64_t steps_per_epoch) {
  Schedule s;
  s.kind = ParseScheduleKind(o.schedule);
  s.warmup_steps = o.warmup_steps;
  s.gamma = o.gamma;
  s.period = s.kind == ScheduleKind::kStep ? o.step_size * static_cast<double>(steps_per_epoch)
                                           : static_cast<double>(steps_per_epoch);
  s.total_steps = o.epochs * steps_per_epoch;
  s.min_lr = o.min_lr;
  return s;
}

void WriteSummary(const fs::path& dir, const TrainOptions& o, const TrainResult& r, int64_t num_params,
                  bool plotted) {
  nlohmann::json j;
  j["model"] = o.model.name;
  j["optimizer"] = o.optimizer;
  j["impl"] = o.impl;
  j["parameters"] = num_params;
  j["epochs"] = r.epochs.empty() ? 0 : r.epochs.back().epoch;
  j["steps"] = r.steps;
  j["skipped_steps"] = r.skipped_steps;
  j["finished"] = r.finished;
  j["test_loss"] = r.test_loss;
  j["test_accuracy"] = r.test_accuracy;
  j["final_val_accuracy"] = r.epochs.empty() ? 0.0 : r.epochs.back().val_accuracy;
  j["train_seconds"] = r.seconds;
  j["optimizer_step_ms"] = r.optimizer_step_ms;
  if (r.optimizer_state_bytes >= 0) j["optimizer_state_bytes"] = r.optimizer_state_bytes;
  j["weights_checksum"] = r.weights_checksum;
  j["metrics"] = kMetricsFile;
  j["checkpoint"] = kCheckpointFile;
  if (plotted) j["plot"] = kPlotFile;
  WriteFileAtomically(dir / kSummaryFile, j.dump(2) + "\n");
}

// Refuses a directory that holds files of an earlier run: a new run would replace them.
void RefuseEarlierRun(const fs::path& dir) {
  std::string found;
  for (const char* name : kRunFiles) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(dir / name, ec))) found += (found.empty() ? "" : ", ") + std::string(name);
  }
  if (!found.empty()) {
    throw std::invalid_argument(dir.string() + " holds an earlier run (" + found + "); continue it with adamant " +
                                "train --resume " + dir.string() + ", or replace it with --overwrite");
  }
}

void RemoveRunFiles(const fs::path& dir) {
  for (const char* name : kRunFiles) {
    std::error_code ec;
    fs::remove(dir / name, ec);
    if (ec) throw std::runtime_error("cannot remove " + (dir / name).string() + ": " + ec.message());
  }
}

// One run, in phases: the constructor checks everything and writes nothing (options, data, model, optimizer,
// checkpoint); Run writes config.json, trains epoch by epoch, then evaluates, writes and reports.
class Trainer {
 public:
  Trainer(const TrainOptions& o, const fs::path& resume_from)
      : o_(o), dir_(o.out_dir), files_(!o.out_dir.empty()), fresh_(resume_from.empty()) {
    Validate(o_);
    fingerprint_ = Fingerprint(o_);
    if (files_ && fresh_ && !o_.overwrite) RefuseEarlierRun(dir_);
    std::string checkpoint;  // read and verified before the data is loaded: a damaged one fails at once
    if (!fresh_) {
      checkpoint = ReadFile(resume_from);
      Unsealed(resume_from.string(), checkpoint);
    }
    if (o_.threads > 0) {
      torch::set_num_threads(o_.threads);
      adamant::SetNumThreads(o_.threads);
    }
    data_ = &CachedData(o_);
    torch::manual_seed(o_.seed);
    model_ = MakeModel(o_.model);
    params_ = model_->parameters();
    optimizer_ = MakeOptimizer(o_.impl, o_.optimizer, params_, o_.optimizer_options);
    ours_ = dynamic_cast<adamant::optim::TorchOptimizer*>(optimizer_.get());
    if (ours_ != nullptr) ours_->set_nonfinite(ParseNonFinite(o_.nonfinite));
    MakeShadows();
    for (auto& group : optimizer_->param_groups()) base_lrs_.push_back(group.options().get_lr());
    lr_ = base_lrs_.empty() ? 0.0 : base_lrs_[0];
    if (!fresh_) pos_ = LoadCheckpoint(resume_from, checkpoint, model_, *optimizer_, fingerprint_);
    if (o_.max_steps > 0 && pos_.step >= o_.max_steps) {
      throw std::invalid_argument("the run in " + dir_.string() + " has taken " + std::to_string(pos_.step) +
                                  " optimizer steps already; --max-steps " + std::to_string(o_.max_steps) +
                                  " would take none (give a larger one, or none to train to the end)");
    }
    examples_ = data_->train.size();
    batches_ = (examples_ + o_.batch_size - 1) / o_.batch_size;
    schedule_ = MakeSchedule(o_, (batches_ + o_.accumulate - 1) / o_.accumulate);
    adamant::Validate(schedule_);
  }

  TrainResult Run() {
    // Everything is checked: only now is anything written.
    if (files_) {
      PrepareOutputDir(dir_);
      if (fresh_) RemoveRunFiles(dir_);  // --overwrite (an earlier run was refused above)
      WriteFileAtomically(dir_ / kConfigFile, ToJson(o_).dump(2) + "\n");
    }
    start_ = Clock::now();
    step_seconds_ = pos_.step_seconds;
    Announce();
    {
      std::optional<StopSignals> signals;
      if (files_) signals.emplace();  // compare's runs (no files) stop as a plain process does
      Progress progress(ParseProgressMode(o_.progress), o_.epochs);
      model_->train();
      for (; pos_.epoch <= o_.epochs && !stopped_;
           ++pos_.epoch, pos_.batch = 0, pos_.loss_sum = 0, pos_.loss_count = 0) {
        if (!TrainEpoch(progress)) break;  // stopped mid-epoch: the epoch's line comes when the run resumes
        EndEpoch();
      }
    }
    return Finish();
  }

 private:
  double Elapsed() const { return pos_.seconds + std::chrono::duration<double>(Clock::now() - start_).count(); }

  void Announce() const {
    if (o_.quiet) return;
    if (pos_.epoch == 1 && pos_.batch == 0 && pos_.step == 0) {
      std::printf("training %s (%lld parameters) with %s (%s) on %lld Fashion-MNIST examples, %lld epochs\n",
                  o_.model.name.c_str(), static_cast<long long>(NumParams()), o_.optimizer.c_str(), o_.impl.c_str(),
                  static_cast<long long>(examples_), static_cast<long long>(o_.epochs));
    } else {
      std::printf("resuming %s at epoch %lld, step %lld\n", dir_.c_str(), static_cast<long long>(pos_.epoch),
                  static_cast<long long>(pos_.step));
    }
    std::fflush(stdout);
  }

  int64_t NumParams() const { return torch::nn::utils::parameters_to_vector(params_).numel(); }

  // The mini-batches of epoch pos_.epoch from pos_.batch on; false if the run stopped before its end.
  bool TrainEpoch(Progress& progress) {
    const std::vector<int64_t> order = Permutation(examples_, Mix(o_.seed ^ Mix(static_cast<uint64_t>(pos_.epoch))));
    const torch::Tensor order_tensor = torch::tensor(order, torch::kInt64);
    progress.StartEpoch(pos_.epoch, batches_);
    double group_loss = 0;
    for (; pos_.batch < batches_; ++pos_.batch) {
      const int64_t group_start = pos_.batch / o_.accumulate * o_.accumulate;
      const int64_t group_len = std::min(o_.accumulate, batches_ - group_start);
      const int64_t begin = pos_.batch * o_.batch_size;
      const int64_t end = std::min(begin + o_.batch_size, examples_);
      const torch::Tensor rows = order_tensor.slice(0, begin, end);
      const torch::Tensor x = data_->train.x.index_select(0, rows);
      const torch::Tensor y = data_->train.y.index_select(0, rows);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(model_->forward(x), y);
      (loss / static_cast<double>(group_len)).backward();
      const double batch_loss = loss.item<double>();
      pos_.loss_sum += batch_loss * static_cast<double>(end - begin);
      pos_.loss_count += end - begin;
      group_loss += batch_loss / static_cast<double>(group_len);
      if (pos_.batch + 1 == group_start + group_len) {
        const double loss_of_step = std::exchange(group_loss, 0.0);
        if (Step(loss_of_step)) {
          stopped_ = true;
          ++pos_.batch;
          break;
        }
      }
      progress.Update(pos_.batch + 1, pos_.loss_sum / static_cast<double>(pos_.loss_count), end - begin);
    }
    progress.EndEpoch();
    return !stopped_ || pos_.batch >= batches_;
  }

  // One optimizer step over the accumulated gradients; true if the run stops after it (--max-steps, a
  // signal), with a checkpoint.
  bool Step(double loss) {
    ++pos_.step;
    auto& groups = optimizer_->param_groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      groups[g].options().set_lr(ScheduledLr(schedule_, base_lrs_[g], pos_.step));
    }
    lr_ = groups[0].options().get_lr();
    if (o_.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params_, o_.clip_grad_norm);
    std::vector<torch::Tensor> before;
    if (!shadows_.empty()) {
      torch::NoGradGuard no_grad;
      for (const torch::Tensor& p : params_) before.push_back(p.detach().clone());
    }
    const auto t0 = Clock::now();
    optimizer_->step();
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    StepShadows(before);
    step_seconds_ += dt;
    step_seconds_this_process_ += dt;
    ++steps_this_process_;
    optimizer_->zero_grad();
    if (ours_ != nullptr && ours_->last_step_skipped()) {
      // A non-finite gradient (--nonfinite skip): nothing changed, so the step does not count and the
      // schedule stays where it was.
      --pos_.step;
      ++pos_.skipped_steps;
      return false;
    }
    pos_.step_losses.push_back(static_cast<float>(loss));
    stop_signal_ = g_stop_signal;
    const bool stop = (o_.max_steps > 0 && pos_.step >= o_.max_steps) || stop_signal_ != 0;
    if (files_ && ((o_.checkpoint_every > 0 && pos_.step % o_.checkpoint_every == 0) || stop)) {
      Position saved = pos_;
      saved.batch = pos_.batch + 1;
      Checkpoint(saved);
    }
    return stop;
  }

  // Validation, the epoch's metrics row and line, and (but after the last epoch) a checkpoint.
  void EndEpoch() {
    const Evaluation val = Evaluate(model_, data_->val);
    const EpochMetrics m{pos_.epoch, pos_.step,
                         pos_.loss_sum / static_cast<double>(std::max<int64_t>(pos_.loss_count, 1)), val.loss,
                         val.accuracy, lr_, Elapsed()};
    pos_.epochs.push_back(m);
    pos_.metrics_csv += MetricsRow(m);
    if (files_) WriteFileAtomically(dir_ / kMetricsFile, pos_.metrics_csv);
    if (files_ && pos_.epoch < o_.epochs) {
      // At each epoch's end (the last one's comes in Finish): Ctrl-C or a crash loses at most an epoch.
      Position saved = pos_;
      ++saved.epoch;
      saved.batch = 0;
      saved.loss_sum = 0;
      saved.loss_count = 0;
      Checkpoint(saved);
    }
    if (!o_.quiet) {
      std::printf("epoch %3lld/%lld  train_loss %.4f  val_loss %.4f  val_accuracy %.4f  lr %.3g  %.1fs\n",
                  static_cast<long long>(m.epoch), static_cast<long long>(o_.epochs), m.train_loss, m.val_loss,
                  m.val_accuracy, m.lr, m.seconds);
      std::fflush(stdout);
    }
  }

  void Checkpoint(Position saved) {
    saved.seconds = Elapsed();
    saved.step_seconds = step_seconds_;
    SaveCheckpoint(dir_ / kCheckpointFile, model_, *optimizer_, saved, fingerprint_);
  }

  TrainResult Finish() {
    TrainResult result;
    result.finished = pos_.epoch > o_.epochs;
    result.interrupted_by = result.finished ? 0 : stop_signal_;
    // A finished run ends with a checkpoint too (a stopped one wrote its own): resuming it with more
    // --epochs trains on.
    if (files_ && result.finished) Checkpoint(pos_);
    const Evaluation test = Evaluate(model_, data_->test);
    result.epochs = pos_.epochs;
    result.step_losses = pos_.step_losses;
    result.test_loss = test.loss;
    result.test_accuracy = test.accuracy;
    result.steps = pos_.step;
    result.skipped_steps = pos_.skipped_steps;
    result.seconds = Elapsed();
    // This process's steps; a finished run resumed takes none, and keeps the figure of the steps it took.
    const int64_t all_steps = pos_.step + pos_.skipped_steps;
    result.optimizer_step_ms = steps_this_process_ > 0 ? 1e3 * step_seconds_this_process_ / steps_this_process_
                               : all_steps > 0         ? 1e3 * step_seconds_ / static_cast<double>(all_steps)
                                                       : 0.0;
    result.weights_checksum = WeightsChecksum(model_);
    if (ours_ != nullptr) result.optimizer_state_bytes = static_cast<int64_t>(ours_->core().state_nbytes());
    for (const Shadow& s : shadows_) result.update_differences.push_back(s.differences);
    if (!files_) return result;
    WriteFileAtomically(dir_ / kMetricsFile, pos_.metrics_csv);
    bool plotted = false;
    if (o_.plot && !pos_.epochs.empty()) {
      std::string error;
      const std::string title = o_.model.name + " + " + o_.optimizer + " (" + o_.impl + ") on Fashion-MNIST";
      plotted = RunPythonScript("plot_metrics.py",
                                {(dir_ / kMetricsFile).string(), (dir_ / kPlotFile).string(), title}, &error);
      if (!plotted) std::fprintf(stderr, "adamant: warning: no plot drawn: %s\n", error.c_str());
    }
    WriteSummary(dir_, o_, result, NumParams(), plotted);
    Report(result, plotted);
    return result;
  }

  void Report(const TrainResult& result, bool plotted) const {
    if (o_.quiet) return;
    if (result.finished) {
      std::printf("test accuracy %.4f (loss %.4f) after %lld epochs, %lld optimizer steps, %.1f s (optimizer step "
                  "%.3f ms)\n",
                  result.test_accuracy, result.test_loss, static_cast<long long>(o_.epochs),
                  static_cast<long long>(result.steps), result.seconds, result.optimizer_step_ms);
    } else if (result.interrupted_by != 0) {
      std::printf("interrupted by %s after %lld optimizer steps, checkpoint written; continue with: adamant train "
                  "--resume %s\n",
                  result.interrupted_by == SIGINT ? "SIGINT" : "SIGTERM", static_cast<long long>(result.steps),
                  dir_.c_str());
    } else {
      std::printf("stopped after %lld optimizer steps (--max-steps); continue with: adamant train --resume %s\n",
                  static_cast<long long>(result.steps), dir_.c_str());
    }
    std::printf("metrics: %s\n", (dir_ / kMetricsFile).c_str());
    if (plotted) std::printf("plot:    %s\n", (dir_ / kPlotFile).c_str());
    std::printf("summary: %s\ncheckpoint: %s\n", (dir_ / kSummaryFile).c_str(), (dir_ / kCheckpointFile).c_str());
  }

  const TrainOptions& o_;
  const fs::path dir_;
  const bool files_;  // compare's runs keep everything in memory
  const bool fresh_;
  std::string fingerprint_;
  const Data* data_ = nullptr;
  torch::nn::Sequential model_{nullptr};
  // The shadows of TrainOptions::shadow_state_dtypes: parameters of their own, and an optimizer each.
  struct Shadow {
    std::vector<torch::Tensor> params;
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    std::vector<float> differences;
  };

  void MakeShadows() {
    if (o_.shadow_state_dtypes.empty()) return;
    if (files_ || ours_ == nullptr || !fresh_) {
      throw std::invalid_argument("shadow optimizers are for experiments: adamant's optimizer, no files, no resume");
    }
    for (const std::string& dtype : o_.shadow_state_dtypes) {
      Shadow s;
      for (const torch::Tensor& p : params_) s.params.push_back(p.detach().clone());
      OptionList options;
      for (const auto& entry : o_.optimizer_options) {
        if (entry.first != "state_dtype") options.push_back(entry);
      }
      options.emplace_back("state_dtype", dtype);
      s.optimizer = MakeOptimizer(o_.impl, o_.optimizer, s.params, options);
      shadows_.push_back(std::move(s));
    }
  }

  // Each shadow takes the parameters as they were before the run's step (`before`) and its gradients,
  // steps, and notes how far its update is from the run's.
  void StepShadows(const std::vector<torch::Tensor>& before) {
    torch::NoGradGuard no_grad;
    for (Shadow& s : shadows_) {
      for (size_t i = 0; i < params_.size(); ++i) {
        s.params[i].copy_(before[i]);
        s.params[i].mutable_grad() = params_[i].grad().defined() ? params_[i].grad().clone() : torch::Tensor();
      }
      for (size_t g = 0; g < s.optimizer->param_groups().size(); ++g) {
        s.optimizer->param_groups()[g].options().set_lr(optimizer_->param_groups()[g].options().get_lr());
      }
      s.optimizer->step();
      double difference = 0, update = 0;
      for (size_t i = 0; i < params_.size(); ++i) {
        const torch::Tensor u = params_[i].detach().to(torch::kFloat64) - before[i].to(torch::kFloat64);
        const torch::Tensor v = s.params[i].to(torch::kFloat64) - before[i].to(torch::kFloat64);
        difference += (v - u).pow(2).sum().item<double>();
        update += u.pow(2).sum().item<double>();
      }
      s.differences.push_back(static_cast<float>(update > 0 ? std::sqrt(difference / update) : 0.0));
    }
  }

  std::vector<Shadow> shadows_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  adamant::optim::TorchOptimizer* ours_ = nullptr;  // adamant's drop-in, or null for libtorch's optimizer
  std::vector<double> base_lrs_;
  Position pos_;
  int64_t examples_ = 0;
  int64_t batches_ = 0;
  Schedule schedule_;
  Clock::time_point start_;
  double step_seconds_ = 0;
  int64_t steps_this_process_ = 0;
  double step_seconds_this_process_ = 0;
  bool stopped_ = false;
  double lr_ = 0;
  int stop_signal_ = 0;
};

TrainResult Run(const TrainOptions& o, const fs::path& resume_from) { return Trainer(o, resume_from).Run(); }

}  // namespace

void Validate(const TrainOptions& o) {
  Validate(o.model);
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0) throw std::invalid_argument(std::string("--") + name + " must be positive, got " + std::to_string(v));
  };
  auto non_negative = [](const char* name, int64_t v) {
    if (v < 0) throw std::invalid_argument(std::string("--") + name + " must be >= 0, got " + std::to_string(v));
  };
  positive("batch-size", o.batch_size);
  positive("epochs", o.epochs);
  positive("accumulate", o.accumulate);
  positive("val-size", o.val_size);
  non_negative("max-steps", o.max_steps);
  non_negative("threads", o.threads);
  non_negative("limit-train", o.limit_train);
  non_negative("limit-test", o.limit_test);
  non_negative("checkpoint-every", o.checkpoint_every);
  if (!(o.clip_grad_norm >= 0)) {
    throw std::invalid_argument("--clip-grad-norm must be >= 0, got " + nlohmann::json(o.clip_grad_norm).dump());
  }
  if (o.impl != "adamant" && o.impl != "torch") {
    throw std::invalid_argument("--impl must be adamant or torch, got '" + o.impl + "'");
  }
  if (ParseNonFinite(o.nonfinite) != NonFinite::kPropagate && o.impl != "adamant") {
    throw std::invalid_argument("--nonfinite " + o.nonfinite + " needs adamant's optimizers (libtorch's propagate)");
  }
  // The optimizer and its options: build one over no parameters (same checks and messages as a real one).
  MakeOptimizer(o.impl, o.optimizer, {torch::zeros({1}, torch::requires_grad())}, o.optimizer_options);
  // The number of steps per epoch is known once the data is loaded (Run checks the schedule again then):
  // here a large one, so that only the settings themselves are checked.
  adamant::Validate(MakeSchedule(o, int64_t{1} << 30));
  ParseProgressMode(o.progress);
}

nlohmann::json ToJson(const TrainOptions& o) {
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [k, v] : o.optimizer_options) options[k] = v;
  return {{"model", o.model.name},
          {"hidden", o.model.hidden},
          {"dropout", o.model.dropout},
          {"cnn", o.model.cnn},
          {"optimizer", o.optimizer},
          {"optimizer_options", options},
          {"impl", o.impl},
          {"schedule", o.schedule},
          {"warmup_steps", o.warmup_steps},
          {"gamma", o.gamma},
          {"step_size", o.step_size},
          {"min_lr", o.min_lr},
          {"clip_grad_norm", o.clip_grad_norm},
          {"nonfinite", o.nonfinite},
          {"accumulate", o.accumulate},
          {"batch_size", o.batch_size},
          {"epochs", o.epochs},
          {"max_steps", o.max_steps},
          {"threads", o.threads},
          {"seed", o.seed},
          {"data_dir", o.data_dir},
          {"limit_train", o.limit_train},
          {"val_size", o.val_size},
          {"limit_test", o.limit_test},
          {"out_dir", o.out_dir},
          {"checkpoint_every", o.checkpoint_every},
          {"progress", o.progress},
          {"plot", o.plot}};
}

namespace {

// j[key] into an integer field: only a JSON integer that fits (nlohmann would convert 1e30 or -1 silently).
template <class T>
void GetInteger(const nlohmann::json& v, const std::string& key, T& out) {
  const bool fits = v.is_number_unsigned()  ? std::in_range<T>(v.get<uint64_t>())
                    : v.is_number_integer() ? std::in_range<T>(v.get<int64_t>())
                                            : false;
  if (!fits) {
    throw std::invalid_argument("'" + key + "' must be an integer in [" +
                                std::to_string(std::numeric_limits<T>::min()) + ", " +
                                std::to_string(std::numeric_limits<T>::max()) + "], got " + v.dump());
  }
  out = v.get<T>();
}

}  // namespace

TrainOptions TrainOptionsFromJson(const nlohmann::json& j) {
  TrainOptions o;
  j.at("model").get_to(o.model.name);
  o.model.hidden.clear();
  for (const nlohmann::json& size : j.at("hidden")) GetInteger(size, "hidden", o.model.hidden.emplace_back());
  j.at("dropout").get_to(o.model.dropout);
  j.at("cnn").get_to(o.model.cnn);
  j.at("optimizer").get_to(o.optimizer);
  // Keys in the order given: the JSON object keeps them sorted, and order does not matter to the factory.
  for (const auto& [k, v] : j.at("optimizer_options").items()) o.optimizer_options.emplace_back(k, v.get<std::string>());
  j.at("impl").get_to(o.impl);
  j.at("schedule").get_to(o.schedule);
  GetInteger(j.at("warmup_steps"), "warmup_steps", o.warmup_steps);
  j.at("gamma").get_to(o.gamma);
  j.at("step_size").get_to(o.step_size);
  j.at("min_lr").get_to(o.min_lr);
  j.at("clip_grad_norm").get_to(o.clip_grad_norm);
  j.at("nonfinite").get_to(o.nonfinite);
  GetInteger(j.at("accumulate"), "accumulate", o.accumulate);
  GetInteger(j.at("batch_size"), "batch_size", o.batch_size);
  GetInteger(j.at("epochs"), "epochs", o.epochs);
  GetInteger(j.at("max_steps"), "max_steps", o.max_steps);
  GetInteger(j.at("threads"), "threads", o.threads);
  GetInteger(j.at("seed"), "seed", o.seed);
  j.at("data_dir").get_to(o.data_dir);
  GetInteger(j.at("limit_train"), "limit_train", o.limit_train);
  GetInteger(j.at("val_size"), "val_size", o.val_size);
  GetInteger(j.at("limit_test"), "limit_test", o.limit_test);
  j.at("out_dir").get_to(o.out_dir);
  GetInteger(j.at("checkpoint_every"), "checkpoint_every", o.checkpoint_every);
  j.at("progress").get_to(o.progress);
  j.at("plot").get_to(o.plot);
  return o;
}

TrainResult Train(const TrainOptions& options) { return Run(options, {}); }

TrainResult Resume(const std::string& dir, const TrainOptions& overrides, const std::vector<std::string>& overridden) {
  const fs::path config_path = fs::path(dir) / kConfigFile;
  const fs::path checkpoint_path = fs::path(dir) / kCheckpointFile;
  if (!fs::exists(config_path) || !fs::exists(checkpoint_path)) {
    throw std::runtime_error("nothing to resume in " + dir + ": it needs " + kConfigFile + " and " + kCheckpointFile +
                             " from an earlier adamant train run");
  }
  TrainOptions o;
  try {
    o = TrainOptionsFromJson(nlohmann::json::parse(ReadFile(config_path)));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(config_path.string() + " is damaged: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(config_path.string() + " is damaged: " + e.what());
  }
  o.out_dir = dir;
  o.max_steps = 0;  // the limit that stopped the run is spent: go on to the end unless given again
  for (const std::string& name : overridden) {
    if (name == "epochs" && overrides.epochs != o.epochs && ParseScheduleKind(o.schedule) == ScheduleKind::kCosine) {
      // Its learning rate is a function of the run's length: a longer run would stretch the cosine, and
      // the rate would jump back up. A resumed run is the run it continues, so the length stays.
      throw std::invalid_argument("--epochs cannot change when resuming a run with --schedule cosine (its learning "
                                  "rate follows a cosine over the run's " + std::to_string(o.epochs) +
                                  " epochs); start a new run for another length");
    }
    if (name == "epochs") o.epochs = overrides.epochs;
    if (name == "max_steps") o.max_steps = overrides.max_steps;
    if (name == "threads") o.threads = overrides.threads;
    if (name == "checkpoint_every") o.checkpoint_every = overrides.checkpoint_every;
    if (name == "progress") o.progress = overrides.progress;
    if (name == "plot") o.plot = overrides.plot;
  }
  return Run(o, checkpoint_path);
}

}  // namespace adamant::app
