// How many threads a step uses.
//
// By default every step uses OpenMP's default team size, which honours OMP_NUM_THREADS. SetNumThreads(n)
// overrides it for this process (n >= 1); SetNumThreads(0) returns to the default. Results are bitwise
// identical for every thread count.
#ifndef ADAMANT_THREADS_H_
#define ADAMANT_THREADS_H_

namespace adamant {

void SetNumThreads(int n);
// The number of threads the next step will use.
int GetNumThreads();

}  // namespace adamant

#endif  // ADAMANT_THREADS_H_
