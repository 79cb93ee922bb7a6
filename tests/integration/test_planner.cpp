// Phase 1: papers from real files (corpus JSON, Semantic Scholar JSON, Markdown, text, PDF) and the
// planner driven by a scripted model — repairs of bad replies, citation checks, refinement and
// ranking — with the requests it sent recorded and checked.

#include <mlrcopilot/paper.hpp>
#include <mlrcopilot/planner.hpp>
#include <mlrcopilot/runtime.hpp>
#include <mlrcopilot/scripted.hpp>

#include "helpers.hpp"

#include <boost/json.hpp>
#include <simdjson.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using mlrc::errc;
using mlrc::Paper;
using mlrc::test::expect_error;
using mlrc::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A one-page PDF whose text is `lines` in Helvetica, one per line; `title` goes into the
// document information dictionary when not empty. Offsets in the xref table are computed, so the
// file is valid as written (poppler does not need to repair it).
std::string make_pdf(const std::vector<std::string>& lines, const std::string& title = "") {
  std::string content;
  if (!lines.empty()) {
    content = "BT /F1 11 Tf 14 TL 72 740 Td\n";
    for (const auto& l : lines) content += "(" + l + ") Tj T*\n";
    content += "ET\n";
  }
  std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
  };
  if (!title.empty()) objects.push_back("<< /Title (" + title + ") /Author (Ada Lovelace, Alan Turing) >>");
  std::string pdf = "%PDF-1.4\n";
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const std::size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (auto off : offsets) {
    char entry[32];
    std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", off);
    pdf += entry;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R" + (title.empty() ? "" : " /Info 6 0 R") +
         " >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

std::string write_binary(const TempDir& dir, const std::string& name, const std::string& bytes) {
  auto p = dir.path / name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p.string();
}

// Records every request, then answers from the script.
class Recording final : public mlrc::Model {
 public:
  explicit Recording(std::vector<mlrc::ScriptTurn> turns) : script_(std::move(turns)) {}
  boost::asio::awaitable<mlrc::ChatResponse> chat(mlrc::ChatRequest req, mlrc::StreamObserver* obs) override {
    requests.push_back(req);
    co_return co_await script_.chat(std::move(req), obs);
  }
  boost::asio::awaitable<void> check() override { co_return; }
  std::string describe() const override { return "recording"; }
  std::size_t used() const { return script_.used(); }
  std::vector<mlrc::ChatRequest> requests;

 private:
  mlrc::ScriptedModel script_;
};

// Runs `op` bounded by a deadline and returns the mlrc::Error it ends with. The error is caught
// inside the coroutine: Runtime's deadline (awaitable_operators `||`) waits for one *success*, so
// an operation that fails would otherwise be reported only when the deadline passes, as a timeout.
template <class T>
boost::asio::awaitable<std::exception_ptr> failure_of(boost::asio::awaitable<T> op) {
  try {
    co_await std::move(op);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}
template <class T>
mlrc::Error run_error(mlrc::Runtime& rt, boost::asio::awaitable<T> op) {
  return expect_error([&] {
    if (auto e = rt.run(failure_of(std::move(op)), 10s)) std::rethrow_exception(e);
  });
}

mlrc::ScriptTurn turn(std::string text, std::string expect = "") {
  mlrc::ScriptTurn t;
  t.text = std::move(text);
  t.expect = std::move(expect);
  return t;
}

std::string idea_json(const std::string& title, const std::string& cites, const std::string& steps = R"(["train", "evaluate"])") {
  return R"({"title": ")" + title + R"(", "hypothesis": "If we do )" + title + R"(, accuracy rises by 2 points.",
    "plan": {"datasets": ["SST-2"], "models": ["DistilBERT"], "baselines": ["fine-tuned DistilBERT"],
             "metrics": ["accuracy"], "steps": )" + steps + R"(, "risks": ["overfitting"],
             "expected_outcome": "+2 accuracy"},
    "cites": )" + cites + "}";
}

std::string review_json(int h, int p, int novelty, const std::string& closest) {
  auto n = [](int v) { return std::to_string(v); };
  return R"({"rationales": {"hypothesis": "reasons", "plan": "reasons"},
    "hypothesis_scores": {"clarity": )" + n(h) + R"(, "validity": )" + n(h) + R"(, "rigor": )" + n(h) +
         R"(, "innovativeness": )" + n(h) + R"(, "generalizability": )" + n(h) + R"(},
    "plan_scores": {"clarity": )" + n(p) + R"(, "validity": )" + n(p) + R"(, "robustness": )" + n(p) +
         R"(, "feasibility": )" + n(p) + R"(, "reproducibility": )" + n(p) + R"(},
    "novelty_rationale": "compared", "closest_paper": ")" + closest + R"(", "novelty": )" + n(novelty) + "}";
}

