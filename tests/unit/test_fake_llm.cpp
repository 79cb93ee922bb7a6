// The fake LLM server is what every network test stands on, so its own behaviour is checked here
// with plain Beast/Asio clients: replies, recording, keep-alive, chunked streams, faults, TLS, proxy.

#include "fake_llm.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <array>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace mlrc::test;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

tcp::endpoint local(unsigned short port) { return {asio::ip::make_address_v4("127.0.0.1"), port}; }

// Runs one client coroutine on a private io_context for at most `limit`; true if it finished.
bool run_bounded(asio::awaitable<void> client, std::chrono::seconds limit = 10s) {
  asio::io_context ioc;
  bool done = false;
  std::exception_ptr err;
  asio::co_spawn(ioc, std::move(client), [&](std::exception_ptr e) {
    done = true;
    err = e;
  });
  ioc.run_for(limit);
  if (err) std::rethrow_exception(err);
  return done;
}

Request make_request(http::verb verb, std::string target, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
  Request req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

struct Exchange {
  error_code ec;
  std::vector<Response> responses;
};

// Sends the requests one after another on `s` (keep-alive) and collects the responses.
template <class Stream>
asio::awaitable<void> exchange_on(Stream& s, std::vector<Request> reqs, Exchange& out) {
  beast::flat_buffer buf;
  for (auto& req : reqs) {
    auto [wec, wn] = co_await http::async_write(s, req, use_tuple);
    if (wec) {
      out.ec = wec;
      co_return;
    }
    Response res;
    auto [rec, rn] = co_await http::async_read(s, buf, res, use_tuple);
    if (rec) {
      out.ec = rec;
      co_return;
    }
    out.responses.push_back(std::move(res));
  }
}

asio::awaitable<void> exchange(unsigned short port, std::vector<Request> reqs, Exchange& out) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  auto ep = local(port);
  auto [cec] = co_await s.async_connect(ep, use_tuple);
  if (cec) {
    out.ec = cec;
    co_return;
  }
  co_await exchange_on(s, std::move(reqs), out);
}

asio::awaitable<void> tls_exchange(unsigned short port, ssl::context& ctx, std::string host, std::vector<Request> reqs,
                                   Exchange& out) {
  auto ex = co_await asio::this_coro::executor;
  ssl::stream<tcp::socket> s(ex, ctx);
  // SNI, as SSL_set_tlsext_host_name does (its macro uses a C cast that -Wold-style-cast flags).
  SSL_ctrl(s.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
  s.set_verify_callback(ssl::host_name_verification(host));
  auto ep = local(port);
  auto [cec] = co_await s.next_layer().async_connect(ep, use_tuple);
  if (cec) {
    out.ec = cec;
    co_return;
  }
  auto [hec] = co_await s.async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) {
    out.ec = hec;
    co_return;
  }
  co_await exchange_on(s, std::move(reqs), out);
}

struct Raw {
  error_code ec;      // how the read ended: eof, connection_reset, …
  std::string bytes;  // everything received before that
};

// Sends `request` verbatim and reads until the peer closes or the connection fails.
asio::awaitable<void> raw_exchange(unsigned short port, std::string request, Raw& out) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  auto ep = local(port);
  auto [cec] = co_await s.async_connect(ep, use_tuple);
  if (cec) {
    out.ec = cec;
    co_return;
  }
  auto [wec, wn] = co_await asio::async_write(s, asio::buffer(request), use_tuple);
  if (wec) {
    out.ec = wec;
    co_return;
  }
  std::array<char, 4096> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    out.bytes.append(buf.data(), n);
    if (ec) {
      out.ec = ec;
      co_return;
    }
  }
}

std::string raw_post(const std::string& target, const std::string& body, bool close) {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + body;
}

// Decodes a chunked body by hand, so the test sees the chunks exactly as framed on the wire.
struct Chunked {
  std::vector<std::string> chunks;
  bool terminated = false;  // saw the final "0\r\n\r\n"
};
Chunked decode_chunked(const std::string& raw) {
  Chunked out;
  std::size_t pos = raw.find("\r\n\r\n");
  REQUIRE(pos != std::string::npos);
  pos += 4;
  for (;;) {
    std::size_t eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) return out;
    const std::size_t size = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
    if (size == 0) {
      out.terminated = raw.compare(eol, 4, "\r\n\r\n") == 0;
      return out;
    }
    if (raw.size() < eol + 2 + size + 2) return out;  // truncated inside a chunk
    out.chunks.push_back(raw.substr(eol + 2, size));
    REQUIRE(raw.compare(eol + 2 + size, 2, "\r\n") == 0);
    pos = eol + 2 + size + 2;
  }
}

