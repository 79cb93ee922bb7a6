#include "retrieval/online/source.hpp"

#include "llm/wire.hpp"

#include <mlrcopilot/version.hpp>

#include <cstdlib>

namespace mlrc::detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? std::string(v) : std::string();
}

// Failures after which an older cached answer is better than none.
bool stale_ok(errc c) {
  return c == errc::network || c == errc::timeout || c == errc::server_error || c == errc::rate_limited || c == errc::tls;
}

std::string user_agent() {
  return "mlrcopilot/" + std::to_string(MLRC_VERSION_MAJOR) + "." + std::to_string(MLRC_VERSION_MINOR) + "." +
         std::to_string(MLRC_VERSION_PATCH) + " (+https://github.com/mlrcopilot)";
}

}  // namespace

OnlineSource::OnlineSource(asio::any_io_executor ex, SourceSpec spec, OnlineOptions opts)
    : spec_(std::move(spec)),
      opts_(std::move(opts)),
      backoff_(opts_.retry),
      bucket_(opts_.rate_limit.requests_per_minute, opts_.rate_limit.burst_seconds > 0 ? opts_.rate_limit.burst_seconds : 60) {
  if (opts_.retry.max_attempts < 1) throw Error(errc::invalid_argument, spec_.display + ": retry.max_attempts must be at least 1");
  if (opts_.rate_limit.requests_per_minute < 0) throw Error(errc::invalid_argument, spec_.display + ": rate_limit.requests_per_minute must be >= 0");
  base_ = opts_.base_url;
  if (base_.empty() && opts_.use_env && !spec_.url_env.empty()) base_ = env(spec_.url_env);
  if (base_.empty()) base_ = spec_.default_base;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  try {
    (void)Url::parse(base_);
  } catch (const Error& e) {
    throw Error(errc::config, spec_.display + ": bad base URL" + (opts_.base_url.empty() && !spec_.url_env.empty() ? " (from " + spec_.url_env + ")" : "") +
                                  ": " + e.what());
  }
  key_ = opts_.api_key;
  if (key_.empty() && opts_.use_env)
    for (auto& k : spec_.key_envs)
      if (key_ = env(k); !key_.empty()) break;
  if (!opts_.cache.dir.empty()) cache_.emplace(opts_.cache.dir, opts_.cache.ttl);
  HttpClientOptions ho;
  ho.ca_file = opts_.ca_file;
  http_ = std::make_shared<HttpClient>(std::move(ex), std::move(ho));
}

Error OnlineSource::error(errc code, const std::string& message) const { return Error(code, spec_.display + ": " + message); }

Headers OnlineSource::headers() const {
  Headers h{{"accept", spec_.accept}, {"user-agent", user_agent()}};
  if (!key_.empty()) {
    if (spec_.key_header == SourceSpec::KeyHeader::x_api_key) h.emplace_back("x-api-key", key_);
    else if (spec_.key_header == SourceSpec::KeyHeader::bearer) h.emplace_back("authorization", "Bearer " + key_);
  }
  for (auto& kv : spec_.extra_headers) h.push_back(kv);
  return h;
}

Error OnlineSource::map_transport(const Url& url, const Error& e) const {
  std::string where = url.origin() + url.path;
  std::string msg;
  switch (e.code_enum()) {
    case errc::network: msg = "cannot reach " + where + ": " + e.what(); break;
    case errc::timeout: msg = "no answer from " + where + " before the deadline (" + e.what() + ")"; break;
    case errc::cancelled: msg = "request to " + where + " cancelled"; break;
    default: msg = where + ": " + e.what();
  }
  Error out(e.code_enum(), spec_.display + ": " + msg, redact(e.provider_text(), key_));
  out.http_status = e.http_status;
  out.retry_after = e.retry_after;
  return out;
}

Error OnlineSource::map_status(const Url& url, const HttpClient::Buffered& r) const {
  const std::string what = spec_.display + ": GET " + url.origin() + url.path;
  int status = r.head.status;
  // GitHub signals an exhausted quota with 403 (or 429) and x-ratelimit-remaining: 0; the reset
  // time is a Unix timestamp.
  // A 403 with Retry-After is GitHub's secondary rate limit: also a 429.
  if ((status == 403 || status == 429) && (r.head.get("x-ratelimit-remaining") == "0" || (status == 403 && !r.head.get("retry-after").empty()))) {
    Error e = error_from_http(429, r.body, r.head.get("retry-after"), what, key_);
    e.http_status = status;
    if (!e.retry_after) {
      char* end = nullptr;
      auto reset_s = r.head.get("x-ratelimit-reset");
      long long reset = std::strtoll(reset_s.c_str(), &end, 10);
      if (!reset_s.empty() && end && *end == 0) {
        auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        e.retry_after = milliseconds(std::max<long long>(0, reset - now) * 1000);
      }
    }
    return e;
  }
  Error e = error_from_http(status, r.body, r.head.get("retry-after"), what, key_);
  if (status == 404) {
    Error nf(errc::not_found, std::string(e.what()) + " (not found)", e.provider_text());
    nf.http_status = 404;
    return nf;
  }
  return e;
}

