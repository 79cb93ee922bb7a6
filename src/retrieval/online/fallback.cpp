// FallbackRetriever and make_online_retriever (online.hpp).
#include "retrieval/online/apis.hpp"

#include <mlrcopilot/online.hpp>
#include <mlrcopilot/runtime.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>

namespace mlrc {
inline namespace v1 {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

FallbackRetriever::FallbackRetriever(std::vector<std::shared_ptr<Retriever>> sources, FallbackOptions opts)
    : sources_(std::move(sources)), opts_(std::move(opts)) {
  if (sources_.empty()) throw Error(errc::invalid_argument, "fallback retriever: no sources given");
  for (auto& s : sources_)
    if (!s) throw Error(errc::invalid_argument, "fallback retriever: a source is null");
}

std::string FallbackRetriever::name() const {
  std::string n = "fallback(";
  for (std::size_t i = 0; i < sources_.size(); ++i) n += (i ? "," : "") + sources_[i]->name();
  return n + ")";
}

std::vector<Corpus> FallbackRetriever::corpora() const {
  std::vector<Corpus> out;
  for (auto& s : sources_)
    for (auto c : s->corpora())
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

std::vector<SourceAttempt> FallbackRetriever::last_attempts() const {
  std::lock_guard lk(mu_);
  return last_;
}

asio::awaitable<std::vector<Hit>> FallbackRetriever::search(Query q) {
  online_api::check_query(q);  // the caller's mistake: no source is asked
  std::vector<SourceAttempt> attempts;
  auto record = [&](SourceAttempt a) {
    if (opts_.on_attempt) opts_.on_attempt(a);
    attempts.push_back(std::move(a));
  };
  auto publish = [&] {
    std::lock_guard lk(mu_);
    last_ = attempts;
  };
  std::optional<errc> last_code;
  for (auto& src : sources_) {
    SourceAttempt a;
    a.source = src->name();
    auto cs = src->corpora();
    if (std::find(cs.begin(), cs.end(), q.corpus) == cs.end()) {
      a.skipped = true;
      record(std::move(a));
      continue;
    }
    auto t0 = clock::now();
    std::vector<Hit> hits;
    std::optional<Error> failure;
    try {
      hits = co_await with_timeout(src->search(q), opts_.per_source_timeout, a.source + ": search");
    } catch (const Error& e) {
      failure = e;
    } catch (const boost::system::system_error& e) {
      if (e.code() != asio::error::operation_aborted) throw;
      failure = Error(errc::cancelled, a.source + ": search cancelled");
    }
    a.elapsed = std::chrono::duration_cast<milliseconds>(clock::now() - t0);
    if (!failure) {
      for (auto& h : hits) {
        // A local record may carry its own "source" (e.g. "acl"): keep it as "origin".
        auto it = h.fields.find("source");
        if (it != h.fields.end() && it->second != a.source) h.fields["origin"] = it->second;
        h.fields["source"] = a.source;
      }
      a.answered = true;
      a.hits = hits.size();
      record(std::move(a));
      publish();
      co_return hits;
    }
    a.code = failure->code_enum();
    a.error = failure->what();
    last_code = a.code;
    record(std::move(a));
    // The caller's cancellation ends the chain; a bad query would fail everywhere.
    auto cs_state = co_await asio::this_coro::cancellation_state;
    if (failure->code_enum() == errc::cancelled || cs_state.cancelled() != asio::cancellation_type::none) {
      publish();
      throw Error(errc::cancelled, name() + ": search cancelled");
    }
    if (failure->code_enum() == errc::invalid_argument) {
      publish();
      throw *failure;
    }
  }
  publish();
  std::string msg = "every source failed for " + std::string(corpus_name(q.corpus)) + " query \"" + q.text + "\":";
  bool any = false;
  for (auto& a : attempts) {
    if (a.skipped) continue;
    any = true;
    msg += "\n  " + a.source + ": " + errc_name(a.code) + ": " + a.error;
  }
  if (!any) throw Error(errc::not_found, name() + ": no source serves " + corpus_name(q.corpus));
  throw Error(last_code.value_or(errc::network), msg);
}

// ---------------------------------------------------------------------------------------------
// The factory

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

// The JSON form: members override `cfg`; returns the source list.
std::vector<std::string> read_json_spec(std::string_view spec, OnlineConfig& cfg) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (auto err = p.parse(spec.data(), spec.size()).get(doc))
    throw Error(errc::parse, std::string("online retriever spec: not JSON (") + simdjson::error_message(err) + ")");
  simdjson::dom::object o;
  if (doc.get_object().get(o)) throw Error(errc::config, "online retriever spec: expected a JSON object");
  std::vector<std::string> sources;
  auto bad = [](std::string_view k, const char* want) {
    return Error(errc::config, "online retriever spec: member '" + std::string(k) + "' must be " + want);
  };
  for (auto [k, v] : o) {
    std::string_view s;
    std::int64_t n;
    bool b;
    if (k == "sources") {
      simdjson::dom::array a;
      if (v.get_array().get(a)) throw bad(k, "an array of source names");
      for (auto e : a) {
        if (e.get(s)) throw bad(k, "an array of source names");
        sources.emplace_back(s);
      }
    } else if (k == "local") {
      if (v.get(s)) throw bad(k, "a path");
      cfg.local_index = std::string(s);
    } else if (k == "cache_dir") {
      if (v.get(s)) throw bad(k, "a path");
      cfg.defaults.cache.dir = std::string(s);
    } else if (k == "cache") {
      if (v.get(b)) throw bad(k, "true or false");
      cfg.cache = b;
    } else if (k == "cache_ttl_s") {
      if (v.get(n) || n < 0) throw bad(k, "a number of seconds >= 0");
      cfg.defaults.cache.ttl = std::chrono::seconds(n);
    } else if (k == "timeout_ms") {
      if (v.get(n) || n <= 0) throw bad(k, "a number of milliseconds > 0");
      cfg.defaults.timeout = milliseconds(n);
    } else if (k == "per_source_timeout_ms") {
      if (v.get(n) || n < 0) throw bad(k, "a number of milliseconds >= 0");
      cfg.fallback.per_source_timeout = milliseconds(n);
    } else if (k == "mailto") {
      if (v.get(s)) throw bad(k, "a string");
      cfg.defaults.mailto = std::string(s);
    } else if (k == "base_urls") {
      simdjson::dom::object bu;
      if (v.get_object().get(bu)) throw bad(k, "an object of source name -> URL");
      for (auto [bk, bv] : bu) {
        if (bv.get(s)) throw bad(k, "an object of source name -> URL");
        cfg.base_urls[std::string(bk)] = std::string(s);
      }
    } else {
      throw Error(errc::config, "online retriever spec: unknown member '" + std::string(k) +
                                    "' (sources, local, cache_dir, cache, cache_ttl_s, timeout_ms, per_source_timeout_ms, mailto, base_urls)");
    }
  }
  if (sources.empty()) throw Error(errc::config, "online retriever spec: 'sources' is missing or empty");
  return sources;
}

}  // namespace

std::shared_ptr<FallbackRetriever> make_online_retriever(asio::any_io_executor ex, std::string_view spec, OnlineConfig cfg) {
  std::vector<std::string> names;
  std::string text = trim(spec);
  if (!text.empty() && text.front() == '{') {
    names = read_json_spec(text, cfg);
  } else {
    std::size_t at = 0;
    while (at <= text.size()) {
      auto comma = text.find(',', at);
      std::string item = trim(std::string_view(text).substr(at, comma == std::string::npos ? std::string::npos : comma - at));
      if (!item.empty()) names.push_back(item);
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
  }
  if (names.empty()) throw Error(errc::config, "online retriever spec '" + text + "' names no source (e.g. \"s2,openalex,arxiv,local\")");
  if (cfg.cache && cfg.defaults.cache.dir.empty()) cfg.defaults.cache.dir = default_http_cache_dir();
  if (!cfg.cache) cfg.defaults.cache.dir.clear();

  std::vector<std::shared_ptr<Retriever>> sources;
  for (auto& raw : names) {
    std::string n = lower(raw.substr(0, raw.find(':')));
    if (n == "local") {
      std::filesystem::path path = raw.find(':') == std::string::npos ? cfg.local_index : std::filesystem::path(raw.substr(raw.find(':') + 1));
      if (path.empty()) throw Error(errc::config, "online retriever spec: 'local' needs an index folder (local:PATH, or the local index option)");
      sources.push_back(std::make_shared<LocalRetriever>(path));
      continue;
    }
    if (raw.find(':') != std::string::npos)
      throw Error(errc::config, "online retriever spec: source '" + raw + "' takes no argument (only local:PATH does)");
    std::string canonical = n == "semanticscholar" || n == "semantic-scholar" ? "s2" : n == "huggingface" ? "hf" : n;
    OnlineOptions o = cfg.defaults;
    // A key or base URL is per source: one set in `defaults` must not reach the other services.
    o.api_key.clear();
    o.base_url.clear();
    // Each source's own deadline ends before the chain's per-source bound, so that it can still
    // serve a stale cached answer (a bound that fires first would only cancel it).
    if (cfg.fallback.per_source_timeout.count() > 0) {
      auto margin = std::min(std::chrono::milliseconds(500), cfg.fallback.per_source_timeout / 10);
      o.timeout = std::min(o.timeout, cfg.fallback.per_source_timeout - margin);
    }
    std::string url_key = canonical == "github-code" ? "github" : canonical;
    if (auto it = cfg.base_urls.find(url_key); it != cfg.base_urls.end()) o.base_url = it->second;
    if (auto it = cfg.api_keys.find(url_key); it != cfg.api_keys.end()) o.api_key = it->second;
    if (canonical == "s2") sources.push_back(std::make_shared<SemanticScholarRetriever>(ex, o));
    else if (canonical == "openalex") sources.push_back(std::make_shared<OpenAlexRetriever>(ex, o));
    else if (canonical == "arxiv") sources.push_back(std::make_shared<ArxivRetriever>(ex, o));
    else if (canonical == "hf") sources.push_back(std::make_shared<HuggingFaceRetriever>(ex, o));
    else if (canonical == "github") sources.push_back(std::make_shared<GitHubRetriever>(ex, o));
    else if (canonical == "github-code") sources.push_back(std::make_shared<GitHubRetriever>(ex, o, GitHubRetriever::Mode::code));
    else
      throw Error(errc::config, "online retriever spec: unknown source '" + raw +
                                    "' (s2, openalex, arxiv, hf, github, github-code, local[:PATH])");
  }
  return std::make_shared<FallbackRetriever>(std::move(sources), cfg.fallback);
}

}  // namespace v1
}  // namespace mlrc
