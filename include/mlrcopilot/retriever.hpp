#pragma once
/** @file retriever.hpp
 *  Finding papers, code, models and datasets: the `Retriever` interface and its embedded default,
 *  a local full-text index that works offline (`LocalRetriever`, built by `IndexBuilder`).
 *
 *  The local index ranks with BM25F (per-field weights: a title match counts more than a match in
 *  the body). It is a folder holding immutable segment files and a small manifest; building or
 *  adding writes new segments and then replaces the manifest by an atomic rename, so a reader or a
 *  crash never sees a half-written index. See docs/retrieval.md for the format and the design. */

#include <mlrcopilot/error.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** What a query searches. */
enum class Corpus { papers, code, models, datasets };
/** "papers", "code", "models" or "datasets". */
const char* corpus_name(Corpus c) noexcept;
/** Parses a corpus name (also the singular "paper", "model", "dataset"); Error(errc::invalid_argument) otherwise. */
Corpus parse_corpus(std::string_view name);

/** A search request. Filters are conjunctive; a record that lacks the filtered attribute fails
 *  the filter (a paper with no known year is not in any year range). */
struct Query {
  std::string text;                ///< free text; must contain at least one searchable word
  Corpus corpus = Corpus::papers;
  std::size_t top_k = 10;
  std::optional<int> year_min, year_max;  ///< inclusive
  std::string venue_or_category;   ///< case-insensitive substring of the venue / arXiv categories / HF domain
  std::string tag;                 ///< a task or pipeline tag, e.g. "text-classification", "cs.CL"; case-insensitive, exact
  std::string license;             ///< e.g. "apache-2.0"; case-insensitive, exact
};

/** One result. */
struct Hit {
  std::string id;       ///< the record's id ("arxiv:2408.14033", "google-bert/bert-base-uncased", "repo/src/a.py#L10-42")
  double score = 0;     ///< higher is better; comparable only within one result list
  std::string title;
  std::string snippet;  ///< the start of the record's text
  /** Stored attributes: "authors", "year", "venue", "abstract", "license", "tags", "path",
   *  "line_start", "line_end", "downloads", … (which ones depends on the corpus and the record). */
  std::map<std::string, std::string> fields;
  std::vector<std::string> matched_fields;  ///< indexed fields that contained a query word, e.g. {"title", "abstract"}
};

/** Searches one or more corpora. Implementations: `LocalRetriever`; online back ends are plugins. */
class Retriever {
 public:
  virtual ~Retriever() = default;
  /** Returns at most `q.top_k` hits, best first. Throws Error(errc::invalid_argument) for an empty
   *  query, Error(errc::not_found) when the retriever has no data for `q.corpus`. */
  virtual boost::asio::awaitable<std::vector<Hit>> search(Query q) = 0;
  virtual std::string name() const = 0;
  virtual std::vector<Corpus> corpora() const { return {Corpus::papers, Corpus::code, Corpus::models, Corpus::datasets}; }
};

/** Figures about a local index. */
struct IndexStats {
  Corpus corpus = Corpus::papers;
  std::uint32_t format_version = 0;
  std::uint64_t generation = 0;     ///< bumped by every build/add
  std::size_t segments = 0;
  std::uint64_t documents = 0;
  std::uint64_t terms = 0;          ///< sum over segments (a term in two segments counts twice)
  std::uint64_t postings = 0;
  std::uint64_t bytes = 0;          ///< segment files and manifest
  std::vector<std::pair<std::string, double>> field_weights;  ///< indexed fields and their BM25F weights
};

/** Reported while ingesting. */
struct IngestProgress {
  std::uint64_t records = 0;   ///< records indexed so far
  std::uint64_t warnings = 0;
  std::string file;            ///< the input being read
  double seconds = 0;          ///< since the operation started
  bool done = false;           ///< the last call of an operation
};

/** The outcome of build/add. */
struct IngestReport {
  std::uint64_t added = 0;       ///< documents now searchable
  std::uint64_t duplicates = 0;  ///< records skipped because their id was already indexed
  std::uint64_t warning_count = 0;
  /** "FILE:LINE: what is wrong" for malformed or unusable records (the rest was indexed). Holds
   *  at most the first 1000; `warning_count` counts all. */
  std::vector<std::string> warnings;
  std::chrono::milliseconds elapsed{0};
};

