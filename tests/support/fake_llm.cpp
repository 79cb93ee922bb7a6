// The loopback fake LLM server, its reply builders, the forward proxy and the test PKI.
// Responses are written by hand (status line, headers, chunk framing) rather than through Beast's
// serializer: that is what lets a fault land exactly between two chunks, or between two bytes.

#include "fake_llm.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace mlrc::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using ms = std::chrono::milliseconds;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::atomic<std::uint64_t> g_seq{0};
std::string next_id(const char* prefix) { return prefix + std::to_string(++g_seq); }
std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::pair<std::string, std::string>> sse_headers() {
  return {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
}

Reply sse_reply(std::vector<Chunk> chunks) {
  Reply r;
  r.headers = sse_headers();
  r.chunked = true;
  r.chunks = std::move(chunks);
  return r;
}

// Fragments of at most `piece` bytes (0: one fragment); an empty string gives no fragments.
std::vector<std::string> fragments(const std::string& s, std::size_t piece) {
  std::vector<std::string> out;
  const std::size_t step = piece ? piece : std::max<std::size_t>(1, s.size());
  for (std::size_t off = 0; off < s.size(); off += step) out.push_back(s.substr(off, step));
  return out;
}

}  // namespace

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  auto space = [&](std::size_t j) { return std::isspace(static_cast<unsigned char>(text[j])) != 0; };
  for (std::size_t i = 0, j = 0; i < text.size(); i = j) {
    while (j < text.size() && space(j)) ++j;  // leading blanks (only possible in the first piece)
    while (j < text.size() && !space(j)) ++j;
    while (j < text.size() && space(j)) ++j;  // a word carries its trailing blanks, like real tokens
    out.push_back(text.substr(i, j - i));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reply

Reply Reply::body(int status, std::string content_type, std::string body) {
  Reply r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::move(content_type));
  r.chunks.push_back(Chunk{std::move(body), ms{0}});
  return r;
}

Reply Reply::sse(std::vector<std::string> event_blocks, std::chrono::milliseconds delay) {
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < event_blocks.size(); ++i) chunks.push_back(Chunk{std::move(event_blocks[i]), i ? delay : ms{0}});
  return sse_reply(std::move(chunks));
}

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions

namespace openai {
namespace {

json::object usage_obj(const Usage& u) {
  return {{"prompt_tokens", u.prompt},
          {"completion_tokens", u.completion},
          {"total_tokens", u.prompt + u.completion},
          {"prompt_tokens_details", {{"cached_tokens", u.cached}, {"audio_tokens", 0}}},
          {"completion_tokens_details", {{"reasoning_tokens", 0}, {"audio_tokens", 0}}}};
}

json::object chunk_obj(const std::string& id, std::int64_t created, const std::string& model) {
  return {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
          {"system_fingerprint", "fp_fake"}};
}

// The general stream: text pieces, then tool calls (as the real API orders them), finish, usage.
Reply stream_reply(const std::vector<std::string>& pieces, const std::vector<ToolCallOut>& calls, std::size_t arg_piece,
                   const Usage& u, ms delay, const std::string& model) {
  const std::string id = next_id("chatcmpl-fake");
  const std::int64_t created = now_s();
  std::vector<Chunk> chunks;
  auto add = [&](json::object delta, json::value finish, ms d) {
    json::object c = chunk_obj(id, created, model);
    json::object choice{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}};
    c["choices"] = json::array{std::move(choice)};
    c["usage"] = nullptr;  // with include_usage every chunk but the last carries "usage": null
    chunks.push_back(Chunk{data_block(json::serialize(c)), d});
  };
  json::object role{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}};
  if (!calls.empty() && pieces.empty()) role["content"] = nullptr;
  add(std::move(role), nullptr, ms{0});
  for (const auto& p : pieces) add(json::object{{"content", p}}, nullptr, delay);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const auto& call = calls[i];
    const auto index = static_cast<std::int64_t>(i);
    // First delta of a call: index, id, type, name and empty arguments; then argument fragments.
    json::object first{{"index", index}, {"id", call.id.empty() ? next_id("call_fake") : call.id}, {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", ""}}}};
    add(json::object{{"tool_calls", json::array{std::move(first)}}}, nullptr, delay);
    for (const auto& frag : fragments(call.arguments, arg_piece)) {
      json::object more{{"index", index}, {"function", {{"arguments", frag}}}};
      add(json::object{{"tool_calls", json::array{std::move(more)}}}, nullptr, delay);
    }
  }
  add(json::object{}, json::value(calls.empty() ? "stop" : "tool_calls"), ms{0});
  json::object last = chunk_obj(id, created, model);
  last["choices"] = json::array{};
  last["usage"] = usage_obj(u);
  chunks.push_back(Chunk{data_block(json::serialize(last)), ms{0}});
  chunks.push_back(Chunk{data_block("[DONE]"), ms{0}});
  return sse_reply(std::move(chunks));
}

}  // namespace

