// The online sources over real loopback HTTP against a fake server replaying the APIs' documented
// responses: request mapping and headers, keys never leaked, malformed bodies, 429/Retry-After,
// deadlines, offline errors, the response cache, the fallback chain, cancellation, the factory.
#include "fake_llm.hpp"
#include "helpers.hpp"
#include "online_fixtures.hpp"

#include <mlrcopilot/online.hpp>
#include <mlrcopilot/runtime.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

using namespace std::chrono_literals;
using namespace mlrc;
using namespace mlrc::test;
namespace fx = mlrc::test::fixtures;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

constexpr const char* kKey = "s2-key-SECRET-0123456789";

OnlineOptions at(const FakeLlmServer& srv, std::string key = {}) {
  OnlineOptions o;
  o.base_url = srv.base_url();
  o.api_key = std::move(key);
  o.use_env = false;
  o.timeout = 10s;
  o.retry.base_delay = 20ms;
  o.retry.max_delay = 50ms;
  return o;
}


Reply json(std::string body, int status = 200) { return Reply::json(status, std::move(body)); }
Reply rate_limited(std::string retry_after) {
  Reply r = Reply::json(429, R"({"message": "Too Many Requests. Please wait and try again or apply for a key for higher rate limits."})");
  r.headers.emplace_back("Retry-After", std::move(retry_after));
  return r;
}

// A loopback port with nothing listening.
unsigned short dead_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed when `a` goes
}

std::string all_text(const Error& e) { return std::string(e.what()) + "|" + e.provider_text(); }

}  // namespace

TEST_CASE("Semantic Scholar: search sends the documented request with x-api-key", "[online][s2]") {
  FakeLlmServer srv;
  srv.push(json(fx::s2_search));
  Runtime rt;
  SemanticScholarRetriever s2(rt.executor(), at(srv, kKey));
  CHECK(s2.name() == "s2");
  CHECK(s2.corpora() == std::vector<Corpus>{Corpus::papers});
  auto q = query("attention transformer", Corpus::papers, 5);
  q.year_min = 2015;
  auto hits = rt.run(s2.search(q));
  REQUIRE(hits.size() == 2);
  CHECK(hits[0].id == "s2:204e3073870fae3d05bcbc2f6a8e263d9b72e776");
  CHECK(hits[0].fields.at("source") == "s2");
  REQUIRE(srv.request_count() == 1);
  auto r = srv.requests()[0];
  CHECK(r.method == "GET");
  CHECK(r.target.starts_with("/graph/v1/paper/search?query=attention%20transformer&fields=paperId%2C"));
  CHECK(r.target.find("&limit=5&year=2015-") != std::string::npos);
  CHECK(r.header("x-api-key") == kKey);
  CHECK(r.header("accept") == "application/json");
  CHECK(r.header("user-agent").starts_with("mlrcopilot/"));
  CHECK(r.target.find(kKey) == std::string::npos);
}

TEST_CASE("Semantic Scholar: paper details and recommendations", "[online][s2]") {
  FakeLlmServer srv;
  srv.push(json(fx::s2_paper));
  srv.push(json(fx::s2_recommendations));
  srv.push(json(R"({"error": "Paper with id ARXIV:9999.99999 not found"})", 404));
  Runtime rt;
  SemanticScholarRetriever s2(rt.executor(), at(srv));
  auto p = rt.run(s2.paper("arxiv:2408.14033"));
  CHECK(p.title.starts_with("MLR-Copilot"));
  CHECK(p.fields.at("year") == "2024");
  CHECK(p.fields.at("source") == "s2");
  auto recs = rt.run(s2.recommend("s2:b4df3ab2", 2));
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].title.starts_with("The AI Scientist"));
  CHECK(recs[0].score > recs[1].score);
  auto e = expect_error([&] { rt.run(s2.paper("arxiv:9999.99999")); });
  CHECK(e.code_enum() == errc::not_found);
  CHECK(e.provider_text().find("not found") != std::string::npos);
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].target.starts_with("/graph/v1/paper/ARXIV:2408.14033?fields="));
  CHECK(reqs[1].target.starts_with("/recommendations/v1/papers/forpaper/b4df3ab2?fields="));
  CHECK(reqs[1].target.ends_with("&limit=2"));
  CHECK(reqs[0].header("x-api-key").empty());  // no key configured: none sent
}

