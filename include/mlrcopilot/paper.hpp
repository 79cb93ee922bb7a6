#pragma once
/** @file paper.hpp
 *  `Paper`: a research paper as the planner reads it — the input paper and the related work that
 *  retrieval finds — and loading one from a file (JSON record, Markdown, plain text or PDF). */

#include <mlrcopilot/error.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** A paper. A plain value; every field may be empty except that a loaded paper always has some
 *  text (title, abstract or body). */
struct Paper {
  std::string id;        ///< "arxiv:2408.14033", "s2:<paperId>", "local:<file stem>", …
  std::string title;
  std::string abstract;
  std::string body;      ///< the full text without title, abstract and references (may be long)
  std::vector<std::string> authors;
  int year = 0;          ///< 0 when unknown
  std::string venue;     ///< venue, or arXiv categories ("cs.CL cs.LG")
  std::vector<std::string> references;  ///< one entry per cited work (a title or a reference line)
  std::string source;    ///< where the record came from: a file path, a corpus name, "semantic-scholar"

  /** Loads a paper from `path`, by extension:
   *  - `.json`: our corpus record {id, title, abstract, authors, year, venue_or_categories, source},
   *    our own `to_json` output, or a Semantic Scholar Graph API paper {paperId, title, abstract,
   *    year, venue, authors: [{name}], references: [{title}]};
   *  - `.md`, `.markdown`: the first "# " heading is the title, a section headed "Abstract" the
   *    abstract (else the first paragraph), a "References"/"Bibliography" section the references
   *    (one per line), the rest the body;
   *  - `.txt`: the first non-empty line is the title; the paragraph marked "Abstract" (else the
   *    first paragraph) the abstract; lines after a "References" heading the references;
   *  - `.pdf` (poppler): the title from the document's Title field or the first line of page 1; the
   *    abstract is the text after "Abstract" up to "Introduction"; references as for text.
   *  Throws Error(errc::io) when the file cannot be read, Error(errc::unsupported) for another
   *  extension or a PDF without extractable text, Error(errc::parse) for malformed JSON or a paper
   *  with no text at all. Every message names the file. */
  static Paper load(const std::filesystem::path& path);

  /** Finds the record with id `id` in JSON-lines files of our corpus format (plain, not gzip).
   *  Files are scanned in order; malformed lines are skipped. Returns nullopt when no file has it.
   *  Throws Error(errc::io) when a file cannot be read, Error(errc::unsupported) for a `.gz` file. */
  static std::optional<Paper> find_in_jsonl(std::string_view id, const std::vector<std::filesystem::path>& files);

  friend bool operator==(const Paper&, const Paper&) = default;
};

/** The paper as a JSON object {id, title, abstract, body, authors, year, venue, references, source}. */
std::string to_json(const Paper& p);
/** Parses any of the JSON forms `Paper::load` accepts. `origin` names the text in errors
 *  (Error(errc::parse) naming the field that is wrong). Does not require any field. */
Paper paper_from_json(std::string_view json, const std::string& origin = "paper");

}  // namespace v1
}  // namespace mlrc
