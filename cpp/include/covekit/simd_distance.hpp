// Distance kernels for the vector index, picked at run time for the CPU: AVX-512, else
// AVX2 with FMA, else a portable loop. A wheel is built without -march=native, so the
// kernels carry their own target attributes and one is chosen when the index is made,
// the way numpy and faiss dispatch. Each kernel has hnswlib's distance signature and
// meaning: inner-product distance 1 - <a, b>, and squared Euclidean distance.
#pragma once

#include <cstddef>
#include <string_view>

namespace covekit::simd {

using DistFunc = float (*)(const void* a, const void* b, const void* dim);

enum class Level { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

// The best level this CPU supports (COVEKIT_SIMD=portable|avx2|avx512 caps it).
[[nodiscard]] Level detect();
[[nodiscard]] std::string_view level_name(Level l);

[[nodiscard]] DistFunc ip_distance(Level l);
[[nodiscard]] DistFunc l2_distance(Level l);


}  // namespace covekit::simd
