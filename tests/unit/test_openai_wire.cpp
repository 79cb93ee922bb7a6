// OpenAI Chat Completions wire format and HTTP error mapping (sans-io, scripted bytes).

#include <catch2/catch.hpp>

#include "llm/wire.hpp"

#include <simdjson.h>

#include <functional>

using namespace mlrc;
using namespace mlrc::detail;
using Catch::Matchers::Contains;

namespace {

using R = simdjson::simdjson_result<simdjson::dom::element>;
std::string_view str(R r) { return r.get_string().value(); }
std::int64_t num(R r) { return r.get_int64().value(); }
bool flag(R r) { return r.get_bool().value(); }
std::size_t len(R r) { return r.get_array().value().size(); }
bool has(R r) { return r.error() == simdjson::SUCCESS; }

struct Doc {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  explicit Doc(const std::string& text) { root = parser.parse(text); }
};

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no mlrc::Error thrown");
  throw std::logic_error("unreachable");
}

struct Recorder : StreamObserver {
  struct Delta {
    std::size_t index;
    std::string id, name, args;
  };
  std::string text;
  std::vector<std::string> pieces;
  std::vector<Delta> deltas;
  void on_text(std::string_view d) override {
    text += d;
    pieces.emplace_back(d);
  }
  void on_tool_call_delta(std::size_t i, std::string_view id, std::string_view name, std::string_view a) override {
    deltas.push_back({i, std::string(id), std::string(name), std::string(a)});
  }
  std::string args(std::size_t i) const {
    std::string s;
    for (const auto& d : deltas)
      if (d.index == i) s += d.args;
    return s;
  }
  std::vector<std::string> ids(std::size_t i) const {
    std::vector<std::string> v;
    for (const auto& d : deltas)
      if (d.index == i && !d.id.empty()) v.push_back(d.id);
    return v;
  }
  std::vector<std::string> names(std::size_t i) const {
    std::vector<std::string> v;
    for (const auto& d : deltas)
      if (d.index == i && !d.name.empty()) v.push_back(d.name);
    return v;
  }
};

SseEvent event_of(std::string payload) { return SseEvent{"", std::move(payload), "", std::nullopt}; }

std::string chunk(const std::string& choices_json) {
  return R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-test","choices":)" +
         choices_json + "}";
}

