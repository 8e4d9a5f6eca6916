// Hyperparameters of every algorithm: PyTorch's names, defaults and validation.
//
// Each algorithm's options struct lives in adamant/options/<name>.h with PyTorch's defaults (current
// PyTorch, not 1.13: e.g. SGD's lr defaults to 1e-3), its field list (VisitOptionsImpl, next to the
// struct) and Validate(), which throws std::invalid_argument with PyTorch's message ("Invalid learning
// rate: -1.0"); the Python module turns that into ValueError. VisitOptions() lists (name, field) pairs:
// the factory, the command line and checkpoints read and write options through it, so names live in one
// place.
#ifndef ADAMANT_OPTIONS_H_
#define ADAMANT_OPTIONS_H_

#include "adamant/algorithms.h"
#include "adamant/option_types.h"

namespace adamant {

// Calls visit(name, field) for every option, in the order of the struct. Field types: double, bool,
// Betas, EpsMode.
template <class Options, class Visitor>
void VisitOptions(Options& o, Visitor&& visit) {
  VisitOptionsImpl(o, visit);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_H_
