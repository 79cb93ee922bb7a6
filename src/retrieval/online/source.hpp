#pragma once
// What every online source shares: its HTTP client, the GET with deadline, retries, rate limit,
// response cache and error mapping. The public classes in online.hpp are thin: they build a
// target with retrieval/online/apis.hpp, call `get`, and parse.
#include <mlrcopilot/error.hpp>  // first: declares mlrc::detail (see error.hpp)
#include "net/http_client.hpp"
#include "net/retry.hpp"
#include "retrieval/online/cache.hpp"

#include <mlrcopilot/online.hpp>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlrc::detail {

// How to talk to one API.
struct SourceSpec {
  std::string name;          // "s2"
  std::string display;       // "semantic scholar": starts every error message
  std::string default_base;  // "https://api.semanticscholar.org"
  std::string url_env;       // "MLRC_S2_URL"
  std::vector<std::string> key_envs{};  // "S2_API_KEY", …
  enum class KeyHeader { none, x_api_key, bearer } key_header = KeyHeader::none;
  std::string accept = "application/json";
  std::vector<std::pair<std::string, std::string>> extra_headers{};
  std::vector<Corpus> corpora{};
};

class OnlineSource {
 public:
  OnlineSource(boost::asio::any_io_executor ex, SourceSpec spec, OnlineOptions opts);

  const SourceSpec& spec() const noexcept { return spec_; }
  const std::string& base() const noexcept { return base_; }
  const std::string& key() const noexcept { return key_; }
  const OnlineOptions& options() const noexcept { return opts_; }

  // GETs base + target and parses the body with `parse`; the parse result is returned. Order:
  // a fresh cache entry that parses; else the network (rate limit, retries by the policy, all
  // within options().timeout); on failure a stale cache entry when allowed. A body that does not
  // parse throws Error(errc::parse) "<display>: response from <url>: <what>". Cached bodies are
  // only stored after they parsed.
  template <class T>
  boost::asio::awaitable<T> get(const std::string& target, std::function<T(std::string_view)> parse) {
    std::optional<T> out;
    co_await get_body(target, [&](std::string_view body) { out.emplace(parse(body)); });
    co_return std::move(*out);
  }

  // The non-template part of `get`: `consume` parses a body and throws if it cannot.
  boost::asio::awaitable<void> get_body(const std::string& target, const std::function<void(std::string_view)>& consume);

  // "<display>: " + message, for errors raised by the clients themselves.
  Error error(errc code, const std::string& message) const;

 private:
  boost::asio::awaitable<std::string> fetch_network(const Url& url, std::chrono::steady_clock::time_point deadline);
  Error map_status(const Url& url, const HttpClient::Buffered& r) const;
  Error map_transport(const Url& url, const Error& e) const;
  Headers headers() const;

  SourceSpec spec_;
  OnlineOptions opts_;
  std::string base_, key_;
  std::shared_ptr<HttpClient> http_;
  std::optional<ResponseCache> cache_;
  Backoff backoff_;
  TokenBucket bucket_;
};

}  // namespace mlrc::detail