TEST_CASE("The API key comes from the environment and never shows in errors", "[online][keys]") {
  FakeLlmServer srv;
  // The server echoes the key back in its error text, as some APIs do.
  srv.set_handler([](const RecordedRequest& r) {
    return Reply::json(403, R"({"message": "Forbidden: key )" + r.header("x-api-key") + R"( is not valid"})");
  });
  ScopedEnv key("S2_API_KEY", kKey);
  ScopedEnv url("MLRC_S2_URL", srv.base_url());
  Runtime rt;
  OnlineOptions o;
  o.timeout = 5s;
  SemanticScholarRetriever s2(rt.executor(), o);
  CHECK(s2.base_url() == srv.base_url());
  auto e = expect_error([&] { rt.run(s2.search(query("anything"))); });
  CHECK(e.code_enum() == errc::auth);
  CHECK(srv.requests().at(0).header("x-api-key") == kKey);
  CHECK_THAT(all_text(e), Contains("semantic scholar") && Contains("/graph/v1/paper/search") && Contains("[REDACTED]"));
  CHECK(all_text(e).find(kKey) == std::string::npos);
}

TEST_CASE("OpenAlex: per-page, publication_year filter, mailto - client-side venue filter", "[online][openalex]") {
  FakeLlmServer srv;
  srv.push(json(fx::openalex_works));
  srv.push(json(fx::openalex_works));
  Runtime rt;
  auto o = at(srv);
  o.mailto = "lab@example.org";
  OpenAlexRetriever oa(rt.executor(), o);
  auto q = query("open access", Corpus::papers, 3);
  q.year_min = 2018;
  q.year_max = 2018;
  auto hits = rt.run(oa.search(q));
  REQUIRE(hits.size() == 1);  // the fake ignores the filter; it is checked here too (the other work is from 2021)
  CHECK(hits[0].id == "openalex:W2741809807");
  CHECK(hits[0].fields.at("abstract").starts_with("Despite growing interest in Open Access"));
  auto r = srv.requests()[0];
  CHECK(r.target == "/works?search=open%20access&per-page=3&filter=publication_year%3A2018&mailto=lab%40example.org");
  q.venue_or_category = "peerj";
  hits = rt.run(oa.search(q));
  REQUIRE(hits.size() == 1);
  CHECK(srv.requests()[1].target.find("per-page=20") != std::string::npos);  // asks for more when filtering here
}

TEST_CASE("arXiv: Atom over HTTP - an error feed is a provider error", "[online][arxiv]") {
  FakeLlmServer srv;
  srv.push(Reply::body(200, "application/atom+xml; charset=utf-8", fx::arxiv_feed));
  srv.push(Reply::body(200, "application/atom+xml", fx::arxiv_error_feed));
  Runtime rt;
  ArxivRetriever ax(rt.executor(), at(srv));
  auto q = query("electron", Corpus::papers, 2);
  q.venue_or_category = "hep-ex";
  auto hits = rt.run(ax.search(q));
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].id == "arxiv:hep-ex/0307015");
  auto r = srv.requests()[0];
  CHECK(r.target == "/api/query?search_query=all%3Aelectron%20AND%20cat%3Ahep-ex&start=0&max_results=2");
  CHECK(r.header("accept") == "application/atom+xml");
  auto e = expect_error([&] { rt.run(ax.search(query("electron"))); });
  CHECK(e.code_enum() == errc::provider_error);
  CHECK_THAT(e.what(), Contains("arxiv") && Contains("incorrect id format"));
}

