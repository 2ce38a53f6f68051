// Bindings of covekit::mmr. The vectors come in as a C-contiguous float32 (n, dim)
// matrix without a copy (other float dtypes are cast: one copy); relevance as float64.
#include <string>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/mmr.hpp"

namespace covekit::bindings {

void register_mmr(py::module_& m) {
  m.def(
      "mmr",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> vectors,
         py::array_t<double, py::array::c_style | py::array::forcecast> relevance, double lambda, std::size_t k) {
        if (vectors.ndim() != 2)
          throw InvalidInput("vectors must be a 2-D array (n, dim), got " + std::to_string(vectors.ndim()) +
                             " dimensions");
        if (relevance.ndim() != 1) throw InvalidInput("relevance must be a 1-D array");
        const auto n = static_cast<std::size_t>(vectors.shape(0));
        const auto dim = static_cast<std::size_t>(vectors.shape(1));
        if (static_cast<std::size_t>(relevance.shape(0)) != n)
          throw InvalidInput("relevance has " + std::to_string(relevance.shape(0)) + " values for " +
                             std::to_string(n) + " vectors");
        mmr::Ranked r;
        {
          py::gil_scoped_release release;
          r = mmr::rerank({vectors.data(), n * dim}, dim, {relevance.data(), n}, lambda, k);
        }
        return py::make_tuple(to_numpy(std::move(r.order)), to_numpy(std::move(r.score)));
      },
      py::arg("vectors"), py::arg("relevance"), py::arg("lambda_"), py::arg("k"),
      "Maximal marginal relevance: (order int32, score float64) of the first k picks.");
}

}  // namespace covekit::bindings
