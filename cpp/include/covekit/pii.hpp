// PII and secret scanning over UTF-8 text, in one pass.
//
// The scanner walks the text once. A 256-entry byte class table lets it skip a run of
// letters or digits in a tight loop; only at the start of a word (a run of ASCII
// letters, digits and '_') and at a few punctuation bytes ('@', ':', '=', '+', '(',
// '-') does it look further: the word's first bytes (a digit, "AKIA", "ghp_", "sk-",
// "eyJ", ...) or the punctuation pick the few hand-written matchers worth running
// there. There is no regex engine and no pass per entity.
//
// Word boundaries: a match never starts or ends inside a run of ASCII letters, digits
// and '_' (a Luhn-valid 16-digit run inside a 30-digit run is nothing). Numbers are
// stricter: a number preceded by "x-" / "x." or followed by "-x" / ".x" (x a letter or
// digit) is part of a longer token (an order id "INV-555-123-4567", a version
// "1.2.3.4.5") and matches nothing. Non-ASCII characters are boundaries, so matches
// are found inside CJK text without spaces; every match is ASCII except a PEM block's
// body and a quoted generic secret, and starts and ends on a character boundary.
//
// Each finding has an entity, a byte span, a score in [0, 1] and the name of the rule
// that found it (a static string). Findings below their entity's minimum score are
// dropped; the rest are resolved deterministically: the longer span wins, then the
// higher score, then the earlier start, then the entity listed first. So a secret
// inside the password of a URL's user:password@ is reported as the URL_CREDENTIALS
// finding that contains it, and a JWT that is a generic "token=" value is reported as
// the JWT (same span, higher score). The result is sorted by start and never overlaps.
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
