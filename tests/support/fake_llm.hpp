#pragma once
// A loopback LLM server for tests and benchmarks. It speaks the OpenAI Chat Completions and
// Anthropic Messages wire formats exactly (plain JSON and SSE streaming), is scripted per test
// (a queue of replies, or a callback) and injects faults. It runs on its own thread with its own
// io_context, so the code under test sees a real socket peer.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlrc::test {

using namespace std::chrono_literals;

// What the server received.
struct RecordedRequest {
  std::string method;
  std::string target;                         // e.g. "/v1/chat/completions"
  std::map<std::string, std::string> headers; // names lower-cased
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

// One piece of a response body, written after waiting `delay`.
struct Chunk {
  std::string bytes;
  std::chrono::milliseconds delay{0};
};

enum class Fault {
  none,
  reset_after,      // after `fault_after` chunks, abort the TCP connection with RST (SO_LINGER 0)
  close_after,      // after `fault_after` chunks, close cleanly (truncated chunked body / SSE)
  stall,            // after `fault_after` chunks, send nothing more for `stall_for`, then close
  drip,             // write every byte of the body separately, `drip_delay` apart
  no_response,      // read the request, then never answer until `stall_for` passes, then close
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // content-type etc.
  std::vector<Chunk> chunks;  // the body; sent with chunked transfer encoding if `chunked`
  bool chunked = false;       // streaming replies use chunked encoding, like the real APIs
  Fault fault = Fault::none;
  std::size_t fault_after = 0;
  std::chrono::milliseconds stall_for{10s};
  std::chrono::milliseconds drip_delay{1};
  bool close_connection = false;  // send "Connection: close" and close after the reply

