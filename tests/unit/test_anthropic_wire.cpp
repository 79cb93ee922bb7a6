// Anthropic Messages wire format (sans-io, scripted bytes).

#include <catch2/catch.hpp>

#include "llm/wire.hpp"

#include <simdjson.h>

#include <functional>
#include <algorithm>
#include <random>

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
std::size_t members(R r) { return r.get_object().value().size(); }

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
  std::vector<std::string> pieces;
  std::vector<Delta> deltas;
  void on_text(std::string_view d) override { pieces.emplace_back(d); }
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

std::string block(const std::string& name, const std::string& payload) {
  return "event: " + name + "\ndata: " + payload + "\n\n";
}

// Feeds `bytes` through an SSE parser into an AnthropicStream, cut at `cuts`.
ChatResponse run(const std::string& bytes, StreamObserver* obs, const std::string& structured = {},
                 const std::vector<std::size_t>& cuts = {}) {
  AnthropicStream s(obs, structured);
  SseParser p;
  std::vector<SseEvent> evs;
  std::size_t start = 0;
  auto feed = [&](std::string_view piece) {
    p.feed(piece, evs);
    for (const auto& ev : evs) s.on_event(ev);
    evs.clear();
  };
  for (std::size_t cut : cuts) {
    feed(std::string_view(bytes).substr(start, cut - start));
    start = cut;
  }
  feed(std::string_view(bytes).substr(start));
  return s.finish();
}

const std::string kMessageStart = block(
    "message_start",
    R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":3,"cache_read_input_tokens":5,"output_tokens":1}}})");

std::string text_delta(int index, const std::string& text_json) {
  return block("content_block_delta", R"({"type":"content_block_delta","index":)" + std::to_string(index) +
                                          R"(,"delta":{"type":"text_delta","text":)" + text_json + "}}");
}
std::string json_delta(int index, const std::string& partial_json_literal) {
  return block("content_block_delta", R"({"type":"content_block_delta","index":)" + std::to_string(index) +
                                          R"(,"delta":{"type":"input_json_delta","partial_json":)" +
                                          partial_json_literal + "}}");
}
std::string block_stop(int index) {
  return block("content_block_stop", R"({"type":"content_block_stop","index":)" + std::to_string(index) + "}");
}
std::string tool_start(int index, const std::string& id, const std::string& name) {
  return block("content_block_start", R"({"type":"content_block_start","index":)" + std::to_string(index) +
                                          R"(,"content_block":{"type":"tool_use","id":")" + id + R"(","name":")" +
                                          name + R"(","input":{}}})");
}

const std::string kFullStream =
    kMessageStart +
    block("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
    block("ping", R"({"type": "ping"})") + text_delta(0, R"("Hel")") + text_delta(0, R"("lo")") + block_stop(0) +
    block("future_event", R"({"type":"future_event","payload":{"x":1}})") +
    tool_start(1, "toolu_1", "get_weather") + json_delta(1, R"("")") + json_delta(1, R"("{\"city\":")") +
    json_delta(1, R"("\"Paris\"}")") + block_stop(1) + tool_start(2, "toolu_2", "now") + block_stop(2) +
    block("message_delta",
          R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}})") +
    block("message_stop", R"({"type":"message_stop"})");

