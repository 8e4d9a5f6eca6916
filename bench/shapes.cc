#include "shapes.h"

#include <charconv>
#include <stdexcept>

namespace adamant_bench {
namespace {

int64_t ParseCount(std::string_view text, std::string_view whole) {
  int64_t scale = 1;
  if (!text.empty() && (text.back() == 'k' || text.back() == 'M')) {
    scale = text.back() == 'k' ? 1000 : 1000000;
    text.remove_suffix(1);
  }
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value <= 0) {
    throw std::invalid_argument("bad shape '" + std::string(whole) + "' (want e.g. 1x10M, 100x100k, 10000x1k)");
  }
  return value * scale;
}

}  // namespace

Shape ParseShape(std::string_view text) {
  const size_t x = text.find('x');
  if (x == std::string_view::npos) ParseCount("", text);  // throws
  return {std::string(text), ParseCount(text.substr(0, x), text), ParseCount(text.substr(x + 1), text)};
}

std::vector<std::string> DefaultShapes() { return {"1x10M", "1x50M", "100x100k", "10000x1k"}; }

}  // namespace adamant_bench