ChatRequest full_request() {
  ChatRequest req;
  req.messages.push_back(Message::system("be brief"));
  req.messages.push_back(Message::user("weather in Paris?"));
  Message call = Message::assistant("");
  call.tool_calls.push_back({"call_1", "get_weather", R"({"city":"Paris"})"});
  req.messages.push_back(call);
  req.messages.push_back(Message::tool_result("call_1", "get_weather", "sunny"));
  req.tools.push_back({"get_weather", "Weather for a city",
                       R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"});
  req.tools.push_back({"now", "", R"({"type":"object","properties":{}})"});
  req.tool_choice = "required";
  req.response_format = ResponseFormat{"answer", R"({"type":"object","properties":{"ok":{"type":"boolean"}}})", true};
  req.temperature = 0.5;
  req.max_tokens = 100;
  req.stop = {"END", "STOP"};
  return req;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Request bodies

TEST_CASE("openai request body carries every field in the wire format", "[openai]") {
  Doc d(openai_request_body(full_request(), "gpt-default", true));
  auto& j = d.root;
  CHECK(str(j["model"]) == "gpt-default");  // request left model empty

  REQUIRE(len(j["messages"]) == 4);
  CHECK(str(j["messages"].at(0)["role"]) == "system");
  CHECK(str(j["messages"].at(0)["content"]) == "be brief");
  CHECK(str(j["messages"].at(1)["role"]) == "user");
  auto asst = j["messages"].at(2);
  CHECK(str(asst["role"]) == "assistant");
  CHECK(asst["content"].is_null());
  REQUIRE(len(asst["tool_calls"]) == 1);
  CHECK(str(asst["tool_calls"].at(0)["id"]) == "call_1");
  CHECK(str(asst["tool_calls"].at(0)["type"]) == "function");
  CHECK(str(asst["tool_calls"].at(0)["function"]["name"]) == "get_weather");
  CHECK(str(asst["tool_calls"].at(0)["function"]["arguments"]) == R"({"city":"Paris"})");  // a string
  auto tool = j["messages"].at(3);
  CHECK(str(tool["role"]) == "tool");
  CHECK(str(tool["tool_call_id"]) == "call_1");
  CHECK(str(tool["content"]) == "sunny");

  REQUIRE(len(j["tools"]) == 2);
  CHECK(str(j["tools"].at(0)["type"]) == "function");
  CHECK(str(j["tools"].at(0)["function"]["name"]) == "get_weather");
  CHECK(str(j["tools"].at(0)["function"]["description"]) == "Weather for a city");
  // The schema is embedded as JSON, not as a string.
  CHECK(str(j["tools"].at(0)["function"]["parameters"]["properties"]["city"]["type"]) == "string");
  CHECK(str(j["tools"].at(0)["function"]["parameters"]["required"].at(0)) == "city");
  CHECK_FALSE(has(j["tools"].at(1)["function"]["description"]));

  CHECK(str(j["tool_choice"]) == "required");
  CHECK(str(j["response_format"]["type"]) == "json_schema");
  CHECK(str(j["response_format"]["json_schema"]["name"]) == "answer");
  CHECK(flag(j["response_format"]["json_schema"]["strict"]));
  CHECK(str(j["response_format"]["json_schema"]["schema"]["properties"]["ok"]["type"]) == "boolean");
  CHECK(j["temperature"].get_double().value() == Approx(0.5));
  CHECK(num(j["max_tokens"]) == 100);
  CHECK_FALSE(has(j["max_completion_tokens"]));
  REQUIRE(len(j["stop"]) == 2);
  CHECK(str(j["stop"].at(1)) == "STOP");
  CHECK(flag(j["stream"]));
  CHECK(flag(j["stream_options"]["include_usage"]));
}

TEST_CASE("openai request body options", "[openai]") {
  ChatRequest req;
  req.model = "gpt-own";
  req.messages.push_back(Message::user("hi"));

  SECTION("request model wins; no stream fields when not streaming") {
    Doc d(openai_request_body(req, "gpt-default", false));
    CHECK(str(d.root["model"]) == "gpt-own");
    CHECK_FALSE(has(d.root["stream"]));
    CHECK_FALSE(has(d.root["stream_options"]));
    CHECK_FALSE(has(d.root["tools"]));
    CHECK_FALSE(has(d.root["tool_choice"]));
    CHECK_FALSE(has(d.root["response_format"]));
    CHECK_FALSE(has(d.root["temperature"]));
    CHECK_FALSE(has(d.root["stop"]));
  }
  SECTION("tool_choice variants") {
    req.tools.push_back({"lookup", "", R"({"type":"object","properties":{}})"});
    for (std::string c : {"auto", "none", "required"}) {
      req.tool_choice = c;
      Doc d(openai_request_body(req, "m", false));
      CHECK(str(d.root["tool_choice"]) == c);
    }
    req.tool_choice = "lookup";
    Doc d(openai_request_body(req, "m", false));
    CHECK(str(d.root["tool_choice"]["type"]) == "function");
    CHECK(str(d.root["tool_choice"]["function"]["name"]) == "lookup");
  }
  SECTION("max_completion_tokens for newer models") {
    req.max_tokens = 64;
    Doc d(openai_request_body(req, "m", false, true));
    CHECK(num(d.root["max_completion_tokens"]) == 64);
    CHECK_FALSE(has(d.root["max_tokens"]));
  }
  SECTION("assistant text is kept beside tool calls") {
    Message m = Message::assistant("let me check");
    m.tool_calls.push_back({"c1", "lookup", "{}"});
    req.messages.push_back(m);
    Doc d(openai_request_body(req, "m", false));
    CHECK(str(d.root["messages"].at(1)["content"]) == "let me check");
  }
  SECTION("text is escaped by the JSON builder") {
    req.messages[0].content = "quote \" backslash \\ newline \n tab \t ctrl \x01 unicode \xC3\xA9";
    Doc d(openai_request_body(req, "m", false));
    CHECK(str(d.root["messages"].at(0)["content"]) == req.messages[0].content);
  }
  SECTION("an invalid schema is the caller's error") {
    req.tools.push_back({"broken", "", "{not json"});
    Error e = error_of([&] { openai_request_body(req, "m", false); });
    CHECK(e.code_enum() == errc::invalid_argument);
    CHECK_THAT(std::string(e.what()), Contains("broken"));
  }
}

// ---------------------------------------------------------------------------------------------
// Non-streamed responses

TEST_CASE("openai response with text and cached usage", "[openai]") {
  ChatResponse r = openai_parse_response(R"({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-2024",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there", "refusal": null},
                 "logprobs": null, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127,
              "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0}},
    "system_fingerprint": "fp_1"})");
  CHECK(r.id == "chatcmpl-1");
  CHECK(r.model == "gpt-4o-2024");
  CHECK(r.text == "Hello there");
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");
  CHECK(r.usage == Usage{120, 7, 64, 0});
}

TEST_CASE("openai response with tool calls", "[openai]") {
  ChatResponse r = openai_parse_response(R"({"id":"c2","model":"gpt","choices":[{"index":0,"message":{
    "role":"assistant","content":null,"tool_calls":[
      {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
      {"id":"call_b","type":"function","function":{"name":"now","arguments":"{}"}}]},
    "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":9}})");
  CHECK(r.text.empty());
  REQUIRE(r.tool_calls.size() == 2);
  CHECK(r.tool_calls[0] == ToolCall{"call_a", "get_weather", R"({"city":"Paris"})"});
  CHECK(r.tool_calls[1] == ToolCall{"call_b", "now", "{}"});
  CHECK(r.finish_reason == "tool_calls");
  CHECK(r.usage == Usage{5, 9, 0, 0});
}