std::string head_of(const std::string& raw) { return raw.substr(0, raw.find("\r\n\r\n") + 2); }

const std::string kChatBody = R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})";

}  // namespace

TEST_CASE("fake server serves a queued reply and records the request", "[fake_llm]") {
  FakeLlmServer server;
  server.push(openai::text("hi there", {12, 3, 4}));
  std::vector<Request> reqs{make_request(http::verb::post, "/v1/chat/completions", kChatBody,
                                         {{"Authorization", "Bearer sk-test"}, {"X-Trace", "a"}})};
  Exchange out;
  REQUIRE(run_bounded(exchange(server.port(), reqs, out)));
  REQUIRE_FALSE(out.ec);
  REQUIRE(out.responses.size() == 1);
  const Response& res = out.responses[0];
  CHECK(res.result_int() == 200);
  CHECK(res[http::field::content_type] == "application/json");
  json::value v = json::parse(res.body());
  CHECK(v.at("object").as_string() == "chat.completion");
  CHECK(v.at("choices").at(0).at("message").at("content").as_string() == "hi there");
  CHECK(v.at("choices").at(0).at("finish_reason").as_string() == "stop");
  CHECK(v.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64() == 4);

  REQUIRE(server.request_count() == 1);
  const RecordedRequest rq = server.requests().at(0);
  CHECK(rq.method == "POST");
  CHECK(rq.target == "/v1/chat/completions");
  CHECK(rq.header("authorization") == "Bearer sk-test");
  CHECK(rq.header("x-trace") == "a");
  CHECK(rq.body == kChatBody);
  CHECK(server.connections_accepted() == 1);
  CHECK(server.base_url() == "http://127.0.0.1:" + std::to_string(server.port()));
}

TEST_CASE("fake server keeps the connection alive across requests", "[fake_llm]") {
  FakeLlmServer server;
  server.push(openai::text("one"));
  server.push(anthropic::text("two"));
  std::vector<Request> reqs{make_request(http::verb::post, "/v1/chat/completions", kChatBody),
                            make_request(http::verb::post, "/v1/messages", kChatBody),
                            make_request(http::verb::post, "/v1/chat/completions", kChatBody)};
  Exchange out;
  REQUIRE(run_bounded(exchange(server.port(), reqs, out)));
  REQUIRE_FALSE(out.ec);
  REQUIRE(out.responses.size() == 3);
  CHECK(out.responses[0].keep_alive());
  CHECK(json::parse(out.responses[0].body()).at("choices").at(0).at("message").at("content").as_string() == "one");
  CHECK(json::parse(out.responses[1].body()).at("content").at(0).at("text").as_string() == "two");
  // The queue is empty and there is no handler: a 500 with an error object, not a hang.
  CHECK(out.responses[2].result_int() == 500);
  CHECK(out.responses[2].body().find("no scripted reply") != std::string::npos);
  CHECK(server.request_count() == 3);
  CHECK(server.connections_accepted() == 1);
}

