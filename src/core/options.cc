// The names of the option types' values (each algorithm's Validate is next to its options struct).
#include "adamant/option_types.h"

namespace adamant {

std::string_view EpsModeName(EpsMode mode) {
  return mode == EpsMode::kTensorFlow ? "tensorflow" : "pytorch";
}

}  // namespace adamant
