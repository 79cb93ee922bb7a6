// The providers over real loopback HTTP(S) against the fake LLM server: wire formats, streaming,
// tool calls, structured output, errors, faults, deadlines, cancellation, TLS, proxies, keep-alive.
#include "fake_llm.hpp"
#include "helpers.hpp"

#include <mlrcopilot/providers.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <thread>

using namespace std::chrono_literals;
using namespace mlrc;
using namespace mlrc::test;
namespace json = boost::json;

namespace {

constexpr const char* kKey = "sk-test-SECRET-0123456789";

ProviderConfig cfg_no_env() {
  ProviderConfig c;
  c.api_key = kKey;
  c.use_env = false;
  return c;
}

ModelPtr openai_at(Runtime& rt, const FakeLlmServer& srv, ProviderConfig c = cfg_no_env()) {
  return make_model(rt.executor(), "openai-compatible:" + srv.base_url() + "/v1#gpt-test", c);
}
ModelPtr anthropic_at(Runtime& rt, const FakeLlmServer& srv, ProviderConfig c = cfg_no_env()) {
  return make_model(rt.executor(), "anthropic-compatible:" + srv.base_url() + "#claude-test", c);
}

json::object body_of(const RecordedRequest& r) { return json::parse(r.body).as_object(); }

}  // namespace

