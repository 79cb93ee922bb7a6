#pragma once
// A small async HTTP/1.1 client over Boost.Beast for the providers: plain HTTP and HTTPS (peer
// and host-name verification against the system store or a given CA file), keep-alive connection
// reuse, HTTPS_PROXY/HTTP_PROXY/NO_PROXY, an absolute deadline per request and asio per-operation
// cancellation. Bodies are delivered piecewise as they arrive, so SSE streams are parsed
// incrementally. Beast stays inside this module's .cpp: nothing here includes it.

#include <mlrcopilot/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlrc::detail {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  std::string port;    // always set (defaults 80/443)
  std::string path;    // origin-form target incl. query, at least "/"
  bool tls() const noexcept { return scheme == "https"; }
  std::string authority() const;  // host:port (IPv6 bracketed)
  std::string origin() const;     // scheme://host:port
  // Throws Error(errc::config) naming the text when it is not an absolute http(s) URL.
  static Url parse(std::string_view text);
  // `base` + `rel` where base is like "https://api.openai.com/v1" and rel "chat/completions".
  static Url join(std::string_view base, std::string_view rel);
};

// Proxy settings in the curl convention: HTTPS_PROXY/https_proxy for https URLs,
// HTTP_PROXY/http_proxy for http URLs, NO_PROXY/no_proxy a comma list of hosts, domain suffixes
// (".example.com" or "example.com"), host:port, or "*".
struct ProxySettings {
  std::string https_proxy;
  std::string http_proxy;
  std::string no_proxy;
  static ProxySettings from_env();
  // The proxy to use for `url`, if any.
  std::optional<Url> proxy_for(const Url& url) const;
};

struct HttpClientOptions {
  std::string ca_file;            // extra PEM CA bundle; the system store is always trusted too
  std::optional<ProxySettings> proxy;  // unset: read the environment
  std::size_t max_idle_per_origin = 1024;
  std::chrono::seconds idle_keep{60};  // drop pooled connections idle longer than this
};

struct HttpHead {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string get(std::string_view lower_name) const;
};

// Where a request's time went; the providers use it to report library overhead.
struct HttpTiming {
  std::chrono::steady_clock::duration network_wait{0};  // awaiting resolve/connect/handshake/read/write
  bool reused_connection = false;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// Thread-safety: `send` may be called concurrently from any number of coroutines; the pool is
// guarded by a mutex. The client must outlive the requests in flight.
class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor ex, HttpClientOptions opts = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request. `on_head` runs once when the status line and headers arrive; `on_body`
  // for each piece of body as it arrives. Returns when the body is complete. Throws
  // Error(network | tls | timeout | cancelled | protocol) with a message naming the host.
  // Exceptions from the callbacks propagate (the connection is then discarded).
  boost::asio::awaitable<void> send(std::string_view method, const Url& url, const Headers& headers,
                                    std::string body, std::chrono::steady_clock::time_point deadline,
                                    std::function<void(const HttpHead&)> on_head,
                                    std::function<void(std::string_view)> on_body, HttpTiming* timing = nullptr);

  struct Buffered {
    HttpHead head;
    std::string body;
  };
  // Convenience: the whole body in memory, at most `max_body` bytes (Error(protocol) beyond).
  boost::asio::awaitable<Buffered> fetch(std::string_view method, const Url& url, const Headers& headers,
                                         std::string body, std::chrono::steady_clock::time_point deadline,
                                         std::size_t max_body = 64u << 20);

  std::size_t connections_opened() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mlrc::detail
