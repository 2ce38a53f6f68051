// The JSON Schema compiler: indexes every schema resource ($id, $anchor, $dynamicAnchor,
// $recursiveAnchor), resolves every $ref at compile time (cycles are fine: a subschema is
// compiled once and referred to by index), and turns each subschema into a short list of
// typed instructions, cheap checks first. Remote documents come only from the registry
// and the built-in metaschemas.
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "covekit/errors.hpp"
#include "covekit/json_schema_eval.hpp"
#include "json_schema_internal.hpp"

namespace covekit::json_schema_detail {

namespace {

constexpr std::size_t kMaxCompileDepth = 2000;
constexpr std::size_t kSmallProperties = 8;  // up to this many: length + memcmp scan

using Kind = JsonValue::Kind;

std::string escape_token(std::string_view t) {
  std::string s;
  append_pointer_token(s, t);
  return s;
}

struct Info {
  int resource = -1;
  std::string base;         // base URI in effect
  std::string pointer;      // from the document root (for SchemaError)
  std::string rel_pointer;  // from the resource root (for absolute locations)
  std::string doc;          // retrieval URI of the document ("" for the root schema)
  Draft draft = Draft::Draft2020;
  bool validation = true;   // the validation vocabulary is on
};

struct Res {
  std::string uri;
  const JsonValue* root = nullptr;
  std::unordered_map<std::string, const JsonValue*> anchors;
  std::unordered_map<std::string, const JsonValue*> dynamic;
  bool recursive = false;
};

const std::vector<std::pair<std::string, JsonValue>>& parsed_builtins() {
  static const std::vector<std::pair<std::string, JsonValue>> docs = [] {
    std::vector<std::pair<std::string, JsonValue>> out;
    for (const auto& [uri, text] : builtin_metaschemas()) out.emplace_back(std::string(uri), parse_json_value(text));
    return out;
  }();
  return docs;
}

bool is_number(const JsonValue* v) { return v && v->kind == Kind::Number; }

class Compiler {
 public:
  Compiler(const std::vector<std::pair<std::string, JsonValue>>& registry, SchemaOptions options)
      : options_(options) {
    for (const auto& [uri, doc] : registry) pending_[resolve_uri("", uri)] = &doc;
    for (const auto& [uri, doc] : parsed_builtins()) pending_.emplace(uri, &doc);
    prog_ = std::make_shared<Program>();
    prog_->options = options;
  }

  std::shared_ptr<Program> run(const JsonValue& root) {
    Info ctx;
    index_document(root, "", ctx);
    prog_->root = compile(&root, 0);
    // Dynamic anchors and recursive anchors of every resource seen, to fixpoint (compiling
    // them may load more documents).
    for (;;) {
      bool changed = false;
      for (std::size_t r = 0; r < res_.size(); ++r) {
        for (const auto& [name, v] : res_[r].dynamic) {
          if (resources_done_.count({r, name})) continue;
          resources_done_.insert({r, name});
          changed = true;
          const int node = compile(v, 0);
          prog_->resources[r].dynamic_anchors[name] = node;
        }
        prog_->resources[r].recursive_anchor = res_[r].recursive;
        if (res_[r].recursive && prog_->resources[r].root < 0) {
          changed = true;
          prog_->resources[r].root = compile(res_[r].root, 0);
        }
      }
      if (!changed) break;
    }
    return prog_;
  }

 private:
  struct PairHash {
    std::size_t operator()(const std::pair<std::size_t, std::string>& p) const noexcept {
      return std::hash<std::string>()(p.second) ^ (p.first * 0x9E3779B97F4A7C15ull);
    }
  };

  [[noreturn]] void error(const std::string& what, const Info& info, std::string_view suffix = {}) const {
    const std::string ptr = info.pointer + std::string(suffix);
    std::string msg = "invalid schema at " + (ptr.empty() ? std::string("the root") : "\"" + ptr + "\"");
    if (!info.doc.empty()) msg += " of " + info.doc;
    throw SchemaError(msg + ": " + what, ptr);
  }

  int new_resource(const std::string& uri, const JsonValue* root) {
    res_.push_back(Res{uri, root, {}, {}, false});
    Resource r;
    r.uri = uri;
    prog_->resources.push_back(std::move(r));
    const int id = static_cast<int>(res_.size() - 1);
    res_by_uri_.emplace(uri, id);
    return id;
  }

