#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace mlrc::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string env(const char* upper, const char* low) {
  if (const char* v = std::getenv(upper); v && *v) return v;
  if (const char* v = std::getenv(low); v && *v) return v;
  return {};
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Maps a transport error to our error codes, naming what failed and where.
[[noreturn]] void fail(const boost::system::error_code& ec, std::string_view what, const Url& url) {
  std::string where = std::string(what) + " " + url.origin() + ": " + ec.message();
  if (ec == beast::error::timeout) throw Error(errc::timeout, "HTTP " + std::string(what) + " " + url.origin() + " timed out (deadline passed)");
  if (ec == asio::error::operation_aborted) throw Error(errc::cancelled, "HTTP request to " + url.origin() + " cancelled");
  if (ec.category() == asio::error::get_ssl_category() || ec == ssl::error::stream_truncated)
    throw Error(errc::tls, "TLS " + where);
  if (ec.category() == boost::system::error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message)
    throw Error(errc::protocol, "malformed HTTP response from " + url.origin() + ": " + ec.message());
  if (ec == http::error::partial_message)
    throw Error(errc::network, "connection to " + url.origin() + " closed mid-response (truncated body)");
  throw Error(errc::network, "HTTP " + where);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// URLs and proxies

std::string Url::authority() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}
std::string Url::origin() const { return scheme + "://" + authority(); }

Url Url::parse(std::string_view text) {
  auto r = boost::urls::parse_uri(text);
  if (!r) throw Error(errc::config, "not an absolute URL: '" + std::string(text) + "'");
  Url u;
  u.scheme = lower(r->scheme());
  if (u.scheme != "http" && u.scheme != "https")
    throw Error(errc::config, "URL '" + std::string(text) + "': scheme must be http or https");
  if (!r->has_authority() || r->encoded_host().empty())
    throw Error(errc::config, "URL '" + std::string(text) + "' has no host");
  u.host = r->host_type() == boost::urls::host_type::ipv6 ? std::string(r->host_ipv6_address().to_string())
                                                           : std::string(r->encoded_host());
  u.port = r->has_port() ? std::string(r->port()) : (u.tls() ? "443" : "80");
  u.path = std::string(r->encoded_path());
  if (u.path.empty()) u.path = "/";
  if (r->has_query()) u.path += "?" + std::string(r->encoded_query());
  return u;
}

Url Url::join(std::string_view base, std::string_view rel) {
  std::string b(base);
  while (!b.empty() && b.back() == '/') b.pop_back();
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  return parse(b + "/" + std::string(rel));
}

ProxySettings ProxySettings::from_env() {
  return {env("HTTPS_PROXY", "https_proxy"), env("HTTP_PROXY", "http_proxy"), env("NO_PROXY", "no_proxy")};
}

std::optional<Url> ProxySettings::proxy_for(const Url& url) const {
  const std::string& p = url.tls() ? https_proxy : http_proxy;
  if (p.empty()) return std::nullopt;
  std::string host = lower(url.host);
  std::string_view rest = no_proxy;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string item = lower(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    item.erase(std::remove_if(item.begin(), item.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }), item.end());
    if (item.empty()) continue;
    if (item == "*") return std::nullopt;
    if (auto colon = item.rfind(':'); colon != std::string::npos && item.find(']') == std::string::npos &&
                                      std::count(item.begin(), item.end(), ':') == 1) {
      if (item.substr(colon + 1) != url.port) continue;
      item.resize(colon);
    }
    if (!item.empty() && item.front() == '.') item.erase(0, 1);
    if (host == item || (host.size() > item.size() && host.ends_with(item) && host[host.size() - item.size() - 1] == '.'))
      return std::nullopt;
  }
  // "host:port" without a scheme is common in proxy variables.
  return Url::parse(p.find("://") == std::string::npos ? "http://" + p : p);
}

