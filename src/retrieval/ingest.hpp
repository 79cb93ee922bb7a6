#pragma once
// Turning input files into `Document`s: JSON-lines corpora (plain or gzip) for papers, models and
// datasets, and source folders for code. Shared by the index builder and the benchmark.
#include "retrieval/segment.hpp"

#include <mlrcopilot/retriever.hpp>

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mlrc {
inline namespace v1 {
namespace retrieval {

/** Warnings about single records; keeps the first `keep` messages and counts all. */
struct Warnings {
  std::uint64_t count = 0;
  std::vector<std::string> messages;
  std::size_t keep = 1000;
  void add(std::string m) {
    ++count;
    if (messages.size() < keep) messages.push_back(std::move(m));
  }
};

/** Names and BM25F weights of the indexed fields of a corpus, in Document::text order. */
struct FieldSpec {
  std::string name;
  double weight;
  double b = 0.75;  ///< BM25 length normalisation of this field
};
std::vector<FieldSpec> default_fields(Corpus c);
/** The Hit::fields key under which a corpus' stored text appears ("abstract", "description", "code"). */
const char* stored_text_key(Corpus c);

/** Maps one JSON record to a Document. Returns false with `why` set when it cannot be used. */
bool paper_from_json(simdjson::dom::element rec, Document& out, std::string& why);
bool hf_from_json(simdjson::dom::element rec, Corpus c, Document& out, std::string& why);

/** Trims and collapses runs of whitespace to one space. */
std::string collapse(std::string_view s);
/** ASCII case-insensitive comparisons, as the query filters use them. */
bool iequals(std::string_view a, std::string_view b);
bool icontains(std::string_view hay, std::string_view needle);
/** The tag filter: `t` equals `wanted`, or is "key:<wanted>" ("task_categories:text-classification"
 *  matches "text-classification"); case-insensitive. */
bool tag_matches(std::string_view t, std::string_view wanted);

/** The start of `text` for a hit: at most `max` bytes, cut at a word boundary (not inside a UTF-8
 *  character) and marked with "…". */
std::string snippet_of(std::string_view text, std::size_t max = 240);

/** The files an input names: a file itself; a folder's *.jsonl, *.jsonl.gz, *.ndjson(.gz) and
 *  *.json.gz files (not recursive), sorted. Error(errc::not_found) if it does not exist. */
std::vector<std::filesystem::path> jsonl_files(const std::filesystem::path& input);

/** Reads a JSON-lines file (gzip or plain, detected by zlib), calling `on_doc` for each usable
 *  record. Malformed lines become warnings "FILE:LINE: …". Error(errc::io) if it cannot be read. */
void read_jsonl(const std::filesystem::path& file, Corpus c, const std::function<void(Document&&)>& on_doc,
                Warnings& warnings);

/** Splits Python source into `def`/`class` blocks: {qualified name, kind, first line, last line}
 *  (1-based, inclusive). Line-based: a block ends before the next non-blank line indented no
 *  deeper than its header; lines inside triple-quoted strings are skipped. */
struct PyBlock {
  std::string qualname, kind;
  std::size_t first = 0, last = 0;
};
std::vector<PyBlock> python_blocks(std::string_view source);

/** Walks a code input (folder or file): one Document per source file and one per Python block. */
void read_code(const std::filesystem::path& input, const std::function<void(Document&&)>& on_doc, Warnings& warnings);

/** The strings of `v` separated by `sep`. */
std::string join(const std::vector<std::string>& v, std::string_view sep);

/** Reads every input of `c`, in order. */
void for_each_document(Corpus c, const std::vector<std::filesystem::path>& inputs,
                       const std::function<void(Document&&)>& on_doc, Warnings& warnings,
                       const std::function<void(const std::filesystem::path&)>& on_file = {});

}  // namespace retrieval
}  // namespace v1
}  // namespace mlrc