TEST_CASE("OpenAI: plain chat sends the documented request and parses the reply", "[openai]") {
  FakeLlmServer srv;
  srv.push(openai::text("Hi there.", {12, 3, 4}));
  Runtime rt;
  auto m = openai_at(rt, srv);
  auto req = simple_request("hello");
  req.temperature = 0.2;
  req.max_tokens = 50;
  auto resp = rt.run(m->chat(req));
  CHECK(resp.text == "Hi there.");
  CHECK(resp.finish_reason == "stop");
  CHECK(resp.usage.input_tokens == 12);
  CHECK(resp.usage.output_tokens == 3);
  CHECK(resp.usage.cached_input_tokens == 4);
  REQUIRE(srv.request_count() == 1);
  auto r = srv.requests()[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1/chat/completions");
  CHECK(r.header("authorization") == std::string("Bearer ") + kKey);
  CHECK(r.header("content-type") == "application/json");
  auto b = body_of(r);
  CHECK(b["model"].as_string() == "gpt-test");
  CHECK(b["messages"].as_array().size() == 2);
  CHECK(b["messages"].as_array()[0].as_object().at("role").as_string() == "system");
  CHECK(b["max_tokens"].as_int64() == 50);
  CHECK_FALSE(b.contains("stream"));
}

TEST_CASE("OpenAI: streamed chat delivers deltas as they arrive and usage with cached tokens", "[openai][stream]") {
  FakeLlmServer srv;
  srv.push(openai::stream_text({"The ", "answer ", "is ", "42."}, {30, 4, 16}, 5ms));
  Runtime rt;
  auto m = openai_at(rt, srv);
  Collect c;
  auto resp = rt.run(m->chat(simple_request("q", true), &c));
  CHECK(resp.text == "The answer is 42.");
  CHECK(c.text == resp.text);
  CHECK(c.deltas.size() == 4);
  CHECK(resp.usage.input_tokens == 30);
  CHECK(resp.usage.cached_input_tokens == 16);
  CHECK(resp.usage.output_tokens == 4);
  auto b = body_of(srv.requests()[0]);
  CHECK(b["stream"].as_bool());
  CHECK(b["stream_options"].as_object().at("include_usage").as_bool());
  CHECK(srv.requests()[0].header("accept") == "text/event-stream");
}

TEST_CASE("OpenAI: tool-call arguments arriving in fragments across chunks are reassembled", "[openai][tools]") {
  FakeLlmServer srv;
  std::vector<openai::ToolCallOut> calls{{"call_a", "read_file", R"({"path":"train.py","lines":[1,40]})"},
                                         {"call_b", "execute", R"({"script":"train.py","args":["--epochs","3"]})"}};
  srv.push(openai::stream_tool_calls(calls, 5));
  srv.push(openai::tool_calls(calls));
  Runtime rt;
  auto m = openai_at(rt, srv);
  auto req = simple_request("use tools", true);
  req.tools.push_back({"read_file", "Read a file", R"({"type":"object","properties":{"path":{"type":"string"}}})"});
  req.tools.push_back({"execute", "Run a script", R"({"type":"object","properties":{"script":{"type":"string"}}})"});
  req.tool_choice = "auto";
  Collect c;
  auto resp = rt.run(m->chat(req, &c));
  REQUIRE(resp.tool_calls.size() == 2);
  CHECK(resp.tool_calls[0] == ToolCall{"call_a", "read_file", calls[0].arguments});
  CHECK(resp.tool_calls[1] == ToolCall{"call_b", "execute", calls[1].arguments});
  CHECK(resp.finish_reason == "tool_calls");
  CHECK(c.tool_fragments > 4);  // really fragmented
  CHECK(c.tool_args[0] == calls[0].arguments);
  CHECK(c.tool_names[1] == "execute");
  auto b = body_of(srv.requests()[0]);
  auto& tools = b["tools"].as_array();
  REQUIRE(tools.size() == 2);
  CHECK(tools[0].as_object().at("type").as_string() == "function");
  CHECK(tools[0].as_object().at("function").as_object().at("name").as_string() == "read_file");
  CHECK(b["tool_choice"].as_string() == "auto");

  // Non-streamed tool calls, then the conversation continues with the tool results.
  req.stream = false;
  auto resp2 = rt.run(m->chat(req));
  CHECK(resp2.tool_calls == resp.tool_calls);
  req.messages.push_back(resp2.as_message());
  req.messages.push_back(Message::tool_result("call_a", "read_file", "import numpy"));
  req.messages.push_back(Message::tool_result("call_b", "execute", "accuracy 0.91"));
  srv.push(openai::text("done"));
  CHECK(rt.run(m->chat(req)).text == "done");
  auto msgs = body_of(srv.requests()[2])["messages"].as_array();
  REQUIRE(msgs.size() == 5);
  CHECK(msgs[2].as_object().at("tool_calls").as_array().size() == 2);
  CHECK(msgs[3].as_object().at("role").as_string() == "tool");
  CHECK(msgs[3].as_object().at("tool_call_id").as_string() == "call_a");
}

TEST_CASE("OpenAI: structured output sends response_format with the JSON schema", "[openai][structured]") {
  FakeLlmServer srv;
  srv.push(openai::text(R"({"tasks":["sentiment analysis"],"gaps":["low-resource languages"]})"));
  Runtime rt;
  auto m = openai_at(rt, srv);
  auto req = simple_request("analyze");
  req.response_format = ResponseFormat{"analysis", R"({"type":"object","properties":{"tasks":{"type":"array"}},"required":["tasks"]})", true};
  auto resp = rt.run(m->chat(req));
  CHECK(json::parse(resp.text).as_object().at("tasks").as_array().size() == 1);
  auto rf = body_of(srv.requests()[0])["response_format"].as_object();
  CHECK(rf["type"].as_string() == "json_schema");
  CHECK(rf["json_schema"].as_object().at("name").as_string() == "analysis");
  CHECK(rf["json_schema"].as_object().at("strict").as_bool());
  CHECK(rf["json_schema"].as_object().at("schema").as_object().at("required").as_array().size() == 1);
}

TEST_CASE("Anthropic: plain, streamed and tool-use replies with prompt caching", "[anthropic]") {
  FakeLlmServer srv;
  Runtime rt;
  auto m = anthropic_at(rt, srv);
  auto req = simple_request("hello");
  req.messages[0].cache_breakpoint = true;

  srv.push(anthropic::text("Hello!", {20, 2, 100, 50}));
  auto resp = rt.run(m->chat(req));
  CHECK(resp.text == "Hello!");
  CHECK(resp.finish_reason == "stop");
  CHECK(resp.usage.cached_input_tokens == 100);
  CHECK(resp.usage.cache_write_tokens == 50);
  CHECK(resp.usage.input_tokens == 170);
  auto r = srv.requests()[0];
  CHECK(r.target == "/v1/messages");
  CHECK(r.header("x-api-key") == kKey);
  CHECK(r.header("anthropic-version") == "2023-06-01");
  CHECK(r.header("authorization").empty());
  auto b = body_of(r);
  CHECK(b["max_tokens"].as_int64() == 4096);
  auto sys = b["system"].as_array();
  REQUIRE(sys.size() == 1);
  CHECK(sys[0].as_object().at("cache_control").as_object().at("type").as_string() == "ephemeral");
  CHECK(b["messages"].as_array().size() == 1);  // the system message is not a message

  std::vector<anthropic::ToolUseOut> uses{{"toolu_1", "execute", R"({"script":"train.py","timeout":60})"}};
  srv.push(anthropic::stream({"Let me ", "run it."}, uses, {20, 9, 0, 0}, 2ms, 4));
  Collect c;
  req.stream = true;
  req.tools.push_back({"execute", "Run a script", R"({"type":"object"})"});
  auto sresp = rt.run(m->chat(req, &c));
  CHECK(sresp.text == "Let me run it.");
  CHECK(c.text == sresp.text);
  REQUIRE(sresp.tool_calls.size() == 1);
  CHECK(sresp.tool_calls[0].id == "toolu_1");
  CHECK(json::parse(sresp.tool_calls[0].arguments) == json::parse(uses[0].input_json));
  CHECK(sresp.finish_reason == "tool_calls");
  CHECK(sresp.usage.output_tokens == 9);
  CHECK(c.tool_fragments > 3);

  // The tool result goes back as a user message of tool_result blocks.
  req.stream = false;
  req.messages.push_back(sresp.as_message());
  req.messages.push_back(Message::tool_result("toolu_1", "execute", "accuracy 0.91"));
  srv.push(anthropic::text("Accuracy is 0.91."));
  CHECK(rt.run(m->chat(req)).text == "Accuracy is 0.91.");
  auto msgs = body_of(srv.requests()[2])["messages"].as_array();
  REQUIRE(msgs.size() == 3);
  auto last = msgs[2].as_object();
  CHECK(last["role"].as_string() == "user");
  CHECK(last["content"].as_array()[0].as_object().at("type").as_string() == "tool_result");
  CHECK(last["content"].as_array()[0].as_object().at("tool_use_id").as_string() == "toolu_1");
}

TEST_CASE("Anthropic: structured output comes back as the reply text", "[anthropic][structured]") {
  FakeLlmServer srv;
  srv.push(anthropic::tool_use({{"toolu_s", "analysis", R"({"tasks":["ner"]})"}}));
  Runtime rt;
  auto m = anthropic_at(rt, srv);
  auto req = simple_request("analyze");
  req.response_format = ResponseFormat{"analysis", R"({"type":"object"})", true};
  auto resp = rt.run(m->chat(req));
  CHECK(json::parse(resp.text) == json::parse(R"({"tasks":["ner"]})"));
  CHECK(resp.tool_calls.empty());
  auto b = body_of(srv.requests()[0]);
  CHECK(b["tool_choice"].as_object().at("name").as_string() == "analysis");
}

TEST_CASE("Provider errors are typed, name the cause and never the key", "[errors]") {
  FakeLlmServer srv;
  Runtime rt;
  auto m = openai_at(rt, srv);
  auto req = simple_request();

  srv.push(openai::error(401, "invalid_request_error", std::string("Incorrect API key provided: ") + kKey));
  auto e = expect_error([&] { rt.run(m->chat(req)); });
  CHECK(e.code_enum() == errc::auth);
  CHECK(e.http_status == 401);
  CHECK(std::string(e.what()).find(kKey) == std::string::npos);
  CHECK(e.provider_text().find(kKey) == std::string::npos);
  CHECK(e.provider_text().find("Incorrect API key") != std::string::npos);

  auto r429 = openai::error(429, "rate_limit_exceeded", "slow down");
  r429.headers.emplace_back("Retry-After", "7");
  srv.push(r429);
  e = expect_error([&] { rt.run(m->chat(req)); });
  CHECK(e.code_enum() == errc::rate_limited);
  REQUIRE(e.retry_after);
  CHECK(*e.retry_after == 7000ms);

  srv.push(openai::error(503, "server_error", "overloaded"));
  CHECK(expect_error([&] { rt.run(m->chat(req)); }).code_enum() == errc::server_error);
  srv.push(openai::error(400, "invalid_request_error", "messages: bad"));
  e = expect_error([&] { rt.run(m->chat(req)); });
  CHECK(e.code_enum() == errc::provider_error);
  CHECK(e.provider_text().find("messages: bad") != std::string::npos);

  srv.push(Reply::json(200, "{\"choices\": [ {\"message\": "));  // malformed JSON
  CHECK(expect_error([&] { rt.run(m->chat(req)); }).code_enum() == errc::protocol);
  srv.push(Reply::body(200, "text/html", "<html>captive portal</html>"));  // wrong content type
  e = expect_error([&] { rt.run(m->chat(req)); });
  CHECK(e.code_enum() == errc::protocol);
  CHECK(std::string(e.what()).find("text/html") != std::string::npos);
  srv.push(Reply::body(502, "text/html", "<html>bad gateway</html>"));  // non-JSON error body
  e = expect_error([&] { rt.run(m->chat(req)); });
  CHECK(e.code_enum() == errc::server_error);
  CHECK(e.provider_text().find("bad gateway") != std::string::npos);

  auto a = anthropic_at(rt, srv);
  srv.push(anthropic::error(529, "overloaded_error", "Overloaded"));
  CHECK(expect_error([&] { rt.run(a->chat(req)); }).code_enum() == errc::server_error);
  srv.push(anthropic::error(401, "authentication_error", std::string("invalid x-api-key ") + kKey));
  e = expect_error([&] { rt.run(a->chat(req)); });
  CHECK(e.code_enum() == errc::auth);
  CHECK(e.provider_text().find(kKey) == std::string::npos);
}

TEST_CASE("Stream faults: reset, truncation, mid-stream error, stall, drip", "[faults]") {
  FakeLlmServer srv;
  Runtime rt;
  auto m = openai_at(rt, srv);
  auto req = simple_request("q", true);
  req.timeout = 3s;

  auto reset = openai::stream_text({"a ", "b ", "c ", "d "});
  reset.fault = Fault::reset_after;
  reset.fault_after = 2;
  srv.push(reset);
  Collect c1;
  auto e = expect_error([&] { rt.run(m->chat(req, &c1)); });
  CHECK(e.code_enum() == errc::network);
  CHECK(e.partial_delivery);  // text had reached the caller: must not be retried
  CHECK_FALSE(c1.text.empty());

  auto trunc = openai::stream_text({"a ", "b ", "c "});
  trunc.fault = Fault::close_after;
  trunc.fault_after = 2;
  srv.push(trunc);
  e = expect_error([&] { rt.run(m->chat(req)); });
  CHECK(e.code_enum() == errc::network);

  auto anth = anthropic_at(rt, srv);
  srv.push(Reply::sse({anthropic::event_block("message_start", R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}})"),
                       anthropic::error_event("overloaded_error", "Overloaded")}));
  e = expect_error([&] { rt.run(anth->chat(req)); });
  CHECK(e.code_enum() == errc::server_error);
  CHECK(e.provider_text().find("Overloaded") != std::string::npos);

  auto stall = openai::stream_text({"a ", "b "});
  stall.fault = Fault::stall;
  stall.fault_after = 1;
  stall.stall_for = 20s;
  srv.push(stall);
  req.timeout = 400ms;
  auto t0 = std::chrono::steady_clock::now();
  e = expect_error([&] { rt.run(m->chat(req)); });
  CHECK(e.code_enum() == errc::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);

  auto silent = openai::text("never");
  silent.fault = Fault::no_response;
  silent.stall_for = 20s;
  srv.push(silent);
  t0 = std::chrono::steady_clock::now();
  CHECK(expect_error([&] { rt.run(m->chat(req)); }).code_enum() == errc::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);

  auto drip = openai::stream_text({"slow ", "but ", "sure"});
  drip.fault = Fault::drip;
  drip.drip_delay = 0ms;
  srv.push(drip);
  req.timeout = 20s;
  Collect c2;
  CHECK(rt.run(m->chat(req, &c2)).text == "slow but sure");
  CHECK(c2.text == "slow but sure");
}

