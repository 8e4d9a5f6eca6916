// checkpoint.pt's envelope: one header line, then the libtorch archive it describes. libtorch does not
// check its archives' CRCs (a flipped byte in the weights loads silently), so the header holds the
// archive's length and SHA-256, verified before anything is read:
//
//   adamant-train-checkpoint 1 <archive bytes> <SHA-256 of the archive, 64 hex digits>\n<archive>
#ifndef ADAMANT_APPS_ADAMANT_SEALED_FILE_H_
#define ADAMANT_APPS_ADAMANT_SEALED_FILE_H_

#include <string>
#include <string_view>

namespace adamant::app {

// The file's bytes for `archive`.
std::string Sealed(std::string_view archive);

// The archive inside `file`, the bytes of the file at `path`, verified against the header. Throws
// std::runtime_error naming `path` and what is wrong ("PATH is damaged: ...").
std::string_view Unsealed(const std::string& path, std::string_view file);

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_SEALED_FILE_H_
