// Bindings of covekit::vector::VectorIndex. Arrays come in by buffer without copying
// when they are C-contiguous float32 (other float dtypes are cast: one copy); ids are
// C-contiguous uint64. Every call into the core runs with the GIL released; results go
// out as numpy arrays that own the core's buffers (no copy).
#include <algorithm>
#include <string>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/vector_index.hpp"
#include "py_filter.hpp"

namespace covekit::bindings {

namespace {

using vector::VectorIndex;

// Rows per add() call of a big batch (Ctrl-C is checked between calls).
constexpr std::size_t kAddChunk = 16384;

struct PyVectorIndex {
  std::unique_ptr<VectorIndex> core;
};

std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

// A (n, dim) float32 matrix; 1-D input of length dim is one row.
struct Matrix {
  py::array keep;
  const float* data = nullptr;
  std::size_t rows = 0;
};

Matrix as_matrix(py::handle obj, std::size_t dim, const char* what) {
  if (!py::isinstance<py::array>(obj))
    throw InvalidInput(std::string(what) + " must be a numpy array of shape (n, " + std::to_string(dim) +
                       "), not " + type_name(obj) + " (use np.asarray(x, dtype=np.float32))");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  const char kind = a.dtype().kind();
  if (kind != 'f')
    throw InvalidInput(std::string(what) + " must hold floats (float32, no copy), not dtype " +
                       std::string(py::str(a.dtype())));
  if (a.ndim() != 2 && a.ndim() != 1)
    throw InvalidInput(std::string(what) + " must be 2-D (n, " + std::to_string(dim) + "), got " +
                       std::to_string(a.ndim()) + " dimensions");
  const std::size_t cols = static_cast<std::size_t>(a.shape(a.ndim() - 1));
  if (cols != dim)
    throw InvalidInput(std::string(what) + " has " + std::to_string(cols) + " columns; this index has dim=" +
                       std::to_string(dim));
  if (!(a.flags() & py::array::c_style))
    throw InvalidInput(std::string(what) +
                       " is not C-contiguous (a slice or a transpose?); pass np.ascontiguousarray(x)");
  Matrix m;
  if (!a.dtype().is(py::dtype::of<float>())) a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!a) throw py::error_already_set();
  m.keep = a;
  m.data = static_cast<const float*>(a.data());
  m.rows = a.ndim() == 2 ? static_cast<std::size_t>(a.shape(0)) : 1;
  return m;
}

struct Ids {
  py::array keep;
  std::span<const uint64_t> view;
};

Ids as_ids(py::handle obj) {
  if (!py::isinstance<py::array>(obj)) throw InvalidInput("ids must be a numpy uint64 array, not " + type_name(obj));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<uint64_t>()))
    throw InvalidInput("ids must have dtype uint64, not " + std::string(py::str(a.dtype())));
  if (a.ndim() != 1) throw InvalidInput("ids must be 1-D");
  if (!(a.flags() & py::array::c_style)) throw InvalidInput("ids is not C-contiguous; pass np.ascontiguousarray(ids)");
  return {a, std::span<const uint64_t>(static_cast<const uint64_t*>(a.data()), static_cast<std::size_t>(a.shape(0)))};
}

std::size_t threads_arg(py::handle obj) {
  if (obj.is_none()) return 0;
  const long long t = obj.cast<long long>();
  if (t < 1) throw InvalidInput("num_threads must be >= 1 or None (all cores)");
  return static_cast<std::size_t>(t);
}

py::object reshaped(py::array a, std::size_t rows, std::size_t cols) {
  return a.attr("reshape")(py::make_tuple(rows, cols));
}

}  // namespace