Paper related_paper(const std::string& id, const std::string& title, int year = 2021) {
  Paper p;
  p.id = id;
  p.title = title;
  p.abstract = "About " + title + ".";
  p.year = year;
  return p;
}

Paper source_paper() {
  Paper p;
  p.id = "local:sentiment";
  p.title = "Noise-Robust Sentiment Classification";
  p.abstract = "We fine-tune a small transformer on noisy product reviews.";
  p.body = "## Method\nWe train DistilBERT.\n## Limitations\nOnly English.";
  return p;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Papers

TEST_CASE("Papers load from our corpus JSON and from Semantic Scholar JSON", "[paper]") {
  TempDir dir;
  auto corpus = Paper::load(dir.file("rec.json", R"({"id": "arxiv:2408.14033", "title": "MLR-Copilot",
      "abstract": "Agents for ML research.", "authors": ["R. Li", "T. Du"], "year": 2024,
      "venue_or_categories": "cs.AI cs.CL", "source": "daily-arxiv"})"));
  CHECK(corpus.id == "arxiv:2408.14033");
  CHECK(corpus.title == "MLR-Copilot");
  CHECK(corpus.authors == std::vector<std::string>{"R. Li", "T. Du"});
  CHECK(corpus.year == 2024);
  CHECK(corpus.venue == "cs.AI cs.CL");
  CHECK(corpus.source == "daily-arxiv");

  auto s2 = Paper::load(dir.file("s2.json", R"({"paperId": "abc123", "title": "Attention Is All You Need",
      "abstract": null, "year": 2017, "venue": "NeurIPS", "authors": [{"authorId": "1", "name": "A. Vaswani"}],
      "references": [{"paperId": "x", "title": "Neural Machine Translation by Jointly Learning to Align and Translate"},
                     {"paperId": "y", "title": null}]})"));
  CHECK(s2.id == "s2:abc123");
  CHECK(s2.abstract.empty());
  CHECK(s2.authors == std::vector<std::string>{"A. Vaswani"});
  CHECK(s2.venue == "NeurIPS");
  CHECK(s2.source == "semantic-scholar");
  REQUIRE(s2.references.size() == 1);
  CHECK_THAT(s2.references[0], Contains("Jointly Learning"));

  // Our own JSON round-trips.
  CHECK(mlrc::paper_from_json(mlrc::to_json(s2)) == s2);

  auto e = expect_error([&] { Paper::load(dir.file("bad.json", R"({"title": "x", "year": "soon", "authors": 5})")); });
  CHECK(e.code_enum() == errc::parse);
  CHECK_THAT(e.what(), Contains("bad.json") && Contains("'authors'"));
  e = expect_error([&] { Paper::load(dir.file("broken.json", R"({"title": )")); });
  CHECK(e.code_enum() == errc::parse);
  CHECK_THAT(e.what(), Contains("broken.json") && Contains("not valid JSON"));
}

TEST_CASE("Papers load from Markdown", "[paper]") {
  TempDir dir;
  auto p = Paper::load(dir.file("paper.md", R"(---
layout: paper
---
# Token Dropout for Robust Sentiment Classifiers

## Abstract

We study token dropout
as a regularizer.

## 1. Introduction

Classifiers overfit.

## Method

We drop tokens.

## References

- Convolutional Neural Networks for Sentence Classification
- [2] Bag of Tricks for Efficient Text Classification
)"));
  CHECK(p.title == "Token Dropout for Robust Sentiment Classifiers");
  CHECK(p.abstract == "We study token dropout as a regularizer.");
  CHECK_THAT(p.body, Contains("## 1. Introduction") && Contains("We drop tokens."));
  CHECK_THAT(p.body, !Contains("regularizer") && !Contains("Convolutional"));
  CHECK(p.references == std::vector<std::string>{"Convolutional Neural Networks for Sentence Classification",
                                                  "Bag of Tricks for Efficient Text Classification"});
  CHECK(p.id == "local:paper");
  CHECK_THAT(p.source, Contains("paper.md"));

  // No Abstract section: the first paragraph stands in for it.
  auto q = Paper::load(dir.file("short.markdown", "# Title\n\nFirst paragraph\ncontinues.\n\n## More\nRest.\n"));
  CHECK(q.abstract == "First paragraph continues.");
  CHECK(q.body == "## More\nRest.");
}

TEST_CASE("Papers load from plain text", "[paper]") {
  TempDir dir;
  auto p = Paper::load(dir.file("paper.txt",
                                "\nA Study of Label Noise\nJane Doe, Example University\n\nAbstract: Label noise hurts.\nWe fix it.\n\n"
                                "1 Introduction\nNoise is common.\n\nREFERENCES\n[1] Learning with Noisy Labels. 2013.\n"));
  CHECK(p.title == "A Study of Label Noise");
  CHECK(p.abstract == "Label noise hurts. We fix it.");
  CHECK_THAT(p.body, Contains("Noise is common.") && !Contains("Jane Doe") && !Contains("Noisy Labels"));
  CHECK(p.references == std::vector<std::string>{"Learning with Noisy Labels. 2013."});

  auto q = Paper::load(dir.file("plain.txt", "Title line\n\nThe first paragraph\nis the abstract.\n\nThen the body.\n"));
  CHECK(q.abstract == "The first paragraph is the abstract.");
  CHECK(q.body == "Then the body.");

  // Marker forms: an em dash, upper case without a separator; "Abstract Syntax …" is no marker.
  CHECK(Paper::load(dir.file("dash.txt", "T\nAbstract\xE2\x80\x94We use dashes.\n")).abstract == "We use dashes.");
  CHECK(Paper::load(dir.file("upper.txt", "T\n\nABSTRACT We shout.\n\nBody.\n")).abstract == "We shout.");
  CHECK(Paper::load(dir.file("asn.txt", "ASN.1\n\nAbstract Syntax Notation One is a language.\n")).abstract ==
        "Abstract Syntax Notation One is a language.");
}

TEST_CASE("Papers load from PDF with poppler", "[paper][pdf]") {
  TempDir dir;
  std::vector<std::string> lines = {"Adaptive Token Dropout for Text Classification",
                                    "Ada Lovelace",
                                    "Abstract",
                                    "We study token dropout as a regularizer for sentiment classifiers.",
                                    "It improves accuracy on noisy reviews.",
                                    "1 Introduction",
                                    "Text classifiers overfit to spurious tokens.",
                                    "References",
                                    "Kim. Convolutional neural networks for sentence classification. 2014."};
  auto p = Paper::load(write_binary(dir, "first-line.pdf", make_pdf(lines)));
  CHECK(p.title == "Adaptive Token Dropout for Text Classification");
  CHECK(p.abstract == "We study token dropout as a regularizer for sentiment classifiers. It improves accuracy on noisy reviews.");
  CHECK_THAT(p.body, Contains("1 Introduction") && Contains("spurious tokens") && !Contains("Convolutional"));
  REQUIRE(p.references.size() == 1);
  CHECK_THAT(p.references[0], Contains("Convolutional neural networks"));
  CHECK(p.id == "local:first-line");

  auto q = Paper::load(write_binary(dir, "info.pdf", make_pdf(lines, "Token Dropout (Info Title)")));
  CHECK(q.title == "Token Dropout (Info Title)");
  CHECK(q.authors == std::vector<std::string>{"Ada Lovelace", "Alan Turing"});

  auto e = expect_error([&] { Paper::load(write_binary(dir, "scan.pdf", make_pdf({}))); });
  CHECK(e.code_enum() == errc::unsupported);
  CHECK_THAT(e.what(), Contains("scan.pdf") && Contains("PDF has no extractable text (scanned?)"));

  e = expect_error([&] { Paper::load(write_binary(dir, "junk.pdf", "this is not a pdf")); });
  CHECK(e.code_enum() == errc::parse);
  CHECK_THAT(e.what(), Contains("junk.pdf"));
}

TEST_CASE("Empty, missing and unsupported paper files are clear errors", "[paper]") {
  TempDir dir;
  auto e = expect_error([&] { Paper::load(dir.file("empty.md", "\n  \n")); });
  CHECK(e.code_enum() == errc::parse);
  CHECK_THAT(e.what(), Contains("empty.md") && Contains("empty"));
  CHECK(expect_error([&] { Paper::load(dir.file("hashes.md", "###\n")); }).code_enum() == errc::parse);
  e = expect_error([&] { Paper::load(dir.file("empty.txt", "")); });
  CHECK(e.code_enum() == errc::parse);
  e = expect_error([&] { Paper::load(dir.file("empty.json", "{}")); });
  CHECK(e.code_enum() == errc::parse);
  e = expect_error([&] { Paper::load(dir.path / "missing.md"); });
  CHECK(e.code_enum() == errc::io);
  CHECK_THAT(e.what(), Contains("missing.md"));
  e = expect_error([&] { Paper::load(dir.path / "missing.pdf"); });
  CHECK(e.code_enum() == errc::io);
  e = expect_error([&] { Paper::load(dir.file("paper.docx", "x")); });
  CHECK(e.code_enum() == errc::unsupported);
  CHECK_THAT(e.what(), Contains("paper.docx") && Contains(".docx"));
}

TEST_CASE("A paper is found by id in JSON-lines corpus files", "[paper]") {
  TempDir dir;
  auto a = dir.file("a.jsonl", R"({"id": "arxiv:1", "title": "One", "abstract": "", "authors": [], "year": 2020, "venue_or_categories": "cs.CL", "source": "s"}
not json at all, mentions arxiv:2
)");
  auto b = dir.file("b.jsonl", R"({"id": "arxiv:22", "title": "Twenty-two", "abstract": "x", "authors": ["A"], "year": 2021, "venue_or_categories": "", "source": "s"}
{"id": "arxiv:2", "title": "Two", "abstract": "y", "authors": ["B"], "year": 2022, "venue_or_categories": "cs.LG", "source": "s"}
)");
  auto found = Paper::find_in_jsonl("arxiv:2", {a, b});
  REQUIRE(found);
  CHECK(found->title == "Two");
  CHECK(found->year == 2022);
  CHECK(found->venue == "cs.LG");
  CHECK_FALSE(Paper::find_in_jsonl("arxiv:3", {a, b}));
  CHECK(expect_error([&] { Paper::find_in_jsonl("arxiv:2", {dir.path / "nope.jsonl"}); }).code_enum() == errc::io);
  CHECK(expect_error([&] { Paper::find_in_jsonl("arxiv:2", {dir.file("c.jsonl.gz", "")}); }).code_enum() == errc::unsupported);
}

TEST_CASE("The example paper loads", "[paper]") {
  auto p = Paper::load(fs::path(MLRC_SOURCE_DIR) / "examples/papers/sentiment-analysis.md");
  CHECK_FALSE(p.title.empty());
  CHECK(p.abstract.size() > 200);
  CHECK_THAT(p.body, Contains("Method") && Contains("Experiments") && Contains("Limitations"));
  CHECK(p.references.size() >= 3);
}

// ------------------------------------------------------------------------------------------------
// Planner

TEST_CASE("Planner::run analyzes, retrieves, proposes, reviews, refines and ranks", "[planner]") {
  const std::string analysis = R"({"summary": "Fine-tunes DistilBERT on noisy reviews.",
      "tasks": ["sentiment classification"], "gaps": ["label noise", "only English"],
      "keywords": ["label noise text classification", "data augmentation sentiment", " Label noise text classification "]})";
  std::vector<mlrc::ScriptTurn> turns = {
      turn(analysis, "Noise-Robust Sentiment Classification"),
      // propose: truncated JSON, then a schema violation, then a valid reply
      turn(R"({"ideas": [{"title": "Co-teaching")", "[arxiv:3]"),
      turn(R"({"ideas": [)" + idea_json("Co-teaching", "[]", R"("just do it")") + "]}", "not valid JSON"),
      turn("Here you go:\n```json\n{\"ideas\": [" + idea_json("Co-teaching", R"(["arxiv:1", "[arxiv:3]", "arxiv:999", "arxiv:1"])") +
               ", " + idea_json("Back-translation", R"(["arxiv:2"])") + "]}\n```",
           "$.ideas[0].plan.steps: expected array, got string"),
      // review idea-1, then idea-2 (first with an out-of-range score, repaired)
      turn(review_json(3, 3, 3, "[arxiv:1]"), R"("title":"Co-teaching")"),
      turn(review_json(4, 7, 4, "arxiv:2"), R"("title":"Back-translation")"),
      turn(review_json(4, 4, 4, "made-up:42"), "is greater than the maximum 5"),
      // refine both, then review the refined versions: idea-1 improves, idea-2 gets worse
      turn(idea_json("Co-teaching with small-loss selection", R"(["arxiv:1"])"), R"("title":"Co-teaching")"),
      turn(idea_json("Back-translation v2", R"(["arxiv:2"])"), R"("title":"Back-translation")"),
      turn(review_json(5, 5, 5, ""), R"("title":"Co-teaching with small-loss selection")"),
      turn(review_json(2, 2, 2, ""), R"("title":"Back-translation v2")"),
  };
  auto model = std::make_shared<Recording>(turns);

  auto corpus = std::make_shared<std::map<std::string, std::vector<Paper>>>();
  (*corpus)["label noise text classification"] = {related_paper("arxiv:1", "Co-teaching"), related_paper("arxiv:2", "Back-translation"),
                                                  related_paper("other:7", "noise-robust sentiment classification")};
  (*corpus)["data augmentation sentiment"] = {related_paper("arxiv:2", "Back-translation"), related_paper("arxiv:3", "EDA")};
  (*corpus)["sentiment classification"] = {related_paper("local:sentiment", "Our own paper"), related_paper("arxiv:1", "Co-teaching")};
  auto asked = std::make_shared<std::vector<std::pair<std::string, std::size_t>>>();
  mlrc::RelatedSearch search = [corpus, asked](std::string q, std::size_t k) -> boost::asio::awaitable<std::vector<Paper>> {
    asked->emplace_back(q, k);
    co_return (*corpus)[q];
  };

  std::vector<std::pair<std::string, std::string>> events;
  mlrc::PlannerOptions opts;
  opts.ideas = 2;
  opts.related_per_query = 4;
  opts.refine_rounds = 1;
  opts.max_repairs = 2;
  opts.on_event = [&](std::string_view kind, std::string_view json) { events.emplace_back(kind, json); };
  mlrc::Planner planner(model, search, opts);

  mlrc::Runtime rt;
  const Paper paper = source_paper();
  auto res = rt.run(planner.run(paper), 20s);
  CHECK(model->used() == turns.size());

  // Analysis, tidied (the duplicate keyword group is gone).
  CHECK(res.analysis.keywords == std::vector<std::string>{"label noise text classification", "data augmentation sentiment"});
  // Related work: one search per keyword group and task; the source paper (by id or by title) and
  // duplicates are dropped; which query found what is kept.
  CHECK(*asked == std::vector<std::pair<std::string, std::size_t>>{
                      {"label noise text classification", 4}, {"data augmentation sentiment", 4}, {"sentiment classification", 4}});
  REQUIRE(res.related.size() == 3);
  CHECK(res.related[0].id == "arxiv:1");
  CHECK(res.related[1].id == "arxiv:2");
  CHECK(res.related[2].id == "arxiv:3");
  REQUIRE(res.queries.size() == 3);
  CHECK(res.queries[1].ids == std::vector<std::string>{"arxiv:2", "arxiv:3"});
  CHECK(res.queries[2].ids == std::vector<std::string>{"local:sentiment", "arxiv:1"});

  // Ranked: the refined idea-1 (all 5s) first; idea-2 kept its original version because the
  // refined one reviewed worse.
  REQUIRE(res.ideas.size() == 2);
  REQUIRE(res.reviews.size() == 2);
  CHECK(res.ideas[0].id == "idea-1");
  CHECK(res.ideas[0].round == 1);
  CHECK(res.ideas[0].title == "Co-teaching with small-loss selection");
  CHECK(res.ideas[0].score == Approx(5.0));
  CHECK(res.reviews[0].idea_id == "idea-1");
  CHECK(res.ideas[1].id == "idea-2");
  CHECK(res.ideas[1].round == 0);
  CHECK(res.ideas[1].title == "Back-translation");
  CHECK(res.ideas[1].score == Approx(4.0));
  CHECK(res.reviews[1].mean() == Approx(4.0));
  CHECK(res.reviews[1].closest_paper.empty());  // "made-up:42" was not retrieved
  CHECK(res.reviews[1].hypothesis_scores.at("generalizability") == 4);
  CHECK(res.reviews[1].plan_scores.at("reproducibility") == 4);
  CHECK(res.reviews[1].rationales.at("plan") == "reasons");

  // The citation of an unknown paper was dropped and noted; "[arxiv:3]" was read as arxiv:3.
  auto proposed = std::find_if(events.begin(), events.end(), [](auto& e) { return e.first == "idea"; });
  REQUIRE(proposed != events.end());
  auto first_idea = mlrc::idea_from_json(proposed->second);
  CHECK(first_idea.cites == std::vector<std::string>{"arxiv:1", "arxiv:3"});
  CHECK(first_idea.dropped_cites == std::vector<std::string>{"arxiv:999"});
  CHECK(first_idea.round == 0);

  std::map<std::string, int> kinds;
  for (auto& e : events) ++kinds[e.first];
  CHECK(kinds == std::map<std::string, int>{{"analysis", 1}, {"related", 1}, {"repair", 3}, {"idea", 2}, {"review", 4}, {"refined", 2}});
  auto repair = std::find_if(events.begin(), events.end(), [](auto& e) { return e.first == "repair"; });
  REQUIRE(repair != events.end());
  CHECK_THAT(repair->second, Contains(R"("step":"propose")") && Contains(R"("attempt":1)"));

  // Every request: structured output named after the step, the same cached system prompt first.
  REQUIRE(model->requests.size() == turns.size());
  const auto& system = model->requests[0].messages.at(0);
  CHECK(system.role == mlrc::Role::system);
  CHECK(system.cache_breakpoint);
  CHECK_THAT(system.content, Contains("innovativeness") && Contains("reproducibility"));
  std::vector<std::string> steps;
  for (auto& r : model->requests) {
    CHECK(r.messages.at(0) == system);
    REQUIRE(r.response_format);
    steps.push_back(r.response_format->name);
    simdjson::dom::parser parser;
    CHECK(parser.parse(r.response_format->schema).error() == simdjson::SUCCESS);
  }
  CHECK(steps == std::vector<std::string>{"analyze", "propose", "propose", "propose", "review", "review", "review", "refine",
                                          "refine", "review", "review"});
  // A repair shows the model its bad reply and the error.
  const auto& repair_req = model->requests[2];
  REQUIRE(repair_req.messages.size() == 4);
  CHECK(repair_req.messages[2].role == mlrc::Role::assistant);
  CHECK(repair_req.messages[2].content == turns[1].text);
  CHECK_THAT(repair_req.messages[3].content, Contains("not valid JSON"));
  // The review prompt states the criteria; the refine prompt carries the review.
  CHECK_THAT(model->requests[4].messages[1].content, Contains("generalizability") && Contains("feasibility") && Contains("Novelty"));
  CHECK_THAT(model->requests[7].messages[1].content, Contains("# Review") && Contains("\"novelty\":3"));

  // The whole result round-trips through JSON.
  auto back = mlrc::planner_result_from_json(mlrc::to_json(res));
  CHECK(back.analysis == res.analysis);
  CHECK(back.related == res.related);
  CHECK(back.queries == res.queries);
  CHECK(back.ideas == res.ideas);
  CHECK(back.reviews == res.reviews);
}

