#include "fashion_mnist.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sha256.h"

namespace adamant::app {
namespace {

// SHA-256 of each decompressed file, as Zalando published them. (Debian recompressed the .gz files, so the
// upstream MD5s of the compressed files do not apply; the content is the same.)
struct File {
  const char* name;
  int rank;
  const char* sha256;
};
constexpr File kTrainImages = {"train-images-idx3-ubyte.gz", 3,
                               "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"};
constexpr File kTrainLabels = {"train-labels-idx1-ubyte.gz", 1,
                               "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"};
constexpr File kTestImages = {"t10k-images-idx3-ubyte.gz", 3,
                              "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"};
constexpr File kTestLabels = {"t10k-labels-idx1-ubyte.gz", 1,
                              "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"};

constexpr const char* kInstallHint =
    "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data-dir";

std::vector<uint8_t> Gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw DataError("cannot open " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t chunk[1 << 16];
  while (true) {
    const int n = gzread(f, chunk, sizeof(chunk));
    if (n < 0) {
      int code = 0;
      const std::string what = gzerror(f, &code);
      gzclose(f);
      throw DataError(path + " is damaged (" + what + "); " + kInstallHint);
    }
    if (n == 0) break;
    out.insert(out.end(), chunk, chunk + n);
  }
  // gzread reports a truncated stream or a bad CRC at the end only through gzclose/gzerror.
  const int close = gzclose(f);
  if (close != Z_OK) throw DataError(path + " is damaged (truncated or bad gzip checksum); " + kInstallHint);
  return out;
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

Split ReadSplit(const std::string& dir, const File& images_file, const File& labels_file, bool verify) {
  Idx images = ReadIdxGz(dir + "/" + images_file.name, images_file.rank, verify ? images_file.sha256 : nullptr);
  Idx labels = ReadIdxGz(dir + "/" + labels_file.name, labels_file.rank, verify ? labels_file.sha256 : nullptr);
  if (images.dims[1] != kImageSide || images.dims[2] != kImageSide) {
    throw DataError(dir + "/" + images_file.name + " holds " + std::to_string(images.dims[1]) + "x" +
                    std::to_string(images.dims[2]) + " images, not 28x28");
  }
  if (images.dims[0] != labels.dims[0]) {
    throw DataError(dir + "/" + images_file.name + " has " + std::to_string(images.dims[0]) + " images but " +
                    labels_file.name + " has " + std::to_string(labels.dims[0]) + " labels");
  }
  for (uint8_t label : labels.data) {
    if (label >= kNumClasses) {
      throw DataError(dir + "/" + labels_file.name + " has label " + std::to_string(label) + " (expected 0..9)");
    }
  }
  return {std::move(images.data), std::move(labels.data)};
}

}  // namespace

Idx ReadIdxGz(const std::string& path, int expected_rank, const char* expected_sha256) {
  if (!std::filesystem::exists(path)) {
    throw DataError("Fashion-MNIST file " + path + " not found; " + kInstallHint);
  }
  std::vector<uint8_t> bytes = Gunzip(path);
  if (expected_sha256 != nullptr) {
    Sha256 sha;
    sha.Update(bytes.data(), bytes.size());
    const std::string digest = sha.HexDigest();
    if (digest != expected_sha256) {
      throw DataError(path + " does not match Fashion-MNIST (SHA-256 " + digest + ", expected " + expected_sha256 +
                      "); " + kInstallHint);
    }
  }
  // IDX: two zero bytes, type 0x08 (unsigned byte), rank, then rank big-endian 32-bit dimensions.
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] != expected_rank) {
    throw DataError(path + " is not an IDX file of unsigned bytes with " + std::to_string(expected_rank) +
                    " dimension(s)");
  }
  const size_t header = 4 + 4 * static_cast<size_t>(expected_rank);
  if (bytes.size() < header) throw DataError(path + " is truncated (incomplete IDX header)");
  Idx idx;
  size_t expected = 1;
  for (int d = 0; d < expected_rank; ++d) {
    idx.dims.push_back(BigEndian32(bytes.data() + 4 + 4 * d));
    expected *= static_cast<size_t>(idx.dims.back());
  }
  if (bytes.size() - header != expected) {
    throw DataError(path + " has " + std::to_string(bytes.size() - header) + " bytes of data, its header says " +
                    std::to_string(expected));
  }
  idx.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return idx;
}

FashionMnist LoadFashionMnist(const std::string& dir, bool verify_checksums) {
  if (!std::filesystem::is_directory(dir)) {
    throw DataError("Fashion-MNIST not found: " + dir + " is not a directory; " + kInstallHint);
  }
  return {ReadSplit(dir, kTrainImages, kTrainLabels, verify_checksums),
          ReadSplit(dir, kTestImages, kTestLabels, verify_checksums)};
}

}  // namespace adamant::app
