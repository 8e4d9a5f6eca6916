// The names of the option types' values (each algorithm's Validate is next to its options struct).
#include "adamant/option_types.h"

namespace adamant {

std::string_view EpsModeName(EpsMode mode) {
  return mode == EpsMode::kTensorFlow ? "tensorflow" : "pytorch";
}

std::string_view StateStorageName(StateStorage storage) {
  return storage == StateStorage::kBFloat16 ? "bfloat16" : "float32";
}

}  // namespace adamant
