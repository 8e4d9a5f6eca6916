// Optimizer checkpoints: an optimizer's state in one file, in the safetensors layout.
//
//   adamant::SaveCheckpoint(opt, "run/optimizer.safetensors");  // atomic: a crash keeps the old file
//   ...
//   adamant::Adam resumed(params, options);                      // the same parameters and groups
//   adamant::LoadCheckpoint(resumed, "run/optimizer.safetensors");
//
// Saved: the algorithm, every group's options (by PyTorch's names), every parameter's state (its buffers,
// `step`, NAdam's `mu_product`), the parameters' dtypes and sizes (to check them against on loading), the
// precision settings and the step counter that seeds stochastic rounding. A run resumed from a checkpoint
// takes bitwise the same steps as one that was never interrupted.
//
// Not saved: the parameters themselves. They belong to the caller, who saves them with the model, as with
// torch's optimizer.state_dict(). Gradients are not saved either.
//
// Loading checks everything (docs/checkpoint-format.md lists what is refused) and throws CheckpointError
// saying what is wrong; an optimizer whose load failed is left exactly as it was. Loading replaces the
// options of every group and the state of every parameter: a parameter without state in the file has none
// afterwards.
#ifndef ADAMANT_CHECKPOINT_H_
#define ADAMANT_CHECKPOINT_H_

#include <stdexcept>
#include <string>
#include <string_view>

#include "adamant/optimizer.h"

namespace adamant {

// Any checkpoint that cannot be written or read: a damaged or foreign file, one written for another
// optimizer or other parameters, or a file-system error.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The bytes of a checkpoint file. Throws CheckpointError if the state cannot be saved (a state buffer that
// no longer fits its parameter, say), so that no file is written that would not load.
std::string SerializeState(const Optimizer& optimizer);

// Restores `optimizer` from the bytes of a checkpoint file: all or nothing.
void DeserializeState(Optimizer& optimizer, std::string_view bytes);

// Writes the checkpoint to `path` atomically: into a new file beside it, flushed to disk, then renamed
// over `path` (and the directory flushed), so that `path` always holds either the old checkpoint or the
// new one, whatever happens during the save.
void SaveCheckpoint(const Optimizer& optimizer, const std::string& path);

// Reads `path` and restores `optimizer` from it: all or nothing. Messages start with the path.
void LoadCheckpoint(Optimizer& optimizer, const std::string& path);

}  // namespace adamant

#endif  // ADAMANT_CHECKPOINT_H_
