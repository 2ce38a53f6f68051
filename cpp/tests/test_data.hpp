// Locates ../shared/data for the C++ tests (COVEKIT_TEST_DATA overrides), like
// tests/shared_data.py does for Python. Tests GTEST_SKIP when it is missing.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace covekit::testing {

inline std::filesystem::path data_root() {
  if (const char* env = std::getenv("COVEKIT_TEST_DATA"); env && *env) return env;
  return std::filesystem::path(COVEKIT_SOURCE_DIR).parent_path() / "shared" / "data";
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace covekit::testing

#define COVEKIT_REQUIRE_DATA(path)                                                   \
  do {                                                                               \
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared test data missing: " \
                                                     << (path).string();             \
  } while (0)
