// Standalone driver for a libFuzzer-style target, for compilers without libFuzzer (g++)
// and for ctest: runs the files named on the command line, then `--runs N` generated
// inputs (seeded, so a failure reproduces): slices of the shared corpus, random bytes,
// and corpus slices with random bytes spliced in (invalid UTF-8 included).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::filesystem::path data_root() {
  if (const char* env = std::getenv("COVEKIT_TEST_DATA"); env && *env) return env;
  return std::filesystem::path(COVEKIT_SOURCE_DIR).parent_path() / "shared" / "data";
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 1000;
  unsigned seed = 1;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::strtol(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      files.emplace_back(argv[i]);
    }
  }
  for (const auto& f : files) {
    const std::string s = read(f);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::string corpus;
  const auto root = data_root() / "corpus";
  if (std::filesystem::exists(root))
    for (const auto& e : std::filesystem::recursive_directory_iterator(root))
      if (e.is_regular_file() && e.path().extension() == ".txt") corpus += read(e.path()).substr(0, 50000);
  if (corpus.empty()) corpus = "The quick brown fox \xE4\xB8\xAD\xE6\x96\x87 \xE0\xB8\x81\xE0\xB8\xB2 123 \r\n\n  !!";
  std::mt19937_64 rng(seed);
  for (long k = 0; k < runs; ++k) {
    std::string s;
    const std::size_t n = rng() % (k % 50 == 0 ? 5000 : 300);
    const std::size_t at = rng() % corpus.size();
    switch (k % 3) {
      case 0:  // a corpus slice
        s = corpus.substr(at, n);
        break;
      case 1:  // random bytes, biased to ASCII and UTF-8 lead/continuation bytes
        for (std::size_t i = 0; i < n; ++i) {
          const unsigned r = static_cast<unsigned>(rng() % 4);
          s.push_back(static_cast<char>(r == 0 ? rng() % 256 : r == 1 ? 0x80 + rng() % 64 : 0x20 + rng() % 95));
        }
        break;
      default:  // a corpus slice with random bytes spliced in
        s = corpus.substr(at, n);
        for (std::size_t i = 0; i < s.size(); i += 1 + rng() % 40) s[i] = static_cast<char>(rng() % 256);
        break;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::printf("ran %zu files and %ld generated inputs (seed %u)\n", files.size(), runs, seed);
  return 0;
}
