// Sans-io parts of the online sources on scripted bytes: the Atom parser, each API's request
// target and response parsing (documented response shapes), the client-side query finish, the
// response cache files and the shared retry planning.
#include <catch2/catch.hpp>

#include "online_fixtures.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "net/retry.hpp"
#include "retrieval/online/apis.hpp"
#include "retrieval/online/atom.hpp"
#include "retrieval/online/cache.hpp"

#include <fstream>
#include <functional>
#include <thread>

using namespace mlrc;
namespace api = mlrc::detail::online;
namespace atom = mlrc::detail::atom;
namespace fx = mlrc::test::fixtures;
using Catch::Matchers::Contains;
using mlrc::test::expect_error;
using mlrc::test::query;

namespace {

std::vector<Hit> hits_of(std::vector<api::Record> r, const Query& q) { return api::finish(q, std::move(r), "test"); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Atom

TEST_CASE("Atom: the arXiv manual's feed parses into entries with arxiv: extensions", "[online][atom]") {
  auto f = atom::parse_feed(fx::arxiv_feed);
  CHECK(f.total_results == 1000);
  CHECK(f.start_index == 0);
  CHECK(f.items_per_page == 2);
  CHECK(f.title == "ArXiv Query: search_query=all:electron&id_list=&start=0&max_results=2");
  REQUIRE(f.entries.size() == 2);
  auto& e = f.entries[0];
  CHECK(e.id == "http://arxiv.org/abs/hep-ex/0307015");
  CHECK(e.title == "Multi-Electron Production at High Transverse Momenta in ep Collisions at HERA");
  CHECK(e.summary.starts_with("Multi-electron production is studied"));
  CHECK(e.authors == std::vector<std::string>{"H1 Collaboration"});
  CHECK(e.comment == "23 pages, 8 figures and 4 tables");
  CHECK(e.journal_ref == "Eur.Phys.J. C31 (2003) 17-29");
  CHECK(e.primary_category == "hep-ex");
  CHECK(e.categories == std::vector<std::string>{"hep-ex"});
  REQUIRE(e.links.size() == 2);
  CHECK(e.links[1].title == "pdf");
  CHECK(e.links[1].href == "http://arxiv.org/pdf/hep-ex/0307015v1");
  auto& m = f.entries[1];
  CHECK(m.summary.find("advancements & innovation") != std::string::npos);
  CHECK(m.summary.find("complexity \xE2\x80\x94 the slow") != std::string::npos);  // &#8212; is an em dash
  CHECK(m.summary.find("<and>") != std::string::npos);
  CHECK(m.authors.size() == 3);
  CHECK(m.doi == "10.48550/arXiv.2408.14033");
  CHECK(m.categories == std::vector<std::string>{"cs.AI", "cs.CL"});
}

TEST_CASE("Atom: namespaces are matched by URI, not by prefix", "[online][atom]") {
  std::string xml = R"(<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:x="http://arxiv.org/schemas/atom">
    <a:entry><a:id>http://arxiv.org/abs/1234.5678v1</a:id><a:title>T &amp; <![CDATA[<raw> & stuff]]></a:title>
    <x:comment>c</x:comment><comment>not arxiv</comment><!-- a <comment> --></a:entry></a:feed>)";
  auto f = atom::parse_feed(xml);
  REQUIRE(f.entries.size() == 1);
  CHECK(f.entries[0].title == "T & <raw> & stuff");
  CHECK(f.entries[0].comment == "c");

  // An element named like an arXiv one in another namespace is not taken for it.
  auto g = atom::parse_feed(R"(<feed xmlns="http://www.w3.org/2005/Atom" xmlns:y="urn:other"><entry><id>i</id><y:doi>no</y:doi></entry></feed>)");
  CHECK(g.entries.at(0).doi.empty());
}

TEST_CASE("Atom: entities and character references", "[online][atom]") {
  CHECK(atom::decode_entities("a &lt;b&gt; &quot;c&quot; &apos;d&apos; &amp;amp;") == "a <b> \"c\" 'd' &amp;");
  CHECK(atom::decode_entities("&#233;&#xE9;&#x1F600;") == "\xC3\xA9\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(expect_error([] { atom::decode_entities("&nbsp;"); }).code_enum() == errc::parse);
  CHECK(expect_error([] { atom::decode_entities("&#xZZ;"); }).code_enum() == errc::parse);
  CHECK(expect_error([] { atom::decode_entities("AT&T rocks"); }).code_enum() == errc::parse);
  CHECK(expect_error([] { atom::decode_entities("&#xD800;"); }).code_enum() == errc::parse);
}

TEST_CASE("Atom: malformed documents are errors naming the line", "[online][atom]") {
  auto e = expect_error([] { atom::parse_feed("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<entry>\n<id>x</title>\n</entry></feed>"); });
  CHECK(e.code_enum() == errc::parse);
  CHECK_THAT(e.what(), Contains("line 3") && Contains("</title>"));
  CHECK_THAT(expect_error([] { atom::parse_feed("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>"); }).what(), Contains("not closed"));
  CHECK_THAT(expect_error([] { atom::parse_feed("<html><body>Service Unavailable</body></html>"); }).what(), Contains("not an Atom <feed>"));
  CHECK_THAT(expect_error([] { atom::parse_feed("<feed xmlns=\"http://www.w3.org/2005/Atom\"><q:x/></feed>"); }).what(),
             Contains("undeclared namespace prefix 'q'"));
  CHECK_THAT(expect_error([] { atom::parse_feed("<feed xmlns=\"http://www.w3.org/2005/Atom\" a=b></feed>"); }).what(), Contains("not quoted"));
  CHECK_THAT(expect_error([] { atom::parse_feed(""); }).what(), Contains("no root element"));
  CHECK_THAT(expect_error([] { atom::parse_feed("{\"json\": true}"); }).what(), Contains("text outside the root"));
}

TEST_CASE("Atom: a document split at any byte boundary parses the same (no hidden state)", "[online][atom]") {
  // The parser takes whole documents; this checks it never reads past the end of what it is given.
  for (std::size_t cut : {std::size_t(10), std::size_t(200), fx::arxiv_feed.size() / 2, fx::arxiv_feed.size() - 10}) {
    std::string part = fx::arxiv_feed.substr(0, cut);
    CHECK(expect_error([&] { atom::parse_feed(part); }).code_enum() == errc::parse);
  }
  CHECK(atom::parse_feed(fx::arxiv_feed).entries.size() == 2);
}

// ---------------------------------------------------------------------------------------------
// Request targets

TEST_CASE("Targets: each API gets the query, limit and filters it supports", "[online][targets]") {
  CHECK(api::percent_encode("a b&c=d/é~") == "a%20b%26c%3Dd%2F%C3%A9~");
  auto q = query("graph neural networks", Corpus::papers, 5);
  q.year_min = 2019;
  q.year_max = 2021;
  CHECK(api::s2_search_target(q, 5) == std::string("/graph/v1/paper/search?query=graph%20neural%20networks&fields=") +
                                           api::percent_encode(api::s2_fields) + "&limit=5&year=2019-2021");
  CHECK(api::s2_paper_target("arxiv:2408.14033").starts_with("/graph/v1/paper/ARXIV:2408.14033?fields="));
  CHECK(api::s2_paper_target("s2:abc123").starts_with("/graph/v1/paper/abc123?"));
  CHECK(api::s2_recommend_target("s2:abc", 7).starts_with("/recommendations/v1/papers/forpaper/abc?fields="));
  CHECK(api::s2_recommend_target("s2:abc", 7).ends_with("&limit=7"));
  CHECK(api::openalex_target(q, 5, "me@example.org") ==
        "/works?search=graph%20neural%20networks&per-page=5&filter=publication_year%3A%3E2018%2Cpublication_year%3A%3C2022"
        "&mailto=me%40example.org");
  auto one = q;
  one.year_max = 2019;
  CHECK(api::openalex_target(one, 5, "").ends_with("&filter=publication_year%3A2019"));
  auto a = q;
  a.venue_or_category = "cs.LG";
  CHECK(api::arxiv_target(a, 5) == "/api/query?search_query=" +
                                       api::percent_encode("all:graph AND all:neural AND all:networks AND cat:cs.LG AND "
                                                           "submittedDate:[201901010000 TO 202112312359]") +
                                       "&start=0&max_results=5");
  CHECK(api::arxiv_target(query("the attention of models"), 3).find("all%3Athe") == std::string::npos);

  auto m = query("bert", Corpus::models, 4);
  m.tag = "text-classification";
  m.license = "apache-2.0";
  CHECK(api::hf_target(Corpus::models, m, 4) == "/api/models?search=bert&limit=4&filter=text-classification&filter=license%3Aapache-2.0");
  CHECK(api::hf_target(Corpus::datasets, query("imdb", Corpus::datasets), 2) == "/api/datasets?search=imdb&limit=2");
  // The Hub matches id substrings: a phrase is sent as its longest word.
  CHECK(api::hf_search_word("bert for sentiment analysis") == "sentiment");
  CHECK(api::hf_search_word("google-bert/bert-base-uncased, please") == "google-bert/bert-base-uncased");
  CHECK(api::hf_target(Corpus::models, query("small bert sentiment", Corpus::models), 3) == "/api/models?search=sentiment&limit=3");
  // Semantic Scholar documents that hyphenated terms match nothing: they are sent as words.
  CHECK(api::s2_search_target(query("few-shot learning"), 2).starts_with("/graph/v1/paper/search?query=few%20shot%20learning&"));
  // Only real arXiv categories become cat: filters; other hyphenated tags do not.
  for (auto c : {"cs.CL", "cs", "hep-th", "q-bio.NC", "astro-ph.GA", "stat.ML"}) CHECK(api::arxiv_category(c));
  for (auto c : {"question-answering", "few-shot", "text-classification", "CS.CL", "foo.bar", ""}) CHECK_FALSE(api::arxiv_category(c));

  auto g = query("tetris", Corpus::code, 3);
  g.license = "mit";
  g.tag = "game";
  g.year_min = 2012;
  CHECK(api::github_target(false, g, 3) == "/search/repositories?q=" + api::percent_encode("tetris license:mit topic:game created:>=2012-01-01") +
                                                 "&per_page=3");
  CHECK(api::github_target(true, g, 3) == "/search/code?q=tetris&per_page=3");
}

// ---------------------------------------------------------------------------------------------
// Parsing documented responses

TEST_CASE("Semantic Scholar: search, paper and recommendations map like local S2 records", "[online][s2]") {
  auto recs = api::s2_parse_search(fx::s2_search);
  REQUIRE(recs.size() == 2);
  auto hits = hits_of(recs, query("attention transformer"));
  auto& h = hits[0];
  CHECK(h.id == "s2:204e3073870fae3d05bcbc2f6a8e263d9b72e776");
  CHECK(h.title == "Attention is All you Need");
  CHECK(h.fields.at("authors") == "Ashish Vaswani, Noam M. Shazeer");
  CHECK(h.fields.at("year") == "2017");
  CHECK(h.fields.at("venue") == "Neural Information Processing Systems");
  CHECK(h.fields.at("arxiv") == "1706.03762");
  CHECK(h.fields.at("citations") == "120321");
  CHECK(h.fields.at("license") == "cc-by");
  CHECK(h.fields.at("source") == "test");
  CHECK(h.fields.at("abstract").starts_with("The dominant sequence"));
  CHECK(h.snippet.starts_with("The dominant sequence"));
  CHECK(h.matched_fields == std::vector<std::string>{"title", "abstract"});
  CHECK(h.score == 1.0);
  CHECK(hits[1].score == 0.5);
  CHECK(hits[1].fields.at("doi") == "10.18653/v1/N19-1423");
  CHECK(hits[1].fields.count("abstract") == 0);

  CHECK(api::s2_parse_search(R"({"total": 0, "offset": 0})").empty());
  auto p = api::s2_parse_paper(fx::s2_paper);
  CHECK(p.hit.id == "s2:b4df3ab2a9e2e3a3b3c7dc5c4a4b8a2f0f3e1d2c");
  CHECK(p.year == 2024);
  CHECK(api::s2_parse_recommendations(fx::s2_recommendations).size() == 3);

  CHECK_THAT(expect_error([] { api::s2_parse_search("<html>"); }).what(), Contains("not JSON"));
  CHECK_THAT(expect_error([] { api::s2_parse_search(R"({"data": 5})"); }).what(), Contains("'data' is not an array"));
  CHECK_THAT(expect_error([] { api::s2_parse_search(R"({"data": [{"paperId": "x"}]})"); }).what(), Contains("has no \"title\""));
  // One unusable record among good ones is skipped (as a bad line is in the local index); the
  // open-access fields still go with the right paper.
  auto mixed = api::s2_parse_search(R"({"data": [{"paperId": "bad", "title": null},
      {"paperId": "good", "title": "Good paper", "abstract": "Fine.", "openAccessPdf": {"url": "https://x.org/good.pdf", "license": "CC-BY"}}]})");
  REQUIRE(mixed.size() == 1);
  CHECK(mixed[0].hit.id == "s2:good");
  CHECK(mixed[0].hit.fields.at("pdf_url") == "https://x.org/good.pdf");
  CHECK_THAT(expect_error([] { api::s2_parse_recommendations(R"({"papers": []})"); }).what(), Contains("'recommendedPapers' is missing"));
}

TEST_CASE("OpenAlex: works with inverted-index abstracts", "[online][openalex]") {
  CHECK(api::openalex_abstract(R"({"world": [1], "Hello": [0], "again": [3], "hello": [2]})") == "Hello world hello again");
  CHECK(api::openalex_abstract("{}").empty());
  CHECK(expect_error([] { api::openalex_abstract(R"({"a": ["x"]})"); }).code_enum() == errc::parse);

  auto recs = api::openalex_parse(fx::openalex_works);
  REQUIRE(recs.size() == 2);
  auto hits = hits_of(recs, query("open access"));
  auto& h = hits[0];
  CHECK(h.id == "openalex:W2741809807");
  CHECK(h.score == 812.5);
  CHECK(h.fields.at("abstract") ==
        "Despite growing interest in Open Access (OA) to scholarly literature, there is an unmet need in");
  CHECK(h.fields.at("authors") == "Heather Piwowar, Jason Priem");
  CHECK(h.fields.at("venue") == "PeerJ");
  CHECK(h.fields.at("license") == "cc-by");
  CHECK(h.fields.at("doi") == "10.7717/peerj.4375");
  CHECK(h.fields.at("year") == "2018");
  CHECK(h.fields.at("citations") == "1033");
  CHECK(h.fields.at("url") == "https://doi.org/10.7717/peerj.4375");
  CHECK(h.matched_fields == std::vector<std::string>{"title", "abstract", "keywords"});
  CHECK(hits[1].fields.count("abstract") == 0);
  CHECK(hits[1].fields.at("url") == "https://openalex.org/W3038568908");

  CHECK_THAT(expect_error([] { api::openalex_parse(R"({"meta": {}})"); }).what(), Contains("'results' is missing"));
  CHECK_THAT(expect_error([] { api::openalex_parse(R"({"results": [{"title": "x"}]})"); }).what(), Contains("results[0] has no \"id\""));
}

TEST_CASE("arXiv: entries become arxiv: hits with categories as venue and tags", "[online][arxiv]") {
  auto recs = api::arxiv_parse(fx::arxiv_feed);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].hit.id == "arxiv:hep-ex/0307015");
  CHECK(recs[0].year == 2003);
  auto& m = recs[1].hit;
  CHECK(m.id == "arxiv:2408.14033");
  CHECK(m.fields.at("version") == "2");
  CHECK(m.fields.at("authors") == "Ruochen Li, Teerth Patel, Qingyun Wang");
  CHECK(m.fields.at("venue") == "cs.AI cs.CL");
  CHECK(m.fields.at("url") == "https://arxiv.org/abs/2408.14033");
  CHECK(m.fields.at("pdf_url") == "http://arxiv.org/pdf/2408.14033v2");
  CHECK(m.fields.at("doi") == "10.48550/arXiv.2408.14033");
  CHECK(recs[0].hit.fields.at("journal_ref") == "Eur.Phys.J. C31 (2003) 17-29");

  auto q = query("machine learning research");
  q.tag = "cs.CL";
  auto hits = hits_of(api::arxiv_parse(fx::arxiv_feed), q);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].id == "arxiv:2408.14033");

  auto e = expect_error([] { api::arxiv_parse(fx::arxiv_error_feed); });
  CHECK(e.code_enum() == errc::provider_error);
  CHECK_THAT(e.what(), Contains("incorrect id format for 1234.12345"));
  CHECK(expect_error([] { api::arxiv_parse("Rate exceeded."); }).code_enum() == errc::parse);
}