ChatRequest conversation() {
  ChatRequest req;
  req.messages.push_back(Message::system("You are terse."));
  Message ctx = Message::system("Long stable context.");
  ctx.cache_breakpoint = true;
  req.messages.push_back(ctx);
  req.messages.push_back(Message::user("weather?"));
  Message call = Message::assistant("checking");
  call.tool_calls.push_back({"toolu_1", "get_weather", R"({"city":"Paris"})"});
  call.tool_calls.push_back({"toolu_2", "now", ""});
  req.messages.push_back(call);
  req.messages.push_back(Message::tool_result("toolu_1", "get_weather", "sunny"));
  req.messages.push_back(Message::tool_result("toolu_2", "now", "clock broken", true));
  Message thanks = Message::user("thanks");
  thanks.cache_breakpoint = true;
  req.messages.push_back(thanks);
  req.tools.push_back({"get_weather", "Weather for a city",
                       R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"});
  req.tools.push_back({"now", "", R"({"type":"object","properties":{}})"});
  req.tool_choice = "required";
  req.temperature = 0.25;
  req.stop = {"END"};
  return req;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Request bodies

TEST_CASE("anthropic request body: system, blocks, merged tool results, cache_control", "[anthropic]") {
  Doc d(anthropic_request_body(conversation(), "claude-default", true));
  auto& j = d.root;
  CHECK(str(j["model"]) == "claude-default");
  CHECK(num(j["max_tokens"]) == 4096);

  REQUIRE(len(j["system"]) == 2);
  CHECK(str(j["system"].at(0)["type"]) == "text");
  CHECK(str(j["system"].at(0)["text"]) == "You are terse.");
  CHECK_FALSE(has(j["system"].at(0)["cache_control"]));
  CHECK(str(j["system"].at(1)["text"]) == "Long stable context.");
  CHECK(str(j["system"].at(1)["cache_control"]["type"]) == "ephemeral");

  REQUIRE(len(j["messages"]) == 4);  // user, assistant, user (both tool results), user
  auto user = j["messages"].at(0);
  CHECK(str(user["role"]) == "user");
  REQUIRE(len(user["content"]) == 1);
  CHECK(str(user["content"].at(0)["type"]) == "text");
  CHECK(str(user["content"].at(0)["text"]) == "weather?");
  CHECK_FALSE(has(user["content"].at(0)["cache_control"]));

  auto asst = j["messages"].at(1);
  CHECK(str(asst["role"]) == "assistant");
  REQUIRE(len(asst["content"]) == 3);
  CHECK(str(asst["content"].at(0)["text"]) == "checking");
  CHECK(str(asst["content"].at(1)["type"]) == "tool_use");
  CHECK(str(asst["content"].at(1)["id"]) == "toolu_1");
  CHECK(str(asst["content"].at(1)["name"]) == "get_weather");
  CHECK(str(asst["content"].at(1)["input"]["city"]) == "Paris");  // parsed, not a string
  CHECK(members(asst["content"].at(2)["input"]) == 0);           // empty arguments: {}

  auto results = j["messages"].at(2);
  CHECK(str(results["role"]) == "user");
  REQUIRE(len(results["content"]) == 2);
  CHECK(str(results["content"].at(0)["type"]) == "tool_result");
  CHECK(str(results["content"].at(0)["tool_use_id"]) == "toolu_1");
  CHECK(str(results["content"].at(0)["content"]) == "sunny");
  CHECK_FALSE(has(results["content"].at(0)["is_error"]));
  CHECK(str(results["content"].at(1)["tool_use_id"]) == "toolu_2");
  CHECK(flag(results["content"].at(1)["is_error"]));

  auto last = j["messages"].at(3);
  CHECK(str(last["content"].at(0)["text"]) == "thanks");
  CHECK(str(last["content"].at(0)["cache_control"]["type"]) == "ephemeral");

  REQUIRE(len(j["tools"]) == 2);
  CHECK(str(j["tools"].at(0)["name"]) == "get_weather");
  CHECK(str(j["tools"].at(0)["description"]) == "Weather for a city");
  CHECK(str(j["tools"].at(0)["input_schema"]["properties"]["city"]["type"]) == "string");
  CHECK_FALSE(has(j["tools"].at(1)["description"]));
  CHECK(str(j["tool_choice"]["type"]) == "any");
  CHECK(j["temperature"].get_double().value() == Approx(0.25));
  REQUIRE(len(j["stop_sequences"]) == 1);
  CHECK(str(j["stop_sequences"].at(0)) == "END");
  CHECK_FALSE(has(j["stop"]));
  CHECK(flag(j["stream"]));
}

TEST_CASE("anthropic request body options", "[anthropic]") {
  ChatRequest req;
  req.model = "claude-own";
  req.max_tokens = 100;
  req.messages.push_back(Message::user("hi"));
  req.tools.push_back({"lookup", "", R"({"type":"object","properties":{}})"});

  SECTION("model, max_tokens, no system, no stream") {
    Doc d(anthropic_request_body(req, "claude-default", false));
    CHECK(str(d.root["model"]) == "claude-own");
    CHECK(num(d.root["max_tokens"]) == 100);
    CHECK_FALSE(has(d.root["system"]));
    CHECK_FALSE(has(d.root["stream"]));
    CHECK_FALSE(has(d.root["tool_choice"]));
    CHECK_FALSE(has(d.root["temperature"]));
  }
  SECTION("tool_choice variants") {
    req.tool_choice = "auto";
    CHECK(str(Doc(anthropic_request_body(req, "m", false)).root["tool_choice"]["type"]) == "auto");
    req.tool_choice = "none";
    CHECK(str(Doc(anthropic_request_body(req, "m", false)).root["tool_choice"]["type"]) == "none");
    req.tool_choice = "lookup";
    Doc d(anthropic_request_body(req, "m", false));
    CHECK(str(d.root["tool_choice"]["type"]) == "tool");
    CHECK(str(d.root["tool_choice"]["name"]) == "lookup");
  }
  SECTION("response_format becomes a forced tool") {
    req.response_format = ResponseFormat{"answer", R"({"type":"object","properties":{"ok":{"type":"boolean"}}})", true};
    Doc d(anthropic_request_body(req, "m", false));
    REQUIRE(len(d.root["tools"]) == 2);
    CHECK(str(d.root["tools"].at(1)["name"]) == "answer");
    CHECK(str(d.root["tools"].at(1)["input_schema"]["properties"]["ok"]["type"]) == "boolean");
    CHECK(str(d.root["tool_choice"]["type"]) == "tool");
    CHECK(str(d.root["tool_choice"]["name"]) == "answer");
    CHECK_FALSE(has(d.root["response_format"]));
  }
  SECTION("cache_breakpoint on an assistant turn marks its last block") {
    Message m = Message::assistant("calling");
    m.tool_calls.push_back({"toolu_9", "lookup", "{}"});
    m.cache_breakpoint = true;
    req.messages.push_back(m);
    Doc d(anthropic_request_body(req, "m", false));
    auto content = d.root["messages"].at(1)["content"];
    REQUIRE(len(content) == 2);
    CHECK_FALSE(has(content.at(0)["cache_control"]));
    CHECK(str(content.at(1)["cache_control"]["type"]) == "ephemeral");
  }
  SECTION("cache_breakpoint on a tool result marks that result only") {
    Message call = Message::assistant("");
    call.tool_calls.push_back({"t1", "lookup", "{}"});
    call.tool_calls.push_back({"t2", "lookup", "{}"});
    req.messages.push_back(call);
    Message r1 = Message::tool_result("t1", "lookup", "a");
    r1.cache_breakpoint = true;
    req.messages.push_back(r1);
    req.messages.push_back(Message::tool_result("t2", "lookup", "b"));
    Doc d(anthropic_request_body(req, "m", false));
    REQUIRE(len(d.root["messages"]) == 3);
    auto content = d.root["messages"].at(2)["content"];
    REQUIRE(len(content) == 2);
    CHECK(str(content.at(0)["cache_control"]["type"]) == "ephemeral");
    CHECK_FALSE(has(content.at(1)["cache_control"]));
    CHECK(len(d.root["messages"].at(1)["content"]) == 2);  // no empty text block before tool_use
  }
  SECTION("tool call arguments that are not JSON are the caller's error") {
    Message m = Message::assistant("");
    m.tool_calls.push_back({"toolu_bad", "lookup", "{not json"});
    req.messages.push_back(m);
    Error e = error_of([&] { anthropic_request_body(req, "m", false); });
    CHECK(e.code_enum() == errc::invalid_argument);
    CHECK_THAT(std::string(e.what()), Contains("toolu_bad"));
  }
}

// ---------------------------------------------------------------------------------------------
// Non-streamed responses

TEST_CASE("anthropic response with text, tool use and cache usage", "[anthropic]") {
  ChatResponse r = anthropic_parse_response(R"({"id":"msg_01","type":"message","role":"assistant",
    "model":"claude-sonnet-4","content":[
      {"type":"text","text":"Let me check."},
      {"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}],
    "stop_reason":"tool_use","stop_sequence":null,
    "usage":{"input_tokens":100,"cache_creation_input_tokens":50,"cache_read_input_tokens":800,"output_tokens":20}})");
  CHECK(r.id == "msg_01");
  CHECK(r.model == "claude-sonnet-4");
  CHECK(r.text == "Let me check.");
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0] == ToolCall{"toolu_01", "get_weather", R"({"city":"Paris"})"});
  CHECK(r.finish_reason == "tool_calls");
  CHECK(r.usage == Usage{950, 20, 800, 50});
}

TEST_CASE("anthropic stop reasons are normalised", "[anthropic]") {
  auto reason = [](const std::string& sr) {
    return anthropic_parse_response(R"({"id":"m","content":[{"type":"text","text":"x"}],"stop_reason":")" + sr +
                                    R"(","usage":{"input_tokens":1,"output_tokens":1}})")
        .finish_reason;
  };
  CHECK(reason("end_turn") == "stop");
  CHECK(reason("stop_sequence") == "stop");
  CHECK(reason("max_tokens") == "length");
  CHECK(reason("tool_use") == "tool_calls");
}