  // Draft and vocabulary named by a $schema value.
  void apply_schema_keyword(const JsonValue& v, Info& info) {
    const JsonValue* s = v.find("$schema");
    if (!s) return;
    if (s->kind != Kind::String) error("$schema must be a string", info, "/$schema");
    const std::string uri = split_fragment(resolve_uri("", s->text)).first;
    if (uri == "https://json-schema.org/draft/2020-12/schema") {
      info.draft = Draft::Draft2020;
    } else if (uri == "https://json-schema.org/draft/2019-09/schema") {
      info.draft = Draft::Draft2019;
    } else if (uri == "http://json-schema.org/draft-07/schema") {
      info.draft = Draft::Draft7;
    } else {
      auto it = pending_.find(uri);
      const JsonValue* meta = it != pending_.end() ? it->second : nullptr;
      if (!meta) {
        auto r = res_by_uri_.find(uri);
        if (r != res_by_uri_.end()) meta = res_[static_cast<std::size_t>(r->second)].root;
      }
      if (!meta || meta->kind != Kind::Object)
        error("unsupported $schema \"" + s->text +
                  "\" (covekit knows draft 2020-12, 2019-09 and 7; pass a custom metaschema in the registry)",
              info, "/$schema");
      Info meta_info;
      apply_schema_keyword(*meta, meta_info);
      info.draft = meta_info.draft;
      if (const JsonValue* vocab = meta->find("$vocabulary"); vocab && vocab->kind == Kind::Object) {
        info.validation = vocab->find("https://json-schema.org/draft/2020-12/vocab/validation") ||
                          vocab->find("https://json-schema.org/draft/2019-09/vocab/validation");
      }
    }
  }

  void index_document(const JsonValue& doc, const std::string& uri, const Info& ctx) {
    Info info;
    info.draft = ctx.draft;
    info.doc = uri;
    info.base = uri;
    if (doc.kind == Kind::Object) apply_schema_keyword(doc, info);
    info.resource = new_resource(uri, &doc);
    walk(doc, info, 0, true);
  }

  void walk(const JsonValue& v, Info info, std::size_t depth, bool doc_root = false) {
    if (depth > kMaxCompileDepth / 4) error("schema nested too deeply", info);
    if (v.kind == Kind::Bool) {
      info_.emplace(&v, info);
      return;
    }
    if (v.kind != Kind::Object) return;  // reported when compiled
    if (!doc_root && v.find("$schema") && v.find("$id")) apply_schema_keyword(v, info);
    const bool draft7 = info.draft == Draft::Draft7;
    const JsonValue* id = v.find("$id");
    if (id && draft7 && v.find("$ref")) id = nullptr;  // draft 7: $ref hides its siblings
    if (id && id->kind == Kind::String) {
      if (draft7 && !id->text.empty() && id->text[0] == '#') {
        res_[static_cast<std::size_t>(info.resource)].anchors[id->text.substr(1)] = &v;
      } else {
        auto [uri, frag] = split_fragment(resolve_uri(info.base, id->text));
        if (doc_root) {
          res_by_uri_.emplace(uri, info.resource);
          res_[static_cast<std::size_t>(info.resource)].uri = uri;
          prog_->resources[static_cast<std::size_t>(info.resource)].uri = uri;
        } else {
          info.resource = new_resource(uri, &v);
          info.rel_pointer.clear();
        }
        info.base = uri;
        if (!frag.empty()) res_[static_cast<std::size_t>(info.resource)].anchors[frag] = &v;
      }
    } else if (id && id->kind != Kind::String) {
      error("$id must be a string", info, "/$id");
    }
    Res& res = res_[static_cast<std::size_t>(info.resource)];
    if (!draft7) {
      if (const JsonValue* a = v.find("$anchor")) {
        if (a->kind != Kind::String) error("$anchor must be a string", info, "/$anchor");
        res.anchors[a->text] = &v;
      }
      if (const JsonValue* a = v.find("$dynamicAnchor"); a && info.draft == Draft::Draft2020) {
        if (a->kind != Kind::String) error("$dynamicAnchor must be a string", info, "/$dynamicAnchor");
        res.anchors[a->text] = &v;
        res.dynamic[a->text] = &v;
      }
      if (const JsonValue* a = v.find("$recursiveAnchor");
          a && info.draft == Draft::Draft2019 && a->kind == Kind::Bool && a->boolean && res.root == &v)
        res.recursive = true;
    }
    info_.emplace(&v, info);

    auto child = [&](const JsonValue& c, std::string_view k1, std::string_view k2 = {}, bool two = false) {
      Info ci = info;
      ci.pointer += escape_token(k1);
      ci.rel_pointer += escape_token(k1);
      if (two) {
        ci.pointer += escape_token(k2);
        ci.rel_pointer += escape_token(k2);
      }
      walk(c, ci, depth + 1);
    };
    for (const auto& [key, val] : v.members) {
      if (key == "additionalProperties" || key == "contains" || key == "not" || key == "if" || key == "then" ||
          key == "else" || key == "propertyNames" || key == "additionalItems" || key == "unevaluatedItems" ||
          key == "unevaluatedProperties" || key == "contentSchema") {
        child(val, key);
      } else if (key == "items" || key == "prefixItems" || key == "allOf" || key == "anyOf" || key == "oneOf") {
        if (val.kind == Kind::Array) {
          for (std::size_t i = 0; i < val.items.size(); ++i) child(val.items[i], key, std::to_string(i), true);
        } else {
          child(val, key);
        }
      } else if (key == "properties" || key == "patternProperties" || key == "$defs" || key == "definitions" ||
                 key == "dependentSchemas" || key == "dependencies") {
        if (val.kind != Kind::Object) continue;
        for (const auto& [name, sub] : val.members) {
          if (key == "dependencies" && sub.kind == Kind::Array) continue;
          child(sub, key, name, true);
        }
      }
    }
  }

