// Writes the fuzzer's seed corpus (SeedCorpus()) into a directory: `make fuzz-corpus` regenerates
// fuzz/corpus with it, and checkpoint_corpus_test checks that the committed files are its output.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "fuzz/checkpoint_harness.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " DIRECTORY\n";
    return 2;
  }
  for (const auto& [name, bytes] : adamant::fuzz::SeedCorpus()) {
    const std::string path = std::string(argv[1]) + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::cerr << "cannot write " << path << "\n";
      return 1;
    }
  }
  return 0;
}
