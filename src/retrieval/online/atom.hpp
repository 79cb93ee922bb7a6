#pragma once
// A small sans-io parser for the Atom feeds of the arXiv API (bytes in, entries out; no XML
// library). It understands what such feeds contain: the XML declaration, comments, CDATA,
// elements with attributes in single or double quotes, namespace declarations (elements are
// matched by namespace URI, not by prefix, so any prefix works), the five predefined entities
// and numeric character references. It does not validate beyond well-formedness of the tag
// structure and does not resolve DTDs (a DOCTYPE is skipped; other named entities are errors).
#include <mlrcopilot/error.hpp>  // first: declares mlrc::detail (see error.hpp)
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc::detail::atom {

inline constexpr std::string_view atom_ns = "http://www.w3.org/2005/Atom";
inline constexpr std::string_view arxiv_ns = "http://arxiv.org/schemas/atom";
inline constexpr std::string_view opensearch_ns = "http://a9.com/-/spec/opensearch/1.1/";

struct Link {
  std::string href, rel, type, title;
};

struct Entry {
  std::string id, title, summary, published, updated;
  std::vector<std::string> authors;
  std::vector<std::string> categories;  // category/@term, in order
  std::vector<Link> links;
  // arxiv: extension elements
  std::string primary_category, comment, journal_ref, doi;
};

struct Feed {
  std::string title, id, updated;
  std::optional<long> total_results, start_index, items_per_page;  // opensearch:
  std::vector<Entry> entries;
};

// Parses a whole feed. Throws Error(errc::parse) "line N: what is wrong" for malformed XML
// (unclosed or mismatched tags, bad attributes, unknown entities, an undeclared prefix, a root
// that is not an Atom feed).
Feed parse_feed(std::string_view xml);

// Replaces entity and character references ("&amp;", "&#233;", "&#x2014;") by UTF-8 text.
// Throws Error(errc::parse) for an unknown or unterminated reference.
std::string decode_entities(std::string_view text);

}  // namespace mlrc::detail::atom