TEST_CASE("Hugging Face: models and datasets map like local Hub records", "[online][hf]") {
  auto hits = hits_of(api::hf_parse(Corpus::models, fx::hf_models), query("bert", Corpus::models));
  REQUIRE(hits.size() == 2);
  auto& b = hits[0];
  CHECK(b.id == "google-bert/bert-base-uncased");
  CHECK(b.fields.at("pipeline_tag") == "fill-mask");
  CHECK(b.fields.at("license") == "apache-2.0");
  CHECK(b.fields.at("downloads") == "56012345");
  CHECK(b.fields.at("year") == "2022");
  CHECK(b.fields.at("url") == "https://huggingface.co/google-bert/bert-base-uncased");
  CHECK(b.fields.at("tags").find("dataset:bookcorpus") != std::string::npos);
  CHECK(b.matched_fields == std::vector<std::string>{"name", "tags"});

  auto lic = query("bert", Corpus::models);
  lic.license = "Apache-2.0";
  auto only = hits_of(api::hf_parse(Corpus::models, fx::hf_models), lic);
  REQUIRE(only.size() == 1);
  CHECK(only[0].id == "google-bert/bert-base-uncased");

  auto tq = query("imdb", Corpus::datasets);
  tq.tag = "text-classification";  // matches "task_categories:text-classification"
  auto ds = hits_of(api::hf_parse(Corpus::datasets, fx::hf_datasets), tq);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].fields.at("author") == "stanfordnlp");
  CHECK(ds[0].fields.at("description").starts_with("Dataset Card for \"imdb\""));
  CHECK(ds[0].fields.at("url") == "https://huggingface.co/datasets/stanfordnlp/imdb");
  CHECK(ds[0].fields.at("license") == "other");

  CHECK_THAT(expect_error([] { api::hf_parse(Corpus::models, R"({"error": "x"})"); }).what(), Contains("expected a JSON array"));
  CHECK_THAT(expect_error([] { api::hf_parse(Corpus::models, R"([{"likes": 1}])"); }).what(), Contains("record 0"));
}

