// The PII scanner's driver: the byte class table, the single pass, the numeric
// entities (cards, phones, SSNs, IPv4), overlap resolution and offsets. The matchers
// for the other entities are in pii_rules.cpp.
#include "covekit/pii.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "covekit/errors.hpp"
#include "covekit/parallel.hpp"
#include "covekit/utf8.hpp"
#include "pii_internal.hpp"

namespace covekit::pii {

namespace {

constexpr std::array<std::string_view, kEntityCount> kNames = {
    "EMAIL",          "PHONE",          "CREDIT_CARD",       "IBAN",          "US_SSN",
    "IP_ADDRESS",     "MAC_ADDRESS",    "URL_CREDENTIALS",   "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
    "GITHUB_TOKEN",   "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SLACK_TOKEN",   "STRIPE_KEY",
    "GOOGLE_API_KEY", "PRIVATE_KEY",    "JWT",               "GENERIC_SECRET"};

}  // namespace

std::string_view entity_name(Entity e) noexcept { return kNames[static_cast<std::size_t>(e)]; }

std::optional<Entity> entity_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kEntityCount; ++i)
    if (kNames[i] == name) return static_cast<Entity>(i);
  return std::nullopt;
}

bool luhn_valid(std::string_view digits) noexcept {
  if (digits.empty()) return false;
  unsigned sum = 0;
  bool twice = false;
  for (std::size_t i = digits.size(); i-- > 0;) {
    const unsigned char c = static_cast<unsigned char>(digits[i]);
    if (c < '0' || c > '9') return false;
    unsigned d = c - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

double shannon_entropy(std::string_view s) noexcept {
  if (s.empty()) return 0.0;
  std::array<uint32_t, 256> count{};
  for (unsigned char c : s) ++count[c];
  const double n = static_cast<double>(s.size());
  double h = 0.0;
  for (uint32_t c : count) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / n;
    h -= p * std::log2(p);
  }
  return h;
}

namespace detail {

bool Pass::context_near(std::size_t b, std::size_t e, std::span<const std::string_view> words, bool after) const {
  const std::size_t w = cfg.context_window;
  if (w == 0) return false;
  auto search = [&](std::size_t from, std::size_t to) {
    if (from >= to) return false;
    std::array<char, 1100> buf;
    const std::size_t len = to - from;
    for (std::size_t i = 0; i < len; ++i) buf[i] = static_cast<char>(lower(p[from + i]));
    const std::string_view hay(buf.data(), len);
    for (std::string_view word : words) {
      for (std::size_t at = hay.find(word); at != std::string_view::npos; at = hay.find(word, at + 1)) {
        const bool before_ok = at == 0 ? (from == 0 || !is_alpha(p[from - 1])) : !is_alpha(static_cast<unsigned char>(hay[at - 1]));
        if (before_ok) return true;
      }
    }
    return false;
  };
  return search(b > w ? b - w : 0, b) || (after && search(e, std::min(n, e + w)));
}

void Pass::add(Entity e, std::size_t b, std::size_t en, double score, std::string_view rule) {
  const auto k = static_cast<std::size_t>(e);
  if (!cfg.enabled[k] || score < cfg.min_score[k] || en <= b) return;
  out.push_back(Finding{e, b, en, std::min(score, 1.0), rule});
  // a value may start at the digit group after this one (numeric); not after a run of
  // digit groups that only a context word makes a phone number: those delimit nothing
  if (at(en) == ' ' && is_digit(at(en + 1)) && !rule.starts_with("phone.digits")) after_finding.push_back(en + 1);
}

bool Pass::follows_finding(std::size_t s) {
  // the pass only moves forward: positions behind it are done with
  std::erase_if(after_finding, [&](std::size_t x) { return x < s; });
  return std::find(after_finding.begin(), after_finding.end(), s) != after_finding.end();
}

// ------------------------------------------------------------------- numbers

struct Group {
  std::size_t b = 0, e = 0;
  char sep = 0;  // separator before this group: 0 (first), ' ', '-', '.', '(' or ')'
  [[nodiscard]] std::size_t len() const { return e - b; }
};

namespace {

constexpr std::array<std::string_view, 26> kPhoneWords = {
    // "call" only as "call me/us/at" or right before the number (call_before): log lines
    // say "upstream call order=...", and a bare "call" lifted their order numbers
    "phone", "tel",  "mobile", "cell", "fax",     "contact", "whatsapp", "sms",  "dial",
    "call me", "call us", "call at",
    "mob",   "handy", "telefon", "t\xc3\xa9l\xc3\xa9phone", "m\xc3\xb3vil", "tel\xc3\xa9" "fono", "portable",
    "cellulare", "\xe9\x9b\xbb\xe8\xa9\xb1", "hotline", "phone#",
    "\xe0\xa4\xab\xe0\xa4\xbc\xe0\xa5\x8b\xe0\xa4\xa8",  // फ़ोन
    "\xe0\xa4\xab\xe0\xa5\x8b\xe0\xa4\xa8",  // फोन
    "twilio"};
// the SSN is also the US taxpayer id
constexpr std::array<std::string_view, 10> kSsnWords = {"ssn",    "social security", "social sec", "ss#", "tax id",
                                                        "tax_id", "tax-id",          "taxid",      "taxpayer", "tin"};
constexpr std::array<std::string_view, 15> kCardWords = {
    "card", "karte", "kaart", "cart", "tarjeta", "pan", "cc", "credit", "kredit", "visa", "amex", "jcb", "diners",
    "\xe3\x82\xab\xe3\x83\xbc\xe3\x83\x89",  // カード
    "payment"};
constexpr std::array<std::string_view, 6> kVersionWords = {"version", "release", "build", "firmware v", "ver.", "ec "};

struct Numeric {
  std::array<Group, 10> g;
  std::size_t n = 0;
  std::size_t start = 0;
  bool plus = false;
  bool open_paren = false;
  std::size_t ext_end = 0;  // end of an "x123" / "ext. 123" extension after the last group
  std::size_t digits = 0;
};

bool seps_uniform(const Numeric& c, std::size_t k, std::string_view allowed) {
  if (k <= 1) return true;
  const char s = c.g[1].sep;
  if (allowed.find(s) == std::string_view::npos) return false;
  for (std::size_t i = 2; i < k; ++i)
    if (c.g[i].sep != s) return false;
  return true;
}

std::size_t digit_count(const Numeric& c, std::size_t k) {
  std::size_t d = 0;
  for (std::size_t i = 0; i < k; ++i) d += c.g[i].len();
  return d;
}

}  // namespace

bool Pass::start_ok(std::size_t s) const {
  if (s == 0) return true;
  const unsigned char prev = p[s - 1];
  if (is_word(prev)) return false;
  if ((prev == '-' || prev == '.') && s >= 2 && is_alnum(p[s - 2])) return false;
  return true;
}

bool Pass::end_ok(std::size_t e) const {
  const unsigned char c = at(e);
  if (is_word(c)) return false;
  if ((c == '-' || c == '.') && is_alnum(at(e + 1))) return false;
  return true;
}

std::size_t Pass::next_group(std::size_t e) const {
  const unsigned char x = at(e), y = at(e + 1), z = at(e + 2);
  if ((x == ' ' || x == '-' || x == '.' || x == ')' || x == '(') && is_digit(y)) return e + 1;
  if (x == ')' && (y == ' ' || y == '-') && is_digit(z)) return e + 2;
  if ((x == ' ' || x == '-') && y == '(' && is_digit(z)) return e + 2;
  return 0;
}

void Pass::numeric(std::size_t s) {
  Numeric c;
  c.start = s;
  std::size_t pos = s;
  if (p[pos] == '+') {
    c.plus = true;
    ++pos;
  } else if (p[pos] == '(') {
    c.open_paren = true;
    ++pos;
  }
  if (!is_digit(at(pos)) || !start_ok(s)) return;
  char sep = 0;
  while (c.n < c.g.size()) {
    std::size_t e = pos;
    while (e < n && is_digit(p[e]) && e - pos < 24) ++e;
    const bool too_long = e < n && is_digit(p[e]);  // a run of 24+ digits
    if (too_long && c.n == 0) return;                 // is nothing
    if (too_long || c.digits + (e - pos) > 24) break;  // the chain ends before this group
    c.g[c.n++] = Group{pos, e, sep};
    c.digits += e - pos;
    const std::size_t next = next_group(e);
    if (!next) break;
    // the separator the readings see: ')' after a closing parenthesis, '(' before an
    // opening one, else the byte itself (' ', '-' or '.')
    if (p[e] == ')') sep = ')';
    else if (p[next - 1] == '(') sep = '(';
    else sep = static_cast<char>(p[e]);
    pos = next;
  }
  // A start inside a chain of space-separated digit groups ("DE89 3704 0044 0532", the
  // card of "415-555-2671 4111 1111 1111 1111") is read in full when a finding ends at
  // the space before it: it is the next value after that one. Otherwise it is a piece
  // of the chain, and only a card (Luhn and an issuer's prefix) that ends where the
  // chain does is read there ("ref 12345 4111 1111 1111 1111"): a piece from the middle
  // ("9400 4269 7614 3815 4564 56", a tracking number) or a weaker reading of the tail
  // (the "0044 0532 0130 01" of a mistyped IBAN is no call to the UK) is nothing.
  const bool inner = is_digit(p[s]) && s >= 2 && p[s - 1] == ' ' && is_digit(p[s - 2]);
  const bool tail_only = inner && c.n >= 2 && c.g[1].sep == ' ' && !follows_finding(s);
  auto closed = [&](std::size_t e) { return !tail_only || next_group(e) == 0; };
  // a card that ends the chain has at most five groups and 19 digits
  if (tail_only && (c.n > 5 || c.digits > 19 || next_group(c.g[c.n - 1].e))) return;
  // An extension after the last group: "x123", " x123", "ext. 123", " ext 123".
  {
    std::size_t q = c.g[c.n - 1].e;
    if (at(q) == ' ') ++q;
    std::size_t r = 0;
    if (lower(at(q)) == 'x') r = q + 1;
    else if (lower(at(q)) == 'e' && lower(at(q + 1)) == 'x' && lower(at(q + 2)) == 't') {
      r = q + 3;
      if (at(r) == '.') ++r;
      if (at(r) == ' ') ++r;
    }
    if (r) {
      std::size_t d = r;
      while (d < n && is_digit(p[d]) && d - r < 7) ++d;
      if (d > r && d - r <= 6 && !is_word(at(d))) c.ext_end = d;
    }
  }
  // Parentheses only matter to phones: the other entities' separators exclude them.
  const bool parens = c.open_paren;
  auto digits_of = [&](std::size_t k) {
    std::string d;
    for (std::size_t i = 0; i < k; ++i) d.append(reinterpret_cast<const char*>(p + c.g[i].b), c.g[i].len());
    return d;
  };

  // IPv4: four dotted groups of 0-255 without leading zeros.
  if (!c.plus && !parens && c.n >= 4 && on(Entity::kIpAddress) && seps_uniform(c, 4, ".") && end_ok(c.g[3].e)) {
    bool ok = true;
    for (std::size_t i = 0; i < 4 && ok; ++i) {
      const Group& g = c.g[i];
      if (g.len() > 3 || (g.len() > 1 && p[g.b] == '0')) ok = false;
      else {
        int v = 0;
        for (std::size_t j = g.b; j < g.e; ++j) v = v * 10 + (p[j] - '0');
        ok = v <= 255;
      }
    }
    if (ok) {
      // only a word before it: "version 1.2.3.4", not an "app_version" key after an address
      if (context_near(s, s, kVersionWords, false)) add(Entity::kIpAddress, s, c.g[3].e, 0.3, "ip_address.v4+version_context");
      else add(Entity::kIpAddress, s, c.g[3].e, 0.85, "ip_address.v4");
    }
  }

  // Credit cards: 13-19 digits, one kind of separator (space or dash) in card-like
  // groups, a known IIN for the length, Luhn.
  if (!c.plus && !parens && on(Entity::kCreditCard)) {
    for (std::size_t k = std::min<std::size_t>(c.n, 5); k >= 1; --k) {
      if (!seps_uniform(c, k, " -") || !end_ok(c.g[k - 1].e) || !closed(c.g[k - 1].e)) continue;
      const std::size_t d = digit_count(c, k);
      if (d < 13 || d > 19) continue;
      bool shape = k == 1;
      if (!shape) {
        shape = true;
        for (std::size_t i = 0; i + 1 < k; ++i) shape = shape && c.g[i].len() == 4;
        shape = shape && c.g[k - 1].len() >= 1 && c.g[k - 1].len() <= 4;
        const bool amex_diners =
            k == 3 && c.g[0].len() == 4 && c.g[1].len() == 6 && (c.g[2].len() == 5 || c.g[2].len() == 4);
        if (amex_diners) shape = true;
        // the tail of a longer chain: only as cards are printed (4-4-4-4, 4-4-4-4-3,
        // 4-6-5, 4-6-4), not the 4-4-4-4-2 end of a 22-digit tracking number
        if (tail_only) shape = amex_diners || (shape && (d == 16 || (d == 19 && k == 5)));
      }
      if (!shape) continue;
      const std::string digits = digits_of(k);
      if (luhn_valid(digits)) {
        if (card_iin_ok(digits)) {
          add(Entity::kCreditCard, s, c.g[k - 1].e, 1.0, "credit_card.luhn");
          break;
        }
        // Luhn-valid, 16 digits, no known issuer prefix (test generators, new ranges): a
        // card only beside a card word
        if (d == 16 && context_near(s, c.g[k - 1].e, kCardWords)) {
          add(Entity::kCreditCard, s, c.g[k - 1].e, 0.7, "credit_card.luhn+context");
          break;
        }
      }
    }
  }

  // US SSN: AAA-GG-SSSS (dashes or spaces), or nine digits with a context word.
  if (!c.plus && !parens && !tail_only && on(Entity::kUsSsn)) {
    auto valid = [](std::string_view d) {
      const int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
      if (area == 0 || area == 666 || area >= 900) return false;
      if (d[3] == '0' && d[4] == '0') return false;
      if (d.substr(5) == "0000") return false;
      return d != "078051120" && d != "219099999";  // published example numbers
    };
    if (c.n >= 3 && c.g[0].len() == 3 && c.g[1].len() == 2 && c.g[2].len() == 4 && seps_uniform(c, 3, "- ") &&
        end_ok(c.g[2].e)) {
      const std::string d = digits_of(3);
      if (valid(d)) {
        const bool ctx = context_near(s, c.g[2].e, kSsnWords);
        if (c.g[1].sep == '-') add(Entity::kUsSsn, s, c.g[2].e, ctx ? 1.0 : 0.85, ctx ? "us_ssn.dashed+context" : "us_ssn.dashed");
        else add(Entity::kUsSsn, s, c.g[2].e, ctx ? 0.9 : 0.45, ctx ? "us_ssn.spaced+context" : "us_ssn.spaced");
      }
    } else if (c.g[0].len() == 9 && end_ok(c.g[0].e)) {
      const std::string d = digits_of(1);
      if (valid(d)) {
        if (context_near(s, c.g[0].e, kSsnWords)) add(Entity::kUsSsn, s, c.g[0].e, 0.7, "us_ssn.digits+context");
        else add(Entity::kUsSsn, s, c.g[0].e, 0.15, "us_ssn.digits");
      }
    }
  }

  // Phones: the best reading of a prefix of the groups.
  if (on(Entity::kPhone) && !tail_only)
    phone(c.start, c.plus, c.open_paren, std::span<const Group>(c.g.data(), c.n), c.ext_end);
}

// The phone readings of the first k groups (k = 1..n): the best (the highest score, the
// longest of equal ones) is reported, and so is each shorter reading that scores at
// least as well as every reading shorter than it (the best reading of its own text),
// so that resolution can end a number before a group that starts the next value:
// "+1 415 555 2671 4111 1111 1111 1111" reads "+1 415 555 2671 4111" as a number (15
// digits), and also "+1 415 555 2671", which leaves the card whole.
void Pass::phone(std::size_t s, bool plus, bool open_paren, std::span<const Group> g, std::size_t ext_end) {
  struct Reading {
    std::size_t end = 0;
    double score = -1;  // -1: no reading of this many groups
    std::string_view rule;
    bool ctx = false;
  };
  std::array<Reading, 10> readings{};
  for (std::size_t k = g.size(); k >= 1; --k) {
    std::size_t end = g[k - 1].e;
    if (k == g.size() && ext_end) end = ext_end;
    else if (!end_ok(end)) continue;
    // Parentheses: balanced, one level, and only around a group.
    int depth = open_paren ? 1 : 0;
    bool parens_ok = true;
    for (std::size_t i = 1; i < k && parens_ok; ++i) {
      if (g[i].sep == ')') parens_ok = depth-- == 1;
      else if (g[i].sep == '(') parens_ok = depth++ == 0;
    }
    if (!parens_ok || depth != 0) continue;
    std::size_t d = 0;
    for (std::size_t i = 0; i < k; ++i) d += g[i].len();
    const unsigned char first = p[g[0].b];
    double score = -1;
    std::string_view rule;
    const bool intl00 = !plus && g[0].len() >= 3 && g[0].len() <= 5 && first == '0' && p[g[0].b + 1] == '0' && k >= 2;
    if (plus || intl00) {
      const std::size_t cc_first = intl00 ? g[0].b + 2 : g[0].b;
      const std::size_t dd = intl00 ? d - 2 : d;
      if (p[cc_first] != '0' && dd >= 8 && dd <= 15) {
        score = 0.8;
        rule = "phone.e164";
      }
    } else if (d < 7 || d > 15) {
      continue;
    } else {
      auto lens = [&](std::initializer_list<std::size_t> want) {
        if (want.size() != k) return false;
        std::size_t i = 0;
        for (std::size_t w : want)
          if (g[i++].len() != w) return false;
        return true;
      };
      const bool us = lens({3, 3, 4}) || (lens({1, 3, 3, 4}) && first == '1' && !open_paren);
      const bool date = k == 3 && ((g[0].len() == 4 && g[1].len() == 2 && g[2].len() == 2) ||
                                   (g[0].len() == 2 && g[1].len() == 2 && g[2].len() == 4));
      if (us) {
        const std::size_t area = k == 4 ? 1 : 0;
        const bool nanp = p[g[area].b] >= '2' && p[g[area + 1].b] >= '2';
        score = nanp ? 0.6 : 0.4;
        rule = "phone.us";
      } else if (date) {
        continue;
      } else if (first == '0' && k >= 2 && d >= 9 && d <= 11 && !lens({3, 2, 4})) {
        score = 0.55;
        rule = "phone.national";
      } else if (k == 1 && first == '0' && d >= 9 && d <= 11) {
        score = 0.3;  // a national number written without separators: needs a context word
        rule = "phone.national";
      } else if (k >= 2 || (d >= 10 && d <= 13)) {
        score = k >= 2 ? 0.3 : 0.25;
        rule = "phone.digits";
      }
    }
    if (score < 0) continue;
    const bool ctx = context_near(s, end, kPhoneWords) || call_before(s);
    if (ctx) score = std::min(1.0, score + 0.35);
    readings[k - 1] = Reading{end, score, rule, ctx};
  }
  std::size_t best = 0;  // 1 + the index of the best reading
  for (std::size_t k = g.size(); k >= 1; --k)
    if (readings[k - 1].score >= 0 && (best == 0 || readings[k - 1].score > readings[best - 1].score)) best = k;
  if (best == 0) return;
  double shorter_best = -1;  // the best score of the readings shorter than k
  std::array<bool, 10> report{};
  for (std::size_t k = 1; k <= best; ++k) {
    const Reading& r = readings[k - 1];
    if (r.score < 0) continue;
    report[k - 1] = k == best || r.score >= shorter_best;
    shorter_best = std::max(shorter_best, r.score);
  }
  for (std::size_t k = best; k >= 1; --k) {
    const Reading& r = readings[k - 1];
    if (report[k - 1]) add(Entity::kPhone, s, r.end, r.score, with_context(r.rule, r.ctx));
  }
}

// "call" (any case) right before s, spaces or a colon between: "or call +1 415...".
bool Pass::call_before(std::size_t s) const {
  std::size_t i = s;
  while (i > 0 && s - i < 4 && (p[i - 1] == ' ' || p[i - 1] == ':')) --i;
  if (i == s || i < 4) return false;
  for (std::size_t k = 0; k < 4; ++k)
    if (lower(p[i - 4 + k]) != "call"[k]) return false;
  return i == 4 || !is_alpha(p[i - 5]);
}

std::string_view with_context(std::string_view rule, bool ctx) {
  if (!ctx) return rule;
  if (rule == "phone.e164") return "phone.e164+context";
  if (rule == "phone.us") return "phone.us+context";
  if (rule == "phone.national") return "phone.national+context";
  return "phone.digits+context";
}

bool card_iin_ok(std::string_view d) {
  const std::size_t len = d.size();
  auto num = [&](std::size_t k) {
    int v = 0;
    for (std::size_t i = 0; i < k; ++i) v = v * 10 + (d[i] - '0');
    return v;
  };
  const int p2 = num(2), p3 = num(3), p4 = num(4);
  if (d[0] == '4') return len == 13 || len == 16 || len == 19;                       // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return len == 16;       // Mastercard
  if (p2 == 34 || p2 == 37) return len == 15;                                        // Amex
  if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) return len >= 16;          // Discover
  if (p4 >= 3528 && p4 <= 3589) return len >= 16;                                    // JCB
  if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) return len >= 14;  // Diners
  if (p2 == 62) return len >= 16;                                                    // UnionPay
  return false;
}