TEST_CASE("A model that never produces valid JSON is a protocol error after max_repairs", "[planner]") {
  auto model = std::make_shared<mlrc::ScriptedModel>(
      std::vector<mlrc::ScriptTurn>{turn("I think the paper is great!"), turn("{\"summary\": 1}"), turn("still not json")});
  mlrc::PlannerOptions opts;
  opts.max_repairs = 2;
  mlrc::Planner planner(model, {}, opts);
  mlrc::Runtime rt;
  const Paper paper = source_paper();
  auto e = run_error(rt, planner.analyze(paper));
  CHECK(e.code_enum() == errc::protocol);
  CHECK_THAT(e.what(), Contains("planner step 'analyze': the model's reply never matched the schema after 2 repairs:") &&
                           Contains("not valid JSON"));
  CHECK(e.provider_text() == "still not json");
  CHECK(model->used() == 3);
}

TEST_CASE("Schema errors reach the model and scores outside 1-5 are repaired", "[planner]") {
  Recording* rec = nullptr;
  auto model = std::make_shared<Recording>(std::vector<mlrc::ScriptTurn>{
      turn(review_json(0, 3, 3, "")), turn(review_json(3, 3, 3, "arxiv:1"), "$.hypothesis_scores.clarity: 0 is less than the minimum 1")});
  rec = model.get();
  mlrc::Planner planner(model);
  mlrc::Runtime rt;
  mlrc::Idea idea;
  idea.id = "idea-7";
  idea.title = "T";
  idea.hypothesis = "H";
  std::vector<mlrc::Idea> ideas{idea};
  std::vector<Paper> related{related_paper("arxiv:1", "Co-teaching")};
  auto reviews = rt.run(planner.review(ideas, related), 10s);
  REQUIRE(reviews.size() == 1);
  CHECK(reviews[0].idea_id == "idea-7");
  CHECK(reviews[0].closest_paper == "arxiv:1");
  CHECK(reviews[0].mean() == Approx(3.0));
  CHECK(rec->used() == 2);
}

