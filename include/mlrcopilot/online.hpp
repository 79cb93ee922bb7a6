#pragma once
/** @file online.hpp
 *  Online retrieval sources behind the `Retriever` interface: Semantic Scholar, OpenAlex and
 *  arXiv for papers, the Hugging Face Hub for models and datasets, GitHub for code; a
 *  `FallbackRetriever` that tries sources in order (ending with the local index), and
 *  `make_online_retriever` that builds one from a short spec such as
 *  "s2,openalex,arxiv,local:/path/to/index".
 *
 *  Every source: one HTTP GET per search over the library's HTTP client (TLS, proxies from the
 *  environment, keep-alive), an overall deadline per call (`OnlineOptions::timeout`, covering all
 *  attempts and waits), retries by `RetryPolicy` (429 honouring Retry-After, 5xx, network
 *  errors), an optional client-side request rate (`RateLimit::requests_per_minute`), and an
 *  optional on-disk response cache. Cancellation: each call honours the Asio cancellation slot
 *  of the coroutine that awaits it (e.g. `Runtime::Op::cancel`) and then throws
 *  Error(errc::cancelled).
 *
 *  Errors name the source and the URL: Error(errc::network) "semantic scholar: cannot reach
 *  https://…: …" when offline; errc::rate_limited / server_error / auth for 429 / 5xx / 401-403
 *  (the server's message kept apart in `provider_text()`); errc::timeout when the deadline
 *  passes; errc::parse "openalex: response from https://…: …" for a malformed body. API keys
 *  travel in headers only: never in URLs, error messages, cache keys or cache files.
 *
 *  Query mapping: `top_k` and the year range go to every API that supports them, venue/category,
 *  tag and license where the API has a matching parameter (see docs/retrieval.md); whatever an
 *  API cannot filter is filtered here, with the same rules as the local index (case-insensitive
 *  venue substring, exact tag or `key:tag`, exact license; a record lacking the attribute fails).
 *  Hits carry the same `fields` keys as local hits of the corpus ("authors", "year", "venue",
 *  "abstract", "url", … for papers; "author", "downloads", "pipeline_tag", "license", "tags" for
 *  models and datasets) plus "source" (the source's name). Scores are the API's relevance score
 *  when it gives one, else 1/rank; either way only comparable within one result list.
 *
 *  Thread-safety: a source may serve concurrent calls from any threads; it must outlive them. */

#include <mlrcopilot/middleware.hpp>
#include <mlrcopilot/retriever.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc::detail {
class OnlineSource;  // src/retrieval/online/source.hpp
}

