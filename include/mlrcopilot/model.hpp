#pragma once
/** @file model.hpp
 *  The `Model` interface (an LLM behind some provider) and the data it speaks.
 *
 *  All data types are plain values, JSON-serialisable (see `to_json`/`*_from_json` in
 *  `mlrcopilot/json.hpp`). Tool-call arguments, tool parameter schemas and structured-output schemas
 *  are carried as JSON text so that callers need no JSON library of ours. */

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** Who wrote a message. */
enum class Role { system, user, assistant, tool };
const char* role_name(Role r) noexcept;

/** One tool call requested by the model. */
struct ToolCall {
  std::string id;         ///< provider's call id ("call_…", "toolu_…"); echoed back in the tool result
  std::string name;       ///< tool name
  std::string arguments;  ///< JSON text of the arguments object, exactly as the model produced it
  friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

/** One message of a conversation. */
struct Message {
  Role role = Role::user;
  std::string content;               ///< text; empty for an assistant turn that only calls tools
  std::vector<ToolCall> tool_calls;  ///< assistant only: calls the model made
  std::string tool_call_id;          ///< tool only: which call this is the result of
  std::string name;                  ///< tool only: tool name (OpenAI accepts it; Anthropic ignores it)
  bool is_error = false;             ///< tool only: the tool failed (Anthropic `is_error`)
  /** Mark the end of a stable prefix for provider prompt caching: Anthropic gets
   *  `cache_control: {type: ephemeral}` on this message's last block; OpenAI caches prefixes
   *  automatically, so it is ignored there. */
  bool cache_breakpoint = false;

  static Message make(Role role, std::string text) {
    Message m;
    m.role = role;
    m.content = std::move(text);
    return m;
  }
  static Message system(std::string text) { return make(Role::system, std::move(text)); }
  static Message user(std::string text) { return make(Role::user, std::move(text)); }
  static Message assistant(std::string text) { return make(Role::assistant, std::move(text)); }
  static Message tool_result(std::string call_id, std::string name, std::string text, bool error = false) {
    Message m = make(Role::tool, std::move(text));
    m.tool_call_id = std::move(call_id);
    m.name = std::move(name);
    m.is_error = error;
    return m;
  }
  friend bool operator==(const Message&, const Message&) = default;
};

/** A tool the model may call. */
struct ToolSpec {
  std::string name;
  std::string description;
  std::string parameters_schema = R"({"type":"object","properties":{}})";  ///< JSON Schema text
  friend bool operator==(const ToolSpec&, const ToolSpec&) = default;
};

/** Structured output: the reply must be JSON matching `schema`.
 *  OpenAI: `response_format: {type: json_schema, json_schema: {name, schema, strict}}`.
 *  Anthropic has no such field: the schema is sent as a forced tool named `name`, and the
 *  tool's input becomes the reply text. */
struct ResponseFormat {
  std::string name = "response";
  std::string schema;  ///< JSON Schema text
  bool strict = true;
  friend bool operator==(const ResponseFormat&, const ResponseFormat&) = default;
};

/** A chat request. `model` may be left empty: the provider then uses its configured model. */
struct ChatRequest {
  std::string model;
  std::vector<Message> messages;  ///< system messages may appear anywhere; Anthropic gets them joined
  std::vector<ToolSpec> tools;
  std::string tool_choice;  ///< "" (provider default), "auto", "none", "required", or a tool name
  std::optional<ResponseFormat> response_format;
  std::optional<double> temperature;
  std::optional<std::int64_t> max_tokens;  ///< Anthropic requires one: 4096 is sent when unset
  std::vector<std::string> stop;
  bool stream = false;  ///< stream the reply (observer gets deltas as they arrive)
  /** Deadline for the whole call including retries' waits; zero means the provider default. */
  std::chrono::milliseconds timeout{0};
  friend bool operator==(const ChatRequest&, const ChatRequest&) = default;
};

/** Token usage as the provider reported it. */
struct Usage {
  std::int64_t input_tokens = 0;           ///< all prompt tokens (OpenAI prompt_tokens; Anthropic input+cache read+cache write)
  std::int64_t output_tokens = 0;          ///< completion tokens
  std::int64_t cached_input_tokens = 0;    ///< prompt tokens served from the provider's cache (cheaper)
  std::int64_t cache_write_tokens = 0;     ///< Anthropic cache_creation_input_tokens
  std::int64_t total() const noexcept { return input_tokens + output_tokens; }
  Usage& operator+=(const Usage& o) noexcept {
    input_tokens += o.input_tokens;
    output_tokens += o.output_tokens;
    cached_input_tokens += o.cached_input_tokens;
    cache_write_tokens += o.cache_write_tokens;
    return *this;
  }
  friend bool operator==(const Usage&, const Usage&) = default;
};

/** A chat reply. */
struct ChatResponse {
  std::string id;                    ///< provider's response id
  std::string model;                 ///< model that answered
  std::string text;                  ///< the assistant's text (for structured output: the JSON)
  std::vector<ToolCall> tool_calls;  ///< calls the model made, in order
  std::string finish_reason;         ///< normalised: "stop", "length", "tool_calls", "content_filter", or the provider's word
  Usage usage;
  double cost_usd = 0;       ///< filled by the accounting middleware when a price is known
  int attempts = 1;          ///< HTTP attempts it took (retry middleware)
  bool from_cassette = false;  ///< served by replay, no network
  /** Time spent in the library (building, parsing, callbacks) rather than waiting on the network. */
  std::chrono::microseconds overhead{0};
  /** The assistant message to append to the conversation to continue it. */
  Message as_message() const {
    Message m = Message::make(Role::assistant, text);
    m.tool_calls = tool_calls;
    return m;
  }
};

/** Receives a streamed reply as it arrives. Called on the runtime's threads, one call at a time
 *  per request. Callbacks must not block; exceptions thrown from them abort the request. */
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  /** A piece of the assistant's text. */
  virtual void on_text(std::string_view delta) { (void)delta; }
  /** A piece of tool call number `index`: id and name arrive once (first fragment), arguments in
   *  fragments that concatenate to the JSON text. */
  virtual void on_tool_call_delta(std::size_t index, std::string_view id, std::string_view name,
                                  std::string_view arguments_fragment) {
    (void)index, (void)id, (void)name, (void)arguments_fragment;
  }
};

/** An LLM. Implementations: the providers (`providers.hpp`) and middleware (`middleware.hpp`) that
 *  wrap another model.
 *
 *  `chat` throws `mlrc::Error` on failure. It honours the request's deadline and asio per-operation
 *  cancellation (terminal). Thread-safety: providers allow many concurrent `chat` calls; a
 *  middleware documents its own. */
class Model {
 public:
  virtual ~Model() = default;
  /** Sends `req`. If `req.stream` and `observer` is non-null, deltas reach `observer` as they
   *  arrive; the returned response holds the whole reply either way. `observer` must outlive the
   *  call. */
  virtual boost::asio::awaitable<ChatResponse> chat(ChatRequest req, StreamObserver* observer = nullptr) = 0;
  /** Checks that the endpoint answers and accepts the credentials, spending no tokens where the
   *  provider has a free call (listing models). Throws `Error` naming what is wrong. */
  virtual boost::asio::awaitable<void> check() = 0;
  /** A stable description such as "openai:gpt-4o" (never contains a key). */
  virtual std::string describe() const = 0;
};

using ModelPtr = std::shared_ptr<Model>;

}  // namespace v1
}  // namespace mlrc
