// The neutral JSON codec, canonical request JSON and request hashes.

#include <catch2/catch.hpp>

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/json.hpp>

#include <simdjson.h>

#include <functional>

using namespace mlrc;
using Catch::Matchers::Contains;

namespace {

using R = simdjson::simdjson_result<simdjson::dom::element>;
bool has(R r) { return r.error() == simdjson::SUCCESS; }

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no mlrc::Error thrown");
  throw std::logic_error("unreachable");
}

ChatRequest full_request() {
  ChatRequest r;
  r.model = "gpt-test";
  Message sys = Message::system("be brief");
  sys.cache_breakpoint = true;
  r.messages.push_back(sys);
  r.messages.push_back(Message::user("weather in \"Paris\"?\n\xC3\xA9t\xC3\xA9"));
  Message call = Message::assistant("");
  call.tool_calls.push_back({"call_1", "get_weather", R"({"city": "Paris"})"});
  call.tool_calls.push_back({"call_2", "now", "not json at all"});
  r.messages.push_back(call);
  r.messages.push_back(Message::tool_result("call_1", "get_weather", "sunny"));
  r.messages.push_back(Message::tool_result("call_2", "now", "boom", true));
  r.tools.push_back({"get_weather", "Weather for a city", R"({"type":"object","properties":{"city":{"type":"string"}}})"});
  r.tools.push_back({"now", "", R"({"type":"object","properties":{}})"});
  r.tool_choice = "auto";
  r.response_format = ResponseFormat{"answer", R"({"type":"object"})", false};
  r.temperature = 0.7;
  r.max_tokens = 256;
  r.stop = {"END", "\n\n"};
  r.stream = true;
  r.timeout = std::chrono::milliseconds(30000);
  return r;
}

