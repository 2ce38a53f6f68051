#include <string>
#include <vector>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/hash.hpp"

namespace covekit::bindings {

namespace {

py::int_ to_int128(hash::Hash128 h) {
  py::int_ high(h.high), low(h.low);
  return py::reinterpret_steal<py::int_>(
      PyNumber_Or(py::reinterpret_steal<py::object>(PyNumber_Lshift(high.ptr(), py::int_(64).ptr())).ptr(),
                  low.ptr()));
}

}  // namespace

void register_hash(py::module_& m) {
  m.def(
      "xxh3_64",
      [](py::handle data, uint64_t seed) {
        Utf8Text t = as_bytes_like(data);
        if (t.view.size() < (1u << 16)) return hash::xxh3_64(t.view, seed);
        py::gil_scoped_release release;
        return hash::xxh3_64(t.view, seed);
      },
      py::arg("data"), py::arg("seed") = 0,
      "XXH3-64 of bytes (a str is hashed as its UTF-8).");
  m.def(
      "xxh3_128",
      [](py::handle data, uint64_t seed) {
        Utf8Text t = as_bytes_like(data);
        hash::Hash128 h{};
        if (t.view.size() < (1u << 16)) {
          h = hash::xxh3_128(t.view, seed);
        } else {
          py::gil_scoped_release release;
          h = hash::xxh3_128(t.view, seed);
        }
        return to_int128(h);
      },
      py::arg("data"), py::arg("seed") = 0,
      "XXH3-128 of bytes (a str is hashed as its UTF-8), as a 128-bit int.");
  m.def(
      "xxh3_64_batch",
      [](py::iterable items, uint64_t seed) {
        std::vector<Utf8Text> texts;
        for (py::handle item : items) texts.push_back(as_bytes_like(item, "each item"));
        std::vector<uint64_t> out(texts.size());
        {
          py::gil_scoped_release release;
          for (std::size_t i = 0; i < texts.size(); ++i) out[i] = hash::xxh3_64(texts[i].view, seed);
        }
        return to_numpy(std::move(out));
      },
      py::arg("items"), py::arg("seed") = 0,
      "XXH3-64 of each item, as a numpy uint64 array.");
}

}  // namespace covekit::bindings
