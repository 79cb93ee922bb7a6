#include <mlrcopilot/paper.hpp>

#include "planning/fields.hpp"
#include "planning/text.hpp"

#include <boost/json.hpp>
#include <poppler-document.h>
#include <poppler-page.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>

namespace mlrc {
inline namespace v1 {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;
using detail::fields::El;
using namespace detail::text;

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(errc::io, "cannot read paper " + path.string() + ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(errc::io, "cannot read paper " + path.string() + ": " + std::strerror(errno));
  std::string s((std::istreambuf_iterator<char>(in)), {});
  if (in.bad()) throw Error(errc::io, "cannot read paper " + path.string() + ": read failed");
  if (s.starts_with("\xEF\xBB\xBF")) s.erase(0, 3);  // UTF-8 byte-order mark from Windows editors
  return s;
}

// "- Title", "* Title", "1. Title", "[3] Title" -> "Title".
std::string strip_list_marker(std::string_view line) {
  line = trim(line);
  if (line.size() > 1 && (line[0] == '-' || line[0] == '*' || line[0] == '+') && line[1] == ' ') line = trim(line.substr(2));
  if (line.empty()) return {};
  std::size_t i = line[0] == '[' ? 1 : 0, digits = 0;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i, ++digits;
  if (digits && i < line.size() && (line[i] == '.' || line[i] == ')' || line[i] == ']')) return std::string(trim(line.substr(i + 1)));
  return std::string(line);
}

bool is_references_heading(std::string_view line) {
  auto k = heading_key(line);
  return line.size() < 40 && (k == "references" || k == "bibliography");
}

// If `line` marks the abstract ("Abstract", "ABSTRACT.", "Abstract: We …", "Abstract—We …",
// "ABSTRACT We …"), returns the text that follows the marker on the same line (possibly empty).
// "Abstractions …" and "Abstract Syntax Notation …" are text, not markers.
std::optional<std::string> abstract_marker(std::string_view line) {
  line = trim(line);
  if (line.size() < 8 || lower(line.substr(0, 8)) != "abstract") return std::nullopt;
  if (line.size() > 8 && std::isalpha(static_cast<unsigned char>(line[8]))) return std::nullopt;
  std::string_view rest = trim(line.substr(8));
  bool separated = false;
  for (;; separated = true, rest = trim(rest)) {  // ':', '.', '-', '|', or an en/em dash
    if (!rest.empty() && rest[0] != '\0' && std::strchr(":.-|", rest[0])) rest.remove_prefix(1);
    else if (rest.starts_with("\xE2\x80\x94") || rest.starts_with("\xE2\x80\x93")) rest.remove_prefix(3);
    else break;
  }
  if (!rest.empty() && !separated && line.substr(0, 8) != "ABSTRACT") return std::nullopt;
  return std::string(rest);
}

// Joins lines into one paragraph; for PDF text, words hyphenated across lines are rejoined.
std::string join_paragraph(const std::vector<std::string_view>& lines, bool dehyphenate) {
  std::string out;
  for (auto l : lines) {
    l = trim(l);
    if (l.empty()) continue;
    if (dehyphenate && out.size() > 1 && out.back() == '-' && std::isalpha(static_cast<unsigned char>(out[out.size() - 2])))
      out.pop_back();
    else if (!out.empty())
      out += ' ';
    out += l;
  }
  return out;
}

std::string join_lines(const std::vector<std::string_view>& lines, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to && i < lines.size(); ++i) (out += lines[i]) += '\n';
  return std::string(trim(out));
}

// Plain text and PDF text share one reading: title line, abstract, body, references.
// `pdf`: the abstract runs up to the Introduction heading (PDF text has no reliable blank lines).
Paper parse_plain(std::string_view text, bool pdf) {
  Paper p;
  auto lines = split_lines(text);
  std::size_t i = 0;
  while (i < lines.size() && trim(lines[i]).empty()) ++i;
  if (i == lines.size()) return p;
  p.title = std::string(trim(lines[i]));
  const std::size_t start = i + 1;

  std::size_t end = lines.size();  // the last References heading ends the body
  for (std::size_t j = lines.size(); j-- > start;)
    if (is_references_heading(lines[j])) {
      end = j;
      for (std::size_t k = j + 1; k < lines.size(); ++k)
        if (auto r = strip_list_marker(lines[k]); !r.empty()) p.references.push_back(std::move(r));
      break;
    }

  auto is_intro = [](std::string_view l) { return l.size() < 40 && heading_key(l) == "introduction"; };
  std::size_t body_from = start;
  std::vector<std::string_view> abs;
  std::size_t marker = end;
  std::optional<std::string> inline_text;
  for (std::size_t j = start; j < end && marker == end; ++j)
    if ((inline_text = abstract_marker(lines[j]))) marker = j;
  if (marker < end) {
    // Lines between the title and the marker (authors, affiliations) are dropped.
    abs.push_back(*inline_text);
    std::size_t k = marker + 1;
    if (pdf) {
      while (k < end && !is_intro(lines[k])) abs.push_back(lines[k++]);
      if (k == end) {  // no Introduction heading: keep the first paragraph only
        abs.resize(1);
        for (k = marker + 1; k < end && !trim(lines[k]).empty(); ++k) abs.push_back(lines[k]);
      }
    } else {
      if (inline_text->empty())
        while (k < end && trim(lines[k]).empty()) ++k;
      while (k < end && !trim(lines[k]).empty()) abs.push_back(lines[k++]);
    }
    body_from = k;
  } else {  // unmarked: the first paragraph after the title
    std::size_t k = start;
    while (k < end && trim(lines[k]).empty()) ++k;
    while (k < end && !trim(lines[k]).empty() && !(pdf && is_intro(lines[k]))) abs.push_back(lines[k++]);
    body_from = k;
  }
  p.abstract = join_paragraph(abs, pdf);
  p.body = join_lines(lines, body_from, end);
  return p;
}

Paper parse_markdown(std::string_view text) {
  Paper p;
  auto lines = split_lines(text);
  std::size_t i = 0;
  if (!lines.empty() && trim(lines[0]) == "---")  // YAML front matter
    for (i = 1; i < lines.size();)
      if (trim(lines[i++]) == "---") break;
  auto is_heading = [](std::string_view l) {
    l = trim(l);
    auto hashes = l.find_first_not_of('#');
    return hashes > 0 && hashes != std::string_view::npos && l[hashes] == ' ';
  };
  // Title: the first "# " heading; else the first heading; else the first non-empty line.
  std::size_t title_at = lines.size();
  for (std::size_t j = i; j < lines.size() && title_at == lines.size(); ++j)
    if (trim(lines[j]).starts_with("# ")) title_at = j;
  for (std::size_t j = i; j < lines.size() && title_at == lines.size(); ++j)
    if (is_heading(lines[j])) title_at = j;
  for (std::size_t j = i; j < lines.size() && title_at == lines.size(); ++j)
    if (!trim(lines[j]).empty()) title_at = j;
  if (title_at == lines.size()) return p;
  auto title_line = trim(lines[title_at]);
  title_line.remove_prefix(std::min(title_line.size(), title_line.find_first_not_of('#')));  // a line of only '#' has no title
  p.title = std::string(trim(title_line));

  enum { body, abstract, refs } part = body;
  std::vector<std::string_view> abs, rest;
  for (std::size_t j = i; j < lines.size(); ++j) {
    if (j == title_at) continue;
    auto l = lines[j];
    if (is_heading(l)) {
      auto key = heading_key(l);
      part = key == "abstract" ? abstract : (key == "references" || key == "bibliography") ? refs : body;
      if (part != body) continue;
    }
    if (part == abstract) abs.push_back(l);
    else if (part == refs) {
      if (auto r = strip_list_marker(l); !r.empty()) p.references.push_back(std::move(r));
    } else
      rest.push_back(l);
  }
  if (abs.empty()) {  // no Abstract section: the first paragraph that is not a heading
    std::size_t k = 0;
    while (k < rest.size() && (trim(rest[k]).empty() || is_heading(rest[k]))) ++k;
    std::size_t from = k;
    while (k < rest.size() && !trim(rest[k]).empty() && !is_heading(rest[k])) abs.push_back(rest[k++]);
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(from), rest.begin() + static_cast<std::ptrdiff_t>(k));
  }
  p.abstract = join_paragraph(abs, false);
  p.body = join_lines(rest, 0, rest.size());
  return p;
}