// True if every object in `e` has its keys in byte order.
bool keys_sorted(simdjson::dom::element e) {
  if (e.type() == simdjson::dom::element_type::OBJECT) {
    std::string_view prev;
    bool first = true;
    for (auto kv : simdjson::dom::object(e)) {
      if (!first && !(prev < kv.key)) return false;
      prev = kv.key;
      first = false;
      if (!keys_sorted(kv.value)) return false;
    }
  } else if (e.type() == simdjson::dom::element_type::ARRAY) {
    for (auto x : simdjson::dom::array(e))
      if (!keys_sorted(x)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("role names", "[json]") {
  CHECK(std::string(role_name(Role::system)) == "system");
  CHECK(std::string(role_name(Role::user)) == "user");
  CHECK(std::string(role_name(Role::assistant)) == "assistant");
  CHECK(std::string(role_name(Role::tool)) == "tool");
}

TEST_CASE("chat request round-trips through JSON", "[json]") {
  const ChatRequest req = full_request();
  const std::string text = to_json(req);
  ChatRequest back = chat_request_from_json(text);
  CHECK(back == req);
  CHECK(back.temperature == 0.7);  // shortest round-trip form keeps the exact double
  CHECK(to_json(back) == text);

  simdjson::dom::parser p;
  simdjson::dom::element j = p.parse(text);
  CHECK(std::string_view(j["messages"].at(0)["role"]) == "system");
  CHECK(std::int64_t(j["timeout_ms"]) == 30000);
  CHECK(std::string_view(j["tools"].at(0)["parameters_schema"]).substr(0, 1) == "{");  // text stays text
  CHECK(bool(j["messages"].at(4)["is_error"]));
}

TEST_CASE("unset optional fields are omitted", "[json]") {
  ChatRequest req;
  req.messages.push_back(Message::user("hi"));
  simdjson::dom::parser p;
  simdjson::dom::element j = p.parse(to_json(req));
  CHECK_FALSE(has(j["temperature"]));
  CHECK_FALSE(has(j["max_tokens"]));
  CHECK_FALSE(has(j["response_format"]));
  CHECK_FALSE(has(j["messages"].at(0)["tool_calls"]));
  CHECK_FALSE(has(j["messages"].at(0)["is_error"]));
  CHECK(has(j["messages"].at(0)["content"]));
  CHECK(chat_request_from_json(to_json(req)) == req);
}

TEST_CASE("chat response round-trips through JSON", "[json]") {
  ChatResponse r;
  r.id = "msg_1";
  r.model = "claude-test";
  r.text = "Hello \"world\"";
  r.tool_calls.push_back({"toolu_1", "get_weather", R"({"city":"Paris"})"});
  r.finish_reason = "tool_calls";
  r.usage = Usage{950, 20, 800, 50};
  r.cost_usd = 0.0125;
  r.attempts = 3;
  r.from_cassette = true;
  r.overhead = std::chrono::microseconds(1234);

  ChatResponse b = chat_response_from_json(to_json(r));
  CHECK(b.id == r.id);
  CHECK(b.model == r.model);
  CHECK(b.text == r.text);
  CHECK(b.tool_calls == r.tool_calls);
  CHECK(b.finish_reason == r.finish_reason);
  CHECK(b.usage == r.usage);
  CHECK(b.cost_usd == r.cost_usd);
  CHECK(b.attempts == 3);
  CHECK(b.from_cassette);
  CHECK(b.overhead == r.overhead);
}

TEST_CASE("usage JSON", "[json]") {
  simdjson::dom::parser p;
  simdjson::dom::element j = p.parse(to_json(Usage{10, 5, 4, 2}));
  CHECK(std::int64_t(j["input_tokens"]) == 10);
  CHECK(std::int64_t(j["output_tokens"]) == 5);
  CHECK(std::int64_t(j["cached_input_tokens"]) == 4);
  CHECK(std::int64_t(j["cache_write_tokens"]) == 2);
}

TEST_CASE("canonical request JSON has an exact form", "[json]") {
  ChatRequest r;
  r.model = "m";
  r.messages.push_back(Message::user("hi"));
  r.stream = true;
  r.timeout = std::chrono::milliseconds(5);
  CHECK(canonical_request_json(r) ==
        R"({"messages":[{"content":"hi","role":"user"}],"model":"m","stop":[],"tool_choice":"","tools":[]})");
  // sha256 of the line above, computed independently
  CHECK(request_hash(r) == "e8553fa0d8f110e831db43c1bcb86222fa3d19548b4181e85187355c0a063023");
}

TEST_CASE("canonical request JSON sorts keys and embeds JSON text", "[json]") {
  const std::string canon = canonical_request_json(full_request());
  simdjson::dom::parser p;
  simdjson::dom::element j = p.parse(canon);
  CHECK(keys_sorted(j));
  CHECK_FALSE(has(j["stream"]));
  CHECK_FALSE(has(j["timeout_ms"]));
  // Schemas and arguments that are JSON are embedded as values; other text stays a string.
  CHECK(std::string_view(j["tools"].at(0)["parameters_schema"]["properties"]["city"]["type"]) == "string");
  CHECK(std::string_view(j["messages"].at(2)["tool_calls"].at(0)["arguments"]["city"]) == "Paris");
  CHECK(std::string_view(j["messages"].at(2)["tool_calls"].at(1)["arguments"]) == "not json at all");
  CHECK(std::string_view(j["response_format"]["schema"]["type"]) == "object");
  CHECK(canon.find(": ") == std::string::npos);  // no whitespace added (none in the strings here)
}

TEST_CASE("request hash ignores field order, formatting, stream and timeout", "[json]") {
  const ChatRequest base = full_request();
  const std::string h = request_hash(base);
  REQUIRE(h.size() == 64);
  CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);

  ChatRequest other = base;
  other.stream = !base.stream;
  other.timeout = std::chrono::milliseconds(1);
  CHECK(request_hash(other) == h);

  other.tools[0].parameters_schema = R"({ "properties" : { "city" : {"type":"string"} }, "type" : "object" })";
  other.messages[2].tool_calls[0].arguments = R"({"city":"Paris"})";
  CHECK(request_hash(other) == h);

  // The same request written with fields in another order.
  const std::string a = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"timeout_ms":5,
                            "tools":[{"name":"t","description":"d","parameters_schema":"{\"type\":\"object\"}"}]})";
  const std::string b = R"({"tools":[{"parameters_schema":"{ \"type\" : \"object\" }","description":"d","name":"t"}],
                            "messages":[{"content":"hi","role":"user"}],"model":"m"})";
  CHECK(request_hash(chat_request_from_json(a)) == request_hash(chat_request_from_json(b)));
}