std::string completion_json(const std::string& text, Usage u, const std::vector<ToolCallOut>& calls,
                            const std::string& model) {
  json::object msg{{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
  if (!calls.empty()) {
    if (text.empty()) msg["content"] = nullptr;
    json::array tcs;
    for (const auto& c : calls)
      tcs.push_back(json::object{{"id", c.id.empty() ? next_id("call_fake") : c.id},
                                 {"type", "function"},
                                 {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    msg["tool_calls"] = std::move(tcs);
  }
  json::object choice{{"index", 0}, {"message", std::move(msg)}, {"logprobs", nullptr},
                      {"finish_reason", calls.empty() ? "stop" : "tool_calls"}};
  json::object o{{"id", next_id("chatcmpl-fake")}, {"object", "chat.completion"}, {"created", now_s()}, {"model", model},
                 {"system_fingerprint", "fp_fake"}};
  o["choices"] = json::array{std::move(choice)};
  o["usage"] = usage_obj(u);
  return json::serialize(o);
}

Reply text(const std::string& text, Usage u) { return Reply::json(200, completion_json(text, u)); }
Reply tool_calls(const std::vector<ToolCallOut>& calls, Usage u) { return Reply::json(200, completion_json("", u, calls)); }

Reply stream_text(const std::vector<std::string>& pieces, Usage u, std::chrono::milliseconds delay) {
  return stream_reply(pieces, {}, 0, u, delay, "gpt-test");
}
Reply stream_tool_calls(const std::vector<ToolCallOut>& calls, std::size_t arg_piece, Usage u) {
  return stream_reply({}, calls, arg_piece, u, ms{0}, "gpt-test");
}

Reply error(int status, const std::string& type, const std::string& message, const std::string& code) {
  json::object e{{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!code.empty()) e["code"] = code;
  return Reply::json(status, json::serialize(json::object{{"error", std::move(e)}}));
}
Reply error(int status, const std::string& type, const std::string& message) { return error(status, type, message, ""); }

std::string data_block(const std::string& payload) { return "data: " + payload + "\n\n"; }

}  // namespace openai

// ---------------------------------------------------------------------------------------------
// Anthropic Messages

namespace anthropic {
namespace {

json::object usage_obj(const Usage& u, std::int64_t output) {
  return {{"input_tokens", u.input}, {"cache_creation_input_tokens", u.cache_write},
          {"cache_read_input_tokens", u.cache_read}, {"output_tokens", output}};
}

// Tool input as a JSON value; text that is not JSON stays a string, so tests can send bad input.
json::value tool_input(const std::string& s) {
  if (s.empty()) return json::object{};
  error_code ec;
  json::value v = json::parse(s, ec);
  return ec ? json::value(s) : v;
}

const char* stop_reason(const std::vector<ToolUseOut>& uses) { return uses.empty() ? "end_turn" : "tool_use"; }

Reply stream_reply(const std::vector<std::string>& pieces, const std::vector<ToolUseOut>& uses, const Usage& u, ms delay,
                   std::size_t arg_piece, const std::string& model) {
  std::vector<Chunk> chunks;
  auto add = [&](const char* name, const json::object& data, ms d) {
    chunks.push_back(Chunk{event_block(name, json::serialize(data)), d});
  };
  json::object msg{{"id", next_id("msg_fake")}, {"type", "message"}, {"role", "assistant"}, {"model", model},
                   {"content", json::array{}}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                   {"usage", usage_obj(u, std::min<std::int64_t>(1, u.output))}};
  add("message_start", {{"type", "message_start"}, {"message", std::move(msg)}}, ms{0});
  add("ping", {{"type", "ping"}}, ms{0});
  std::int64_t index = 0;
  if (!pieces.empty() || uses.empty()) {
    add("content_block_start",
        {{"type", "content_block_start"}, {"index", index}, {"content_block", {{"type", "text"}, {"text", ""}}}}, ms{0});
    for (const auto& p : pieces)
      add("content_block_delta",
          {{"type", "content_block_delta"}, {"index", index}, {"delta", {{"type", "text_delta"}, {"text", p}}}}, delay);
    add("content_block_stop", {{"type", "content_block_stop"}, {"index", index}}, ms{0});
    ++index;
  }
  for (const auto& use : uses) {
    json::object block{{"type", "tool_use"}, {"id", use.id.empty() ? next_id("toolu_fake") : use.id},
                       {"name", use.name}, {"input", json::object{}}};
    add("content_block_start", {{"type", "content_block_start"}, {"index", index}, {"content_block", std::move(block)}},
        ms{0});
    for (const auto& frag : fragments(use.input_json, arg_piece))
      add("content_block_delta",
          {{"type", "content_block_delta"}, {"index", index},
           {"delta", {{"type", "input_json_delta"}, {"partial_json", frag}}}},
          delay);
    add("content_block_stop", {{"type", "content_block_stop"}, {"index", index}}, ms{0});
    ++index;
  }
  add("message_delta",
      {{"type", "message_delta"},
       {"delta", {{"stop_reason", stop_reason(uses)}, {"stop_sequence", nullptr}}},
       {"usage", {{"output_tokens", u.output}}}},
      ms{0});
  add("message_stop", {{"type", "message_stop"}}, ms{0});
  return sse_reply(std::move(chunks));
}

}  // namespace

std::string message_json(const std::string& text, Usage u, const std::vector<ToolUseOut>& uses, const std::string& model) {
  json::array content;
  if (!text.empty() || uses.empty()) content.push_back(json::object{{"type", "text"}, {"text", text}});
  for (const auto& use : uses)
    content.push_back(json::object{{"type", "tool_use"}, {"id", use.id.empty() ? next_id("toolu_fake") : use.id},
                                   {"name", use.name}, {"input", tool_input(use.input_json)}});
  json::object o{{"id", next_id("msg_fake")}, {"type", "message"}, {"role", "assistant"}, {"model", model}};
  o["content"] = std::move(content);
  o["stop_reason"] = stop_reason(uses);
  o["stop_sequence"] = nullptr;
  o["usage"] = usage_obj(u, u.output);
  return json::serialize(o);
}

Reply text(const std::string& text, Usage u) { return Reply::json(200, message_json(text, u)); }
Reply tool_use(const std::vector<ToolUseOut>& uses, const std::string& text, Usage u) {
  return Reply::json(200, message_json(text, u, uses));
}

Reply stream(const std::vector<std::string>& text_pieces, const std::vector<ToolUseOut>& uses, Usage u,
             std::chrono::milliseconds delay, std::size_t arg_piece) {
  return stream_reply(text_pieces, uses, u, delay, arg_piece, "claude-test");
}

namespace {
std::string error_body(const std::string& type, const std::string& message) {
  return json::serialize(json::object{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}});
}
}  // namespace

Reply error(int status, const std::string& type, const std::string& message) {
  return Reply::json(status, error_body(type, message));
}
std::string error_event(const std::string& type, const std::string& message) {
  return event_block("error", error_body(type, message));
}
std::string event_block(const std::string& name, const std::string& payload) {
  return "event: " + name + "\ndata: " + payload + "\n\n";
}

}  // namespace anthropic

// ---------------------------------------------------------------------------------------------
// scripted_handler

namespace {

std::string anthropic_error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}
std::string openai_error_type(int status) {
  if (status == 429) return "requests";
  return status >= 500 ? "server_error" : "invalid_request_error";
}
std::string openai_error_code(int status) {
  if (status == 401) return "invalid_api_key";
  if (status == 429) return "rate_limit_exceeded";
  return {};
}

}  // namespace

std::function<Reply(const RecordedRequest&)> scripted_handler(std::vector<ScriptedTurn> turns, bool loop,
                                                               std::string required_key) {
  struct State {
    std::mutex m;
    std::vector<ScriptedTurn> turns;
    std::size_t next = 0;
  };
  auto st = std::make_shared<State>();
  st->turns = std::move(turns);
  return [st, loop, key = std::move(required_key)](const RecordedRequest& rq) -> Reply {
    const std::string path = rq.target.substr(0, rq.target.find('?'));
    const bool oa_chat = ends_with(path, "/chat/completions");
    const bool messages = ends_with(path, "/messages");
    const bool anthropic_headers = !rq.header("anthropic-version").empty() || !rq.header("x-api-key").empty();
    const bool anth = messages || (!oa_chat && anthropic_headers);
    auto fail = [&](int status, const std::string& message) {
      return anth ? anthropic::error(status, anthropic_error_type(status), message)
                  : openai::error(status, openai_error_type(status), message, openai_error_code(status));
    };

    if (!key.empty() && rq.header("authorization") != "Bearer " + key && rq.header("x-api-key") != key)
      return anth ? anthropic::error(401, "authentication_error", "invalid x-api-key")
                  : fail(401, "Incorrect API key provided.");

    if (rq.method == "GET" && ends_with(path, "/models")) {
      json::object list;
      if (anth) {
        list = {{"data", json::array{json::object{{"type", "model"}, {"id", "claude-test"}, {"display_name", "Claude Test"},
                                                  {"created_at", "2025-01-01T00:00:00Z"}}}},
                {"has_more", false}, {"first_id", "claude-test"}, {"last_id", "claude-test"}};
      } else {
        list = {{"object", "list"},
                {"data", json::array{json::object{{"id", "gpt-test"}, {"object", "model"}, {"created", 0}, {"owned_by", "fake"}}}}};
      }
      return Reply::json(200, json::serialize(list));
    }
    if (rq.method != "POST" || !(oa_chat || messages)) return fail(404, "fake server: unknown endpoint " + rq.method + " " + path);

    bool stream = false;
    std::string model = anth ? "claude-test" : "gpt-test";
    {
      error_code ec;
      json::value body = json::parse(rq.body, ec);
      if (ec || !body.is_object()) return fail(400, "fake server: request body is not a JSON object");
      if (auto* s = body.as_object().if_contains("stream"); s && s->is_bool()) stream = s->get_bool();
      if (auto* m = body.as_object().if_contains("model"); m && m->is_string()) model = std::string(m->get_string());
    }

    ScriptedTurn t;
    {
      std::lock_guard lk(st->m);
      if (st->next >= st->turns.size() && loop) st->next = 0;
      if (st->next >= st->turns.size()) return fail(500, "fake server: no more scripted turns");
      t = st->turns[st->next++];
    }

    if (t.status != 200) {
      const std::string message = t.error_message.empty() ? "fake error " + std::to_string(t.status) : t.error_message;
      Reply r = anth ? anthropic::error(t.status, t.error_type.empty() ? anthropic_error_type(t.status) : t.error_type, message)
                     : openai::error(t.status, t.error_type.empty() ? openai_error_type(t.status) : t.error_type, message,
                                     openai_error_code(t.status));
      if (!t.retry_after.empty()) r.headers.emplace_back("Retry-After", t.retry_after);
      return r;
    }

    if (anth) {
      // Anthropic reports cache reads and writes apart from input_tokens; the turn counts all prompt tokens.
      const anthropic::Usage u{std::max<std::int64_t>(0, t.input_tokens - t.cached_tokens - t.cache_write_tokens),
                               t.output_tokens, t.cached_tokens, t.cache_write_tokens};
      std::vector<anthropic::ToolUseOut> uses;
      for (const auto& c : t.tool_calls) uses.push_back({c.id, c.name, c.arguments});
      if (stream) return anthropic::stream_reply(split_words(t.text), uses, u, t.token_delay, 7, model);
      return Reply::json(200, anthropic::message_json(t.text, u, uses, model));
    }
    const openai::Usage u{t.input_tokens, t.output_tokens, t.cached_tokens};
    if (stream) return openai::stream_reply(split_words(t.text), t.tool_calls, 7, u, t.token_delay, model);
    return Reply::json(200, openai::completion_json(t.text, u, t.tool_calls, model));
  };
}

// ---------------------------------------------------------------------------------------------
// Event loop, connections, orderly shutdown

namespace {

// One connection (or the accept loop). Everything in it is touched only on its strand `ex`, so
// close() can be posted from any thread and never races the coroutine that owns the I/O.
struct Conn {
  Conn(asio::any_io_executor e, tcp::socket s) : ex(e), sock(std::move(s)), upstream(e), timer(e) {}
  asio::any_io_executor ex;
  tcp::socket sock;
  std::unique_ptr<ssl::stream<tcp::socket>> tls;  // owns the socket when TLS is on
  tcp::socket upstream;                           // proxy: the origin connection
  asio::steady_timer timer;                       // every delay/stall waits on this, so close() can cut it
  tcp::acceptor* acceptor = nullptr;              // set for the accept loop's entry
  bool closed = false;

  tcp::socket& lowest() { return tls ? tls->next_layer() : sock; }
  void close() {
    closed = true;
    error_code ig;
    timer.cancel();
    lowest().close(ig);
    upstream.close(ig);
    if (acceptor) acceptor->close(ig);
  }
  // Waits `d`; false if the connection was closed meanwhile.
  asio::awaitable<bool> sleep(ms d) {
    if (closed) co_return false;
    if (d.count() <= 0) co_return true;
    timer.expires_after(d);
    co_await timer.async_wait(use_tuple);  // cancelled only by close(), which sets `closed`
    co_return !closed;
  }
};

// An io_context on its own thread(s) plus the set of live coroutines, so shutdown can close each
// one and wait for it to finish (a stalled reply must not keep the destructor waiting).
class Loop {
 public:
  explicit Loop(unsigned threads) : ioc_(static_cast<int>(std::max(1u, threads))), n_(std::max(1u, threads)) {}
  ~Loop() { shutdown(); }
  asio::io_context& ioc() { return ioc_; }

  void start() {
    for (unsigned i = 0; i < n_; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  void spawn(std::shared_ptr<Conn> c, asio::awaitable<void> body) {
    {
      std::lock_guard lk(m_);
      if (stopping_) return;  // `body` never starts; c's destructor closes the socket
      live_.insert(c);
    }
    asio::co_spawn(c->ex, std::move(body), [this, c](std::exception_ptr) {
      std::lock_guard lk(m_);
      live_.erase(c);
      cv_.notify_all();
    });
  }
  void shutdown() {
    std::vector<std::shared_ptr<Conn>> all;
    {
      std::lock_guard lk(m_);
      if (stopping_) return;
      stopping_ = true;
      all.assign(live_.begin(), live_.end());
    }
    for (auto& c : all) asio::post(c->ex, [c] { c->close(); });
    if (!threads_.empty()) {
      std::unique_lock lk(m_);
      cv_.wait_for(lk, std::chrono::seconds(3), [&] { return live_.empty(); });
    }
    ioc_.stop();  // anything still pending is destroyed with the io_context
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  asio::io_context ioc_;  // declared first: destroyed last, after everything that uses it
  unsigned n_;
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable cv_;
  std::unordered_set<std::shared_ptr<Conn>> live_;
  bool stopping_ = false;
};

// Accepts until closed; each connection gets its own strand.
asio::awaitable<void> accept_loop(Loop& loop, tcp::acceptor& acc, std::shared_ptr<Conn> self,
                                  std::function<void(std::shared_ptr<Conn>)> on_conn) {
  while (!self->closed) {
    asio::any_io_executor ex = asio::make_strand(loop.ioc());
    auto [ec, sock] = co_await acc.async_accept(ex, use_tuple);
    if (self->closed) co_return;
    if (ec) {  // e.g. EMFILE in a connection storm: back off instead of spinning or giving up
      bool ok = co_await self->sleep(ms{20});
      if (!ok) co_return;
      continue;
    }
    error_code ig;
    sock.set_option(tcp::no_delay(true), ig);
    on_conn(std::make_shared<Conn>(ex, std::move(sock)));
  }
}

// Binds, listens and starts the loop's threads; returns the bound port.
unsigned short start_listening(Loop& loop, tcp::acceptor& acc, const tcp::endpoint& ep,
                               std::function<void(std::shared_ptr<Conn>)> on_conn) {
  acc.open(ep.protocol());
  acc.set_option(tcp::acceptor::reuse_address(true));
  acc.bind(ep);
  acc.listen(asio::socket_base::max_listen_connections);
  const unsigned short port = acc.local_endpoint().port();  // read before other threads use `acc`
  auto self = std::make_shared<Conn>(acc.get_executor(), tcp::socket(acc.get_executor()));
  self->acceptor = &acc;
  loop.spawn(self, accept_loop(loop, acc, self, std::move(on_conn)));
  loop.start();
  return port;
}

std::string reason(int status) {
  auto r = http::obsolete_reason(static_cast<http::status>(status));
  if (r.empty() || r.front() == '<') return status == 529 ? "Overloaded" : "Unknown";
  return std::string(r);
}

std::string chunk_frame(const std::string& bytes) {
  char hex[32];
  int n = std::snprintf(hex, sizeof hex, "%zx\r\n", bytes.size());
  std::string out(hex, static_cast<std::size_t>(n));
  out += bytes;
  out += "\r\n";
  return out;
}

RecordedRequest record(http::request<http::string_body>& req) {
  RecordedRequest rr;
  rr.method = std::string(req.method_string());
  rr.target = std::string(req.target());
  for (const auto& f : req) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
    std::string value(f.value());
    auto [it, fresh] = rr.headers.emplace(name, value);
    if (!fresh) it->second += ", " + value;
  }
  rr.body = std::move(req.body());
  return rr;
}

std::string error_json(const std::string& message) {
  return json::serialize(json::object{{"error", {{"message", message}}}});
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FakeLlmServer

struct FakeLlmServer::Impl {
  Loop loop;  // first member: destroyed last
  Options opts;
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor;
  unsigned short port = 0;

  mutable std::mutex m;
  std::deque<Reply> queue;
  std::function<Reply(const RecordedRequest&)> handler;
  std::vector<RecordedRequest> requests;
  std::atomic<std::size_t> accepted{0};

  explicit Impl(Options o) : loop(o.threads), opts(std::move(o)), acceptor(asio::make_strand(loop.ioc())) {
    if (opts.tls) {
      tls.emplace(ssl::context::tls_server);
      tls->use_certificate_chain(asio::buffer(opts.tls->cert_pem));
      tls->use_private_key(asio::buffer(opts.tls->key_pem), ssl::context::pem);
    }
    tcp::endpoint ep(asio::ip::make_address(opts.bind), opts.port);
    port = start_listening(loop, acceptor, ep, [this](std::shared_ptr<Conn> c) {
      ++accepted;
      if (tls) c->tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(c->sock), *tls);
      loop.spawn(c, serve(c));
    });
  }
  ~Impl() { loop.shutdown(); }

  Reply next_reply(RecordedRequest rr) {
    std::function<Reply(const RecordedRequest&)> h;
    {
      std::lock_guard lk(m);
      requests.push_back(rr);
      if (!queue.empty()) {
        Reply r = std::move(queue.front());
        queue.pop_front();
        return r;
      }
      h = handler;  // called outside the lock so a handler may call back into the server
    }
    if (!h) return Reply::json(500, error_json("fake server: no scripted reply"));
    try {
      return h(rr);
    } catch (const std::exception& e) {
      return Reply::json(500, error_json(std::string("fake server: handler threw: ") + e.what()));
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<Conn> c) {
    if (c->tls) {
      auto [ec] = co_await c->tls->async_handshake(ssl::stream_base::server, use_tuple);
      if (ec || c->closed) co_return;
      co_await session(*c, *c->tls);
    } else {
      co_await session(*c, c->sock);
    }
  }

  // Keep-alive loop: read a request, record it, answer it, until either side closes.
  template <class Stream>
  asio::awaitable<void> session(Conn& c, Stream& s) {
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> p;
      p.header_limit(1u << 20);
      p.body_limit(std::uint64_t{256} << 20);
      auto [hec, hn] = co_await http::async_read_header(s, buf, p, use_tuple);
      if (hec || c.closed) break;
      if (beast::iequals(p.get()[http::field::expect], "100-continue")) {
        std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [cec, cn] = co_await asio::async_write(s, asio::buffer(cont), use_tuple);
        if (cec || c.closed) break;
      }
      if (!p.is_done()) {
        auto [bec, bn] = co_await http::async_read(s, buf, p, use_tuple);
        if (bec || c.closed) break;
      }
      auto req = p.release();
      const unsigned version = req.version();
      bool keep = req.keep_alive();
      Reply r = next_reply(record(req));
      keep = keep && !r.close_connection;
      bool ok = co_await send(c, s, r, keep, version);
      if (!ok || !keep) break;
    }
    error_code ig;
    c.lowest().shutdown(tcp::socket::shutdown_send, ig);  // the Conn's destructor closes the socket
  }

  // Writes one reply, injecting its fault; false if the connection must not be used again.
  template <class Stream>
  asio::awaitable<bool> send(Conn& c, Stream& s, const Reply& r, bool keep, unsigned version) {
    if (r.fault == Fault::no_response) {
      co_await c.sleep(r.stall_for);
      co_return false;
    }
    std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
    for (const auto& [name, value] : r.headers) head += name + ": " + value + "\r\n";
    if (r.chunked) {
      head += "Transfer-Encoding: chunked\r\n";
    } else {
      std::size_t len = 0;
      for (const auto& ch : r.chunks) len += ch.bytes.size();
      head += "Content-Length: " + std::to_string(len) + "\r\n";
    }
    if (!keep) head += "Connection: close\r\n";
    else if (version == 10) head += "Connection: keep-alive\r\n";
    head += "\r\n";
    bool ok = co_await put(c, s, head, false, ms{0});
    if (!ok) co_return false;

    const bool drip = r.fault == Fault::drip;
    const bool positional = r.fault == Fault::reset_after || r.fault == Fault::close_after || r.fault == Fault::stall;
    const std::size_t n = r.chunks.size();
    const std::size_t fault_at = std::min(r.fault_after, n);  // past the end: just before the terminator
    for (std::size_t i = 0; i <= n; ++i) {
      if (positional && i == fault_at) {
        error_code ig;
        if (r.fault == Fault::stall) {
          co_await c.sleep(r.stall_for);
        } else if (r.fault == Fault::reset_after) {
          // SO_LINGER {on, 0}: close() sends RST instead of FIN, so the peer sees ECONNRESET.
          c.lowest().set_option(asio::socket_base::linger(true, 0), ig);
          c.lowest().close(ig);
        } else {
          c.lowest().shutdown(tcp::socket::shutdown_both, ig);
          c.lowest().close(ig);
        }
        co_return false;
      }
      if (i == n) break;
      const Chunk& ch = r.chunks[i];
      ok = co_await c.sleep(ch.delay);
      if (!ok) co_return false;
      if (r.chunked && ch.bytes.empty()) continue;  // a zero-size chunk would end the body early
      std::string wire = r.chunked ? chunk_frame(ch.bytes) : ch.bytes;
      ok = co_await put(c, s, wire, drip, r.drip_delay);
      if (!ok) co_return false;
    }
    if (r.chunked) {
      std::string last = "0\r\n\r\n";
      ok = co_await put(c, s, last, drip, r.drip_delay);
      if (!ok) co_return false;
    }
    co_return true;
  }

  template <class Stream>
  asio::awaitable<bool> put(Conn& c, Stream& s, const std::string& bytes, bool drip, ms drip_delay) {
    if (c.closed) co_return false;
    if (!drip) {
      auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes), use_tuple);
      co_return !ec && !c.closed;
    }
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      bool ok = co_await c.sleep(drip_delay);
      if (!ok) co_return false;
      auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes.data() + i, 1), use_tuple);
      if (ec || c.closed) co_return false;
    }
    co_return true;
  }
};

FakeLlmServer::FakeLlmServer() : FakeLlmServer(Options{}) {}
FakeLlmServer::FakeLlmServer(Options opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
FakeLlmServer::~FakeLlmServer() = default;

unsigned short FakeLlmServer::port() const { return impl_->port; }

std::string FakeLlmServer::base_url() const {
  std::string host = impl_->opts.bind;
  if (host == "0.0.0.0") host = "127.0.0.1";
  else if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (impl_->tls ? "https://" : "http://") + host + ":" + std::to_string(impl_->port);
}

void FakeLlmServer::push(Reply r) {
  std::lock_guard lk(impl_->m);
  impl_->queue.push_back(std::move(r));
}
void FakeLlmServer::set_handler(std::function<Reply(const RecordedRequest&)> handler) {
  std::lock_guard lk(impl_->m);
  impl_->handler = std::move(handler);
}
std::vector<RecordedRequest> FakeLlmServer::requests() const {
  std::lock_guard lk(impl_->m);
  return impl_->requests;
}
std::size_t FakeLlmServer::request_count() const {
  std::lock_guard lk(impl_->m);
  return impl_->requests.size();
}
std::size_t FakeLlmServer::connections_accepted() const { return impl_->accepted.load(); }
void FakeLlmServer::clear() {
  std::lock_guard lk(impl_->m);
  impl_->requests.clear();
  impl_->queue.clear();
  impl_->accepted = 0;
}

// ---------------------------------------------------------------------------------------------
// FakeProxy

namespace {

// host:port (or [v6]:port) → endpoint, only for loopback hosts: tests must never reach the network.
std::optional<tcp::endpoint> loopback_endpoint(std::string host, unsigned short port) {
  std::string port_text;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    std::string rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    if (!rest.empty()) port_text = rest.substr(1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    port_text = host.substr(colon + 1);
    host.resize(colon);
  }
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size()) return std::nullopt;
  }
  if (host == "localhost") host = "127.0.0.1";
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec || !addr.is_loopback()) return std::nullopt;
  return tcp::endpoint(addr, port);
}

