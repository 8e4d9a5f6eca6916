// checkpoint.pt's envelope (sealed_file.h): every change to a sealed file is refused with a message naming
// it: each bit of the header, each byte of the content, every truncation, anything appended.
#include "sealed_file.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace adamant::app {
namespace {

std::string ErrorOf(std::string_view file) {
  try {
    Unsealed("run/checkpoint.pt", file);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string Content() {
  std::string content;
  for (int i = 0; i < 3000; ++i) content += static_cast<char>((i * 37 + i / 7) & 0xff);
  return content;
}

TEST(SealedFile, RoundTrips) {
  const std::string content = Content();
  const std::string file = Sealed(content);
  EXPECT_TRUE(file.starts_with("adamant-train-checkpoint 1 3000 "));
  EXPECT_EQ(Unsealed("x", file), content);
  EXPECT_EQ(Unsealed("x", Sealed("")), "");
}

TEST(SealedFile, EveryFlippedBitAndByteIsRefused) {
  const std::string file = Sealed(Content());
  const size_t header = file.find('\n') + 1;
  for (size_t pos = 0; pos < file.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      if (pos >= header && bit > 0) break;  // the content: one bit per byte
      std::string damaged = file;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << bit));
      const std::string msg = ErrorOf(damaged);
      ASSERT_TRUE(msg.starts_with("run/checkpoint.pt is ")) << pos << ":" << bit << ": " << msg;
      ASSERT_TRUE(msg.find("damaged") != std::string::npos || msg.find("not a checkpoint") != std::string::npos)
          << msg;
    }
  }
}

TEST(SealedFile, TruncationsAndAppendsAreRefused) {
  const std::string file = Sealed(Content());
  for (size_t size = 0; size < file.size(); ++size) {
    ASSERT_TRUE(ErrorOf(file.substr(0, size)).starts_with("run/checkpoint.pt is ")) << size;
  }
  EXPECT_EQ(ErrorOf(file.substr(0, file.size() - 1)),
            "run/checkpoint.pt is damaged: it holds 2999 bytes of archive where its header says 3000 (truncated)");
  EXPECT_EQ(ErrorOf(file + "x"), "run/checkpoint.pt is damaged: it holds 3001 bytes of archive where its header says 3000");
  EXPECT_EQ(ErrorOf("PK\x03\x04 a bare libtorch archive"),
            "run/checkpoint.pt is not a checkpoint of adamant train (it does not begin with 'adamant-train-checkpoint')");
  EXPECT_EQ(ErrorOf("adamant-train-checkpoint 1 99999999999999999999 00\n"),
            "run/checkpoint.pt is damaged: its header line is malformed");
}

}  // namespace
}  // namespace adamant::app
