#include "retrieval/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace mlrc {
inline namespace v1 {
namespace retrieval {

namespace {

// Sorted, for binary search. A mid-sized English list: it keeps query sentences taken from
// abstracts ("In this paper we propose …") from walking the longest posting lists.
constexpr std::array<std::string_view, 96> stop_list = {
    "a",     "about", "above", "after", "again",  "all",   "also",  "am",    "an",    "and",   "any",   "are",
    "as",    "at",    "be",    "been",  "before", "being", "below", "both",  "but",   "by",    "can",   "could",
    "did",   "do",    "does",  "doing", "during", "each",  "few",   "for",   "from",  "further", "had", "has",
    "have",  "having", "he",   "her",   "here",   "hers",  "him",   "his",   "how",   "i",     "if",    "in",
    "into",  "is",    "it",    "its",   "itself", "me",    "more",  "most",  "my",    "no",    "nor",   "not",
    "of",    "on",    "once",  "only",  "or",     "other", "our",   "ours",  "out",   "over",  "own",   "same",
    "she",   "should", "so",   "some",  "such",   "than",  "that",  "the",   "their", "them",  "then",  "there",
    "these", "they",  "this",  "those", "through", "to",   "too",   "under", "until", "up",    "very",  "was"};
constexpr std::array<std::string_view, 17> stop_list_2 = {"via", "we",   "were", "what",  "when", "where", "which",
                                                          "while", "who", "whom",  "why",  "will",  "with",
                                                          "would", "you", "your",  "yours"};

constexpr bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
constexpr bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

enum class Cls { sep, word, hyphen, underscore, apostrophe };

// Classifies the character at s[i] and sets `len` to its byte length.
Cls classify(std::string_view s, std::size_t i, std::size_t& len) {
  auto c = static_cast<unsigned char>(s[i]);
  len = 1;
  if (c < 0x80) {
    if (is_alpha(c) || is_digit(c)) return Cls::word;
    if (c == '-') return Cls::hyphen;
    if (c == '_') return Cls::underscore;
    if (c == '\'') return Cls::apostrophe;
    return Cls::sep;
  }
  // Length of a UTF-8 sequence; a stray continuation or invalid byte is one byte of word.
  len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (i + len > s.size()) len = s.size() - i;
  auto c1 = len > 1 ? static_cast<unsigned char>(s[i + 1]) : 0;
  auto c2 = len > 2 ? static_cast<unsigned char>(s[i + 2]) : 0;
  if (c == 0xC2) return Cls::sep;                                   // U+0080–U+00BF: nbsp, «», °, ±, …
  if (c == 0xC3 && (c1 == 0x97 || c1 == 0xB7)) return Cls::sep;     // × ÷
  if (c == 0xE2) {                                                  // U+2000–U+2FFF punctuation, symbols, arrows, math
    if (c1 == 0x80 && (c2 == 0x90 || c2 == 0x91)) return Cls::hyphen;
    if (c1 == 0x80 && c2 == 0x99) return Cls::apostrophe;          // ’
    return Cls::sep;
  }
  if (c == 0xE3 && c1 == 0x80) return Cls::sep;                     // CJK punctuation U+3000–U+303F
  if (c == 0xEF && c1 == 0xBB && c2 == 0xBF) return Cls::sep;       // BOM
  return Cls::word;
}

// Lower-cases ASCII and Latin-1 capitals (À–Þ) in place.
void lower(char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    if (is_upper(c)) {
      p[i] = static_cast<char>(c + 32);
    } else if (c == 0xC3 && i + 1 < n) {
      auto d = static_cast<unsigned char>(p[i + 1]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) p[i + 1] = static_cast<char>(d + 0x20);
      ++i;
    }
  }
}

bool ends_with(std::string_view s, std::string_view suffix) { return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix; }

// The new length (and possibly last character) of a lower-case word after plural stripping.
// Returns {length, replacement for the last kept char or 0}.
std::pair<std::size_t, char> stem_rule(std::string_view w) {
  if (w.size() < 4 || w.back() != 's') return {w.size(), 0};
  for (char c : w)
    if (c < 'a' || c > 'z') return {w.size(), 0};
  if (ends_with(w, "sses")) return {w.size() - 2, 0};                                // classes -> class
  if (ends_with(w, "ies") && w.size() > 4) return {w.size() - 2, 'y'};              // studies -> study
  if (ends_with(w, "xes") || ends_with(w, "ches") || ends_with(w, "shes")) return {w.size() - 2, 0};  // batches -> batch
  if (ends_with(w, "ss") || ends_with(w, "us") || ends_with(w, "is")) return {w.size(), 0};          // loss, corpus, analysis
  return {w.size() - 1, 0};                                                         // networks -> network
}

}  // namespace

namespace {
// The stop words in an open-addressing table built at compile time: one hash and one compare
// per lookup (this runs for every word indexed).
constexpr std::uint32_t fnv(std::string_view w) {
  std::uint32_t h = 2166136261u;
  for (char c : w) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}
struct StopSet {
  std::array<std::string_view, 512> slot{};
  constexpr StopSet() {
    auto put = [&](std::string_view w) {
      auto i = fnv(w) & 511;
      while (!slot[i].empty()) i = (i + 1) & 511;
      slot[i] = w;
    };
    for (auto w : stop_list) put(w);
    for (auto w : stop_list_2) put(w);
  }
  constexpr bool has(std::string_view w) const {
    for (auto i = fnv(w) & 511;; i = (i + 1) & 511) {
      if (slot[i].empty()) return false;
      if (slot[i] == w) return true;
    }
  }
};
constexpr StopSet stop_set;
static_assert(stop_set.has("the") && stop_set.has("yours") && !stop_set.has("model"));
}  // namespace

bool is_stop_word(std::string_view w) noexcept { return w.size() <= 7 && stop_set.has(w); }

std::string stem(std::string_view w) {
  auto [n, repl] = stem_rule(w);
  std::string out(w.substr(0, n));
  if (repl) out.back() = repl;
  return out;
}

std::vector<std::string> word_variants(std::string_view w) {
  std::vector<std::string> out;
  if (w.size() < 3 || !std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; })) return out;
  auto add = [&](std::string v) {
    if (v != w && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
  };
  std::string base = stem(w);
  add(base);
  auto vowel = [](char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; };
  if (ends_with(base, "s") || ends_with(base, "x") || ends_with(base, "z") || ends_with(base, "ch") || ends_with(base, "sh"))
    add(base + "es");
  else if (base.size() > 2 && base.back() == 'y' && !vowel(base[base.size() - 2]))
    add(base.substr(0, base.size() - 1) + "ies");
  else
    add(base + "s");
  return out;
}