std::string utf8(const poppler::ustring& s) {
  auto bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

Paper parse_pdf(const fs::path& path) {
  {  // poppler reports a missing file as a generic load failure: say what is wrong first
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw Error(errc::io, "cannot read paper " + path.string() + ": " + std::strerror(errno));
  }
  std::unique_ptr<poppler::document> doc(poppler::document::load_from_file(path.string()));
  if (!doc) throw Error(errc::parse, "paper " + path.string() + ": not a readable PDF (damaged or not a PDF)");
  if (doc->is_locked()) throw Error(errc::unsupported, "paper " + path.string() + ": the PDF is encrypted");
  std::string text;
  for (int i = 0; i < doc->pages(); ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    // Reading order rather than physical layout: two-column papers come out column by column.
    if (page) text += utf8(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout)) + "\n";
  }
  if (trim(text).empty()) throw Error(errc::unsupported, "paper " + path.string() + ": PDF has no extractable text (scanned?)");
  Paper p = parse_plain(text, true);
  if (auto title = std::string(trim(utf8(doc->info_key("Title")))); !title.empty()) {
    // The first line was taken as the title; with a real Title field it belongs to the text again.
    if (p.abstract.empty() && p.body.empty()) p.body = p.title;
    p.title = title;
  }
  for (auto& a : split_any(utf8(doc->info_key("Author")), {",", ";", " and "}))
    if (!a.empty()) p.authors.push_back(a);
  return p;
}

