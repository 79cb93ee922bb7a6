#include "retrieval/ingest.hpp"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <zlib.h>

namespace mlrc {
inline namespace v1 {
namespace retrieval {

namespace fs = std::filesystem;
using simdjson::dom::element;
using simdjson::dom::object;

std::vector<FieldSpec> default_fields(Corpus c) {
  switch (c) {
    // Abstracts vary in length for reasons unrelated to topic: normalise their length less.
    case Corpus::papers: return {{"title", 3.0, 0.75}, {"abstract", 1.0, 0.5}, {"keywords", 2.0}, {"authors", 1.0}};
    case Corpus::code: return {{"name", 3.0}, {"code", 1.0}, {"path", 1.5}};
    case Corpus::models:
    case Corpus::datasets: return {{"name", 3.0}, {"description", 1.0}, {"tags", 2.0}, {"author", 1.5}};
  }
  return {};
}

const char* stored_text_key(Corpus c) {
  switch (c) {
    case Corpus::papers: return "abstract";
    case Corpus::code: return "code";
    default: return "description";
  }
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

// Trims and collapses runs of whitespace (Kaggle's arXiv titles carry line breaks).
std::string collapse(std::string_view s) {
  // Most text is clean already: check first, copy once.
  unsigned control = 0;
  for (char c : s) control |= static_cast<unsigned char>(c) < 0x20;  // \t \n \r \f \v (vectorises)
  if (!control && (s.empty() || (s.front() != ' ' && s.back() != ' ')) && s.find("  ") == std::string_view::npos)
    return std::string(s);
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (is_space(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ', space = false;
    out += c;
  }
  return out;
}

namespace {
char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower_ascii(x) == lower_ascii(y); });
}

bool icontains(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char x, char y) { return lower_ascii(x) == lower_ascii(y); }) != hay.end();
}

bool tag_matches(std::string_view t, std::string_view wanted) {
  return iequals(t, wanted) ||
         (t.size() > wanted.size() && t[t.size() - wanted.size() - 1] == ':' && iequals(t.substr(t.size() - wanted.size()), wanted));
}

namespace {

std::string_view str(object o, std::string_view key) {
  std::string_view s;
  if (o[key].get(s) != simdjson::SUCCESS) return {};
  return s;
}

std::optional<std::int64_t> integer(object o, std::string_view key) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  std::int64_t i;
  if (e.get(i) == simdjson::SUCCESS) return i;
  double d;
  if (e.get(d) == simdjson::SUCCESS) return static_cast<std::int64_t>(d);
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS && !s.empty() && s.size() < 19 &&
      std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoll(std::string(s));
  return std::nullopt;
}

// A string or the strings of an array (objects contribute their `member`, e.g. {"name": …}).
std::vector<std::string> strings(object o, std::string_view key, std::string_view member = {}) {
  std::vector<std::string> out;
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return out;
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) {
    if (!s.empty()) out.push_back(collapse(s));
    return out;
  }
  simdjson::dom::array a;
  if (e.get(a) != simdjson::SUCCESS) return out;
  for (element x : a) {
    object xo;
    if (x.get(s) == simdjson::SUCCESS || (!member.empty() && x.get(xo) == simdjson::SUCCESS && xo[member].get(s) == simdjson::SUCCESS))
      if (!s.empty()) out.push_back(collapse(s));
  }
  return out;
}


