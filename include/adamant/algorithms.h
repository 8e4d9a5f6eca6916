// The one list of algorithms. Everything that iterates over algorithms (the optimizer classes, the
// functional steps, the kernels and their dispatch tables, the factory, the checkpoint schema, the Python
// and libtorch drop-ins, the benchmarks' catalog, the fuzzer, the vectorization check and the tests)
// expands this list; docs/adding-an-algorithm.md says what a new entry needs.
//
// ADAMANT_OPTIMIZERS(X, V) calls
//   X(Class, name)          for each algorithm: a rule (src/rules/), a descriptor (src/algorithms/) and its
//                           options (adamant/options/<name>.h), in the order AlgorithmNames() lists them;
//   V(Class, name, Base)    for each variant: an optimizer that runs Base's descriptor with options it fixes
//                           (AdamW: Adam with decoupled weight decay, AdamWFixed in adamant/options/adam.h).
// `name` is a string literal; CMakeLists.txt reads the X entries, one per line as below.
#ifndef ADAMANT_ALGORITHMS_H_
#define ADAMANT_ALGORITHMS_H_

#include "adamant/options/adadelta.h"
#include "adamant/options/adagrad.h"
#include "adamant/options/adam.h"
#include "adamant/options/adamax.h"
#include "adamant/options/lion.h"
#include "adamant/options/nadam.h"
#include "adamant/options/radam.h"
#include "adamant/options/rmsprop.h"
#include "adamant/options/sgd.h"

#define ADAMANT_OPTIMIZERS(X, V) \
  X(Adam, "adam")                \
  V(AdamW, "adamw", Adam)        \
  X(Adamax, "adamax")            \
  X(NAdam, "nadam")              \
  X(RAdam, "radam")              \
  X(Adagrad, "adagrad")          \
  X(RMSprop, "rmsprop")          \
  X(Adadelta, "adadelta")        \
  X(SGD, "sgd")                  \
  X(Lion, "lion")

// Expands to nothing: for ADAMANT_OPTIMIZERS(X, ADAMANT_SKIP_VARIANT), which calls X for the algorithms only.
#define ADAMANT_SKIP_VARIANT(Class, name, Base)

#endif  // ADAMANT_ALGORITHMS_H_
