// The library's neutral JSON for requests and responses (cassettes, run store, --json, C ABI),
// and the canonical form that request hashes are computed over.

#include <mlrcopilot/json.hpp>

#include "json_util.hpp"

#include <openssl/evp.h>

#include <limits>

namespace mlrc {
inline namespace v1 {

const char* role_name(Role r) noexcept {
  switch (r) {
    case Role::system: return "system";
    case Role::user: return "user";
    case Role::assistant: return "assistant";
    case Role::tool: return "tool";
  }
  return "unknown";
}

namespace {

namespace bj = boost::json;
namespace json = detail::json;
using json::Element;

// ---------------------------------------------------------------------------------------------
// Writing. Fields at their default are left out of messages; optionals are left out when unset.

// In canonical form, JSON text fields (schemas, arguments) are embedded as sorted JSON so that
// formatting does not change the hash. Only objects and arrays are embedded: a scalar could not
// be told apart from the same text given as a plain string.
bj::value text_field(const std::string& text, bool canonical) {
  if (canonical)
    if (auto v = json::parse_value(text); v && (v->is_object() || v->is_array())) return std::move(*v);
  return bj::value(text);
}

bj::array tool_calls_value(const std::vector<ToolCall>& calls, bool canonical) {
  bj::array a;
  for (const ToolCall& c : calls)
    a.push_back(bj::object{{"id", c.id}, {"name", c.name}, {"arguments", text_field(c.arguments, canonical)}});
  return a;
}

bj::object usage_value(const Usage& u) {
  return {{"input_tokens", u.input_tokens},
          {"output_tokens", u.output_tokens},
          {"cached_input_tokens", u.cached_input_tokens},
          {"cache_write_tokens", u.cache_write_tokens}};
}

bj::object request_value(const ChatRequest& r, bool canonical) {
  bj::object o;
  o["model"] = r.model;
  bj::array msgs;
  for (const Message& m : r.messages) {
    bj::object mo{{"role", role_name(m.role)}, {"content", m.content}};
    if (!m.tool_calls.empty()) mo["tool_calls"] = tool_calls_value(m.tool_calls, canonical);
    if (!m.tool_call_id.empty()) mo["tool_call_id"] = m.tool_call_id;
    if (!m.name.empty()) mo["name"] = m.name;
    if (m.is_error) mo["is_error"] = true;
    if (m.cache_breakpoint) mo["cache_breakpoint"] = true;
    msgs.push_back(std::move(mo));
  }
  o["messages"] = std::move(msgs);
  bj::array tools;
  for (const ToolSpec& t : r.tools)
    tools.push_back(bj::object{{"name", t.name},
                               {"description", t.description},
                               {"parameters_schema", text_field(t.parameters_schema, canonical)}});
  o["tools"] = std::move(tools);
  o["tool_choice"] = r.tool_choice;
  if (r.response_format)
    o["response_format"] = bj::object{{"name", r.response_format->name},
                                      {"schema", text_field(r.response_format->schema, canonical)},
                                      {"strict", r.response_format->strict}};
  if (r.temperature) o["temperature"] = *r.temperature;
  if (r.max_tokens) o["max_tokens"] = *r.max_tokens;
  bj::array stop;
  for (const auto& s : r.stop) stop.push_back(bj::string(s));
  o["stop"] = std::move(stop);
  if (!canonical) {  // neither changes the reply, so neither is hashed
    o["stream"] = r.stream;
    o["timeout_ms"] = static_cast<std::int64_t>(r.timeout.count());
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Reading. Absent and null fields keep the struct's default; unknown fields are ignored; a field
// of the wrong type is an error naming it.

class Reader {
 public:
  explicit Reader(const char* what) : what_(what) {}

  [[noreturn]] void fail(const std::string& field, std::string_view expected) const {
    throw Error(errc::parse, std::string(what_) + ": field '" + field + "': " + std::string(expected));
  }

  Element parse(const json::Parsed& doc) const {
    if (!doc.ok()) throw Error(errc::parse, std::string(what_) + ": invalid JSON: " + doc.error());
    if (!json::is_object(doc.root())) throw Error(errc::parse, std::string(what_) + ": expected a JSON object");
    return doc.root();
  }

  void string(Element o, const char* key, const std::string& path, std::string& out) const {
    if (auto v = json::member(o, key)) {
      std::string_view s;
      if (v->get(s) != simdjson::SUCCESS) fail(path, "expected a string");
      out = s;
    }
  }
  // JSON text kept as a string; an object or array written inline is accepted too.
  void json_text(Element o, const char* key, const std::string& path, std::string& out) const {
    if (auto v = json::member(o, key)) {
      if (json::is_object(*v) || json::is_array(*v)) out = json::text_of(*v);
      else string(o, key, path, out);
    }
  }
  template <class Int>
  bool integer(Element o, const char* key, const std::string& path, Int& out) const {
    auto v = json::member(o, key);
    if (!v) return false;
    std::int64_t n = 0;
    bool bad = v->get(n) != simdjson::SUCCESS || n < 0;
    if constexpr (sizeof(Int) < sizeof(std::int64_t)) bad = bad || n > std::numeric_limits<Int>::max();
    if (bad) fail(path, "expected a non-negative integer");
    out = static_cast<Int>(n);
    return true;
  }
  bool number(Element o, const char* key, const std::string& path, double& out) const {
    auto v = json::member(o, key);
    if (!v) return false;
    if (v->get(out) != simdjson::SUCCESS) fail(path, "expected a number");
    return true;
  }
  void boolean(Element o, const char* key, const std::string& path, bool& out) const {
    if (auto v = json::member(o, key))
      if (v->get(out) != simdjson::SUCCESS) fail(path, "expected true or false");
  }
  std::optional<simdjson::dom::array> array(Element o, const char* key, const std::string& path) const {
    auto v = json::member(o, key);
    if (!v) return std::nullopt;
    simdjson::dom::array a;
    if (v->get(a) != simdjson::SUCCESS) fail(path, "expected an array");
    return a;
  }
  std::optional<Element> object(Element o, const char* key, const std::string& path) const {
    auto v = json::member(o, key);
    if (v && !json::is_object(*v)) fail(path, "expected an object");
    return v;
  }
  Element object_item(Element e, const std::string& path) const {
    if (!json::is_object(e)) fail(path, "expected an object");
    return e;
  }

  std::vector<ToolCall> tool_calls(Element o, const std::string& path) const {
    std::vector<ToolCall> out;
    auto a = array(o, "tool_calls", path);
    if (!a) return out;
    std::size_t i = 0;
    for (Element e : *a) {
      std::string p = path + "[" + std::to_string(i++) + "]";
      Element c = object_item(e, p);
      ToolCall tc;
      string(c, "id", p + ".id", tc.id);
      string(c, "name", p + ".name", tc.name);
      json_text(c, "arguments", p + ".arguments", tc.arguments);
      out.push_back(std::move(tc));
    }
    return out;
  }

  Usage usage(Element o, const std::string& path) const {
    Usage u;
    integer(o, "input_tokens", path + ".input_tokens", u.input_tokens);
    integer(o, "output_tokens", path + ".output_tokens", u.output_tokens);
    integer(o, "cached_input_tokens", path + ".cached_input_tokens", u.cached_input_tokens);
    integer(o, "cache_write_tokens", path + ".cache_write_tokens", u.cache_write_tokens);
    return u;
  }

 private:
  const char* what_;
};

Role parse_role(const Reader& rd, Element m, const std::string& path) {
  std::string s;
  rd.string(m, "role", path, s);
  if (s == "system") return Role::system;
  if (s == "user") return Role::user;
  if (s == "assistant") return Role::assistant;
  if (s == "tool") return Role::tool;
  rd.fail(path, "expected one of system,user,assistant,tool");
}

}  // namespace

std::string to_json(const ChatRequest& r) { return json::dump(request_value(r, false)); }

std::string to_json(const Usage& u) { return json::dump(usage_value(u)); }

std::string to_json(const ChatResponse& r) {
  bj::object o{{"id", r.id},
               {"model", r.model},
               {"text", r.text},
               {"tool_calls", tool_calls_value(r.tool_calls, false)},
               {"finish_reason", r.finish_reason},
               {"usage", usage_value(r.usage)},
               {"cost_usd", r.cost_usd},
               {"attempts", r.attempts},
               {"from_cassette", r.from_cassette},
               {"overhead_us", static_cast<std::int64_t>(r.overhead.count())}};
  return json::dump(o);
}

ChatRequest chat_request_from_json(std::string_view text) {
  const Reader rd("chat request");
  json::Parsed doc(text);
  Element root = rd.parse(doc);
  ChatRequest r;
  rd.string(root, "model", "model", r.model);
  if (auto msgs = rd.array(root, "messages", "messages")) {
    std::size_t i = 0;
    for (Element e : *msgs) {
      std::string p = "messages[" + std::to_string(i++) + "]";
      Element mo = rd.object_item(e, p);
      Message m;
      m.role = parse_role(rd, mo, p + ".role");
      rd.string(mo, "content", p + ".content", m.content);
      m.tool_calls = rd.tool_calls(mo, p + ".tool_calls");
      rd.string(mo, "tool_call_id", p + ".tool_call_id", m.tool_call_id);
      rd.string(mo, "name", p + ".name", m.name);
      rd.boolean(mo, "is_error", p + ".is_error", m.is_error);
      rd.boolean(mo, "cache_breakpoint", p + ".cache_breakpoint", m.cache_breakpoint);
      r.messages.push_back(std::move(m));
    }
  }
  if (auto tools = rd.array(root, "tools", "tools")) {
    std::size_t i = 0;
    for (Element e : *tools) {
      std::string p = "tools[" + std::to_string(i++) + "]";
      Element to = rd.object_item(e, p);
      ToolSpec t;
      rd.string(to, "name", p + ".name", t.name);
      rd.string(to, "description", p + ".description", t.description);
      rd.json_text(to, "parameters_schema", p + ".parameters_schema", t.parameters_schema);
      r.tools.push_back(std::move(t));
    }
  }
  rd.string(root, "tool_choice", "tool_choice", r.tool_choice);
  if (auto rf = rd.object(root, "response_format", "response_format")) {
    ResponseFormat f;
    rd.string(*rf, "name", "response_format.name", f.name);
    rd.json_text(*rf, "schema", "response_format.schema", f.schema);
    rd.boolean(*rf, "strict", "response_format.strict", f.strict);
    r.response_format = std::move(f);
  }
  if (double t = 0; rd.number(root, "temperature", "temperature", t)) r.temperature = t;
  if (std::int64_t n = 0; rd.integer(root, "max_tokens", "max_tokens", n)) r.max_tokens = n;
  if (auto stop = rd.array(root, "stop", "stop")) {
    std::size_t i = 0;
    for (Element e : *stop) {
      std::string_view s;
      if (e.get(s) != simdjson::SUCCESS) rd.fail("stop[" + std::to_string(i) + "]", "expected a string");
      r.stop.emplace_back(s);
      ++i;
    }
  }
  rd.boolean(root, "stream", "stream", r.stream);
  if (std::int64_t ms = 0; rd.integer(root, "timeout_ms", "timeout_ms", ms)) r.timeout = std::chrono::milliseconds(ms);
  return r;
}

ChatResponse chat_response_from_json(std::string_view text) {
  const Reader rd("chat response");
  json::Parsed doc(text);
  Element root = rd.parse(doc);
  ChatResponse r;
  rd.string(root, "id", "id", r.id);
  rd.string(root, "model", "model", r.model);
  rd.string(root, "text", "text", r.text);
  r.tool_calls = rd.tool_calls(root, "tool_calls");
  rd.string(root, "finish_reason", "finish_reason", r.finish_reason);
  if (auto u = rd.object(root, "usage", "usage")) r.usage = rd.usage(*u, "usage");
  rd.number(root, "cost_usd", "cost_usd", r.cost_usd);
  rd.integer(root, "attempts", "attempts", r.attempts);
  rd.boolean(root, "from_cassette", "from_cassette", r.from_cassette);
  if (std::int64_t us = 0; rd.integer(root, "overhead_us", "overhead_us", us)) r.overhead = std::chrono::microseconds(us);
  return r;
}

std::string canonical_request_json(const ChatRequest& r) { return json::dump(request_value(r, true), true); }

std::string request_hash(const ChatRequest& r) {
  const std::string text = canonical_request_json(r);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw Error(errc::internal, "request_hash: SHA-256 failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xF];
  }
  return out;
}

}  // namespace v1
}  // namespace mlrc