TEST_CASE("GitHub: repositories and code search items", "[online][github]") {
  auto repos = hits_of(api::github_parse(false, fx::github_repos), query("tetris", Corpus::code));
  REQUIRE(repos.size() == 1);
  CHECK(repos[0].id == "dtrupenn/Tetris");
  CHECK(repos[0].fields.at("license") == "mit");
  CHECK(repos[0].fields.at("language") == "Assembly");
  CHECK(repos[0].fields.at("stars") == "1");
  CHECK(repos[0].fields.at("year") == "2012");
  CHECK(repos[0].fields.at("tags") == "game tetris Assembly");
  CHECK(repos[0].fields.at("url") == "https://github.com/dtrupenn/Tetris");
  CHECK(repos[0].matched_fields == std::vector<std::string>{"name", "code"});

  auto code = hits_of(api::github_parse(true, fx::github_code), query("addClass", Corpus::code));
  REQUIRE(code.size() == 1);
  CHECK(code[0].id == "jquery/jquery/src/attributes/classes.js");
  CHECK(code[0].title == "classes.js");
  CHECK(code[0].fields.at("path") == "src/attributes/classes.js");
  CHECK(code[0].fields.at("repo") == "jquery/jquery");
  CHECK(code[0].fields.at("code").find("addClass: function") != std::string::npos);
  // "addClass" -> add, class (+ its plural "classes"), addclass: the file name and path match too.
  CHECK(code[0].matched_fields == std::vector<std::string>{"name", "code", "path"});

  CHECK_THAT(expect_error([] { api::github_parse(false, R"({"items": [{"name": "x"}]})"); }).what(), Contains("full_name"));
  CHECK_THAT(expect_error([] { api::github_parse(true, R"({"message": "Validation Failed"})"); }).what(), Contains("'items' is missing"));
}