void Tokenizer::emit(std::string_view term, bool can_be_stop_word) {
  if (term.empty() || term.size() > max_term_bytes) return;
  std::size_t at = arena_.size();
  arena_.append(term);
  lower(arena_.data() + at, term.size());
  std::string_view t(arena_.data() + at, term.size());
  if (can_be_stop_word && options_.stop_words && is_stop_word(t)) {
    arena_.resize(at);
    return;
  }
  if (options_.stem) {
    auto [n, repl] = stem_rule(t);
    arena_.resize(at + n);
    if (repl) arena_.back() = repl;
  }
  spans_.emplace_back(at, arena_.size() - at);
}

void Tokenizer::compound() {
  // Each atom: its camel/digit parts, then the atom whole if it had several parts.
  std::size_t begin = 0;
  for (auto [end, connector] : atom_ends_) {
    std::string_view atom(atoms_.data() + begin, end - begin);
    std::size_t part = 0, parts = 0;
    // 0 digit, 1 ASCII lower, 2 ASCII upper, 3 other (non-ASCII never makes a boundary).
    auto cls = [&](std::size_t i) {
      auto c = static_cast<unsigned char>(atom[i]);
      return is_digit(c) ? 0 : is_upper(c) ? 2 : c < 0x80 ? 1 : 3;
    };
    for (std::size_t i = 1; i <= atom.size(); ++i) {
      bool cut = i == atom.size();
      if (!cut) {
        int a = cls(i - 1), b = cls(i);
        cut = (a == 0 && (b == 1 || b == 2)) || (b == 0 && (a == 1 || a == 2)) || (a == 1 && b == 2) ||
              // "HTTPServer": cut before the capital that starts a lower-case run, but not "BERTs"
              (a == 2 && b == 2 && i + 1 < atom.size() && cls(i + 1) == 1 && !(i + 2 == atom.size() && atom[i + 1] == 's'));
      }
      if (cut) {
        emit(atom.substr(part, i - part), true);
        part = i;
        ++parts;
      }
    }
    if (parts > 1) emit(atom, false);
    begin = end;
  }
  if (atom_ends_.size() > 1) {
    std::string whole;
    begin = 0;
    for (auto [end, connector] : atom_ends_) {
      whole.append(atoms_, begin, end - begin);
      if (connector == '_') whole += '_';
      begin = end;
    }
    emit(whole, false);
  }
  atoms_.clear();
  atom_ends_.clear();
}