TEST_CASE("openai finish reasons are normalised", "[openai]") {
  auto reason = [](const std::string& fr) {
    return openai_parse_response(R"({"choices":[{"index":0,"message":{"content":"x"},"finish_reason":")" + fr +
                                 R"("}]})")
        .finish_reason;
  };
  CHECK(reason("stop") == "stop");
  CHECK(reason("length") == "length");
  CHECK(reason("tool_calls") == "tool_calls");
  CHECK(reason("content_filter") == "content_filter");
  CHECK(reason("function_call") == "tool_calls");
}

TEST_CASE("openai malformed responses are protocol errors", "[openai]") {
  CHECK(error_of([] { openai_parse_response("{\"choices\": [ "); }).code_enum() == errc::protocol);
  CHECK(error_of([] { openai_parse_response("<html>bad gateway</html>"); }).code_enum() == errc::protocol);
  CHECK(error_of([] { openai_parse_response(R"({"id":"x"})"); }).code_enum() == errc::protocol);
  CHECK(error_of([] { openai_parse_response(R"({"choices":[]})"); }).code_enum() == errc::protocol);
  Error e = error_of([] {
    openai_parse_response(R"({"error":{"message":"model not loaded","type":"invalid_request_error","code":null}})");
  });
  CHECK(e.code_enum() == errc::provider_error);
  CHECK_THAT(e.provider_text(), Contains("model not loaded"));
}

// ---------------------------------------------------------------------------------------------
// Streams

TEST_CASE("openai stream of text with a usage-only final chunk", "[openai]") {
  Recorder rec;
  OpenAiStream s(&rec);
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}])")));
  CHECK_FALSE(s.delivered());  // an empty delta is nothing to deliver
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"content":"Hel"},"finish_reason":null}])")));
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"content":"lo"},"finish_reason":null}])")));
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{},"finish_reason":"stop"}])")));
  s.on_event(event_of(R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":[],)"
                  R"("usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,)"
                  R"("prompt_tokens_details":{"cached_tokens":8}}})"));
  CHECK_FALSE(s.done());
  s.on_event(event_of("[DONE]"));
  CHECK(s.done());
  CHECK(s.delivered());
  ChatResponse r = s.finish();
  CHECK(r.text == "Hello");
  CHECK(rec.pieces == std::vector<std::string>{"Hel", "lo"});
  CHECK(r.id == "chatcmpl-9");
  CHECK(r.model == "gpt-test");
  CHECK(r.finish_reason == "stop");
  CHECK(r.usage == Usage{12, 3, 8, 0});
}

