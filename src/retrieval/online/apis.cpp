#include "retrieval/online/apis.hpp"

#include "retrieval/ingest.hpp"
#include "retrieval/online/atom.hpp"
#include "retrieval/tokenizer.hpp"

#include <mlrcopilot/error.hpp>

#include <simdjson.h>

#include <algorithm>
#include <functional>
#include <cctype>
#include <set>
#include <sstream>

namespace mlrc::detail::online {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

namespace {

using retrieval::collapse;
using retrieval::icontains;
using retrieval::iequals;
using retrieval::join;
char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

std::string field(const Hit& h, const char* key) {
  auto it = h.fields.find(key);
  return it == h.fields.end() ? std::string() : it->second;
}

element parse_json(simdjson::dom::parser& p, std::string_view body) {
  element doc;
  if (auto err = p.parse(body.data(), body.size()).get(doc))
    throw Error(errc::parse, std::string("body is not JSON (") + simdjson::error_message(err) + ")");
  return doc;
}

array need_array(element doc, std::string_view key) {
  array a;
  if (key.empty()) {
    if (doc.get_array().get(a)) throw Error(errc::parse, "expected a JSON array of records");
    return a;
  }
  object o;
  if (doc.get_object().get(o)) throw Error(errc::parse, "expected a JSON object with field '" + std::string(key) + "'");
  auto e = o[key];
  if (e.error() == simdjson::NO_SUCH_FIELD) throw Error(errc::parse, "field '" + std::string(key) + "' is missing");
  if (e.get_array().get(a)) throw Error(errc::parse, "field '" + std::string(key) + "' is not an array");
  return a;
}

std::string_view str(object o, std::string_view key) {
  std::string_view s;
  if (o[key].get(s) != simdjson::SUCCESS) return {};
  return s;
}
std::optional<std::int64_t> integer(object o, std::string_view key) {
  std::int64_t i;
  if (o[key].get(i) == simdjson::SUCCESS) return i;
  double d;
  if (o[key].get(d) == simdjson::SUCCESS) return static_cast<std::int64_t>(d);
  return std::nullopt;
}
std::optional<double> number(object o, std::string_view key) {
  double d;
  if (o[key].get(d) == simdjson::SUCCESS) return d;
  std::int64_t i;
  if (o[key].get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  return std::nullopt;
}

// The local index's mapping of a record (papers: S2 records; models/datasets: Hub records), so
// online hits carry exactly the fields local hits do.
Record from_document(retrieval::Document&& d, Corpus c) {
  Record r;
  r.hit.id = std::move(d.id);
  r.hit.title = std::move(d.title);
  r.hit.snippet = retrieval::snippet_of(d.stored_text);
  for (auto& [k, v] : d.fields) r.hit.fields.emplace(k, v);
  if (!d.stored_text.empty()) r.hit.fields.emplace(retrieval::stored_text_key(c), d.stored_text);
  r.year = d.year;
  r.venue = std::move(d.venue);
  r.license = std::move(d.license);
  r.tags = std::move(d.tags);
  return r;
}

// The usable records of `items`. One unusable record (no id, a null title) is skipped, as the
// local index skips a bad line; only a response none of whose records is usable is an error.
std::vector<Record> documents(array items, Corpus c, const char* what,
                              const std::function<void(element, Record&)>& also = {}) {
  std::vector<Record> out;
  std::size_t i = 0;
  std::string first_problem;
  for (element e : items) {
    retrieval::Document d;
    std::string why;
    bool ok = c == Corpus::papers ? retrieval::paper_from_json(e, d, why) : retrieval::hf_from_json(e, c, d, why);
    if (ok) {
      out.push_back(from_document(std::move(d), c));
      if (also) also(e, out.back());
    } else if (first_problem.empty()) {
      first_problem = std::string(what) + " " + std::to_string(i) + ": " + why;
    }
    ++i;
  }
  if (out.empty() && !first_problem.empty()) throw Error(errc::parse, first_problem);
  return out;
}

std::string year_range(const Query& q, char sep) {
  if (!q.year_min && !q.year_max) return {};
  std::string s;
  if (q.year_min) s += std::to_string(*q.year_min);
  s += sep;
  if (q.year_max) s += std::to_string(*q.year_max);
  return s;
}

}  // namespace

bool arxiv_category(std::string_view s) {
  // The archives of arXiv's category taxonomy; a category is ARCHIVE or ARCHIVE.SUBJECT
  // ("cs.CL", "hep-th", "q-bio.NC"). Anything else ("question-answering") is an ordinary tag.
  static constexpr std::string_view archives[] = {"cs",      "math",    "stat",   "eess",   "econ",   "q-bio",  "q-fin",
                                                  "physics", "astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
                                                  "hep-th",  "math-ph", "nlin",   "nucl-ex", "nucl-th", "quant-ph"};
  if (s.empty() || s.find(' ') != std::string_view::npos) return false;
  auto dot = s.find('.');
  auto archive = s.substr(0, dot);
  if (std::find(std::begin(archives), std::end(archives), archive) == std::end(archives)) return false;
  if (dot == std::string_view::npos) return true;
  auto sub = s.substr(dot + 1);
  return !sub.empty() && std::all_of(sub.begin(), sub.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '-'; });
}

namespace {

// Query words for APIs that take plain words: the query's whitespace-separated words with
// characters that have meaning in their syntax removed.
std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::string w;
  auto flush = [&] {
    if (!w.empty()) out.push_back(std::move(w)), w.clear();
  };
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80 || c == '-' || c == '.' || c == '_')
      w += c;
    else
      flush();
  }
  flush();
  return out;
}

