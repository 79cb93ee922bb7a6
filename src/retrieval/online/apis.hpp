#pragma once
// The wire side of the online sources, sans-io: request targets built from a Query, response
// bodies parsed into hits, and the client-side part of the query (filters the API lacks,
// matched fields, scores by rank, top_k). Pure functions; tested directly with documented
// response bodies in tests/unit/test_online_apis.cpp.
//
// Parsers throw Error(errc::parse) saying which field is wrong ("field 'data' is not an array");
// the caller prefixes the source and URL.
#include <mlrcopilot/error.hpp>  // first: declares mlrc::detail (see error.hpp)
#include <mlrcopilot/retriever.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace mlrc::detail::online {

// RFC 3986 percent-encoding of a query parameter value: unreserved characters stay, everything
// else (spaces included) becomes %XX.
std::string percent_encode(std::string_view s);

// A parsed record: the hit plus the attributes the client-side filters look at.
struct Record {
  Hit hit;
  int year = 0;
  std::string venue;  // venue / arXiv categories / HF domain / GitHub repository
  std::string license;
  std::vector<std::string> tags;
  double api_score = -1;  // the API's relevance score, if it gave one
};

// How many records to ask for: top_k, more when some filter is applied here (capped at `cap`).
std::size_t fetch_limit(const Query& q, bool filters_here, std::size_t cap);

// Applies the query's filters the way the local index does, computes matched_fields (the
// corpus' indexed fields that contain a query word), sets scores (the API's, else 1/rank),
// fields["source"] = source, and keeps the first top_k.
std::vector<Hit> finish(const Query& q, std::vector<Record> records, std::string_view source);

// Throws Error(errc::invalid_argument) for a query without searchable words.
void check_query(const Query& q);

// ---- Semantic Scholar Graph API
extern const char* const s2_fields;  // the `fields=` we ask for
std::string s2_search_target(const Query& q, std::size_t limit);
std::string s2_paper_target(std::string_view id);
std::string s2_recommend_target(std::string_view id, std::size_t limit);
// {"total":…,"offset":…,"next":…,"data":[paper…]}
std::vector<Record> s2_parse_search(std::string_view body);
// a paper object
Record s2_parse_paper(std::string_view body);
// {"recommendedPapers":[paper…]}
std::vector<Record> s2_parse_recommendations(std::string_view body);

// ---- OpenAlex
std::string openalex_target(const Query& q, std::size_t limit, std::string_view mailto);
// {"meta":{…},"results":[work…]}
std::vector<Record> openalex_parse(std::string_view body);
// Rebuilds the text of an abstract_inverted_index object {"word":[positions…],…} given as JSON.
std::string openalex_abstract(std::string_view inverted_index_json);

// ---- arXiv
// "cs.CL", "math.NA", "hep-th": looks like an arXiv category (sent as cat:, not filtered here).
bool arxiv_category(std::string_view s);
std::string arxiv_target(const Query& q, std::size_t limit);
// An Atom feed; an arXiv error entry (id …/api/errors#…) throws Error(errc::provider_error)
// with its message.
std::vector<Record> arxiv_parse(std::string_view body);

// ---- Hugging Face Hub (models or datasets)
/** The word sent as the Hub's search= (its longest word: the Hub matches id substrings). */
std::string hf_search_word(std::string_view text);
std::string hf_target(Corpus c, const Query& q, std::size_t limit);
// [model or dataset record…]
std::vector<Record> hf_parse(Corpus c, std::string_view body);

// ---- GitHub search
std::string github_target(bool code, const Query& q, std::size_t limit);
// {"total_count":…,"incomplete_results":…,"items":[…]}
std::vector<Record> github_parse(bool code, std::string_view body);

}  // namespace mlrc::detail::online

// For code that also sees mlrc::v1::detail (runtime.hpp), where "detail::" is ambiguous.
namespace mlrc {
namespace online_api = ::mlrc::detail::online;
}