/** Options of a new index. */
struct IndexOptions {
  double k1 = 1.2;
  /** BM25 length normalisation for every field; unset: the corpus' defaults (0.75, except 0.5
   *  for paper abstracts). */
  std::optional<double> b;
  /** Documents per segment before it is written out (bounds the builder's memory). */
  std::size_t segment_docs = 500'000;
  /** Read and parse the inputs on a second thread while the calling thread indexes. */
  bool parallel_read = true;
};

/** Builds and extends a local index folder.
 *
 *  Inputs by corpus: papers, models, datasets read JSON-lines files, plain or gzip (our papers
 *  format, Semantic Scholar Graph API records, the Kaggle arXiv snapshot; Hugging Face Hub model
 *  and dataset records). Code reads folders or single files: one document per source file and one
 *  per Python `def`/`class`. Unknown JSON fields are ignored; a malformed line becomes a warning
 *  naming file and line, and the rest is indexed.
 *
 *  One writer at a time per folder (a lock file enforces it: a second writer gets
 *  Error(errc::io)). Readers may search while a writer works; they see the new documents after
 *  `LocalRetriever::refresh()` or when reopened.
 *  Not thread-safe: use one IndexBuilder from one thread. */
class IndexBuilder {
 public:
  using ProgressFn = std::function<void(const IngestProgress&)>;

  /** @param index_dir the index folder (created by build). */
  explicit IndexBuilder(std::filesystem::path index_dir, IndexOptions options = {});

  /** Builds a new index of `corpus` from `inputs`, replacing whatever the folder held (atomically:
   *  until the new manifest is in place, readers see the old index). `progress` is called on the
   *  calling thread about every 1,000 records, at each new file and once at the end. Throws
   *  Error(errc::not_found) for a missing input, Error(errc::io) when one cannot be read or the
   *  index cannot be written, Error(errc::invalid_argument) when no input is given. */
  IngestReport build(Corpus corpus, const std::vector<std::filesystem::path>& inputs, ProgressFn progress = {});
  /** Adds `inputs` as a new segment. Records whose id is already indexed are skipped (counted in
   *  `duplicates`). Throws Error(errc::not_found) if there is no index yet. */
  IngestReport add(const std::vector<std::filesystem::path>& inputs, ProgressFn progress = {});
  /** Reads the manifest and segment headers. */
  IndexStats stats() const;

 private:
  std::filesystem::path dir_;
  IndexOptions options_;
};

/** The local index as a `Retriever`.
 *
 *  Opening reads the manifest and memory-maps the segments; nothing is parsed up front. `path`
 *  is either an index folder (one corpus) or a folder whose subfolders "papers", "code", "models",
 *  "datasets" are index folders. Opening an index written by a newer library throws
 *  Error(errc::unsupported) "index built by format version N, this library reads up to M".
 *
 *  Thread-safety: `find`, `search` and `stats` may run concurrently from any threads; `refresh`
 *  must not run concurrently with them. `search` computes synchronously inside the coroutine
 *  (queries take about a millisecond), so it never blocks on I/O other than page faults. */
class LocalRetriever final : public Retriever {
 public:
  /** Opens `path`. Throws Error(errc::not_found) when it holds no index. */
  explicit LocalRetriever(const std::filesystem::path& path);
  ~LocalRetriever() override;
  LocalRetriever(const LocalRetriever&) = delete;
  LocalRetriever& operator=(const LocalRetriever&) = delete;

  boost::asio::awaitable<std::vector<Hit>> search(Query q) override;
  std::string name() const override { return "local"; }

  /** The synchronous search behind `search`. */
  std::vector<Hit> find(const Query& q) const;
  /** Re-reads the manifests, picking up segments added since opening. */
  void refresh();
  /** The corpora this retriever holds. */
  std::vector<Corpus> corpora() const override;
  /** Statistics of the index of `c`; Error(errc::not_found) if there is none. */
  IndexStats stats(Corpus c) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/** Same as `std::make_unique<LocalRetriever>(path)`. */
std::unique_ptr<LocalRetriever> open_local_retriever(const std::filesystem::path& path);

/** Highest on-disk format version this library reads and the one it writes. */
inline constexpr std::uint32_t index_format_version = 1;

}  // namespace v1
}  // namespace mlrc