namespace mlrc {
inline namespace v1 {

/** The on-disk response cache. One file per response in `dir`, named by the SHA-256 of the
 *  method, URL and Accept header (never a key or token); written to a temporary file and renamed,
 *  so readers and crashes never see half an entry; an unreadable or corrupt entry is ignored and
 *  replaced. Only successful (200) responses that parsed are stored. Several processes may share
 *  a folder. */
struct HttpCacheOptions {
  std::filesystem::path dir;                  ///< empty: no cache
  std::chrono::seconds ttl{24 * 3600};        ///< an entry younger than this is served without asking the server
  /** When the server cannot be used (network error, timeout, 429 or 5xx after the retries), an
   *  entry older than `ttl` is served rather than failing: works offline. */
  bool serve_stale_on_error = true;
};

/** `$MLRC_HOME/cache/http` (`~/.mlrc/cache/http` without MLRC_HOME). */
std::filesystem::path default_http_cache_dir();

/** Settings of one online source. */
struct OnlineOptions {
  /** Base URL of the API, e.g. "http://127.0.0.1:8080" in tests. Empty: the environment
   *  variable of the source if `use_env` (MLRC_S2_URL, MLRC_OPENALEX_URL, MLRC_ARXIV_URL,
   *  MLRC_HF_URL, MLRC_GITHUB_URL), else the public API. */
  std::string base_url;
  /** API key or token. Empty: from the environment if `use_env` (Semantic Scholar: S2_API_KEY,
   *  then SEMANTIC_SCHOLAR_API_KEY, sent as x-api-key; Hugging Face: HF_TOKEN, GitHub:
   *  GITHUB_TOKEN, both as "Authorization: Bearer"). Optional for every source except GitHub
   *  code search. */
  std::string api_key;
  /** Contact address for OpenAlex's polite pool (sent as mailto=). Empty: OPENALEX_MAILTO. */
  std::string mailto;
  bool use_env = true;
  /** Bound of one call (search, paper, recommend): all attempts, retry waits and rate-limit
   *  waits together. */
  std::chrono::milliseconds timeout{20000};
  RetryPolicy retry{.max_attempts = 3, .base_delay = std::chrono::milliseconds(500), .max_delay = std::chrono::milliseconds(8000)};
  /** Client-side request rate; only `requests_per_minute` and `burst_seconds` apply. A wait that
   *  would end after the deadline fails at once with errc::rate_limited. */
  RateLimit rate_limit{};
  HttpCacheOptions cache{};
  std::string ca_file;  ///< extra PEM CA bundle (the system store is always trusted)
};

/** What all online sources share. Not meant to be derived from outside the library. */
class OnlineRetriever : public Retriever {
 public:
  ~OnlineRetriever() override;
  OnlineRetriever(const OnlineRetriever&) = delete;
  OnlineRetriever& operator=(const OnlineRetriever&) = delete;
  /** "s2", "openalex", "arxiv", "hf", "github" or "github-code". */
  std::string name() const override;
  std::vector<Corpus> corpora() const override;
  /** The base URL in use. */
  std::string base_url() const;

 protected:
  explicit OnlineRetriever(std::shared_ptr<::mlrc::detail::OnlineSource> src);
  std::shared_ptr<::mlrc::detail::OnlineSource> src_;
};

/** Semantic Scholar Graph API: papers. Search is /graph/v1/paper/search (year range as `year=`;
 *  venue, tag and license filtered here). Hit ids are "s2:<paperId>". */
class SemanticScholarRetriever final : public OnlineRetriever {
 public:
  explicit SemanticScholarRetriever(boost::asio::any_io_executor ex, OnlineOptions opts = {});
  boost::asio::awaitable<std::vector<Hit>> search(Query q) override;
  /** Details of one paper (/graph/v1/paper/{id}). `id` is ours ("s2:…", "arxiv:2408.14033") or
   *  any id the API takes ("ARXIV:2408.14033", "DOI:10.…", "CorpusId:…", a paperId).
   *  Error(errc::not_found) if the API does not know it. */
  boost::asio::awaitable<Hit> paper(std::string id);
  /** Up to `k` papers recommended for paper `id` (/recommendations/v1/papers/forpaper/{id}). */
  boost::asio::awaitable<std::vector<Hit>> recommend(std::string id, std::size_t k = 10);
};

/** OpenAlex /works: papers (abstracts rebuilt from `abstract_inverted_index`). Year range as
 *  `filter=publication_year:…`. Hit ids are "openalex:W…". */
class OpenAlexRetriever final : public OnlineRetriever {
 public:
  explicit OpenAlexRetriever(boost::asio::any_io_executor ex, OnlineOptions opts = {});
  boost::asio::awaitable<std::vector<Hit>> search(Query q) override;
};

/** arXiv API /api/query (Atom XML): papers. Words become `all:` terms joined by AND; an arXiv
 *  category given as venue or tag ("cs.CL") becomes `cat:`; the year range `submittedDate:[…]`.
 *  Hit ids are "arxiv:<id without version>". */
class ArxivRetriever final : public OnlineRetriever {
 public:
  explicit ArxivRetriever(boost::asio::any_io_executor ex, OnlineOptions opts = {});
  boost::asio::awaitable<std::vector<Hit>> search(Query q) override;
};

/** Hugging Face Hub /api/models and /api/datasets: models and datasets, mapped exactly like the
 *  local index maps Hub records. Tag and license go to `filter=`. */
class HuggingFaceRetriever final : public OnlineRetriever {
 public:
  explicit HuggingFaceRetriever(boost::asio::any_io_executor ex, OnlineOptions opts = {});
  boost::asio::awaitable<std::vector<Hit>> search(Query q) override;
};

/** GitHub search: code. `repositories` searches /search/repositories (hit id "owner/repo"; tag
 *  → `topic:`, license → `license:`, year range → `created:`); `code` searches /search/code (hit
 *  id "owner/repo/path"), which the real API only allows with a token: without one the call fails
 *  at once with Error(errc::auth) saying to set GITHUB_TOKEN. */
class GitHubRetriever final : public OnlineRetriever {
 public:
  enum class Mode { repositories, code };
  explicit GitHubRetriever(boost::asio::any_io_executor ex, OnlineOptions opts = {}, Mode mode = Mode::repositories);
  boost::asio::awaitable<std::vector<Hit>> search(Query q) override;
};

/** What happened to one source during a `FallbackRetriever::search`. */
struct SourceAttempt {
  std::string source;          ///< the source's name()
  bool answered = false;       ///< this source's hits were returned
  bool skipped = false;        ///< the source does not serve the query's corpus
  errc code = errc::ok;        ///< why it failed (ok when it answered or was skipped)
  std::string error;           ///< the failure's message (library text; never a key)
  std::size_t hits = 0;
  std::chrono::milliseconds elapsed{0};
};

/** Options of a fallback chain. */
struct FallbackOptions {
  /** Bound of each source's attempt, so one slow source cannot eat the whole budget; 0: none. */
  std::chrono::milliseconds per_source_timeout{15000};
  /** Called (on the searching thread) after each source was tried or skipped. */
  std::function<void(const SourceAttempt&)> on_attempt;
};

/** Tries its sources in order, per query corpus (sources that do not serve the corpus are
 *  skipped), and returns the first answer; each hit's fields["source"] names the source that
 *  answered. A source that fails (429, 5xx, timeout, network, auth, malformed body, no data) is
 *  recorded and the next one is tried; with the local index last, it answers when every online
 *  source fails. When all fail, throws one Error listing each source's failure, with the code of
 *  the last failure. An empty query throws Error(errc::invalid_argument) before any source is
 *  asked; cancellation stops the chain (Error(errc::cancelled)). A source that answers with no
 *  hits has answered.
 *  Thread-safety: `search` may run concurrently; `last_attempts` then reports the call that
 *  finished last. */
class FallbackRetriever final : public Retriever {
 public:
  explicit FallbackRetriever(std::vector<std::shared_ptr<Retriever>> sources, FallbackOptions opts = {});
  boost::asio::awaitable<std::vector<Hit>> search(Query q) override;
  /** "fallback(s2,openalex,local)". */
  std::string name() const override;
  /** The union of the sources' corpora. */
  std::vector<Corpus> corpora() const override;
  /** The attempts of the last finished search, in order. */
  std::vector<SourceAttempt> last_attempts() const;
  const std::vector<std::shared_ptr<Retriever>>& sources() const noexcept { return sources_; }

 private:
  std::vector<std::shared_ptr<Retriever>> sources_;
  FallbackOptions opts_;
  mutable std::mutex mu_;
  std::vector<SourceAttempt> last_;
};

/** Settings for `make_online_retriever`. */
struct OnlineConfig {
  /** Applied to every source (its base_url and api_key only if set per source below). */
  OnlineOptions defaults{};
  /** Base URLs by source name ("s2", "openalex", "arxiv", "hf", "github"); override the env. */
  std::map<std::string, std::string> base_urls;
  /** Keys by source name; override the environment. */
  std::map<std::string, std::string> api_keys;
  /** The local index for a bare "local" in the spec. */
  std::filesystem::path local_index;
  /** Use the response cache in `defaults.cache.dir`, or `default_http_cache_dir()` if empty. */
  bool cache = true;
  FallbackOptions fallback{};
};

/** Builds a fallback chain from `spec`:
 *  - a comma list of sources, tried in that order: "s2" (or "semanticscholar"), "openalex",
 *    "arxiv", "hf" (or "huggingface"), "github", "github-code", "local" or "local:PATH";
 *  - or a JSON object {"sources": [...], "local": PATH, "cache_dir": DIR, "cache": bool,
 *    "cache_ttl_s": N, "timeout_ms": N, "per_source_timeout_ms": N, "mailto": S,
 *    "base_urls": {"s2": URL, …}} whose members override `cfg`.
 *  Throws Error(errc::config) naming the unknown source or bad member, Error(errc::parse) for
 *  malformed JSON, Error(errc::not_found) when the local index does not exist. */
std::shared_ptr<FallbackRetriever> make_online_retriever(boost::asio::any_io_executor ex, std::string_view spec,
                                                         OnlineConfig cfg = {});

}  // namespace v1
}  // namespace mlrc
