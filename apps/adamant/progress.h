// Progress of a run on stderr: a bar redrawn in place on a terminal, a few plain lines per epoch otherwise.
#ifndef ADAMANT_APPS_ADAMANT_PROGRESS_H_
#define ADAMANT_APPS_ADAMANT_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace adamant::app {

enum class ProgressMode { kBar, kLines, kNone };

// "auto" (a bar when stderr is a terminal, lines otherwise), "bar", "lines", "none".
ProgressMode ParseProgressMode(const std::string& text);

class Progress {
 public:
  Progress(ProgressMode mode, int64_t epochs) : mode_(mode), epochs_(epochs) {}

  void StartEpoch(int64_t epoch, int64_t batches);
  // After batch `done` (1-based) of the epoch, with the running mean training loss.
  void Update(int64_t done, double mean_loss, int64_t examples);
  // Clears the bar before a line is printed on stdout.
  void EndEpoch();

 private:
  using Clock = std::chrono::steady_clock;

  ProgressMode mode_;
  int64_t epochs_;
  int64_t epoch_ = 0;
  int64_t batches_ = 0;
  int64_t next_line_ = 0;
  int64_t examples_ = 0;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_PROGRESS_H_
