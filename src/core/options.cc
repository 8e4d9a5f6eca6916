// The names of the option types' values (each algorithm's Validate is next to its options struct).
#include "adamant/option_types.h"

namespace adamant {

std::string_view EpsModeName(EpsMode mode) {
  return mode == EpsMode::kTensorFlow ? "tensorflow" : "pytorch";
}

std::string_view StateStorageName(StateStorage storage) {
  switch (storage) {
    case StateStorage::kBFloat16:
      return "bfloat16";
    case StateStorage::kBFloat16Stochastic:
      return "bfloat16_stochastic";
    case StateStorage::kInt8:
      return "int8";
    case StateStorage::kFull:
      break;
  }
  return "float32";
}

}  // namespace adamant