TEST_CASE("finish: client-side filters follow the local index's rules - top_k - empty queries", "[online][finish]") {
  auto recs = api::s2_parse_search(fx::s2_search);
  auto q = query("transformers");
  q.year_min = 2018;
  auto hits = hits_of(recs, q);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].fields.at("year") == "2019");
  CHECK(hits[0].score == 0.5);  // rank-based: second in the API's list

  q = query("transformers");
  q.venue_or_category = "information PROCESSING";
  CHECK(hits_of(recs, q).size() == 1);
  q = query("transformers");
  q.license = "mit";  // nobody has it: a record lacking the attribute fails the filter
  CHECK(hits_of(recs, q).empty());
  q = query("transformers", Corpus::papers, 1);
  CHECK(hits_of(recs, q).size() == 1);

  CHECK(expect_error([] { api::check_query(query("  ")); }).code_enum() == errc::invalid_argument);
  CHECK(expect_error([] { api::check_query(query("the of and")); }).code_enum() == errc::invalid_argument);
  CHECK_NOTHROW(api::check_query(query("bert")));
}

// ---------------------------------------------------------------------------------------------
// Response cache files

TEST_CASE("Response cache: atomic entries, TTL, corrupt files ignored and replaced", "[online][cache]") {
  mlrc::test::TempDir tmp;
  detail::ResponseCache c(tmp.path / "http", std::chrono::seconds(3600));
  auto k = detail::ResponseCache::key("GET", "https://api.example.org/x?q=1", "application/json");
  CHECK(k.size() == 64);
  CHECK(k != detail::ResponseCache::key("GET", "https://api.example.org/x?q=2", "application/json"));
  CHECK(k != detail::ResponseCache::key("GET", "https://api.example.org/x?q=1", "application/atom+xml"));
  CHECK_FALSE(c.get(k));
  std::string body = "{\"a\":1}\nsecond line\n";
  REQUIRE(c.put(k, "https://api.example.org/x?q=1", body));
  auto e = c.get(k);
  REQUIRE(e);
  CHECK(e->body == body);
  CHECK(e->fresh);
  // No temporary files are left behind.
  std::size_t files = 0;
  for (auto& f : std::filesystem::directory_iterator(tmp.path / "http")) {
    ++files;
    CHECK(f.path().extension() == ".resp");
  }
  CHECK(files == 1);

  detail::ResponseCache zero(tmp.path / "http", std::chrono::seconds(0));
  REQUIRE(zero.get(k));
  CHECK_FALSE(zero.get(k)->fresh);

  // Truncated entry, junk, and a header that lies about the length: all ignored.
  for (std::string junk : {std::string("{\"v\":1,\"url\":\"u\",\"stored_at\":1,\"bytes\":100}\nshort"), std::string("garbage"),
                           std::string("{\"v\":1,\"stored_at\":1,\"bytes\":2}\nabc"), std::string(""),
                           // a header claiming 2 GiB: refused before any allocation
                           std::string("{\"v\":1,\"stored_at\":1,\"bytes\":2147483647}\nabc")}) {
    std::ofstream(c.path_of(k), std::ios::binary | std::ios::trunc) << junk;
    CHECK_FALSE(c.get(k));
  }
  REQUIRE(c.put(k, "u", "fresh"));
  CHECK(c.get(k)->body == "fresh");
  c.drop(k);
  CHECK_FALSE(c.get(k));

  // An unwritable folder: put fails quietly.
  detail::ResponseCache bad(tmp.path / "file-not-dir" / "x", std::chrono::seconds(1));
  std::ofstream(tmp.path / "file-not-dir") << "x";
  CHECK_FALSE(bad.put(k, "u", "b"));
}

