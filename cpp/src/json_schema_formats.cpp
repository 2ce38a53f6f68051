// `format` checks, used when format assertion is on: date-time, date, time, duration
// (RFC 3339 / ISO 8601), email and idn-email, hostname and idn-hostname, ipv4, ipv6,
// uri, uri-reference, iri, iri-reference, uri-template, uuid, regex, json-pointer,
// relative-json-pointer. Unknown formats are valid (the specification says so).
#include <arpa/inet.h>

#include <cctype>
#include <cstring>
#include <stdexcept>
#include <string>

#include "covekit/json_schema.hpp"

namespace covekit::json_schema_detail {

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool date(std::string_view s) {
  int y, m, d;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  if (!digits(s, 0, 4, y) || !digits(s, 5, 2, m) || !digits(s, 8, 2, d)) return false;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= days[m - 1] + (m == 2 && leap(y) ? 1 : 0);
}

bool time(std::string_view s) {
  int h, mi, se;
  if (s.size() < 9 || s[2] != ':' || s[5] != ':') return false;
  if (!digits(s, 0, 2, h) || !digits(s, 3, 2, mi) || !digits(s, 6, 2, se)) return false;
  std::size_t i = 8;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
  }
  if (i >= s.size()) return false;
  int oh = 0, om = 0, sign = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    if (i + 1 != s.size()) return false;
  } else if (s[i] == '+' || s[i] == '-') {
    sign = s[i] == '+' ? 1 : -1;
    if (s.size() != i + 6 || s[i + 3] != ':' || !digits(s, i + 1, 2, oh) || !digits(s, i + 4, 2, om)) return false;
    if (oh > 23 || om > 59) return false;
  } else {
    return false;
  }
  if (h > 23 || mi > 59 || se > 60) return false;
  if (se == 60) {
    // A leap second exists only at 23:59:60 UTC.
    int total = h * 60 + mi - sign * (oh * 60 + om);
    total = ((total % 1440) + 1440) % 1440;
    if (total != 23 * 60 + 59) return false;
  }
  return true;
}

bool date_time(std::string_view s) {
  if (s.size() < 20 || (s[10] != 'T' && s[10] != 't')) return false;
  return date(s.substr(0, 10)) && time(s.substr(11));
}

bool duration(std::string_view s) {
  if (s.size() < 2 || s[0] != 'P') return false;
  std::size_t i = 1;
  bool in_time = false, any = false, weeks = false, other = false;
  const char* date_units = "YMD";
  const char* time_units = "HMS";
  int last = -1;
  while (i < s.size()) {
    if (s[i] == 'T') {
      if (in_time) return false;
      in_time = true;
      last = -1;
      ++i;
      if (i == s.size()) return false;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start || i == s.size()) return false;
    const char u = s[i++];
    any = true;
    if (!in_time && u == 'W') {
      weeks = true;
      continue;
    }
    other = true;
    const char* units = in_time ? time_units : date_units;
    const char* p = std::strchr(units, u);
    if (!p) return false;
    const int pos = static_cast<int>(p - units);
    if (pos <= last || (last >= 0 && pos != last + 1)) return false;  // Y[M[D]], H[M[S]]
    last = pos;
  }
  if (weeks && other) return false;
  return any;
}

bool ipv4(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    const std::size_t start = i;
    int v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + (s[i] - '0');
      if (v > 255) return false;
      ++i;
    }
    const std::size_t len = i - start;
    if (len == 0 || len > 3 || (len > 1 && s[start] == '0')) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
  return parts == 4;
}

bool ipv6(std::string_view s) {
  if (s.size() > 45) return false;
  for (char c : s)
    if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
  const std::size_t dot = s.find('.');
  if (dot != std::string_view::npos) {
    const std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || !ipv4(s.substr(colon + 1))) return false;
  }
  const std::string z(s);
  unsigned char buf[16];
  return inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

bool hostname_label(std::string_view l, bool idn) {
  if (l.empty() || l.size() > 63) return false;
  if (l.front() == '-' || l.back() == '-') return false;
  if (l.size() >= 4 && l[2] == '-' && l[3] == '-' && !(l.substr(0, 2) == "xn")) return false;
  for (unsigned char c : l) {
    if (std::isalnum(c) || c == '-') continue;
    if (idn && c >= 0x80) continue;
    return false;
  }
  return true;
}