// ------------------------------------------------------------------- the pass

void Pass::run() {
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    const uint8_t k = kClass[c];
    if (k == 0) {
      ++i;
      continue;
    }
    if (k & kWord) {
      std::size_t resume = word(i);
      std::size_t j = i + 1;
      while (j < n && (kClass[p[j]] & kWord)) ++j;
      i = std::max(j, resume);
      continue;
    }
    i = std::max(i + 1, punct(i));
  }
}

std::size_t Pass::word(std::size_t i) {
  const unsigned char c = p[i];
  if (is_digit(c)) {
    numeric(i);
    hex_address(i);
    return 0;
  }
  if (is_hex(c)) hex_address(i);
  if (c >= 'A' && c <= 'Z') {
    if (c == 'A') aws_or_google(i);
    iban(i);
    return 0;
  }
  switch (c) {
    case 'e': jwt(i); break;
    case 'g': github(i); break;
    case 's': openai_anthropic(i); [[fallthrough]];
    case 'r':
    case 'p': stripe(i); break;
    case 'x': slack(i); break;
    case 'h': slack_webhook(i); break;
    default: break;
  }
  return 0;
}

std::size_t Pass::punct(std::size_t i) {
  switch (p[i]) {
    case '@': email(i); break;
    case ':':
      if (at(i + 1) == '/' && at(i + 2) == '/') url_credentials(i);
      else if (at(i + 1) == ':' && (i == 0 || (!is_word(p[i - 1]) && p[i - 1] != ':'))) hex_address(i);
      else assignment(i);
      break;
    case '=': assignment(i); break;
    case '+':
    case '(':
      if (is_digit(at(i + 1)) && (i == 0 || !is_word(p[i - 1]))) numeric(i);
      break;
    case '-': return private_key(i);
    default: break;
  }
  return 0;
}