void register_vector_index(py::module_& m) {
  py::class_<PyVectorIndex>(m, "VectorIndex", "HNSW vector index (native core of covekit.VectorIndex).")
      .def(py::init([](std::size_t dim, const std::string& metric, std::size_t M, std::size_t ef_construction,
                       uint64_t seed) {
             vector::Options o;
             o.dim = dim;
             o.metric = vector::parse_metric(metric);
             o.M = M;
             o.ef_construction = ef_construction;
             o.seed = seed;
             return PyVectorIndex{std::make_unique<VectorIndex>(o)};
           }),
           py::arg("dim"), py::arg("metric"), py::arg("M"), py::arg("ef_construction"), py::arg("seed"))
      .def_property_readonly("dim", [](const PyVectorIndex& s) { return s.core->options().dim; })
      .def_property_readonly("metric", [](const PyVectorIndex& s) { return vector::metric_name(s.core->options().metric); })
      .def_property_readonly("M", [](const PyVectorIndex& s) { return s.core->options().M; })
      .def_property_readonly("ef_construction", [](const PyVectorIndex& s) { return s.core->options().ef_construction; })
      .def_property_readonly("seed", [](const PyVectorIndex& s) { return s.core->options().seed; })
      .def_property_readonly("capacity", [](const PyVectorIndex& s) { return s.core->capacity(); })
      .def_property(
          "ef", [](const PyVectorIndex& s) { return s.core->ef(); },
          [](PyVectorIndex& s, std::size_t ef) { s.core->set_ef(ef); })
      .def_property(
          "exact_scale", [](const PyVectorIndex& s) { return s.core->exact_scale(); },
          [](PyVectorIndex& s, double x) { s.core->set_exact_scale(x); })
      .def("exact_cutoff", [](const PyVectorIndex& s, std::size_t k, std::size_t ef) { return s.core->exact_cutoff(k, ef); },
           py::arg("k"), py::arg("ef"))
      .def("__len__", [](const PyVectorIndex& s) { return s.core->size(); })
      .def("contains", [](const PyVectorIndex& s, uint64_t id) { return s.core->contains(id); }, py::arg("id"))
      .def(
          "add",
          [](PyVectorIndex& s, py::handle ids, py::handle vectors, py::handle attributes, py::handle num_threads) {
            Ids i = as_ids(ids);
            Matrix v = as_matrix(vectors, s.core->options().dim, "vectors");
            if (v.rows != i.view.size())
              throw InvalidInput("got " + std::to_string(i.view.size()) + " ids for " + std::to_string(v.rows) +
                                 " vectors; pass one id per row");
            auto attrs = parse_attribute_list(attributes, i.view.size());
            const std::size_t t = threads_arg(num_threads);
            const std::size_t n = i.view.size(), dim = s.core->options().dim;
            if (n <= kAddChunk) {
              py::gil_scoped_release r;
              s.core->add(i.view, v.data, attrs, t);
              return;
            }
            // A big batch goes in chunks so that Ctrl-C can stop it in between (the
            // chunks already added stay); the ids are checked once, up front.
            {
              py::gil_scoped_release r;
              s.core->check_new_ids(i.view);
            }
            for (std::size_t start = 0; start < n; start += kAddChunk) {
              const std::size_t m = std::min(kAddChunk, n - start);
              {
                py::gil_scoped_release r;
                s.core->add(i.view.subspan(start, m), v.data + start * dim,
                            attrs.empty() ? std::span<const filter::Attributes>{}
                                          : std::span<const filter::Attributes>(attrs).subspan(start, m),
                            t);
              }
              if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            }
          },
          py::arg("ids"), py::arg("vectors"), py::arg("attributes"), py::arg("num_threads"))
      .def(
          "update",
          [](PyVectorIndex& s, py::handle ids, py::handle vectors, py::handle attributes) {
            Ids i = as_ids(ids);
            Matrix v = as_matrix(vectors, s.core->options().dim, "vectors");
            if (v.rows != i.view.size()) throw InvalidInput("pass one id per row of vectors");
            auto attrs = parse_attribute_list(attributes, i.view.size());
            py::gil_scoped_release r;
            s.core->update(i.view, v.data, attrs);
          },
          py::arg("ids"), py::arg("vectors"), py::arg("attributes"))
      .def(
          "set_attributes",
          [](PyVectorIndex& s, py::handle ids, py::handle attributes) {
            Ids i = as_ids(ids);
            if (attributes.is_none()) throw InvalidInput("attributes: pass one dict per id ({} clears them)");
            auto attrs = parse_attribute_list(attributes, i.view.size());
            py::gil_scoped_release r;
            s.core->set_attributes(i.view, attrs);
          },
          py::arg("ids"), py::arg("attributes"))
      .def(
          "delete",
          [](PyVectorIndex& s, py::handle ids, bool missing_ok) {
            Ids i = as_ids(ids);
            py::gil_scoped_release r;
            return s.core->remove(i.view, missing_ok);
          },
          py::arg("ids"), py::arg("missing_ok"))
      .def(
          "search",
          [](const PyVectorIndex& s, py::handle queries, std::size_t k, std::size_t ef, py::handle filter,
             py::handle num_threads) {
            Matrix q = as_matrix(queries, s.core->options().dim, "queries");
            const filter::Expr* f = as_filter(filter);
            const std::size_t t = threads_arg(num_threads);
            vector::SearchResult r;
            vector::SearchInfo info;
            {
              py::gil_scoped_release release;
              r = s.core->search(q.data, q.rows, k, ef, f, t, &info);
            }
            py::dict d;
            d["exact"] = info.exact;
            d["graph"] = info.graph;
            d["fallback"] = info.fallback;
            d["allowed"] = info.allowed;
            return py::make_tuple(reshaped(to_numpy(std::move(r.ids)), r.nq, r.k),
                                  reshaped(to_numpy(std::move(r.scores)), r.nq, r.k), d);
          },
          py::arg("queries"), py::arg("k"), py::arg("ef"), py::arg("filter"), py::arg("num_threads"),
          "(ids (nq, k) uint64, scores (nq, k) float32, plan counts).")
      .def("ids",
           [](const PyVectorIndex& s) {
             std::vector<uint64_t> ids;
             {
               py::gil_scoped_release r;
               ids = s.core->ids();
             }
             return to_numpy(std::move(ids));
           })
      .def("attributes", [](const PyVectorIndex& s, uint64_t id) { return attributes_to_dict(s.core->attributes(id)); },
           py::arg("id"))
      .def("vector", [](const PyVectorIndex& s, uint64_t id) { return to_numpy(s.core->vector(id)); }, py::arg("id"))
      .def(
          "vectors",
          [](const PyVectorIndex& s, py::array_t<uint64_t, py::array::c_style | py::array::forcecast> ids) {
            if (ids.ndim() != 1) throw InvalidInput("ids must be a 1-D array");
            const auto n = static_cast<std::size_t>(ids.shape(0));
            const std::size_t dim = s.core->options().dim;
            py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(dim)});
            float* dst = out.mutable_data();
            {
              py::gil_scoped_release release;
              s.core->vectors({ids.data(), n}, dst);
            }
            return out;
          },
          py::arg("ids"))
      .def("to_bytes",
           [](const PyVectorIndex& s) {
             std::string b;
             {
               py::gil_scoped_release r;
               b = s.core->serialize();
             }
             return py::bytes(b);
           })
      .def_static(
          "from_bytes",
          [](py::handle data) {
            Utf8Text b = as_bytes_like(data, "data");
            std::unique_ptr<VectorIndex> idx;
            {
              py::gil_scoped_release r;
              idx = VectorIndex::deserialize(b.view);
            }
            return PyVectorIndex{std::move(idx)};
          },
          py::arg("data"))
      .def(
          "save",
          [](const PyVectorIndex& s, const std::string& path) {
            py::gil_scoped_release r;
            s.core->save(path);
          },
          py::arg("path"))
      .def_static(
          "load",
          [](const std::string& path) {
            std::unique_ptr<VectorIndex> idx;
            {
              py::gil_scoped_release r;
              idx = VectorIndex::load(path);
            }
            return PyVectorIndex{std::move(idx)};
          },
          py::arg("path"));
}

}  // namespace covekit::bindings
