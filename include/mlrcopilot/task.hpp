#pragma once
/** @file task.hpp
 *  Research tasks: what to improve, where, how to run an experiment and how to score it.
 *
 *  Two folder formats load into the same `Task`:
 *  - the MLAgentBench / MLR-Copilot benchmark folder: `env/` (the workspace),
 *    `scripts/research_problem.txt`, `scripts/read_only_files.txt`, `scripts/prepare.py` (run once),
 *    `scripts/eval.py` defining `get_score(submission_folder)`. That format has no metric
 *    direction: it comes from `scripts/metric.json` ({"metric": …, "direction": "higher"|"lower"})
 *    or from `TaskLoadOptions::direction`, never from a guess;
 *  - the native `task.toml` manifest (see docs/tasks.md).
 *
 *  `TaskHarness` prepares a task once, measures the baseline on an untouched copy of the workspace,
 *  and evaluates workspaces with the task's own evaluator under the sandbox. Numbers come only from
 *  the evaluator; each carries the commands (and, given a Workspace, the snapshot) that produced it. */

#include <mlrcopilot/executor.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mlrc {
inline namespace v1 {

class Workspace;

/** Whether a bigger metric is better. Declared by the task. */
enum class Direction { higher, lower };
const char* direction_name(Direction d) noexcept;
/** Parses "higher"/"lower" (also "max"/"min"); Error(errc::parse) otherwise. */
Direction parse_direction(std::string_view s);

/** When an experiment counts as a success. */
struct SuccessRule {
  /** Relative improvement over the baseline required (0.10 = 10%, as in the paper). */
  double min_relative_improvement = 0.10;
};

/** Options for loading a task. */
struct TaskLoadOptions {
  std::optional<Direction> direction;  ///< overrides/supplies the direction (MLAgentBench format)
  std::string metric;                  ///< overrides/supplies the metric name
  std::string interpreter;             ///< overrides the task's interpreter
};

/** A research task. Paths are absolute. */
struct Task {
  std::string name;
  std::string format;  ///< "native" or "mlagentbench"
  std::filesystem::path folder;
  std::string problem;
  std::filesystem::path workspace;      ///< the starting workspace (never modified by runs)
  std::vector<std::string> read_only;   ///< globs relative to the workspace
  std::string interpreter = "/usr/bin/python3";
  std::vector<std::string> prepare;     ///< run once before anything else (cwd: the task folder); may be empty
  bool prepare_network = false;
  std::vector<std::string> run;         ///< the experiment (cwd: the workspace)
  std::chrono::seconds run_timeout{600};
  std::vector<std::string> eval;        ///< the evaluator (cwd: the task folder); prints the score last
  std::chrono::seconds eval_timeout{120};
  std::string metric;
  Direction direction = Direction::higher;
  std::optional<double> expected_baseline;  ///< what the author measured (informational)
  SuccessRule success;
  Limits limits;  ///< for experiment runs (wall defaults to run_timeout)

  /** Loads a task folder (format detected). Throws Error(errc::parse / errc::not_found) naming the
   *  file and field that is wrong. */
  static Task load(const std::filesystem::path& folder, const TaskLoadOptions& opts = {});
  /** Expands {python}, {task} and {workspace} in `argv`. */
  std::vector<std::string> expand(const std::vector<std::string>& argv, const std::filesystem::path& workspace) const;
  /** (score - baseline) / |baseline|, sign-adjusted so that positive means better. */
  double relative_improvement(double baseline, double score) const;
  /** True if `score` beats `baseline` by the success rule. */
  bool succeeded(double baseline, double score) const;
  /** JSON summary (for `mlrc task check`). */
  std::string to_json() const;
};

/** One evaluated attempt. */
struct Evaluation {
  std::optional<double> score;  ///< set when the evaluator produced a number
  std::string error;            ///< why there is no score (run failed, evaluator crashed, no number)
  std::optional<JobResult> run; ///< the experiment, when it was run
  JobResult eval;               ///< the evaluator
  std::vector<std::string> run_command, eval_command;
  std::filesystem::path workspace;
  std::string snapshot;         ///< snapshot id of the workspace that was scored, when known
  bool ok() const noexcept { return score.has_value(); }
  std::string to_json() const;
};

/** Runs a task's steps under an `Executor`. Thread-safety: one operation at a time. */
class TaskHarness {
 public:
  /** `state_dir` remembers what was prepared and the baseline (created if missing). */
  TaskHarness(Task task, Executor& executor, std::filesystem::path state_dir);
  const Task& task() const noexcept { return task_; }
  Executor& executor() const noexcept { return exec_; }
  const std::filesystem::path& state_dir() const noexcept { return state_; }

  /** Runs the task's prepare step once; later calls (even from other processes) see the stamp
   *  `.mlrc-prepared.json` in the task folder and return; concurrent callers wait on a lock there.
   *  A failing prepare throws Error(errc::io) with its output. */
  boost::asio::awaitable<void> prepare(bool force = false);
  /** Copies the starting workspace to `dest` (which must not exist). */
  void copy_workspace(const std::filesystem::path& dest) const;
  /** Scores `workspace` with the evaluator (no experiment run). */
  boost::asio::awaitable<Evaluation> evaluate(std::filesystem::path workspace);
  /** Runs the experiment in `workspace`, then scores it. With `ws` (whose root is `workspace`)
   *  a snapshot is taken after the run and recorded in the evaluation. */
  boost::asio::awaitable<Evaluation> run_and_evaluate(std::filesystem::path workspace, Workspace* ws = nullptr,
                                                      OutputObserver* observer = nullptr);
  /** The baseline: the untouched workspace, run and scored, stored in `state_dir/baseline.json`
   *  and reused unless `force`. Throws Error(errc::invalid_argument) if the baseline itself fails
   *  (a task whose baseline does not run cannot be improved on). */
  boost::asio::awaitable<Evaluation> baseline(bool force = false);
  /** The stored baseline score, if measured. */
  std::optional<double> stored_baseline() const;

 private:
  Task task_;
  Executor& exec_;
  std::filesystem::path state_;
};

/** Where mlrcopilot keeps its state: $MLRC_HOME, else $HOME/.mlrc. */
std::filesystem::path default_home();

}  // namespace v1
}  // namespace mlrc
