// The local retrieval index on real files: build from the shared paper sample and from small files
// written here (gzip, Semantic Scholar, Kaggle arXiv, Hugging Face, a code folder), known-item
// search, filters, malformed lines, format versions, crash leftovers, incremental add, and the
// `mlrc index` command.
#include <catch2/catch.hpp>

#include "temp_dir.hpp"
#include "test_util.hpp"

#include <mlrcopilot/retriever.hpp>

#include "cli/cmd_index.hpp"
#include "retrieval/ingest.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <simdjson.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using mlrc::Corpus;
using mlrc::errc;
using mlrc::Hit;
using mlrc::IndexBuilder;
using mlrc::LocalRetriever;
using mlrc::Query;

namespace {

using mlrc::test::query;
using mlrc::test::TempDir;

void put(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

void put_gz(const fs::path& p, const std::string& s) {
  gzFile g = gzopen(p.c_str(), "wb");
  REQUIRE(g);
  REQUIRE(gzwrite(g, s.data(), static_cast<unsigned>(s.size())) == static_cast<int>(s.size()));
  gzclose(g);
}

mlrc::Error expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const mlrc::Error& e) {
    return e;
  }
  FAIL("expected an mlrc::Error");
  return mlrc::Error(errc::internal, "unreachable");
}


std::vector<std::string> ids(const std::vector<Hit>& hits) {
  std::vector<std::string> out;
  for (auto& h : hits) out.push_back(h.id);
  return out;
}

fs::path shared_data() { return fs::path(MLRC_SHARED_DATA); }

// Paper records in our format, the Semantic Scholar Graph API format, and the Kaggle arXiv snapshot.
const char* ours_jsonl =
    R"j({"id": "arxiv:2408.14033", "title": "MLR-Copilot: Autonomous Machine Learning Research based on Large Language Models Agents", "abstract": "Machine learning research requires creativity. We present an autonomous research framework with idea agents and experiment agents.", "authors": ["Ruochen Li", "Teerth Patel"], "year": 2024, "venue_or_categories": "cs.AI cs.CL", "source": "test", "extra_field": {"ignored": true}})j"
    "\n"
    R"j({"id": "nips2017:1", "title": "Attention Is All You Need", "abstract": "The dominant sequence transduction models are based on recurrent or convolutional neural networks.", "authors": ["Ashish Vaswani"], "year": 2017, "venue_or_categories": "NeurIPS 2017 (Poster)", "source": "test"})j"
    "\n"
    "{\"id\": \"broken\", \"title\": \"this line is not JSON"
    "\n"
    R"j({"id": "acl:2020.acl-main.1", "title": "Self-Supervised Contrastive Learning for Sentence Embeddings", "authors": [], "year": 2020, "venue_or_categories": "Proceedings of ACL", "source": "test"})j"
    "\n"
    "\n"
    R"j({"title": "a record without an id"})j"
    "\n";

const char* s2_jsonl =
    R"j({"paperId": "649def34f8be52c8b66281af98ae884c09aef38b", "externalIds": {"ArXiv": "1810.04805", "DOI": "10.18653/v1/N19-1423"}, "title": "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", "abstract": null, "year": 2019, "venue": "North American Chapter of the Association for Computational Linguistics", "authors": [{"authorId": "1", "name": "Jacob Devlin"}, {"authorId": "2", "name": "Ming-Wei Chang"}], "fieldsOfStudy": ["Computer Science"], "citationCount": 90000})j"
    "\n";

const char* kaggle_jsonl =
    R"j({"id": "0704.0001", "submitter": "Pavel Nadolsky", "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan", "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies", "comments": "37 pages", "journal-ref": "Phys.Rev.D76:013009,2007", "doi": "10.1103/PhysRevD.76.013009", "categories": "hep-ph", "license": null, "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\npresented for the production of massive photon pairs at hadron colliders.", "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}], "update_date": "2008-11-13", "authors_parsed": [["Balazs", "C.", ""]]})j"
    "\n"
    R"j({"id": "2101.00001", "submitter": "X", "authors": "Ada Lovelace", "title": "Sparse mixture of experts routing", "categories": "cs.LG stat.ML", "license": "http://creativecommons.org/licenses/by/4.0/", "abstract": "We study routing in sparse mixture-of-experts layers.", "update_date": "2021-01-05"})j"
    "\n";

}  // namespace