TEST_CASE("Hugging Face: models and datasets with filters and a Bearer token", "[online][hf]") {
  FakeLlmServer srv;
  srv.push(json(fx::hf_models));
  srv.push(json(fx::hf_datasets));
  Runtime rt;
  HuggingFaceRetriever hf(rt.executor(), at(srv, "hf_SECRETtoken123"));
  CHECK(hf.corpora() == std::vector<Corpus>{Corpus::models, Corpus::datasets});
  auto q = query("bert", Corpus::models, 2);
  q.license = "apache-2.0";
  auto models = rt.run(hf.search(q));
  REQUIRE(models.size() == 1);  // the other record has no license: filtered here as well
  CHECK(models[0].fields.at("pipeline_tag") == "fill-mask");
  auto ds = rt.run(hf.search(query("imdb", Corpus::datasets)));
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].id == "stanfordnlp/imdb");
  auto reqs = srv.requests();
  CHECK(reqs[0].target == "/api/models?search=bert&limit=2&filter=license%3Aapache-2.0");
  CHECK(reqs[0].header("authorization") == "Bearer hf_SECRETtoken123");
  CHECK(reqs[1].target == "/api/datasets?search=imdb&limit=10");
  auto e = expect_error([&] { rt.run(hf.search(query("bert", Corpus::papers))); });
  CHECK(e.code_enum() == errc::not_found);
  CHECK_THAT(e.what(), Contains("hugging face") && Contains("has no papers"));
}

TEST_CASE("GitHub: repository search - code search needs a token", "[online][github]") {
  FakeLlmServer srv;
  srv.push(json(fx::github_repos));
  srv.push(json(fx::github_code));
  Runtime rt;
  GitHubRetriever gh(rt.executor(), at(srv));
  auto q = query("tetris", Corpus::code, 3);
  q.license = "mit";
  auto repos = rt.run(gh.search(q));
  REQUIRE(repos.size() == 1);
  CHECK(repos[0].id == "dtrupenn/Tetris");
  auto r = srv.requests()[0];
  CHECK(r.target == "/search/repositories?q=tetris%20license%3Amit&per_page=3");
  CHECK(r.header("accept") == "application/vnd.github+json");
  CHECK(r.header("x-github-api-version") == "2022-11-28");
  CHECK(r.header("authorization").empty());

  GitHubRetriever anonymous(rt.executor(), at(srv), GitHubRetriever::Mode::code);
  auto e = expect_error([&] { rt.run(anonymous.search(query("addClass", Corpus::code))); });
  CHECK(e.code_enum() == errc::auth);
  CHECK_THAT(e.what(), Contains("GITHUB_TOKEN"));
  CHECK(srv.request_count() == 1);  // failed before asking

  GitHubRetriever code(rt.executor(), at(srv, "ghp_SECRET0123456789"), GitHubRetriever::Mode::code);
  CHECK(code.name() == "github-code");
  auto hits = rt.run(code.search(query("addClass", Corpus::code)));
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].fields.at("path") == "src/attributes/classes.js");
  CHECK(srv.requests()[1].header("authorization") == "Bearer ghp_SECRET0123456789");
  CHECK(srv.requests()[1].header("accept") == "application/vnd.github.text-match+json");
}

TEST_CASE("GitHub: 403 with an exhausted quota is rate_limited with the reset as Retry-After", "[online][github]") {
  FakeLlmServer srv;
  auto reply = Reply::json(403, R"({"message": "API rate limit exceeded for 127.0.0.1.", "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"})");
  reply.headers.emplace_back("x-ratelimit-remaining", "0");
  auto reset = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
  reply.headers.emplace_back("x-ratelimit-reset", std::to_string(reset));
  srv.push(reply);
  Runtime rt;
  GitHubRetriever gh(rt.executor(), at(srv));
  auto t0 = std::chrono::steady_clock::now();
  auto e = expect_error([&] { rt.run(gh.search(query("tetris", Corpus::code))); });
  CHECK(e.code_enum() == errc::rate_limited);
  CHECK(e.http_status == 403);
  CHECK_THAT(e.what(), Contains("retry after"));
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(srv.request_count() == 1);
}

TEST_CASE("Malformed bodies are parse errors naming the source and URL", "[online][errors]") {
  FakeLlmServer srv;
  srv.push(Reply::body(200, "text/html", "<html><body>Service temporarily unavailable</body></html>"));
  srv.push(json(R"({"results": "nope"})"));
  srv.push(json(R"({"items": [{"name": 1}]})"));
  Runtime rt;
  SemanticScholarRetriever s2(rt.executor(), at(srv));
  auto e = expect_error([&] { rt.run(s2.search(query("graphs"))); });
  CHECK(e.code_enum() == errc::parse);
  CHECK_THAT(e.what(), Contains("semantic scholar: response from " + srv.base_url() + "/graph/v1/paper/search") && Contains("not JSON"));
  OpenAlexRetriever oa(rt.executor(), at(srv));
  e = expect_error([&] { rt.run(oa.search(query("graphs"))); });
  CHECK_THAT(e.what(), Contains("openalex: response from") && Contains("'results' is not an array"));
  GitHubRetriever gh(rt.executor(), at(srv));
  e = expect_error([&] { rt.run(gh.search(query("graphs", Corpus::code))); });
  CHECK_THAT(e.what(), Contains("github: response from") && Contains("full_name"));
}