TEST_CASE("fake server streams SSE events as separate chunks", "[fake_llm]") {
  FakeLlmServer server;
  Reply reply = openai::stream_text({"Hel", "lo"}, {10, 2, 0}, 5ms);
  std::vector<std::string> expected;
  for (const auto& c : reply.chunks) expected.push_back(c.bytes);
  server.push(reply);

  Raw out;
  REQUIRE(run_bounded(raw_exchange(server.port(), raw_post("/v1/chat/completions", kChatBody, true), out)));
  CHECK(out.ec == asio::error::eof);
  const std::string head = head_of(out.bytes);
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(head.find("Content-Type: text/event-stream\r\n") != std::string::npos);
  CHECK(head.find("Cache-Control: no-cache\r\n") != std::string::npos);
  CHECK(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(head.find("Connection: close\r\n") != std::string::npos);

  const Chunked body = decode_chunked(out.bytes);
  CHECK(body.terminated);
  REQUIRE(body.chunks == expected);
  REQUIRE(body.chunks.size() == 6);  // role, "Hel", "lo", finish, usage, [DONE]
  CHECK(body.chunks[1].rfind("data: {", 0) == 0);
  CHECK(body.chunks.back() == "data: [DONE]\n\n");
  json::value usage_chunk = json::parse(body.chunks[4].substr(6));
  CHECK(usage_chunk.at("object").as_string() == "chat.completion.chunk");
  CHECK(usage_chunk.at("choices").as_array().empty());
  CHECK(usage_chunk.at("usage").at("completion_tokens").as_int64() == 2);
}

TEST_CASE("reset_after aborts the connection with a reset", "[fake_llm]") {
  FakeLlmServer server;
  Reply reply = openai::stream_text({"a ", "b ", "c"});
  reply.fault = Fault::reset_after;
  reply.fault_after = 2;
  server.push(reply);
  Raw out;
  REQUIRE(run_bounded(raw_exchange(server.port(), raw_post("/v1/chat/completions", kChatBody, false), out)));
  CHECK(out.ec == asio::error::connection_reset);
  CHECK(out.bytes.find("[DONE]") == std::string::npos);
}

TEST_CASE("close_after leaves an unterminated chunked body", "[fake_llm]") {
  FakeLlmServer server;
  Reply reply = anthropic::stream({"a ", "b"});
  reply.fault = Fault::close_after;
  reply.fault_after = 3;
  server.push(reply);
  server.push(reply);

  Raw out;
  REQUIRE(run_bounded(raw_exchange(server.port(), raw_post("/v1/messages", kChatBody, false), out)));
  CHECK(out.ec == asio::error::eof);
  const Chunked body = decode_chunked(out.bytes);
  CHECK_FALSE(body.terminated);
  CHECK(body.chunks.size() == 3);

  // An HTTP client sees a truncated message, not a complete one.
  std::vector<Request> reqs{make_request(http::verb::post, "/v1/messages", kChatBody)};
  Exchange ex;
  REQUIRE(run_bounded(exchange(server.port(), reqs, ex)));
  CHECK(ex.responses.empty());
  CHECK((ex.ec == http::error::partial_message || ex.ec == asio::error::eof));
}

TEST_CASE("fake server speaks TLS with the test PKI", "[fake_llm]") {
  const TestPki pki = make_test_pki();
  REQUIRE(pki.ca_cert_pem.find("BEGIN CERTIFICATE") != std::string::npos);
  REQUIRE(pki.leaf_key_pem.find("PRIVATE KEY") != std::string::npos);
  FakeLlmServer::Options opts;
  opts.tls = TlsConfig{pki.leaf_cert_pem, pki.leaf_key_pem};
  FakeLlmServer server(opts);
  CHECK(server.base_url().rfind("https://127.0.0.1:", 0) == 0);
  server.push(openai::text("secure"));

  ssl::context trusting(ssl::context::tls_client);
  trusting.add_certificate_authority(asio::buffer(pki.ca_cert_pem));
  trusting.set_verify_mode(ssl::verify_peer);
  std::vector<Request> reqs{make_request(http::verb::post, "/v1/chat/completions", kChatBody)};
  Exchange good;
  REQUIRE(run_bounded(tls_exchange(server.port(), trusting, "localhost", reqs, good)));
  REQUIRE_FALSE(good.ec);
  REQUIRE(good.responses.size() == 1);
  CHECK(json::parse(good.responses[0].body()).at("choices").at(0).at("message").at("content").as_string() == "secure");

  // Without the CA the certificate must not verify.
  ssl::context untrusting(ssl::context::tls_client);
  untrusting.set_verify_mode(ssl::verify_peer);
  Exchange bad;
  REQUIRE(run_bounded(tls_exchange(server.port(), untrusting, "localhost", reqs, bad)));
  CHECK(bad.ec);
  CHECK(bad.responses.empty());
  CHECK(server.request_count() == 1);
}

TEST_CASE("scripted handler answers in the Anthropic format", "[fake_llm]") {
  ScriptedTurn turn;
  turn.text = "Hello world";
  turn.input_tokens = 30;
  turn.cached_tokens = 10;
  turn.output_tokens = 2;
  FakeLlmServer server;
  server.set_handler(scripted_handler({turn}, false, "k"));
  const std::string stream_body = R"({"model":"claude-x","stream":true,"max_tokens":10,"messages":[]})";
  std::vector<Request> reqs{
      make_request(http::verb::post, "/v1/messages", kChatBody, {{"x-api-key", "wrong"}, {"anthropic-version", "2023-06-01"}}),
      make_request(http::verb::get, "/v1/models", "", {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}}),
      make_request(http::verb::post, "/v1/messages", stream_body, {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}}),
      make_request(http::verb::post, "/v1/messages", kChatBody, {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}})};
  Exchange out;
  REQUIRE(run_bounded(exchange(server.port(), reqs, out)));
  REQUIRE_FALSE(out.ec);
  REQUIRE(out.responses.size() == 4);

  CHECK(out.responses[0].result_int() == 401);
  json::value err = json::parse(out.responses[0].body());
  CHECK(err.at("type").as_string() == "error");
  CHECK(err.at("error").at("type").as_string() == "authentication_error");

  CHECK(json::parse(out.responses[1].body()).at("data").at(0).at("id").as_string() == "claude-test");

  const Response& sse = out.responses[2];
  CHECK(sse[http::field::content_type] == "text/event-stream");
  const std::string& events = sse.body();
  CHECK(events.rfind("event: message_start\ndata: ", 0) == 0);
  CHECK(events.find(R"("model":"claude-x")") != std::string::npos);
  CHECK(events.find(R"("input_tokens":20)") != std::string::npos);
  CHECK(events.find(R"("cache_read_input_tokens":10)") != std::string::npos);
  CHECK(events.find(R"({"type":"text_delta","text":"Hello "})") != std::string::npos);
  CHECK(events.find(R"({"type":"text_delta","text":"world"})") != std::string::npos);
  CHECK(events.find(R"("stop_reason":"end_turn")") != std::string::npos);
  const std::string stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  CHECK(events.size() > stop.size());
  CHECK(events.compare(events.size() - stop.size(), stop.size(), stop) == 0);

  CHECK(out.responses[3].result_int() == 500);  // the script ran out
  CHECK(server.request_count() == 4);
}