TEST_CASE("index: the shared 1,000-paper sample", "[retrieval]") {
  auto sample = shared_data() / "papers" / "sample" / "papers-sample-1000.jsonl";
  if (!fs::exists(sample)) {
    WARN("shared data not found at " << sample << "; skipping");
    return;
  }
  TempDir tmp;
  std::vector<std::uint64_t> seen;
  auto report = IndexBuilder(tmp.path / "idx").build(Corpus::papers, {sample}, [&](const mlrc::IngestProgress& p) { seen.push_back(p.records); });
  CHECK(report.added == 1000);
  CHECK(report.warning_count == 0);
  REQUIRE(!seen.empty());
  CHECK(seen.back() == 1000);

  LocalRetriever r(tmp.path / "idx");
  CHECK(r.stats(Corpus::papers).documents == 1000);

  // Known-item search: every paper's exact title finds it at rank 1.
  std::ifstream in(sample);
  simdjson::dom::parser parser;
  std::size_t n = 0, first = 0;
  std::vector<std::pair<std::string, int>> years;
  for (std::string line; std::getline(in, line);) {
    auto rec = parser.parse(line);
    std::string id{std::string_view(rec["id"])}, title{std::string_view(rec["title"])};
    years.emplace_back(id, int(std::int64_t(rec["year"])));
    auto hits = r.find(query(title, Corpus::papers, 3));
    ++n;
    if (!hits.empty() && hits[0].id == id) ++first;
    else UNSCOPED_INFO("title not at rank 1: " << title);
  }
  CHECK(n == 1000);
  CHECK(first == n);

  // Filters.
  auto q = query("neural network learning", Corpus::papers, 50);
  q.year_min = 2018;
  q.year_max = 2019;
  auto hits = r.find(q);
  REQUIRE(!hits.empty());
  for (auto& h : hits) {
    int y = std::stoi(h.fields.at("year"));
    CHECK((y >= 2018 && y <= 2019));
  }
  q = query("language model", Corpus::papers, 20);
  q.venue_or_category = "CS.cl";  // case-insensitive substring
  hits = r.find(q);
  REQUIRE(!hits.empty());
  for (auto& h : hits) CHECK_THAT(h.fields.at("venue"), Contains("cs.CL"));
  q.venue_or_category.clear();
  q.tag = "cs.cv";
  hits = r.find(q);
  REQUIRE(!hits.empty());
  for (auto& h : hits) CHECK_THAT(h.fields.at("tags"), Contains("cs.CV"));

  // Hits carry what a planner needs.
  auto h = r.find(query("transformer", Corpus::papers, 1)).at(0);
  CHECK(!h.title.empty());
  CHECK(!h.snippet.empty());
  CHECK(h.fields.count("abstract") == 1);
  CHECK(h.score > 0);
  CHECK(!h.matched_fields.empty());
}