// Where a generic secret's value ends is a guess when it is not quoted (the run of
// printable ASCII after the key): a finding that starts inside the value and runs past
// its end is the next value, and the secret ends where that one starts
// ("password=Zk9!q|4111 1111 1111 1111" is the secret "Zk9!q|" and the card).
void trim_generic_secrets(std::vector<Finding>& found) {
  if (std::none_of(found.begin(), found.end(), [](const Finding& f) { return f.entity == Entity::kGenericSecret; }))
    return;
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // (start, end), by start
  spans.reserve(found.size());
  for (const Finding& f : found) spans.emplace_back(f.start, f.end);
  std::sort(spans.begin(), spans.end());
  for (Finding& f : found) {
    if (f.entity != Entity::kGenericSecret) continue;
    std::size_t cut = f.end;
    auto it = std::upper_bound(spans.begin(), spans.end(), std::make_pair(f.start, static_cast<std::size_t>(-1)));
    for (; it != spans.end() && it->first < f.end; ++it)
      if (it->second > f.end) cut = std::min(cut, it->first);
    f.end = cut;
  }
}

// A finding next to a byte that some matcher takes into a token may have hidden a value
// beside it (see Scanner::scan_valid).
bool glued(std::string_view text, std::span<const Finding> found) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  auto at = [&](std::size_t i) -> unsigned char { return i < n ? p[i] : 0; };
  // bytes that some matcher takes into a token: its neighbour may have been read as part of it
  auto joins = [](unsigned char c) { return is_word(c) || (c != 0 && std::strchr("-.:+/%@~", c) != nullptr); };
  auto graphic = [](unsigned char c) { return c > ' ' && c < 0x7F; };
  for (const Finding& f : found) {
    // after a finding, '/' hides nothing: no matcher but the generic rule's value and a
    // webhook's path reads one before it (a URL's path after its credentials is common)
    const unsigned char a = at(f.end);
    if (is_word(a) || ((joins(a) || a == '(') && a != '/' && graphic(at(f.end + 1)))) return true;
    if (f.start == 0) continue;
    const unsigned char b = p[f.start - 1];
    if (is_word(b) || (joins(b) && f.start >= 2 && graphic(p[f.start - 2]))) return true;
  }
  return false;
}