std::string HttpHead::get(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

// ---------------------------------------------------------------------------------------------
// Connections and the pool

namespace {
struct Conn {
  std::string key;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool via_http_proxy = false;  // plain http through a proxy: absolute-form targets
  clock::time_point idle_since{};
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};
}  // namespace

struct HttpClient::Impl {
  asio::any_io_executor ex;
  HttpClientOptions opts;
  ProxySettings proxy;
  ssl::context tls_ctx{ssl::context::tls_client};
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::atomic<std::size_t> opened{0};

  std::unique_ptr<Conn> take(const std::string& key) {
    std::lock_guard lk(mu);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto& v = it->second;
    while (!v.empty()) {
      auto c = std::move(v.back());
      v.pop_back();
      if (clock::now() - c->idle_since < opts.idle_keep) return c;
    }
    return nullptr;
  }
  void give_back(std::unique_ptr<Conn> c) {
    c->idle_since = clock::now();
    std::lock_guard lk(mu);
    auto& v = idle[c->key];
    if (v.size() < opts.max_idle_per_origin) v.push_back(std::move(c));
  }

  asio::awaitable<std::unique_ptr<Conn>> connect(const Url& url, clock::time_point deadline, HttpTiming& t);
  asio::awaitable<tcp::resolver::results_type> resolve_within(const Url& host, clock::time_point deadline);
};

namespace {

struct WaitTimer {
  HttpTiming& t;
  clock::time_point start = clock::now();
  ~WaitTimer() { t.network_wait += clock::now() - start; }
};

template <class Stream>
asio::awaitable<void> tunnel_connect(Stream& s, beast::flat_buffer& buf, const Url& proxy, const Url& target,
                                     clock::time_point deadline, HttpTiming& t) {
  http::request<http::empty_body> req{http::verb::connect, target.authority(), 11};
  req.set(http::field::host, target.authority());
  s.expires_at(deadline);
  {
    WaitTimer w{t};
    auto [ec, n] = co_await http::async_write(s, req, tuple_awaitable);
    if (ec) fail(ec, "proxy CONNECT to", proxy);
  }
  http::response_parser<http::empty_body> p;
  p.skip(true);  // a CONNECT 200 has no body
  WaitTimer w{t};
  auto [ec, n] = co_await http::async_read_header(s, buf, p, tuple_awaitable);
  if (ec) fail(ec, "proxy CONNECT to", proxy);
  if (p.get().result_int() != 200)
    throw Error(errc::network, "proxy " + proxy.origin() + " refused CONNECT " + target.authority() + ": HTTP " +
                                   std::to_string(p.get().result_int()));
}

}  // namespace

// getaddrinfo runs on the resolver's own thread and honours neither a deadline nor cancellation:
// the caller waits for it on a timer instead, and leaves a slow lookup behind at the deadline or
// when cancelled (the lookup finishes on its own; its state is shared).
asio::awaitable<tcp::resolver::results_type> HttpClient::Impl::resolve_within(const Url& host, clock::time_point deadline) {
  struct Pending {
    explicit Pending(const asio::any_io_executor& e) : resolver(e), signal(e) {}
    tcp::resolver resolver;
    asio::steady_timer signal;
    std::mutex mu;
    bool done = false;
    boost::system::error_code ec;
    tcp::resolver::results_type results;
  };
  auto st = std::make_shared<Pending>(ex);
  st->signal.expires_at(deadline);
  // The completion runs on this coroutine's executor (a strand per operation), so it cannot run
  // before the wait below is in place, nor concurrently with the timer's use here.
  auto here = co_await asio::this_coro::executor;
  st->resolver.async_resolve(host.host, host.port,
                             asio::bind_executor(here, [st](boost::system::error_code ec, tcp::resolver::results_type r) {
                               {
                                 std::lock_guard lk(st->mu);
                                 st->ec = ec;
                                 st->results = std::move(r);
                                 st->done = true;
                               }
                               st->signal.cancel();
                             }));
  auto [wait_ec] = co_await st->signal.async_wait(tuple_awaitable);
  std::lock_guard lk(st->mu);
  if (!st->done) {
    st->resolver.cancel();
    if (wait_ec == asio::error::operation_aborted) throw Error(errc::cancelled, "HTTP resolve " + host.origin() + " cancelled");
    throw Error(errc::timeout, "HTTP resolve " + host.origin() + " timed out (deadline passed)");
  }
  if (st->ec) fail(st->ec, "resolve", host);
  co_return std::move(st->results);
}

asio::awaitable<std::unique_ptr<Conn>> HttpClient::Impl::connect(const Url& url, clock::time_point deadline, HttpTiming& t) {
  auto c = std::make_unique<Conn>();
  c->key = url.origin();
  auto via = proxy.proxy_for(url);
  const Url& first_hop = via ? *via : url;
  if (via && via->tls()) throw Error(errc::unsupported, "proxy " + via->origin() + ": only http:// proxies are supported");

  tcp::resolver::results_type eps;
  {
    WaitTimer w{t};
    eps = co_await resolve_within(first_hop, deadline);
  }
  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);
  {
    WaitTimer w{t};
    auto [ec, ep] = co_await stream.async_connect(eps, tuple_awaitable);
    if (ec) fail(ec, "connect", first_hop);
  }
  stream.socket().set_option(tcp::no_delay(true));
  ++opened;
  if (via && url.tls()) co_await tunnel_connect(stream, c->buffer, *via, url, deadline, t);
  if (!url.tls()) {
    c->via_http_proxy = via.has_value();
    c->plain = std::make_unique<beast::tcp_stream>(std::move(stream));
    co_return c;
  }
  c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(stream), tls_ctx);
  auto* ssl_handle = c->tls->native_handle();
  if (!is_ip_literal(url.host) && !SSL_set_tlsext_host_name(ssl_handle, url.host.c_str()))
    throw Error(errc::tls, "TLS: cannot set SNI host name " + url.host);
  c->tls->set_verify_mode(ssl::verify_peer);
  c->tls->set_verify_callback(ssl::host_name_verification(url.host));
  beast::get_lowest_layer(*c->tls).expires_at(deadline);
  {
    WaitTimer w{t};
    auto [ec] = co_await c->tls->async_handshake(ssl::stream_base::client, tuple_awaitable);
    if (ec) {
      std::string detail = ec.message();
      long vr = SSL_get_verify_result(ssl_handle);
      if (vr != X509_V_OK) detail = std::string("certificate verification failed: ") + X509_verify_cert_error_string(vr);
      if (ec == beast::error::timeout || ec == asio::error::operation_aborted) fail(ec, "TLS handshake with", url);
      throw Error(errc::tls, "TLS handshake with " + url.origin() + " failed: " + detail);
    }
  }
  co_return c;
}

