#pragma once
// Small text helpers for reading papers and building prompts.

#include <mlrcopilot/error.hpp>  // first: declares mlrc::detail (see error.hpp)
#include <algorithm>
#include <cctype>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc::detail::text {

inline std::string_view trim(std::string_view s) noexcept {
  auto b = s.find_first_not_of(" \t\r\n\f\v");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n\f\v") - b + 1);
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Lines without their terminators ("\n" or "\r\n"); views into `s`.
inline std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto nl = s.find('\n');
    auto line = s.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

// Splits on any of `seps`, trimming the pieces and dropping empty ones.
inline std::vector<std::string> split_any(std::string_view s, std::initializer_list<std::string_view> seps) {
  std::vector<std::string> out;
  while (!s.empty()) {
    std::size_t at = std::string_view::npos, len = 0;
    for (auto sep : seps)
      if (auto p = s.find(sep); p < at) at = p, len = sep.size();
    if (auto piece = trim(s.substr(0, at)); !piece.empty()) out.emplace_back(piece);
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + len);
  }
  return out;
}

// A heading reduced to its word(s): "## 2. Related Work:" -> "related work", "I. INTRODUCTION" ->
// "introduction", "**Abstract**" -> "abstract".
inline std::string heading_key(std::string_view line) {
  std::string_view s = trim(line);
  while (!s.empty() && (s.front() == '#' || s.front() == '*')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '*' || s.back() == ':' || s.back() == '.')) s.remove_suffix(1);
  s = trim(s);
  if (auto sp = s.find(' '); sp != std::string_view::npos) {  // a section number: "1", "2.3.", "IV."
    auto num = s.substr(0, sp);
    if (num.back() == '.') num.remove_suffix(1);
    bool digits = !num.empty() && num.find_first_not_of("0123456789.") == std::string_view::npos;
    bool roman = !num.empty() && num.find_first_not_of("IVX") == std::string_view::npos;
    if (digits || roman) s = trim(s.substr(sp));
  }
  return lower(s);
}

// At most `max` bytes of `s`, cut at a UTF-8 character boundary, with "…" when cut.
inline std::string clip(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "\xE2\x80\xA6";
}

}  // namespace mlrc::detail::text
