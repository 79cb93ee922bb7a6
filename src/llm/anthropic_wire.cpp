// Anthropic Messages API wire format.

#include "json_util.hpp"
#include "wire.hpp"

namespace mlrc::detail {

namespace bj = boost::json;

namespace {

constexpr std::int64_t kDefaultMaxTokens = 4096;  // the API requires max_tokens

std::string map_stop_reason(std::string_view r) {
  if (r == "end_turn" || r == "stop_sequence") return "stop";
  if (r == "max_tokens") return "length";
  if (r == "tool_use") return "tool_calls";
  if (r == "refusal") return "content_filter";
  return std::string(r);  // e.g. "pause_turn": the provider's word
}

// Anthropic reports uncached input apart from cache reads and writes; our input_tokens is the
// whole prompt, as with OpenAI.
Usage read_usage(json::Element u) {
  Usage out;
  out.cached_input_tokens = json::int_or(u, "cache_read_input_tokens");
  out.cache_write_tokens = json::int_or(u, "cache_creation_input_tokens");
  out.input_tokens = json::int_or(u, "input_tokens") + out.cached_input_tokens + out.cache_write_tokens;
  out.output_tokens = json::int_or(u, "output_tokens");
  return out;
}

// message_delta usage is cumulative and usually only has output_tokens; newer API versions also
// repeat the input counts. Update only what is present.
void update_usage(Usage& usage, json::Element u) {
  std::int64_t uncached = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens;
  if (json::member(u, "output_tokens")) usage.output_tokens = json::int_or(u, "output_tokens");
  if (json::member(u, "cache_read_input_tokens")) usage.cached_input_tokens = json::int_or(u, "cache_read_input_tokens");
  if (json::member(u, "cache_creation_input_tokens"))
    usage.cache_write_tokens = json::int_or(u, "cache_creation_input_tokens");
  if (json::member(u, "input_tokens")) uncached = json::int_or(u, "input_tokens");
  usage.input_tokens = uncached + usage.cached_input_tokens + usage.cache_write_tokens;
}

Error error_event(json::Element err, const char* where) {
  std::string_view type = json::str(err, "type");
  errc code = errc::provider_error;
  if (type == "overloaded_error" || type == "api_error") code = errc::server_error;  // api_error is their 500
  else if (type == "rate_limit_error") code = errc::rate_limited;
  return Error(code, std::string("anthropic: error ") + where, json::error_text(err));
}

json::Element root_object(const json::Parsed& doc, const char* what) {
  if (!doc.ok()) throw Error(errc::protocol, std::string("anthropic: ") + what + " is not valid JSON: " + doc.error());
  if (!json::is_object(doc.root())) throw Error(errc::protocol, std::string("anthropic: ") + what + " is not a JSON object");
  return doc.root();
}

bj::object text_block(const std::string& text) { return bj::object{{"type", "text"}, {"text", text}}; }

void mark_cache(bj::array& blocks) {
  if (!blocks.empty()) blocks.back().as_object()["cache_control"] = bj::object{{"type", "ephemeral"}};
}

}  // namespace

std::string anthropic_request_body(const ChatRequest& req, std::string_view model, bool stream) {
  bj::object body;
  body["model"] = req.model.empty() ? model : std::string_view(req.model);
  body["max_tokens"] = req.max_tokens.value_or(kDefaultMaxTokens);

  // System messages (wherever they are) become one text block each, in order; the API reads the
  // blocks as one prompt. Empty ones are dropped: the API rejects empty text blocks.
  bj::array system;
  for (const Message& m : req.messages) {
    if (m.role != Role::system || m.content.empty()) continue;
    system.push_back(text_block(m.content));
    if (m.cache_breakpoint) mark_cache(system);
  }
  if (!system.empty()) body["system"] = std::move(system);

  bj::array msgs;
  bool last_is_tool_results = false;  // consecutive tool results share one user message
  for (const Message& m : req.messages) {
    if (m.role == Role::system) continue;
    bj::array blocks;
    if (m.role == Role::tool) {
      bj::object r{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.content}};
      if (m.is_error) r["is_error"] = true;
      if (m.cache_breakpoint) r["cache_control"] = bj::object{{"type", "ephemeral"}};
      if (last_is_tool_results) {
        msgs.back().as_object()["content"].as_array().push_back(std::move(r));
        continue;
      }
      blocks.push_back(std::move(r));
    } else if (m.role == Role::assistant) {
      if (!m.content.empty()) blocks.push_back(text_block(m.content));
      for (const ToolCall& c : m.tool_calls) {
        auto input = c.arguments.empty() ? std::optional<bj::value>(bj::object{}) : json::parse_value(c.arguments);
        if (!input)
          throw Error(errc::invalid_argument, "tool call '" + c.id + "' (" + c.name + "): arguments are not valid JSON");
        blocks.push_back(bj::object{{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", std::move(*input)}});
      }
      if (blocks.empty()) continue;  // nothing said: the API rejects an empty turn
    } else {
      blocks.push_back(text_block(m.content));
    }
    if (m.cache_breakpoint && m.role != Role::tool) mark_cache(blocks);
    msgs.push_back(bj::object{{"role", m.role == Role::assistant ? "assistant" : "user"}, {"content", std::move(blocks)}});
    last_is_tool_results = m.role == Role::tool;
  }
  body["messages"] = std::move(msgs);

  bj::array tools;
  for (const ToolSpec& t : req.tools) {
    bj::object o{{"name", t.name}};
    if (!t.description.empty()) o["description"] = t.description;
    o["input_schema"] = t.parameters_schema.empty()
                            ? bj::value(bj::object{{"type", "object"}, {"properties", bj::object{}}})
                            : json::required_value(t.parameters_schema, "tool '" + t.name + "' parameters_schema");
    tools.push_back(std::move(o));
  }
  if (const auto& rf = req.response_format) {
    // No structured-output field here: a tool whose input is the reply, forced below.
    tools.push_back(bj::object{
        {"name", rf->name},
        {"description", "Give the response as this tool's input. It must match the schema."},
        {"input_schema", json::required_value(rf->schema, "response_format '" + rf->name + "' schema")}});
    body["tool_choice"] = bj::object{{"type", "tool"}, {"name", rf->name}};
  } else if (req.tool_choice == "auto" || req.tool_choice == "none") {
    body["tool_choice"] = bj::object{{"type", req.tool_choice}};
  } else if (req.tool_choice == "required") {
    body["tool_choice"] = bj::object{{"type", "any"}};
  } else if (!req.tool_choice.empty()) {
    body["tool_choice"] = bj::object{{"type", "tool"}, {"name", req.tool_choice}};
  }
  if (!tools.empty()) body["tools"] = std::move(tools);

  if (req.temperature) body["temperature"] = *req.temperature;
  if (!req.stop.empty()) {
    bj::array stop;
    for (const auto& s : req.stop) stop.push_back(bj::string(s));
    body["stop_sequences"] = std::move(stop);
  }
  if (stream) body["stream"] = true;
  return json::dump(body);
}

ChatResponse anthropic_parse_response(std::string_view body, std::string_view structured_tool) {
  json::Parsed doc(body);
  json::Element root = root_object(doc, "response");
  if (json::str(root, "type") == "error" || json::member(root, "error")) {
    auto err = json::member(root, "error");
    throw error_event(err ? *err : root, "object in response");
  }
  simdjson::dom::array content;
  auto c = json::member(root, "content");
  if (!c || c->get(content) != simdjson::SUCCESS) throw Error(errc::protocol, "anthropic: response has no content array");

  ChatResponse r;
  r.id = json::str(root, "id");
  r.model = json::str(root, "model");
  bool structured = false;
  for (json::Element block : content) {
    std::string_view type = json::str(block, "type");
    if (type == "text") {
      if (!structured) r.text += json::str(block, "text");
    } else if (type == "tool_use") {
      auto input = json::member(block, "input");
      std::string args = input ? json::text_of(*input) : "{}";
      if (!structured_tool.empty() && json::str(block, "name") == structured_tool) {
        r.text = std::move(args);  // the structured reply replaces any prose around it
        structured = true;
      } else {
        r.tool_calls.push_back({std::string(json::str(block, "id")), std::string(json::str(block, "name")), std::move(args)});
      }
    }  // thinking and other block types are not part of the reply
  }
  r.finish_reason = structured ? "stop" : map_stop_reason(json::str(root, "stop_reason"));
  if (auto u = json::member(root, "usage")) r.usage = read_usage(*u);
  return r;
}

void AnthropicStream::on_event(const SseEvent& ev) {
  if (done_ || ev.data.empty()) return;
  json::Parsed doc(ev.data);
  json::Element root = root_object(doc, "stream event");
  // The data's own "type" is authoritative; the SSE event name repeats it.
  std::string_view type = json::str(root, "type", ev.event);

  auto block_at = [&](const char* what) -> Block& {
    std::int64_t i = json::int_or(root, "index", -1);
    if (i < 0 || static_cast<std::size_t>(i) >= blocks_.size())
      throw Error(errc::protocol, std::string("anthropic: ") + what + " for unknown content block " + std::to_string(i));
    return blocks_[static_cast<std::size_t>(i)];
  };
  auto structured_seen = [&] {
    return std::any_of(blocks_.begin(), blocks_.end(), [](const Block& b) { return b.type == "structured"; });
  };
  auto text_out = [&](std::string_view text) {
    if (text.empty()) return;
    resp_.text += text;
    if (!observer_) return;
    delivered_ = true;  // from here on a retry would show the caller text twice
    observer_->on_text(text);
  };

  if (type == "message_start") {
    auto msg = json::member(root, "message");
    if (!msg) throw Error(errc::protocol, "anthropic: message_start without message");
    resp_.id = json::str(*msg, "id");
    resp_.model = json::str(*msg, "model");
    if (auto u = json::member(*msg, "usage")) resp_.usage = read_usage(*u);
  } else if (type == "content_block_start") {
    std::int64_t i = json::int_or(root, "index", -1);
    auto cb = json::member(root, "content_block");
    if (i < 0 || i > 4096 || !cb) throw Error(errc::protocol, "anthropic: malformed content_block_start");
    if (blocks_.size() <= static_cast<std::size_t>(i)) blocks_.resize(static_cast<std::size_t>(i) + 1);
    Block& b = blocks_[static_cast<std::size_t>(i)];
    b.type = json::str(*cb, "type");
    if (b.type == "text") {
      if (!structured_seen()) text_out(json::str(*cb, "text"));
    } else if (b.type == "tool_use" && !structured_tool_.empty() && json::str(*cb, "name") == structured_tool_) {
      b.type = "structured";  // its input is the reply text
      resp_.text.clear();     // the structured reply replaces any prose before it
    } else if (b.type == "tool_use") {
      b.tool_index = resp_.tool_calls.size();
      resp_.tool_calls.push_back({std::string(json::str(*cb, "id")), std::string(json::str(*cb, "name")), {}});
      const ToolCall& tc = resp_.tool_calls.back();
      if (observer_) {
        delivered_ = true;
        observer_->on_tool_call_delta(b.tool_index, tc.id, tc.name, {});
      }
    }
  } else if (type == "content_block_delta") {
    Block& b = block_at("content_block_delta");
    auto delta = json::member(root, "delta");
    if (!delta) throw Error(errc::protocol, "anthropic: content_block_delta without delta");
    std::string_view dtype = json::str(*delta, "type");
    if (dtype == "text_delta" && b.type == "text") {
      if (!structured_seen()) text_out(json::str(*delta, "text"));
    } else if (dtype == "input_json_delta" && b.type == "structured") {
      text_out(json::str(*delta, "partial_json"));
    } else if (dtype == "input_json_delta" && b.type == "tool_use") {
      std::string_view part = json::str(*delta, "partial_json");
      resp_.tool_calls[b.tool_index].arguments += part;
      if (observer_ && !part.empty()) {
        delivered_ = true;
        observer_->on_tool_call_delta(b.tool_index, {}, {}, part);
      }
    }  // thinking_delta, signature_delta, …: not part of the reply
  } else if (type == "content_block_stop") {
    Block& b = block_at("content_block_stop");
    // A tool called without arguments streams no partial_json at all; give the observer the same
    // "{}" the response will hold.
    if (b.type == "tool_use" && resp_.tool_calls[b.tool_index].arguments.empty()) {
      resp_.tool_calls[b.tool_index].arguments = "{}";
      if (observer_) {
        delivered_ = true;
        observer_->on_tool_call_delta(b.tool_index, {}, {}, "{}");
      }
    } else if (b.type == "structured" && resp_.text.empty()) {
      text_out("{}");
    }
  } else if (type == "message_delta") {
    if (auto delta = json::member(root, "delta"))
      if (auto sr = json::str(*delta, "stop_reason"); !sr.empty()) resp_.finish_reason = map_stop_reason(sr);
    if (auto u = json::member(root, "usage")) update_usage(resp_.usage, *u);
  } else if (type == "message_stop") {
    done_ = true;
  } else if (type == "error") {
    auto err = json::member(root, "error");
    Error e = error_event(err ? *err : root, "event in stream");
    e.partial_delivery = delivered_;
    throw e;
  }
  // "ping" and event types added after this was written are ignored, as the API asks.
}

ChatResponse AnthropicStream::finish() {
  if (!done_) {
    Error e(errc::protocol, "anthropic: stream ended before message_stop");
    e.partial_delivery = delivered_;
    throw e;
  }
  ChatResponse r = std::move(resp_);
  for (ToolCall& c : r.tool_calls)
    if (c.arguments.empty()) c.arguments = "{}";
  bool structured = std::any_of(blocks_.begin(), blocks_.end(), [](const Block& b) { return b.type == "structured"; });
  if (structured) {
    if (r.text.empty()) r.text = "{}";
    r.finish_reason = "stop";
  }
  resp_ = {};
  blocks_.clear();
  return r;
}

}  // namespace mlrc::detail
