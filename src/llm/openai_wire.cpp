// OpenAI Chat Completions wire format (also spoken by vLLM, llama.cpp server and Ollama's /v1),
// and the mapping of any provider's HTTP error replies to mlrc::Error.

#include "json_util.hpp"
#include "wire.hpp"

#include <charconv>
#include <cmath>

namespace mlrc::detail {

namespace bj = boost::json;

namespace {

// Finish reasons are kept as OpenAI spells them; the legacy "function_call" means a tool call.
std::string normalise_finish(std::string_view r) {
  if (r == "function_call") return "tool_calls";
  return std::string(r);
}

Usage read_usage(json::Element u) {
  Usage out;
  out.input_tokens = json::int_or(u, "prompt_tokens");
  out.output_tokens = json::int_or(u, "completion_tokens");
  if (auto d = json::member(u, "prompt_tokens_details")) out.cached_input_tokens = json::int_or(*d, "cached_tokens");
  return out;
}

// Tool call arguments are a JSON string on the wire; a few servers send the object itself.
std::string arguments_of(json::Element fn) {
  auto a = json::member(fn, "arguments");
  if (!a) return {};
  return a->is_string() ? std::string(json::str(fn, "arguments")) : json::text_of(*a);
}

// An error object in a 200 body or in a stream: {"message","type","code"} or a bare string.
Error error_object(json::Element err, const char* where) {
  std::string text = err.is_string() ? std::string(err.get_string().value_unsafe()) : json::error_text(err);
  std::string kind = std::string(json::str(err, "type")) + " " + std::string(json::str(err, "code"));
  errc code = errc::provider_error;
  if (kind.find("server_error") != std::string::npos || kind.find("overloaded") != std::string::npos ||
      kind.find("service_unavailable") != std::string::npos || kind.find("internal_error") != std::string::npos)
    code = errc::server_error;
  else if (kind.find("rate_limit") != std::string::npos)
    code = errc::rate_limited;
  return Error(code, std::string("openai: error object ") + where, std::move(text));
}

json::Element root_object(const json::Parsed& doc, const char* what) {
  if (!doc.ok()) throw Error(errc::protocol, std::string("openai: ") + what + " is not valid JSON: " + doc.error());
  if (!json::is_object(doc.root())) throw Error(errc::protocol, std::string("openai: ") + what + " is not a JSON object");
  return doc.root();
}

}  // namespace

std::string openai_request_body(const ChatRequest& req, std::string_view model, bool stream,
                                bool use_max_completion_tokens) {
  bj::object body;
  body["model"] = req.model.empty() ? model : std::string_view(req.model);

  bj::array msgs;
  for (const Message& m : req.messages) {
    bj::object o;
    o["role"] = role_name(m.role);
    if (m.role == Role::assistant && !m.tool_calls.empty()) {
      bj::array calls;
      for (const ToolCall& c : m.tool_calls) {
        bj::object fn{{"name", c.name}, {"arguments", c.arguments.empty() ? std::string("{}") : c.arguments}};
        calls.push_back(bj::object{{"id", c.id}, {"type", "function"}, {"function", std::move(fn)}});
      }
      o["content"] = m.content.empty() ? bj::value(nullptr) : bj::value(m.content);
      o["tool_calls"] = std::move(calls);
    } else {
      if (m.role == Role::tool) o["tool_call_id"] = m.tool_call_id;
      o["content"] = m.content;
    }
    msgs.push_back(std::move(o));
  }
  body["messages"] = std::move(msgs);

  if (!req.tools.empty()) {
    bj::array tools;
    for (const ToolSpec& t : req.tools) {
      bj::object fn{{"name", t.name}};
      if (!t.description.empty()) fn["description"] = t.description;
      fn["parameters"] = t.parameters_schema.empty()
                             ? bj::value(bj::object{{"type", "object"}, {"properties", bj::object{}}})
                             : json::required_value(t.parameters_schema, "tool '" + t.name + "' parameters_schema");
      tools.push_back(bj::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    body["tools"] = std::move(tools);
  }
  if (req.tool_choice == "auto" || req.tool_choice == "none" || req.tool_choice == "required")
    body["tool_choice"] = req.tool_choice;
  else if (!req.tool_choice.empty())
    body["tool_choice"] = bj::object{{"type", "function"}, {"function", bj::object{{"name", req.tool_choice}}}};

  if (const auto& rf = req.response_format) {
    bj::object js{{"name", rf->name},
                  {"schema", json::required_value(rf->schema, "response_format '" + rf->name + "' schema")},
                  {"strict", rf->strict}};
    body["response_format"] = bj::object{{"type", "json_schema"}, {"json_schema", std::move(js)}};
  }
  if (req.temperature) body["temperature"] = *req.temperature;
  if (req.max_tokens) body[use_max_completion_tokens ? "max_completion_tokens" : "max_tokens"] = *req.max_tokens;
  if (!req.stop.empty()) {
    bj::array stop;
    for (const auto& s : req.stop) stop.push_back(bj::string(s));
    body["stop"] = std::move(stop);
  }
  if (stream) {
    body["stream"] = true;
    // Without this the stream carries no token counts at all.
    body["stream_options"] = bj::object{{"include_usage", true}};
  }
  return json::dump(body);
}

ChatResponse openai_parse_response(std::string_view body) {
  json::Parsed doc(body);
  json::Element root = root_object(doc, "response");
  if (auto err = json::member(root, "error")) throw error_object(*err, "in response");

  simdjson::dom::array choices;
  auto ch = json::member(root, "choices");
  if (!ch || ch->get(choices) != simdjson::SUCCESS) throw Error(errc::protocol, "openai: response has no choices array");
  if (choices.size() == 0) throw Error(errc::protocol, "openai: response has an empty choices array");
  json::Element choice = choices.at(0).value_unsafe();
  auto msg = json::member(choice, "message");
  if (!msg) throw Error(errc::protocol, "openai: choices[0] has no message");

  ChatResponse r;
  r.id = json::str(root, "id");
  r.model = json::str(root, "model");
  r.text = json::str(*msg, "content");
  if (auto calls = json::member(*msg, "tool_calls"); calls && json::is_array(*calls)) {
    simdjson::dom::array arr = calls->get_array().value_unsafe();
    for (json::Element c : arr) {
      auto fn = json::member(c, "function");
      ToolCall tc;
      tc.id = json::str(c, "id");
      if (fn) {
        tc.name = json::str(*fn, "name");
        tc.arguments = arguments_of(*fn);
      }
      if (tc.arguments.empty()) tc.arguments = "{}";
      r.tool_calls.push_back(std::move(tc));
    }
  }
  if (auto fc = json::member(*msg, "function_call")) {  // legacy single function call, no id
    std::string args = arguments_of(*fc);
    r.tool_calls.push_back({"", std::string(json::str(*fc, "name")), args.empty() ? "{}" : args});
  }
  r.finish_reason = normalise_finish(json::str(choice, "finish_reason"));
  if (auto u = json::member(root, "usage")) r.usage = read_usage(*u);
  return r;
}

void OpenAiStream::on_event(const SseEvent& ev) {
  if (done_) return;  // nothing after [DONE] belongs to this response
  if (ev.data == "[DONE]") {
    done_ = true;
    return;
  }
  if (ev.data.empty()) return;
  json::Parsed doc(ev.data);
  json::Element root = root_object(doc, "stream chunk");
  if (auto err = json::member(root, "error")) {
    Error e = error_object(*err, "in stream");
    e.partial_delivery = delivered_;
    throw e;
  }
  if (resp_.id.empty()) resp_.id = json::str(root, "id");
  if (resp_.model.empty()) resp_.model = json::str(root, "model");
  // The include_usage chunk has empty choices; other servers put usage on the last choice chunk.
  if (auto u = json::member(root, "usage")) resp_.usage = read_usage(*u);

  auto choices = json::member(root, "choices");
  if (!choices || !json::is_array(*choices)) return;
  simdjson::dom::array arr = choices->get_array().value_unsafe();
  for (json::Element choice : arr) {
    if (json::int_or(choice, "index", 0) != 0) continue;  // we never ask for n > 1
    if (auto fr = json::str(choice, "finish_reason"); !fr.empty()) resp_.finish_reason = normalise_finish(fr);
    auto delta = json::member(choice, "delta");
    if (!delta) continue;

    if (std::string_view text = json::str(*delta, "content"); !text.empty()) {
      resp_.text += text;
      if (observer_) {
        delivered_ = true;  // a retry now would show the caller this text twice
        observer_->on_text(text);
      }
    }
    // A tool call fragment: id/name on the first one, arguments in pieces; merged by index.
    auto fragment = [&](std::size_t index, std::string_view id, std::string_view name, std::string_view args) {
      if (index > 1024) throw Error(errc::protocol, "openai: stream chunk has tool call index " + std::to_string(index));
      if (resp_.tool_calls.size() <= index) resp_.tool_calls.resize(index + 1);
      ToolCall& tc = resp_.tool_calls[index];
      if (!id.empty()) tc.id = id;
      if (!name.empty()) tc.name = name;  // some servers repeat the name in every fragment
      tc.arguments += args;
      if (observer_) {
        delivered_ = true;
        observer_->on_tool_call_delta(index, id, name, args);
      }
    };
    if (auto calls = json::member(*delta, "tool_calls"); calls && json::is_array(*calls)) {
      simdjson::dom::array list = calls->get_array().value_unsafe();
      std::size_t pos = 0;
      for (json::Element c : list) {
        std::int64_t index = json::int_or(c, "index", static_cast<std::int64_t>(pos++));
        if (index < 0) throw Error(errc::protocol, "openai: stream chunk has a negative tool call index");
        auto fn = json::member(c, "function");
        std::string args = fn ? arguments_of(*fn) : std::string();
        fragment(static_cast<std::size_t>(index), json::str(c, "id"), fn ? json::str(*fn, "name") : std::string_view(),
                 args);
      }
    }
    if (auto fc = json::member(*delta, "function_call")) fragment(0, {}, json::str(*fc, "name"), arguments_of(*fc));
  }
}

ChatResponse OpenAiStream::finish() {
  if (!done_) {
    Error e(errc::protocol, "openai: stream ended before [DONE]");
    e.partial_delivery = delivered_;
    throw e;
  }
  ChatResponse r = std::move(resp_);
  std::erase_if(r.tool_calls, [](const ToolCall& c) { return c.id.empty() && c.name.empty() && c.arguments.empty(); });
  for (ToolCall& c : r.tool_calls)
    if (c.arguments.empty()) c.arguments = "{}";
  resp_ = {};
  return r;
}

// ---------------------------------------------------------------------------------------------
// HTTP errors (shared by all providers)

namespace {

constexpr std::size_t kExcerptBytes = 300;    // of a body we could not interpret
constexpr std::size_t kMessageBytes = 4000;   // of a provider's error message (context-length errors are long)

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// At most `max` bytes of `s`, cut on a UTF-8 character boundary.
std::string excerpt(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // s[n] continues a character
  s.resize(n);
  return s;
}

// The provider's own words from an error body, or "" when the body has none we recognise.
std::string provider_message(std::string_view body) {
  json::Parsed doc(body);
  if (!doc.ok()) return {};
  auto err = json::member(doc.root(), "error");
  if (err && err->is_string()) return std::string(json::str(doc.root(), "error"));  // Ollama {"error":"text"}
  if (err && json::is_object(*err)) return json::error_text(*err);  // OpenAI, Anthropic
  return json::error_text(doc.root());  // a bare {"message":…} from some proxies
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  value = trim(value);
  if (value.empty() || value.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
  // delta-seconds; a fraction ("1.5") is not standard but some servers send it. HTTP-dates fall out
  // above (they contain letters) and give no hint.
  double secs = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), secs, std::chars_format::fixed);
  if (ec != std::errc{} || end != value.data() + value.size() || !std::isfinite(secs)) return std::nullopt;
  constexpr double kMaxSecs = 7 * 24 * 3600.0;  // anything longer is nonsense; do not overflow
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(std::min(secs, kMaxSecs) * 1000.0)));
}

Error error_from_http(int status, std::string_view body, std::string_view retry_after_header,
                      std::string_view provider, std::string_view secret) {
  struct Kind {
    errc code;
    const char* what;
  };
  const Kind kind = [status]() -> Kind {
    if (status == 401) return {errc::auth, "unauthorized"};
    if (status == 403) return {errc::auth, "forbidden"};
    if (status == 429) return {errc::rate_limited, "rate limited"};
    if (status == 408) return {errc::timeout, "request timeout"};
    if (status == 529) return {errc::server_error, "overloaded"};  // Anthropic's "overloaded"
    if (status >= 500 && status <= 599) return {errc::server_error, "server error"};
    if (status >= 400 && status <= 499) return {errc::provider_error, "request rejected"};
    return {errc::http_status, "unexpected status"};
  }();

  // Redact before cutting, so that a key straddling the cut cannot leave a fragment behind.
  std::string text = provider_message(body);
  std::size_t max = kMessageBytes;
  if (text.empty()) {
    text = std::string(trim(body));
    max = kExcerptBytes;
  }
  text = excerpt(redact(std::move(text), secret), max);

  Error e(kind.code, std::string(provider) + ": HTTP " + std::to_string(status) + " " + kind.what, std::move(text));
  e.http_status = status;
  e.retry_after = parse_retry_after(retry_after_header);
  return e;
}

}  // namespace mlrc::detail
