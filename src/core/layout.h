// Parameters with a Layout (adamant/param.h): their checks, the memory their data spans, and the
// contiguous runs in which a step updates a strided one in place.
#ifndef ADAMANT_CORE_LAYOUT_H_
#define ADAMANT_CORE_LAYOUT_H_

#include <cstdint>
#include <string>

#include "adamant/param.h"

namespace adamant::core {

// Empty if p.layout (null, or a valid layout of p.numel elements) can be stepped; else why not, for a
// message.
std::string LayoutError(const ParamView& p);

// True if p's data is laid out by strides other than row-major contiguous ones (p.layout checked).
bool IsStrided(const ParamView& p);

// How many elements of p.dtype lie from the first of p's data to its last, inclusive: p.numel for
// contiguous data (p.layout checked, p.numel > 0).
int64_t DataSpan(const ParamView& p);

// Calls run(data_offset, index, length) for each contiguous run of a strided parameter's data, in row-major
// order: elements [index, index + length) of the parameter in row-major order are data[data_offset],
// data[data_offset + 1], ... (a checked layout with at least one element).
template <class F>
void ForEachRun(const Layout& layout, F&& run) {
  // Dimensions of size 1 dropped, and each merged into the one before where they are contiguous together.
  int64_t sizes[Layout::kMaxDims];
  int64_t strides[Layout::kMaxDims];
  int dims = 0;
  for (int d = 0; d < layout.dim; ++d) {
    if (layout.sizes[d] == 1) continue;
    if (dims > 0 && strides[dims - 1] == layout.strides[d] * layout.sizes[d]) {
      sizes[dims - 1] *= layout.sizes[d];
      strides[dims - 1] = layout.strides[d];
    } else {
      sizes[dims] = layout.sizes[d];
      strides[dims] = layout.strides[d];
      ++dims;
    }
  }
  if (dims == 0) {
    run(int64_t{0}, int64_t{0}, int64_t{1});
    return;
  }
  // The runs: the innermost dimension when its stride is 1, else single elements.
  const bool inner = strides[dims - 1] == 1;
  const int64_t length = inner ? sizes[dims - 1] : 1;
  const int outer = inner ? dims - 1 : dims;
  int64_t at[Layout::kMaxDims] = {};
  int64_t offset = 0;
  for (int64_t index = 0;; index += length) {
    run(offset, index, length);
    int d = outer - 1;
    for (; d >= 0; --d) {
      if (++at[d] < sizes[d]) {
        offset += strides[d];
        break;
      }
      offset -= (sizes[d] - 1) * strides[d];
      at[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace adamant::core

#endif  // ADAMANT_CORE_LAYOUT_H_