TEST_CASE("index: paper formats, gzip, malformed lines", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "in" / "ours.jsonl", ours_jsonl);
  put_gz(tmp.path / "in" / "s2.jsonl.gz", s2_jsonl);
  put(tmp.path / "kaggle.json", kaggle_jsonl);
  auto report = IndexBuilder(tmp.path / "idx").build(Corpus::papers, {tmp.path / "in", tmp.path / "kaggle.json"});
  CHECK(report.added == 6);
  REQUIRE(report.warning_count == 2);
  CHECK_THAT(report.warnings[0], Contains("ours.jsonl:3:") && Contains("invalid JSON"));
  CHECK_THAT(report.warnings[1], Contains("ours.jsonl:6:") && Contains("no \"id\""));

  LocalRetriever r(tmp.path / "idx");
  auto top = [&](const std::string& text) {
    auto hits = r.find(query(text));
    REQUIRE(!hits.empty());
    return hits[0];
  };
  CHECK(top("autonomous machine learning research agents").id == "arxiv:2408.14033");
  CHECK(top("attention is all you need").id == "nips2017:1");
  auto acl = top("contrastive sentence embeddings");  // no abstract: tolerated
  CHECK(acl.id == "acl:2020.acl-main.1");
  CHECK(acl.snippet.empty());
  CHECK(top("selfsupervised").id == "acl:2020.acl-main.1");

  auto bert = top("BERT bidirectional transformers");
  CHECK(bert.id == "s2:649def34f8be52c8b66281af98ae884c09aef38b");
  CHECK(bert.fields.at("authors") == "Jacob Devlin, Ming-Wei Chang");
  CHECK(bert.fields.at("arxiv") == "1810.04805");
  CHECK(bert.fields.at("year") == "2019");
  CHECK(top("Devlin").id == bert.id);  // authors are indexed

  auto kaggle = top("prompt diphoton production");
  CHECK(kaggle.id == "arxiv:0704.0001");
  CHECK(kaggle.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies");
  CHECK(kaggle.fields.at("year") == "2007");  // from the first version, not update_date
  CHECK(kaggle.fields.at("venue") == "hep-ph");

  // Filters: year range, venue substring, tag, license.
  auto q = query("learning");
  q.year_min = 2020;
  auto got = ids(r.find(q));
  CHECK(std::find(got.begin(), got.end(), "nips2017:1") == got.end());
  q = query("attention routing learning research transformers");
  q.venue_or_category = "neurips";
  CHECK(ids(r.find(q)) == std::vector<std::string>{"nips2017:1"});
  q.venue_or_category.clear();
  q.tag = "stat.ML";
  CHECK(ids(r.find(q)) == std::vector<std::string>{"arxiv:2101.00001"});
  q.tag.clear();
  q.license = "http://creativecommons.org/licenses/by/4.0/";
  CHECK(ids(r.find(q)) == std::vector<std::string>{"arxiv:2101.00001"});
  q.license.clear();
  q.year_max = 1990;  // nothing that old
  CHECK(r.find(q).empty());
}

TEST_CASE("index: a truncated gzip file keeps what was readable", "[retrieval]") {
  TempDir tmp;
  std::string lines;
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i)  // random words so that the compressed file is long
    lines += R"j({"id": "p)j" + std::to_string(i) + R"j(", "title": "paper )j" + std::to_string(i) + " w" + std::to_string(rng()) +
             R"j(", "abstract": "x)j" + std::to_string(rng()) + " y" + std::to_string(rng()) + "\"}\n";
  put_gz(tmp.path / "cut.jsonl.gz", lines);
  fs::resize_file(tmp.path / "cut.jsonl.gz", fs::file_size(tmp.path / "cut.jsonl.gz") / 2);
  auto report = IndexBuilder(tmp.path / "idx").build(Corpus::papers, {tmp.path / "cut.jsonl.gz"});
  CHECK(report.added > 500);
  CHECK(report.added < 3000);
  REQUIRE(report.warning_count >= 1);
  CHECK_THAT(report.warnings.back(), Contains("cut.jsonl.gz") && Contains("the rest of the file is skipped"));
  CHECK(LocalRetriever(tmp.path / "idx").find(query("paper 0")).at(0).id == "p0");
}

TEST_CASE("index: singular and plural forms find each other, exact forms first", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "p.jsonl",
      R"j({"id": "a", "title": "Graph neural networks for molecules", "abstract": "We look at molecules."})j"
      "\n"
      R"j({"id": "b", "title": "A graph neural network for molecules", "abstract": "We look at one molecule."})j"
      "\n"
      R"j({"id": "c", "title": "Case studies of proteins", "abstract": "Proteins."})j"
      "\n");
  IndexBuilder(tmp.path / "idx").build(Corpus::papers, {tmp.path / "p.jsonl"});
  LocalRetriever r(tmp.path / "idx");
  CHECK(ids(r.find(query("graph neural network"))) == std::vector<std::string>{"b", "a"});
  CHECK(ids(r.find(query("graph neural networks"))) == std::vector<std::string>{"a", "b"});
  CHECK(ids(r.find(query("case study"))) == std::vector<std::string>{"c"});
  auto hits = r.find(query("proteins"));
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].matched_fields == std::vector<std::string>{"title", "abstract"});
}