HttpClient::HttpClient(asio::any_io_executor ex, HttpClientOptions opts) : impl_(std::make_shared<Impl>()) {
  impl_->ex = std::move(ex);
  impl_->proxy = opts.proxy ? *opts.proxy : ProxySettings::from_env();
  impl_->opts = std::move(opts);
  boost::system::error_code ec;
  impl_->tls_ctx.set_default_verify_paths(ec);
  if (!impl_->opts.ca_file.empty()) {
    impl_->tls_ctx.load_verify_file(impl_->opts.ca_file, ec);
    if (ec) throw Error(errc::config, "cannot load CA file '" + impl_->opts.ca_file + "': " + ec.message());
  }
  impl_->tls_ctx.set_verify_mode(ssl::verify_peer);
}

HttpClient::~HttpClient() = default;

std::size_t HttpClient::connections_opened() const noexcept { return impl_->opened; }

namespace {

template <class Stream>
asio::awaitable<bool> exchange(Stream& s, Conn& c, const http::request<http::string_body>& req, const Url& url,
                               clock::time_point deadline, HttpTiming& t, bool reused,
                               const std::function<void(const HttpHead&)>& on_head,
                               const std::function<void(std::string_view)>& on_body, bool& keep_alive) {
  beast::get_lowest_layer(s).expires_at(deadline);
  {
    WaitTimer w{t};
    auto [ec, n] = co_await http::async_write(s, req, tuple_awaitable);
    if (ec) {
      if (reused && ec != beast::error::timeout && ec != asio::error::operation_aborted) co_return false;  // stale keep-alive: retry fresh
      fail(ec, "send to", url);
    }
  }
  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  if (req.method() == http::verb::head) p.skip(true);
  {
    WaitTimer w{t};
    auto [ec, n] = co_await http::async_read_header(s, c.buffer, p, tuple_awaitable);
    if (ec) {
      // The server closed an idle pooled connection just as we used it: nothing was delivered.
      if (reused && (ec == http::error::end_of_stream || ec == asio::error::connection_reset || ec == asio::error::eof))
        co_return false;
      fail(ec, "reading response from", url);
    }
  }
  HttpHead head;
  head.status = static_cast<int>(p.get().result_int());
  for (auto& f : p.get()) head.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
  on_head(head);
  char buf[8192];
  while (!p.is_done()) {
    p.get().body().data = buf;
    p.get().body().size = sizeof buf;
    boost::system::error_code ec;
    {
      WaitTimer w{t};
      auto [e, n] = co_await http::async_read(s, c.buffer, p, tuple_awaitable);
      ec = e;
    }
    if (ec == http::error::need_buffer) ec = {};
    std::size_t got = sizeof buf - p.get().body().size;
    if (got) on_body(std::string_view(buf, got));
    if (ec) fail(ec, "reading response body from", url);
  }
  keep_alive = p.get().keep_alive();
  co_return true;
}

}  // namespace

