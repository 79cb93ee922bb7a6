#pragma once
// Sans-io protocol logic for the providers: Server-Sent Events framing, request bodies, response
// and stream parsing, and error mapping. Pure functions and state machines over bytes: no sockets,
// no clocks. Inbound JSON is parsed with simdjson, outbound built with Boost.JSON.
// Tested directly with scripted bytes in tests/unit/test_wire.cpp.

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/model.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc::detail {

// ---------------------------------------------------------------------------------------------
// Server-Sent Events (WHATWG HTML "event stream interpretation").
struct SseEvent {
  std::string event;  // "" when the stream gave no event: field (means "message")
  std::string data;   // data: lines joined with '\n'
  std::string id;
  std::optional<long> retry;
  friend bool operator==(const SseEvent&, const SseEvent&) = default;
};

// Incremental parser: feed bytes in any split (even one byte at a time, even mid-UTF-8 or
// mid-CRLF); complete events are appended to `out`. Handles LF, CR and CRLF line ends, comment
// lines (":"), a leading BOM, "field" without colon, one optional space after the colon.
class SseParser {
 public:
  void feed(std::string_view bytes, std::vector<SseEvent>& out);
  // True if bytes of an unfinished event are buffered (used to detect a truncated stream).
  bool has_partial() const noexcept;
  // Bytes buffered so far in the current (unfinished) line and event; bounded by max_event_bytes.
  std::size_t buffered() const noexcept;
  // An event larger than this throws Error(errc::protocol). Default 16 MiB.
  std::size_t max_event_bytes = 16u << 20;

 private:
  std::string line_;
  SseEvent cur_;
  bool have_data_ = false;
  bool started_ = false;   // BOM check done
  bool last_cr_ = false;   // previous byte was CR (so a following LF is part of the same line end)
  bool any_field_ = false; // current event has at least one field
  void line_done(std::vector<SseEvent>& out);
};

// ---------------------------------------------------------------------------------------------
// Errors. Maps an HTTP status + body to an Error: 401/403 auth, 429 rate_limited, 408 timeout,
// 5xx and 529 server_error, other 4xx provider_error. The provider's message (OpenAI
// {"error":{"message","type","code"}}, Anthropic {"type":"error","error":{"type","message"}},
// Ollama {"error":"text"}, or a short excerpt of a non-JSON body) goes to provider_text,
// redacted of `secret`. retry_after_header is the raw Retry-After value (seconds or HTTP-date
// are both accepted; only seconds are parsed, a date gives no hint).
Error error_from_http(int status, std::string_view body, std::string_view retry_after_header,
                      std::string_view provider, std::string_view secret);
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions (also vLLM, llama.cpp server, Ollama /v1).
// Body of POST {base}/chat/completions. `model` replaces req.model when that is empty. With
// stream it adds "stream":true and "stream_options":{"include_usage":true}. Tools become
// {"type":"function","function":{name,description,parameters}}; tool_choice maps "auto"/"none"/
// "required" as is and a tool name to {"type":"function","function":{"name":…}}; response_format
// becomes {"type":"json_schema","json_schema":{"name","schema","strict"}}; max_tokens is sent as
// "max_tokens" (set use_max_completion_tokens for OpenAI's newer models: "max_completion_tokens").
// Assistant messages with tool calls carry "tool_calls":[{id,type:function,function:{name,arguments}}]
// and "content":null when the text is empty; tool messages carry tool_call_id.
std::string openai_request_body(const ChatRequest& req, std::string_view model, bool stream,
                                bool use_max_completion_tokens = false);
// Parses a non-streamed response body. Throws Error(errc::protocol) for malformed JSON or a
// missing choices array, Error(provider_error) when the body is an error object.
ChatResponse openai_parse_response(std::string_view body);

// Accumulates a streamed response from SSE events ("data: {chunk}" … "data: [DONE]").
// Text deltas go to observer->on_text; tool call fragments (choices[0].delta.tool_calls[i] with
// index, id/name on the first fragment, function.arguments in pieces) are merged by index and
// reported through on_tool_call_delta. A final chunk with empty choices carries usage
// (prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens). An {"error":…} chunk
// throws Error(provider_error or server_error). Malformed JSON throws Error(errc::protocol).
class OpenAiStream {
 public:
  explicit OpenAiStream(StreamObserver* observer) : observer_(observer) {}
  void on_event(const SseEvent& ev);
  bool done() const noexcept { return done_; }  // [DONE] seen
  // The whole response. Throws Error(errc::protocol, "stream ended before [DONE]") if !done().
  ChatResponse finish();
  bool delivered() const noexcept { return delivered_; }  // something reached the observer

 private:
  StreamObserver* observer_;
  ChatResponse resp_;
  bool done_ = false;
  bool delivered_ = false;
};

// ---------------------------------------------------------------------------------------------
// Anthropic Messages API.
// Body of POST {base}/v1/messages. System messages are joined (blank line between) into the
// top-level "system" as an array of text blocks; a cache_breakpoint on a system message puts
// cache_control {"type":"ephemeral"} on its block. Consecutive tool results become one user
// message of tool_result blocks (tool_use_id, content, is_error). Assistant tool calls become
// tool_use blocks (id, name, input = parsed arguments JSON). Tools: {name, description,
// input_schema}. tool_choice: "auto"→{"type":"auto"}, "required"→{"type":"any"}, "none"→
// {"type":"none"}, name→{"type":"tool","name":…}. response_format → an extra tool with that name
// and schema, forced with tool_choice; the parse functions then turn that tool's input back into
// the reply text (pass its name as structured_tool). max_tokens defaults to 4096.
std::string anthropic_request_body(const ChatRequest& req, std::string_view model, bool stream);
ChatResponse anthropic_parse_response(std::string_view body, std::string_view structured_tool = {});

// Accumulates a streamed Messages response: message_start (id, model, usage), content_block_start
// (text or tool_use with id/name), content_block_delta (text_delta, input_json_delta with
// partial_json), content_block_stop, message_delta (stop_reason, usage.output_tokens),
// message_stop, ping (ignored), error (throws: overloaded_error → server_error, rate_limit_error
// → rate_limited, others provider_error). Unknown event types are ignored, as Anthropic asks.
// stop_reason maps end_turn/stop_sequence→"stop", max_tokens→"length", tool_use→"tool_calls".
class AnthropicStream {
 public:
  explicit AnthropicStream(StreamObserver* observer, std::string structured_tool = {})
      : observer_(observer), structured_tool_(std::move(structured_tool)) {}
  void on_event(const SseEvent& ev);
  bool done() const noexcept { return done_; }  // message_stop seen
  ChatResponse finish();                        // throws Error(protocol) if !done()
  bool delivered() const noexcept { return delivered_; }

 private:
  StreamObserver* observer_;
  std::string structured_tool_;
  ChatResponse resp_;
  struct Block {
    std::string type;  // "text", "tool_use", other
    std::size_t tool_index = 0;
  };
  std::vector<Block> blocks_;
  bool done_ = false;
  bool delivered_ = false;
};

}  // namespace mlrc::detail