  // The schema a URI reference names, loading registry documents on first use.
  const JsonValue* lookup(const std::string& uri, const Info& ctx, Info& found) {
    auto [doc, frag] = split_fragment(uri);
    auto r = res_by_uri_.find(doc);
    if (r == res_by_uri_.end()) {
      auto p = pending_.find(doc);
      if (p == pending_.end()) return nullptr;
      const JsonValue* d = p->second;
      pending_.erase(p);
      Info c;
      c.draft = ctx.draft;
      index_document(*d, doc, c);
      r = res_by_uri_.find(doc);
      if (r == res_by_uri_.end()) return nullptr;
    }
    const Res& res = res_[static_cast<std::size_t>(r->second)];
    const JsonValue* target = nullptr;
    if (frag.empty()) {
      target = res.root;
    } else if (frag[0] == '/') {
      target = res.root;
      std::size_t pos = 1;
      Info last = info_.at(res.root);
      std::string pointer;
      while (target && pos <= frag.size()) {
        std::size_t next = frag.find('/', pos);
        if (next == std::string::npos) next = frag.size();
        std::string tok = frag.substr(pos, next - pos);
        std::string unescaped;
        for (std::size_t i = 0; i < tok.size(); ++i) {
          if (tok[i] == '~' && i + 1 < tok.size()) {
            unescaped += tok[i + 1] == '1' ? '/' : '~';
            ++i;
          } else {
            unescaped += tok[i];
          }
        }
        pointer += escape_token(unescaped);
        if (target->kind == Kind::Object) {
          target = target->find(unescaped);
        } else if (target->kind == Kind::Array) {
          std::size_t idx = 0;
          bool okn = !unescaped.empty();
          for (char c : unescaped) {
            if (c < '0' || c > '9') okn = false;
            else idx = idx * 10 + static_cast<std::size_t>(c - '0');
          }
          target = okn && idx < target->items.size() ? &target->items[idx] : nullptr;
        } else {
          target = nullptr;
        }
        if (target) {
          auto it = info_.find(target);
          if (it != info_.end()) {
            last = it->second;
          } else {
            last.pointer += escape_token(unescaped);
            last.rel_pointer += escape_token(unescaped);
          }
        }
        pos = next + 1;
      }
      if (!target) return nullptr;
      if (!info_.count(target)) {
        // A schema inside an unknown keyword: index it now with the context reached.
        walk(*target, last, 0);
        if (!info_.count(target)) info_.emplace(target, last);
      }
    } else {
      auto a = res.anchors.find(frag);
      if (a == res.anchors.end()) return nullptr;
      target = a->second;
    }
    found = info_.at(target);
    return target;
  }

