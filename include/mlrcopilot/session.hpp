#pragma once
/** @file session.hpp
 *  `Session`: runs the three phases — ideas from a paper (`Planner`), then implementation and
 *  execution on a task (`Agent`) — and persists everything in a run store (SQLite, WAL) inside the
 *  run's folder: the configuration, every LLM call (request hash, response, usage), every step,
 *  tool call, observation and snapshot id, the ideas and reviews, metrics and events.
 *
 *  A process killed at any point (kill -9) continues with `Session::open(...).run()` from the last
 *  committed step: the workspace is restored to that step's snapshot, recorded LLM replies are
 *  replayed instead of asked again, and no step is lost or done twice.
 *
 *  Each run has a folder `$MLRC_HOME/runs/<id>/` holding `run.db`, `workspace/`, `snapshots/`,
 *  `result.json`, `report.md`, `report.html` and `chart.svg`. */

#include <mlrcopilot/agent.hpp>
#include <mlrcopilot/executor.hpp>
#include <mlrcopilot/feedback.hpp>
#include <mlrcopilot/retriever.hpp>
#include <mlrcopilot/runtime.hpp>

#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** What a run does. JSON-serialisable (stored in the run). */
struct SessionConfig {
  std::filesystem::path paper;   ///< input paper (JSON, Markdown, text, PDF); empty: skip phase 1
  std::string instructions;      ///< what to implement when there is no paper (added to the idea's otherwise)
  /** An idea to implement (the JSON of an `Idea`, e.g. one of `Planner::run`'s): phase 1 is
   *  skipped and phases 2-3 start from it. Takes precedence over `paper`. */
  std::string idea;
  std::filesystem::path task;    ///< the task folder (required)
  std::string model;             ///< model spec ("openai:gpt-4o", "scripted:FILE", …)
  std::filesystem::path home;    ///< runs live in home/runs; empty: default_home()
  int max_steps = 30;
  int ideas = 3;
  int refine_rounds = 1;
  std::int64_t budget_tokens = 0;  ///< 0 = unlimited
  double budget_usd = 0;           ///< 0 = unlimited
  AgentProtocol protocol = AgentProtocol::tools;
  /** A local index (see retriever.hpp): a folder with papers/ code/ models/ datasets/ indexes or
   *  one index. Phase 1 retrieves related work from its papers; the agent gets retrieve_* tools
   *  for the corpora it holds. Empty: no retrieval. */
  std::filesystem::path index;
  /** Online sources tried in order with fallback (online.hpp), e.g. "s2,openalex,arxiv,local":
   *  related work for phase 1 and the agent's retrieve_* tools; "local" is `index`. Empty: only
   *  `index`. A failing source is reported as a warning event and the next one is asked. */
  std::string sources;
  unsigned gates = 0;  ///< feedback gates (feedback.hpp), answered by the handler given to the session
  std::chrono::seconds gate_timeout{600};
  std::string to_json() const;
  static SessionConfig from_json(std::string_view json);
};

/** A typed event: kind is one of phase_started, analysis, related, idea_proposed, review, refined,
 *  repair, ideas_ranked, gate_waiting, step, tool_output, metric, cost, warning, finished; json
 *  carries the details. gate_waiting is {"gate": after_ideas|before_execution|after_step|on_help,
 *  "answer_as": choose_idea|approve_execution|after_step|help, "question": …} (the question is what
 *  a gate handler of the C ABI receives). */
struct Event {
  std::string kind;
  std::string json;
};

/** The outcome, as written to result.json. */
struct RunSummary {
  std::string run_id;
  std::string status;  ///< created, running, finished, budget_exceeded, cancelled, failed
  bool success = false;
  std::optional<double> baseline, best, final_score;
  std::string metric, direction;
  std::filesystem::path folder;
  std::string error;
  std::string to_json() const;
};

class Session {
 public:
  /** Makes a new run folder for `cfg` (validated: the task must load). */
  static Session create(Runtime& rt, SessionConfig cfg);
  /** Opens an existing run (to resume it or report on it). Error(errc::not_found) if missing. */
  static Session open(Runtime& rt, const std::filesystem::path& home, const std::string& run_id);
  /** All runs under `home`, newest first. */
  static std::vector<RunSummary> list(const std::filesystem::path& home);

  Session(Session&&) noexcept;
  ~Session();

  const std::string& id() const noexcept;
  const std::filesystem::path& folder() const noexcept;
  const SessionConfig& config() const noexcept;
  /** Uses `model` instead of building one from the config's spec (plugins, tests). */
  void set_model(ModelPtr model);
  /** Answers the configured feedback gates (without one, every gate takes its default). */
  void set_feedback(std::shared_ptr<FeedbackHandler> handler);
  /** Receives events as they happen (also stored in the run). */
  void on_event(std::function<void(const Event&)> cb);
  /** Gives the agent one more tool (plugins). Tools are not stored in the run: give them again
   *  before resuming. A tool named like a built-in one replaces it. */
  void add_tool(std::shared_ptr<Tool> tool);
  /** Uses `retriever` for related work and the agent's retrieve_* tools, instead of (or, with
   *  a config `index`, in place of) the local index. */
  void set_retriever(std::shared_ptr<Retriever> retriever);
  /** Runs the task's scripts with `executor` instead of the sandboxed `LocalExecutor`. */
  void set_executor(std::shared_ptr<Executor> executor);

  /** Runs — or resumes — to the end, writes result.json and the reports, and returns the outcome. */
  boost::asio::awaitable<RunSummary> run();
  /** Rewrites report.md, report.html, chart.svg and result.json from the run store. */
  void write_report();
  /** The current summary from the run store. */
  RunSummary summary() const;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace v1
}  // namespace mlrc