TEST_CASE("anthropic structured output tool becomes the reply text", "[anthropic]") {
  const std::string body = R"({"id":"msg_2","model":"c","content":[
      {"type":"tool_use","id":"toolu_9","name":"answer","input":{"ok":true,"n":3}}],
      "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":6}})";
  ChatResponse r = anthropic_parse_response(body, "answer");
  CHECK(r.text == R"({"ok":true,"n":3})");
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");

  ChatResponse plain = anthropic_parse_response(body);  // without structured_tool it is a tool call
  REQUIRE(plain.tool_calls.size() == 1);
  CHECK(plain.tool_calls[0].name == "answer");
  CHECK(plain.finish_reason == "tool_calls");
}

TEST_CASE("anthropic error and malformed responses", "[anthropic]") {
  Error e = error_of([] {
    anthropic_parse_response(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  });
  CHECK(e.code_enum() == errc::server_error);
  CHECK_THAT(e.provider_text(), Contains("Overloaded"));
  CHECK(error_of([] {
          anthropic_parse_response(R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})");
        }).code_enum() == errc::provider_error);
  CHECK(error_of([] { anthropic_parse_response("{\"id\":"); }).code_enum() == errc::protocol);
  CHECK(error_of([] { anthropic_parse_response(R"({"id":"m","type":"message"})"); }).code_enum() == errc::protocol);
}

