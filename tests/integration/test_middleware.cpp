// Middleware against the fake server: retries, rate limits, accounting and budgets, cassettes.
#include "fake_llm.hpp"
#include "helpers.hpp"

#include <mlrcopilot/json.hpp>
#include <mlrcopilot/middleware.hpp>
#include <mlrcopilot/providers.hpp>

using namespace std::chrono_literals;
using namespace mlrc;
using namespace mlrc::test;

namespace {
constexpr const char* kKey = "sk-mw-SECRET-9876543210";
ModelPtr provider(Runtime& rt, const FakeLlmServer& srv) {
  ProviderConfig c;
  c.api_key = kKey;
  c.use_env = false;
  return make_model(rt.executor(), "openai-compatible:" + srv.base_url() + "/v1#gpt-4o-mini", c);
}
RetryPolicy fast_retry(int attempts = 4) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.base_delay = 10ms;
  p.max_delay = 50ms;
  return p;
}
}  // namespace

TEST_CASE("Retry: 5xx and 429 are retried with backoff, honouring Retry-After", "[retry]") {
  FakeLlmServer srv;
  Runtime rt;
  auto m = with_retry(provider(rt, srv), fast_retry());

  srv.push(openai::error(503, "server_error", "overloaded"));
  srv.push(openai::error(500, "server_error", "oops"));
  srv.push(openai::text("third time lucky"));
  auto resp = rt.run(m->chat(simple_request()));
  CHECK(resp.text == "third time lucky");
  CHECK(resp.attempts == 3);
  CHECK(srv.request_count() == 3);

  auto r429 = openai::error(429, "rate_limit_exceeded", "slow down");
  r429.headers.emplace_back("Retry-After", "1");
  srv.push(r429);
  srv.push(openai::text("after waiting"));
  auto t0 = std::chrono::steady_clock::now();
  resp = rt.run(m->chat(simple_request()));
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(resp.text == "after waiting");
  CHECK(resp.attempts == 2);
  CHECK(waited >= 950ms);  // the server's Retry-After, not our 10 ms backoff
  CHECK(waited < 5s);
}

TEST_CASE("Retry: bounded attempts, no retry of client errors or partly delivered streams", "[retry]") {
  FakeLlmServer srv;
  Runtime rt;
  auto m = with_retry(provider(rt, srv), fast_retry(3));

  for (int i = 0; i < 5; ++i) srv.push(openai::error(503, "server_error", "down"));
  auto e = expect_error([&] { rt.run(m->chat(simple_request())); });
  CHECK(e.code_enum() == errc::server_error);
  CHECK(std::string(e.what()).find("gave up after 3 attempts") != std::string::npos);
  CHECK(srv.request_count() == 3);
  srv.clear();

  srv.push(openai::error(400, "invalid_request_error", "bad"));
  CHECK(expect_error([&] { rt.run(m->chat(simple_request())); }).code_enum() == errc::provider_error);
  CHECK(srv.request_count() == 1);
  srv.clear();

  // Reset after text reached the observer: retrying would show the text twice.
  auto reset = openai::stream_text({"partial ", "answer ", "here"});
  reset.fault = Fault::reset_after;
  reset.fault_after = 2;
  srv.push(reset);
  srv.push(openai::stream_text({"complete"}));
  Collect c;
  e = expect_error([&] { rt.run(m->chat(simple_request("q", true), &c)); });
  CHECK(e.partial_delivery);
  CHECK(srv.request_count() == 1);
  srv.clear();

  // Reset before anything was delivered (right after the headers): retried.
  auto early = openai::stream_text({"x"});
  early.fault = Fault::reset_after;
  early.fault_after = 0;
  srv.push(early);
  srv.push(openai::stream_text({"recovered"}));
  Collect c2;
  auto resp = rt.run(m->chat(simple_request("q", true), &c2));
  CHECK(resp.text == "recovered");
  CHECK(c2.text == "recovered");
  CHECK(resp.attempts == 2);

  // A Retry-After beyond the policy's limit is not waited for.
  auto p = fast_retry();
  p.max_retry_after = 2s;
  auto impatient = with_retry(provider(rt, srv), p);
  auto slow = openai::error(429, "rate_limit_exceeded", "come back tomorrow");
  slow.headers.emplace_back("Retry-After", "86400");
  srv.push(slow);
  auto t0 = std::chrono::steady_clock::now();
  e = expect_error([&] { rt.run(impatient->chat(simple_request())); });
  CHECK(e.code_enum() == errc::rate_limited);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE("Retry: the request deadline bounds all attempts and waits", "[retry]") {
  FakeLlmServer srv;
  Runtime rt;
  auto p = fast_retry(10);
  p.base_delay = 300ms;
  p.max_delay = 300ms;
  p.jitter = 0;
  auto m = with_retry(provider(rt, srv), p);
  for (int i = 0; i < 10; ++i) srv.push(openai::error(500, "server_error", "down"));
  auto req = simple_request();
  req.timeout = 700ms;
  auto t0 = std::chrono::steady_clock::now();
  auto e = expect_error([&] { rt.run(m->chat(req)); });
  CHECK(e.code_enum() == errc::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);
  CHECK(srv.request_count() <= 3);
}

TEST_CASE("Rate limit: requests per minute spaces out calls", "[ratelimit]") {
  FakeLlmServer srv;
  for (int i = 0; i < 5; ++i) srv.push(openai::text("ok"));
  Runtime rt;
  RateLimit rl;
  rl.requests_per_minute = 600;  // 10 per second
  rl.burst_seconds = 0.1;        // one at a time
  auto m = with_rate_limit(provider(rt, srv), rl);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) rt.run(m->chat(simple_request()));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 380ms);  // 4 waits of 100 ms
  CHECK(took < 3s);
}

