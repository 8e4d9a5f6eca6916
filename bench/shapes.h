// Parameter shapes: "100x100k" is 100 tensors of 100,000 elements each.
#ifndef ADAMANT_BENCH_SHAPES_H_
#define ADAMANT_BENCH_SHAPES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace adamant_bench {

struct Shape {
  std::string name;  // as given: "1x10M"
  int64_t tensors = 0;
  int64_t numel = 0;  // per tensor
  int64_t total() const { return tensors * numel; }
};

// "<tensors>x<numel>", each a positive integer with an optional k (1e3) or M (1e6) suffix.
// Throws std::invalid_argument otherwise.
Shape ParseShape(std::string_view text);

// The shapes of a full run: 1x10M, 1x50M, 100x100k, 10000x1k.
std::vector<std::string> DefaultShapes();

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_SHAPES_H_