// ---------------------------------------------------------------------------------------------
// Streams

TEST_CASE("anthropic stream: text, tool use, ping, unknown event, usage", "[anthropic]") {
  Recorder rec;
  ChatResponse r = run(kFullStream, &rec);
  CHECK(r.id == "msg_1");
  CHECK(r.model == "claude-test");
  CHECK(r.text == "Hello");
  REQUIRE(r.tool_calls.size() == 2);
  CHECK(r.tool_calls[0] == ToolCall{"toolu_1", "get_weather", R"({"city":"Paris"})"});
  CHECK(r.tool_calls[1] == ToolCall{"toolu_2", "now", "{}"});
  CHECK(r.finish_reason == "tool_calls");
  CHECK(r.usage == Usage{18, 42, 5, 3});  // input 10 + cache read 5 + cache write 3; output from message_delta

  CHECK(rec.pieces == std::vector<std::string>{"Hel", "lo"});
  CHECK(rec.ids(0) == std::vector<std::string>{"toolu_1"});
  CHECK(rec.names(0) == std::vector<std::string>{"get_weather"});
  CHECK(rec.ids(1) == std::vector<std::string>{"toolu_2"});
  CHECK(rec.args(0) == R"({"city":"Paris"})");
  CHECK(rec.args(1) == "{}");
}