std::string id_tail(std::string_view url) {
  auto slash = url.rfind('/');
  return std::string(slash == std::string_view::npos ? url : url.substr(slash + 1));
}

}  // namespace

std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

void check_query(const Query& q) {
  if (q.text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(errc::invalid_argument, "empty query: give some words to search for");
  if (retrieval::tokenize(q.text).empty())
    throw Error(errc::invalid_argument, "query \"" + q.text + "\" has no searchable words (only stop words or punctuation)");
}

std::size_t fetch_limit(const Query& q, bool filters_here, std::size_t cap) {
  std::size_t k = std::max<std::size_t>(q.top_k, 1);
  if (filters_here) k = std::max<std::size_t>(k * 3, 20);
  return std::min(k, cap);
}

std::vector<Hit> finish(const Query& q, std::vector<Record> records, std::string_view source) {
  // Query terms and their singular/plural variants, as the local index matches them.
  std::set<std::string, std::less<>> terms;
  for (auto& t : retrieval::tokenize(q.text)) {
    for (auto& v : retrieval::word_variants(t)) terms.insert(v);
    terms.insert(t);
  }
  auto mentions = [&](std::string_view text) {
    if (text.empty()) return false;
    for (auto& t : retrieval::tokenize(text))
      if (terms.count(t)) return true;
    return false;
  };
  std::vector<Hit> out;
  std::size_t rank = 0;
  for (auto& r : records) {
    ++rank;
    if (out.size() >= q.top_k) break;
    if ((q.year_min && (r.year == 0 || r.year < *q.year_min)) || (q.year_max && (r.year == 0 || r.year > *q.year_max))) continue;
    if (!q.venue_or_category.empty() && !icontains(r.venue, q.venue_or_category)) continue;
    if (!q.license.empty() && !iequals(r.license, q.license)) continue;
    if (!q.tag.empty()) {
      bool found = std::any_of(r.tags.begin(), r.tags.end(), [&](const std::string& t) { return retrieval::tag_matches(t, q.tag); });
      if (!found) continue;
    }
    Hit h = std::move(r.hit);
    h.score = r.api_score >= 0 ? r.api_score : 1.0 / double(rank);
    h.fields["source"] = std::string(source);
    // The corpus' indexed fields (as the local index names them) and their online text.
    std::vector<std::pair<const char*, std::string>> indexed;
    switch (q.corpus) {
      case Corpus::papers:
        indexed = {{"title", h.title}, {"abstract", field(h, "abstract")}, {"keywords", field(h, "tags") + " " + field(h, "keywords")},
                   {"authors", field(h, "authors")}};
        break;
      case Corpus::code:
        indexed = {{"name", h.title}, {"code", field(h, "code") + " " + field(h, "description")}, {"path", field(h, "path")}};
        break;
      default:
        indexed = {{"name", h.id + " " + field(h, "pretty_name")}, {"description", field(h, "description")},
                   {"tags", field(h, "tags") + " " + field(h, "pipeline_tag")}, {"author", field(h, "author")}};
    }
    for (auto& [name, text] : indexed)
      if (mentions(text)) h.matched_fields.emplace_back(name);
    out.push_back(std::move(h));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Semantic Scholar

const char* const s2_fields =
    "paperId,externalIds,url,title,abstract,venue,publicationVenue,year,publicationDate,authors,citationCount,"
    "fieldsOfStudy,s2FieldsOfStudy,openAccessPdf";

std::string s2_search_target(const Query& q, std::size_t limit) {
  // The API documents that hyphenated terms match nothing: search for the words instead.
  std::string text = q.text;
  std::replace(text.begin(), text.end(), '-', ' ');
  std::string t = "/graph/v1/paper/search?query=" + percent_encode(text) + "&fields=" + percent_encode(s2_fields) +
                  "&limit=" + std::to_string(limit);
  if (auto y = year_range(q, '-'); !y.empty()) t += "&year=" + y;
  return t;
}

namespace {
// Our ids and the usual spellings to the ones the API takes: "s2:abc" -> "abc",
// "arxiv:2408.14033" / "arXiv:…" -> "ARXIV:2408.14033", "doi:…" -> "DOI:…", "corpusid:1" -> "CorpusId:1".
std::string s2_id(std::string_view id) {
  auto colon = id.find(':');
  if (colon == std::string_view::npos) return std::string(id);
  std::string prefix(id.substr(0, colon));
  for (auto& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string rest(id.substr(colon + 1));
  if (prefix == "s2") return rest;
  static const std::pair<const char*, const char*> known[] = {{"arxiv", "ARXIV"}, {"doi", "DOI"},    {"acl", "ACL"},
                                                              {"pmid", "PMID"},   {"pmcid", "PMCID"}, {"mag", "MAG"},
                                                              {"corpusid", "CorpusId"}, {"url", "URL"}};
  for (auto& [from, to] : known)
    if (prefix == from) return std::string(to) + ":" + rest;
  return std::string(id);
}
// Keep ':' (prefix) and '/' (DOIs) readable; the API accepts them unescaped.
std::string path_segment(std::string_view id) {
  std::string out;
  for (char c : id) out += (c == ':' || c == '/') ? std::string(1, c) : percent_encode(std::string_view(&c, 1));
  return out;
}
void s2_open_access(element paper, Record& r) {
  object o, pdf;
  std::string_view lic, url;
  if (paper.get_object().get(o) || o["openAccessPdf"].get_object().get(pdf)) return;
  if (pdf["license"].get(lic) == simdjson::SUCCESS && !lic.empty() && r.license.empty()) {
    r.license = std::string(lic);
    r.hit.fields["license"] = r.license;
  }
  if (pdf["url"].get(url) == simdjson::SUCCESS && !url.empty()) r.hit.fields["pdf_url"] = std::string(url);
}
std::vector<Record> s2_papers(array items, const char* what) {
  return documents(items, Corpus::papers, what, [](element e, Record& r) { s2_open_access(e, r); });
}
}  // namespace

std::string s2_paper_target(std::string_view id) {
  return "/graph/v1/paper/" + path_segment(s2_id(id)) + "?fields=" + percent_encode(s2_fields);
}

std::string s2_recommend_target(std::string_view id, std::size_t limit) {
  return "/recommendations/v1/papers/forpaper/" + path_segment(s2_id(id)) + "?fields=" + percent_encode(s2_fields) +
         "&limit=" + std::to_string(limit);
}

std::vector<Record> s2_parse_search(std::string_view body) {
  simdjson::dom::parser p;
  element doc = parse_json(p, body);
  object o;
  // No match: the API leaves "data" out ({"total":0,"offset":0}).
  if (doc.get_object().get(o) == simdjson::SUCCESS && o["data"].error() == simdjson::NO_SUCH_FIELD &&
      o["total"].error() == simdjson::SUCCESS)
    return {};
  return s2_papers(need_array(doc, "data"), "data item");
}

Record s2_parse_paper(std::string_view body) {
  simdjson::dom::parser p;
  element doc = parse_json(p, body);
  retrieval::Document d;
  std::string why;
  if (!retrieval::paper_from_json(doc, d, why)) throw Error(errc::parse, "paper: " + why);
  Record r = from_document(std::move(d), Corpus::papers);
  s2_open_access(doc, r);
  return r;
}

std::vector<Record> s2_parse_recommendations(std::string_view body) {
  simdjson::dom::parser p;
  return s2_papers(need_array(parse_json(p, body), "recommendedPapers"), "recommendedPapers item");
}

// ---------------------------------------------------------------------------------------------
// OpenAlex

std::string openalex_target(const Query& q, std::size_t limit, std::string_view mailto) {
  std::string t = "/works?search=" + percent_encode(q.text) + "&per-page=" + std::to_string(std::clamp<std::size_t>(limit, 1, 200));
  std::vector<std::string> filters;
  if (q.year_min && q.year_max && *q.year_min == *q.year_max) {
    filters.push_back("publication_year:" + std::to_string(*q.year_min));
  } else {
    if (q.year_min) filters.push_back("publication_year:>" + std::to_string(*q.year_min - 1));
    if (q.year_max) filters.push_back("publication_year:<" + std::to_string(*q.year_max + 1));
  }
  if (!filters.empty()) t += "&filter=" + percent_encode(join(filters, ","));
  if (!mailto.empty()) t += "&mailto=" + percent_encode(mailto);
  return t;
}

namespace {
std::string abstract_from(object inverted) {
  std::vector<std::pair<std::int64_t, std::string_view>> at;
  for (auto [word, positions] : inverted) {
    array a;
    if (positions.get_array().get(a))
      throw Error(errc::parse, "abstract_inverted_index: positions of '" + std::string(word) + "' are not an array");
    for (element pos : a) {
      std::int64_t i;
      if (pos.get(i) || i < 0) throw Error(errc::parse, "abstract_inverted_index: a position of '" + std::string(word) + "' is not a number >= 0");
      at.emplace_back(i, word);
    }
  }
  std::sort(at.begin(), at.end());
  std::string out;
  for (auto& [i, w] : at) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}
}  // namespace

std::string openalex_abstract(std::string_view json) {
  simdjson::dom::parser p;
  object o;
  if (parse_json(p, json).get_object().get(o)) throw Error(errc::parse, "abstract_inverted_index is not an object");
  return abstract_from(o);
}

std::vector<Record> openalex_parse(std::string_view body) {
  simdjson::dom::parser p;
  array results = need_array(parse_json(p, body), "results");
  std::vector<Record> out;
  std::size_t i = 0;
  for (element e : results) {
    std::string where = "results[" + std::to_string(i++) + "]";
    object w;
    if (e.get_object().get(w)) throw Error(errc::parse, where + " is not an object");
    Record r;
    std::string_view oid = str(w, "id");
    if (oid.empty()) throw Error(errc::parse, where + " has no \"id\"");
    r.hit.id = "openalex:" + id_tail(oid);
    std::string_view title = str(w, "title");
    if (title.empty()) title = str(w, "display_name");
    r.hit.title = collapse(title);
    if (r.hit.title.empty()) throw Error(errc::parse, where + " (" + r.hit.id + ") has no \"title\"");
    object inv;
    std::string abstract;
    if (w["abstract_inverted_index"].get_object().get(inv) == simdjson::SUCCESS) {
      try {
        abstract = abstract_from(inv);
      } catch (const Error& err) {
        throw Error(errc::parse, where + ": " + err.what());
      }
    }
    r.hit.snippet = retrieval::snippet_of(abstract);
    if (!abstract.empty()) r.hit.fields["abstract"] = abstract;
    if (auto y = integer(w, "publication_year"); y && *y > 0) r.year = static_cast<int>(*y), r.hit.fields["year"] = std::to_string(*y);
    std::vector<std::string> authors;
    array aa;
    if (w["authorships"].get_array().get(aa) == simdjson::SUCCESS)
      for (element a : aa) {
        std::string_view name;
        if (a["author"]["display_name"].get(name) == simdjson::SUCCESS && !name.empty()) authors.emplace_back(name);
      }
    if (!authors.empty()) r.hit.fields["authors"] = join(authors, ", ");
    object loc;
    if (w["primary_location"].get_object().get(loc) == simdjson::SUCCESS) {
      std::string_view venue, lic, landing;
      if (loc["source"]["display_name"].get(venue) == simdjson::SUCCESS) r.venue = collapse(venue);
      if (loc["license"].get(lic) == simdjson::SUCCESS) r.license = std::string(lic);
      if (loc["landing_page_url"].get(landing) == simdjson::SUCCESS && !landing.empty()) r.hit.fields["url"] = std::string(landing);
    }
    if (r.license.empty()) {
      std::string_view lic;
      if (w["best_oa_location"]["license"].get(lic) == simdjson::SUCCESS) r.license = std::string(lic);
    }
    if (!r.venue.empty()) r.hit.fields["venue"] = r.venue;
    if (!r.license.empty()) r.hit.fields["license"] = r.license;
    for (const char* key : {"topics", "concepts", "keywords"}) {
      array ta;
      if (w[key].get_array().get(ta) != simdjson::SUCCESS) continue;
      for (element t : ta) {
        std::string_view name;
        if (t["display_name"].get(name) == simdjson::SUCCESS && !name.empty() &&
            std::find(r.tags.begin(), r.tags.end(), name) == r.tags.end())
          r.tags.emplace_back(name);
      }
    }
    if (!r.tags.empty()) r.hit.fields["tags"] = join(r.tags, "; ");
    if (auto doi = str(w, "doi"); !doi.empty()) {
      std::string d(doi);
      if (auto p2 = d.find("doi.org/"); p2 != std::string::npos) d = d.substr(p2 + 8);
      r.hit.fields["doi"] = d;
      if (!r.hit.fields.count("url")) r.hit.fields["url"] = std::string(doi);
    }
    if (!r.hit.fields.count("url")) r.hit.fields["url"] = std::string(oid);
    if (auto c = integer(w, "cited_by_count")) r.hit.fields["citations"] = std::to_string(*c);
    if (auto s = number(w, "relevance_score")) r.api_score = *s;
    out.push_back(std::move(r));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// arXiv

std::string arxiv_target(const Query& q, std::size_t limit) {
  std::string query;
  for (auto& w : words(q.text)) {
    std::string lw = w;
    std::transform(lw.begin(), lw.end(), lw.begin(), lower_ascii);
    if (retrieval::is_stop_word(lw)) continue;  // "all:the" would match every paper
    query += (query.empty() ? "" : " AND ") + ("all:" + w);
  }
  if (query.empty()) query = "all:" + q.text;
  for (auto* cat : {&q.venue_or_category, &q.tag})
    if (arxiv_category(*cat)) query += " AND cat:" + *cat;
  if (q.year_min || q.year_max)
    query += " AND submittedDate:[" + (q.year_min ? std::to_string(*q.year_min) : std::string("1991")) + "01010000 TO " +
             (q.year_max ? std::to_string(*q.year_max) : std::string("2999")) + "12312359]";
  return "/api/query?search_query=" + percent_encode(query) + "&start=0&max_results=" + std::to_string(limit);
}

std::vector<Record> arxiv_parse(std::string_view body) {
  atom::Feed feed = atom::parse_feed(body);
  std::vector<Record> out;
  for (std::size_t i = 0; i < feed.entries.size(); ++i) {
    auto& e = feed.entries[i];
    if (e.id.find("/api/errors") != std::string::npos) {
      Error err(errc::provider_error, "the arXiv API reports an error: " + (e.summary.empty() ? e.title : e.summary), e.summary);
      throw err;
    }
    if (e.id.empty()) throw Error(errc::parse, "entry " + std::to_string(i) + " has no <id>");
    Record r;
    // "http://arxiv.org/abs/2408.14033v2" -> "2408.14033", version "2"; old ids keep the archive.
    std::string aid = e.id;
    if (auto p = aid.find("/abs/"); p != std::string::npos) aid = aid.substr(p + 5);
    std::string version;
    if (auto v = aid.rfind('v'); v != std::string::npos && v + 1 < aid.size() && v > 0 &&
                                 std::all_of(aid.begin() + static_cast<std::ptrdiff_t>(v) + 1, aid.end(), ::isdigit) &&
                                 std::isdigit(static_cast<unsigned char>(aid[v - 1])))
      version = aid.substr(v + 1), aid.resize(v);
    r.hit.id = "arxiv:" + aid;
    r.hit.title = e.title;
    if (r.hit.title.empty()) throw Error(errc::parse, "entry " + r.hit.id + " has no <title>");
    r.hit.snippet = retrieval::snippet_of(e.summary);
    if (!e.summary.empty()) r.hit.fields["abstract"] = e.summary;
    if (!e.authors.empty()) r.hit.fields["authors"] = e.authors.size() == 1 ? e.authors[0] : join(e.authors, ", ");
    if (e.published.size() >= 4) {
      r.year = std::atoi(e.published.substr(0, 4).c_str());
      if (r.year) r.hit.fields["year"] = std::to_string(r.year);
    }
    // Like the local index's Kaggle records: the venue is the categories, and so are the tags.
    std::vector<std::string> cats = e.categories;
    if (!e.primary_category.empty()) {
      cats.erase(std::remove(cats.begin(), cats.end(), e.primary_category), cats.end());
      cats.insert(cats.begin(), e.primary_category);
      r.hit.fields["primary_category"] = e.primary_category;
    }
    r.venue = join(cats, " ");
    r.tags = cats;
    if (!r.venue.empty()) r.hit.fields["venue"] = r.venue, r.hit.fields["tags"] = r.venue;
    r.hit.fields["url"] = "https://arxiv.org/abs/" + aid;
    r.hit.fields["arxiv"] = aid;
    if (!version.empty()) r.hit.fields["version"] = version;
    for (auto& l : e.links)
      if (l.title == "pdf" || l.type == "application/pdf") r.hit.fields["pdf_url"] = l.href;
    if (!e.doi.empty()) r.hit.fields["doi"] = e.doi;
    if (!e.journal_ref.empty()) r.hit.fields["journal_ref"] = e.journal_ref;
    if (!e.comment.empty()) r.hit.fields["comment"] = e.comment;
    if (!e.updated.empty()) r.hit.fields["updated"] = e.updated;
    out.push_back(std::move(r));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hugging Face Hub

std::string hf_search_word(std::string_view text) {
  std::string best, cur;
  auto flush = [&] {
    if (cur.size() > best.size()) best = cur;
    cur.clear();
  };
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/') cur += c;
    else flush();
  }
  flush();
  return best;
}

std::string hf_target(Corpus c, const Query& q, std::size_t limit) {
  // The Hub's search= matches a substring of the repository id, so a phrase finds nothing: ask
  // for the longest word (the rest of the query ranks the answers here).
  std::string t = std::string(c == Corpus::datasets ? "/api/datasets" : "/api/models") + "?search=" + percent_encode(hf_search_word(q.text)) +
                  "&limit=" + std::to_string(limit);
  if (!q.tag.empty()) t += "&filter=" + percent_encode(q.tag);
  if (!q.license.empty()) t += "&filter=" + percent_encode("license:" + q.license);
  return t;
}

std::vector<Record> hf_parse(Corpus c, std::string_view body) {
  simdjson::dom::parser p;
  return documents(need_array(parse_json(p, body), ""), c, "record");
}

// ---------------------------------------------------------------------------------------------
// GitHub

std::string github_target(bool code, const Query& q, std::size_t limit) {
  std::string query = q.text;
  if (!code) {
    if (!q.license.empty()) query += " license:" + q.license;
    if (!q.tag.empty()) query += " topic:" + q.tag;
    if (q.year_min && q.year_max) query += " created:" + std::to_string(*q.year_min) + "-01-01.." + std::to_string(*q.year_max) + "-12-31";
    else if (q.year_min) query += " created:>=" + std::to_string(*q.year_min) + "-01-01";
    else if (q.year_max) query += " created:<=" + std::to_string(*q.year_max) + "-12-31";
  }
  return std::string(code ? "/search/code" : "/search/repositories") + "?q=" + percent_encode(query) +
         "&per_page=" + std::to_string(std::clamp<std::size_t>(limit, 1, 100));
}

std::vector<Record> github_parse(bool code, std::string_view body) {
  simdjson::dom::parser p;
  array items = need_array(parse_json(p, body), "items");
  std::vector<Record> out;
  std::size_t i = 0;
  for (element e : items) {
    std::string where = "items[" + std::to_string(i++) + "]";
    object it;
    if (e.get_object().get(it)) throw Error(errc::parse, where + " is not an object");
    Record r;
    if (auto s = number(it, "score")) r.api_score = *s;
    if (!code) {
      std::string_view full = str(it, "full_name");
      if (full.empty()) throw Error(errc::parse, where + " has no \"full_name\"");
      r.hit.id = std::string(full);
      r.hit.title = std::string(full);
      std::string desc = collapse(str(it, "description"));
      r.hit.snippet = retrieval::snippet_of(desc);
      if (!desc.empty()) r.hit.fields["description"] = desc;
      r.venue = r.hit.id;
      r.hit.fields["repo"] = r.hit.id;
      std::string_view license;
      if (it["license"]["spdx_id"].get(license) == simdjson::SUCCESS && !license.empty() && license != "NOASSERTION") {
        std::string lic(license);
        std::transform(lic.begin(), lic.end(), lic.begin(), lower_ascii);
        r.license = lic;
      } else if (it["license"]["key"].get(license) == simdjson::SUCCESS) {
        r.license = std::string(license);
      }
      if (!r.license.empty()) r.hit.fields["license"] = r.license;
      array topics;
      if (it["topics"].get_array().get(topics) == simdjson::SUCCESS)
        for (element t : topics) {
          std::string_view s;
          if (t.get(s) == simdjson::SUCCESS) r.tags.emplace_back(s);
        }
      if (auto lang = str(it, "language"); !lang.empty()) r.hit.fields["language"] = std::string(lang), r.tags.emplace_back(lang);
      if (!r.tags.empty()) r.hit.fields["tags"] = join(r.tags, " ");
      if (auto created = str(it, "created_at"); created.size() >= 4) {
        r.year = std::atoi(std::string(created.substr(0, 4)).c_str());
        r.hit.fields["year"] = std::to_string(r.year);
        r.hit.fields["createdAt"] = std::string(created);
      }
      if (auto pushed = str(it, "pushed_at"); !pushed.empty()) r.hit.fields["pushedAt"] = std::string(pushed);
      if (auto stars = integer(it, "stargazers_count")) r.hit.fields["stars"] = std::to_string(*stars);
      if (auto url = str(it, "html_url"); !url.empty()) r.hit.fields["url"] = std::string(url);
    } else {
      std::string_view path = str(it, "path"), repo;
      if (path.empty()) throw Error(errc::parse, where + " has no \"path\"");
      if (it["repository"]["full_name"].get(repo) != simdjson::SUCCESS || repo.empty())
        throw Error(errc::parse, where + " has no \"repository.full_name\"");
      r.hit.id = std::string(repo) + "/" + std::string(path);
      r.hit.title = std::string(str(it, "name"));
      if (r.hit.title.empty()) r.hit.title = id_tail(path);
      r.venue = std::string(repo);
      r.hit.fields["repo"] = r.venue;
      r.hit.fields["path"] = std::string(path);
      if (auto url = str(it, "html_url"); !url.empty()) r.hit.fields["url"] = std::string(url);
      // With "Accept: application/vnd.github.text-match+json" the matching fragments come along.
      array tm;
      std::string fragments;
      if (it["text_matches"].get_array().get(tm) == simdjson::SUCCESS)
        for (element m : tm) {
          std::string_view frag;
          if (m["fragment"].get(frag) == simdjson::SUCCESS) fragments += (fragments.empty() ? "" : "\n…\n") + std::string(frag);
        }
      if (!fragments.empty()) r.hit.fields["code"] = fragments, r.hit.snippet = retrieval::snippet_of(fragments);
      if (auto dot = path.rfind('.'); dot != std::string_view::npos) r.tags.emplace_back(path.substr(dot + 1));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace mlrc::detail::online