TEST_CASE("index: empty queries are rejected", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "p.jsonl", ours_jsonl);
  IndexBuilder(tmp.path / "idx").build(Corpus::papers, {tmp.path / "p.jsonl"});
  LocalRetriever r(tmp.path / "idx");
  for (const char* text : {"", "   ", "\n\t"}) {
    auto e = expect_error([&] { r.find(query(text)); });
    CHECK(e.code_enum() == errc::invalid_argument);
    CHECK_THAT(std::string(e.what()), Contains("empty query"));
  }
  auto e = expect_error([&] { r.find(query("the of and ...")); });
  CHECK(e.code_enum() == errc::invalid_argument);
  CHECK_THAT(std::string(e.what()), Contains("no searchable words"));
  // A corpus the folder does not hold.
  CHECK(expect_error([&] { r.find(query("x", Corpus::code)); }).code_enum() == errc::not_found);
  // top_k 0 is an empty answer, not an error.
  CHECK(r.find(query("attention", Corpus::papers, 0)).empty());
}

TEST_CASE("index: the async search interface", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "p.jsonl", ours_jsonl);
  IndexBuilder(tmp.path / "idx").build(Corpus::papers, {tmp.path / "p.jsonl"});
  std::unique_ptr<mlrc::Retriever> r = mlrc::open_local_retriever(tmp.path / "idx");
  CHECK(r->name() == "local");
  boost::asio::io_context ctx;
  auto fut = boost::asio::co_spawn(ctx, r->search(query("attention")), boost::asio::use_future);
  ctx.run_for(std::chrono::seconds(10));
  auto hits = fut.get();
  REQUIRE(!hits.empty());
  CHECK(hits[0].id == "nips2017:1");
}

TEST_CASE("index: Hugging Face models and datasets", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "models.jsonl",
      R"j({"id": "google-bert/bert-base-uncased", "modelId": "google-bert/bert-base-uncased", "author": "google-bert", "downloads": 61903514, "lastModified": "2024-02-19T11:06:12.000Z", "tags": ["transformers", "pytorch", "bert", "fill-mask", "en", "dataset:bookcorpus", "arxiv:1810.04805", "license:apache-2.0", "region:us"], "pipeline_tag": "fill-mask", "_source": "x"})j"
      "\n"
      R"j({"modelId": "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "author": "distilbert", "downloads": 5, "createdAt": "2022-03-02T23:29:04.000Z", "pipeline_tag": "text-classification", "_task_domain": "nlp"})j"
      "\n"
      R"j({"author": "nobody"})j"
      "\n");
  put(tmp.path / "datasets.jsonl",
      R"j({"id": "glue", "author": "huggingface", "downloads": 1140355, "createdAt": "2022-01-25T15:34:03.000Z", "tags": ["task_categories:text-classification", "language:en", "license:cc-by-4.0"], "cardData": {"license": ["cc-by-4.0"], "pretty_name": "GLUE (General Language Understanding Evaluation benchmark)", "task_categories": ["text-classification"]}, "description": "GLUE is a collection of resources for training and evaluating natural language understanding systems.", "_domain": "nlp"})j"
      "\n"
      R"j({"id": "mnist", "downloads": 10, "createdAt": "2021-01-01T00:00:00.000Z", "cardData": {"license": "mit"}, "description": "Handwritten digits.", "_task": "image-classification", "_domain": "cv"})j"
      "\n");
  auto mr = IndexBuilder(tmp.path / "hf" / "models").build(Corpus::models, {tmp.path / "models.jsonl"});
  CHECK(mr.added == 2);
  CHECK(mr.warning_count == 1);
  CHECK_THAT(mr.warnings.at(0), Contains("models.jsonl:3:") && Contains("modelId"));
  IndexBuilder(tmp.path / "hf" / "datasets").build(Corpus::datasets, {tmp.path / "datasets.jsonl"});

  // One retriever over a folder of corpora.
  LocalRetriever r(tmp.path / "hf");
  CHECK(r.corpora() == std::vector<Corpus>{Corpus::models, Corpus::datasets});
  auto bert = r.find(query("bert base uncased", Corpus::models));
  REQUIRE(bert.size() == 2);
  CHECK(bert[0].id == "google-bert/bert-base-uncased");
  CHECK(bert[0].fields.at("license") == "apache-2.0");
  CHECK(bert[0].fields.at("url") == "https://huggingface.co/google-bert/bert-base-uncased");

  // Popularity breaks near-ties.
  CHECK(ids(r.find(query("bert", Corpus::models))).at(0) == "google-bert/bert-base-uncased");
  auto q = query("bert distilbert", Corpus::models);
  q.tag = "text-classification";  // the pipeline tag
  CHECK(ids(r.find(q)) == std::vector<std::string>{"distilbert/distilbert-base-uncased-finetuned-sst-2-english"});
  q.tag.clear();
  q.license = "APACHE-2.0";
  CHECK(ids(r.find(q)) == std::vector<std::string>{"google-bert/bert-base-uncased"});
  q.license.clear();
  q.year_min = 2023;  // only the 2024 lastModified qualifies
  CHECK(ids(r.find(q)) == std::vector<std::string>{"google-bert/bert-base-uncased"});

  auto d = query("language understanding benchmark", Corpus::datasets);
  CHECK(ids(r.find(d)).at(0) == "glue");
  d = query("classification digits", Corpus::datasets);
  d.tag = "text-classification";  // "task_categories:text-classification"
  CHECK(ids(r.find(d)) == std::vector<std::string>{"glue"});
  d.tag.clear();
  d.license = "mit";  // from cardData.license
  CHECK(ids(r.find(d)) == std::vector<std::string>{"mnist"});
  d.license.clear();
  d.venue_or_category = "cv";  // the domain
  CHECK(ids(r.find(d)) == std::vector<std::string>{"mnist"});
}

