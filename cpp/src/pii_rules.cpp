// The PII scanner's matchers other than numbers: emails, URL credentials, the generic
// "keyword = value" secret rule, IPv6 and MAC addresses, IBANs, and the prefixed
// secret formats (AWS, GitHub, OpenAI, Anthropic, Slack, Stripe, Google, PEM, JWT).
// Each runs at one candidate position the pass picked and reads a bounded number of
// bytes, so the pass stays linear.
#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "pii_internal.hpp"

namespace covekit::pii {

namespace {

struct IbanLength {
  char cc[3];
  uint8_t len;
};

// The SWIFT IBAN registry's countries and their IBAN lengths.
constexpr IbanLength kIbanLengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
    {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HN", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28},
    {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22},
    {"MK", 19}, {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23},
    {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30}};

std::size_t iban_length(unsigned char a, unsigned char b) {
  for (const IbanLength& e : kIbanLengths)
    if (static_cast<unsigned char>(e.cc[0]) == a && static_cast<unsigned char>(e.cc[1]) == b) return e.len;
  return 0;
}

// Keywords of the generic secret rule: the key (lowercased) must end with one, or
// with one followed by "s".
// The last row: the word for password in Dutch, German (two), French ("mot de passe"),
// Portuguese, Spanish without its tilde, Italian, and German/Dutch "secret".
constexpr std::array<std::string_view, 30> kSecretKeys = {
    "password",   "passwd",     "passphrase", "pwd",        "pass",          "secret",      "secretkey",  "secret_key",
    "token",      "api_key",    "apikey",     "api-key",    "access_key",    "accesskey",   "access-key", "auth",
    "authorization", "credential", "private_key", "privatekey", "private-key", "client_secret",
    "wachtwoord", "passwort",   "kennwort",   "passe",      "senha",         "contrasena",  "parola",     "geheim"};

// Values that are never reported by the generic rule (lowercased, exact).
constexpr std::array<std::string_view, 16> kNotSecrets = {
    "changeme", "password", "secret",  "null",     "none",     "true",      "false",     "undefined",
    "redacted", "example",  "required", "optional", "notasecret", "placeholder", "hidden", "password123"};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// base64url -> bytes (at most `cap` output bytes); stops at the first other byte.
std::string b64url_decode(std::string_view in, std::size_t cap) {
  auto val = [](unsigned char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    const int v = val(c);
    if (v < 0) break;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
      if (out.size() >= cap) break;
    }
  }
  return out;
}

}  // namespace

bool iban_valid(std::string_view c) noexcept {
  if (c.size() < 5 || c.size() > 34) return false;
  unsigned rem = 0;
  for (std::size_t k = 0; k < c.size(); ++k) {
    const unsigned char x = static_cast<unsigned char>(c[(k + 4) % c.size()]);
    if (x >= '0' && x <= '9') rem = (rem * 10 + (x - '0')) % 97;
    else if (x >= 'A' && x <= 'Z') rem = (rem * 100 + (x - 'A' + 10)) % 97;
    else return false;
  }
  return rem == 1;
}

