#include "covekit/pii.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "covekit/errors.hpp"

namespace pii = covekit::pii;

namespace {

using Hit = std::pair<std::string, std::string>;  // entity, matched text

std::vector<Hit> hits(const std::string& text, const pii::Scanner& scanner = pii::Scanner()) {
  std::vector<Hit> out;
  for (const pii::Finding& f : scanner.scan(text))
    out.emplace_back(std::string(pii::entity_name(f.entity)), text.substr(f.start, f.end - f.start));
  return out;
}

// The one finding of `text`, or a failure.
pii::Finding one(const std::string& text, const pii::Scanner& scanner = pii::Scanner()) {
  const auto found = scanner.scan(text);
  EXPECT_EQ(found.size(), 1u) << text;
  return found.empty() ? pii::Finding{pii::Entity::kEmail, 0, 0, 0, ""} : found[0];
}

std::string rule_of(const std::string& text) { return std::string(one(text).rule); }

// A deterministic pseudo-random string over `alphabet`.
std::string random_string(std::size_t n, std::string_view alphabet, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
  return s;
}

constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kB64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

void expect_hit(const std::string& text, const std::string& entity, const std::string& match) {
  const auto found = hits(text);
  ASSERT_EQ(found.size(), 1u) << text;
  EXPECT_EQ(found[0].first, entity) << text;
  EXPECT_EQ(found[0].second, match) << text;
}

void expect_none(const std::string& text) {
  const auto found = hits(text);
  EXPECT_TRUE(found.empty()) << text << " -> " << (found.empty() ? "" : found[0].first + " " + found[0].second);
}

}  // namespace

TEST(Pii, EntityNamesRoundTrip) {
  for (std::size_t i = 0; i < pii::kEntityCount; ++i) {
    const auto e = static_cast<pii::Entity>(i);
    EXPECT_EQ(pii::entity_from_name(pii::entity_name(e)), e);
  }
  EXPECT_FALSE(pii::entity_from_name("EMAILS").has_value());
}

TEST(Pii, EmptyAndPlainText) {
  EXPECT_TRUE(pii::Scanner().scan("").empty());
  expect_none("The quick brown fox jumps over the lazy dog, 42 times, in 2024.");
}

TEST(Pii, InvalidUtf8Throws) {
  try {
    (void)pii::Scanner().scan(std::string("ok \xff jane@example.com"));
    FAIL() << "no exception";
  } catch (const covekit::InvalidUtf8& e) {
    EXPECT_EQ(e.offset(), 3u);
  }
}

TEST(Pii, Email) {
  expect_hit("Contact jane.doe+news@mail.example.co.uk today.", "EMAIL", "jane.doe+news@mail.example.co.uk");
  expect_hit("write to bob@example.com.", "EMAIL", "bob@example.com");
  expect_hit("<alice_99@sub-domain.example.org>", "EMAIL", "alice_99@sub-domain.example.org");
  EXPECT_EQ(rule_of("x bob@example.com"), "email.rfc5321");
  expect_none("user@localhost is not an address");
  expect_none("a@b.c");
  expect_none("@example.com");
  expect_none("jane..doe@example.com");
  expect_none("bob@-example.com");
  expect_none("bob@example.c0m");
}

TEST(Pii, EmailInternationalized) {
  // Latin, Greek and Cyrillic letters in the local part and the domain (RFC 6531)
  expect_hit("an j\xc3\xb6rg@example.de, danke", "EMAIL", "j\xc3\xb6rg@example.de");
  expect_hit("j\xc3\xb6rg@b\xc3\xbc" "cher.de", "EMAIL", "j\xc3\xb6rg@b\xc3\xbc" "cher.de");
  const std::string ivan = "\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80."
                           "\xd1\x80\xd1\x84";  // иван@пример.рф
  expect_hit("mail " + ivan + " now", "EMAIL", ivan);
  // CJK around an address stays out of it; U+00D7 (a sign) is not a letter
  expect_hit("\xe8\xaf\xb7jorg@example.com\xe8\xb0\xa2", "EMAIL", "jorg@example.com");
  expect_hit("2\xc3\x97" "bob@example.com", "EMAIL", "bob@example.com");
  // 64 characters at most, counted as characters
  std::string local;
  for (int i = 0; i < 64; ++i) local += "\xc3\xb6";
  expect_hit(local + "@example.com", "EMAIL", local + "@example.com");
  expect_none("\xc3\xb6" + local + "@example.com");
}