TEST_CASE("index: python blocks", "[retrieval]") {
  const char* src =
      "import os\n"                              // 1
      "\n"                                       // 2
      "@dataclass\n"                             // 3
      "class Trainer(Base):\n"                   // 4
      "    \"\"\"Trains.\n"                      // 5
      "def not_a_function_in_docstring():\n"     // 6
      "    \"\"\"\n"                             // 7
      "    def train(self,\n"                    // 8
      "              epochs: int = 3,\n"         // 9
      "    ) -> None:\n"                         // 10
      "        def step():\n"                    // 11
      "            pass\n"                       // 12
      "\n"                                       // 13
      "        step()\n"                         // 14
      "    # a comment at method level\n"        // 15
      "\n"                                       // 16
      "async def load_data(path): return path\n" // 17
      "def tail():\n"                            // 18
      "    x = 1\n";                             // 19
  auto blocks = mlrc::retrieval::python_blocks(src);
  REQUIRE(blocks.size() == 5);
  auto check = [&](std::size_t i, const char* name, const char* kind, std::size_t first, std::size_t last) {
    INFO(i);
    CHECK(blocks[i].qualname == name);
    CHECK(blocks[i].kind == kind);
    CHECK(blocks[i].first == first);
    CHECK(blocks[i].last == last);
  };
  check(0, "Trainer", "class", 4, 14);
  check(1, "Trainer.train", "function", 8, 14);
  check(2, "Trainer.train.step", "function", 11, 12);
  check(3, "load_data", "function", 17, 17);
  check(4, "tail", "function", 18, 19);
}

TEST_CASE("index: code folders", "[retrieval]") {
  TempDir tmp;
  auto repo = tmp.path / "myrepo";
  put(repo / "src" / "train.py",
      "class Trainer:\n"
      "    def train(self, epochs):\n"
      "        return fit_model(epochs)\n"
      "\n"
      "def load_data(path):\n"
      "    \"\"\"Reads the CSV dataset.\"\"\"\n"
      "    return open(path).read()\n");
  put(repo / "src" / "util.cpp", "int computeGradientNorm(const Tensor& t) { return 0; }\n");
  put(repo / "README.md", "# My repo\nTraining utilities for tabular data.\n");
  put(repo / ".git" / "config", "[core] secret stuff\n");
  put(repo / "node_modules" / "x.js", "function load_data() {}\n");
  put(repo / "data.bin", std::string("\0\1\2", 3));
  auto report = IndexBuilder(tmp.path / "idx").build(Corpus::code, {repo});
  CHECK(report.added == 6);  // 3 files + Trainer, Trainer.train, load_data

  LocalRetriever r(tmp.path / "idx");
  auto hits = r.find(query("load_data", Corpus::code));
  REQUIRE(!hits.empty());
  CHECK(hits[0].id == "myrepo/src/train.py#L5-7");
  CHECK(hits[0].title == "def load_data");
  CHECK(hits[0].fields.at("path") == "myrepo/src/train.py");
  CHECK(hits[0].fields.at("line_start") == "5");
  CHECK(hits[0].fields.at("line_end") == "7");
  CHECK(hits[0].fields.at("kind") == "function");
  CHECK_THAT(hits[0].fields.at("code"), Contains("Reads the CSV dataset"));

  // The method and its class (which holds the method's text) come first.
  auto tt = ids(r.find(query("Trainer train", Corpus::code, 2)));
  std::sort(tt.begin(), tt.end());
  CHECK(tt == std::vector<std::string>{"myrepo/src/train.py#L1-3", "myrepo/src/train.py#L2-3"});
  CHECK(r.find(query("gradient norm", Corpus::code)).at(0).id == "myrepo/src/util.cpp");
  CHECK(r.find(query("tabular", Corpus::code)).at(0).id == "myrepo/README.md");
  CHECK(r.find(query("secret", Corpus::code)).empty());  // hidden folders are skipped
  auto q = query("fit_model epochs", Corpus::code);
  q.tag = "class";
  CHECK(ids(r.find(q)) == std::vector<std::string>{"myrepo/src/train.py#L1-3"});

  // A single file as input.
  IndexBuilder(tmp.path / "one").build(Corpus::code, {repo / "src" / "util.cpp"});
  CHECK(ids(LocalRetriever(tmp.path / "one").find(query("gradient", Corpus::code))) == std::vector<std::string>{"util.cpp"});
}