TEST_CASE("Rate limit: a wait longer than the request's timeout fails at once", "[ratelimit]") {
  FakeLlmServer srv;
  Runtime rt;
  srv.push(openai::text("one"));
  srv.push(openai::text("two"));
  RateLimit rl;
  rl.requests_per_minute = 6;  // one per 10 s
  rl.burst_seconds = 10;
  auto m = with_rate_limit(provider(rt, srv), rl);
  rt.run(m->chat(simple_request()));
  auto req = simple_request();
  req.timeout = 500ms;
  auto t0 = std::chrono::steady_clock::now();
  try {
    rt.run(m->chat(req));
    FAIL("expected rate_limited");
  } catch (const Error& e) {
    CHECK(e.code_enum() == errc::rate_limited);
    CHECK(e.retry_after.has_value());
    CHECK_THAT(e.what(), Catch::Matchers::Contains("timeout of 500 ms"));
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 400ms);
  CHECK(srv.requests().size() == 1);
}

TEST_CASE("Accounting: cost from the price table, totals, and hard budgets", "[accounting]") {
  FakeLlmServer srv;
  Runtime rt;
  auto ledger = std::make_shared<Ledger>();
  PriceTable prices = PriceTable::from_json(R"({"gpt-4o-mini*": {"input": 1.0, "output": 2.0, "cached_input": 0.5}})");
  Budget budget;
  budget.max_tokens = 2500;
  auto m = with_accounting(provider(rt, srv), ledger, prices, budget);

  srv.push(openai::text("a", {1000, 100, 400}));
  auto r1 = rt.run(m->chat(simple_request()));
  // 600 plain input at $1/M + 400 cached at $0.5/M + 100 output at $2/M
  CHECK(r1.cost_usd == Approx((600 * 1.0 + 400 * 0.5 + 100 * 2.0) / 1e6));
  srv.push(openai::text("b", {1000, 500, 0}));
  rt.run(m->chat(simple_request()));
  auto t = ledger->totals();
  CHECK(t.calls == 2);
  CHECK(t.usage.total() == 2600);
  CHECK(t.cost_usd == Approx(r1.cost_usd + (1000 * 1.0 + 500 * 2.0) / 1e6));
  CHECK(ledger->by_model().at("gpt-test").calls == 2);  // keyed by the model that answered

  srv.push(openai::text("never sent"));
  auto e = expect_error([&] { rt.run(m->chat(simple_request())); });
  CHECK(e.code_enum() == errc::budget_exceeded);
  CHECK(std::string(e.what()).find("2600 of 2500 tokens") != std::string::npos);
  CHECK(srv.request_count() == 2);  // stopped before the network

  Budget money;
  money.max_cost_usd = 0.000001;
  auto m2 = with_accounting(provider(rt, srv), std::make_shared<Ledger>(), prices, money);
  srv.clear();
  srv.push(openai::text("x", {10000, 0, 0}));
  rt.run(m2->chat(simple_request()));
  CHECK(expect_error([&] { rt.run(m2->chat(simple_request())); }).code_enum() == errc::budget_exceeded);

  CHECK_THROWS_WITH(PriceTable::from_json(R"({"m": {"input": -1, "output": 1}})"), Catch::Contains("'m'") && Catch::Contains("input"));
  CHECK_THROWS_WITH(PriceTable::from_json(R"({"m": {"input": 1}})"), Catch::Contains("missing field 'output'"));
  CHECK(PriceTable::defaults().find("openai:gpt-4o-2024-08-06"));
  CHECK(PriceTable::defaults().find("gpt-4o-mini")->input_per_mtok < PriceTable::defaults().find("gpt-4o")->input_per_mtok);
}