TEST(Pii, PhoneE164AndNational) {
  expect_hit("+1 415-555-2671", "PHONE", "+1 415-555-2671");
  expect_hit("reach me at +44 20 7946 0958 please", "PHONE", "+44 20 7946 0958");
  expect_hit("+49 30 1234567", "PHONE", "+49 30 1234567");
  expect_hit("+33 1 23 45 67 89", "PHONE", "+33 1 23 45 67 89");
  expect_hit("+91 98765 43210", "PHONE", "+91 98765 43210");
  expect_hit("+14155552671", "PHONE", "+14155552671");
  expect_hit("001-415-555-2671x1234", "PHONE", "001-415-555-2671x1234");
  expect_hit("415-555-2671", "PHONE", "415-555-2671");
  expect_hit("(415) 555-2671", "PHONE", "(415) 555-2671");
  expect_hit("415.555.2671", "PHONE", "415.555.2671");
  expect_hit("415-555-2671 ext. 42", "PHONE", "415-555-2671 ext. 42");
  expect_hit("01 23 45 67 89", "PHONE", "01 23 45 67 89");
  expect_hit("020 7946 0958", "PHONE", "020 7946 0958");
  EXPECT_EQ(rule_of("+44 20 7946 0958"), "phone.e164");
  EXPECT_EQ(rule_of("415-555-2671"), "phone.us");
  EXPECT_EQ(rule_of("Call (415) 555-2671"), "phone.us+context");
  EXPECT_EQ(rule_of("030 1234567"), "phone.national");
}

TEST(Pii, PhoneWeakMatchesNeedContext) {
  expect_none("4155552671");
  expect_none("12 345 678");
  expect_hit("tel 4155552671", "PHONE", "4155552671");
  EXPECT_EQ(rule_of("tel 4155552671"), "phone.digits+context");
  expect_hit("Telefon: 12 345 678", "PHONE", "12 345 678");
  expect_hit("t\xc3\xa9l\xc3\xa9phone : 12 345 678", "PHONE", "12 345 678");
  // The context window is configurable.
  pii::Config c;
  c.context_window = 3;
  EXPECT_TRUE(hits("telephone number is 4155552671", pii::Scanner(c)).empty());
  // Exchange codes starting 0/1 are weak.
  expect_none("555-123-4567");
  expect_hit("cell: 555-123-4567", "PHONE", "555-123-4567");
}

TEST(Pii, PhoneHardNegatives) {
  expect_none("2024-01-05T10:22:33");
  expect_none("on 2024-01-05 we shipped");
  expect_none("INV-415-555-2671");
  expect_none("415-555-2671-99");
  expect_none("order 415-555-2671a");
  expect_none("id 550e8400-e29b-41d4-a716-446655440000");
  expect_none("12:30 and 10.5 and 3.14159");
}

TEST(Pii, CreditCards) {
  for (const char* card : {"4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "378282246310005",
                           "3782 822463 10005", "5555555555554444", "2223003122003222", "6011111111111117",
                           "3530111333300000", "30569309025904", "6200000000000005", "4222222222222"}) {
    expect_hit(std::string("paid with ") + card + ".", "CREDIT_CARD", card);
    EXPECT_TRUE(pii::luhn_valid([&] {
      std::string d;
      for (const char* c = card; *c; ++c)
        if (*c >= '0' && *c <= '9') d.push_back(*c);
      return d;
    }()));
  }
  EXPECT_EQ(rule_of("4111111111111111"), "credit_card.luhn");
  EXPECT_DOUBLE_EQ(one("4111111111111111").score, 1.0);
}

TEST(Pii, CreditCardNegatives) {
  expect_none("4111111111111112");                    // Luhn fails
  expect_none("1234567812345670");                    // Luhn holds, no known IIN
  expect_none("4111 1111-1111 1111");                 // mixed separators
  expect_none("99994111111111111111999999999999");    // inside a longer digit run
  expect_none("A4111111111111111");                   // inside a word
  expect_none("order #4111111111111111-7");           // followed by -digit
  expect_none("411 1111 1111 1111 1");                // not card groups
  EXPECT_FALSE(pii::luhn_valid("79927398710"));
  EXPECT_TRUE(pii::luhn_valid("79927398713"));
  EXPECT_FALSE(pii::luhn_valid(""));
  EXPECT_FALSE(pii::luhn_valid("12a4"));
}