// ---------------------------------------------------------------------------------------------
// Retry planning (shared with the model middleware)

TEST_CASE("plan_retry: retryable codes, attempts, Retry-After and deadlines", "[online][retry]") {
  RetryPolicy p;
  p.max_attempts = 3;
  p.base_delay = std::chrono::milliseconds(100);
  p.jitter = 0;
  p.max_retry_after = std::chrono::seconds(60);
  detail::Backoff b(p);
  std::chrono::steady_clock::duration wait{};

  Error rl(errc::rate_limited, "s: HTTP 429");
  CHECK_FALSE(detail::plan_retry(rl, 1, p, b, std::nullopt, wait));
  CHECK(wait == std::chrono::milliseconds(100));
  CHECK_FALSE(detail::plan_retry(rl, 2, p, b, std::nullopt, wait));
  CHECK(wait == std::chrono::milliseconds(200));
  auto last = detail::plan_retry(rl, 3, p, b, std::nullopt, wait);
  REQUIRE(last);
  CHECK_THAT(last->what(), Contains("gave up after 3 attempts"));

  CHECK(detail::plan_retry(Error(errc::auth, "401"), 1, p, b, std::nullopt, wait)->code_enum() == errc::auth);

  Error ra(errc::rate_limited, "s: HTTP 429");
  ra.retry_after = std::chrono::seconds(2);
  CHECK_FALSE(detail::plan_retry(ra, 1, p, b, std::nullopt, wait));
  CHECK(wait == std::chrono::seconds(2));
  // Beyond the deadline: fails now, still rate_limited, saying how long the server asked for.
  auto soon = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  auto give_up = detail::plan_retry(ra, 1, p, b, soon, wait);
  REQUIRE(give_up);
  CHECK(give_up->code_enum() == errc::rate_limited);
  CHECK_THAT(give_up->what(), Contains("retry after 2 s") && Contains("beyond the deadline"));
  ra.retry_after = std::chrono::hours(24);
  CHECK_THAT(detail::plan_retry(ra, 1, p, b, std::nullopt, wait)->what(), Contains("more than the 60 s allowed"));
  // Our own backoff past the deadline: timeout.
  CHECK(detail::plan_retry(Error(errc::server_error, "503"), 1, p, b, std::chrono::steady_clock::now() + std::chrono::milliseconds(10), wait)
            ->code_enum() == errc::timeout);
}

TEST_CASE("TokenBucket: a burst, then waits at the rate", "[online][retry]") {
  detail::TokenBucket t(60, 2);  // 1 per second, burst of 2
  CHECK(t.take(1) == std::chrono::steady_clock::duration::zero());
  CHECK(t.take(1) == std::chrono::steady_clock::duration::zero());
  auto w = t.take(1);
  CHECK(w > std::chrono::milliseconds(900));
  CHECK(w <= std::chrono::milliseconds(1000));
  CHECK_FALSE(detail::TokenBucket(0, 60).enabled());
}
