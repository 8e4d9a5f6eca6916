// The dataset reader: IDX structure, gzip damage, checksums, and the real files from Debian's package.
#include "fashion_mnist.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace adamant::app {
namespace {

std::string TempDir() {
  const std::string dir = ::testing::TempDir() + "/adamant_idx_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::create_directories(dir);
  return dir;
}

// An IDX file of unsigned bytes with dimensions `dims`, gzipped; `bytes` overrides the data.
std::string WriteIdx(const std::string& path, const std::vector<uint32_t>& dims, std::vector<uint8_t> data) {
  std::vector<uint8_t> file = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) file.push_back(static_cast<uint8_t>(d >> shift));
  }
  file.insert(file.end(), data.begin(), data.end());
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, file.data(), static_cast<unsigned>(file.size()));
  gzclose(f);
  return path;
}

std::string ErrorOf(const std::string& path, int rank, const char* sha = nullptr) {
  try {
    ReadIdxGz(path, rank, sha);
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(FashionMnist, ReadsIdx) {
  const std::string path = WriteIdx(TempDir() + "/a.gz", {2, 3}, {1, 2, 3, 4, 5, 6});
  const Idx idx = ReadIdxGz(path, 2, nullptr);
  EXPECT_EQ(idx.dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(idx.data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(FashionMnist, RejectsDamage) {
  const std::string dir = TempDir();
  EXPECT_NE(ErrorOf(dir + "/missing.gz", 1).find("not found; install Debian's dataset-fashion-mnist"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WriteIdx(dir + "/short.gz", {2, 3}, {1, 2, 3}), 2).find("has 3 bytes of data, its header says 6"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WriteIdx(dir + "/rank.gz", {6}, {1, 2, 3, 4, 5, 6}), 3).find("with 3 dimension(s)"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WriteIdx(dir + "/sha.gz", {1}, {7}), 1, "00").find("does not match Fashion-MNIST"),
            std::string::npos);

  // A gzip stream cut in half: gzip's own length and CRC checks catch it.
  const std::string whole = WriteIdx(dir + "/whole.gz", {1000}, std::vector<uint8_t>(1000, 42));
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/cut.gz", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  EXPECT_NE(ErrorOf(dir + "/cut.gz", 1).find("is damaged"), std::string::npos) << ErrorOf(dir + "/cut.gz", 1);
  // A flipped byte in the compressed data.
  bytes[bytes.size() - 12] ^= 0x55;
  std::ofstream(dir + "/flipped.gz", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_NE(ErrorOf(dir + "/flipped.gz", 1).find("is damaged"), std::string::npos) << ErrorOf(dir + "/flipped.gz", 1);
}

TEST(FashionMnist, MissingDirectoryNamesThePackage) {
  try {
    LoadFashionMnist("/nonexistent/fashion");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(),
                 "Fashion-MNIST not found: /nonexistent/fashion is not a directory; install Debian's "
                 "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data-dir");
  }
}

TEST(FashionMnist, DebiansFilesVerify) {
  const FashionMnist data = LoadFashionMnist(ADAMANT_FASHION_MNIST_DIR);
  EXPECT_EQ(data.train.count(), 60000);
  EXPECT_EQ(data.test.count(), 10000);
  EXPECT_EQ(data.train.images.size(), 60000u * kImagePixels);
  std::vector<int> per_class(kNumClasses);
  for (uint8_t label : data.test.labels) ++per_class[label];
  for (int c : per_class) EXPECT_EQ(c, 1000);  // Fashion-MNIST's test set is balanced
}

}  // namespace
}  // namespace adamant::app
