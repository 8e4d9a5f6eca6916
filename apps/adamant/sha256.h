// SHA-256 (FIPS 180-4), to verify the dataset files against known digests without another dependency.
#ifndef ADAMANT_APPS_ADAMANT_SHA256_H_
#define ADAMANT_APPS_ADAMANT_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace adamant::app {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  // The digest as 64 lowercase hex digits; the object is spent afterwards.
  std::string HexDigest();

 private:
  void Block(const uint8_t* block);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> pending_{};
  size_t pending_size_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_SHA256_H_