TEST_CASE("429 with a short Retry-After is retried, then succeeds", "[online][retry]") {
  FakeLlmServer srv;
  srv.push(rate_limited("0.2"));
  srv.push(Reply::json(503, R"({"message": "Service Unavailable"})"));
  srv.push(json(fx::s2_search));
  Runtime rt;
  SemanticScholarRetriever s2(rt.executor(), at(srv));
  auto t0 = std::chrono::steady_clock::now();
  auto hits = rt.run(s2.search(query("attention")));
  CHECK(hits.size() == 2);
  CHECK(srv.request_count() == 3);
  CHECK(std::chrono::steady_clock::now() - t0 >= 200ms);  // waited as asked
}

TEST_CASE("429 with a Retry-After beyond the deadline fails fast with rate_limited", "[online][retry]") {
  FakeLlmServer srv;
  srv.push(rate_limited("30"));
  Runtime rt;
  auto o = at(srv);
  o.timeout = 5s;
  SemanticScholarRetriever s2(rt.executor(), o);
  auto t0 = std::chrono::steady_clock::now();
  auto e = expect_error([&] { rt.run(s2.search(query("attention"))); });
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(e.code_enum() == errc::rate_limited);
  CHECK(e.http_status == 429);
  CHECK_THAT(e.what(), Contains("semantic scholar") && Contains("retry after 30 s") && Contains("deadline"));
  CHECK(srv.request_count() == 1);
}

TEST_CASE("Client-side rate limit: a wait past the deadline fails at once with rate_limited", "[online][retry]") {
  FakeLlmServer srv;
  srv.set_handler([](const RecordedRequest&) { return Reply::json(200, fx::s2_search); });
  Runtime rt;
  auto o = at(srv);
  o.rate_limit.requests_per_minute = 60;
  o.rate_limit.burst_seconds = 1;  // one request, then one a second
  o.timeout = 300ms;
  SemanticScholarRetriever s2(rt.executor(), o);
  CHECK(rt.run(s2.search(query("attention"))).size() == 2);
  auto t0 = std::chrono::steady_clock::now();
  auto e = expect_error([&] { rt.run(s2.search(query("attention"))); });
  CHECK(std::chrono::steady_clock::now() - t0 < 250ms);
  CHECK(e.code_enum() == errc::rate_limited);
  CHECK_THAT(e.what(), Contains("client-side rate limit"));
  CHECK(srv.request_count() == 1);
  o.timeout = 5s;
  SemanticScholarRetriever patient(rt.executor(), o);
  CHECK(rt.run(patient.search(query("attention"))).size() == 2);
  t0 = std::chrono::steady_clock::now();
  CHECK(rt.run(patient.search(query("attention"))).size() == 2);  // waited for its slot
  CHECK(std::chrono::steady_clock::now() - t0 >= 800ms);
}

TEST_CASE("Offline: connection refused is a network error naming source and URL, quickly", "[online][errors]") {
  Runtime rt;
  OnlineOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(dead_port());
  o.use_env = false;
  o.timeout = 3s;
  o.retry.base_delay = 10ms;
  OpenAlexRetriever oa(rt.executor(), o);
  auto t0 = std::chrono::steady_clock::now();
  auto e = expect_error([&] { rt.run(oa.search(query("graphs"))); });
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(e.code_enum() == errc::network);
  CHECK_THAT(e.what(), Contains("openalex: cannot reach " + o.base_url + "/works") && Contains("gave up after 3 attempts"));
}