TEST_CASE("anthropic stream gives the same result however the bytes are split", "[anthropic][sse]") {
  Recorder whole_rec;
  ChatResponse whole = run(kFullStream, &whole_rec);
  for (unsigned seed = 1; seed <= 50; ++seed) {
    std::mt19937 rng(seed);
    std::vector<std::size_t> cuts(1 + rng() % 40);
    for (auto& c : cuts) c = rng() % (kFullStream.size() + 1);
    std::sort(cuts.begin(), cuts.end());
    Recorder rec;
    ChatResponse r = run(kFullStream, &rec, {}, cuts);
    INFO("seed " << seed);
    CHECK(r.text == whole.text);
    CHECK(r.tool_calls == whole.tool_calls);
    CHECK(r.usage == whole.usage);
    CHECK(rec.args(0) == whole_rec.args(0));
  }
}

TEST_CASE("anthropic stream error events", "[anthropic]") {
  auto error_after_text = [](const std::string& type) {
    Recorder rec;
    AnthropicStream s(&rec);
    SseParser p;
    std::vector<SseEvent> evs;
    p.feed(kMessageStart +
               block("content_block_start",
                     R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
               text_delta(0, R"("partial")") +
               block("error", R"({"type":"error","error":{"type":")" + type + R"(","message":"Overloaded"}})"),
           evs);
    return error_of([&] {
      for (const auto& ev : evs) s.on_event(ev);
    });
  };
  Error over = error_after_text("overloaded_error");
  CHECK(over.code_enum() == errc::server_error);
  CHECK(over.partial_delivery);
  CHECK_THAT(over.provider_text(), Contains("Overloaded"));
  CHECK(error_after_text("rate_limit_error").code_enum() == errc::rate_limited);
  CHECK(error_after_text("invalid_request_error").code_enum() == errc::provider_error);
}

TEST_CASE("anthropic stream without message_stop is truncated", "[anthropic]") {
  std::string cut = kFullStream.substr(0, kFullStream.find("event: message_stop"));
  Recorder rec;
  Error e = error_of([&] { run(cut, &rec); });
  CHECK(e.code_enum() == errc::protocol);
  CHECK(e.partial_delivery);  // text had reached the observer
  Error quiet = error_of([&] { run(cut, nullptr); });
  CHECK_FALSE(quiet.partial_delivery);  // no observer: nothing was shown, a retry is safe
}

TEST_CASE("anthropic stream with structured output", "[anthropic]") {
  const std::string bytes =
      kMessageStart + tool_start(0, "toolu_s", "answer") + json_delta(0, R"("{\"ok\":")") +
      json_delta(0, R"("true}")") + block_stop(0) +
      block("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}})") +
      block("message_stop", R"({"type":"message_stop"})");
  Recorder rec;
  ChatResponse r = run(bytes, &rec, "answer");
  CHECK(r.text == R"({"ok":true})");
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");
  CHECK(r.usage.output_tokens == 7);
  CHECK(rec.pieces == std::vector<std::string>{R"({"ok":)", "true}"});
  CHECK(rec.deltas.empty());
}

TEST_CASE("anthropic stream protocol errors", "[anthropic]") {
  AnthropicStream s(nullptr);
  CHECK(error_of([&] { s.on_event({"content_block_delta", "{\"type\":", "", std::nullopt}); }).code_enum() ==
        errc::protocol);
  AnthropicStream s2(nullptr);
  s2.on_event({"message_start", R"({"type":"message_start","message":{"id":"m","model":"c","usage":{}}})", "", std::nullopt});
  CHECK(error_of([&] {
          s2.on_event({"content_block_delta",
                       R"({"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}})", "",
                       std::nullopt});
        }).code_enum() == errc::protocol);
}