TEST_CASE("index: incremental add", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "a.jsonl", ours_jsonl);
  put(tmp.path / "b.jsonl", kaggle_jsonl);
  put(tmp.path / "b2.jsonl", std::string(kaggle_jsonl) + R"j({"id": "nips2017:1", "title": "A duplicate id", "abstract": "x"})j" "\n");
  IndexBuilder b(tmp.path / "idx");
  b.build(Corpus::papers, {tmp.path / "a.jsonl"});
  LocalRetriever r(tmp.path / "idx");
  CHECK(r.find(query("diphoton")).empty());

  auto rep = b.add({tmp.path / "b2.jsonl"});
  CHECK(rep.added == 2);
  CHECK(rep.duplicates == 1);
  CHECK(r.find(query("diphoton")).empty());  // not until refresh
  r.refresh();
  CHECK(ids(r.find(query("diphoton"))) == std::vector<std::string>{"arxiv:0704.0001"});
  auto st = b.stats();
  CHECK(st.segments == 2);
  CHECK(st.documents == 5);
  CHECK(st.generation == 2);
  // Adding the same file again adds nothing and writes no segment.
  CHECK(b.add({tmp.path / "b.jsonl"}).added == 0);
  CHECK(b.stats().segments == 2);

  // BM25 statistics span segments: the same documents in one segment score the same.
  IndexBuilder(tmp.path / "one").build(Corpus::papers, {tmp.path / "a.jsonl", tmp.path / "b.jsonl"});
  LocalRetriever one(tmp.path / "one");
  CHECK(one.stats(Corpus::papers).segments == 1);
  for (const char* text : {"learning", "production energies", "sparse experts research"}) {
    auto x = r.find(query(text)), y = one.find(query(text));
    REQUIRE(x.size() == y.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      CHECK(x[i].id == y[i].id);
      CHECK(x[i].score == Approx(y[i].score).epsilon(1e-6));
    }
  }
  // Small segments: the builder splits by segment_docs (here reading on the calling thread).
  mlrc::IndexOptions o;
  o.segment_docs = 2;
  o.parallel_read = false;
  IndexBuilder(tmp.path / "small", o).build(Corpus::papers, {tmp.path / "a.jsonl", tmp.path / "b.jsonl"});
  LocalRetriever small(tmp.path / "small");
  CHECK(small.stats(Corpus::papers).segments == 3);
  auto x = small.find(query("learning")), y = one.find(query("learning"));
  REQUIRE(x.size() == y.size());
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i].score == Approx(y[i].score).epsilon(1e-6));

  CHECK(expect_error([&] { IndexBuilder(tmp.path / "nothing").add({tmp.path / "a.jsonl"}); }).code_enum() == errc::not_found);
}