TEST_CASE("A streamed chat can be cancelled mid-stream from another thread", "[cancel]") {
  FakeLlmServer srv;
  std::vector<std::string> pieces(200, "tok ");
  srv.push(openai::stream_text(pieces, {1, 200, 0}, 20ms));
  Runtime rt({.threads = 2});
  auto m = openai_at(rt, srv);
  Collect c;
  std::promise<void> first;
  c.on_first = [&] { first.set_value(); };
  std::promise<errc> result;
  auto op = rt.spawn(m->chat(simple_request("q", true), &c), [&](std::exception_ptr e, ChatResponse) {
    errc code = errc::ok;
    try {
      if (e) std::rethrow_exception(e);
    } catch (const Error& err) {
      code = err.code_enum();
    } catch (...) {
      code = errc::internal;
    }
    result.set_value(code);
  });
  REQUIRE(first.get_future().wait_for(5s) == std::future_status::ready);
  auto t0 = std::chrono::steady_clock::now();
  std::thread([op]() mutable { op.cancel(); }).join();
  auto fut = result.get_future();
  REQUIRE(fut.wait_for(5s) == std::future_status::ready);
  CHECK(fut.get() == errc::cancelled);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(c.deltas.size() < 200);
}

TEST_CASE("Keep-alive: sequential chats reuse one connection", "[http]") {
  FakeLlmServer srv;
  for (int i = 0; i < 3; ++i) srv.push(openai::text("r" + std::to_string(i)));
  srv.push(openai::stream_text({"s"}));
  Runtime rt;
  auto m = openai_at(rt, srv);
  for (int i = 0; i < 3; ++i) CHECK(rt.run(m->chat(simple_request())).text == "r" + std::to_string(i));
  CHECK(rt.run(m->chat(simple_request("q", true))).text == "s");
  CHECK(srv.connections_accepted() == 1);
  CHECK(srv.request_count() == 4);
}