TEST_CASE("A stalled server is bounded by the deadline", "[online][errors]") {
  FakeLlmServer srv;
  Reply silent = json(fx::s2_search);
  silent.fault = Fault::no_response;
  silent.stall_for = 20s;
  srv.set_handler([silent](const RecordedRequest&) { return silent; });
  Runtime rt;
  auto o = at(srv);
  o.timeout = 600ms;
  SemanticScholarRetriever s2(rt.executor(), o);
  auto t0 = std::chrono::steady_clock::now();
  auto e = expect_error([&] { rt.run(s2.search(query("attention"))); });
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(e.code_enum() == errc::timeout);
  CHECK_THAT(e.what(), Contains("semantic scholar"));
}

TEST_CASE("Cache: a fresh entry answers without the server - a stale one when the server is down", "[online][cache]") {
  TempDir tmp;
  Runtime rt;
  auto q = query("attention transformer", Corpus::papers, 5);
  OnlineOptions o;
  {
    FakeLlmServer srv;
    srv.push(json(fx::s2_search));
    o = at(srv, kKey);
    o.cache.dir = tmp.path / "http";
    SemanticScholarRetriever s2(rt.executor(), o);
    CHECK(rt.run(s2.search(q)).size() == 2);
    CHECK(rt.run(s2.search(q)).size() == 2);  // fresh entry: no second request
    CHECK(srv.request_count() == 1);
  }  // the server is gone: its port refuses connections now
  // The entry holds the body and URL, never the key; no temporary files are left.
  std::vector<fs::path> entries;
  for (auto& f : fs::directory_iterator(tmp.path / "http")) entries.push_back(f.path());
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].extension() == ".resp");
  auto text = read_file(entries[0].string());
  CHECK(text.find("Attention is All you Need") != std::string::npos);
  CHECK(text.find("/graph/v1/paper/search") != std::string::npos);
  CHECK(text.find(kKey) == std::string::npos);

  o.timeout = 2s;
  o.retry.base_delay = 10ms;
  {
    SemanticScholarRetriever s2(rt.executor(), o);
    auto hits = rt.run(s2.search(q));  // fresh: served without trying the network
    REQUIRE(hits.size() == 2);
    CHECK(hits[0].fields.at("source") == "s2");
  }
  o.cache.ttl = 0s;  // now every entry is stale
  {
    SemanticScholarRetriever s2(rt.executor(), o);
    CHECK(rt.run(s2.search(q)).size() == 2);  // network fails, the stale entry answers
  }
  o.cache.serve_stale_on_error = false;
  {
    SemanticScholarRetriever s2(rt.executor(), o);
    auto e = expect_error([&] { rt.run(s2.search(q)); });
    CHECK(e.code_enum() == errc::network);
  }
  // A corrupt entry is ignored (and the failure is the network's, not a parse error).
  o.cache.serve_stale_on_error = true;
  std::ofstream(entries[0], std::ios::trunc) << "{\"v\":1,\"stored_at\":1,\"bytes\":99999}\n{\"data\":[";
  {
    SemanticScholarRetriever s2(rt.executor(), o);
    auto e = expect_error([&] { rt.run(s2.search(q)); });
    CHECK(e.code_enum() == errc::network);
  }
}

TEST_CASE("Cache: a corrupt entry is replaced by the next good answer - bad bodies are not stored", "[online][cache]") {
  TempDir tmp;
  Runtime rt;
  FakeLlmServer srv;
  srv.push(json("{\"results\": 7}"));
  srv.push(json(fx::openalex_works));
  srv.push(json(fx::openalex_works));
  auto o = at(srv);
  o.cache.dir = tmp.path;
  OpenAlexRetriever oa(rt.executor(), o);
  CHECK(expect_error([&] { rt.run(oa.search(query("open access"))); }).code_enum() == errc::parse);
  CHECK(fs::is_empty(tmp.path));  // the malformed body was not cached
  CHECK(rt.run(oa.search(query("open access"))).size() == 2);
  fs::path entry = fs::directory_iterator(tmp.path)->path();
  std::ofstream(entry, std::ios::trunc) << "garbage";
  CHECK(rt.run(oa.search(query("open access"))).size() == 2);  // asked the server again
  CHECK(srv.request_count() == 3);
  CHECK(read_file(entry.string()).find("W2741809807") != std::string::npos);  // replaced
}

