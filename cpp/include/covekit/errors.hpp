// Typed exceptions thrown by the covekit core. The Python bindings translate each
// into the class of the same name in covekit.errors (bind_errors.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace covekit {

// Base of every covekit exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad argument (Python: InvalidInput, a ValueError).
class InvalidInput : public Error {
 public:
  using Error::Error;
};

// Bytes that are not valid UTF-8 where text is required.
class InvalidUtf8 : public InvalidInput {
 public:
  InvalidUtf8(const std::string& what, std::size_t offset) : InvalidInput(what), offset_(offset) {}
  [[nodiscard]] std::size_t offset() const noexcept { return offset_; }

 private:
  std::size_t offset_;
};

// Base of tokenizer errors.
class TokenizerError : public Error {
 public:
  using Error::Error;
};

// A vocabulary file or table that is malformed, truncated or inconsistent.
class TokenizerFileCorrupt : public TokenizerError {
 public:
  using TokenizerError::TokenizerError;
};

// The text contains a special token's text that the caller did not allow.
class DisallowedSpecialToken : public TokenizerError {
 public:
  using TokenizerError::TokenizerError;
};

// A token id that is not in the vocabulary.
class InvalidTokenId : public TokenizerError {
 public:
  using TokenizerError::TokenizerError;
};

// An index file (or serialized index) that is truncated, corrupt, of another format
// version, or does not match what the caller expects (Python: IndexFileCorrupt, a
// ValueError).
class IndexFileCorrupt : public Error {
 public:
  using Error::Error;
};

}  // namespace covekit