  int ref_target(const JsonValue& ref, const Info& info, const char* keyword, std::size_t depth, std::string* frag_out) {
    if (ref.kind != Kind::String) error(std::string(keyword) + " must be a string", info, std::string("/") + keyword);
    const std::string uri = resolve_uri(info.base, ref.text);
    Info found;
    const JsonValue* target = lookup(uri, info, found);
    if (!target)
      error(std::string(keyword) + " target \"" + ref.text + "\" (" + (uri.empty() ? "#" : uri) +
                ") was not found in the schema or the registry",
            info, std::string("/") + keyword);
    if (frag_out) *frag_out = split_fragment(uri).second;
    const int node = compile(target, depth + 1);
    last_target_ = target;
    return node;
  }

  static int64_t non_negative(const JsonValue* v, const Info& info, const std::string& kw, const Compiler& c) {
    if (!is_number(v) || !v->integer || v->number < 0)
      c.error(kw + " must be a non-negative integer", info, "/" + kw);
    return v->exact ? v->i64 : INT64_MAX;
  }

  int compile(const JsonValue* v, std::size_t depth) {
    auto it = compiled_.find(v);
    if (it != compiled_.end()) return it->second;
    if (depth > kMaxCompileDepth) {
      Info info = info_.count(v) ? info_.at(v) : Info{};
      error("schema nested too deeply (or a $ref chain longer than " + std::to_string(kMaxCompileDepth) + ")", info);
    }
    const int idx = static_cast<int>(prog_->nodes.size());
    prog_->nodes.emplace_back();
    compiled_.emplace(v, idx);
    Node node = build(*v, depth);
    prog_->nodes[static_cast<std::size_t>(idx)] = std::move(node);
    return idx;
  }

  Instr make(Op op, std::string keyword) {
    Instr i;
    i.op = op;
    i.location = keyword;
    i.keyword = std::move(keyword);
    return i;
  }

  int sub(const JsonValue& s, std::size_t depth, const Info& info, const std::string& where) {
    if (s.kind != Kind::Object && s.kind != Kind::Bool) error("a schema must be an object or a boolean", info, where);
    if (!info_.count(&s)) {
      Info ci = info;
      ci.pointer += where;
      walk(s, ci, 0);
    }
    return compile(&s, depth + 1);
  }