// ---------------------------------------------------------------------------------------------
// Fallback

namespace {
// A retriever that answers from a fixed list (a stand-in for the local index).
struct Canned final : Retriever {
  std::vector<Hit> hits;
  std::string n = "canned";
  boost::asio::awaitable<std::vector<Hit>> search(Query) override { co_return hits; }
  std::string name() const override { return n; }
  std::vector<Corpus> corpora() const override { return {Corpus::papers}; }
};
}  // namespace

TEST_CASE("Fallback: 429, 503 and a stalled source move on - the answer says who answered", "[online][fallback]") {
  FakeLlmServer s2srv, oasrv, axsrv;
  s2srv.set_handler([](const RecordedRequest&) { return rate_limited("60"); });
  oasrv.set_handler([](const RecordedRequest&) { return Reply::json(503, R"({"error": "overloaded"})"); });
  Reply silent = Reply::body(200, "application/atom+xml", fx::arxiv_feed);
  silent.fault = Fault::no_response;
  silent.stall_for = 20s;
  axsrv.set_handler([silent](const RecordedRequest&) { return silent; });
  Runtime rt;
  auto local = std::make_shared<Canned>();
  local->n = "local";
  Hit h;
  h.id = "arxiv:2408.14033";
  h.title = "MLR-Copilot";
  h.fields["source"] = "acl";
  local->hits = {h};
  std::vector<SourceAttempt> seen;
  FallbackOptions fo;
  fo.per_source_timeout = 700ms;
  fo.on_attempt = [&](const SourceAttempt& a) { seen.push_back(a); };
  FallbackRetriever fb({std::make_shared<SemanticScholarRetriever>(rt.executor(), at(s2srv)),
                        std::make_shared<OpenAlexRetriever>(rt.executor(), [&] { auto x = at(oasrv); x.retry.max_attempts = 2; return x; }()),
                        std::make_shared<ArxivRetriever>(rt.executor(), at(axsrv)),
                        std::make_shared<HuggingFaceRetriever>(rt.executor(), at(axsrv)), local},
                       fo);
  CHECK(fb.name() == "fallback(s2,openalex,arxiv,hf,local)");
  auto t0 = std::chrono::steady_clock::now();
  auto hits = rt.run(fb.search(query("machine learning research")));
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].fields.at("source") == "local");
  CHECK(hits[0].fields.at("origin") == "acl");
  auto at_ = fb.last_attempts();
  REQUIRE(at_.size() == 5);
  CHECK(at_[0].source == "s2");
  CHECK(at_[0].code == errc::rate_limited);
  CHECK(at_[1].code == errc::server_error);
  CHECK_THAT(at_[1].error, Contains("gave up after 2 attempts"));
  CHECK(at_[2].code == errc::timeout);
  CHECK(at_[2].elapsed < 1500ms);
  CHECK(at_[3].skipped);  // hf has no papers
  CHECK(at_[4].answered);
  CHECK(at_[4].hits == 1);
  CHECK(seen.size() == 5);
  CHECK(oasrv.request_count() == 2);
}

TEST_CASE("Fallback: the first source that answers wins - later ones are not asked", "[online][fallback]") {
  FakeLlmServer a, b;
  a.push(rate_limited("100"));
  b.push(json(fx::openalex_works));
  Runtime rt;
  auto fb = FallbackRetriever({std::make_shared<SemanticScholarRetriever>(rt.executor(), at(a)),
                               std::make_shared<OpenAlexRetriever>(rt.executor(), at(b)),
                               std::make_shared<Canned>()});
  auto hits = rt.run(fb.search(query("open access")));
  REQUIRE(hits.size() == 2);
  CHECK(hits[0].fields.at("source") == "openalex");
  auto att = fb.last_attempts();
  REQUIRE(att.size() == 2);
  CHECK(att[1].answered);
  CHECK(fb.corpora() == std::vector<Corpus>{Corpus::papers});
}