  // A whole body as one chunk with a content type.
  static Reply body(int status, std::string content_type, std::string body);
  static Reply json(int status, std::string json_text) { return body(status, "application/json", std::move(json_text)); }
  // An SSE stream: each element is one complete event block ("event: x\ndata: y\n\n" is built by
  // the helpers below), each written as its own chunk `delay` apart.
  static Reply sse(std::vector<std::string> event_blocks, std::chrono::milliseconds delay = 0ms);
};

// Reply builders in each provider's exact format.
namespace openai {
struct Usage {
  std::int64_t prompt = 0, completion = 0, cached = 0;
};
struct ToolCallOut {
  std::string id, name, arguments;
};
// {"id":"chatcmpl-…","object":"chat.completion","created":…,"model":…,"choices":[{"index":0,
//  "message":{"role":"assistant","content":…,"tool_calls":[…]},"finish_reason":…}],"usage":{…}}
std::string completion_json(const std::string& text, Usage u = {10, 5, 0}, const std::vector<ToolCallOut>& calls = {},
                            const std::string& model = "gpt-test");
Reply text(const std::string& text, Usage u = {10, 5, 0});
Reply tool_calls(const std::vector<ToolCallOut>& calls, Usage u = {10, 5, 0});
// Streamed: a role chunk, one chunk per text piece, a finish chunk, a usage chunk (empty
// choices) and "data: [DONE]". `delay` between chunks.
Reply stream_text(const std::vector<std::string>& pieces, Usage u = {10, 5, 0}, std::chrono::milliseconds delay = 0ms);
// Streamed tool calls: each call's arguments split into `arg_pieces`-sized fragments that arrive
// in separate chunks (id and name only on the first fragment), finish_reason "tool_calls".
Reply stream_tool_calls(const std::vector<ToolCallOut>& calls, std::size_t arg_piece = 7, Usage u = {10, 5, 0});
// {"error":{"message":…,"type":…,"param":null,"code":…}}
Reply error(int status, const std::string& type, const std::string& message);
// The same with a "code" (e.g. "invalid_api_key", "rate_limit_exceeded"); "" gives null.
Reply error(int status, const std::string& type, const std::string& message, const std::string& code);
// The SSE block for one data payload: "data: <payload>\n\n".
std::string data_block(const std::string& payload);
}  // namespace openai

namespace anthropic {
struct Usage {
  std::int64_t input = 0, output = 0, cache_read = 0, cache_write = 0;
};
struct ToolUseOut {
  std::string id, name, input_json;
};
// {"id":"msg_…","type":"message","role":"assistant","model":…,"content":[{"type":"text",…},
//  {"type":"tool_use","id","name","input"}],"stop_reason":…,"stop_sequence":null,"usage":{…}}
std::string message_json(const std::string& text, Usage u = {10, 5, 0, 0}, const std::vector<ToolUseOut>& uses = {},
                         const std::string& model = "claude-test");
Reply text(const std::string& text, Usage u = {10, 5, 0, 0});
Reply tool_use(const std::vector<ToolUseOut>& uses, const std::string& text = "", Usage u = {10, 5, 0, 0});
// Streamed: message_start, (ping), content_block_start/delta…/stop per block, message_delta
// (stop_reason, usage.output_tokens), message_stop. Tool input arrives as input_json_delta
// partial_json fragments of `arg_piece` bytes.
Reply stream(const std::vector<std::string>& text_pieces, const std::vector<ToolUseOut>& uses = {},
             Usage u = {10, 5, 0, 0}, std::chrono::milliseconds delay = 0ms, std::size_t arg_piece = 7);
// {"type":"error","error":{"type":…,"message":…}}
Reply error(int status, const std::string& type, const std::string& message);
// An SSE "event: error" block for mid-stream errors.
std::string error_event(const std::string& type, const std::string& message);
// "event: <name>\ndata: <payload>\n\n"
std::string event_block(const std::string& name, const std::string& payload);
}  // namespace anthropic

// Splits text into about-one-word pieces ("Hello ", "world"); the pieces concatenate to `text`.
std::vector<std::string> split_words(const std::string& text);

// A scripted conversation turn, answered in whatever format the request asks for.
// input_tokens counts all prompt tokens, cached ones included (OpenAI prompt_tokens); for Anthropic
// the reply's input_tokens is input - cached - cache_write, with cache_read = cached.
struct ScriptedTurn {
  std::string text;
  std::vector<openai::ToolCallOut> tool_calls;  // for Anthropic they become tool_use blocks
  std::int64_t input_tokens = 10, output_tokens = 5, cached_tokens = 0, cache_write_tokens = 0;
  int status = 200;             // non-200: an error reply in the provider's format
  std::string error_type;       // e.g. "rate_limit_error" / "server_error"
  std::string error_message;
  std::string retry_after;      // Retry-After header value for error replies, if any
  std::chrono::milliseconds token_delay{0};  // streaming: delay between pieces
};
// A handler that answers: POST .../chat/completions → OpenAI format; POST .../v1/messages (or
// .../messages) → Anthropic format; "stream": true in the body → SSE (text split into pieces of
// about one word, tool arguments in fragments), otherwise plain JSON; GET .../models → a model
// list in that provider's format (spends no turn). Turns are used in order; when they run out it
// answers 500 with an error object, or starts again from the first turn if `loop`.
// If `required_key` is non-empty, a request whose "Authorization: Bearer K" / "x-api-key: K"
// does not match gets 401 with an error object in the provider's format.
std::function<Reply(const RecordedRequest&)> scripted_handler(std::vector<ScriptedTurn> turns, bool loop = false,
                                                               std::string required_key = {});

struct TlsConfig {
  std::string cert_pem;  // server certificate chain (PEM)
  std::string key_pem;   // private key (PEM)
};

// Test certificates made with the OpenSSL API at run time (no files in the repo).
struct TestPki {
  std::string ca_cert_pem;   // a self-signed CA
  std::string leaf_cert_pem; // signed by the CA, for the given DNS names / IPs
  std::string leaf_key_pem;
};
// Leaf valid for "localhost" and 127.0.0.1 unless other names are given.
TestPki make_test_pki(const std::vector<std::string>& dns_names = {"localhost"},
                      const std::vector<std::string>& ips = {"127.0.0.1"});

class FakeLlmServer {
 public:
  struct Options {
    std::string bind = "127.0.0.1";
    unsigned short port = 0;  // 0: pick a free port
    std::optional<TlsConfig> tls;
    unsigned threads = 1;
  };
  FakeLlmServer();
  explicit FakeLlmServer(Options opts);
  ~FakeLlmServer();  // stops, closes every connection, joins
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  unsigned short port() const;
  // "http://127.0.0.1:PORT" (or https://…)
  std::string base_url() const;

  // Replies are taken from the queue in order; when it is empty the handler is asked; with no
  // handler the server answers 500 {"error":{"message":"fake server: no scripted reply"}}.
  void push(Reply r);
  void set_handler(std::function<Reply(const RecordedRequest&)> handler);

  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;
  std::size_t connections_accepted() const;
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A minimal HTTP forward proxy on loopback: CONNECT host:port tunnels (for https) and
// absolute-form requests (for http). Records the targets it was asked for.
class FakeProxy {
 public:
  FakeProxy();
  ~FakeProxy();
  unsigned short port() const;
  std::string url() const;  // "http://127.0.0.1:PORT"
  std::vector<std::string> targets() const;  // "CONNECT host:port" or "GET http://…"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlrc::test
