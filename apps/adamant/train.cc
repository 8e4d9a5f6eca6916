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

TrainResult Run(const TrainOptions& o, const fs::path& resume_from) {
  Validate(o);
  const fs::path dir = o.out_dir;
  const bool files = !o.out_dir.empty();  // compare's runs keep everything in memory
  const bool verbose = !o.quiet;
  const std::string config = ToJson(o).dump(2) + "\n";
  const std::string fingerprint = Fingerprint(o);
  const bool fresh = resume_from.empty();
  if (files && fresh && !o.overwrite) RefuseEarlierRun(dir);
  std::string checkpoint;  // read and verified before the data is loaded: a damaged one fails at once
  if (!fresh) {
    checkpoint = ReadFile(resume_from);
    Unsealed(resume_from.string(), checkpoint);
  }

  if (o.threads > 0) {
    torch::set_num_threads(o.threads);
    adamant::SetNumThreads(o.threads);
  }
  const Data& data = CachedData(o);

  torch::manual_seed(o.seed);
  torch::nn::Sequential model = MakeModel(o.model);
  std::unique_ptr<torch::optim::Optimizer> optimizer =
      MakeOptimizer(o.impl, o.optimizer, model->parameters(), o.optimizer_options);
  auto* ours = dynamic_cast<adamant::optim::TorchOptimizer*>(optimizer.get());
  if (ours != nullptr) ours->set_nonfinite(ParseNonFinite(o.nonfinite));
  std::vector<double> base_lrs;
  for (auto& group : optimizer->param_groups()) base_lrs.push_back(group.options().get_lr());

  Position pos;
  if (!fresh) pos = LoadCheckpoint(resume_from, checkpoint, model, *optimizer, fingerprint);
  if (o.max_steps > 0 && pos.step >= o.max_steps) {
    throw std::invalid_argument("the run in " + dir.string() + " has taken " + std::to_string(pos.step) +
                                " optimizer steps already; --max-steps " + std::to_string(o.max_steps) +
                                " would take none (give a larger one, or none to train to the end)");
  }

  const int64_t n = data.train.size();
  const int64_t batches = (n + o.batch_size - 1) / o.batch_size;
  const int64_t steps_per_epoch = (batches + o.accumulate - 1) / o.accumulate;
  const Schedule schedule = MakeSchedule(o, steps_per_epoch);
  adamant::Validate(schedule);
  // Everything is checked (options, data, model, optimizer, checkpoint): only now is anything written.
  if (files) {
    PrepareOutputDir(dir);
    if (fresh) RemoveRunFiles(dir);  // --overwrite (an earlier run was refused above)
    WriteFileAtomically(dir / kConfigFile, config);
  }
  Progress progress(ParseProgressMode(o.progress), o.epochs);
  const std::vector<torch::Tensor> params = model->parameters();

  const auto start = Clock::now();
  auto elapsed = [&] { return pos.seconds + std::chrono::duration<double>(Clock::now() - start).count(); };
  double step_seconds = pos.step_seconds;
  int64_t steps_this_process = 0;
  double step_seconds_this_process = 0;
  bool stopped = false;
  double lr = base_lrs.empty() ? 0.0 : base_lrs[0];

  if (!verbose) {
  } else if (pos.epoch == 1 && pos.batch == 0 && pos.step == 0) {
    std::printf("training %s (%lld parameters) with %s (%s) on %lld Fashion-MNIST examples, %lld epochs\n",
                o.model.name.c_str(), static_cast<long long>(torch::nn::utils::parameters_to_vector(params).numel()),
                o.optimizer.c_str(), o.impl.c_str(), static_cast<long long>(n), static_cast<long long>(o.epochs));
  } else {
    std::printf("resuming %s at epoch %lld, step %lld\n", dir.c_str(), static_cast<long long>(pos.epoch),
                static_cast<long long>(pos.step));
  }
  std::fflush(stdout);

  std::optional<StopSignals> signals;
  if (files) signals.emplace();  // compare's runs (no files) stop as a plain process does
  int stop_signal = 0;

  model->train();
  for (; pos.epoch <= o.epochs && !stopped; ++pos.epoch, pos.batch = 0, pos.loss_sum = 0, pos.loss_count = 0) {
    const std::vector<int64_t> order = Permutation(n, Mix(o.seed ^ Mix(static_cast<uint64_t>(pos.epoch))));
    const torch::Tensor order_tensor = torch::tensor(order, torch::kInt64);
    progress.StartEpoch(pos.epoch, batches);
    double group_loss = 0;
    for (; pos.batch < batches; ++pos.batch) {
      const int64_t group_start = pos.batch / o.accumulate * o.accumulate;
      const int64_t group_len = std::min(o.accumulate, batches - group_start);
      const int64_t begin = pos.batch * o.batch_size;
      const int64_t end = std::min(begin + o.batch_size, n);
      const torch::Tensor rows = order_tensor.slice(0, begin, end);
      const torch::Tensor x = data.train.x.index_select(0, rows);
      const torch::Tensor y = data.train.y.index_select(0, rows);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
      (loss / static_cast<double>(group_len)).backward();
      const double batch_loss = loss.item<double>();
      pos.loss_sum += batch_loss * static_cast<double>(end - begin);
      pos.loss_count += end - begin;
      group_loss += batch_loss / static_cast<double>(group_len);
      if (pos.batch + 1 == group_start + group_len) {
        ++pos.step;
        auto& groups = optimizer->param_groups();
        for (size_t g = 0; g < groups.size(); ++g) {
          groups[g].options().set_lr(ScheduledLr(schedule, base_lrs[g], pos.step));
        }
        lr = groups[0].options().get_lr();
        if (o.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, o.clip_grad_norm);
        const auto t0 = Clock::now();
        optimizer->step();
        const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        step_seconds += dt;
        step_seconds_this_process += dt;
        ++steps_this_process;
        optimizer->zero_grad();
        if (ours != nullptr && ours->last_step_skipped()) {
          // A non-finite gradient (--nonfinite skip): nothing changed, so the step does not count and the
          // schedule stays where it was.
          --pos.step;
          ++pos.skipped_steps;
          group_loss = 0;
          continue;
        }
        pos.step_losses.push_back(static_cast<float>(group_loss));
        group_loss = 0;
        stop_signal = g_stop_signal;
        const bool at_limit = (o.max_steps > 0 && pos.step >= o.max_steps) || stop_signal != 0;
        if (files && ((o.checkpoint_every > 0 && pos.step % o.checkpoint_every == 0) || at_limit)) {
          Position saved = pos;
          saved.batch = pos.batch + 1;
          saved.seconds = elapsed();
          saved.step_seconds = step_seconds;
          SaveCheckpoint(dir / kCheckpointFile, model, *optimizer, saved, fingerprint);
        }
        if (at_limit) {
          stopped = true;
          ++pos.batch;
          break;
        }
      }
      progress.Update(pos.batch + 1, pos.loss_sum / static_cast<double>(pos.loss_count), end - begin);
    }
    progress.EndEpoch();
    if (stopped && pos.batch < batches) break;  // mid-epoch: the epoch's line comes when the run resumes

    const Evaluation val = Evaluate(model, data.val);
    EpochMetrics m{pos.epoch, pos.step, pos.loss_sum / static_cast<double>(std::max<int64_t>(pos.loss_count, 1)),
                   val.loss, val.accuracy, lr, elapsed()};
    pos.epochs.push_back(m);
    pos.metrics_csv += MetricsRow(m);
    if (files) WriteFileAtomically(dir / kMetricsFile, pos.metrics_csv);
    if (files && pos.epoch < o.epochs) {
      // At each epoch's end (the last one's comes below): Ctrl-C or a crash loses at most an epoch.
      Position saved = pos;
      ++saved.epoch;
      saved.batch = 0;
      saved.loss_sum = 0;
      saved.loss_count = 0;
      saved.seconds = elapsed();
      saved.step_seconds = step_seconds;
      SaveCheckpoint(dir / kCheckpointFile, model, *optimizer, saved, fingerprint);
    }
    if (verbose) {
      std::printf("epoch %3lld/%lld  train_loss %.4f  val_loss %.4f  val_accuracy %.4f  lr %.3g  %.1fs\n",
                static_cast<long long>(m.epoch), static_cast<long long>(o.epochs), m.train_loss, m.val_loss,
                m.val_accuracy, m.lr, m.seconds);
      std::fflush(stdout);
    }
  }

  signals.reset();
  TrainResult result;
  result.finished = pos.epoch > o.epochs;
  result.interrupted_by = result.finished ? 0 : stop_signal;
  // A finished run ends with a checkpoint too (a stopped one wrote its own at --max-steps): resuming it
  // with more --epochs trains on.
  if (files && result.finished) {
    Position saved = pos;
    saved.seconds = elapsed();
    saved.step_seconds = step_seconds;
    SaveCheckpoint(dir / kCheckpointFile, model, *optimizer, saved, fingerprint);
  }

  const Evaluation test = Evaluate(model, data.test);
  result.epochs = pos.epochs;
  result.step_losses = pos.step_losses;
  result.test_loss = test.loss;
  result.test_accuracy = test.accuracy;
  result.steps = pos.step;
  result.skipped_steps = pos.skipped_steps;
  result.seconds = elapsed();
  // This process's steps; a finished run resumed takes none, and keeps the figure of the steps it took.
  const int64_t all_steps = pos.step + pos.skipped_steps;
  result.optimizer_step_ms = steps_this_process > 0 ? 1e3 * step_seconds_this_process / steps_this_process
                             : all_steps > 0        ? 1e3 * step_seconds / static_cast<double>(all_steps)
                                                    : 0.0;
  result.weights_checksum = WeightsChecksum(model);
  if (!files) return result;
  WriteFileAtomically(dir / kMetricsFile, pos.metrics_csv);

  bool plotted = false;
  if (o.plot && !pos.epochs.empty()) {
    std::string error;
    const std::string title = o.model.name + " + " + o.optimizer + " (" + o.impl + ") on Fashion-MNIST";
    plotted = RunPythonScript("plot_metrics.py", {(dir / kMetricsFile).string(), (dir / kPlotFile).string(), title},
                              &error);
    if (!plotted) std::fprintf(stderr, "adamant: warning: no plot drawn: %s\n", error.c_str());
  }
  WriteSummary(dir, o, result, torch::nn::utils::parameters_to_vector(params).numel(), plotted);

  if (!verbose) {
  } else if (result.finished) {
    std::printf("test accuracy %.4f (loss %.4f) after %lld epochs, %lld optimizer steps, %.1f s (optimizer step %.3f ms)\n",
                result.test_accuracy, result.test_loss, static_cast<long long>(o.epochs),
                static_cast<long long>(result.steps), result.seconds, result.optimizer_step_ms);
  } else if (result.interrupted_by != 0) {
    std::printf("interrupted by %s after %lld optimizer steps, checkpoint written; continue with: adamant train "
                "--resume %s\n",
                result.interrupted_by == SIGINT ? "SIGINT" : "SIGTERM", static_cast<long long>(result.steps),
                dir.c_str());
  } else {
    std::printf("stopped after %lld optimizer steps (--max-steps); continue with: adamant train --resume %s\n",
                static_cast<long long>(result.steps), dir.c_str());
  }
  if (verbose) {
    std::printf("metrics: %s\n", (dir / kMetricsFile).c_str());
    if (plotted) std::printf("plot:    %s\n", (dir / kPlotFile).c_str());
    std::printf("summary: %s\ncheckpoint: %s\n", (dir / kSummaryFile).c_str(), (dir / kCheckpointFile).c_str());
  }
  return result;
}

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