TEST_CASE("A pooled connection the server closed is replaced transparently", "[http]") {
  FakeLlmServer srv;
  auto r = openai::text("first");
  r.close_connection = true;
  srv.push(r);
  srv.push(openai::text("second"));
  Runtime rt;
  auto m = openai_at(rt, srv);
  CHECK(rt.run(m->chat(simple_request())).text == "first");
  CHECK(rt.run(m->chat(simple_request())).text == "second");
  CHECK(srv.connections_accepted() == 2);
}

TEST_CASE("HTTPS verifies the certificate chain and the host name", "[tls]") {
  TempDir dir;
  auto pki = make_test_pki({"localhost"}, {"127.0.0.1"});
  FakeLlmServer srv({.tls = TlsConfig{pki.leaf_cert_pem, pki.leaf_key_pem}});
  REQUIRE(srv.base_url().rfind("https://", 0) == 0);
  Runtime rt;
  auto ca = dir.file("ca.pem", pki.ca_cert_pem);

  auto trusted = cfg_no_env();
  trusted.ca_file = ca;
  srv.push(openai::text("secure"));
  CHECK(rt.run(openai_at(rt, srv, trusted)->chat(simple_request())).text == "secure");
  // By host name too (SNI + DNS SAN).
  srv.push(openai::stream_text({"by ", "name"}));
  auto by_name = make_model(rt.executor(), "openai-compatible:https://localhost:" + std::to_string(srv.port()) + "/v1#m", trusted);
  CHECK(rt.run(by_name->chat(simple_request("q", true))).text == "by name");

  // Not trusted: the system store does not know our CA.
  auto e = expect_error([&] { rt.run(openai_at(rt, srv)->chat(simple_request())); });
  CHECK(e.code_enum() == errc::tls);
  CHECK(std::string(e.what()).find("certificate") != std::string::npos);

  // Trusted CA but the certificate is for another name.
  auto other = make_test_pki({"api.example.test"}, {});
  FakeLlmServer wrong({.tls = TlsConfig{other.leaf_cert_pem, other.leaf_key_pem}});
  auto cfg = cfg_no_env();
  cfg.ca_file = dir.file("other-ca.pem", other.ca_cert_pem);
  wrong.push(openai::text("should not arrive"));
  e = expect_error([&] { rt.run(openai_at(rt, wrong, cfg)->chat(simple_request())); });
  CHECK(e.code_enum() == errc::tls);
  CHECK(wrong.request_count() == 0);

  // A missing CA file is a configuration error naming the file.
  auto bad = cfg_no_env();
  bad.ca_file = (dir.path / "nope.pem").string();
  e = expect_error([&] { openai_at(rt, srv, bad); });
  CHECK(e.code_enum() == errc::config);
  CHECK(std::string(e.what()).find("nope.pem") != std::string::npos);
}

