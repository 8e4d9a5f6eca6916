// libFuzzer target for the checkpoint loader (make test-fuzz). Each input is loaded into an optimizer of
// the algorithm it names, with the checksum checked and then without it, and the properties of
// CheckCheckpointInput must hold: a violation aborts, and libFuzzer saves the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adamant/threads.h"
#include "fuzz/checkpoint_harness.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  adamant::SetNumThreads(1);  // the fuzzer's tensors are tiny; threads would only add noise
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string failure =
      adamant::fuzz::CheckCheckpointInput(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!failure.empty()) {
    std::fprintf(stderr, "checkpoint fuzzer: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
