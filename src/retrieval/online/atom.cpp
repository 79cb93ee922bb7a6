#include "retrieval/online/atom.hpp"

#include "retrieval/ingest.hpp"

#include <mlrcopilot/error.hpp>

#include <algorithm>
#include <charconv>
#include <map>

namespace mlrc::detail::atom {

namespace {

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '-' ||
         c == '.' || static_cast<unsigned char>(c) >= 0x80;
}

// arXiv wraps titles and abstracts over lines: whitespace runs become one space.
using retrieval::collapse;

struct Element {
  std::string ns, local;
  std::map<std::string, std::string> attrs;  // unprefixed attribute names
  std::vector<std::pair<std::string, std::string>> bindings;  // prefix -> uri declared here
  std::string text;
};

class Parser {
 public:
  explicit Parser(std::string_view xml) : s_(xml) {}

  Feed run() {
    while (pos_ < s_.size()) {
      if (s_[pos_] == '<') {
        markup();
      } else {
        auto lt = s_.find('<', pos_);
        if (lt == std::string_view::npos) lt = s_.size();
        auto raw = s_.substr(pos_, lt - pos_);
        if (stack_.empty()) {
          if (!std::all_of(raw.begin(), raw.end(), is_space)) fail("text outside the root element");
        } else {
          stack_.back().text += decode(raw);
        }
        pos_ = lt;
      }
    }
    if (!stack_.empty()) fail("unexpected end of document: <" + stack_.back().local + "> is not closed");
    if (!seen_root_) fail("no root element");
    return std::move(feed_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    auto line = 1 + std::count(s_.begin(), s_.begin() + static_cast<std::ptrdiff_t>(std::min(pos_, s_.size())), '\n');
    throw Error(errc::parse, "Atom XML line " + std::to_string(line) + ": " + what);
  }

  std::string decode(std::string_view raw) const {
    try {
      return decode_entities(raw);
    } catch (const Error& e) {
      fail(e.what());
    }
  }

  void skip_past(std::string_view end, const char* what) {
    auto e = s_.find(end, pos_);
    if (e == std::string_view::npos) fail(std::string("unterminated ") + what);
    pos_ = e + end.size();
  }

  void markup() {
    auto rest = s_.substr(pos_);
    if (rest.starts_with("<?")) return skip_past("?>", "processing instruction");
    if (rest.starts_with("<!--")) return skip_past("-->", "comment");
    if (rest.starts_with("<![CDATA[")) {
      if (stack_.empty()) fail("CDATA outside the root element");
      auto b = pos_ + 9;
      auto e = s_.find("]]>", b);
      if (e == std::string_view::npos) fail("unterminated CDATA section");
      stack_.back().text.append(s_.substr(b, e - b));
      pos_ = e + 3;
      return;
    }
    if (rest.starts_with("<!")) return skip_past(">", "declaration");
    if (rest.starts_with("</")) return end_tag();
    start_tag();
  }

  std::string name() {
    auto b = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
    if (b == pos_) fail("expected a name");
    return std::string(s_.substr(b, pos_ - b));
  }
  void spaces() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }

  std::string resolve(const std::string& prefix) const {
    for (auto it = stack_.rbegin(); it != stack_.rend(); ++it)
      for (auto& [p, uri] : it->bindings)
        if (p == prefix) return uri;
    if (prefix.empty()) return {};
    if (prefix == "xml") return "http://www.w3.org/XML/1998/namespace";
    fail("undeclared namespace prefix '" + prefix + "'");
  }

  void start_tag() {
    ++pos_;  // '<'
    std::string qname = name();
    Element el;
    std::vector<std::pair<std::string, std::string>> raw_attrs;
    bool self_closing = false;
    for (;;) {
      spaces();
      if (pos_ >= s_.size()) fail("unterminated start tag <" + qname + ">");
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      if (s_.substr(pos_).starts_with("/>")) {
        pos_ += 2;
        self_closing = true;
        break;
      }
      std::string an = name();
      spaces();
      if (pos_ >= s_.size() || s_[pos_] != '=') fail("attribute '" + an + "' of <" + qname + "> has no value");
      ++pos_;
      spaces();
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) fail("attribute '" + an + "' of <" + qname + "> is not quoted");
      char q = s_[pos_++];
      auto e = s_.find(q, pos_);
      if (e == std::string_view::npos) fail("unterminated value of attribute '" + an + "'");
      std::string value = decode(s_.substr(pos_, e - pos_));
      pos_ = e + 1;
      if (an == "xmlns") el.bindings.emplace_back("", value);
      else if (an.starts_with("xmlns:")) el.bindings.emplace_back(an.substr(6), value);
      else raw_attrs.emplace_back(std::move(an), std::move(value));
    }
    // Bindings declared on this element apply to its own name: push first, then resolve.
    stack_.push_back(std::move(el));
    auto colon = qname.find(':');
    std::string prefix = colon == std::string::npos ? "" : qname.substr(0, colon);
    stack_.back().local = colon == std::string::npos ? qname : qname.substr(colon + 1);
    stack_.back().ns = resolve(prefix);
    for (auto& [k, v] : raw_attrs) {
      auto c = k.find(':');
      stack_.back().attrs[c == std::string::npos ? k : k.substr(c + 1)] = v;
    }
    if (stack_.size() == 1) {
      if (seen_root_) fail("a second root element <" + qname + ">");
      seen_root_ = true;
      if (stack_.back().ns != atom_ns || stack_.back().local != "feed")
        fail("the root element is <" + qname + "> in namespace '" + stack_.back().ns + "', not an Atom <feed>");
    }
    opened();
    if (self_closing) close();
  }

