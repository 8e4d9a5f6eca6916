#include "core/layout.h"

#include <limits>
#include <string>
#include <utility>

namespace adamant::core {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::string Dims(const Layout& layout, const int64_t* values) {
  std::string out = "(";
  for (int d = 0; d < layout.dim; ++d) out += (d > 0 ? ", " : "") + std::to_string(values[d]);
  return out + (layout.dim == 1 ? ",)" : ")");
}

}  // namespace

std::string LayoutError(const ParamView& p) {
  if (p.layout == nullptr) return "";
  const Layout& l = *p.layout;
  if (l.dim < 0 || l.dim > Layout::kMaxDims) {
    return "layout has " + std::to_string(l.dim) + " dimensions (0 to " + std::to_string(Layout::kMaxDims) +
           " are supported)";
  }
  int64_t count = 1;
  for (int d = 0; d < l.dim; ++d) {
    if (l.sizes[d] < 0) return "layout sizes " + Dims(l, l.sizes) + " include a negative size";
    if (l.sizes[d] != 0 && count > kMax / l.sizes[d]) return "layout sizes " + Dims(l, l.sizes) + " are too large";
    count *= l.sizes[d];
  }
  if (count != p.numel) {
    return "layout sizes " + Dims(l, l.sizes) + " hold " + std::to_string(count) + " elements, but numel is " +
           std::to_string(p.numel) + " (a param group's range cannot cut a parameter with a layout)";
  }
  if (!l.strided || count == 0) return "";
  // Dimensions of size > 1 by increasing stride: each must step past every element of the ones before it,
  // or two elements would share memory.
  std::pair<int64_t, int64_t> dims[Layout::kMaxDims];  // (stride, size)
  int n = 0;
  for (int d = 0; d < l.dim; ++d) {
    if (l.strides[d] < 0) return "layout strides " + Dims(l, l.strides) + " include a negative stride";
    if (l.sizes[d] > 1) dims[n++] = {l.strides[d], l.sizes[d]};
  }
  for (int k = 1; k < n; ++k) {  // insertion sort: at most kMaxDims entries
    for (int j = k; j > 0 && dims[j] < dims[j - 1]; --j) std::swap(dims[j], dims[j - 1]);
  }
  int64_t extent = 1;  // elements spanned by the dimensions so far
  for (int k = 0; k < n; ++k) {
    const auto [stride, size] = dims[k];
    if (stride < extent) {
      return "layout strides " + Dims(l, l.strides) + " for sizes " + Dims(l, l.sizes) +
             " make elements share memory; each element must have memory of its own";
    }
    if (size - 1 > (kMax / 16 - extent) / stride) return "layout strides " + Dims(l, l.strides) + " are too large";
    extent += (size - 1) * stride;
  }
  return "";
}

bool IsStrided(const ParamView& p) {
  if (p.layout == nullptr || !p.layout->strided) return false;
  const Layout& l = *p.layout;
  int64_t expected = 1;
  for (int d = l.dim - 1; d >= 0; --d) {
    if (l.sizes[d] != 1 && l.strides[d] != expected) return true;
    expected *= l.sizes[d];
  }
  return false;
}

int64_t DataSpan(const ParamView& p) {
  if (!IsStrided(p)) return p.numel;
  const Layout& l = *p.layout;
  int64_t span = 1;
  for (int d = 0; d < l.dim; ++d) span += (l.sizes[d] - 1) * l.strides[d];
  return span;
}

}  // namespace adamant::core
