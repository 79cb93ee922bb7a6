#pragma once
/** @file planner.hpp
 *  `Planner`: phase 1 of MLR-Copilot (the IdeaAgent). From a paper it extracts research tasks,
 *  gaps and keywords; retrieves related work; proposes hypotheses with experiment plans; has the
 *  model review them on the paper's criteria (with a novelty check against the retrieved work);
 *  refines them from the reviews; and ranks them by mean review score.
 *
 *  Every model step asks for structured output (a JSON schema) and also validates the reply itself:
 *  a reply that is not JSON or breaks the schema is sent back with the validation error for
 *  repair, at most `PlannerOptions::max_repairs` times. Model mistakes that can be corrected
 *  locally (a citation of a paper that was not retrieved) are corrected and recorded, not fatal. */

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/model.hpp>
#include <mlrcopilot/paper.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** What the planner read from the input paper. */
struct Analysis {
  std::vector<std::string> tasks;     ///< research tasks the paper addresses ("sentiment classification of reviews")
  std::vector<std::string> gaps;      ///< limitations and open problems
  std::vector<std::string> keywords;  ///< keyword groups, each one a search query ("label noise text classification")
  std::string summary;                ///< a few sentences on what the paper does
  friend bool operator==(const Analysis&, const Analysis&) = default;
};

/** How a hypothesis would be tested. */
struct ExperimentPlan {
  std::vector<std::string> datasets, models, baselines, metrics;
  std::vector<std::string> steps;  ///< ordered, concrete steps
  std::vector<std::string> risks;  ///< what could go wrong and how it would show
  std::string expected_outcome;
  friend bool operator==(const ExperimentPlan&, const ExperimentPlan&) = default;
};

/** A research idea: a hypothesis and its experiment plan. */
struct Idea {
  std::string id;  ///< "idea-1", …; kept by refinement (a refined idea has the same id and a higher round)
  std::string title, hypothesis;
  ExperimentPlan plan;
  std::vector<std::string> cites;          ///< ids of retrieved papers that informed it
  std::vector<std::string> dropped_cites;  ///< ids the model cited that were not among the retrieved papers (removed from cites)
  int round = 0;                           ///< 0 = as proposed, n = after n refinements
  double score = 0;                        ///< mean score of its latest review, for ranking
  friend bool operator==(const Idea&, const Idea&) = default;
};

/** An LLM-as-judge review of one idea on the MLR-Copilot criteria; scores are 1 (poor) to 5 (excellent). */
struct Review {
  std::string idea_id;
  std::map<std::string, int> hypothesis_scores;  ///< clarity, validity, rigor, innovativeness, generalizability
  std::map<std::string, int> plan_scores;        ///< clarity, validity, robustness, feasibility, reproducibility
  std::map<std::string, std::string> rationales; ///< "hypothesis", "plan": the reasons behind the scores
  int novelty = 0;                ///< 1–5, judged against the retrieved work
  std::string closest_paper;      ///< id of the most similar retrieved paper, "" if none is close
  std::string novelty_rationale;
  /** Mean of all hypothesis and plan scores and the novelty score (0 when there are none). */
  double mean() const;
  friend bool operator==(const Review&, const Review&) = default;
};

/** The hypothesis criteria, in the order MLR-Copilot lists them: clarity, validity, rigor,
 *  innovativeness, generalizability (the keys of `Review::hypothesis_scores`). */
const std::vector<std::string>& hypothesis_criteria();
/** The experiment-plan criteria: clarity, validity, robustness, feasibility, reproducibility (the
 *  keys of `Review::plan_scores`). */
const std::vector<std::string>& plan_criteria();

/** Finds related papers for a query: the caller adapts its retriever (e.g. `LocalRetriever` over
 *  the papers corpus). Should throw Error(errc::invalid_argument) for a query it cannot search (the
 *  planner then skips that query); any other error ends the planner step. */
using RelatedSearch = std::function<boost::asio::awaitable<std::vector<Paper>>(std::string query, std::size_t k)>;

class Retriever;
struct Hit;
/** A search hit of the papers corpus as a Paper (title, abstract or else the snippet, authors,
 *  year, venue, source). */
Paper paper_from_hit(const Hit& hit);
/** The planner's related-work search over `retriever`'s papers corpus; empty (no retrieval) when
 *  `retriever` is null or holds no papers. */
RelatedSearch related_search(std::shared_ptr<Retriever> retriever);

/** Progress reports: `kind` is "analysis", "related", "idea", "review", "refined" or "repair"; `json`
 *  is the matching record (`to_json` of Analysis, Idea, Review; for "related"
 *  {"queries":[{query,ids,error}],"papers":[{id,title,year}]}; for "repair" {step,attempt,error}).
 *  Called on the thread running the planner, synchronously; an exception thrown from it ends the
 *  step with that exception. */