  void end_tag() {
    pos_ += 2;
    std::string qname = name();
    spaces();
    if (pos_ >= s_.size() || s_[pos_] != '>') fail("unterminated end tag </" + qname + ">");
    ++pos_;
    if (stack_.empty()) fail("end tag </" + qname + "> without a start tag");
    auto colon = qname.find(':');
    std::string local = colon == std::string::npos ? qname : qname.substr(colon + 1);
    if (local != stack_.back().local) fail("end tag </" + qname + "> does not match <" + stack_.back().local + ">");
    close();
  }

  bool in_entry() const {
    return std::any_of(stack_.begin(), stack_.end(), [](const Element& e) { return e.ns == atom_ns && e.local == "entry"; });
  }

  void opened() {
    const Element& el = stack_.back();
    if (el.ns == atom_ns && el.local == "entry") feed_.entries.emplace_back();
    if (!in_entry()) return;
    Entry& en = feed_.entries.back();
    auto attr = [&](const char* k) {
      auto it = el.attrs.find(k);
      return it == el.attrs.end() ? std::string() : it->second;
    };
    if (el.ns == atom_ns && el.local == "category") {
      if (auto t = attr("term"); !t.empty()) en.categories.push_back(t);
    } else if (el.ns == atom_ns && el.local == "link") {
      en.links.push_back({attr("href"), attr("rel"), attr("type"), attr("title")});
    } else if (el.ns == arxiv_ns && el.local == "primary_category") {
      en.primary_category = attr("term");
    }
  }

  void close() {
    Element el = std::move(stack_.back());
    stack_.pop_back();
    const std::string* parent = stack_.empty() ? nullptr : &stack_.back().local;
    std::string text = collapse(el.text);
    if (!in_entry() && !(el.ns == atom_ns && el.local == "entry")) {
      if (el.ns == opensearch_ns) {
        long v = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc{} || p != text.data() + text.size()) fail("opensearch:" + el.local + " is not a number: '" + text + "'");
        if (el.local == "totalResults") feed_.total_results = v;
        else if (el.local == "startIndex") feed_.start_index = v;
        else if (el.local == "itemsPerPage") feed_.items_per_page = v;
      } else if (el.ns == atom_ns && parent && *parent == "feed") {
        if (el.local == "title") feed_.title = text;
        else if (el.local == "id") feed_.id = text;
        else if (el.local == "updated") feed_.updated = text;
      }
      return;
    }
    if (el.ns == atom_ns && el.local == "entry") return;
    Entry& en = feed_.entries.back();
    bool direct = parent && *parent == "entry";
    if (el.ns == atom_ns) {
      if (el.local == "name" && parent && *parent == "author") en.authors.push_back(text);
      else if (!direct) return;
      else if (el.local == "id") en.id = text;
      else if (el.local == "title") en.title = text;
      else if (el.local == "summary") en.summary = text;
      else if (el.local == "published") en.published = text;
      else if (el.local == "updated") en.updated = text;
    } else if (el.ns == arxiv_ns && direct) {
      if (el.local == "comment") en.comment = text;
      else if (el.local == "journal_ref") en.journal_ref = text;
      else if (el.local == "doi") en.doi = text;
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::vector<Element> stack_;
  bool seen_root_ = false;
  Feed feed_;
};

}  // namespace

std::string decode_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '&') {
      out += c;
      continue;
    }
    auto semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12)
      throw Error(errc::parse, "unterminated entity reference '" + std::string(text.substr(i, 12)) + "'");
    auto ref = text.substr(i + 1, semi - i - 1);
    if (ref == "amp") out += '&';
    else if (ref == "lt") out += '<';
    else if (ref == "gt") out += '>';
    else if (ref == "quot") out += '"';
    else if (ref == "apos") out += '\'';
    else if (ref.size() > 1 && ref[0] == '#') {
      bool hex = ref[1] == 'x' || ref[1] == 'X';
      auto digits = ref.substr(hex ? 2 : 1);
      unsigned long cp = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size() || cp == 0 || cp > 0x10FFFF ||
          (cp >= 0xD800 && cp <= 0xDFFF))
        throw Error(errc::parse, "bad character reference '&" + std::string(ref) + ";'");
      append_utf8(out, cp);
    } else {
      throw Error(errc::parse, "unknown entity '&" + std::string(ref) + ";'");
    }
    i = semi;
  }
  return out;
}

Feed parse_feed(std::string_view xml) {
  if (xml.starts_with("\xEF\xBB\xBF")) xml.remove_prefix(3);
  return Parser(xml).run();
}

}  // namespace mlrc::detail::atom