TEST_CASE("index: format versions and damage", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "p.jsonl", ours_jsonl);
  IndexBuilder(tmp.path / "idx").build(Corpus::papers, {tmp.path / "p.jsonl"});
  auto manifest = tmp.path / "idx" / "manifest.json";
  std::stringstream ss;
  ss << std::ifstream(manifest).rdbuf();
  std::string text = ss.str();
  REQUIRE(text.find("\"format_version\":1") != std::string::npos);

  SECTION("a newer manifest is refused") {
    auto newer = text;
    newer.replace(newer.find("\"format_version\":1"), 18, "\"format_version\":99");
    put(manifest, newer);
    auto e = expect_error([&] { LocalRetriever r(tmp.path / "idx"); });
    CHECK(e.code_enum() == errc::unsupported);
    CHECK_THAT(std::string(e.what()), Contains("index built by format version 99, this library reads up to 1"));
  }
  SECTION("a newer segment is refused") {
    fs::path seg;
    for (auto& f : fs::directory_iterator(tmp.path / "idx"))
      if (f.path().extension() == ".mlrs") seg = f.path();
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    std::uint32_t v = 7;
    f.write(reinterpret_cast<const char*>(&v), 4);
    f.close();
    auto e = expect_error([&] { LocalRetriever r(tmp.path / "idx"); });
    CHECK(e.code_enum() == errc::unsupported);
    CHECK_THAT(std::string(e.what()), Contains("index built by format version 7, this library reads up to 1"));
  }
  SECTION("a truncated segment is reported, not read") {
    for (auto& f : fs::directory_iterator(tmp.path / "idx"))
      if (f.path().extension() == ".mlrs") fs::resize_file(f.path(), fs::file_size(f.path()) - 8);
    auto e = expect_error([&] { LocalRetriever r(tmp.path / "idx"); });
    CHECK(e.code_enum() == errc::parse);
    CHECK_THAT(std::string(e.what()), Contains("damaged"));
  }
  SECTION("a manifest that is not JSON names the file") {
    put(manifest, "{\"format_version\": 1, ");
    auto e = expect_error([&] { LocalRetriever r(tmp.path / "idx"); });
    CHECK(e.code_enum() == errc::parse);
    CHECK_THAT(std::string(e.what()), Contains("manifest.json"));
  }
  SECTION("no index at all") {
    CHECK(expect_error([&] { LocalRetriever r(tmp.path / "none"); }).code_enum() == errc::not_found);
  }
}

TEST_CASE("index: crash leftovers do not disturb the index", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "a.jsonl", ours_jsonl);
  put(tmp.path / "b.jsonl", kaggle_jsonl);
  auto dir = tmp.path / "idx";
  IndexBuilder(dir).build(Corpus::papers, {tmp.path / "a.jsonl"});
  // A crash while adding: a half-written temp segment, a complete segment the manifest does not
  // name yet (renamed, manifest not replaced), and a half-written manifest temp file.
  IndexBuilder(tmp.path / "other").build(Corpus::papers, {tmp.path / "b.jsonl"});
  fs::copy_file(tmp.path / "other" / "seg-000001.mlrs", dir / "seg-000002.mlrs");
  put(dir / "seg-000003.mlrs.tmp", "MLRCSEG\0 half written");
  put(dir / "manifest.json.tmp-4242", "{\"format_version\":1,\"corpus\":");

  LocalRetriever r(dir);
  CHECK(r.stats(Corpus::papers).documents == 3);
  CHECK(r.find(query("diphoton")).empty());
  CHECK(!r.find(query("attention")).empty());

  // The next writer cleans up and numbers its segments after the leftovers.
  auto rep = IndexBuilder(dir).add({tmp.path / "b.jsonl"});
  CHECK(rep.added == 2);
  CHECK(!fs::exists(dir / "seg-000002.mlrs"));
  CHECK(!fs::exists(dir / "seg-000003.mlrs.tmp"));
  CHECK(!fs::exists(dir / "manifest.json.tmp-4242"));
  CHECK(fs::exists(dir / "seg-000004.mlrs"));
  r.refresh();
  CHECK(ids(r.find(query("diphoton"))) == std::vector<std::string>{"arxiv:0704.0001"});

  // A rebuild replaces the segments; a reader that had the old ones mapped keeps working.
  LocalRetriever old(dir);
  IndexBuilder(dir).build(Corpus::papers, {tmp.path / "b.jsonl"});
  CHECK(!fs::exists(dir / "seg-000001.mlrs"));
  CHECK(!old.find(query("attention")).empty());
  old.refresh();
  CHECK(old.find(query("attention")).empty());
  CHECK(old.stats(Corpus::papers).generation == 3);
}

