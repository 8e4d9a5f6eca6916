#include "sealed_file.h"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "sha256.h"

namespace adamant::app {
namespace {

constexpr std::string_view kMagic = "adamant-train-checkpoint 1 ";
constexpr size_t kDigestChars = 64;

std::string Digest(std::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes.data(), bytes.size());
  return sha.HexDigest();
}

}  // namespace

std::string Sealed(std::string_view archive) {
  std::string out = std::string(kMagic) + std::to_string(archive.size()) + " " + Digest(archive) + "\n";
  out.append(archive);
  return out;
}

std::string_view Unsealed(const std::string& path, std::string_view file) {
  if (!file.starts_with(kMagic)) {
    throw std::runtime_error(path + " is not a checkpoint of adamant train (it does not begin with '" +
                             std::string(kMagic.substr(0, kMagic.size() - 3)) + "')");
  }
  const size_t newline = file.find('\n');
  if (newline == std::string_view::npos) throw std::runtime_error(path + " is damaged: its header line is malformed");
  const std::string_view header = file.substr(kMagic.size(), newline - kMagic.size());
  const size_t space = header.find(' ');
  const std::string_view length = header.substr(0, space);
  if (space == std::string_view::npos || length.empty() || length.size() > 18 ||
      length.find_first_not_of("0123456789") != std::string_view::npos || header.size() != space + 1 + kDigestChars) {
    throw std::runtime_error(path + " is damaged: its header line is malformed");
  }
  const uint64_t size = std::stoull(std::string(length));
  const std::string_view archive = file.substr(newline + 1);
  if (archive.size() != size) {
    throw std::runtime_error(path + " is damaged: it holds " + std::to_string(archive.size()) +
                             " bytes of archive where its header says " + std::to_string(size) +
                             (archive.size() < size ? " (truncated)" : ""));
  }
  if (Digest(archive) != header.substr(space + 1)) {
    throw std::runtime_error(path + " is damaged: the SHA-256 of its content does not match its header");
  }
  return archive;
}

}  // namespace adamant::app
