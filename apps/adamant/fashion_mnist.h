// Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) from Debian's dataset-fashion-mnist: the four gzipped IDX
// files, each verified against the SHA-256 of its decompressed content.
#ifndef ADAMANT_APPS_ADAMANT_FASHION_MNIST_H_
#define ADAMANT_APPS_ADAMANT_FASHION_MNIST_H_

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace adamant::app {

inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int kImageSide = 28;
inline constexpr int kImagePixels = kImageSide * kImageSide;
inline constexpr int kNumClasses = 10;

// Raised for a missing, unreadable or damaged dataset; the message says which file and what to do.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Split {
  std::vector<uint8_t> images;  // count * kImagePixels, row-major 28x28
  std::vector<uint8_t> labels;  // count, each < kNumClasses
  int64_t count() const { return static_cast<int64_t>(labels.size()); }
};

struct FashionMnist {
  Split train;  // 60,000
  Split test;   // 10,000
};

// Reads and verifies the dataset in `dir` (train-images-idx3-ubyte.gz, ...). With `verify_checksums`
// false only the IDX structure and gzip's own CRC are checked (for test fixtures).
FashionMnist LoadFashionMnist(const std::string& dir, bool verify_checksums = true);

// One IDX file (gzipped): its dimensions and bytes. Throws DataError naming `path` on any damage.
struct Idx {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};
Idx ReadIdxGz(const std::string& path, int expected_rank, const char* expected_sha256);

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_FASHION_MNIST_H_