TEST(Pii, Iban) {
  expect_hit("IBAN DE89 3704 0044 0532 0130 00.", "IBAN", "DE89 3704 0044 0532 0130 00");
  expect_hit("GB82WEST12345698765432", "IBAN", "GB82WEST12345698765432");
  expect_hit("FR1420041010050500013M02606", "IBAN", "FR1420041010050500013M02606");
  expect_hit("NO9386011117947", "IBAN", "NO9386011117947");
  EXPECT_EQ(rule_of("GB82WEST12345698765432"), "iban.mod97");
  expect_none("DE89 3704 0044 0532 0130 01");  // mod 97
  expect_none("GB82WEST1234569876543");        // one short for GB
  expect_none("GB82WEST123456987654321");      // one long
  expect_none("XX89370400440532013000");       // not a registry country
  EXPECT_TRUE(pii::iban_valid("GB82WEST12345698765432"));
  EXPECT_FALSE(pii::iban_valid("GB82WEST12345698765433"));
}

TEST(Pii, UsSsn) {
  expect_hit("SSN: 123-45-6789", "US_SSN", "123-45-6789");
  EXPECT_EQ(rule_of("SSN: 123-45-6789"), "us_ssn.dashed+context");
  EXPECT_EQ(rule_of("id 123-45-6789"), "us_ssn.dashed");
  expect_hit("social security number 123456789", "US_SSN", "123456789");
  expect_none("123456789");  // nine bare digits need a context word
  for (const char* bad : {"000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "078-05-1120"})
    expect_none(std::string("SSN ") + bad);
}

TEST(Pii, Ipv4AndVersions) {
  expect_hit("host 10.0.0.1 is down", "IP_ADDRESS", "10.0.0.1");
  expect_hit("192.168.1.254:8080", "IP_ADDRESS", "192.168.1.254");
  expect_hit("1.2.3.4", "IP_ADDRESS", "1.2.3.4");  // a valid address, reported
  expect_none("1.2.3.4.5");
  expect_none("256.1.1.1");
  expect_none("01.2.3.4");
  expect_none("1.2.3");
  expect_none("v1.2.3.4");            // inside a word
  expect_none("version 1.2.3.4");     // scored 0.3, below the default 0.5
  expect_none("release 10.0.0.1 notes");
  pii::Config c;
  c.min_score.fill(0.0);
  const auto f = pii::Scanner(c).scan("version 1.2.3.4");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].rule, "ip_address.v4+version_context");
}

TEST(Pii, Ipv6) {
  for (const char* ip : {"2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8::1", "::1", "::ffff:192.0.2.128",
                         "fe80::1ff:fe23:4567:890a", "2001:db8:0:0:1:0:0:1"})
    expect_hit(std::string("addr ") + ip + " ok", "IP_ADDRESS", ip);
  expect_none("10:22:33");
  expect_none("std::vector<int>");
  expect_none("1::2::3");
  expect_none("1:2:3:4:5:6:7:8:9");
}

TEST(Pii, Mac) {
  expect_hit("eth0 00:1A:2B:3C:4D:5E up", "MAC_ADDRESS", "00:1A:2B:3C:4D:5E");
  expect_hit("00-1a-2b-3c-4d-5e", "MAC_ADDRESS", "00-1a-2b-3c-4d-5e");
  expect_hit("001a.2b3c.4d5e", "MAC_ADDRESS", "001a.2b3c.4d5e");
  expect_none("00:1A:2B:3C:4D");
  expect_none("00:1A:2B:3C:4D:5E:6F");
}

TEST(Pii, UrlCredentials) {
  expect_hit("DATABASE_URL=postgres://admin:s3cr3t@db.example.com:5432/app", "URL_CREDENTIALS",
             "postgres://admin:s3cr3t@db.example.com:5432");
  expect_none("https://example.com/a:b@c");
  expect_none("https://user@example.com/");
  // A token used as the password is inside the URL finding.
  const std::string tok = "ghp_" + random_string(36, kAlnum, 1);
  expect_hit("https://x:" + tok + "@github.com/o/r.git", "URL_CREDENTIALS", "https://x:" + tok + "@github.com");
}