std::string strings_or_titles(El e, const std::string& where, std::string_view key, std::vector<std::string>& out) {
  // [string] or [{name|title: string}] (Semantic Scholar)
  simdjson::dom::array arr;
  if (e.get(arr)) return where + ": field '" + std::string(key) + "' must be an array";
  for (El x : arr) {
    std::string_view s;
    if (!x.get(s) || !x["name"].get(s) || !x["title"].get(s)) {
      if (!trim(s).empty()) out.emplace_back(trim(s));
    } else if (!x.is_null() && !x.is_object())
      return where + ": field '" + std::string(key) + "' must hold strings or objects with a name/title";
  }
  return {};
}

}  // namespace


std::string to_json(const Paper& p) { return bj::serialize(detail::paper_to_value(p)); }

Paper paper_from_json(std::string_view json, const std::string& origin) {
  simdjson::dom::parser parser;
  return detail::paper_from_element(detail::fields::parse_object(parser, json, origin), origin);
}

Paper Paper::load(const fs::path& path) {
  std::string ext = lower(path.extension().string());
  Paper p;
  if (ext == ".json") {
    p = paper_from_json(read_file(path), "paper " + path.string());
  } else if (ext == ".md" || ext == ".markdown") {
    p = parse_markdown(read_file(path));
  } else if (ext == ".txt") {
    p = parse_plain(read_file(path), false);
  } else if (ext == ".pdf") {
    p = parse_pdf(path);
  } else {
    throw Error(errc::unsupported, "paper " + path.string() + ": unsupported file type '" + ext +
                                       "' (use .json, .md, .markdown, .txt or .pdf)");
  }
  if (trim(p.title).empty() && trim(p.abstract).empty() && trim(p.body).empty())
    throw Error(errc::parse, "paper " + path.string() + " is empty: it has no title, abstract or text");
  if (p.id.empty()) p.id = "local:" + path.stem().string();
  if (p.source.empty()) p.source = path.string();
  return p;
}

std::optional<Paper> Paper::find_in_jsonl(std::string_view id, const std::vector<fs::path>& files) {
  if (id.empty()) throw Error(errc::invalid_argument, "Paper::find_in_jsonl: the id is empty");
  simdjson::dom::parser parser;
  for (const auto& f : files) {
    if (lower(f.extension().string()) == ".gz")
      throw Error(errc::unsupported, "corpus " + f.string() + ": gzip files are not read here; decompress it first");
    std::ifstream in(f, std::ios::binary);
    if (!in) throw Error(errc::io, "cannot read corpus " + f.string() + ": " + std::strerror(errno));
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (line.find(id) == std::string::npos) continue;  // cheap filter before parsing
      El rec;
      std::string_view rid;
      if (parser.parse(line).get(rec) || rec["id"].get(rid) || rid != id) continue;
      Paper p = detail::paper_from_element(rec, f.string() + ":" + std::to_string(n));
      if (p.source.empty()) p.source = f.string();
      return p;
    }
    if (in.bad()) throw Error(errc::io, "cannot read corpus " + f.string() + ": read failed");
  }
  return std::nullopt;
}

}  // namespace v1
}  // namespace mlrc

namespace mlrc::detail {
namespace bj = boost::json;
using fields::El;
using text::split_any;
using text::trim;


bj::object paper_to_value(const Paper& p) {
  bj::object o;
  o["id"] = p.id;
  o["title"] = p.title;
  o["abstract"] = p.abstract;
  o["body"] = p.body;
  o["authors"] = bj::value_from(p.authors);
  o["year"] = p.year;
  o["venue"] = p.venue;
  o["references"] = bj::value_from(p.references);
  o["source"] = p.source;
  return o;
}

Paper paper_from_element(El e, const std::string& where) {
  fields::Reader r{e, where};
  Paper p;
  r.str("id", p.id);
  if (p.id.empty()) {
    std::string s2;
    r.str("paperId", s2);
    if (!s2.empty()) p.id = "s2:" + s2, p.source = "semantic-scholar";
  }
  r.str("title", p.title);
  r.str("abstract", p.abstract);
  r.str("body", p.body);
  if (auto a = r.get("authors")) {
    if (std::string_view s; !a->get(s)) p.authors = split_any(s, {",", ";"});  // "A. B, C. D"
    else if (auto err = strings_or_titles(*a, where, "authors", p.authors); !err.empty()) throw Error(errc::parse, err);
  }
  if (auto y = r.get("year"); y && y->is_string()) {  // some dumps quote the year
    std::string_view s = y->get_string().value_unsafe();
    p.year = std::atoi(std::string(s).c_str());
  } else
    r.integer("year", p.year);
  r.str("venue", p.venue);
  if (p.venue.empty()) r.str("venue_or_categories", p.venue);
  if (auto refs = r.get("references"))
    if (auto err = strings_or_titles(*refs, where, "references", p.references); !err.empty()) throw Error(errc::parse, err);
  r.str("source", p.source);
  return p;
}

}  // namespace mlrc::detail