asio::awaitable<void> pump(Conn& c, tcp::socket& from, tcp::socket& to) {
  std::array<char, 16384> data;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(data), use_tuple);
    if (n > 0) {
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(data.data(), n), use_tuple);
      if (wec) break;
    }
    if (ec || c.closed) break;
  }
  error_code ig;
  to.shutdown(tcp::socket::shutdown_send, ig);  // pass the half-close on
}

asio::awaitable<void> refuse(Conn& c, int status) {
  std::string msg = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  co_await asio::async_write(c.sock, asio::buffer(msg), use_tuple);
  error_code ig;
  c.sock.shutdown(tcp::socket::shutdown_send, ig);
}

}  // namespace

struct FakeProxy::Impl {
  Loop loop{1};  // first member: destroyed last
  tcp::acceptor acceptor;
  unsigned short port = 0;
  mutable std::mutex m;
  std::vector<std::string> targets;

  Impl() : acceptor(asio::make_strand(loop.ioc())) {
    tcp::endpoint ep(asio::ip::address_v4::loopback(), 0);
    port = start_listening(loop, acceptor, ep, [this](std::shared_ptr<Conn> c) { loop.spawn(c, serve(c)); });
  }
  ~Impl() { loop.shutdown(); }

  asio::awaitable<void> serve(std::shared_ptr<Conn> c) {
    using namespace asio::experimental::awaitable_operators;
    beast::flat_buffer buf;
    http::request_parser<http::string_body> p;
    p.body_limit(std::uint64_t{64} << 20);
    auto [ec, n] = co_await http::async_read(c->sock, buf, p, use_tuple);
    if (ec || c->closed) co_return;
    auto req = p.release();
    const std::string target(req.target());
    const bool connect = req.method() == http::verb::connect;
    {
      std::lock_guard lk(m);
      targets.push_back(std::string(req.method_string()) + " " + target);
    }
    std::string authority = target, path = "/";
    if (!connect) {
      if (target.rfind("http://", 0) != 0) {
        co_await refuse(*c, 400);
        co_return;
      }
      authority = target.substr(7);
      if (auto slash = authority.find('/'); slash != std::string::npos) {
        path = authority.substr(slash);
        authority.resize(slash);
      }
    }
    auto ep = loopback_endpoint(authority, connect ? 443 : 80);
    if (!ep) {
      co_await refuse(*c, 403);
      co_return;
    }
    auto [cec] = co_await c->upstream.async_connect(*ep, use_tuple);
    if (cec || c->closed) {
      co_await refuse(*c, 502);
      co_return;
    }
    if (connect) {
      std::string ok = "HTTP/1.1 200 Connection Established\r\n\r\n";
      auto [wec, wn] = co_await asio::async_write(c->sock, asio::buffer(ok), use_tuple);
      if (wec) co_return;
      if (buf.size() > 0) {  // bytes the client sent right behind the CONNECT head
        auto [fec, fn] = co_await asio::async_write(c->upstream, buf.data(), use_tuple);
        if (fec) co_return;
      }
    } else {
      // Origin-form to the origin, one request per connection: with "Connection: close" the
      // origin ends the exchange and the pipe below ends with it.
      req.target(path);
      req.keep_alive(false);
      req.erase("Proxy-Connection");
      req.erase(http::field::proxy_authorization);
      auto [wec, wn] = co_await http::async_write(c->upstream, req, use_tuple);
      if (wec) co_return;
    }
    co_await (pump(*c, c->sock, c->upstream) && pump(*c, c->upstream, c->sock));
  }
};

