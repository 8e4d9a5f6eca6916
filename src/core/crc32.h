// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): the checksum of checkpoint files. The same value
// as zlib's crc32() and Python's zlib.crc32(), so a file can be checked without adamant.
#ifndef ADAMANT_CORE_CRC32_H_
#define ADAMANT_CORE_CRC32_H_

#include <cstdint>
#include <string_view>

namespace adamant::core {

// The CRC of `bytes` continuing from `crc` (the CRC of what came before; 0 to start):
// Crc32(b, Crc32(a)) == Crc32(a + b).
uint32_t Crc32(std::string_view bytes, uint32_t crc = 0);

}  // namespace adamant::core

#endif  // ADAMANT_CORE_CRC32_H_