bool hostname(std::string_view s, bool idn) {
  if (s.empty() || s.size() > 253 || s.back() == '.') return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    if (!hostname_label(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start), idn))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool email(std::string_view s, bool idn) {
  const std::size_t at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= s.size()) return false;
  std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
  if (local.size() >= 2 && local.front() == '"' && local.back() == '"') {
    // quoted local part
  } else {
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
    for (unsigned char c : local) {
      if (std::isalnum(c) || std::strchr("!#$%&'*+-/=?^_`{|}~.", c)) continue;
      if (idn && c >= 0x80) continue;
      return false;
    }
  }
  if (domain.front() == '[' && domain.back() == ']') {
    std::string_view ip = domain.substr(1, domain.size() - 2);
    if (ip.substr(0, 5) == "IPv6:") return ipv6(ip.substr(5));
    return ipv4(ip);
  }
  return hostname(domain, idn);
}

bool uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

// RFC 3986 characters (plus any non-ASCII byte for IRIs); '%' must start a %XX escape.
bool uri_chars(std::string_view s, bool iri, const char* extra_forbidden = "") {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (!iri) return false;
      continue;
    }
    if (c == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
        return false;
      continue;
    }
    if (std::strchr(extra_forbidden, c)) return false;
    if (std::isalnum(c) || std::strchr("-._~:/?#[]@!$&'()*+,;=", c)) continue;
    return false;
  }
  return true;
}

bool authority(std::string_view auth) {
  const std::size_t at = auth.find('@');
  if (at != std::string_view::npos && auth.find('@', at + 1) != std::string_view::npos) return false;
  if (at != std::string_view::npos && auth.substr(0, at).find_first_of("[]") != std::string_view::npos) return false;
  std::string_view host = at == std::string_view::npos ? auth : auth.substr(at + 1);
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view ip = host.substr(1, close - 1);
    if (ip.empty()) return false;
    if (ip[0] != 'v' && ip[0] != 'V' && !ipv6(ip)) return false;
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return false;
    if (!rest.empty()) port = rest.substr(1);
  } else {
    if (host.find_first_of("[]") != std::string_view::npos) return false;
    const std::size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.find(':') != std::string_view::npos) return false;
    }
  }
  for (char c : port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// After the scheme (or for a relative reference): [//authority] path [?query] [#fragment].
bool hier_part(std::string_view rest, bool iri, bool relative) {
  const std::size_t hash = rest.find('#');
  if (hash != std::string_view::npos && rest.find('#', hash + 1) != std::string_view::npos) return false;
  std::string_view path = rest.substr(0, rest.find_first_of("?#"));
  if (path.substr(0, 2) == "//") {
    std::string_view auth = path.substr(2);
    auth = auth.substr(0, auth.find('/'));
    if (!authority(auth)) return false;
    path = path.substr(2 + auth.size());
  }
  if (path.find_first_of("[]") != std::string_view::npos) return false;
  if (relative && path.substr(0, path.find('/')).find(':') != std::string_view::npos) return false;
  return uri_chars(rest, iri);
}

bool uri_reference(std::string_view s, bool iri) {
  std::size_t i = 0;
  if (!s.empty() && std::isalpha(static_cast<unsigned char>(s[0]))) {
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '+' || s[i] == '-' || s[i] == '.')) ++i;
    if (i < s.size() && s[i] == ':') return hier_part(s.substr(i + 1), iri, false);
  }
  return hier_part(s, iri, true);
}

bool uri(std::string_view s, bool iri) {
  std::size_t i = 0;
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '+' || s[i] == '-' || s[i] == '.')) ++i;
  if (i >= s.size() || s[i] != ':') return false;
  return hier_part(s.substr(i + 1), iri, false);
}

bool json_pointer(std::string_view s) {
  if (s.empty()) return true;
  if (s[0] != '/') return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '~' && (i + 1 >= s.size() || (s[i + 1] != '0' && s[i + 1] != '1'))) return false;
  return true;
}

bool relative_json_pointer(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || (i > 1 && s[0] == '0')) return false;
  std::string_view rest = s.substr(i);
  if (rest == "#") return true;
  // Index manipulation (+N / -N) before a pointer (draft 2020-12 relative JSON pointers).
  if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
    std::size_t j = 1;
    while (j < rest.size() && std::isdigit(static_cast<unsigned char>(rest[j]))) ++j;
    if (j == 1 || (j > 2 && rest[1] == '0')) return false;
    rest = rest.substr(j);
    if (rest == "#") return false;
  }
  return json_pointer(rest);
}