TEST_CASE("Proxies: CONNECT for https, absolute-form for http, NO_PROXY bypass", "[proxy]") {
  TempDir dir;
  auto pki = make_test_pki();
  FakeLlmServer tls_srv({.tls = TlsConfig{pki.leaf_cert_pem, pki.leaf_key_pem}});
  FakeLlmServer plain_srv;
  FakeProxy proxy;
  Runtime rt;

  auto cfg = cfg_no_env();
  cfg.ca_file = dir.file("ca.pem", pki.ca_cert_pem);
  cfg.https_proxy = proxy.url();
  cfg.http_proxy = proxy.url();
  tls_srv.push(openai::text("through the tunnel"));
  CHECK(rt.run(openai_at(rt, tls_srv, cfg)->chat(simple_request())).text == "through the tunnel");
  plain_srv.push(openai::stream_text({"via ", "proxy"}));
  CHECK(rt.run(openai_at(rt, plain_srv, cfg)->chat(simple_request("q", true))).text == "via proxy");
  auto targets = proxy.targets();
  REQUIRE(targets.size() == 2);
  CHECK(targets[0] == "CONNECT 127.0.0.1:" + std::to_string(tls_srv.port()));
  CHECK(targets[1].rfind("POST http://127.0.0.1:" + std::to_string(plain_srv.port()) + "/v1/chat/completions", 0) == 0);

  cfg.no_proxy = "127.0.0.1";
  plain_srv.push(openai::text("direct"));
  CHECK(rt.run(openai_at(rt, plain_srv, cfg)->chat(simple_request())).text == "direct");
  CHECK(proxy.targets().size() == 2);

  // The same from the environment.
  ScopedEnv hp("HTTP_PROXY", proxy.url());
  ScopedEnv np("NO_PROXY", "");
  auto env_cfg = ProviderConfig{};
  env_cfg.api_key = kKey;
  plain_srv.push(openai::text("env proxy"));
  CHECK(rt.run(openai_at(rt, plain_srv, env_cfg)->chat(simple_request())).text == "env proxy");
  CHECK(proxy.targets().size() == 3);
}