TEST_CASE("Fallback: when everything fails, one error lists each source", "[online][fallback]") {
  FakeLlmServer a;
  a.set_handler([](const RecordedRequest&) { return Reply::json(500, R"({"message": "Internal Server Error"})"); });
  Runtime rt;
  OnlineOptions dead;
  dead.base_url = "http://127.0.0.1:" + std::to_string(dead_port());
  dead.use_env = false;
  dead.retry.max_attempts = 1;
  auto fast = at(a);
  fast.retry.max_attempts = 1;
  FallbackRetriever fb({std::make_shared<SemanticScholarRetriever>(rt.executor(), fast),
                        std::make_shared<OpenAlexRetriever>(rt.executor(), dead)});
  auto e = expect_error([&] { rt.run(fb.search(query("graphs"))); });
  CHECK(e.code_enum() == errc::network);
  CHECK_THAT(e.what(), Contains("every source failed") && Contains("s2: server_error: semantic scholar: GET") &&
                           Contains("openalex: network: openalex: cannot reach"));
  CHECK(expect_error([&] { rt.run(fb.search(query("   "))); }).code_enum() == errc::invalid_argument);
  CHECK(a.request_count() == 1);  // the empty query reached nobody
  CHECK_THAT(expect_error([&] { rt.run(fb.search(query("bert", Corpus::models))); }).what(), Contains("no source serves models"));
}

TEST_CASE("Cancellation stops a source and the chain at once", "[online][cancel]") {
  FakeLlmServer srv;
  Reply silent = json(fx::s2_search);
  silent.fault = Fault::no_response;
  silent.stall_for = 20s;
  srv.set_handler([silent](const RecordedRequest&) { return silent; });
  Runtime rt({.threads = 2});
  auto s2 = std::make_shared<SemanticScholarRetriever>(rt.executor(), at(srv));
  auto canned = std::make_shared<Canned>();
  FallbackRetriever fb({s2, canned});
  for (int which = 0; which < 2; ++which) {
    std::promise<errc> result;
    auto op = rt.spawn(which == 0 ? s2->search(query("attention")) : fb.search(query("attention")),
                       [&](std::exception_ptr e, std::vector<Hit>) {
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
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (srv.request_count() < std::size_t(which + 1) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    auto t0 = std::chrono::steady_clock::now();
    std::thread([op]() mutable { op.cancel(); }).join();
    auto fut = result.get_future();
    REQUIRE(fut.wait_for(5s) == std::future_status::ready);
    CHECK(fut.get() == errc::cancelled);  // the chain did not fall through to `canned`
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  }
}

TEST_CASE("make_online_retriever: specs, env base URLs, JSON form, errors", "[online][factory]") {
  FakeLlmServer srv;
  srv.push(rate_limited("100"));
  srv.push(json(fx::openalex_works));
  ScopedEnv s2url("MLRC_S2_URL", srv.base_url());
  ScopedEnv oaurl("MLRC_OPENALEX_URL", srv.base_url());
  Runtime rt;
  OnlineConfig cfg;
  cfg.cache = false;
  auto fb = make_online_retriever(rt.executor(), " s2 , openalex,arxiv,hf,github ", cfg);
  CHECK(fb->name() == "fallback(s2,openalex,arxiv,hf,github)");
  CHECK(fb->corpora() == std::vector<Corpus>{Corpus::papers, Corpus::models, Corpus::datasets, Corpus::code});
  auto hits = rt.run(fb->search(query("open access")));
  CHECK(hits.at(0).fields.at("source") == "openalex");

  TempDir tmp;
  auto json_fb = make_online_retriever(rt.executor(),
                                       R"({"sources": ["semanticscholar", "huggingface"], "cache_dir": ")" + (tmp.path / "c").string() +
                                           R"(", "base_urls": {"s2": "http://127.0.0.1:1"}, "per_source_timeout_ms": 500})",
                                       cfg);
  CHECK(json_fb->name() == "fallback(s2,hf)");
  CHECK(std::dynamic_pointer_cast<OnlineRetriever>(json_fb->sources()[0])->base_url() == "http://127.0.0.1:1");

  CHECK(expect_error([&] { make_online_retriever(rt.executor(), "s2,bing", cfg); }).code_enum() == errc::config);
  CHECK_THAT(expect_error([&] { make_online_retriever(rt.executor(), "s2,bing", cfg); }).what(), Contains("unknown source 'bing'"));
  CHECK_THAT(expect_error([&] { make_online_retriever(rt.executor(), "local", cfg); }).what(), Contains("needs an index folder"));
  CHECK(expect_error([&] { make_online_retriever(rt.executor(), "local:" + (tmp.path / "none").string(), cfg); }).code_enum() ==
        errc::not_found);
  CHECK(expect_error([&] { make_online_retriever(rt.executor(), "{\"sources\": [", cfg); }).code_enum() == errc::parse);
  CHECK_THAT(expect_error([&] { make_online_retriever(rt.executor(), R"({"sources": ["s2"], "colour": 1})", cfg); }).what(),
             Contains("unknown member 'colour'"));
  CHECK(expect_error([&] { make_online_retriever(rt.executor(), " , ", cfg); }).code_enum() == errc::config);
  ScopedEnv bad("MLRC_ARXIV_URL", "ftp://example.org");
  CHECK_THAT(expect_error([&] { make_online_retriever(rt.executor(), "arxiv", cfg); }).what(), Contains("arxiv: bad base URL (from MLRC_ARXIV_URL)"));

  // A key set in `defaults` is per source: it never reaches another service.
  FakeLlmServer other;
  other.push(json(fx::openalex_works));
  OnlineConfig keyed = cfg;
  keyed.defaults.api_key = "defaults-SECRET-1234567890";
  keyed.base_urls["openalex"] = other.base_url();
  auto oa = make_online_retriever(rt.executor(), "openalex", keyed);
  rt.run(oa->search(query("open access")));
  REQUIRE(other.requests().size() == 1);
  CHECK(other.requests()[0].header("x-api-key").empty());
  CHECK(other.requests()[0].header("authorization").empty());
}