namespace detail {

bool Pass::token_start(std::size_t s) const { return s == 0 || !is_b64url(p[s - 1]); }

// ------------------------------------------------------------------- email

// A letter of the Latin (U+00C0-U+024F, less the signs U+00D7 and U+00F7), Greek
// (U+0370-U+03FF) or Cyrillic (U+0400-U+04FF) blocks: the two-byte UTF-8 letters an
// internationalized address (RFC 6531) is written with. Anything else non-ASCII (CJK,
// punctuation, symbols) stays a boundary, so an address in CJK text without spaces is
// found without the text around it.
bool letter2(uint32_t cp) {
  return (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || (cp >= 0x370 && cp <= 0x4FF);
}

// The two-byte letter that starts at i: 2, or 0.
std::size_t Pass::letter2_at(std::size_t i) const {
  const unsigned char c0 = at(i), c1 = at(i + 1);
  if (c0 < 0xC2 || c0 > 0xDF || (c1 & 0xC0) != 0x80) return 0;
  return letter2((static_cast<uint32_t>(c0 & 0x1F) << 6) | (c1 & 0x3F)) ? 2 : 0;
}

// The two-byte letter that ends at i (exclusive): 2, or 0.
std::size_t Pass::letter2_before(std::size_t i) const { return i >= 2 ? letter2_at(i - 2) : 0; }

void Pass::email(std::size_t a) {
  if (!on(Entity::kEmail)) return;
  auto local_char = [](unsigned char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
  };
  // Local part: at most 64 characters of [A-Za-z0-9._%+-] and two-byte letters (an
  // address with "jörg" must not leave "jö" in the clear).
  std::size_t ls = a, chars = 0;
  for (;;) {
    std::size_t step = ls > 0 && local_char(p[ls - 1]) ? 1 : letter2_before(ls);
    if (!step) break;
    if (chars == 64) return;  // a local part longer than 64
    ls -= step;
    ++chars;
  }
  while (ls < a && p[ls] == '.') ++ls;
  if (ls == a || p[a - 1] == '.') return;
  if (ls >= 2 && p[ls - 1] == '/' && p[ls - 2] == '/') return;  // a URL's user@host
  for (std::size_t i = ls; i + 1 < a; ++i)
    if (p[i] == '.' && p[i + 1] == '.') return;
  // Domain: labels of [A-Za-z0-9-] (1-63, no '-' at either end) joined by '.'; the
  // last one (the TLD) of 2-24 letters or "xn--" punycode.
  // Internationalized labels (two-byte letters, as in "bücher") are taken as written.
  std::size_t pos = a + 1, labels = 0, last_b = 0, last_e = 0;
  auto label_len = [&](std::size_t i) {
    std::size_t e = i;
    while (e - i <= 126) {
      if (e < n && (is_alnum(p[e]) || p[e] == '-')) ++e;
      else if (const std::size_t k = letter2_at(e)) e += k;
      else break;
    }
    return e - i;
  };
  while (pos < n && pos - a <= 253) {
    const std::size_t len = label_len(pos);
    if (len == 0 || len > 126 || p[pos] == '-' || p[pos + len - 1] == '-') break;
    last_b = pos;
    last_e = pos + len;
    ++labels;
    pos += len;
    if (at(pos) == '.' && (is_alnum(at(pos + 1)) || letter2_at(pos + 1))) ++pos;
    else break;
  }
  if (labels < 2) return;
  const std::string_view tld = text.substr(last_b, last_e - last_b);
  const bool letters = std::all_of(tld.begin(), tld.end(), [](char c) { return is_alpha(static_cast<unsigned char>(c)); });
  const bool puny = tld.size() > 4 && (tld.substr(0, 4) == "xn--" || tld.substr(0, 4) == "XN--");
  bool intl = tld.size() >= 4 && tld.size() <= 48;  // "рф", "ελ": two-byte letters only
  for (std::size_t k = last_b; intl && k < last_e; k += 2) intl = letter2_at(k) == 2;
  if (!((letters && tld.size() >= 2 && tld.size() <= 24) || puny || intl)) return;
  if (is_word(at(last_e)) || at(last_e) == '@') return;
  add(Entity::kEmail, ls, last_e, 0.95, "email.rfc5321");
}

// ------------------------------------------------------------------- URLs

void Pass::url_credentials(std::size_t colon) {
  if (!on(Entity::kUrlCredentials)) return;
  std::size_t b = colon;
  auto scheme_char = [](unsigned char c) { return is_alnum(c) || c == '+' || c == '.' || c == '-'; };
  while (b > 0 && colon - b < 32 && scheme_char(p[b - 1])) --b;
  while (b < colon && !is_alpha(p[b])) ++b;
  if (colon - b < 2 || (b > 0 && is_word(p[b - 1]))) return;
  const std::size_t ui = colon + 3;
  std::size_t pos = ui, user_colon = 0;
  while (pos < n && pos - ui < 256) {
    const unsigned char c = p[pos];
    if (c <= ' ' || c == '/' || c == '?' || c == '#' || c == '@' || c == '"' || c == '\'' || c == '<' || c == '>' ||
        c >= 0x80)
      break;
    if (c == ':' && !user_colon) user_colon = pos;
    ++pos;
  }
  if (at(pos) != '@' || !user_colon || user_colon + 1 == pos) return;
  const std::size_t host = pos + 1;
  std::size_t he = host;
  if (at(he) == '[') {
    const std::size_t len = run_of(he + 1, [](unsigned char c) { return is_hex(c) || c == ':' || c == '.'; }, 64);
    if (at(he + 1 + len) != ']') return;
    he += len + 2;
  } else {
    he += run_of(he, [](unsigned char c) { return is_alnum(c) || c == '.' || c == '-' || c == '_'; }, 253);
    while (he > host && p[he - 1] == '.') --he;
  }
  if (he == host) return;
  if (at(he) == ':' && is_digit(at(he + 1))) he += 1 + run_of(he + 1, is_digit, 5);
  add(Entity::kUrlCredentials, b, he, 0.95, "url_credentials.userinfo");
}

void Pass::slack_webhook(std::size_t s) {
  if (!on(Entity::kSlackToken) || !starts(s, "https://hooks.slack.com/")) return;
  const std::size_t b = s + 24;
  const std::size_t len =
      run_of(b, [](unsigned char c) { return is_alnum(c) || c == '/' || c == '_' || c == '-'; }, 256);
  if (len < 20 || !(starts(b, "services/") || starts(b, "workflows/") || starts(b, "triggers/"))) return;
  add(Entity::kSlackToken, s, b + len, 0.95, "slack_token.webhook");
}

// ------------------------------------------------------------------- generic secrets

void Pass::assignment(std::size_t op) {
  if (!on(Entity::kGenericSecret) && !on(Entity::kAwsSecretKey)) return;
  std::size_t after = op + 1;
  if (p[op] == '=') {
    if (op > 0 && (p[op - 1] == '=' || p[op - 1] == '!' || p[op - 1] == '<' || p[op - 1] == '>' || p[op - 1] == ':'))
      return;
    if (at(after) == '=') return;
    if (at(after) == '>') ++after;  // "=>"
  } else if (at(after) == '=') {
    ++after;  // ":="
  } else if (at(after) == ':') {
    return;
  }
  // The key: [A-Za-z0-9_.-]{1,64} before the operator, after optional spaces and a quote.
  std::size_t ke = op;
  while (ke > 0 && op - ke < 8 && (p[ke - 1] == ' ' || p[ke - 1] == '\t')) --ke;
  if (ke > 0 && (p[ke - 1] == '"' || p[ke - 1] == '\'' || p[ke - 1] == '`')) --ke;
  std::size_t kb = ke;
  while (kb > 0 && ke - kb < 64 && (is_word(p[kb - 1]) || p[kb - 1] == '.' || p[kb - 1] == '-')) --kb;
  if (kb == ke || (kb > 0 && is_word(p[kb - 1]))) return;
  // "<KEY:" may be covekit's own hash form ("<ENTITY:hex>", checked on the value below);
  // any other key after '<' is one ("4111 1111 1111 1111<password=...").
  const bool hash_form = kb > 0 && p[kb - 1] == '<' && p[op] == ':' && ke == op && after == op + 1;
  std::array<char, 64> key;
  for (std::size_t i = kb; i < ke; ++i) key[i - kb] = static_cast<char>(lower(p[i]));
  std::string_view k(key.data(), ke - kb);
  if (!k.empty() && k.back() == 's') k.remove_suffix(1);
  const bool keyword =
      std::any_of(kSecretKeys.begin(), kSecretKeys.end(), [&](std::string_view w) { return ends_with(k, w); });
  if (!keyword) return;
  const bool aws = k.find("aws") != std::string_view::npos || ends_with(k, "secret_access_key");
  // The value: quoted (up to the same quote on the line) or a run of printable ASCII.
  std::size_t vb = after;
  while (vb < n && vb - after < 8 && (p[vb] == ' ' || p[vb] == '\t')) ++vb;
  for (std::string_view scheme : {"bearer ", "basic ", "token "}) {
    bool match = n - std::min(n, vb) > scheme.size();
    for (std::size_t i = 0; match && i < scheme.size(); ++i) match = lower(p[vb + i]) == scheme[i];
    if (match) {
      vb += scheme.size();
      break;
    }
  }
  std::size_t ve;
  const unsigned char q = at(vb);
  if (q == '"' || q == '\'' || q == '`') {
    ++vb;
    ve = vb;
    while (ve < n && ve - vb < 512 && p[ve] != q && p[ve] != '\n' && p[ve] != '\r' && p[ve] != '\\') ++ve;
    if (at(ve) != q) return;
  } else {
    // '&' belongs to the value unless a query parameter follows it ("&name=")
    auto value_char = [](unsigned char c) {
      return c > ' ' && c < 0x7F && c != '"' && c != '\'' && c != '`' && c != ',' && c != ';' && c != ')' &&
             c != ']' && c != '}' && c != '<' && c != '>';
    };
    ve = vb;
    while (ve < n && ve - vb < 512 && value_char(p[ve])) {
      if (p[ve] == '&') {
        std::size_t j = ve + 1;
        while (j < n && j - ve <= 64 && (is_word(p[j]) || p[j] == '.' || p[j] == '-')) ++j;
        if (j > ve + 1 && at(j) == '=') break;
      }
      ++ve;
    }
    while (ve > vb && p[ve - 1] == '.') --ve;
    if (ve - vb >= 512) return;
  }
  const std::string_view v = text.substr(vb, ve - vb);
  if (hash_form && vb == after && at(ve) == '>' &&
      std::all_of(v.begin(), v.end(), [](char c) { return is_hex(static_cast<unsigned char>(c)); }))
    return;
  if (aws && on(Entity::kAwsSecretKey) && v.size() == 40 &&
      std::all_of(v.begin(), v.end(), [](char c) { return is_alnum(static_cast<unsigned char>(c)) || c == '/' || c == '+'; })) {
    add(Entity::kAwsSecretKey, vb, ve, 0.95, "aws_secret_key.keyword");
    return;
  }
  if (!on(Entity::kGenericSecret) || v.size() < cfg.secret_min_length) return;
  // Obvious non-secrets: one repeated character, references and placeholders
  // (${VAR}, {{var}}, %(var)s, $VAR, <placeholder>), masks (xxxx, ****), and a few words.
  if (std::all_of(v.begin(), v.end(), [&](char c) { return c == v[0]; })) return;
  if (v.starts_with("${") || v.starts_with("{{") || v.starts_with("%(") || v.starts_with("$(") ||
      (v.front() == '<' && v.back() == '>'))
    return;
  if (v.front() == '$' && std::all_of(v.begin() + 1, v.end(), [](char c) {
        return is_upper(static_cast<unsigned char>(c)) || is_digit(static_cast<unsigned char>(c)) || c == '_';
      }))
    return;
  std::string low(v.size(), '\0');
  for (std::size_t i = 0; i < v.size(); ++i) low[i] = static_cast<char>(lower(static_cast<unsigned char>(v[i])));
  if (low.find("xxxx") != std::string::npos || low.find("****") != std::string::npos ||
      low.find("....") != std::string::npos || low.starts_with("your") || low.starts_with("<your"))
    return;
  if (std::find(kNotSecrets.begin(), kNotSecrets.end(), std::string_view(low)) != kNotSecrets.end()) return;
  const bool hex = std::all_of(v.begin(), v.end(), [](char c) { return is_hex(static_cast<unsigned char>(c)); });
  const double h = shannon_entropy(v);
  const double threshold = hex ? cfg.secret_min_entropy_hex : cfg.secret_min_entropy;
  if (h < threshold) return;
  add(Entity::kGenericSecret, vb, ve, std::min(0.9, 0.6 + 0.1 * (h - threshold)),
      hex ? "generic_secret.keyword+hex_entropy" : "generic_secret.keyword+entropy");
}

// ------------------------------------------------------------------- IPv6 and MAC

void Pass::hex_address(std::size_t s) {
  // Inside a longer colon chain ("2001:db8:..." at "db8"): after a group of 1-4 hex
  // digits or a "::". After a key ("mac:3c:22:fb:0a:1b:2c", "ip:2001:db8::1") it starts.
  if (s > 0 && p[s] != ':' && p[s - 1] == ':') {
    std::size_t j = s - 1;
    while (j > 0 && s - 1 - j <= 4 && is_hex(p[j - 1])) --j;
    const std::size_t h = s - 1 - j;
    if (j > 0 && p[j - 1] == ':') return;
    if (h >= 1 && h <= 4 && (j == 0 || !is_word(p[j - 1]))) return;
  }
  // MAC: six pairs joined by ':' or '-' (the same), or Cisco's xxxx.xxxx.xxxx.
  if (on(Entity::kMacAddress) && is_hex(p[s]) && start_ok(s)) {
    const unsigned char sep = at(s + 2);
    if ((sep == ':' || sep == '-') && is_hex(at(s + 1))) {
      bool ok = true, letter = false;
      for (std::size_t g = 0; g < 6 && ok; ++g) {
        const std::size_t b = s + g * 3;
        ok = is_hex(at(b)) && is_hex(at(b + 1)) && (g == 5 || at(b + 2) == sep);
        letter = letter || (ok && (!is_digit(at(b)) || !is_digit(at(b + 1))));
      }
      const std::size_t e = s + 17;
      if (ok && !is_hex(at(e)) && end_ok(e) && !(at(e) == sep && is_hex(at(e + 1))))
        add(Entity::kMacAddress, s, e, (letter || sep == ':') ? 0.85 : 0.5,
            sep == ':' ? "mac_address.colon" : "mac_address.dash");
    } else if (at(s + 4) == '.') {
      bool ok = true, letter = false;
      for (std::size_t g = 0; g < 3 && ok; ++g) {
        const std::size_t b = s + g * 5;
        for (std::size_t j = 0; j < 4 && ok; ++j) {
          ok = is_hex(at(b + j));
          letter = letter || (ok && !is_digit(at(b + j)));
        }
        ok = ok && (g == 2 || at(b + 4) == '.');
      }
      if (ok && end_ok(s + 14)) add(Entity::kMacAddress, s, s + 14, letter ? 0.8 : 0.35, "mac_address.cisco");
    }
  }
  // IPv6 (RFC 4291 text forms): eight groups of 1-4 hex digits, or fewer with one "::",
  // the last two groups possibly an IPv4 dotted quad.
  if (!on(Entity::kIpAddress)) return;
  if (p[s] != ':' && !start_ok(s)) return;
  std::size_t pos = s, groups = 0;
  bool dbl = false, digit = false;
  if (p[s] == ':') {
    if (at(s + 1) != ':') return;
    dbl = true;
    pos += 2;
  }
  while (groups < 8) {
    const std::size_t h = run_of(pos, is_hex, 5);
    if (h == 0) break;
    // An IPv4 tail: digits followed by '.'.
    if (at(pos + h) == '.' && (dbl ? groups <= 5 : groups == 6) && (groups > 0 || dbl)) {
      std::size_t q = pos;
      bool ok = true;
      for (int part = 0; part < 4 && ok; ++part) {
        const std::size_t d = run_of(q, is_digit, 4);
        if (d == 0 || d > 3 || (d > 1 && p[q] == '0')) ok = false;
        else {
          int v = 0;
          for (std::size_t j = q; j < q + d; ++j) v = v * 10 + (p[j] - '0');
          ok = v <= 255;
          q += d;
          if (part < 3) ok = ok && at(q) == '.' && ((++q), true);
        }
      }
      if (ok) {
        pos = q;
        groups += 2;
        digit = true;
        break;
      }
      // not a dotted quad ("::58ce." ends a sentence): the run is a hex group
    }
    if (h > 4) return;
    for (std::size_t j = pos; j < pos + h; ++j) digit = digit || is_digit(p[j]);
    ++groups;
    pos += h;
    if (at(pos) == ':' && at(pos + 1) == ':') {
      if (dbl) return;
      dbl = true;
      pos += 2;
    } else if (at(pos) == ':' && is_hex(at(pos + 1))) {
      ++pos;
    } else {
      break;
    }
  }
  if (!(dbl ? groups <= 7 : groups == 8)) return;
  if (groups == 0 && !dbl) return;
  // a colon after the address ends it ("from fe80::1: refused") unless a group or a
  // second colon follows (a longer chain, not an address)
  if (is_word(at(pos)) || (at(pos) == ':' && (is_hex(at(pos + 1)) || at(pos + 1) == ':')) ||
      (at(pos) == '.' && is_alnum(at(pos + 1))))
    return;
  if (!dbl) add(Entity::kIpAddress, s, pos, 0.9, "ip_address.v6");
  else if (groups >= 1 && (digit || groups >= 3)) add(Entity::kIpAddress, s, pos, 0.8, "ip_address.v6_compressed");
  else if (groups >= 1) add(Entity::kIpAddress, s, pos, 0.4, "ip_address.v6_compressed");
}

// ------------------------------------------------------------------- IBAN

void Pass::iban(std::size_t s) {
  if (!on(Entity::kIban) || !is_upper(at(s + 1)) || !is_digit(at(s + 2)) || !is_digit(at(s + 3))) return;
  const std::size_t len = iban_length(p[s], p[s + 1]);
  if (len == 0) return;
  const bool spaced = at(s + 4) == ' ';
  std::array<char, 34> compact;
  std::size_t count = 0, pos = s;
  while (count < len) {
    if (spaced && count > 0 && count % 4 == 0) {
      if (at(pos) != ' ') return;
      ++pos;
    }
    const unsigned char c = at(pos);
    if (!is_upper(c) && !is_digit(c)) return;
    compact[count++] = static_cast<char>(c);
    ++pos;
  }
  if (is_word(at(pos)) || (at(pos) == '-' && is_alnum(at(pos + 1)))) return;
  if (iban_valid(std::string_view(compact.data(), len))) add(Entity::kIban, s, pos, 1.0, "iban.mod97");
}

// ------------------------------------------------------------------- prefixed secrets

void Pass::aws_or_google(std::size_t s) {
  if (on(Entity::kAwsAccessKey) && n - s >= 20) {
    static constexpr std::string_view kPrefixes[] = {"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"};
    const std::string_view pre = text.substr(s, 4);
    if (std::find(std::begin(kPrefixes), std::end(kPrefixes), pre) != std::end(kPrefixes)) {
      bool ok = true, base32 = true;
      for (std::size_t i = s + 4; i < s + 20 && ok; ++i) {
        ok = is_upper(p[i]) || is_digit(p[i]);
        base32 = base32 && (is_upper(p[i]) || (p[i] >= '2' && p[i] <= '7'));
      }
      if (ok && !is_word(at(s + 20)))
        add(Entity::kAwsAccessKey, s, s + 20, base32 ? 0.9 : 0.7, base32 ? "aws_access_key.prefix" : "aws_access_key.prefix_nonbase32");
    }
  }
  if (on(Entity::kGoogleApiKey) && starts(s, "AIza") && token_start(s)) {
    const std::size_t len = run_of(s + 4, is_b64url, 36);
    if (len == 35 && !is_b64url(at(s + 39))) add(Entity::kGoogleApiKey, s, s + 39, 0.95, "google_api_key.prefix");
  }
}

// CRC-32 (IEEE 802.3, zlib's), its table computed at compile time.
constexpr std::array<uint32_t, 256> kCrc32Table = [] {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}();

uint32_t crc32(std::string_view b) {
  uint32_t c = 0xFFFFFFFFU;
  for (const char ch : b) c = kCrc32Table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

// GitHub's classic token format (2021): 30 random base62 characters, then the CRC-32 of
// those 30 in base62 (0-9A-Za-z), zero-padded to 6.
bool github_checksum_ok(std::string_view body36) {
  constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  uint32_t v = crc32(body36.substr(0, 30));
  std::array<char, 6> out{};
  for (std::size_t k = 6; k-- > 0;) {
    out[k] = kBase62[v % 62];
    v /= 62;
  }
  return v == 0 && std::string_view(out.data(), 6) == body36.substr(30, 6);
}

void Pass::github(std::size_t s) {
  if (!on(Entity::kGithubToken) || !token_start(s)) return;
  if (at(s + 1) == 'h' && std::strchr("pousr", at(s + 2)) && at(s + 2) && at(s + 3) == '_') {
    const std::size_t len = run_of(s + 4, is_alnum, 37);
    if (len == 36 && !is_b64url(at(s + 40))) {
      // a valid checksum: a token GitHub issued (or one made to look like it); without
      // one still reported, lower (an old-format or hand-made token)
      if (github_checksum_ok(text.substr(s + 4, 36))) add(Entity::kGithubToken, s, s + 40, 1.0, "github_token.classic+checksum");
      else add(Entity::kGithubToken, s, s + 40, 0.8, "github_token.classic");
    }
  } else if (starts(s, "github_pat_")) {
    const std::size_t a = s + 11;
    if (run_of(a, is_alnum, 23) == 22 && at(a + 22) == '_' && run_of(a + 23, is_alnum, 60) == 59 &&
        !is_b64url(at(a + 82)))
      add(Entity::kGithubToken, s, a + 82, 0.95, "github_token.fine_grained");
  }
}

void Pass::openai_anthropic(std::size_t s) {
  if (!starts(s, "sk-") || !token_start(s)) return;
  const std::size_t body_len = run_of(s, is_b64url, 512);
  const std::size_t e = s + body_len;
  if (body_len >= 512) return;
  const std::string_view tok = text.substr(s, body_len);
  if (tok.starts_with("sk-ant-")) {
    if (!on(Entity::kAnthropicApiKey)) return;
    const bool known = tok.starts_with("sk-ant-api03-") || tok.starts_with("sk-ant-admin01-");
    const std::size_t rest = body_len - (tok.find('-', 7) == std::string_view::npos ? 7 : tok.find('-', 7) + 1);
    if (rest >= 32) add(Entity::kAnthropicApiKey, s, e, known ? 0.95 : 0.8, known ? "anthropic_api_key.prefix" : "anthropic_api_key.sk_ant");
    return;
  }
  if (!on(Entity::kOpenaiApiKey)) return;
  const bool marker = tok.find("T3BlbkFJ") != std::string_view::npos;
  for (std::string_view pre : {"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"}) {
    if (tok.starts_with(pre)) {
      if (body_len - pre.size() >= 20)
        add(Entity::kOpenaiApiKey, s, e, marker ? 0.95 : 0.8, marker ? "openai_api_key.project" : "openai_api_key.project_nomarker");
      return;
    }
  }
  const std::size_t alnum = run_of(s + 3, is_alnum, 200);
  if (s + 3 + alnum != e) return;
  if (alnum == 48 && tok.substr(23, 8) == "T3BlbkFJ") add(Entity::kOpenaiApiKey, s, e, 1.0, "openai_api_key.legacy");
  else if (alnum >= 32 && alnum <= 64) add(Entity::kOpenaiApiKey, s, e, marker ? 0.9 : 0.6, "openai_api_key.sk");
}

void Pass::stripe(std::size_t s) {
  if (!on(Entity::kStripeKey) || !token_start(s)) return;
  for (std::string_view pre : {"sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_"}) {
    if (!starts(s, pre)) continue;
    const std::size_t len = run_of(s + 8, is_alnum, 256);
    if (len >= 24 && len < 256 && !is_b64url(at(s + 8 + len)))
      add(Entity::kStripeKey, s, s + 8 + len, 0.9, "stripe_key.prefix");
    return;
  }
}

void Pass::slack(std::size_t s) {
  if (!on(Entity::kSlackToken) || !token_start(s) || !starts(s, "xox") || !at(s + 3) ||
      !std::strchr("abposre", at(s + 3)) || at(s + 4) != '-')
    return;
  const std::size_t len = run_of(s + 5, [](unsigned char c) { return is_alnum(c) || c == '-'; }, 256);
  if (len >= 10 && len < 256 && !is_word(at(s + 5 + len))) add(Entity::kSlackToken, s, s + 5 + len, 0.9, "slack_token.prefix");
}

void Pass::jwt(std::size_t s) {
  if (!on(Entity::kJwt) || !starts(s, "eyJ") || (s > 0 && (is_b64url(p[s - 1]) || p[s - 1] == '.'))) return;
  const std::size_t a = run_of(s, is_b64url, 8192);
  if (a < 10 || at(s + a) != '.') return;
  const std::size_t b = run_of(s + a + 1, is_b64url, 65536);
  if (b < 2 || at(s + a + 1 + b) != '.') return;
  const std::size_t c = run_of(s + a + b + 2, is_b64url, 8192);
  const std::size_t e = s + a + b + 2 + c;
  if (is_b64url(at(e)) || (at(e) == '.' && is_b64url(at(e + 1)))) return;
  const std::string header = b64url_decode(text.substr(s, a), 1024);
  const std::size_t first = header.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || header[first] != '{' || header.find("\"alg\"") == std::string::npos) return;
  add(Entity::kJwt, s, e, c > 0 ? 0.95 : 0.8, c > 0 ? "jwt.header_alg" : "jwt.unsigned");
}

std::size_t Pass::private_key(std::size_t s) {
  if (!on(Entity::kPrivateKey) || !starts(s, "-----BEGIN ")) return 0;
  const std::size_t lb = s + 11;
  const std::size_t ll = run_of(lb, [](unsigned char c) { return is_upper(c) || c == ' '; }, 48);
  if (!starts(lb + ll, "-----")) return 0;
  const std::string_view label = text.substr(lb, ll);
  if (!(label.ends_with("PRIVATE KEY") || label.ends_with("PRIVATE KEY BLOCK"))) return 0;
  const std::size_t body = lb + ll + 5;
  const std::size_t end_at = text.find("-----END ", body);
  if (end_at == std::string_view::npos) {
    add(Entity::kPrivateKey, s, n, 0.9, "private_key.pem_unterminated");
    return n;
  }
  const std::size_t el = run_of(end_at + 9, [](unsigned char c) { return is_upper(c) || c == ' '; }, 48);
  std::size_t e = end_at + 9 + el;
  if (starts(e, "-----")) e += 5;
  add(Entity::kPrivateKey, s, e, 1.0, "private_key.pem");
  return e;
}

}  // namespace detail

}  // namespace covekit::pii