using PlannerObserver = std::function<void(std::string_view kind, std::string_view json)>;

/** Planner settings. */
struct PlannerOptions {
  std::size_t ideas = 3;              ///< ideas to propose
  std::size_t related_per_query = 5;  ///< papers asked from the search for each query
  int refine_rounds = 1;              ///< refine → review rounds in `run`
  int max_repairs = 2;                ///< re-asks after a reply that is not valid JSON for the step's schema
  std::size_t max_related = 12;       ///< related papers kept (in query order) and shown to the model
  PlannerObserver on_event;           ///< optional progress reports
};

/** Which papers a related-work query found. */
struct RelatedQuery {
  std::string query;
  std::vector<std::string> ids;  ///< every paper it returned, also those an earlier query had found
  std::string error;             ///< why the query was skipped ("" when it ran)
  friend bool operator==(const RelatedQuery&, const RelatedQuery&) = default;
};

/** The IdeaAgent. Holds its model and search; the data flows through the arguments.
 *
 *  Thread-safety: the planner has no mutable state, so its operations may run concurrently if the
 *  model and search allow it. Each operation awaits the model sequentially (deterministic order
 *  for scripted models and events). Arguments are taken by reference and must outlive the awaited
 *  operation. Cancellation: whatever the model's `chat` and the search honour.
 *  Errors: Error(errc::invalid_argument) for an empty paper; Error(errc::protocol) when a model
 *  reply still fails its schema after `max_repairs` repairs; model and search errors pass through. */
class Planner {
 public:
  /** @param model the LLM (required). @param search finds related papers; empty = no retrieval. */
  explicit Planner(ModelPtr model, RelatedSearch search = {}, PlannerOptions options = {});

  /** Extracts tasks, gaps, keyword groups and a summary from `paper`. */
  boost::asio::awaitable<Analysis> analyze(const Paper& paper) const;
  /** Runs one search per keyword group and per task (duplicate queries once), drops the input
   *  paper itself and duplicates (by id), and keeps at most `max_related` papers. When `queries` is
   *  given it receives which query found which papers. */
  boost::asio::awaitable<std::vector<Paper>> related(const Paper& paper, const Analysis& analysis,
                                                     std::vector<RelatedQuery>* queries = nullptr) const;
  /** Proposes up to `ideas` ideas grounded in the paper and the related work. */
  boost::asio::awaitable<std::vector<Idea>> propose(const Paper& paper, const Analysis& analysis,
                                                    const std::vector<Paper>& related) const;
  /** Reviews each idea (one model call each); the result is in the order of `ideas`. */
  boost::asio::awaitable<std::vector<Review>> review(const std::vector<Idea>& ideas, const std::vector<Paper>& related) const;
  /** Revises each idea from its review (matched by id; an idea without a review is returned as is).
   *  Refined ideas keep their id and have `round` + 1. */
  boost::asio::awaitable<std::vector<Idea>> refine(const std::vector<Idea>& ideas, const std::vector<Review>& reviews,
                                                   const std::vector<Paper>& related) const;

  /** Everything `run` produced. */
  struct Result {
    Analysis analysis;
    std::vector<Paper> related;
    std::vector<RelatedQuery> queries;
    std::vector<Idea> ideas;      ///< best first (by `Idea::score`)
    std::vector<Review> reviews;  ///< the latest review of each idea, in the order of `ideas`
  };
  /** analyze → related → propose → review → (refine → review) × `refine_rounds` → rank. A refined
   *  version replaces an idea only if its review is not worse (the judge decides, not the reviser). */
  boost::asio::awaitable<Result> run(const Paper& paper) const;

  /** The options the planner was made with. */
  const PlannerOptions& options() const noexcept { return options_; }

 private:
  ModelPtr model_;
  RelatedSearch search_;
  PlannerOptions options_;
};

/** JSON of the planner's records (the run store and the C ABI speak it). The `*_from_json`
 *  functions throw Error(errc::parse) naming `origin` and the field that is wrong; absent fields
 *  keep their defaults. */
std::string to_json(const Analysis& a);
std::string to_json(const Idea& i);
std::string to_json(const Review& r);
std::string to_json(const Planner::Result& r);
Analysis analysis_from_json(std::string_view json, const std::string& origin = "analysis");
Idea idea_from_json(std::string_view json, const std::string& origin = "idea");
Review review_from_json(std::string_view json, const std::string& origin = "review");
Planner::Result planner_result_from_json(std::string_view json, const std::string& origin = "planner result");

}  // namespace v1
}  // namespace mlrc