TEST_CASE("Related search skips queries the retriever rejects and passes other failures on", "[planner]") {
  mlrc::Analysis a;
  a.keywords = {"!!!", "good query"};
  a.tasks = {"broken"};
  mlrc::RelatedSearch search = [](std::string q, std::size_t) -> boost::asio::awaitable<std::vector<Paper>> {
    if (q == "!!!") throw mlrc::Error(errc::invalid_argument, "query has no searchable words");
    if (q == "broken") throw mlrc::Error(errc::io, "index file is damaged");
    co_return std::vector<Paper>{related_paper("", "A paper without an id")};
  };
  mlrc::Runtime rt;
  const Paper paper = source_paper();
  {
    mlrc::PlannerOptions opts;
    opts.max_related = 1;  // full after "good query": "broken" is never asked
    mlrc::Planner planner(std::make_shared<mlrc::ScriptedModel>(std::vector<mlrc::ScriptTurn>{}), search, opts);
    std::vector<mlrc::RelatedQuery> queries;
    auto related = rt.run(planner.related(paper, a, &queries), 10s);
    REQUIRE(related.size() == 1);
    CHECK(related[0].id == "related-1");
    REQUIRE(queries.size() == 2);
    CHECK_THAT(queries[0].error, Contains("no searchable words"));
    CHECK(queries[1].ids == std::vector<std::string>{"related-1"});
  }
  mlrc::Planner planner(std::make_shared<mlrc::ScriptedModel>(std::vector<mlrc::ScriptTurn>{}), search);
  auto e = run_error(rt, planner.related(paper, a));
  CHECK(e.code_enum() == errc::io);
  // No search at all: no related work, no error.
  mlrc::Planner offline(std::make_shared<mlrc::ScriptedModel>(std::vector<mlrc::ScriptTurn>{}));
  CHECK(rt.run(offline.related(paper, a), 10s).empty());
}