TEST_CASE("request hash changes when the request does", "[json]") {
  const ChatRequest base = full_request();
  const std::string h = request_hash(base);
  auto changed = [&](const std::function<void(ChatRequest&)>& edit) {
    ChatRequest r = base;
    edit(r);
    return request_hash(r) != h;
  };
  CHECK(changed([](ChatRequest& r) { r.messages[1].content += "!"; }));
  CHECK(changed([](ChatRequest& r) { r.messages[3].tool_call_id = "call_9"; }));
  CHECK(changed([](ChatRequest& r) { r.messages[2].tool_calls[0].arguments = R"({"city":"Rome"})"; }));
  CHECK(changed([](ChatRequest& r) { r.model = "gpt-other"; }));
  CHECK(changed([](ChatRequest& r) { r.temperature = 0.8; }));
  CHECK(changed([](ChatRequest& r) { r.temperature.reset(); }));
  CHECK(changed([](ChatRequest& r) { r.response_format->strict = true; }));
  CHECK(changed([](ChatRequest& r) { r.stop.pop_back(); }));
}

TEST_CASE("bad fields are named in parse errors", "[json]") {
  auto error_for = [](const std::string& json) { return error_of([&] { chat_request_from_json(json); }); };

  Error role = error_for(R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},
                                         {"role":"robot","content":"c"}]})");
  CHECK(role.code_enum() == errc::parse);
  CHECK_THAT(std::string(role.what()),
             Contains("field 'messages[2].role': expected one of system,user,assistant,tool"));

  CHECK_THAT(std::string(error_for(R"({"max_tokens":"ten"})").what()), Contains("'max_tokens'"));
  CHECK_THAT(std::string(error_for(R"({"max_tokens":-3})").what()), Contains("'max_tokens'"));
  CHECK_THAT(std::string(error_for(R"({"temperature":"hot"})").what()), Contains("'temperature'"));
  CHECK_THAT(std::string(error_for(R"({"stream":"yes"})").what()), Contains("'stream'"));
  CHECK_THAT(std::string(error_for(R"({"messages":{}})").what()), Contains("'messages'"));
  CHECK_THAT(std::string(error_for(R"({"messages":[{"content":"no role"}]})").what()), Contains("'messages[0].role'"));
  CHECK_THAT(std::string(error_for(R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","name":5}]}]})").what()),
             Contains("'messages[0].tool_calls[0].name'"));
  CHECK_THAT(std::string(error_for(R"({"response_format":{"name":"x","schema":"{}","strict":"yes"}})").what()),
             Contains("'response_format.strict'"));
  CHECK_THAT(std::string(error_for(R"({"stop":["a",1]})").what()), Contains("'stop[1]'"));
  CHECK_THAT(std::string(error_for(R"({"tools":[{"name":"t","description":3}]})").what()),
             Contains("'tools[0].description'"));

  CHECK(error_for("{\"model\":").code_enum() == errc::parse);
  CHECK(error_for("[]").code_enum() == errc::parse);
  CHECK(error_for("").code_enum() == errc::parse);

  Error usage = error_of([] { chat_response_from_json(R"({"usage":{"input_tokens":1,"output_tokens":-1}})"); });
  CHECK(usage.code_enum() == errc::parse);
  CHECK_THAT(std::string(usage.what()), Contains("'usage.output_tokens'"));
}

TEST_CASE("unknown fields are ignored and null means unset", "[json]") {
  ChatRequest r = chat_request_from_json(R"({"model":"m","future":{"x":[1,2]},"temperature":null,
      "messages":[{"role":"user","content":"hi","extra":true}],
      "tools":[{"name":"t","parameters_schema":{"type":"object","properties":{}}}]})");
  CHECK(r.model == "m");
  CHECK_FALSE(r.temperature.has_value());
  REQUIRE(r.messages.size() == 1);
  CHECK(r.messages[0] == Message::user("hi"));
  REQUIRE(r.tools.size() == 1);
  // A schema written inline as an object is kept as its JSON text.
  CHECK(r.tools[0].parameters_schema == R"({"type":"object","properties":{}})");
}
