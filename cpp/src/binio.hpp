// Private helpers of the index file formats: little-endian PODs and length-prefixed
// strings appended to a std::string, read back from a string_view that is consumed.
// Every read checks the remaining length and throws IndexFileCorrupt.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "covekit/errors.hpp"

namespace covekit::binio {

static_assert(std::endian::native == std::endian::little, "covekit index files are little-endian");

template <class T>
void put(std::string& out, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

inline void put_bytes(std::string& out, const void* p, std::size_t n) {
  out.append(static_cast<const char*>(p), n);
}

inline void put_str(std::string& out, std::string_view s) {
  put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

[[noreturn]] inline void truncated(const char* what) {
  throw IndexFileCorrupt(std::string("index data is truncated or corrupt (while reading ") + what +
                         "); restore the file from a backup or rebuild the index");
}

template <class T>
T get(std::string_view& in, const char* what) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (in.size() < sizeof(T)) truncated(what);
  T v;
  std::memcpy(&v, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return v;
}

inline std::string_view get_bytes(std::string_view& in, std::size_t n, const char* what) {
  if (in.size() < n) truncated(what);
  std::string_view r = in.substr(0, n);
  in.remove_prefix(n);
  return r;
}

inline std::string get_str(std::string_view& in, const char* what) {
  const auto n = get<uint32_t>(in, what);
  return std::string(get_bytes(in, n, what));
}

}  // namespace covekit::binio
