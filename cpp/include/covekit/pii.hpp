// PII and secret scanning over UTF-8 text, in one pass (two for glued values).
//
// The scanner walks the text once (again only for a value glued to a finding, see
// below). A 256-entry byte class table lets it skip a run of letters or digits in a
// tight loop; only at the start of a word (a run of ASCII letters, digits and '_') and
// at a few punctuation bytes ('@', ':', '=', '+', '(', '-') does it look further: the
// word's first bytes (a digit, "AKIA", "ghp_", "sk-", "eyJ", ...) or the punctuation
// pick the few hand-written matchers worth running there. There is no regex engine and
// no pass per entity.
//
// Word boundaries: a match never starts or ends inside a run of ASCII letters, digits
// and '_' (a Luhn-valid 16-digit run inside a 30-digit run is nothing). Numbers are
// stricter: a number preceded by "x-" / "x." or followed by "-x" / ".x" (x a letter or
// digit) is part of a longer token (an order id "INV-555-123-4567", a version
// "1.2.3.4.5") and matches nothing; but a value glued to another finding that way
// ("ghp_....123-45-6789", "GB82WEST12345698765432+44 20 7946 0958") is found by a
// second pass over the text with the findings blanked out (same length, so offsets and
// context windows stay), run only when a finding touches such a byte (at most four
// rounds, each until nothing new is found). Non-ASCII characters are boundaries, so matches
// are found inside CJK text without spaces; every match is ASCII except a PEM block's
// body and a quoted generic secret, and starts and ends on a character boundary.
//
// Adjacent values are each found: a number may start at any digit group, so the card
// of "415-555-2671 4111 1111 1111 1111" is read after the phone (inside a chain of
// space-separated groups, a start right after a finding is read in full, any other
// only as a card that ends the chain), and a phone number is also reported by each
// shorter reading of its groups that resolution may prefer.
//
// Each finding has an entity, a byte span, a score in [0, 1] and the name of the rule
// that found it (a static string). Findings below their entity's minimum score are
// dropped; the rest are resolved deterministically. A generic secret's value that
// another finding starts inside and runs past ends where that one starts. Of findings
// with the same span, the higher score wins, then the entity listed first. Then the
// disjoint set of findings that covers the most bytes is kept, and of those the one with
// the highest total score. So a secret inside the password of a URL's user:password@
// is reported as the URL_CREDENTIALS finding that contains it, a JWT that is a generic
// "token=" value is reported as the JWT (same span, higher score), and
// "+1 415 555 2671 4111 1111 1111 1111" is the phone "+1 415 555 2671" and the card,
// not the 15-digit number "+1 415 555 2671 4111" alone. The result is sorted by start
// and never overlaps.
//
// The rules and their scores are documented in docs/redaction.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace covekit::pii {

enum class Entity : uint8_t {
  kEmail,
  kPhone,
  kCreditCard,
  kIban,
  kUsSsn,
  kIpAddress,
  kMacAddress,
  kUrlCredentials,
  kAwsAccessKey,
  kAwsSecretKey,
  kGithubToken,
  kOpenaiApiKey,
  kAnthropicApiKey,
  kSlackToken,
  kStripeKey,
  kGoogleApiKey,
  kPrivateKey,
  kJwt,
  kGenericSecret,
};

inline constexpr std::size_t kEntityCount = 19;

// "EMAIL", "PHONE", "CREDIT_CARD", ... (the Python names).
[[nodiscard]] std::string_view entity_name(Entity e) noexcept;
[[nodiscard]] std::optional<Entity> entity_from_name(std::string_view name) noexcept;

struct Finding {
  Entity entity;
  std::size_t start;  // byte offsets into the text, [start, end)
  std::size_t end;
  double score;
  std::string_view rule;  // a static string, e.g. "credit_card.luhn"
};

struct Config {
  Config() {
    enabled.fill(true);
    min_score.fill(0.5);
  }
  std::array<bool, kEntityCount> enabled;
  std::array<double, kEntityCount> min_score;  // findings below are dropped
  // Bytes looked at on each side of a match for context words (phone, ssn, version).
  std::size_t context_window = 48;
  // The generic "keyword = value" rule: the value's minimum length and Shannon entropy
  // (bits per character); values made only of hex digits use the hex threshold.
  std::size_t secret_min_length = 8;
  double secret_min_entropy = 3.0;
  double secret_min_entropy_hex = 2.5;
};

class Scanner {
 public:
  // Throws InvalidInput for scores outside [0, 1], a negative entropy, a minimum
  // length of 0, or a context window above 1024 bytes.
  explicit Scanner(Config config = {});

  // The findings in `text`; throws InvalidUtf8 (with the byte offset) unless `text`
  // is valid UTF-8.
  [[nodiscard]] std::vector<Finding> scan(std::string_view text) const;
  // The same for text already known to be valid UTF-8 (e.g. from a Python str).
  [[nodiscard]] std::vector<Finding> scan_valid(std::string_view text) const;
  // Every text of a batch (each validated) on `threads` threads (0: one per CPU);
  // equal to scan() of each, in order.
  [[nodiscard]] std::vector<std::vector<Finding>> scan_batch(std::span<const std::string_view> texts,
                                                             std::size_t threads) const;

  [[nodiscard]] const Config& config() const noexcept { return config_; }

 private:
  Config config_;
};

// The findings' spans in code points (Python str indices) instead of bytes; `findings`
// must be sorted by start and not overlap (as scan returns them), `text` valid UTF-8.
[[nodiscard]] std::vector<std::pair<std::size_t, std::size_t>> code_point_spans(std::string_view text,
                                                                             std::span<const Finding> findings);

// Helpers exposed for the tests.
[[nodiscard]] bool luhn_valid(std::string_view digits) noexcept;
[[nodiscard]] bool iban_valid(std::string_view compact) noexcept;  // letters upper, no spaces
[[nodiscard]] double shannon_entropy(std::string_view s) noexcept;

}  // namespace covekit::pii