TEST_CASE("Model specs and configuration errors are clear", "[config]") {
  Runtime rt;
  auto s = ModelSpec::parse("openai-compatible:http://127.0.0.1:8000/v1#qwen2.5:7b");
  CHECK(s.kind == ProviderKind::openai_compatible);
  CHECK(s.base_url == "http://127.0.0.1:8000/v1");
  CHECK(s.model == "qwen2.5:7b");
  CHECK(ModelSpec::parse("ollama:llama3.1").to_string() == "ollama:llama3.1");
  CHECK(ModelSpec::parse("anthropic:claude-sonnet-4-5").kind == ProviderKind::anthropic);

  CHECK_THROWS_WITH(ModelSpec::parse("gpt-4o"), Catch::Contains("no provider"));
  CHECK_THROWS_WITH(ModelSpec::parse("mistral:large"), Catch::Contains("unknown provider 'mistral'"));
  CHECK_THROWS_WITH(ModelSpec::parse("openai:"), Catch::Contains("names no model"));
  CHECK_THROWS_WITH(ModelSpec::parse("openai-compatible:http://h:1/v1"), Catch::Contains("BASE_URL#MODEL"));
  CHECK_THROWS_WITH(ModelSpec::parse("openai-compatible:h:1/v1#m"), Catch::Contains("h:1/v1"));

  ProviderConfig none;
  none.use_env = false;
  auto e = expect_error([&] { make_model(rt.executor(), "openai:gpt-4o", none); });
  CHECK(e.code_enum() == errc::config);
  CHECK(std::string(e.what()).find("OPENAI_API_KEY") != std::string::npos);
  e = expect_error([&] { make_model(rt.executor(), "anthropic:claude-sonnet-4-5", none); });
  CHECK(std::string(e.what()).find("ANTHROPIC_API_KEY") != std::string::npos);

  // Keys and hosts from the environment.
  FakeLlmServer srv;
  ScopedEnv key("OPENAI_API_KEY", "sk-env-key-abcdef");
  ScopedEnv base("OPENAI_BASE_URL", srv.base_url() + "/v1");
  srv.push(openai::text("from env"));
  auto m = make_model(rt.executor(), "openai:gpt-4o");
  CHECK(m->describe() == "openai:gpt-4o");
  CHECK(rt.run(m->chat(simple_request())).text == "from env");
  CHECK(srv.requests().back().header("authorization") == "Bearer sk-env-key-abcdef");
  CHECK(body_of(srv.requests().back())["model"].as_string() == "gpt-4o");

  ScopedEnv oh("OLLAMA_HOST", "127.0.0.1:" + std::to_string(srv.port()));
  srv.push(openai::text("llama says hi"));
  auto o = make_model(rt.executor(), "ollama:llama3.1");
  CHECK(rt.run(o->chat(simple_request())).text == "llama says hi");
  CHECK(srv.requests().back().target == "/v1/chat/completions");
}