// The first plausible year (1900–2100) written as four digits in `s`.
int year_in(std::string_view s) {
  for (std::size_t i = 0; i + 4 <= s.size(); ++i) {
    if (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') continue;
    int y = 0;
    std::size_t j = i;
    for (; j < i + 4 && s[j] >= '0' && s[j] <= '9'; ++j) y = y * 10 + (s[j] - '0');
    if (j == i + 4 && (j == s.size() || s[j] < '0' || s[j] > '9') && y >= 1900 && y <= 2100) return y;
  }
  return 0;
}

// arXiv ids carry the year: "2408.14033" (YYMM.N) and "hep-th/9901001" (archive/YYMMNNN).
int arxiv_year(std::string_view id) {
  if (auto slash = id.rfind('/'); slash != std::string_view::npos) id.remove_prefix(slash + 1);
  if (id.size() < 4 || !std::all_of(id.begin(), id.begin() + 4, [](char c) { return c >= '0' && c <= '9'; })) return 0;
  int yy = (id[0] - '0') * 10 + (id[1] - '0');
  return yy >= 91 ? 1900 + yy : 2000 + yy;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string paper_url(std::string_view id) {
  if (starts_with(id, "arxiv:")) return "https://arxiv.org/abs/" + std::string(id.substr(6));
  if (starts_with(id, "acl:")) return "https://aclanthology.org/" + std::string(id.substr(4));
  if (starts_with(id, "openreview:")) return "https://openreview.net/forum?id=" + std::string(id.substr(11));
  if (starts_with(id, "s2:")) return "https://www.semanticscholar.org/paper/" + std::string(id.substr(3));
  return {};
}

}  // namespace

bool paper_from_json(element rec, Document& d, std::string& why) {
  object o;
  if (rec.get(o) != simdjson::SUCCESS) return why = "not a JSON object", false;
  std::string_view s2_id = str(o, "paperId"), id = str(o, "id");
  std::string id_number;
  if (id.empty())
    if (auto n = integer(o, "id")) id_number = std::to_string(*n), id = id_number;
  std::string_view authors_string;
  bool kaggle = o["submitter"].error() == simdjson::SUCCESS || o["update_date"].error() == simdjson::SUCCESS ||
                o["versions"].error() == simdjson::SUCCESS || o["authors"].get(authors_string) == simdjson::SUCCESS;
  if (!s2_id.empty()) d.id = "s2:" + std::string(s2_id);
  else if (id.empty()) return why = "record has no \"id\" (or \"paperId\")", false;
  else if (kaggle && !starts_with(id, "arxiv:")) d.id = "arxiv:" + std::string(id);
  else d.id = id;

  element t;
  std::string_view title;
  if (o["title"].get(t) != simdjson::SUCCESS) return why = "record " + d.id + " has no \"title\"", false;
  if (t.get(title) != simdjson::SUCCESS) return why = "record " + d.id + ": field \"title\" is not a string", false;
  d.title = collapse(title);
  if (d.title.empty()) return why = "record " + d.id + " has an empty \"title\"", false;
  d.stored_text = collapse(str(o, "abstract"));  // null or missing: tolerated

  auto authors = strings(o, "authors", "name");
  if (authors.empty()) authors = strings(o, "author", "name");

  // Year: given, or S2's publicationDate, or the first arXiv version, or the id.
  if (auto y = integer(o, "year"); y && *y > 0 && *y < 3000) d.year = static_cast<int>(*y);
  if (!d.year) d.year = year_in(str(o, "publicationDate"));
  if (!d.year) {
    simdjson::dom::array versions;
    object v0;
    std::string_view created;
    if (o["versions"].get(versions) == simdjson::SUCCESS && versions.size() > 0 && versions.at(0).get(v0) == simdjson::SUCCESS &&
        v0["created"].get(created) == simdjson::SUCCESS)
      d.year = year_in(created);
  }
  if (!d.year && starts_with(d.id, "arxiv:")) d.year = arxiv_year(std::string_view(d.id).substr(6));
  if (!d.year) d.year = year_in(str(o, "update_date"));

  std::string_view categories = str(o, "categories");
  std::string venue(collapse(str(o, "venue_or_categories")));
  if (venue.empty()) venue = collapse(str(o, "venue"));
  if (venue.empty()) {
    object pv;
    if (o["publicationVenue"].get(pv) == simdjson::SUCCESS) venue = collapse(str(pv, "name"));
  }
  if (venue.empty()) venue = collapse(categories);
  if (venue.empty()) venue = collapse(str(o, "journal-ref"));
  d.venue = venue;

  // Tags: arXiv categories ("cs.CL") and fields of study.
  std::istringstream words(std::string(categories.empty() ? std::string_view(venue) : categories));
  for (std::string w; words >> w;)
    if (!categories.empty() || w.find('.') != std::string::npos) d.tags.push_back(w);
  auto fos = strings(o, "fieldsOfStudy");
  for (auto& f : strings(o, "s2FieldsOfStudy", "category"))
    if (std::find(fos.begin(), fos.end(), f) == fos.end()) fos.push_back(f);
  d.tags.insert(d.tags.end(), fos.begin(), fos.end());
  auto keywords = strings(o, "keywords");

  d.text[0] = d.title;
  d.stored_field = 1;
  // Not the venue: words like "Workshop", "Shared Task", "cs.AI" would match far too many papers.
  d.text[2] = join(fos, " ") + ' ' + join(keywords, " ");
  d.text[3] = join(authors, ", ");
  if (!authors.empty()) d.fields.emplace_back("authors", authors.size() == 1 ? authors[0] : join(authors, ", "));
  if (d.year) d.fields.emplace_back("year", std::to_string(d.year));
  if (!venue.empty()) d.fields.emplace_back("venue", venue);
  if (!d.tags.empty()) d.fields.emplace_back("tags", join(d.tags, " "));
  if (auto src = str(o, "source"); !src.empty()) d.fields.emplace_back("source", std::string(src));
  std::string url(str(o, "url"));
  if (url.empty()) url = paper_url(d.id);
  if (!url.empty()) d.fields.emplace_back("url", url);
  object ext;
  if (o["externalIds"].get(ext) == simdjson::SUCCESS) {
    if (auto a = str(ext, "ArXiv"); !a.empty()) d.fields.emplace_back("arxiv", std::string(a));
    if (auto doi = str(ext, "DOI"); !doi.empty()) d.fields.emplace_back("doi", std::string(doi));
  } else if (auto doi = str(o, "doi"); !doi.empty()) {
    d.fields.emplace_back("doi", std::string(doi));
  }
  if (auto c = integer(o, "citationCount")) d.fields.emplace_back("citations", std::to_string(*c));
  if (auto lic = str(o, "license"); !lic.empty()) d.license = lic, d.fields.emplace_back("license", std::string(lic));
  return true;
}

bool hf_from_json(element rec, Corpus c, Document& d, std::string& why) {
  object o;
  if (rec.get(o) != simdjson::SUCCESS) return why = "not a JSON object", false;
  std::string_view id = str(o, "id");
  if (id.empty()) id = str(o, "modelId");
  if (id.empty()) return why = "record has no \"id\" (or \"modelId\")", false;
  d.id = id;
  d.title = id;
  object card;
  bool has_card = o["cardData"].get(card) == simdjson::SUCCESS;
  std::string pretty = has_card ? collapse(str(card, "pretty_name")) : std::string();
  d.stored_text = collapse(str(o, "description"));
  std::string_view author = str(o, "author");
  std::string_view pipeline = str(o, "pipeline_tag");

  auto tags = strings(o, "tags");
  std::string keywords(pipeline);
  for (auto& t : tags) {
    auto colon = t.find(':');
    std::string_view key = colon == std::string::npos ? std::string_view() : std::string_view(t).substr(0, colon);
    std::string_view value = colon == std::string::npos ? std::string_view(t) : std::string_view(t).substr(colon + 1);
    if (key == "license" && d.license.empty()) d.license = value;
    if (key == "region" || key == "base_model" || key == "arxiv" || key == "doi") continue;  // noise for text search
    keywords += ' ';
    keywords += value;
  }
  if (d.license.empty() && has_card) {
    auto l = strings(card, "license");
    if (!l.empty()) d.license = l[0];
  }
  d.tags = tags;
  if (!pipeline.empty()) d.tags.emplace_back(pipeline);
  for (auto key : {"_task", "task"}) {
    std::istringstream parts{std::string(str(o, key))};
    for (std::string t; std::getline(parts, t, ',');)
      if (!t.empty()) d.tags.push_back(collapse(t)), keywords += ' ' + t;
  }
  if (has_card)
    for (auto& t : strings(card, "task_categories")) keywords += ' ' + t;

  for (auto key : {"_task_domain", "_domain", "domain"})
    if (auto v = str(o, key); !v.empty() && v != "unknown" && d.venue.empty()) d.venue = v;
  std::string_view created = str(o, "createdAt"), modified = str(o, "lastModified");
  d.year = year_in(created.substr(0, 4));
  if (!d.year) d.year = year_in(modified.substr(0, 4));

  d.text[0] = std::string(id) + (pretty.empty() ? "" : " " + pretty);
  d.stored_field = 1;
  d.text[2] = keywords;
  d.text[3] = author;
  if (!author.empty()) d.fields.emplace_back("author", std::string(author));
  if (auto n = integer(o, "downloads")) {
    d.fields.emplace_back("downloads", std::to_string(*n));
    // Popularity breaks near-ties: "bert" should find bert-base-uncased (60M downloads) before a
    // fine-tune with "BERT" in its name. Up to ~2.5 points, against BM25 scores of 5–25.
    d.prior = float(0.3 * std::log10(1.0 + double(std::max<std::int64_t>(*n, 0))));
  }
  if (!pipeline.empty()) d.fields.emplace_back("pipeline_tag", std::string(pipeline));
  if (!d.license.empty()) d.fields.emplace_back("license", d.license);
  if (!d.venue.empty()) d.fields.emplace_back("domain", d.venue);
  if (!pretty.empty()) d.fields.emplace_back("pretty_name", pretty);
  if (!created.empty()) d.fields.emplace_back("createdAt", std::string(created));
  if (!modified.empty()) d.fields.emplace_back("lastModified", std::string(modified));
  if (d.year) d.fields.emplace_back("year", std::to_string(d.year));
  if (!tags.empty()) d.fields.emplace_back("tags", join(tags, " "));
  d.fields.emplace_back("url", std::string(c == Corpus::datasets ? "https://huggingface.co/datasets/" : "https://huggingface.co/") +
                                   std::string(id));
  return true;
}

std::string snippet_of(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  if (auto sp = text.rfind(' ', cut); sp != std::string_view::npos && sp > max / 2) cut = sp;
  return std::string(text.substr(0, cut)) + "…";
}

std::vector<fs::path> jsonl_files(const fs::path& input) {
  std::error_code ec;
  auto st = fs::status(input, ec);
  if (!fs::exists(st)) throw Error(errc::not_found, "input " + input.string() + " does not exist");
  if (!fs::is_directory(st)) return {input};
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(input)) {
    auto name = e.path().filename().string();
    auto ends = [&](std::string_view s) { return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
    if (e.is_regular_file() && (ends(".jsonl") || ends(".jsonl.gz") || ends(".ndjson") || ends(".ndjson.gz") || ends(".json.gz")))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw Error(errc::not_found, "folder " + input.string() + " holds no .jsonl or .jsonl.gz files");
  return out;
}

void read_jsonl(const fs::path& file, Corpus c, const std::function<void(Document&&)>& on_doc, Warnings& warnings) {
  // gzopen reads plain files unchanged, so one path serves .jsonl and .jsonl.gz.
  gzFile gz = ::gzopen(file.c_str(), "rb");
  if (!gz) throw Error(errc::io, "cannot open " + file.string() + ": " + std::strerror(errno ? errno : ENOMEM));
  struct Closer {
    gzFile g;
    ~Closer() { ::gzclose(g); }
  } closer{gz};
  ::gzbuffer(gz, 1 << 18);

  simdjson::dom::parser parser;
  // simdjson reads up to SIMDJSON_PADDING bytes past a line's end: the buffer always has them.
  std::vector<char> buf((4u << 20) + simdjson::SIMDJSON_PADDING);
  std::size_t have = 0, line_no = 0;
  std::string why;
  auto handle = [&](const char* p, std::size_t n) {
    ++line_no;
    while (n > 0 && is_space(p[n - 1])) --n;
    std::size_t lead = 0;
    while (lead < n && is_space(p[lead])) ++lead;
    if (lead == n) return;
    element rec;
    auto err = parser.parse(p + lead, n - lead, false).get(rec);
    auto where = file.string() + ":" + std::to_string(line_no) + ": ";
    if (err) return warnings.add(where + "invalid JSON (" + simdjson::error_message(err) + ")");
    Document d;
    bool ok = c == Corpus::papers ? paper_from_json(rec, d, why) : hf_from_json(rec, c, d, why);
    if (!ok) return warnings.add(where + why);
    on_doc(std::move(d));
  };
  for (;;) {
    std::size_t cap = buf.size() - simdjson::SIMDJSON_PADDING;
    if (have == cap) {  // one line longer than the buffer: grow
      buf.resize(cap * 2 + simdjson::SIMDJSON_PADDING);
      cap = buf.size() - simdjson::SIMDJSON_PADDING;
    }
    int n = ::gzread(gz, buf.data() + have, static_cast<unsigned>(std::min<std::size_t>(cap - have, 1u << 30)));
    bool eof = n <= 0;
    int code = Z_OK;
    const char* msg = ::gzerror(gz, &code);
    bool failed = n < 0 || code != Z_OK;  // a truncated gzip stream ends with n == 0 and an error set
    std::string error = failed ? std::string(msg ? msg : "?") : std::string();
    eof = eof || failed;
    if (n > 0) have += static_cast<std::size_t>(n);
    std::size_t start = 0;
    for (const char* nl; (nl = static_cast<const char*>(std::memchr(buf.data() + start, '\n', have - start)));) {
      std::size_t end = static_cast<std::size_t>(nl - buf.data());
      handle(buf.data() + start, end - start);
      start = end + 1;
    }
    if (eof) {
      if (failed)
        warnings.add(file.string() + ": read error after line " + std::to_string(line_no) + " (" + error +
                     "); the rest of the file is skipped");
      else if (start < have)
        handle(buf.data() + start, have - start);  // a last line without '\n'
      break;
    }
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
  }
}

// ---------------------------------------------------------------------------------------------
// Code

std::vector<PyBlock> python_blocks(std::string_view src) {
  std::vector<std::string_view> lines;
  for (std::size_t at = 0; at <= src.size();) {
    auto nl = src.find('\n', at);
    if (nl == std::string_view::npos) {
      if (at < src.size()) lines.push_back(src.substr(at));
      break;
    }
    lines.push_back(src.substr(at, nl - at));
    at = nl + 1;
  }
  // Which lines start inside a triple-quoted string (naive about escapes, good enough for code).
  std::vector<bool> in_string(lines.size(), false);
  char open = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    in_string[i] = open != 0;
    auto l = lines[i];
    for (std::size_t j = 0; j < l.size(); ++j) {
      char ch = l[j];
      if (open) {
        if (ch == '\\') ++j;
        else if (ch == open && l.substr(j, 3) == std::string(3, open)) open = 0, j += 2;
      } else if (ch == '#') {
        break;
      } else if (ch == '"' || ch == '\'') {
        if (l.substr(j, 3) == std::string(3, ch)) {
          open = ch;
          j += 2;
        } else {  // a one-line string: skip it
          for (++j; j < l.size() && l[j] != ch; ++j)
            if (l[j] == '\\') ++j;
        }
      }
    }
  }
  struct Open {
    std::size_t indent, first, header_end;
    std::string name, kind;
  };
  std::vector<Open> stack;
  std::vector<PyBlock> out;
  std::size_t last_code = 0;
  auto close = [&](std::size_t last) {
    std::string qual;
    for (auto& s : stack) qual += (qual.empty() ? "" : ".") + s.name;
    out.push_back({qual, stack.back().kind, stack.back().first + 1, std::max(last, stack.back().header_end) + 1});
    stack.pop_back();
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto l = lines[i];
    if (in_string[i]) {
      last_code = i;
      continue;
    }
    std::size_t indent = 0, j = 0;
    for (; j < l.size() && (l[j] == ' ' || l[j] == '\t'); ++j) indent = l[j] == '\t' ? (indent / 8 + 1) * 8 : indent + 1;
    auto rest = l.substr(j);
    if (rest.empty() || rest[0] == '#' || rest == "\r") continue;
    while (!stack.empty() && indent <= stack.back().indent && i > stack.back().header_end) close(last_code);
    std::string_view kind;
    if (starts_with(rest, "def ")) kind = "function", rest.remove_prefix(4);
    else if (starts_with(rest, "async def ")) kind = "function", rest.remove_prefix(10);
    else if (starts_with(rest, "class ")) kind = "class", rest.remove_prefix(6);
    if (!kind.empty()) {
      while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
      std::size_t n = 0;
      while (n < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_')) ++n;
      if (n > 0) {
        // The header may span lines: it ends at the first ':' line with brackets balanced.
        std::size_t header_end = i;
        int depth = 0;
        for (std::size_t k = i; k < lines.size() && k < i + 100; ++k) {
          auto h = lines[k];
          if (auto hash = h.find('#'); hash != std::string_view::npos) h = h.substr(0, hash);
          for (char ch : h) depth += (ch == '(' || ch == '[' || ch == '{') - (ch == ')' || ch == ']' || ch == '}');
          while (!h.empty() && is_space(h.back())) h.remove_suffix(1);
          if (depth <= 0 && !h.empty() && h.find(':') != std::string_view::npos) {
            header_end = k;
            break;
          }
        }
        stack.push_back({indent, i, header_end, std::string(rest.substr(0, n)), std::string(kind)});
      }
    }
    last_code = i;
  }
  while (!stack.empty()) close(last_code);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return out;
}

namespace {

const char* language_of(const fs::path& p) {
  static const std::pair<const char*, const char*> by_ext[] = {
      {".py", "python"},  {".pyi", "python"}, {".c", "c"},         {".h", "c"},          {".cc", "c++"},
      {".cpp", "c++"},    {".cxx", "c++"},    {".hpp", "c++"},     {".hh", "c++"},       {".cu", "cuda"},
      {".js", "javascript"}, {".ts", "typescript"}, {".java", "java"}, {".go", "go"},    {".rs", "rust"},
      {".sh", "shell"},   {".rb", "ruby"},    {".jl", "julia"},    {".r", "r"},          {".R", "r"},
      {".scala", "scala"}, {".kt", "kotlin"}, {".swift", "swift"}, {".lua", "lua"},      {".m", "matlab"},
      {".md", "markdown"}, {".rst", "rst"},   {".txt", "text"},    {".toml", "toml"},    {".yaml", "yaml"},
      {".yml", "yaml"},   {".cfg", "config"}, {".ini", "config"},  {".cmake", "cmake"},  {".sql", "sql"}};
  auto ext = p.extension().string();
  for (auto& [e, lang] : by_ext)
    if (ext == e) return lang;
  auto name = p.filename().string();
  if (name == "Makefile" || name == "Dockerfile" || name == "CMakeLists.txt") return "build";
  return nullptr;
}

bool skip_dir(const fs::path& p) {
  auto n = p.filename().string();
  return (!n.empty() && n[0] == '.') || n == "node_modules" || n == "__pycache__" || n == "venv" || n == "build" ||
         n == "dist" || n == "site-packages";
}

// The first `max` bytes of `s`, cut at a line end when possible.
std::string head(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  auto nl = s.rfind('\n', max);
  return std::string(s.substr(0, nl == std::string_view::npos || nl < max / 2 ? max : nl));
}

void code_file(const fs::path& file, const std::string& rel, const std::string& repo, const char* lang,
               const std::function<void(Document&&)>& on_doc, Warnings& warnings) {
  constexpr std::uintmax_t max_bytes = 1 << 20;
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) return warnings.add(file.string() + ": cannot read (" + ec.message() + ")");
  if (size > max_bytes) return warnings.add(file.string() + ": skipped, larger than 1 MiB");
  std::ifstream in(file, std::ios::binary);
  std::string src((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return warnings.add(file.string() + ": cannot read");
  if (src.find('\0') != std::string::npos) return;  // binary
  std::size_t nlines = static_cast<std::size_t>(std::count(src.begin(), src.end(), '\n')) + (!src.empty() && src.back() != '\n');

  auto base = [&](Document& d) {
    d.venue = repo;
    d.text[2] = rel;
    d.tags = {lang};
    d.fields.emplace_back("path", rel);
    d.fields.emplace_back("language", lang);
  };
  Document f;
  f.id = rel;
  f.title = rel;
  f.text[0] = file.filename().string();
  f.text[1] = src;
  f.stored_text = head(src, 2000);
  base(f);
  f.tags.push_back("file");
  f.fields.emplace_back("kind", "file");
  f.fields.emplace_back("line_start", "1");
  f.fields.emplace_back("line_end", std::to_string(nlines));
  on_doc(std::move(f));

  if (std::string_view(lang) != "python") return;
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i < src.size(); ++i)
    if (src[i] == '\n') starts.push_back(i + 1);
  starts.push_back(src.size());
  for (auto& b : python_blocks(src)) {
    auto from = starts[b.first - 1], to = starts[std::min(b.last, starts.size() - 1)];
    std::string_view text = std::string_view(src).substr(from, to - from);
    Document d;
    d.id = rel + "#L" + std::to_string(b.first) + "-" + std::to_string(b.last);
    d.title = (b.kind == "class" ? "class " : "def ") + b.qualname;
    d.text[0] = b.qualname;
    d.text[1] = text;
    d.stored_text = head(text, 2000);
    base(d);
    d.tags.push_back(b.kind);
    d.fields.emplace_back("kind", b.kind);
    d.fields.emplace_back("name", b.qualname);
    d.fields.emplace_back("line_start", std::to_string(b.first));
    d.fields.emplace_back("line_end", std::to_string(b.last));
    on_doc(std::move(d));
  }
}

}  // namespace

void read_code(const fs::path& input, const std::function<void(Document&&)>& on_doc, Warnings& warnings) {
  std::error_code ec;
  auto st = fs::status(input, ec);
  if (!fs::exists(st)) throw Error(errc::not_found, "input " + input.string() + " does not exist");
  auto root = fs::weakly_canonical(input, ec);
  if (ec) root = fs::absolute(input);
  if (!fs::is_directory(st)) {
    const char* lang = language_of(input);
    return code_file(input, root.filename().string(), root.parent_path().filename().string(), lang ? lang : "text",
                     on_doc, warnings);
  }
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory() && skip_dir(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && language_of(it->path())) files.push_back(it->path());
  }
  if (ec) warnings.add(input.string() + ": folder walk stopped early (" + ec.message() + ")");
  std::sort(files.begin(), files.end());  // stable ids and order across runs
  auto repo = root.filename().string();
  for (auto& f : files)
    code_file(f, repo + "/" + fs::relative(f, root).generic_string(), repo, language_of(f), on_doc, warnings);
}

void for_each_document(Corpus c, const std::vector<fs::path>& inputs, const std::function<void(Document&&)>& on_doc,
                       Warnings& warnings, const std::function<void(const fs::path&)>& on_file) {
  for (auto& in : inputs) {
    if (c == Corpus::code) {
      if (on_file) on_file(in);
      read_code(in, on_doc, warnings);
      continue;
    }
    for (auto& f : jsonl_files(in)) {
      if (on_file) on_file(f);
      read_jsonl(f, c, on_doc, warnings);
    }
  }
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace retrieval
}  // namespace v1
}  // namespace mlrc
