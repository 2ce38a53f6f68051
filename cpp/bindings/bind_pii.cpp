// Bindings of covekit::pii: a scanner configured once, scanning a str (or UTF-8 bytes)
// or a batch of them on native threads with the GIL released. Findings come back as
// (entity, start, end, score, rule) tuples with str offsets (code points).
#include <pybind11/stl.h>

#include <array>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/parallel.hpp"
#include "covekit/pii.hpp"

namespace covekit::bindings {

namespace {

struct Scanned {
  std::vector<pii::Finding> findings;
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // code points
};

Scanned scan_one(const pii::Scanner& s, std::string_view text) {
  Scanned r;
  r.findings = s.scan_valid(text);  // str is valid UTF-8; bytes were validated on conversion
  r.spans = pii::code_point_spans(text, r.findings);
  return r;
}

// One py::str per entity name, made once per call.
struct Names {
  std::array<py::str, pii::kEntityCount> names;
  Names() {
    for (std::size_t i = 0; i < pii::kEntityCount; ++i) {
      const std::string_view n = pii::entity_name(static_cast<pii::Entity>(i));
      names[i] = py::str(n.data(), n.size());
    }
  }
};

py::list to_python(const Scanned& r, const Names& names) {
  py::list out(r.findings.size());
  for (std::size_t i = 0; i < r.findings.size(); ++i) {
    const pii::Finding& f = r.findings[i];
    out[i] = py::make_tuple(names.names[static_cast<std::size_t>(f.entity)], r.spans[i].first, r.spans[i].second,
                            f.score, py::str(f.rule.data(), f.rule.size()));
  }
  return out;
}

pii::Config make_config(const std::optional<std::vector<std::string>>& entities,
                        const std::map<std::string, double>& min_scores, std::size_t context_window,
                        std::size_t secret_min_length, double secret_min_entropy, double secret_min_entropy_hex) {
  auto parse = [](const std::string& name) {
    const auto e = pii::entity_from_name(name);
    if (!e) throw InvalidInput("unknown PII entity '" + name + "'; see covekit.ENTITIES for the names");
    return static_cast<std::size_t>(*e);
  };
  pii::Config c;
  if (entities) {
    c.enabled.fill(false);
    for (const std::string& name : *entities) c.enabled[parse(name)] = true;
  }
  for (const auto& [name, score] : min_scores) c.min_score[parse(name)] = score;
  c.context_window = context_window;
  c.secret_min_length = secret_min_length;
  c.secret_min_entropy = secret_min_entropy;
  c.secret_min_entropy_hex = secret_min_entropy_hex;
  return c;
}

}  // namespace

void register_pii(py::module_& m) {
  m.def(
      "pii_entities",
      [] {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < pii::kEntityCount; ++i)
          out.emplace_back(pii::entity_name(static_cast<pii::Entity>(i)));
        return out;
      },
      "The names of the entities the PII scanner knows, in its order.");

  py::class_<pii::Scanner>(m, "PiiScanner", "A PII and secret scanner with a fixed configuration.")
      .def(py::init([](const std::optional<std::vector<std::string>>& entities,
                       const std::map<std::string, double>& min_scores, std::size_t context_window,
                       std::size_t secret_min_length, double secret_min_entropy, double secret_min_entropy_hex) {
             return pii::Scanner(make_config(entities, min_scores, context_window, secret_min_length,
                                             secret_min_entropy, secret_min_entropy_hex));
           }),
           py::arg("entities") = py::none(),
           py::arg("min_scores") = std::map<std::string, double>{}, py::arg("context_window") = 48,
           py::arg("secret_min_length") = 8, py::arg("secret_min_entropy") = 3.0,
           py::arg("secret_min_entropy_hex") = 2.5)
      .def(
          "scan",
          [](const pii::Scanner& s, py::handle text) {
            const Utf8Text t = as_utf8_text(text);
            Scanned r;
            {
              py::gil_scoped_release release;
              r = scan_one(s, t.view);
            }
            return to_python(r, Names());
          },
          py::arg("text"), "Findings (entity, start, end, score, rule) of one text, str offsets.")
      .def(
          "scan_batch",
          [](const pii::Scanner& s, py::handle texts, std::size_t num_threads) {
            if (num_threads < 1) throw InvalidInput("num_threads must be >= 1, got 0");
            TextBatch batch(utf8_texts(texts, "each text"));
            std::vector<Scanned> results(batch.views.size());
            {
              py::gil_scoped_release release;
              parallel::parallel_for(batch.views.size(), parallel::resolve_threads(num_threads, batch.views.size()),
                                     [&](std::size_t i) { results[i] = scan_one(s, batch.views[i]); });
            }
            const Names names;
            py::list out(results.size());
            for (std::size_t i = 0; i < results.size(); ++i) out[i] = to_python(results[i], names);
            return out;
          },
          py::arg("texts"), py::arg("num_threads") = 1, "scan() of each text, on num_threads native threads.")
      .def("__repr__", [](const pii::Scanner& s) {
        std::size_t on = 0;
        for (bool b : s.config().enabled) on += b;
        return "<covekit._core.PiiScanner entities=" + std::to_string(on) + ">";
      });
}

}  // namespace covekit::bindings