TEST(Pii, PrefixedSecrets) {
  expect_hit("key AKIAIOSFODNN7EXAMPLE here", "AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE");
  expect_none("AKIAIOSFODNN7EXAMPLEX");
  expect_none("xAKIAIOSFODNN7EXAMPLE");
  expect_hit("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_KEY",
             "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");

  const std::string ghp = "ghp_" + random_string(36, kAlnum, 2);
  expect_hit("token " + ghp, "GITHUB_TOKEN", ghp);
  expect_none("ghp_" + random_string(35, kAlnum, 2));
  const std::string pat = "github_pat_" + random_string(22, kAlnum, 3) + "_" + random_string(59, kAlnum, 4);
  expect_hit(pat, "GITHUB_TOKEN", pat);
  EXPECT_EQ(rule_of(pat), "github_token.fine_grained");

  const std::string legacy = "sk-" + random_string(20, kAlnum, 5) + "T3BlbkFJ" + random_string(20, kAlnum, 6);
  expect_hit(legacy, "OPENAI_API_KEY", legacy);
  EXPECT_EQ(rule_of(legacy), "openai_api_key.legacy");
  const std::string proj = "sk-proj-" + random_string(60, kB64url, 7) + "T3BlbkFJ" + random_string(60, kB64url, 8);
  expect_hit("OPENAI_API_KEY " + proj, "OPENAI_API_KEY", proj);
  const std::string ant = "sk-ant-api03-" + random_string(93, kB64url, 9) + "AA";
  expect_hit(ant, "ANTHROPIC_API_KEY", ant);
  expect_none("sk-learn and sk-ant-short");

  expect_hit("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "SLACK_TOKEN",
             "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx");
  expect_hit("post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX now",
             "SLACK_TOKEN", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX");
  const std::string stripe = "sk_live_" + random_string(24, kAlnum, 10);
  expect_hit(stripe, "STRIPE_KEY", stripe);
  expect_none("sk_live_short");
  const std::string google = "AIza" + random_string(35, kB64url, 11);
  expect_hit("key=" + google, "GOOGLE_API_KEY", google);
}

TEST(Pii, PrivateKeyBlocks) {
  const std::string block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA+x/y=\n-----END RSA PRIVATE KEY-----";
  expect_hit("key:\n" + block + "\ndone", "PRIVATE_KEY", block);
  EXPECT_EQ(rule_of(block), "private_key.pem");
  const std::string open = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA password=abc123XYZ!@#";
  expect_hit("x " + open, "PRIVATE_KEY", open);  // unterminated: to the end of the text
  EXPECT_EQ(rule_of(open), "private_key.pem_unterminated");
  expect_none("-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----");
}

TEST(Pii, Jwt) {
  const std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  expect_hit("Authorization: Bearer " + jwt, "JWT", jwt);
  expect_hit("token=" + jwt, "JWT", jwt);  // the JWT wins over the generic rule (same span)
  expect_none("eyJub3RhbGciOjF9.eyJ4IjoxfQ.abc");  // header without "alg"
}

TEST(Pii, GenericSecrets) {
  expect_hit("password = \"S3cr3t!Passw0rd#2024\"", "GENERIC_SECRET", "S3cr3t!Passw0rd#2024");
  expect_hit("DB_PASSWORD=Tr0ub4dor3xQ&next=1", "GENERIC_SECRET", "Tr0ub4dor3xQ");
  expect_hit("{\"client_secret\": \"8f3kZq0vP2mX7rT1\"}", "GENERIC_SECRET", "8f3kZq0vP2mX7rT1");
  expect_hit("secret_key => '4f3c2a1b9e8d7c6f'", "GENERIC_SECRET", "4f3c2a1b9e8d7c6f");
  EXPECT_EQ(rule_of("secret_key => '4f3c2a1b9e8d7c6f'"), "generic_secret.keyword+hex_entropy");
  for (const char* none : {"DB_PASSWORD=changeme", "password: ${DB_PASSWORD}", "api_key: \"xxxxxxxxxxxxxxxx\"",
                           "token: <your-token-here>", "password=aaaaaaaaaa", "max_tokens: 1000",
                           "tokenizer: cl100k_base", "password = hunter2hunter2", "Password: must be long",
                           "if (token == previous_token) return;", "api_key = $OPENAI_API_KEY", "pwd=short",
                           "<URL_CREDENTIALS:60e5037a5bd7>", "token=<GENERIC_SECRET_1>"})
    expect_none(none);
  pii::Config c;
  c.secret_min_entropy = 2.5;
  EXPECT_EQ(hits("password = hunter2hunter2", pii::Scanner(c)).size(), 1u);
  c.secret_min_length = 20;
  EXPECT_TRUE(hits("password = \"S3cr3t!Passw0rd#\"", pii::Scanner(c)).empty());
}

TEST(Pii, ShannonEntropy) {
  EXPECT_DOUBLE_EQ(pii::shannon_entropy(""), 0.0);
  EXPECT_DOUBLE_EQ(pii::shannon_entropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(pii::shannon_entropy("abcd"), 2.0);
  EXPECT_DOUBLE_EQ(pii::shannon_entropy("0123456789abcdef"), 4.0);
}

TEST(Pii, UnicodeAroundMatchesAndCodePointOffsets) {
  const std::string text = "電話+81 3-1234-5678です。Ünïcødé jane@example.com ✓";
  const auto found = pii::Scanner().scan(text);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(pii::entity_name(found[0].entity), "PHONE");
  EXPECT_EQ(text.substr(found[0].start, found[0].end - found[0].start), "+81 3-1234-5678");
  EXPECT_EQ(pii::entity_name(found[1].entity), "EMAIL");
  const auto cps = pii::code_point_spans(text, found);
  EXPECT_EQ(cps[0], std::make_pair(std::size_t{2}, std::size_t{17}));
  // "電話+81 3-1234-5678です。Ünïcødé " is 2 + 15 + 3 + 8 = 28 code points.
  EXPECT_EQ(cps[1], std::make_pair(std::size_t{28}, std::size_t{44}));
}

TEST(Pii, OverlapsResolveDeterministically) {
  // An email inside URL credentials: the URL (longer) wins.
  expect_hit("smtp://mailer:hunter2@mail.example.com", "URL_CREDENTIALS", "smtp://mailer:hunter2@mail.example.com");
  // Findings are sorted and disjoint.
  const std::string text = "a@example.com 4111111111111111 10.0.0.1 AKIAIOSFODNN7EXAMPLE +1 415-555-2671";
  const auto found = pii::Scanner().scan(text);
  ASSERT_EQ(found.size(), 5u);
  for (std::size_t i = 1; i < found.size(); ++i) EXPECT_LE(found[i - 1].end, found[i].start);
}

TEST(Pii, ConfigEnablesAndThresholds) {
  pii::Config c;
  c.enabled.fill(false);
  c.enabled[static_cast<std::size_t>(pii::Entity::kEmail)] = true;
  const auto only = hits("bob@example.com 4111111111111111", pii::Scanner(c));
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].first, "EMAIL");
  pii::Config strict;
  strict.min_score[static_cast<std::size_t>(pii::Entity::kPhone)] = 0.7;
  EXPECT_TRUE(hits("415-555-2671", pii::Scanner(strict)).empty());
  EXPECT_EQ(hits("phone 415-555-2671", pii::Scanner(strict)).size(), 1u);
  pii::Config bad;
  bad.min_score[0] = 1.5;
  EXPECT_THROW(pii::Scanner{bad}, covekit::InvalidInput);
  pii::Config bad_window;
  bad_window.context_window = 5000;
  EXPECT_THROW(pii::Scanner{bad_window}, covekit::InvalidInput);
}