bool varspec(std::string_view v) {
  std::string_view name = v;
  const std::size_t colon = v.find(':');
  if (colon != std::string_view::npos) {
    name = v.substr(0, colon);
    std::string_view len = v.substr(colon + 1);
    if (len.empty() || len.size() > 4 || len[0] < '1' || len[0] > '9') return false;
    for (char c : len)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  } else if (!v.empty() && v.back() == '*') {
    name = v.substr(0, v.size() - 1);
  }
  if (name.empty() || name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos)
    return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (std::isalnum(c) || c == '_' || c == '.') continue;
    if (c == '%' && i + 2 < name.size() && std::isxdigit(static_cast<unsigned char>(name[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(name[i + 2]))) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

// RFC 6570 URI Template syntax.
bool uri_template(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '{') {
      const std::size_t close = s.find('}', i);
      if (close == std::string_view::npos) return false;
      std::string_view expr = s.substr(i + 1, close - i - 1);
      if (expr.find('{') != std::string_view::npos) return false;
      if (!expr.empty() && std::string_view("+#./;?&=,!@|").find(expr[0]) != std::string_view::npos)
        expr.remove_prefix(1);
      if (expr.empty()) return false;
      std::size_t start = 0;
      while (true) {
        const std::size_t comma = expr.find(',', start);
        if (!varspec(expr.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)))
          return false;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      i = close;
      continue;
    }
    if (c < 0x21 || c == 0x7F || std::strchr("\"<>\\^`|}", c)) return false;
    if (c == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
        return false;
    }
  }
  return true;
}

// Syntax that PCRE2 accepts but ECMA-262 (with the u flag) does not: escapes of letters
// that mean nothing in ECMA-262 (\a, \e, ...), and "(?" forms other than (?: (?= (?!
// (?<= (?<! and named groups (?<name>.
bool ecma_only(std::string_view s) {
  bool in_class = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      if (i + 1 >= s.size()) return false;
      const char e = s[++i];
      if (std::isalpha(static_cast<unsigned char>(e)) && !std::strchr("dDwWsSbBfnrtvcxupPk", e)) return false;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      continue;
    }
    if (c == '[') {
      in_class = true;
      if (i + 1 < s.size() && s[i + 1] == ']') ++i;  // "[]" is a class of its own
      continue;
    }
    if (c == '(' && i + 1 < s.size() && s[i + 1] == '?') {
      const std::string_view rest = s.substr(i + 2);
      if (!(rest.substr(0, 1) == ":" || rest.substr(0, 1) == "=" || rest.substr(0, 1) == "!" ||
            rest.substr(0, 2) == "<=" || rest.substr(0, 2) == "<!" ||
            (rest.substr(0, 1) == "<" && rest.size() > 1 && (std::isalpha(static_cast<unsigned char>(rest[1])) || rest[1] == '_'))))
        return false;
    }
  }
  return true;
}

bool regex(std::string_view s) {
  if (!ecma_only(s)) return false;
  try {
    Regex r{std::string(s)};
    return true;
  } catch (const std::invalid_argument& e) {
    // ECMA-262 (ES2018) allows lookbehind of any width; PCRE2 10.42 does not.
    return std::string_view(e.what()).find("lookbehind") != std::string_view::npos &&
           std::string_view(e.what()).find("fixed length") != std::string_view::npos;
  }
}

}  // namespace

bool check_format(std::string_view f, std::string_view s) {
  if (f == "date-time") return date_time(s);
  if (f == "date") return date(s);
  if (f == "time") return time(s);
  if (f == "duration") return duration(s);
  if (f == "email") return email(s, false);
  if (f == "idn-email") return email(s, true);
  if (f == "hostname") return hostname(s, false);
  if (f == "idn-hostname") return hostname(s, true);
  if (f == "ipv4") return ipv4(s);
  if (f == "ipv6") return ipv6(s);
  if (f == "uri") return uri(s, false);
  if (f == "iri") return uri(s, true);
  if (f == "uri-reference") return uri_reference(s, false);
  if (f == "iri-reference") return uri_reference(s, true);
  if (f == "uri-template") return uri_template(s);
  if (f == "uuid") return uuid(s);
  if (f == "regex") return regex(s);
  if (f == "json-pointer") return json_pointer(s);
  if (f == "relative-json-pointer") return relative_json_pointer(s);
  return true;
}

}  // namespace covekit::json_schema_detail
