#include "progress.h"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace adamant::app {

ProgressMode ParseProgressMode(const std::string& text) {
  if (text == "auto") return ::isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLines;
  if (text == "bar") return ProgressMode::kBar;
  if (text == "lines") return ProgressMode::kLines;
  if (text == "none") return ProgressMode::kNone;
  throw std::invalid_argument("unknown progress mode '" + text + "' (valid: auto, bar, lines, none)");
}

void Progress::StartEpoch(int64_t epoch, int64_t batches) {
  epoch_ = epoch;
  batches_ = batches;
  next_line_ = batches / 4;
  examples_ = 0;
  start_ = last_draw_ = Clock::now();
  drawn_ = false;
}

void Progress::Update(int64_t done, double mean_loss, int64_t examples) {
  examples_ += examples;
  const auto now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(examples_) / seconds : 0.0;
  if (mode_ == ProgressMode::kBar) {
    // Redraw at most ten times a second: a terminal is slow next to a training step.
    if (done < batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const int filled = batches_ > 0 ? static_cast<int>(kWidth * done / batches_) : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld  loss %.4f  %.0f examples/s",
                 static_cast<long long>(epoch_), static_cast<long long>(epochs_), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(batches_), mean_loss, rate);
    std::fflush(stderr);
    drawn_ = true;
  } else if (mode_ == ProgressMode::kLines && next_line_ > 0 && done >= next_line_ && done < batches_) {
    next_line_ += batches_ / 4;
    std::fprintf(stderr, "  epoch %lld/%lld: %lld/%lld batches, loss %.4f, %.0f examples/s\n",
                 static_cast<long long>(epoch_), static_cast<long long>(epochs_), static_cast<long long>(done),
                 static_cast<long long>(batches_), mean_loss, rate);
  }
}

void Progress::EndEpoch() {
  if (mode_ == ProgressMode::kBar && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace adamant::app