TEST_CASE("Unreachable hosts fail with a network error naming the host", "[errors]") {
  Runtime rt;
  unsigned short port;
  {
    FakeLlmServer tmp;  // grab a free port, then close it
    port = tmp.port();
  }
  auto m = make_model(rt.executor(), "openai-compatible:http://127.0.0.1:" + std::to_string(port) + "/v1#m", cfg_no_env());
  auto e = expect_error([&] { rt.run(m->chat(simple_request())); });
  CHECK(e.code_enum() == errc::network);
  CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  CHECK(std::string(e.what()).find(kKey) == std::string::npos);
}

TEST_CASE("models check lists models without spending tokens", "[check]") {
  FakeLlmServer srv;
  srv.set_handler(scripted_handler({}, false, kKey));
  Runtime rt;
  rt.run(openai_at(rt, srv)->check());
  rt.run(anthropic_at(rt, srv)->check());
  CHECK(srv.requests()[0].target == "/v1/models");
  CHECK(srv.requests()[0].method == "GET");
  CHECK(srv.requests()[1].target == "/v1/models");

  auto missing = make_model(rt.executor(), "openai-compatible:" + srv.base_url() + "/v1#no-such-model", cfg_no_env());
  auto e = expect_error([&] { rt.run(missing->check()); });
  CHECK(e.code_enum() == errc::not_found);
  CHECK(std::string(e.what()).find("gpt-test") != std::string::npos);

  auto wrong_key = cfg_no_env();
  wrong_key.api_key = "sk-wrong-key-0000";
  e = expect_error([&] { rt.run(openai_at(rt, srv, wrong_key)->check()); });
  CHECK(e.code_enum() == errc::auth);
  CHECK(std::string(e.what()).find("sk-wrong-key-0000") == std::string::npos);
}