asio::awaitable<void> HttpClient::send(std::string_view method, const Url& url, const Headers& headers, std::string body,
                                       clock::time_point deadline, std::function<void(const HttpHead&)> on_head,
                                       std::function<void(std::string_view)> on_body, HttpTiming* timing) {
  auto impl = impl_;  // keep the pool alive while we use it
  HttpTiming local;
  HttpTiming& t = timing ? *timing : local;
  http::request<http::string_body> req;
  req.method(http::string_to_verb(method));
  if (req.method() == http::verb::unknown) throw Error(errc::invalid_argument, "unknown HTTP method '" + std::string(method) + "'");
  req.version(11);
  req.set(http::field::host, url.port == (url.tls() ? "443" : "80") ? url.host : url.authority());
  req.set(http::field::user_agent, "mlrcopilot/0.1");
  for (auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  req.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    auto c = attempt == 0 ? impl->take(url.origin()) : nullptr;
    bool reused = c != nullptr;
    t.reused_connection = reused;
    if (!c) c = co_await impl->connect(url, deadline, t);
    req.target(c->via_http_proxy ? url.origin() + url.path : url.path);
    bool keep_alive = false;
    bool ok = c->tls ? co_await exchange(*c->tls, *c, req, url, deadline, t, reused, on_head, on_body, keep_alive)
                     : co_await exchange(*c->plain, *c, req, url, deadline, t, reused, on_head, on_body, keep_alive);
    if (!ok) continue;  // stale pooled connection; the next attempt opens a fresh one
    if (keep_alive) impl->give_back(std::move(c));
    co_return;
  }
}

asio::awaitable<HttpClient::Buffered> HttpClient::fetch(std::string_view method, const Url& url, const Headers& headers,
                                                        std::string body, clock::time_point deadline, std::size_t max_body) {
  Buffered out;
  co_await send(
      method, url, headers, std::move(body), deadline, [&](const HttpHead& h) { out.head = h; },
      [&](std::string_view piece) {
        if (out.body.size() + piece.size() > max_body)
          throw Error(errc::protocol, "response from " + url.origin() + " is larger than " + std::to_string(max_body) + " bytes");
        out.body.append(piece);
      });
  co_return out;
}

}  // namespace mlrc::detail