  Node build(const JsonValue& v, std::size_t depth) {
    Node node;
    auto found = info_.find(&v);
    Info info = found != info_.end() ? found->second : Info{};
    if (v.kind == Kind::Bool) {
      node.resource = info.resource;
      if (v.boolean) node.always_valid = true;
      else node.instrs.push_back(make(Op::Fail, "false"));
      return node;
    }
    if (v.kind != Kind::Object) error("a schema must be an object or a boolean", info);
    node.resource = info.resource;
    if (info.resource >= 0) {
      const std::string& uri = res_[static_cast<std::size_t>(info.resource)].uri;
      if (!uri.empty()) node.absolute = uri + "#" + info.rel_pointer;
    }
    const Draft draft = info.draft;
    const bool d7 = draft == Draft::Draft7;
    const bool val = info.validation;
    auto kw = [&](const char* k) { return v.find(k); };

    // draft 7: $ref ignores its siblings.
    if (d7) {
      if (const JsonValue* ref = kw("$ref")) {
        Instr i = make(Op::Ref, "$ref");
        i.node = ref_target(*ref, info, "$ref", depth, nullptr);
        node.instrs.push_back(std::move(i));
        return node;
      }
    }

    std::vector<Instr> cheap, mid, applicators, late;
    if (val) {
      if (const JsonValue* t = kw("type")) {
        Instr i = make(Op::Type, "type");
        auto add = [&](const JsonValue& name) {
          if (name.kind != Kind::String) error("type must be a string or an array of strings", info, "/type");
          const std::string& s = name.text;
          uint8_t bit = s == "null" ? kNull : s == "boolean" ? kBoolean : s == "integer" ? kInteger
                        : s == "number" ? kNumber : s == "string" ? kString : s == "array" ? kArray
                        : s == "object" ? kObject : 0;
          if (!bit) error("unknown type \"" + s + "\"", info, "/type");
          i.mask |= bit;
          if (!i.text.empty()) i.text += ", ";
          i.text += "\"" + s + "\"";
        };
        if (t->kind == Kind::Array) {
          for (const JsonValue& x : t->items) add(x);
          if (t->items.size() > 1) i.text = "any of [" + i.text + "]";
        } else {
          add(*t);
        }
        cheap.push_back(std::move(i));
      }
      if (const JsonValue* c = kw("const")) {
        Instr i = make(Op::Const, "const");
        i.value = *c;
        cheap.push_back(std::move(i));
      }
      if (const JsonValue* e = kw("enum")) {
        if (e->kind != Kind::Array) error("enum must be an array", info, "/enum");
        Instr i = make(Op::Enum, "enum");
        i.values = e->items;
        cheap.push_back(std::move(i));
      }
      for (auto [name, op] : {std::pair{"minimum", Op::Minimum}, std::pair{"maximum", Op::Maximum},
                              std::pair{"exclusiveMinimum", Op::ExclusiveMinimum},
                              std::pair{"exclusiveMaximum", Op::ExclusiveMaximum}, std::pair{"multipleOf", Op::MultipleOf}}) {
        const JsonValue* x = kw(name);
        if (!x) continue;
        if (!is_number(x)) error(std::string(name) + " must be a number", info, std::string("/") + name);
        if (op == Op::MultipleOf && !(x->number > 0)) error("multipleOf must be greater than 0", info, "/multipleOf");
        Instr i = make(op, name);
        i.value = *x;
        cheap.push_back(std::move(i));
      }
      for (auto [name, op] : {std::pair{"minLength", Op::MinLength}, std::pair{"maxLength", Op::MaxLength},
                              std::pair{"minItems", Op::MinItems}, std::pair{"maxItems", Op::MaxItems},
                              std::pair{"minProperties", Op::MinProperties},
                              std::pair{"maxProperties", Op::MaxProperties}}) {
        const JsonValue* x = kw(name);
        if (!x) continue;
        Instr i = make(op, name);
        i.count = non_negative(x, info, name, *this);
        cheap.push_back(std::move(i));
      }
      if (const JsonValue* r = kw("required")) {
        if (r->kind != Kind::Array) error("required must be an array of strings", info, "/required");
        Instr i = make(Op::Required, "required");
        for (const JsonValue& n : r->items) {
          if (n.kind != Kind::String) error("required must be an array of strings", info, "/required");
          i.names.push_back(n.text);
        }
        if (!i.names.empty()) cheap.push_back(std::move(i));
      }
      const JsonValue* dr = kw("dependentRequired");
      const JsonValue* deps = d7 ? kw("dependencies") : nullptr;
      Instr dreq = make(Op::DependentRequired, d7 ? "dependencies" : "dependentRequired");
      for (const JsonValue* src : {dr, deps}) {
        if (!src) continue;
        if (src->kind != Kind::Object) error(dreq.keyword + " must be an object", info, "/" + dreq.keyword);
        for (const auto& [name, list] : src->members) {
          if (list.kind != Kind::Array) continue;  // draft 7 schema dependencies below
          std::vector<std::string> names;
          for (const JsonValue& n : list.items) {
            if (n.kind != Kind::String) error("dependencies must list strings", info, "/" + dreq.keyword);
            names.push_back(n.text);
          }
          dreq.groups.emplace_back(name, std::move(names));
        }
      }
      if (!dreq.groups.empty()) cheap.push_back(std::move(dreq));
      if (const JsonValue* p = kw("pattern")) {
        if (p->kind != Kind::String) error("pattern must be a string", info, "/pattern");
        Instr i = make(Op::Pattern, "pattern");
        i.text = p->text;
        i.regex = make_regex(p->text, info, "/pattern");
        mid.push_back(std::move(i));
      }
      if (const JsonValue* u = kw("uniqueItems"); u && u->kind == Kind::Bool && u->boolean)
        late.push_back(make(Op::UniqueItems, "uniqueItems"));
    }
    if (const JsonValue* f = kw("format"); f && options_.format_assertion) {
      if (f->kind != Kind::String) error("format must be a string", info, "/format");
      Instr i = make(Op::Format, "format");
      i.text = f->text;
      mid.push_back(std::move(i));
    }

    // References.
    if (const JsonValue* ref = kw("$ref")) {
      Instr i = make(Op::Ref, "$ref");
      i.node = ref_target(*ref, info, "$ref", depth, nullptr);
      applicators.push_back(std::move(i));
    }
    if (const JsonValue* ref = kw("$dynamicRef"); ref && draft == Draft::Draft2020) {
      Instr i = make(Op::DynamicRef, "$dynamicRef");
      std::string frag;
      i.node = ref_target(*ref, info, "$dynamicRef", depth, &frag);
      if (!frag.empty() && frag[0] != '/') {
        // Dynamic only when the statically resolved target declares the same anchor.
        const JsonValue* t = last_target_;
        const JsonValue* da = t->kind == Kind::Object ? t->find("$dynamicAnchor") : nullptr;
        if (da && da->kind == Kind::String && da->text == frag) i.text = frag;
      }
      applicators.push_back(std::move(i));
    }
    if (const JsonValue* ref = kw("$recursiveRef"); ref && draft == Draft::Draft2019) {
      Instr i = make(Op::RecursiveRef, "$recursiveRef");
      i.node = ref_target(*ref, info, "$recursiveRef", depth, nullptr);
      applicators.push_back(std::move(i));
    }

    // Objects.
    const JsonValue* props = kw("properties");
    const JsonValue* pats = kw("patternProperties");
    const JsonValue* addl = kw("additionalProperties");
    if (props || pats || addl) {
      Instr i = make(Op::Properties, "properties");
      if (props) {
        if (props->kind != Kind::Object) error("properties must be an object", info, "/properties");
        for (const auto& [name, s] : props->members)
          i.props.push_back({name, sub(s, depth, info, "/properties" + escape_token(name))});
        if (i.props.size() > kSmallProperties)
          for (std::size_t k = 0; k < i.props.size(); ++k) i.prop_index.emplace(i.props[k].name, static_cast<int>(k));
      }
      if (pats) {
        if (pats->kind != Kind::Object) error("patternProperties must be an object", info, "/patternProperties");
        for (const auto& [pat, s] : pats->members) {
          PatternNode pn;
          pn.regex = make_regex(pat, info, "/patternProperties" + escape_token(pat));
          pn.node = sub(s, depth, info, "/patternProperties" + escape_token(pat));
          i.patterns.push_back(std::move(pn));
        }
      }
      if (addl) i.rest = sub(*addl, depth, info, "/additionalProperties");
      applicators.push_back(std::move(i));
    }
    if (const JsonValue* pn = kw("propertyNames")) {
      Instr i = make(Op::PropertyNames, "propertyNames");
      i.node = sub(*pn, depth, info, "/propertyNames");
      applicators.push_back(std::move(i));
    }
    {
      Instr i = make(Op::DependentSchemas, d7 ? "dependencies" : "dependentSchemas");
      const JsonValue* ds = d7 ? kw("dependencies") : kw("dependentSchemas");
      if (ds && ds->kind == Kind::Object) {
        for (const auto& [name, s] : ds->members) {
          if (s.kind == Kind::Array) continue;
          i.props.push_back({name, sub(s, depth, info, "/" + i.keyword + escape_token(name))});
        }
      }
      if (!i.props.empty()) applicators.push_back(std::move(i));
    }

    // Arrays.
    {
      Instr i = make(Op::Items, "items");
      const JsonValue* items = kw("items");
      const JsonValue* prefix = draft == Draft::Draft2020 ? kw("prefixItems") : nullptr;
      const JsonValue* additional = draft == Draft::Draft2020 ? nullptr : kw("additionalItems");
      bool any = false;
      if (prefix) {
        if (prefix->kind != Kind::Array) error("prefixItems must be an array of schemas", info, "/prefixItems");
        for (std::size_t k = 0; k < prefix->items.size(); ++k)
          i.nodes.push_back(sub(prefix->items[k], depth, info, "/prefixItems/" + std::to_string(k)));
        i.names = {"prefixItems", "items"};
        if (items) i.rest = sub(*items, depth, info, "/items");
        any = true;
      } else if (items && items->kind == Kind::Array) {
        for (std::size_t k = 0; k < items->items.size(); ++k)
          i.nodes.push_back(sub(items->items[k], depth, info, "/items/" + std::to_string(k)));
        i.names = {"items", "additionalItems"};
        if (additional) i.rest = sub(*additional, depth, info, "/additionalItems");
        any = true;
      } else if (items) {
        i.names = {"items", "items"};
        i.rest = sub(*items, depth, info, "/items");
        any = true;
      }
      if (any) applicators.push_back(std::move(i));
    }
    if (const JsonValue* c = kw("contains")) {
      Instr i = make(Op::Contains, "contains");
      i.node = sub(*c, depth, info, "/contains");
      i.count = 1;
      if (!d7 && val) {
        if (const JsonValue* m = kw("minContains")) i.count = non_negative(m, info, "minContains", *this);
        if (const JsonValue* m = kw("maxContains")) i.count2 = non_negative(m, info, "maxContains", *this);
      }
      i.contains_marks_items = draft == Draft::Draft2020;
      applicators.push_back(std::move(i));
    }

    // Logic.
    for (auto [name, op] : {std::pair{"allOf", Op::AllOf}, std::pair{"anyOf", Op::AnyOf}, std::pair{"oneOf", Op::OneOf}}) {
      const JsonValue* x = kw(name);
      if (!x) continue;
      if (x->kind != Kind::Array || x->items.empty())
        error(std::string(name) + " must be a non-empty array of schemas", info, std::string("/") + name);
      Instr i = make(op, name);
      for (std::size_t k = 0; k < x->items.size(); ++k)
        i.nodes.push_back(sub(x->items[k], depth, info, std::string("/") + name + "/" + std::to_string(k)));
      applicators.push_back(std::move(i));
    }
    if (const JsonValue* n = kw("not")) {
      Instr i = make(Op::Not, "not");
      i.node = sub(*n, depth, info, "/not");
      applicators.push_back(std::move(i));
    }
    if (const JsonValue* c = kw("if")) {
      const JsonValue* t = kw("then");
      const JsonValue* e = kw("else");
      // Without then/else, `if` still matters for its annotations (unevaluated*).
      Instr i = make(Op::IfThenElse, "if");
      i.node = sub(*c, depth, info, "/if");
      i.nodes = {t ? sub(*t, depth, info, "/then") : -1, e ? sub(*e, depth, info, "/else") : -1};
      applicators.push_back(std::move(i));
    }
    if (!d7) {
      if (const JsonValue* u = kw("unevaluatedItems")) {
        Instr i = make(Op::UnevaluatedItems, "unevaluatedItems");
        i.node = sub(*u, depth, info, "/unevaluatedItems");
        late.push_back(std::move(i));
        node.unevaluated = true;
      }
      if (const JsonValue* u = kw("unevaluatedProperties")) {
        Instr i = make(Op::UnevaluatedProperties, "unevaluatedProperties");
        i.node = sub(*u, depth, info, "/unevaluatedProperties");
        late.push_back(std::move(i));
        node.unevaluated = true;
      }
    }
    // Definitions are compiled only when referenced, but must still be valid schemas.
    for (const char* defs : {"$defs", "definitions"}) {
      const JsonValue* d = kw(defs);
      if (d && d->kind != Kind::Object) error(std::string(defs) + " must be an object", info, std::string("/") + defs);
    }

    for (auto* group : {&cheap, &mid, &applicators, &late})
      for (Instr& i : *group) node.instrs.push_back(std::move(i));
    if (node.instrs.empty()) node.always_valid = true;
    return node;
  }

  std::unique_ptr<Regex> make_regex(const std::string& pattern, const Info& info, const std::string& where) {
    try {
      return std::make_unique<Regex>(pattern);
    } catch (const std::invalid_argument& e) {
      error(std::string("invalid regular expression: ") + e.what(), info, where);
    }
  }

  SchemaOptions options_;
  const JsonValue* last_target_ = nullptr;
  std::shared_ptr<Program> prog_;
  std::unordered_map<std::string, const JsonValue*> pending_;
  std::vector<Res> res_;
  std::unordered_map<std::string, int> res_by_uri_;
  std::unordered_map<const JsonValue*, Info> info_;
  std::unordered_map<const JsonValue*, int> compiled_;
  std::unordered_set<std::pair<std::size_t, std::string>, PairHash> resources_done_;
};

}  // namespace

std::shared_ptr<Program> compile_schema(const JsonValue& schema,
                                        const std::vector<std::pair<std::string, JsonValue>>& registry,
                                        SchemaOptions options) {
  Compiler c(registry, options);
  return c.run(schema);
}

}  // namespace covekit::json_schema_detail