TEST_CASE("openai stream merges fragments of two parallel tool calls by index", "[openai]") {
  Recorder rec;
  OpenAiStream s(&rec);
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[
      {"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}])")));
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}}])")));
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"tool_calls":[
      {"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\"tz\":"}}]}}])")));
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"tool_calls":[
      {"index":0,"function":{"arguments":"ty\":\"Paris\"}"}},
      {"index":1,"function":{"arguments":"\"UTC\"}"}}]}}])")));
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{},"finish_reason":"tool_calls"}])")));
  s.on_event(event_of("[DONE]"));
  ChatResponse r = s.finish();
  REQUIRE(r.tool_calls.size() == 2);
  CHECK(r.tool_calls[0] == ToolCall{"call_a", "get_weather", R"({"city":"Paris"})"});
  CHECK(r.tool_calls[1] == ToolCall{"call_b", "get_time", R"({"tz":"UTC"})"});
  CHECK(r.finish_reason == "tool_calls");
  CHECK(r.text.empty());
  // The observer saw each id and name once and fragments that add up to the arguments.
  CHECK(rec.ids(0) == std::vector<std::string>{"call_a"});
  CHECK(rec.names(1) == std::vector<std::string>{"get_time"});
  CHECK(rec.args(0) == R"({"city":"Paris"})");
  CHECK(rec.args(1) == R"({"tz":"UTC"})");
  CHECK(rec.text.empty());
}

TEST_CASE("openai stream through the SSE parser, byte by byte", "[openai][sse]") {
  const std::string bytes = ": ping\n\ndata: " + chunk(R"([{"index":0,"delta":{"content":"a\nb"}}])") +
                            "\r\n\r\ndata: " + chunk(R"([{"index":0,"delta":{"content":"c"},"finish_reason":"length"}])") +
                            "\n\ndata: [DONE]\n\n";
  Recorder rec;
  OpenAiStream s(&rec);
  SseParser p;
  std::vector<SseEvent> evs;
  for (char c : bytes) {
    p.feed(std::string_view(&c, 1), evs);
    for (const auto& ev : evs) s.on_event(ev);
    evs.clear();
  }
  ChatResponse r = s.finish();
  CHECK(r.text == "a\nbc");
  CHECK(r.finish_reason == "length");
}

TEST_CASE("openai stream without [DONE] is truncated", "[openai]") {
  Recorder rec;
  OpenAiStream s(&rec);
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"content":"partial"}}])")));
  Error e = error_of([&] { s.finish(); });
  CHECK(e.code_enum() == errc::protocol);
  CHECK(e.partial_delivery);
  CHECK_THAT(std::string(e.what()), Contains("[DONE]"));

  OpenAiStream empty(nullptr);
  Error e2 = error_of([&] { empty.finish(); });
  CHECK(e2.code_enum() == errc::protocol);
  CHECK_FALSE(e2.partial_delivery);
}

TEST_CASE("openai stream with a malformed chunk is a protocol error", "[openai]") {
  OpenAiStream s(nullptr);
  CHECK(error_of([&] { s.on_event(event_of(R"({"id":"x","choices":[{"delta":{"content":"a")")); }).code_enum() ==
        errc::protocol);
}

TEST_CASE("openai stream error chunks", "[openai]") {
  Recorder rec;
  OpenAiStream s(&rec);
  s.on_event(event_of(chunk(R"([{"index":0,"delta":{"content":"half"}}])")));
  Error e = error_of([&] {
    s.on_event(event_of(R"({"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}})"));
  });
  CHECK(e.code_enum() == errc::server_error);
  CHECK(e.partial_delivery);
  CHECK_THAT(e.provider_text(), Contains("The server had an error"));

  OpenAiStream s2(nullptr);
  Error e2 = error_of([&] {
    s2.on_event(event_of(R"({"error":{"message":"Invalid schema","type":"invalid_request_error","code":"bad_schema"}})"));
  });
  CHECK(e2.code_enum() == errc::provider_error);
  CHECK_FALSE(e2.partial_delivery);
  CHECK_THAT(e2.provider_text(), Contains("Invalid schema"));
  CHECK_THAT(e2.provider_text(), Contains("bad_schema"));
}

// ---------------------------------------------------------------------------------------------
// HTTP errors

TEST_CASE("error_from_http maps statuses", "[openai][http]") {
  const std::string body = R"({"error":{"message":"nope","type":"x","param":null,"code":null}})";
  CHECK(error_from_http(401, body, "", "openai", "").code_enum() == errc::auth);
  CHECK(error_from_http(403, body, "", "openai", "").code_enum() == errc::auth);
  CHECK(error_from_http(408, body, "", "openai", "").code_enum() == errc::timeout);
  CHECK(error_from_http(429, body, "", "openai", "").code_enum() == errc::rate_limited);
  CHECK(error_from_http(500, body, "", "openai", "").code_enum() == errc::server_error);
  CHECK(error_from_http(503, body, "", "openai", "").code_enum() == errc::server_error);
  CHECK(error_from_http(529, body, "", "anthropic", "").code_enum() == errc::server_error);
  CHECK(error_from_http(400, body, "", "openai", "").code_enum() == errc::provider_error);
  CHECK(error_from_http(404, body, "", "openai", "").code_enum() == errc::provider_error);
  CHECK(error_from_http(302, "", "", "openai", "").code_enum() == errc::http_status);
}