TEST_CASE("An empty paper is rejected before any model call", "[planner]") {
  auto model = std::make_shared<mlrc::ScriptedModel>(std::vector<mlrc::ScriptTurn>{turn("{}")});
  mlrc::Planner planner(model);
  mlrc::Runtime rt;
  const Paper empty;
  auto e = run_error(rt, planner.run(empty));
  CHECK(e.code_enum() == errc::invalid_argument);
  CHECK_THAT(e.what(), Contains("empty"));
  CHECK(model->used() == 0);
  CHECK(expect_error([] { mlrc::Planner p(nullptr); }).code_enum() == errc::invalid_argument);
}

TEST_CASE("Records round-trip through JSON and malformed records name the field", "[planner]") {
  mlrc::Review r;
  r.idea_id = "idea-1";
  r.hypothesis_scores = {{"clarity", 4}, {"rigor", 2}};
  r.plan_scores = {{"feasibility", 5}};
  r.rationales = {{"plan", "ok"}};
  r.novelty = 3;
  r.closest_paper = "arxiv:1";
  CHECK(r.mean() == Approx(3.5));
  CHECK(mlrc::review_from_json(mlrc::to_json(r)) == r);
  CHECK(mlrc::Review{}.mean() == 0);

  mlrc::Analysis a{{"t"}, {"g"}, {"k1", "k2"}, "s"};
  CHECK(mlrc::analysis_from_json(mlrc::to_json(a)) == a);

  auto e = expect_error([] { mlrc::idea_from_json(R"({"id": "x", "plan": {"steps": "one"}})", "runs/1/idea.json"); });
  CHECK(e.code_enum() == errc::parse);
  CHECK_THAT(e.what(), Contains("runs/1/idea.json.plan") && Contains("'steps'"));
  CHECK(expect_error([] { mlrc::review_from_json("[]"); }).code_enum() == errc::parse);
}