const std::vector<std::string_view>& Tokenizer::operator()(std::string_view s) {
  arena_.clear();
  spans_.clear();
  atoms_.clear();
  atom_ends_.clear();
  std::size_t i = 0, len = 0;
  auto word_at = [&](std::size_t j) {
    std::size_t l;
    return j < s.size() && classify(s, j, l) == Cls::word;
  };
  while (i < s.size()) {
    // Fast path: a run of ASCII letters and digits.
    if (auto u = static_cast<unsigned char>(s[i]); u < 0x80 && (is_alpha(u) || is_digit(u))) {
      std::size_t j = i + 1;
      for (; j < s.size(); ++j) {
        auto v = static_cast<unsigned char>(s[j]);
        if (v >= 0x80 || !(is_alpha(v) || is_digit(v))) break;
      }
      atoms_.append(s.data() + i, j - i);
      i = j;
      continue;
    }
    Cls c = classify(s, i, len);
    if (c == Cls::word) {
      atoms_.append(s, i, len);
      i += len;
      continue;
    }
    bool in_atom = !atoms_.empty() && (atom_ends_.empty() || atom_ends_.back().first < atoms_.size());
    if (c == Cls::apostrophe && in_atom && word_at(i + len)) {
      // "model's" -> model (possessive dropped); "don't" -> dont.
      if ((s[i + len] | 0x20) == 's' && !word_at(i + len + 1)) {
        i += len + 1;
        continue;
      }
      i += len;
      continue;
    }
    if ((c == Cls::hyphen || c == Cls::underscore) && in_atom) {
      // A run of one connector kind followed by a word continues the compound.
      std::size_t j = i + len, l = 0;
      while (j < s.size() && classify(s, j, l) == c) j += l;
      if (word_at(j)) {
        atom_ends_.emplace_back(atoms_.size(), c == Cls::underscore ? '_' : '-');
        i = j;
        continue;
      }
    }
    if (in_atom) {
      atom_ends_.emplace_back(atoms_.size(), ' ');
      compound();
    }
    i += len;
  }
  if (!atoms_.empty()) {
    atom_ends_.emplace_back(atoms_.size(), ' ');
    compound();
  }
  terms_.clear();
  for (auto [at, n] : spans_) terms_.emplace_back(arena_.data() + at, n);
  return terms_;
}

std::vector<std::string> tokenize(std::string_view text, TokenizerOptions options) {
  Tokenizer t(options);
  const auto& terms = t(text);
  return {terms.begin(), terms.end()};
}

}  // namespace retrieval
}  // namespace v1
}  // namespace mlrc