TEST_CASE("error_from_http 429 with Retry-After", "[openai][http]") {
  Error e = error_from_http(429,
                            R"({"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}})",
                            "7", "openai", "sk-test-secret");
  CHECK(e.code_enum() == errc::rate_limited);
  CHECK(e.http_status == 429);
  REQUIRE(e.retry_after.has_value());
  CHECK(*e.retry_after == std::chrono::milliseconds(7000));
  CHECK_THAT(std::string(e.what()), Contains("openai: HTTP 429 rate limited"));
  CHECK_THAT(e.provider_text(), Contains("Rate limit reached for gpt-4o"));
  CHECK_THAT(e.provider_text(), Contains("rate_limit_exceeded"));
}

TEST_CASE("error_from_http redacts a secret the provider echoes", "[openai][http]") {
  const std::string secret = "sk-proj-ABCDEF0123456789";
  Error e = error_from_http(
      401,
      R"({"error":{"message":"Incorrect API key provided: sk-proj-ABCDEF0123456789. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})",
      "", "openai", secret);
  CHECK(e.code_enum() == errc::auth);
  CHECK(e.http_status == 401);
  CHECK_FALSE(e.retry_after.has_value());
  CHECK_THAT(e.provider_text(), !Contains(secret));
  CHECK_THAT(e.provider_text(), Contains("Incorrect API key provided: [REDACTED]"));
  CHECK_THAT(e.provider_text(), Contains("invalid_api_key"));
  CHECK_THAT(std::string(e.what()), !Contains(secret));
  CHECK_THAT(std::string(e.what()), Contains("401"));
}

TEST_CASE("error_from_http with other body shapes", "[openai][http]") {
  SECTION("Anthropic error object") {
    Error e = error_from_http(529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", "",
                              "anthropic", "");
    CHECK(e.code_enum() == errc::server_error);
    CHECK_THAT(e.provider_text(), Contains("Overloaded"));
    CHECK_THAT(e.provider_text(), Contains("overloaded_error"));
    CHECK_THAT(std::string(e.what()), Contains("anthropic: HTTP 529"));
  }
  SECTION("Ollama error string") {
    Error e = error_from_http(404, R"({"error":"model \"llama9\" not found, try pulling it first"})", "", "ollama", "");
    CHECK(e.provider_text() == R"(model "llama9" not found, try pulling it first)");
  }
  SECTION("non-JSON body: a short excerpt, redacted before cutting") {
    const std::string secret = "sk-live-0123456789abcdef";
    std::string body = "<html><body>proxy error for key " + secret + " " + std::string(2000, 'x') + secret;
    Error e = error_from_http(502, body, "", "openai", secret);
    CHECK(e.code_enum() == errc::server_error);
    CHECK(e.provider_text().size() <= 300);
    CHECK_THAT(e.provider_text(), Contains("proxy error for key [REDACTED]"));
    CHECK_THAT(e.provider_text(), !Contains("sk-live"));
  }
  SECTION("excerpt does not split a UTF-8 character") {
    std::string body(299, 'a');
    body += "\xC3\xA9\xC3\xA9";  // 'é' straddles byte 300
    Error e = error_from_http(500, body, "", "openai", "");
    CHECK(e.provider_text() == std::string(299, 'a'));
  }
}

TEST_CASE("parse_retry_after", "[http]") {
  using std::chrono::milliseconds;
  CHECK(parse_retry_after("7") == milliseconds(7000));
  CHECK(parse_retry_after(" 12 ") == milliseconds(12000));
  CHECK(parse_retry_after("0") == milliseconds(0));
  CHECK(parse_retry_after("1.5") == milliseconds(1500));
  CHECK_FALSE(parse_retry_after("").has_value());
  CHECK_FALSE(parse_retry_after("-1").has_value());
  CHECK_FALSE(parse_retry_after("soon").has_value());
  CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
}
