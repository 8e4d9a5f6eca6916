// The fuzzer's corpus in the normal test suite: the committed seeds are the generator's output, and every
// seed and every regression case (inputs the fuzzer once found, fuzz/regressions) passes its harness.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "adamant/checkpoint.h"
#include "fuzz/checkpoint_harness.h"

namespace adamant::fuzz {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<fs::path> Files(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

const fs::path kFuzzDir = ADAMANT_FUZZ_DIR;

TEST(CheckpointCorpus, CommittedSeedsAreTheGeneratorsOutput) {
  std::set<std::string> expected;
  for (const auto& [name, bytes] : SeedCorpus()) {
    expected.insert(name);
    const fs::path path = kFuzzDir / "corpus" / name;
    ASSERT_TRUE(fs::exists(path)) << path << " is missing: run make fuzz-corpus";
    EXPECT_TRUE(ReadFile(path) == bytes) << path << " differs from SeedCorpus(): run make fuzz-corpus";
  }
  for (const fs::path& path : Files(kFuzzDir / "corpus")) {
    EXPECT_TRUE(expected.count(path.filename().string())) << path << " does not come from SeedCorpus()";
  }
}

TEST(CheckpointCorpus, ValidSeedsLoadAndDamagedOnesDoNot) {
  for (const auto& [name, bytes] : SeedCorpus()) {
    const bool damaged = name.starts_with("damaged_");
    const std::string algorithm = name.substr(0, name.find_first_of("._"));
    Model model = Model::Small();
    auto opt = MakeOptimizer(damaged ? "adam" : algorithm, model);
    const auto loads = [&] {
      try {
        DeserializeState(*opt, bytes);
      } catch (const CheckpointError&) {
        return false;
      }
      return true;
    };
    if (name.find("_range") != std::string::npos) {
      // State of ranges of the groups' elements: refused by an optimizer of whole groups, loaded by one
      // restricted alike.
      EXPECT_FALSE(loads()) << name;
      ApplyFileRanges(*opt, bytes);
    }
    EXPECT_EQ(loads(), !damaged) << name;
  }
}

TEST(CheckpointCorpus, EverySeedPassesTheHarness) {
  for (const auto& [name, bytes] : SeedCorpus()) EXPECT_EQ(CheckCheckpointInput(bytes), "") << name;
}

TEST(CheckpointCorpus, EveryRegressionCasePassesTheHarness) {
  for (const fs::path& path : Files(kFuzzDir / "regressions")) {
    EXPECT_EQ(CheckCheckpointInput(ReadFile(path)), "") << path;
  }
}

}  // namespace
}  // namespace adamant::fuzz
