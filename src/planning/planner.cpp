#include <mlrcopilot/planner.hpp>
#include <mlrcopilot/retriever.hpp>

#include "planning/fields.hpp"
#include "planning/json_schema.hpp"
#include "planning/text.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <numeric>
#include <optional>
#include <set>
#include <utility>

namespace mlrc {
inline namespace v1 {
namespace {

namespace bj = boost::json;
using detail::JsonSchema;
using detail::fields::El;
using detail::fields::Reader;
using detail::text::clip;
using detail::text::lower;
using detail::text::trim;

// ---------------------------------------------------------------------------------------------
// Schemas of the model's replies. Every object lists all its properties as required and forbids
// others: that is what OpenAI's strict structured output demands, and it keeps replies complete.

bj::value str() { return bj::object{{"type", "string"}}; }
bj::value strs(std::size_t min_items = 0) {
  bj::object o{{"type", "array"}, {"items", str()}};
  if (min_items) o["minItems"] = min_items;
  return o;
}
bj::value score() { return bj::object{{"type", "integer"}, {"minimum", 1}, {"maximum", 5}}; }
bj::value object_of(std::vector<std::pair<std::string, bj::value>> props) {
  bj::object properties;
  bj::array required;
  for (auto& [name, schema] : props) {
    properties[name] = std::move(schema);
    required.emplace_back(name);
  }
  bj::object o;
  o["type"] = "object";
  o["properties"] = std::move(properties);
  o["required"] = std::move(required);
  o["additionalProperties"] = false;
  return o;
}
bj::value scores_of(const std::vector<std::string>& criteria) {
  std::vector<std::pair<std::string, bj::value>> props;
  for (auto& c : criteria) props.emplace_back(c, score());
  return object_of(std::move(props));
}

bj::value idea_schema() {
  bj::value plan = object_of({{"datasets", strs()}, {"models", strs()}, {"baselines", strs()}, {"metrics", strs(1)},
                              {"steps", strs(1)}, {"risks", strs()}, {"expected_outcome", str()}});
  return object_of({{"title", str()}, {"hypothesis", str()}, {"plan", std::move(plan)}, {"cites", strs()}});
}

struct Schemas {
  JsonSchema analysis, ideas, idea, review;
};
const Schemas& schemas() {
  static const Schemas s{
      JsonSchema(bj::serialize(object_of({{"summary", str()}, {"tasks", strs(1)}, {"gaps", strs()}, {"keywords", strs(1)}}))),
      JsonSchema(bj::serialize(object_of({{"ideas", [] {
                                             bj::object a{{"type", "array"}, {"items", idea_schema()}, {"minItems", 1}};
                                             return bj::value(std::move(a));
                                           }()}}))),
      JsonSchema(bj::serialize(idea_schema())),
      // Reasons come before scores: with schema-ordered generation the model argues, then scores.
      JsonSchema(bj::serialize(object_of({{"rationales", object_of({{"hypothesis", str()}, {"plan", str()}})},
                                          {"hypothesis_scores", scores_of(hypothesis_criteria())},
                                          {"plan_scores", scores_of(plan_criteria())},
                                          {"novelty_rationale", str()},
                                          {"closest_paper", str()},
                                          {"novelty", score()}}))),
  };
  return s;
}

// ---------------------------------------------------------------------------------------------
// Prompts. The system prompt is the same for every step and every run, so providers can cache it.

const char* const system_prompt =
    "You are the IdeaAgent of MLR-Copilot, an assistant for machine-learning research. You read research "
    "papers, identify their tasks and research gaps, propose testable research hypotheses with concrete "
    "experiment plans, and review such ideas critically.\n"
    "Ground everything in the paper and the related work you are given. Cite related papers only by the ids "
    "shown to you; never invent papers, datasets, models or results.\n"
    "Hypotheses are judged on clarity, validity, rigor, innovativeness and generalizability. Experiment plans "
    "are judged on clarity, validity, robustness, feasibility and reproducibility. Ideas are also checked for "
    "novelty against the related work. Plans should be runnable by a small team with public data and modest "
    "compute.\n"
    "Always answer with a single JSON object that matches the schema given in the request, with no text "
    "before or after it.";

const char* const criteria_text =
    "Score each criterion from 1 to 5 (1 poor, 2 weak, 3 adequate, 4 good, 5 excellent); be strict, 5 is rare.\n"
    "Hypothesis:\n"
    "- clarity: stated precisely enough that its outcome can be checked without guessing what was meant.\n"
    "- validity: consistent with what is known; rests on sound reasoning from the paper and related work.\n"
    "- rigor: specific and falsifiable, with measurable predictions and controls.\n"
    "- innovativeness: goes beyond the obvious next step of the source paper.\n"
    "- generalizability: the insight would hold beyond one dataset or setting.\n"
    "Experiment plan:\n"
    "- clarity: steps are unambiguous and ordered.\n"
    "- validity: the experiments actually test the hypothesis (right data, baselines and metrics).\n"
    "- robustness: controls for confounds and variance (seeds, repeated runs) and addresses the risks.\n"
    "- feasibility: doable with available data, models and modest compute.\n"
    "- reproducibility: enough detail (data splits, settings, metrics) for someone else to repeat it.\n"
    "Novelty (1-5) against the related work: 1 = a retrieved paper already does this, 5 = none comes close. "
    "closest_paper is the id of the most similar related paper, or \"\" if none is similar.\n";

Message system_message() {
  Message m = Message::system(system_prompt);
  m.cache_breakpoint = true;
  return m;
}

std::string bullets(const std::vector<std::string>& items) {
  std::string out;
  for (auto& i : items) out += "- " + i + "\n";
  return out.empty() ? "- (none)\n" : out;
}

std::string paper_text(const Paper& p, std::size_t body_chars) {
  std::string s = "# Paper\nTitle: " + p.title + "\n";
  if (p.year) s += "Year: " + std::to_string(p.year) + "\n";
  if (!p.abstract.empty()) s += "Abstract: " + p.abstract + "\n";
  if (body_chars && !p.body.empty()) s += "\n## Text\n" + clip(p.body, body_chars) + "\n";
  return s;
}

std::string analysis_text(const Analysis& a) {
  return "\n# Analysis\nSummary: " + a.summary + "\nTasks:\n" + bullets(a.tasks) + "Gaps:\n" + bullets(a.gaps);
}

std::string related_text(const std::vector<Paper>& related) {
  if (related.empty()) return "\n# Related work\n(none retrieved: cite nothing)\n";
  std::string s = "\n# Related work (cite by the id in brackets)\n";
  for (auto& p : related) {
    s += "[" + p.id + "] " + p.title;
    if (p.year || !p.venue.empty())
      s += " (" + (p.year ? std::to_string(p.year) : std::string()) + (p.year && !p.venue.empty() ? ", " : "") + p.venue + ")";
    s += "\n";
    if (!p.abstract.empty()) s += "    " + clip(p.abstract, 500) + "\n";
  }
  return s;
}

std::string schema_text(const JsonSchema& s) { return "\nReply with one JSON object matching this JSON schema:\n" + s.text() + "\n"; }

// ---------------------------------------------------------------------------------------------
// JSON of the records.

bj::object plan_value(const ExperimentPlan& p) {
  return {{"datasets", bj::value_from(p.datasets)}, {"models", bj::value_from(p.models)},
          {"baselines", bj::value_from(p.baselines)}, {"metrics", bj::value_from(p.metrics)},
          {"steps", bj::value_from(p.steps)}, {"risks", bj::value_from(p.risks)},
          {"expected_outcome", p.expected_outcome}};
}
bj::object idea_value(const Idea& i) {
  return {{"id", i.id}, {"round", i.round}, {"score", i.score}, {"title", i.title}, {"hypothesis", i.hypothesis},
          {"plan", plan_value(i.plan)}, {"cites", bj::value_from(i.cites)}, {"dropped_cites", bj::value_from(i.dropped_cites)}};
}
bj::object review_value(const Review& r) {
  return {{"idea_id", r.idea_id}, {"hypothesis_scores", bj::value_from(r.hypothesis_scores)},
          {"plan_scores", bj::value_from(r.plan_scores)}, {"rationales", bj::value_from(r.rationales)},
          {"novelty", r.novelty}, {"closest_paper", r.closest_paper}, {"novelty_rationale", r.novelty_rationale},
          {"mean", r.mean()}};
}
bj::object analysis_value(const Analysis& a) {
  return {{"summary", a.summary}, {"tasks", bj::value_from(a.tasks)}, {"gaps", bj::value_from(a.gaps)},
          {"keywords", bj::value_from(a.keywords)}};
}
bj::object query_value(const RelatedQuery& q) {
  bj::object o{{"query", q.query}, {"ids", bj::value_from(q.ids)}};
  if (!q.error.empty()) o["error"] = q.error;
  return o;
}

// Reading works for both our stored records and (already schema-checked) model replies.
ExperimentPlan plan_from(const Reader& r) {
  ExperimentPlan p;
  r.strs("datasets", p.datasets);
  r.strs("models", p.models);
  r.strs("baselines", p.baselines);
  r.strs("metrics", p.metrics);
  r.strs("steps", p.steps);
  r.strs("risks", p.risks);
  r.str("expected_outcome", p.expected_outcome);
  return p;
}
Idea idea_from(const Reader& r) {
  Idea i;
  r.str("id", i.id);
  r.integer("round", i.round);
  r.number("score", i.score);
  r.str("title", i.title);
  r.str("hypothesis", i.hypothesis);
  i.plan = plan_from(r.sub("plan"));
  r.strs("cites", i.cites);
  r.strs("dropped_cites", i.dropped_cites);
  return i;
}
template <class V>
std::map<std::string, V> map_from(const Reader& r, std::string_view key) {
  std::map<std::string, V> out;
  Reader m = r.sub(key);
  if (!m.obj) return out;
  simdjson::dom::object obj = m.obj->get_object().value_unsafe();  // named: iterating a temporary dangles
  for (auto kv : obj) {
    std::string k(kv.key);
    if constexpr (std::is_same_v<V, int>) m.integer(k, out[k]);
    else m.str(k, out[k]);
  }
  return out;
}
Review review_from(const Reader& r) {
  Review v;
  r.str("idea_id", v.idea_id);
  v.hypothesis_scores = map_from<int>(r, "hypothesis_scores");
  v.plan_scores = map_from<int>(r, "plan_scores");
  v.rationales = map_from<std::string>(r, "rationales");
  r.integer("novelty", v.novelty);
  r.str("closest_paper", v.closest_paper);
  r.str("novelty_rationale", v.novelty_rationale);
  return v;
}
Analysis analysis_from(const Reader& r) {
  Analysis a;
  r.str("summary", a.summary);
  r.strs("tasks", a.tasks);
  r.strs("gaps", a.gaps);
  r.strs("keywords", a.keywords);
  return a;
}

template <class T, class F>
std::vector<T> array_from(const Reader& r, std::string_view key, F item) {
  std::vector<T> out;
  auto v = r.get(key);
  if (!v) return out;
  if (!v->is_array()) r.fail(key, "an array");
  std::size_t i = 0;
  simdjson::dom::array arr = v->get_array().value_unsafe();
  for (El e : arr) {
    std::string where = r.where + "." + std::string(key) + "[" + std::to_string(i++) + "]";
    if (!e.is_object()) throw Error(errc::parse, where + " must be an object");
    out.push_back(item(e, where));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The model steps.

// A reply that passed the schema but is still unusable; its message goes back to the model.
struct Rejected {
  std::string message;
};

void emit(const PlannerOptions& o, std::string_view kind, const std::string& json) {
  if (o.on_event) o.on_event(kind, json);
}

// Cleans a list the model wrote: trims, drops empty items and case-insensitive duplicates.
std::vector<std::string> tidy(std::vector<std::string> items) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& s : items)
    if (auto t = std::string(trim(s)); !t.empty() && seen.insert(lower(t)).second) out.push_back(std::move(t));
  return out;
}

// Asks `user` under the step's schema; repairs invalid replies by showing the model its reply and
// the first validation error. `convert` turns a valid reply into T or throws Rejected.
template <class T>
boost::asio::awaitable<T> ask(Model& model, const PlannerOptions& opts, std::string step, std::string user,
                              const JsonSchema& schema, std::function<T(El)> convert) {
  std::vector<Message> messages{system_message(), Message::user(std::move(user) + schema_text(schema))};
  const int max_repairs = std::max(0, opts.max_repairs);
  for (int attempt = 0;; ++attempt) {
    ChatRequest req;
    req.messages = messages;
    req.response_format = ResponseFormat{step, schema.text(), true};
    ChatResponse reply = co_await model.chat(std::move(req));
    std::optional<T> out;
    std::string error;
    {  // no co_await while DOM elements are alive
      simdjson::dom::parser parser;
      El root;
      auto json = detail::extract_json_object(reply.text);
      if (trim(reply.text).empty())
        error = "the reply is empty";
      else if (auto e = parser.parse(json.data(), json.size()).get(root))
        error = std::string("the reply is not valid JSON (") + simdjson::error_message(e) + ")";
      else if (auto invalid = schema.validate(root))
        error = *invalid;
      else
        try {
          out.emplace(convert(root));
        } catch (const Rejected& r) {
          error = r.message;
        }
    }
    if (out) co_return std::move(*out);
    if (reply.finish_reason == "length") error += " (the reply was cut off at the output token limit)";
    if (attempt >= max_repairs)
      throw Error(errc::protocol,
                  "planner step '" + step + "': the model's reply never matched the schema after " +
                      std::to_string(attempt) + " repairs: " + error,
                  clip(reply.text, 2000));
    emit(opts, "repair", bj::serialize(bj::object{{"step", step}, {"attempt", attempt + 1}, {"error", error}}));
    messages.push_back(Message::assistant(reply.text));
    messages.push_back(Message::user("Your reply was rejected: " + error +
                                     "\nReply again with only the corrected JSON object, matching the schema exactly."));
  }
}

void require_text(const Paper& p, const char* step) {
  if (trim(p.title).empty() && trim(p.abstract).empty() && trim(p.body).empty())
    throw Error(errc::invalid_argument, std::string("planner step '") + step + "': the paper is empty (no title, abstract or text)");
}

std::set<std::string> ids_of(const std::vector<Paper>& papers) {
  std::set<std::string> ids;
  for (auto& p : papers) ids.insert(p.id);
  return ids;
}

// Models copy the "[id]" format of the prompt; the brackets are not part of the id.
std::string bare_id(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = trim(s.substr(1, s.size() - 2));
  return std::string(s);
}

// An idea from a schema-valid model reply: empty text is sent back; unknown citations are dropped.
Idea idea_from_model(El e, const std::string& where, const std::set<std::string>& known) {
  Idea i = idea_from(Reader{e, where});
  i.title = std::string(trim(i.title));
  i.hypothesis = std::string(trim(i.hypothesis));
  if (i.title.empty()) throw Rejected{where + ".title: must not be empty"};
  if (i.hypothesis.empty()) throw Rejected{where + ".hypothesis: must not be empty"};
  for (auto* list : {&i.plan.datasets, &i.plan.models, &i.plan.baselines, &i.plan.metrics, &i.plan.steps, &i.plan.risks})
    *list = tidy(std::move(*list));
  if (i.plan.steps.empty()) throw Rejected{where + ".plan.steps: give at least one concrete step"};
  std::vector<std::string> cites;
  for (auto& c : i.cites) {
    std::string id = bare_id(c);
    auto& into = known.count(id) ? cites : i.dropped_cites;
    if (!id.empty() && std::find(into.begin(), into.end(), id) == into.end()) into.push_back(id);
  }
  i.cites = std::move(cites);
  return i;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const std::vector<std::string>& hypothesis_criteria() {
  static const std::vector<std::string> c{"clarity", "validity", "rigor", "innovativeness", "generalizability"};
  return c;
}
const std::vector<std::string>& plan_criteria() {
  static const std::vector<std::string> c{"clarity", "validity", "robustness", "feasibility", "reproducibility"};
  return c;
}

double Review::mean() const {
  double sum = novelty;
  int n = novelty > 0 ? 1 : 0;
  for (auto* m : {&hypothesis_scores, &plan_scores})
    for (auto& [k, v] : *m) sum += v, ++n;
  return n ? sum / n : 0.0;
}

Planner::Planner(ModelPtr model, RelatedSearch search, PlannerOptions options)
    : model_(std::move(model)), search_(std::move(search)), options_(std::move(options)) {
  if (!model_) throw Error(errc::invalid_argument, "Planner: the model is null");
  if (options_.ideas == 0) throw Error(errc::invalid_argument, "Planner: options.ideas must be at least 1");
}

boost::asio::awaitable<Analysis> Planner::analyze(const Paper& paper) const {
  require_text(paper, "analyze");
  std::string user =
      "Analyze the paper below. Give: a summary (2-4 sentences); the research tasks it addresses (1-5); the "
      "research gaps, limitations or open problems it leaves (2-6); and 3-6 keyword groups, each a short "
      "literature-search query of 2-6 words that would find related and recent work.\n\n" +
      paper_text(paper, 12000);
  if (!paper.references.empty()) {
    std::vector<std::string> refs(paper.references.begin(),
                                  paper.references.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(30, paper.references.size())));
    user += "\n## References (excerpt)\n" + bullets(refs);
  }
  std::function<Analysis(El)> convert = [](El root) {
    Analysis a = analysis_from(Reader{root, "$"});
    a.summary = std::string(trim(a.summary));
    a.tasks = tidy(std::move(a.tasks));
    a.gaps = tidy(std::move(a.gaps));
    a.keywords = tidy(std::move(a.keywords));
    if (a.keywords.empty() && a.tasks.empty()) throw Rejected{"$.keywords: give at least one non-empty keyword group"};
    return a;
  };
  Analysis a = co_await ask<Analysis>(*model_, options_, "analyze", std::move(user), schemas().analysis, std::move(convert));
  emit(options_, "analysis", to_json(a));
  co_return a;
}

boost::asio::awaitable<std::vector<Paper>> Planner::related(const Paper& paper, const Analysis& analysis,
                                                            std::vector<RelatedQuery>* queries) const {
  std::vector<Paper> out;
  std::vector<RelatedQuery> log;
  if (search_) {
    std::vector<std::string> all = analysis.keywords;
    all.insert(all.end(), analysis.tasks.begin(), analysis.tasks.end());
    std::set<std::string> ids, titles;
    const std::string self_title = lower(trim(paper.title));
    std::size_t unnamed = 0;
    for (auto& q : tidy(std::move(all))) {
      if (out.size() >= options_.max_related) break;
      RelatedQuery rq{q, {}, {}};
      std::vector<Paper> found;
      try {
        found = co_await search_(q, options_.related_per_query);
      } catch (const Error& e) {
        // The query text came from the model: one the retriever cannot use is skipped, not fatal.
        if (e.code_enum() != errc::invalid_argument) throw;
        rq.error = e.what();
      }
      for (auto& p : found) {
        if (p.id.empty()) p.id = "related-" + std::to_string(++unnamed);  // the model cites by id: every paper needs one
        rq.ids.push_back(p.id);
        std::string title = lower(trim(p.title));
        // The source paper is often in the corpus too; it is not related work. Titles catch the
        // same paper under two ids (arXiv and a venue).
        bool self = (!paper.id.empty() && p.id == paper.id) || (!self_title.empty() && title == self_title);
        if (self || ids.count(p.id) || (!title.empty() && titles.count(title)) || out.size() >= options_.max_related) continue;
        ids.insert(p.id);
        titles.insert(title);
        out.push_back(std::move(p));
      }
      log.push_back(std::move(rq));
    }
  }
  if (options_.on_event) {
    bj::array qs, ps;
    for (auto& q : log) qs.push_back(query_value(q));
    for (auto& p : out) ps.push_back(bj::object{{"id", p.id}, {"title", p.title}, {"year", p.year}});
    emit(options_, "related", bj::serialize(bj::object{{"queries", std::move(qs)}, {"papers", std::move(ps)}}));
  }
  if (queries) *queries = std::move(log);
  co_return out;
}

boost::asio::awaitable<std::vector<Idea>> Planner::propose(const Paper& paper, const Analysis& analysis,
                                                           const std::vector<Paper>& related) const {
  require_text(paper, "propose");
  const std::size_t n = options_.ideas;
  std::string user = "Propose " + std::to_string(n) +
                     " distinct research ideas that address the gaps of the paper below. Each idea has a title, a "
                     "testable hypothesis, and an experiment plan (datasets, models, baselines including the "
                     "paper's own method, metrics, ordered steps, risks, expected outcome). In cites, list the "
                     "ids of related papers that informed the idea.\n\n" +
                     paper_text(paper, 0) + analysis_text(analysis) + related_text(related);
  const auto known = ids_of(related);
  std::function<std::vector<Idea>(El)> convert = [&known, n](El root) {
    std::vector<Idea> ideas;
    std::size_t i = 0;
    simdjson::dom::array arr = root["ideas"].get_array().value_unsafe();
    for (El e : arr) {
      if (ideas.size() == n) break;  // more than asked for: keep the first n
      Idea idea = idea_from_model(e, "$.ideas[" + std::to_string(i) + "]", known);
      idea.id = "idea-" + std::to_string(++i);
      ideas.push_back(std::move(idea));
    }
    return ideas;
  };
  auto ideas = co_await ask<std::vector<Idea>>(*model_, options_, "propose", std::move(user), schemas().ideas, std::move(convert));
  for (auto& i : ideas) emit(options_, "idea", to_json(i));
  co_return ideas;
}

boost::asio::awaitable<std::vector<Review>> Planner::review(const std::vector<Idea>& ideas,
                                                            const std::vector<Paper>& related) const {
  const auto known = ids_of(related);
  std::vector<Review> out;
  for (const auto& idea : ideas) {
    bj::object shown = idea_value(idea);
    for (auto key : {"id", "round", "score", "dropped_cites"}) shown.erase(key);
    std::string user = "Review the research idea below.\n" + std::string(criteria_text) + related_text(related) +
                       "\n# Idea\n" + bj::serialize(shown) + "\n";
    std::function<Review(El)> convert = [&known](El root) {
      Review r = review_from(Reader{root, "$"});
      r.closest_paper = bare_id(r.closest_paper);
      if (!known.count(r.closest_paper)) r.closest_paper.clear();  // not a retrieved paper: no evidence
      return r;
    };
    Review r = co_await ask<Review>(*model_, options_, "review", std::move(user), schemas().review, std::move(convert));
    r.idea_id = idea.id;
    emit(options_, "review", to_json(r));
    out.push_back(std::move(r));
  }
  co_return out;
}

boost::asio::awaitable<std::vector<Idea>> Planner::refine(const std::vector<Idea>& ideas, const std::vector<Review>& reviews,
                                                          const std::vector<Paper>& related) const {
  const auto known = ids_of(related);
  std::vector<Idea> out;
  for (const auto& idea : ideas) {
    auto rv = std::find_if(reviews.begin(), reviews.end(), [&](const Review& r) { return r.idea_id == idea.id; });
    if (rv == reviews.end()) {
      out.push_back(idea);
      continue;
    }
    bj::object shown = idea_value(idea), critique = review_value(*rv);
    for (auto key : {"id", "round", "score", "dropped_cites"}) shown.erase(key);
    critique.erase("idea_id");
    std::string user =
        "Revise the research idea below using its review. Fix the weaknesses behind the lowest scores, make it "
        "clearly different from the closest related paper if novelty is low, and keep what is good and the "
        "research direction. Return the complete revised idea.\n" +
        related_text(related) + "\n# Idea\n" + bj::serialize(shown) + "\n\n# Review\n" + bj::serialize(critique) + "\n";
    std::function<Idea(El)> convert = [&known](El root) { return idea_from_model(root, "$", known); };
    Idea refined = co_await ask<Idea>(*model_, options_, "refine", std::move(user), schemas().idea, std::move(convert));
    refined.id = idea.id;
    refined.round = idea.round + 1;
    emit(options_, "refined", to_json(refined));
    out.push_back(std::move(refined));
  }
  co_return out;
}

boost::asio::awaitable<Planner::Result> Planner::run(const Paper& paper) const {
  require_text(paper, "run");
  Result res;
  res.analysis = co_await analyze(paper);
  res.related = co_await related(paper, res.analysis, &res.queries);
  res.ideas = co_await propose(paper, res.analysis, res.related);
  res.reviews = co_await review(res.ideas, res.related);
  for (std::size_t i = 0; i < res.ideas.size(); ++i) res.ideas[i].score = res.reviews[i].mean();
  for (int round = 0; round < options_.refine_rounds; ++round) {
    auto refined = co_await refine(res.ideas, res.reviews, res.related);
    auto again = co_await review(refined, res.related);
    for (std::size_t i = 0; i < res.ideas.size(); ++i)
      if (again[i].mean() >= res.reviews[i].mean()) {
        res.ideas[i] = std::move(refined[i]);
        res.ideas[i].score = again[i].mean();
        res.reviews[i] = std::move(again[i]);
      }
  }
  std::vector<std::size_t> order(res.ideas.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return res.ideas[a].score > res.ideas[b].score; });
  Result ranked{std::move(res.analysis), std::move(res.related), std::move(res.queries), {}, {}};
  for (auto i : order) {
    ranked.ideas.push_back(std::move(res.ideas[i]));
    ranked.reviews.push_back(std::move(res.reviews[i]));
  }
  co_return ranked;
}

// ---------------------------------------------------------------------------------------------

std::string to_json(const Analysis& a) { return bj::serialize(analysis_value(a)); }
std::string to_json(const Idea& i) { return bj::serialize(idea_value(i)); }
std::string to_json(const Review& r) { return bj::serialize(review_value(r)); }
std::string to_json(const Planner::Result& r) {
  bj::array related, queries, ideas, reviews;
  for (auto& p : r.related) related.push_back(detail::paper_to_value(p));
  for (auto& q : r.queries) queries.push_back(query_value(q));
  for (auto& i : r.ideas) ideas.push_back(idea_value(i));
  for (auto& v : r.reviews) reviews.push_back(review_value(v));
  return bj::serialize(bj::object{{"analysis", analysis_value(r.analysis)}, {"related", std::move(related)},
                                  {"queries", std::move(queries)}, {"ideas", std::move(ideas)}, {"reviews", std::move(reviews)}});
}

Analysis analysis_from_json(std::string_view json, const std::string& origin) {
  simdjson::dom::parser parser;
  return analysis_from(Reader{detail::fields::parse_object(parser, json, origin), origin});
}
Idea idea_from_json(std::string_view json, const std::string& origin) {
  simdjson::dom::parser parser;
  return idea_from(Reader{detail::fields::parse_object(parser, json, origin), origin});
}
Review review_from_json(std::string_view json, const std::string& origin) {
  simdjson::dom::parser parser;
  return review_from(Reader{detail::fields::parse_object(parser, json, origin), origin});
}
Planner::Result planner_result_from_json(std::string_view json, const std::string& origin) {
  simdjson::dom::parser parser;
  Reader r{detail::fields::parse_object(parser, json, origin), origin};
  Planner::Result res;
  res.analysis = analysis_from(r.sub("analysis"));
  res.related = array_from<Paper>(r, "related", [](El e, const std::string& w) { return detail::paper_from_element(e, w); });
  res.queries = array_from<RelatedQuery>(r, "queries", [](El e, const std::string& w) {
    Reader q{e, w};
    RelatedQuery rq;
    q.str("query", rq.query);
    q.strs("ids", rq.ids);
    q.str("error", rq.error);
    return rq;
  });
  res.ideas = array_from<Idea>(r, "ideas", [](El e, const std::string& w) { return idea_from(Reader{e, w}); });
  res.reviews = array_from<Review>(r, "reviews", [](El e, const std::string& w) { return review_from(Reader{e, w}); });
  return res;
}

Paper paper_from_hit(const Hit& h) {
  auto f = [&](const char* key) {
    auto it = h.fields.find(key);
    return it == h.fields.end() ? std::string() : it->second;
  };
  Paper p;
  p.id = h.id;
  p.title = h.title;
  p.abstract = f("abstract").empty() ? h.snippet : f("abstract");
  p.venue = f("venue");
  p.year = std::atoi(f("year").c_str());
  p.source = f("source");
  std::string authors = f("authors");
  for (std::size_t pos = 0; !authors.empty() && pos != std::string::npos;) {
    auto comma = authors.find(", ", pos);
    p.authors.push_back(authors.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    pos = comma == std::string::npos ? comma : comma + 2;
  }
  return p;
}

RelatedSearch related_search(std::shared_ptr<Retriever> retriever) {
  if (!retriever) return {};
  auto corpora = retriever->corpora();
  if (std::find(corpora.begin(), corpora.end(), Corpus::papers) == corpora.end()) return {};
  return [retriever](std::string query, std::size_t k) -> boost::asio::awaitable<std::vector<Paper>> {
    Query q;
    q.text = std::move(query);
    q.top_k = k;
    std::vector<Paper> out;
    for (auto& h : co_await retriever->search(q)) out.push_back(paper_from_hit(h));
    co_return out;
  };
}

}  // namespace v1
}  // namespace mlrc