TEST(Pii, LongAndRepetitiveInputIsLinear) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "password=password=a@a@-----BEGIN eyJ.eyJ.::1:";
  (void)pii::Scanner().scan(text);  // must finish; ctest's timeout catches a blow-up
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "mail u" + std::to_string(i) + "@example.com; ";
  EXPECT_EQ(pii::Scanner().scan(many).size(), 1000u);
}

TEST(PiiThreads, BatchEqualsOneByOne) {
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i)
    texts.push_back("row " + std::to_string(i) + ": u" + std::to_string(i) + "@example.com, card 4111 1111 1111 1111, " +
                    "ip 10.0." + std::to_string(i % 256) + ".1, phone +1 415-555-" + std::to_string(1000 + i));
  std::vector<std::string_view> views(texts.begin(), texts.end());
  const pii::Scanner scanner;
  const auto batch = scanner.scan_batch(views, 4);
  ASSERT_EQ(batch.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto single = scanner.scan(texts[i]);
    ASSERT_EQ(batch[i].size(), single.size());
    EXPECT_EQ(single.size(), 4u);
    for (std::size_t j = 0; j < single.size(); ++j) {
      EXPECT_EQ(batch[i][j].start, single[j].start);
      EXPECT_EQ(batch[i][j].end, single[j].end);
      EXPECT_EQ(batch[i][j].entity, single[j].entity);
    }
  }
  std::vector<std::string_view> with_bad = views;
  with_bad[100] = "\xc3";
  EXPECT_THROW((void)scanner.scan_batch(with_bad, 4), covekit::InvalidUtf8);
}

