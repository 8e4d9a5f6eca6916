// A reader for adamant's golden files: the safetensors layout (an 8-byte little-endian header length N,
// N bytes of JSON, then the raw little-endian tensor data), as tools/golden/safetensors_io.py writes it.
//
//   GoldenFile f = GoldenFile::Load(path);
//   std::span<const float> p = f.Row<float>("param.2", t);   // row t of a 2-D tensor
//   std::string algorithm = f.Metadata("algorithm");
//
// Everything is checked when the file is parsed (header length, JSON shape, dtypes, shapes against byte
// counts, offsets inside the data section, no overlap and no holes); every failure throws
// std::runtime_error naming the file and what is wrong. The accessors check the requested element type
// and row index. Only little-endian hosts are supported (static_assert).
#ifndef ADAMANT_TESTS_GOLDEN_GOLDEN_FILE_H_
#define ADAMANT_TESTS_GOLDEN_GOLDEN_FILE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace adamant::golden {

// The safetensors dtypes the golden files use.
enum class ElementType { kF32, kF64, kU8, kI64 };

// "F32", "F64", "U8", "I64".
std::string_view ElementTypeName(ElementType type);
size_t ElementSize(ElementType type);

// The ElementType that holds C++ type T (float, double, uint8_t, int64_t).
template <typename T>
constexpr ElementType ElementTypeOf();
template <>
constexpr ElementType ElementTypeOf<float>() { return ElementType::kF32; }
template <>
constexpr ElementType ElementTypeOf<double>() { return ElementType::kF64; }
template <>
constexpr ElementType ElementTypeOf<uint8_t>() { return ElementType::kU8; }
template <>
constexpr ElementType ElementTypeOf<int64_t>() { return ElementType::kI64; }

struct TensorInfo {
  ElementType type = ElementType::kF32;
  std::vector<int64_t> shape;
  int64_t numel = 1;
  size_t begin = 0;  // byte offsets in the data section
  size_t end = 0;
};

class GoldenFile {
 public:
  // Reads and parses the file at `path`.
  static GoldenFile Load(const std::string& path);
  // Parses the bytes of a file; `source` names it in error messages.
  static GoldenFile Parse(std::string_view bytes, std::string source);

  const std::string& source() const { return source_; }

  // The "__metadata__" map (empty if the file has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // One metadata value; throws naming the key if it is missing.
  const std::string& Metadata(std::string_view key) const;

  bool Has(std::string_view name) const { return tensors_.find(name) != tensors_.end(); }
  // Tensor names in sorted order.
  std::vector<std::string> Names() const;
  // Throws naming the tensor if it does not exist.
  const TensorInfo& Info(std::string_view name) const;

  // All elements, row-major. Throws if the tensor is missing or is not of T's element type.
  template <typename T>
  std::span<const T> Data(std::string_view name) const {
    const Entry& e = Find(name, ElementTypeOf<T>());
    return {reinterpret_cast<const T*>(e.data.get()), static_cast<size_t>(e.info.numel)};
  }

  // Row `row` of a 2-D tensor ([rows, cols]): cols elements. Throws if the tensor is not 2-D or the row is
  // out of range.
  template <typename T>
  std::span<const T> Row(std::string_view name, int64_t row) const {
    const Entry& e = Find(name, ElementTypeOf<T>());
    const int64_t cols = CheckRow(name, e.info, row);
    return {reinterpret_cast<const T*>(e.data.get()) + row * cols, static_cast<size_t>(cols)};
  }

  // Element `index` of a 1-D tensor.
  template <typename T>
  T At(std::string_view name, int64_t index) const {
    const Entry& e = Find(name, ElementTypeOf<T>());
    CheckIndex(name, e.info, index);
    return reinterpret_cast<const T*>(e.data.get())[index];
  }

 private:
  struct Entry {
    TensorInfo info;
    std::shared_ptr<const std::byte[]> data;  // its own copy: suitably aligned for any element type
  };

  const Entry& Find(std::string_view name, ElementType type) const;
  int64_t CheckRow(std::string_view name, const TensorInfo& info, int64_t row) const;
  void CheckIndex(std::string_view name, const TensorInfo& info, int64_t index) const;
  [[noreturn]] void Fail(const std::string& what) const;

  std::string source_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, Entry, std::less<>> tensors_;
};

}  // namespace adamant::golden

#endif  // ADAMANT_TESTS_GOLDEN_GOLDEN_FILE_H_
