#pragma once
// The tokenizer of the local index (sans-io: text in, terms out). Documents and queries go through
// the same function, so whatever it does to a word it does on both sides.
//
// Rules, in order:
// - Words are runs of ASCII letters/digits and non-ASCII characters; ASCII and Latin-1 letters
//   are lower-cased. Unicode punctuation (dashes, quotes, symbols U+2000–U+2FFF) separates words.
//   An apostrophe inside a word is dropped ("don't" -> dont), and so is a possessive 's.
// - Words joined by '-' or '_' form a compound: each part is a term and so is the whole, joined
//   without hyphens and with underscores kept ("self-supervised" -> self, supervised,
//   selfsupervised; "load_data" -> load, data, load_data).
// - camelCase, PascalCase and letter/digit boundaries split a part further, and the part is kept
//   whole too ("ResNet50" -> res, net, 50, resnet50; "HTTPServer" -> http, server, httpserver).
// - English stop words are dropped (not inside a whole compound: "state-of-the-art" keeps
//   stateoftheart).
// - Optionally a light plural stripper runs ("networks" -> network, "studies" -> study). The index
//   does not use it: it keeps exact forms and expands query words to their singular/plural
//   variants instead (`word_variants`), so that an exact match still ranks first.
// - Terms longer than max_term_bytes are dropped (hashes, base64, minified code).
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlrc {
inline namespace v1 {
namespace retrieval {

struct TokenizerOptions {
  bool stop_words = true;
  bool stem = false;
};

inline constexpr std::size_t max_term_bytes = 64;

/** Reusable tokenizer; keeps its buffers between calls so that indexing does not allocate per
 *  term. Not thread-safe; one per thread. */
class Tokenizer {
 public:
  explicit Tokenizer(TokenizerOptions options = {}) : options_(options) {}
  /** The terms of `text` in order of appearance (a word may yield several). The views stay valid
   *  until the next call. */
  const std::vector<std::string_view>& operator()(std::string_view text);

 private:
  void compound();
  void emit(std::string_view term, bool can_be_stop_word);

  TokenizerOptions options_;
  std::string atoms_;                                   // current compound's atoms, original case
  std::vector<std::pair<std::size_t, char>> atom_ends_; // end offset in atoms_, connector after it
  std::string arena_;                                   // emitted terms back to back
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::vector<std::string_view> terms_;
};

/** Convenience for tests and queries: the terms of `text` as strings. */
std::vector<std::string> tokenize(std::string_view text, TokenizerOptions options = {});

/** True for the stop words the tokenizer drops (lower-case input). */
bool is_stop_word(std::string_view lower_word) noexcept;
/** The light plural stripper applied to lower-case ASCII words of 4+ letters. */
std::string stem(std::string_view lower_word);
/** Singular and plural forms of a lower-case ASCII word, without the word itself
 *  ("network" -> networks; "studies" -> study; "batch" -> batches). Empty for other words. */
std::vector<std::string> word_variants(std::string_view lower_word);

}  // namespace retrieval
}  // namespace v1
}  // namespace mlrc