FakeProxy::FakeProxy() : impl_(std::make_unique<Impl>()) {}
FakeProxy::~FakeProxy() = default;
unsigned short FakeProxy::port() const { return impl_->port; }
std::string FakeProxy::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }
std::vector<std::string> FakeProxy::targets() const {
  std::lock_guard lk(impl_->m);
  return impl_->targets;
}

// ---------------------------------------------------------------------------------------------
// make_test_pki

namespace {

struct OsslFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, OsslFree>;
using CertPtr = std::unique_ptr<X509, OsslFree>;

[[noreturn]] void pki_fail(const char* what) {
  char msg[256] = "unknown error";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, msg, sizeof msg);
  throw std::runtime_error(std::string("make_test_pki: ") + what + ": " + msg);
}

KeyPtr make_key() {
  KeyPtr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!k) pki_fail("EC P-256 key generation");
  return k;
}

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  std::unique_ptr<X509_EXTENSION, OsslFree> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) pki_fail("X509 extension");
}

// A certificate for `key`, signed by `issuer_key` (`issuer` null: self-signed), valid now-1h .. now+1d.
CertPtr make_cert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, bool ca, const std::string& san) {
  CertPtr cert(X509_new());
  if (!cert) pki_fail("X509_new");
  X509* x = cert.get();
  std::uint64_t serial = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) != 1) pki_fail("RAND_bytes");
  serial = (serial >> 1) | 1;  // positive and non-zero, as RFC 5280 asks
  if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) != 1 ||
      !X509_gmtime_adj(X509_getm_notBefore(x), -3600) || !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
      X509_set_pubkey(x, key) != 1)
    pki_fail("X509 fields");
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mlrcopilot tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  if (X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1) pki_fail("X509 issuer");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, &ctx, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(x, &ctx, NID_subject_key_identifier, "hash");
  if (!ca) {
    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
    if (!san.empty()) add_ext(x, &ctx, NID_subject_alt_name, san);
  }
  if (X509_sign(x, issuer_key, EVP_sha256()) <= 0) pki_fail("X509_sign");
  return cert;
}

template <class Write>
std::string to_pem(Write write) {
  std::unique_ptr<BIO, OsslFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) pki_fail("PEM write");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

TestPki make_test_pki(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips) {
  std::string san;
  for (const auto& d : dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : ips) san += (san.empty() ? "IP:" : ",IP:") + ip;
  KeyPtr ca_key = make_key();
  CertPtr ca = make_cert("mlrcopilot test CA", ca_key.get(), nullptr, ca_key.get(), true, "");
  KeyPtr leaf_key = make_key();
  const std::string cn = dns_names.empty() ? (ips.empty() ? std::string("localhost") : ips.front()) : dns_names.front();
  CertPtr leaf = make_cert(cn.c_str(), leaf_key.get(), ca.get(), ca_key.get(), false, san);
  TestPki out;
  out.ca_cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, ca.get()); });
  out.leaf_cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, leaf.get()); });
  out.leaf_key_pem = to_pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, leaf_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return out;
}

}  // namespace mlrc::test