TEST(Pii, AdjacentPhonesAreBothFound) {
  // Found by the idempotence property: the second '+' follows "digit space".
  const auto found = hits("+44 20 7946 0958 +44 20 7946 0958");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1].second, "+44 20 7946 0958");
  // A chain of groups longer than 24 digits ends before the group that would pass it.
  const auto two = hits("+44 20 7946 0958 4111-1111-1111-1111");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0], Hit("PHONE", "+44 20 7946 0958"));
  EXPECT_EQ(two[1], Hit("CREDIT_CARD", "4111-1111-1111-1111"));
  const auto paren = hits("4111-1111-1111-1111 (415) 555-2671");
  ASSERT_EQ(paren.size(), 2u);
  EXPECT_EQ(paren[0], Hit("CREDIT_CARD", "4111-1111-1111-1111"));
}

// A value right after another is found (the card of "415-555-2671 4111 1111 1111 1111"
// was lost: a start inside a chain of space-separated digit groups was never read).
TEST(Pii, AdjacentValuesAreEachFound) {
  using V = std::vector<Hit>;
  EXPECT_EQ(hits("415-555-2671 4111 1111 1111 1111"),
            (V{{"PHONE", "415-555-2671"}, {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  EXPECT_EQ(hits("4111 1111 1111 1111 5555 5555 5555 4444"),
            (V{{"CREDIT_CARD", "4111 1111 1111 1111"}, {"CREDIT_CARD", "5555 5555 5555 4444"}}));
  EXPECT_EQ(hits("4111-1111-1111-1111 5555 5555 5555 4444"),
            (V{{"CREDIT_CARD", "4111-1111-1111-1111"}, {"CREDIT_CARD", "5555 5555 5555 4444"}}));
  EXPECT_EQ(hits("4111 1111 1111 1111 4111 1111 1111 1111 4111 1111 1111 1111").size(), 3u);
  EXPECT_EQ(hits("123-45-6789 4111 1111 1111 1111"),
            (V{{"US_SSN", "123-45-6789"}, {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  EXPECT_EQ(hits("4111 1111 1111 1111 415 555 2671"),
            (V{{"CREDIT_CARD", "4111 1111 1111 1111"}, {"PHONE", "415 555 2671"}}));
  EXPECT_EQ(hits("415 555 2671 415 555 2671"), (V{{"PHONE", "415 555 2671"}, {"PHONE", "415 555 2671"}}));
  EXPECT_EQ(hits("+44 20 7946 0958 3782 822463 10005"),
            (V{{"PHONE", "+44 20 7946 0958"}, {"CREDIT_CARD", "3782 822463 10005"}}));
  // the value before ends a finding that is not a number
  EXPECT_EQ(hits("DE89 3704 0044 0532 0130 00 4111 1111 1111 1111"),
            (V{{"IBAN", "DE89 3704 0044 0532 0130 00"}, {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  EXPECT_EQ(hits("GB82WEST12345698765432 4111 1111 1111 1111"),
            (V{{"IBAN", "GB82WEST12345698765432"}, {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  EXPECT_EQ(hits("3c:22:fb:0a:1b:2c 4111 1111 1111 1111"),
            (V{{"MAC_ADDRESS", "3c:22:fb:0a:1b:2c"}, {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  EXPECT_EQ(hits("redis://app:pa55w0rd@cache.internal:6379 4111 1111 1111 1111"),
            (V{{"URL_CREDENTIALS", "redis://app:pa55w0rd@cache.internal:6379"},
               {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  // no separator where CJK text has none
  EXPECT_EQ(hits("\xe9\x9b\xbb\xe8\xa9\xb1" "415-555-2671" "\xe3\x80\x81" "4111 1111 1111 1111"),
            (V{{"PHONE", "415-555-2671"}, {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  // after a number that is no value, a card that ends the chain
  expect_hit("ref 12345 4111 1111 1111 1111", "CREDIT_CARD", "4111 1111 1111 1111");
  expect_hit("5551234567 4111 1111 1111 1111", "CREDIT_CARD", "4111 1111 1111 1111");
  // ... but no piece from the middle of a longer number, nor its tail unless printed as
  // cards are: 22-digit tracking numbers whose last 18 digits pass Luhn for Discover/UnionPay
  expect_none("9400 6514 4162 6005 1551 96");
  expect_none("9400 6279 5713 7907 3370 78");
  expect_none("12 34 4111 1111 1111 1111 56");
}

TEST(Pii, AdjacentValuesResolveToBoth) {
  using V = std::vector<Hit>;
  // "+1 415 555 2671 4111" is a 15-digit E.164 number too; the shorter reading and the
  // card cover more than that reading alone
  EXPECT_EQ(hits("+1 415 555 2671 4111 1111 1111 1111"),
            (V{{"PHONE", "+1 415 555 2671"}, {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  EXPECT_EQ(hits("+1 415 555 2671 415 555 2671"), (V{{"PHONE", "+1 415 555 2671"}, {"PHONE", "415 555 2671"}}));
  EXPECT_EQ(hits("+1 415 555 2671 123-45-6789"), (V{{"PHONE", "+1 415 555 2671"}, {"US_SSN", "123-45-6789"}}));
  // alone, the longest reading is still the one reported
  expect_hit("call +1 415 555 2671 4111", "PHONE", "+1 415 555 2671 4111");
  expect_hit("+44 20 7946 0958", "PHONE", "+44 20 7946 0958");
  // a generic secret's unquoted value ends where the next value starts
  EXPECT_EQ(hits("password=Zk9!qW7#xP2|4111 1111 1111 1111"),
            (V{{"GENERIC_SECRET", "Zk9!qW7#xP2|"}, {"CREDIT_CARD", "4111 1111 1111 1111"}}));
  EXPECT_EQ(hits("token: Zk9!qW7#xP2mL(+44 20 7946 0958"),
            (V{{"GENERIC_SECRET", "Zk9!qW7#xP2mL("}, {"PHONE", "+44 20 7946 0958"}}));
  // quoted, the value is what the quotes hold: a card inside is the secret's
  expect_hit("password=\"Zk9!qW7#xP2mL 4111 1111 1111 1111\"", "GENERIC_SECRET", "Zk9!qW7#xP2mL 4111 1111 1111 1111");
  // an IPv6 address before a colon and a space
  expect_hit("from fe80::1: refused", "IP_ADDRESS", "fe80::1");
  EXPECT_EQ(hits("2001:db8::8a2e:370:7334: AKIAIOSFODNN7EXAMPLE"),
            (V{{"IP_ADDRESS", "2001:db8::8a2e:370:7334"}, {"AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"}}));
  expect_none("a:b:c:d:1:2:3:4:5");
  // an address right after a key and a colon; a group of a longer chain is still none
  expect_hit("mac:3c:22:fb:0a:1b:2c", "MAC_ADDRESS", "3c:22:fb:0a:1b:2c");
  expect_hit("hwaddr:3C-22-FB-0A-1B-2C", "MAC_ADDRESS", "3C-22-FB-0A-1B-2C");
  expect_hit("ip:2001:db8::1", "IP_ADDRESS", "2001:db8::1");
  EXPECT_EQ(hits("AKIAIOSFODNN7EXAMPLE:3c:22:fb:0a:1b:2c"),
            (V{{"AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"}, {"MAC_ADDRESS", "3c:22:fb:0a:1b:2c"}}));
  expect_none("cafe:3c:22:fb:0a:1b:2c");  // "cafe" may be the first group of a longer chain
  expect_none("12:30:45");
  // a key right after '<'; covekit's hash form "<ENTITY:hex>" is still no secret
  EXPECT_EQ(hits("4111 1111 1111 1111<password=Zk9!qW7#xP2mL"),
            (V{{"CREDIT_CARD", "4111 1111 1111 1111"}, {"GENERIC_SECRET", "Zk9!qW7#xP2mL"}}));
  expect_none("<GENERIC_SECRET:0a1b2c3d4e5f6a7b>");
}

// A value glued to another by '-', '.', ':', '+' or nothing is found by the pass over the
// text with the first findings blanked out (their bytes read as part of one token).
TEST(Pii, GluedValuesAreFoundWithTheirNeighbourBlanked) {
  using V = std::vector<Hit>;
  const std::string ant = "sk-ant-api03-" + std::string(80, 'A').replace(10, 4, "b1_x") + "AA";
  const std::string ghp = "ghp_aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4";
  EXPECT_EQ(hits("4111-1111-1111-1111." + ant),
            (V{{"CREDIT_CARD", "4111-1111-1111-1111"}, {"ANTHROPIC_API_KEY", ant}}));
  EXPECT_EQ(hits(ghp + ".123-45-6789"), (V{{"GITHUB_TOKEN", ghp}, {"US_SSN", "123-45-6789"}}));
  EXPECT_EQ(hits("GB82WEST12345698765432+44 20 7946 0958"),
            (V{{"IBAN", "GB82WEST12345698765432"}, {"PHONE", "+44 20 7946 0958"}}));
  EXPECT_EQ(hits("fe80::1:AKIAIOSFODNN7EXAMPLE"),
            (V{{"IP_ADDRESS", "fe80::1"}, {"AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"}}));
  EXPECT_EQ(hits("10.0.0.1:AKIAIOSFODNN7EXAMPLE"),
            (V{{"IP_ADDRESS", "10.0.0.1"}, {"AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"}}));
  const std::string pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
  EXPECT_EQ(hits(pem + "bob@example.org"), (V{{"PRIVATE_KEY", pem}, {"EMAIL", "bob@example.org"}}));
  // a number glued to a number is still one longer token; so is one after a word
  expect_none("203.0.113.9-4111 1111 1111 1111");
  expect_none("INV-415-555-2671");
  expect_none("v1.2.3.4.5");
}

// Found by the labelled corpus (tests/pii_corpus.py) against Presidio's recall.
TEST(Pii, CorpusRegressions) {
  // a compressed IPv6 address that ends a sentence is not an IPv4 tail
  expect_hit("the server IP is 8d64:b3ad::69dc.", "IP_ADDRESS", "8d64:b3ad::69dc");
  // version words count only before an address, not a key after it
  expect_hit("{\"bind_addr\": \"146.175.234.232\", \"app_version\": \"2.1\"}", "IP_ADDRESS", "146.175.234.232");
  EXPECT_TRUE(hits("version 1.2.3.4").empty());
  // a Luhn-valid 16-digit number with no known issuer prefix: a card beside a card word only
  expect_hit("card_number=3522 2806 9032 0057 ok", "CREDIT_CARD", "3522 2806 9032 0057");
  expect_none("ref 3522 2806 9032 0057 ok");
  // the SSN as a taxpayer id
  expect_hit("tax_id=573926629 ok", "US_SSN", "573926629");
  expect_hit("tax_id = 575 78 0002", "US_SSN", "575 78 0002");
  // a national number without separators, with a context word
  expect_hit("il mio numero di telefono e 036540919", "PHONE", "036540919");
  expect_none("upstream call order=2728-0279-6317 request");
  EXPECT_EQ(rule_of("or call +1 415-555-2671"), "phone.e164+context");
  // passwords under other languages' keys, and '&' inside a value
  expect_hit("wachtwoord: ++iCgJY1eiW#UhgSq4w!+O16VXE*nm3q.", "GENERIC_SECRET", "++iCgJY1eiW#UhgSq4w!+O16VXE*nm3q");
  expect_hit("DB_PASSWORD=eqNLdF&HgsEZ^^^obvrc, x", "GENERIC_SECRET", "eqNLdF&HgsEZ^^^obvrc");
  expect_hit("https://x.example.org/?token=Zr8Kq2mW9xLp4Tn7&user=1", "GENERIC_SECRET", "Zr8Kq2mW9xLp4Tn7");
}

TEST(Pii, GithubClassicChecksum) {
  // python: body = 30 chars; body + base62(zlib.crc32(body)) zero-padded to 6
  const std::string body = "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0";
  // "0snvpY": base62 of zlib.crc32(body) (computed with Python's binascii, the reference)
  auto found = pii::Scanner().scan("token ghp_" + body + "0snvpY end");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(std::string(found[0].rule), "github_token.classic+checksum");
  EXPECT_DOUBLE_EQ(found[0].score, 1.0);
  // a wrong checksum: still a token, lower
  found = pii::Scanner().scan("token ghp_" + body + "0snvpZ end");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(std::string(found[0].rule), "github_token.classic");
  EXPECT_DOUBLE_EQ(found[0].score, 0.8);
}