TEST_CASE("index: one writer at a time", "[retrieval]") {
  TempDir tmp;
  put(tmp.path / "a.jsonl", ours_jsonl);
  auto dir = tmp.path / "idx";
  IndexBuilder(dir).build(Corpus::papers, {tmp.path / "a.jsonl"});
  int fd = ::open((dir / "LOCK").c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  auto e = expect_error([&] { IndexBuilder(dir).add({tmp.path / "a.jsonl"}); });
  ::close(fd);
  CHECK(e.code_enum() == errc::io);
  CHECK_THAT(std::string(e.what()), Contains("another process"));
}

namespace {

// Runs `mlrc index ARGS` in-process, capturing stdout and stderr.
struct CliResult {
  int code;
  std::string out, err;
};
CliResult cli(std::vector<std::string> args) {
  TempDir tmp;
  std::fflush(stdout);
  std::fflush(stderr);
  std::cout.flush();
  int saved_out = ::dup(1), saved_err = ::dup(2);
  int fo = ::open((tmp.path / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int fe = ::open((tmp.path / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(fo, 1);
  ::dup2(fe, 2);
  int code = mlrc::cmd_index(args);
  std::cout.flush();
  std::cerr.flush();
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  for (int fd : {fo, fe, saved_out, saved_err}) ::close(fd);
  std::stringstream o, e;
  o << std::ifstream(tmp.path / "out").rdbuf();
  e << std::ifstream(tmp.path / "err").rdbuf();
  return {code, o.str(), e.str()};
}

}  // namespace

TEST_CASE("index: mlrc index command", "[retrieval][cli]") {
  TempDir tmp;
  put(tmp.path / "a.jsonl", ours_jsonl);
  put(tmp.path / "b.jsonl", kaggle_jsonl);
  auto dir = (tmp.path / "idx").string();

  auto r = cli({"build", "--kind", "papers", "--index", dir, (tmp.path / "a.jsonl").string()});
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Contains("indexed 3 records") && Contains("a.jsonl:3:"));
  r = cli({"add", "--index", dir, "--kind", "papers", (tmp.path / "b.jsonl").string()});
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Contains("indexed 2 records"));

  r = cli({"search", "--kind", "papers", "--index", dir, "--top", "2", "--json", "attention", "transformers"});
  REQUIRE(r.code == 0);
  auto first = r.out.substr(0, r.out.find('\n'));
  simdjson::dom::parser p;
  auto hit = p.parse(first);
  CHECK(std::string_view(hit["id"]) == "nips2017:1");
  CHECK(double(hit["score"]) > 0);
  CHECK(std::string_view(hit["title"]) == "Attention Is All You Need");
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') <= 2);

  r = cli({"search", "--index", dir, "--year-min", "2021", "--venue", "cs.LG", "sparse", "routing"});
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("arxiv:2101.00001") && Contains("Sparse mixture of experts routing"));

  r = cli({"stats", "--index", dir, "--json"});
  CHECK(r.code == 0);
  auto st = p.parse(r.out);
  CHECK(std::uint64_t(st["documents"]) == 5);
  CHECK(std::uint64_t(st["segments"]) == 2);

  // Exit codes: usage 2, bad input 3.
  CHECK(cli({"search", "--index", dir, "--json", ""}).code == 3);
  r = cli({"search", "--index", dir, "   "});
  CHECK(r.code == 3);
  CHECK_THAT(r.err, Contains("empty query"));
  CHECK(cli({"search", "--index", (tmp.path / "missing").string(), "x"}).code == 3);
  CHECK(cli({"search", "--index", dir, "--top", "many", "x"}).code == 2);
  CHECK(cli({"search", "--index", dir, "--bogus", "x"}).code == 2);
  CHECK(cli({"build", "--kind", "papers", "--index", dir}).code == 2);
  CHECK(cli({"build", "--kind", "books", "--index", dir, "x"}).code == 2);
  CHECK(cli({"build", "--kind", "papers", "--index", dir, (tmp.path / "nope.jsonl").string()}).code == 3);
  CHECK(cli({"add", "--kind", "code", "--index", dir, (tmp.path / "b.jsonl").string()}).code == 3);
  CHECK(cli({"frobnicate"}).code == 2);
  CHECK(cli({}).code == 2);
  for (const char* c : {"build", "add", "search", "stats"}) {
    r = cli({c, "--help"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Contains("Usage: mlrc index"));
  }
}