asio::awaitable<std::string> OnlineSource::fetch_network(const Url& url, clock::time_point deadline) {
  const std::string where = url.origin() + url.path;
  for (int attempt = 1;; ++attempt) {
    if (bucket_.enabled()) {
      auto wait = bucket_.take(1);
      if (wait > clock::duration::zero()) {
        if (clock::now() + wait >= deadline) {
          bucket_.give_back(1);  // not used: a caller that gives up must not push the next ones back
          throw error(errc::rate_limited, "client-side rate limit of " + std::to_string(opts_.rate_limit.requests_per_minute) +
                                              " requests/minute: the next slot for " + where + " is " +
                                              std::to_string(std::chrono::duration_cast<milliseconds>(wait).count()) +
                                              " ms away, after the deadline");
        }
        try {
          co_await async_sleep(wait);
        } catch (const Error& e) {
          bucket_.give_back(1);
          throw map_transport(url, e);
        }
      }
    }
    if (clock::now() >= deadline)
      throw error(errc::timeout, "deadline passed before attempt " + std::to_string(attempt) + " to reach " + where);
    std::optional<Error> failure;
    try {
      auto r = co_await http_->fetch("GET", url, headers(), {}, deadline, 32u << 20);
      if (r.head.status == 200) co_return std::move(r.body);
      failure = map_status(url, r);
    } catch (const Error& e) {
      failure = map_transport(url, e);
    }
    clock::duration wait{};
    if (auto give_up = plan_retry(*failure, attempt, opts_.retry, backoff_, deadline, wait)) throw *give_up;
    try {
      co_await async_sleep(wait);
    } catch (const Error& e) {
      throw map_transport(url, e);  // names the source and URL
    }
  }
}

asio::awaitable<void> OnlineSource::get_body(const std::string& target, const std::function<void(std::string_view)>& consume) {
  const std::string shown = base_ + target;
  Url url;
  try {
    url = Url::parse(shown);
  } catch (const Error& e) {
    throw error(errc::config, e.what());
  }
  const auto deadline = clock::now() + opts_.timeout;
  // Parse failures of our own consumer get the source and URL; an API error reported inside a
  // 200 body (arXiv) keeps its code.
  auto rethrow_named = [&](const Error& e) -> Error {
    std::string where = url.origin() + url.path;
    if (e.code_enum() == errc::parse) return Error(errc::parse, spec_.display + ": response from " + where + ": " + e.what());
    return Error(e.code_enum(), spec_.display + ": " + where + ": " + e.what(), redact(e.provider_text(), key_));
  };

  // Answers depend on the credential (private repositories, quotas): the key holds a digest of it
  // (never the credential itself), so a cache shared between tokens never mixes their answers.
  const std::string key = cache_ ? ResponseCache::key("GET", shown, spec_.accept + (key_.empty() ? std::string() : "\n" + ResponseCache::key("KEY", key_, ""))) : std::string();
  std::optional<ResponseCache::Entry> cached;
  if (cache_) cached = cache_->get(key);
  if (cached && cached->fresh) {
    try {
      consume(cached->body);
      co_return;
    } catch (const Error&) {
      // Parsed once, so it was stored by another version or damaged: ask the server again.
    }
    cache_->drop(key);
    cached.reset();
  }

  std::string body;
  std::optional<Error> failure;
  try {
    body = co_await fetch_network(url, deadline);
  } catch (const Error& e) {
    failure = e;
  } catch (const boost::system::system_error& e) {
    // Asio reports a cancelled coroutine this way; the contract is Error(errc::cancelled).
    if (e.code() != boost::asio::error::operation_aborted) throw;
    failure = error(errc::cancelled, "cancelled while asking " + url.origin() + url.path);
  }
  if (failure) {
    if (cached && opts_.cache.serve_stale_on_error && stale_ok(failure->code_enum())) {
      try {
        consume(cached->body);
        co_return;
      } catch (const Error&) {
        cache_->drop(key);
      }
    }
    throw *failure;
  }
  try {
    consume(body);
  } catch (const Error& e) {
    throw rethrow_named(e);
  }
  if (cache_) cache_->put(key, shown, body);
}

}  // namespace mlrc::detail