TEST_CASE("fake server stops promptly with a stalled connection", "[fake_llm]") {
  auto server = std::make_unique<FakeLlmServer>();
  Reply reply = openai::text("late");
  reply.fault = Fault::no_response;
  reply.stall_for = 60s;
  server->push(reply);

  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(local(server->port()));
  asio::write(s, asio::buffer(raw_post("/v1/chat/completions", kChatBody, false)));
  for (int i = 0; i < 1000 && server->request_count() == 0; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(server->request_count() == 1);

  const auto t0 = std::chrono::steady_clock::now();
  server.reset();
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // not the 60 s stall

  error_code rec = asio::error::would_block;
  std::array<char, 64> b;
  s.async_read_some(asio::buffer(b), [&](error_code ec, std::size_t) { rec = ec; });
  ioc.run_for(5s);
  CHECK(rec == asio::error::eof);  // closed, without a response
}

TEST_CASE("fake proxy forwards loopback requests and refuses others", "[fake_llm]") {
  FakeLlmServer server;
  server.set_handler(scripted_handler({}));
  FakeProxy proxy;
  const std::string origin = "127.0.0.1:" + std::to_string(server.port());

  Raw fwd;
  REQUIRE(run_bounded(
      raw_exchange(proxy.port(), "GET http://" + origin + "/v1/models HTTP/1.1\r\nHost: " + origin + "\r\n\r\n", fwd)));
  CHECK(fwd.bytes.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(fwd.bytes.find("gpt-test") != std::string::npos);

  Raw refused;
  REQUIRE(run_bounded(raw_exchange(proxy.port(), "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", refused)));
  CHECK(refused.bytes.rfind("HTTP/1.1 403 ", 0) == 0);

  // The tunnelled request follows the CONNECT head at once: it must reach the origin too.
  Raw tunnel;
  REQUIRE(run_bounded(raw_exchange(proxy.port(),
                                   "CONNECT " + origin + " HTTP/1.1\r\nHost: " + origin +
                                       "\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                   tunnel)));
  CHECK(tunnel.bytes.rfind("HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200 OK\r\n", 0) == 0);

  REQUIRE(server.request_count() == 2);
  CHECK(server.requests()[0].target == "/v1/models");
  CHECK(server.requests()[1].target == "/v1/models");
  const std::vector<std::string> expected{"GET http://" + origin + "/v1/models", "GET http://example.com/",
                                          "CONNECT " + origin};
  CHECK(proxy.targets() == expected);
}