TEST_CASE("Cassettes record exchanges and replay them offline, without keys", "[cassette]") {
  TempDir dir;
  auto path = (dir.path / "session.jsonl").string();
  Runtime rt;
  ChatResponse recorded, recorded2;
  {
    FakeLlmServer srv;
    srv.push(openai::text("recorded answer", {11, 7, 0}));
    srv.push(openai::tool_calls({{"call_1", "execute", R"({"script":"train.py"})"}}));
    srv.push(openai::text("second time, different answer"));
    auto m = with_cassette(provider(rt, srv), path, CassetteMode::record);
    recorded = rt.run(m->chat(simple_request("first")));
    recorded2 = rt.run(m->chat(simple_request("second")));
    rt.run(m->chat(simple_request("first")));  // same request again: a second recording
  }
  auto text = read_file(path);
  CHECK(text.find(kKey) == std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);

  // Replay needs no server and no inner model.
  auto replay = with_cassette(nullptr, path, CassetteMode::replay);
  auto a = rt.run(replay->chat(simple_request("second")));
  CHECK(a.tool_calls == recorded2.tool_calls);
  CHECK(a.from_cassette);
  auto b = rt.run(replay->chat(simple_request("first")));
  CHECK(b.text == recorded.text);
  CHECK(b.usage == recorded.usage);
  CHECK(rt.run(replay->chat(simple_request("first"))).text == "second time, different answer");
  CHECK(rt.run(replay->chat(simple_request("first"))).text == "second time, different answer");  // last repeats
  // Streaming or not, same key; the observer gets the text.
  auto replay2 = with_cassette(nullptr, path, CassetteMode::replay);
  Collect c;
  CHECK(rt.run(replay2->chat(simple_request("first", true), &c)).text == "recorded answer");
  CHECK(c.text == "recorded answer");

  auto e = expect_error([&] { rt.run(replay->chat(simple_request("never recorded"))); });
  CHECK(e.code_enum() == errc::not_found);
  CHECK(std::string(e.what()).find("never recorded") != std::string::npos);

  auto bad = dir.file("bad.jsonl", text + "{\"key\": \"abc\", \"response\": \n");
  e = expect_error([&] { with_cassette(nullptr, bad, CassetteMode::replay); });
  CHECK(e.code_enum() == errc::parse);
  CHECK(std::string(e.what()).find("line 4") != std::string::npos);
  e = expect_error([&] { with_cassette(nullptr, (dir.path / "missing.jsonl").string(), CassetteMode::replay); });
  CHECK(e.code_enum() == errc::io);
}

TEST_CASE("Cassette replay_or_record fills misses from the model", "[cassette]") {
  TempDir dir;
  auto path = (dir.path / "c.jsonl").string();
  FakeLlmServer srv;
  srv.push(openai::text("live"));
  Runtime rt;
  auto m = with_cassette(provider(rt, srv), path, CassetteMode::replay_or_record);
  CHECK_FALSE(rt.run(m->chat(simple_request("x"))).from_cassette);
  auto again = with_cassette(provider(rt, srv), path, CassetteMode::replay_or_record);
  auto r = rt.run(again->chat(simple_request("x")));
  CHECK(r.from_cassette);
  CHECK(r.text == "live");
  CHECK(srv.request_count() == 1);
}