// The findings kept are the disjoint set that covers the most bytes (weighted interval
// scheduling over the candidates sorted by end), then the one with the highest total
// score; of findings with the same span, the higher score, then the entity listed
// first, is the candidate. So a finding that contains others wins over them (it covers
// more), and of two findings that overlap in part, the one that lets a neighbour be
// kept too: "+1 415 555 2671 4111 1111 1111 1111" keeps the phone's shorter reading and
// the card rather than its longer reading alone.
void resolve(std::vector<Finding>& found) {
  if (found.size() <= 1) return;
  trim_generic_secrets(found);
  std::sort(found.begin(), found.end(), [](const Finding& x, const Finding& y) {
    if (x.end != y.end) return x.end < y.end;
    if (x.start != y.start) return x.start < y.start;
    if (x.score != y.score) return x.score > y.score;
    return x.entity < y.entity;
  });
  // one candidate per span: the first of each run of equal spans
  found.erase(std::unique(found.begin(), found.end(),
                          [](const Finding& x, const Finding& y) { return x.start == y.start && x.end == y.end; }),
              found.end());
  const std::size_t m = found.size();
  struct Total {
    std::size_t bytes = 0;
    int64_t score = 0;  // in millionths, so that sums compare exactly
    [[nodiscard]] bool operator>(const Total& o) const {
      return bytes != o.bytes ? bytes > o.bytes : score > o.score;
    }
  };
  // best[i]: the best total over the first i candidates; take[i]: candidate i is in it
  std::vector<Total> best(m + 1);
  std::vector<std::size_t> before(m);  // candidates ending at or before candidate i's start
  std::vector<bool> take(m, false);
  for (std::size_t i = 0; i < m; ++i) {
    const Finding& f = found[i];
    before[i] = static_cast<std::size_t>(
        std::upper_bound(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(i), f.start,
                         [](std::size_t s, const Finding& g) { return s < g.end; }) -
        found.begin());
    Total with = best[before[i]];
    with.bytes += f.end - f.start;
    with.score += std::llround(f.score * 1e6);
    // on a tie the candidate is left out, and the choice among those ending earlier stays
    take[i] = with > best[i];
    best[i + 1] = take[i] ? with : best[i];
  }
  std::vector<Finding> kept;
  for (std::size_t i = m; i > 0;) {
    if (take[i - 1]) {
      kept.push_back(found[i - 1]);
      i = before[i - 1];
    } else {
      --i;
    }
  }
  std::reverse(kept.begin(), kept.end());
  found.swap(kept);
}

}  // namespace detail