TEST_CASE("Fallback: a stalled source still answers from its stale cache within the per-source bound", "[online][fallback]") {
  FakeLlmServer srv;
  srv.push(json(fx::openalex_works));
  TempDir tmp;
  Runtime rt;
  ScopedEnv oaurl("MLRC_OPENALEX_URL", srv.base_url());
  OnlineConfig cfg;
  cfg.defaults.cache.dir = tmp.path / "http";
  cfg.defaults.cache.ttl = std::chrono::seconds(0);  // every stored entry is stale at once
  cfg.fallback.per_source_timeout = std::chrono::milliseconds(1500);
  auto chain = make_online_retriever(rt.executor(), "openalex", cfg);
  auto fresh = rt.run(chain->search(query("open access")));  // fetched and stored
  REQUIRE(!fresh.empty());
  Reply silent = json(fx::openalex_works);
  silent.fault = Fault::no_response;
  silent.stall_for = 20s;
  srv.set_handler([silent](const RecordedRequest&) { return silent; });
  auto t0 = std::chrono::steady_clock::now();
  auto hits = rt.run(chain->search(query("open access")));  // the server stalls: the stale entry answers
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);
  REQUIRE(hits.size() == fresh.size());
  CHECK(hits[0].id == fresh[0].id);
  CHECK(hits[0].fields.at("source") == "openalex");
  CHECK(chain->last_attempts().at(0).answered);
}

TEST_CASE("Cache: answers fetched with one credential are not served to another", "[online][cache]") {
  FakeLlmServer srv;
  srv.push(json(fx::hf_models));
  srv.push(json(fx::hf_models));
  TempDir tmp;
  Runtime rt;
  auto opts = [&](std::string key) {
    OnlineOptions o;
    o.base_url = srv.base_url();
    o.api_key = std::move(key);
    o.use_env = false;
    o.cache.dir = tmp.path / "http";
    return o;
  };
  HuggingFaceRetriever a(rt.executor(), opts("hf_tokenA-SECRET-111111"));
  HuggingFaceRetriever b(rt.executor(), opts("hf_tokenB-SECRET-222222"));
  auto q = query("bert", Corpus::models);
  rt.run(a.search(q));
  rt.run(a.search(q));  // served from the cache
  CHECK(srv.requests().size() == 1);
  rt.run(b.search(q));  // another token: asks the server
  CHECK(srv.requests().size() == 2);
  for (auto& f : std::filesystem::directory_iterator(tmp.path / "http")) {
    std::ifstream in(f.path());
    std::string text((std::istreambuf_iterator<char>(in)), {});
    CHECK(text.find("SECRET") == std::string::npos);
  }
}
