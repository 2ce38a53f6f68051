// Typed exceptions thrown by the covekit core. The Python bindings translate each
// into the class of the same name in covekit.errors (bind_errors.cpp).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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

// Base of embedding errors (Python: EmbeddingError).
class EmbeddingError : public Error {
 public:
  using Error::Error;
};

// A saved embedder state that is truncated, altered or of another format
// (Python: EmbedderStateCorrupt, also a ValueError).
class EmbedderStateCorrupt : public EmbeddingError {
 public:
  using EmbeddingError::EmbeddingError;
};

// An index file that is not one, is truncated, fails its checksum or has an
// unsupported format version (Python: IndexFileCorrupt, a ValueError).
class IndexFileCorrupt : public Error {
 public:
  using Error::Error;
};

// JSON text that does not parse (Python: InvalidJSON, an InvalidInput). `offset` is the
// byte offset of the fault, or npos when the parser did not say where.
class InvalidJSON : public InvalidInput {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  InvalidJSON(const std::string& what, std::size_t offset = npos, std::size_t line = 0, std::size_t column = 0)
      : InvalidInput(what), offset_(offset), line_(line), column_(column) {}
  [[nodiscard]] std::size_t offset() const noexcept { return offset_; }
  // 1-based line and column (in bytes) of `offset`; 0 when offset is npos.
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  [[nodiscard]] std::size_t column() const noexcept { return column_; }

 private:
  std::size_t offset_, line_, column_;
};

// A JSON Schema that does not compile: invalid keyword values, an unknown $ref target, a
// bad regex, an unsupported draft (Python: SchemaError, a ValueError). `pointer` is the
// JSON Pointer of the fault inside the schema ("" for the root).
class SchemaError : public Error {
 public:
  SchemaError(const std::string& what, std::string pointer) : Error(what), pointer_(std::move(pointer)) {}
  [[nodiscard]] const std::string& pointer() const noexcept { return pointer_; }

 private:
  std::string pointer_;
};

// One reason a JSON repair was refused: a stable kind (e.g. "missing_value"), the span
// in the input in code points (Python str indices) and a message.
struct RepairProblem {
  std::string kind;
  std::size_t start;
  std::size_t end;
  std::string message;
};

// Malformed JSON that cannot be repaired without guessing data, or (strict mode) whose
// repair would not be lossless (Python: RepairError, a ValueError with `.problems`).
class RepairError : public Error {
 public:
  RepairError(const std::string& what, std::vector<RepairProblem> problems)
      : Error(what), problems_(std::move(problems)) {}
  [[nodiscard]] const std::vector<RepairProblem>& problems() const noexcept { return problems_; }

 private:
  std::vector<RepairProblem> problems_;
};

}  // namespace covekit