Scanner::Scanner(Config config) : config_(config) {
  for (std::size_t i = 0; i < kEntityCount; ++i) {
    const double s = config_.min_score[i];
    if (!(s >= 0.0 && s <= 1.0))
      throw InvalidInput("the minimum score of " + std::string(kNames[i]) + " must be in [0, 1], got " +
                         std::to_string(s));
  }
  if (config_.context_window > 1024)
    throw InvalidInput("context_window must be at most 1024 bytes, got " + std::to_string(config_.context_window));
  if (config_.secret_min_length < 1) throw InvalidInput("secret_min_length must be >= 1");
  if (!(config_.secret_min_entropy >= 0.0) || !(config_.secret_min_entropy_hex >= 0.0))
    throw InvalidInput("secret entropy thresholds must be >= 0 (bits per character)");
}

std::vector<Finding> Scanner::scan_valid(std::string_view text) const {
  std::vector<Finding> out;
  detail::Pass pass{text, reinterpret_cast<const unsigned char*>(text.data()), text.size(), config_, out};
  pass.run();
  detail::resolve(out);
  // A value glued to another ("4109-2483-4352-6114.sk-ant-...", "ghp_....782-43-4166",
  // "GB82WEST12345698765432+44 20 7946 0958") is hidden by its neighbour's bytes: the
  // boundary rules read the two as one longer token. A pass over a copy of the text with
  // the findings blanked (NUL bytes, the same length: offsets and context windows stay)
  // finds it; the rounds end when one finds nothing new.
  for (int round = 0; round < 4 && detail::glued(text, out); ++round) {
    std::string blank(text);
    for (const Finding& f : out) std::memset(blank.data() + f.start, 0, f.end - f.start);
    std::vector<Finding> more;
    detail::Pass again{blank, reinterpret_cast<const unsigned char*>(blank.data()), blank.size(), config_, more};
    again.run();
    detail::resolve(more);
    // a finding that takes in a blanked byte is made of a finding already there
    std::erase_if(more, [&](const Finding& f) {
      auto it = std::lower_bound(out.begin(), out.end(), f.end,
                                 [](const Finding& k, std::size_t e) { return k.start < e; });
      return it != out.begin() && std::prev(it)->end > f.start;
    });
    if (more.empty()) break;
    out.insert(out.end(), more.begin(), more.end());
    std::sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) { return a.start < b.start; });
  }
  return out;
}

std::vector<Finding> Scanner::scan(std::string_view text) const {
  utf8::validate(text);
  return scan_valid(text);
}

std::vector<std::vector<Finding>> Scanner::scan_batch(std::span<const std::string_view> texts,
                                                      std::size_t threads) const {
  std::vector<std::vector<Finding>> out(texts.size());
  parallel::parallel_for(texts.size(), parallel::resolve_threads(threads, texts.size()),
                         [&](std::size_t i) { out[i] = scan(texts[i]); });
  return out;
}

std::vector<std::pair<std::size_t, std::size_t>> code_point_spans(std::string_view text,
                                                                  std::span<const Finding> findings) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  out.reserve(findings.size());
  std::size_t byte = 0, cp = 0;
  auto advance = [&](std::size_t to) {
    for (; byte < to; ++byte) cp += !utf8::is_continuation(static_cast<unsigned char>(text[byte]));
    return cp;
  };
  for (const Finding& f : findings) {
    if (f.start < byte || f.end < f.start || f.end > text.size())
      throw InvalidInput("findings must be sorted, disjoint and inside the text");
    const std::size_t a = advance(f.start);
    const std::size_t b = advance(f.end);
    out.emplace_back(a, b);
  }
  return out;
}

}  // namespace covekit::pii
