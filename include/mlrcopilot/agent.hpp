#pragma once
/** @file agent.hpp
 *  The ExperimentAgent (phases 2 and 3): a step loop in which an LLM edits code in a task
 *  `Workspace` through tools, runs experiments in the sandbox, reads the results and iterates.
 *
 *  One LLM call per step is the norm. The context is built for cost: a stable prefix (instructions,
 *  task, tools) marked for provider prompt caching, a rolling window of recent steps, older steps
 *  folded into the research log, and long observations cut to head and tail.
 *
 *  Success is decided by the harness — the task's evaluator on the final workspace against the
 *  baseline and the task's rule — never by what the model claims. Failures caused by the model
 *  (unknown tool, bad arguments, unparsable reply) are recorded in the step and the loop goes on;
 *  failures of the library are raised. */

#include <mlrcopilot/feedback.hpp>
#include <mlrcopilot/model.hpp>
#include <mlrcopilot/task.hpp>
#include <mlrcopilot/workspace.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlrc {
inline namespace v1 {

class Agent;

/** What a tool sees when it runs. Valid during the call only. */
struct ToolContext {
  Agent& agent;
  Workspace& workspace;
  TaskHarness& harness;
  int step;
};

/** A tool result: the observation shown to the model, and whether the tool failed. */
struct ToolOutput {
  std::string observation;
  bool error = false;
};

/** A tool the agent may call. Built-in tools cover files, edits, execution, the research log and
 *  the final answer; hosts and plugins add their own (`Agent::add_tool`). A tool reports a bad
 *  argument with `ToolOutput{…, error = true}` (the model sees it and can correct itself); it
 *  throws only for library failures. */
class Tool {
 public:
  virtual ~Tool() = default;
  virtual ToolSpec spec() const = 0;
  virtual boost::asio::awaitable<ToolOutput> call(const std::string& arguments_json, ToolContext& ctx) = 0;
};

/** How the model is asked to act. */
enum class AgentProtocol {
  tools,  ///< native tool calling (OpenAI tools / Anthropic tool_use)
  text,   ///< the MLAgentBench text format: Reflection / Research Plan and Status / Fact Check /
          ///< Thought / Action / Action Input — for models without tool calling
};

struct AgentOptions {
  int max_steps = 30;
  std::chrono::seconds max_wall{3600};
  AgentProtocol protocol = AgentProtocol::tools;
  std::size_t window = 6;              ///< recent steps kept verbatim in the context
  std::size_t observation_head = 1500; ///< bytes of a long observation kept from its start
  std::size_t observation_tail = 2500; ///< … and from its end
  std::optional<std::int64_t> max_tokens;  ///< per reply
  /** Free-text human feedback after each step (MLR-Copilot's loop); empty = none. Called with the
   *  step just done; what it returns goes into the next prompt. */
  std::function<std::string(const struct AgentStep&)> feedback;
};

/** One step of the loop. */
struct AgentStep {
  int index = 0;
  int turn = 0;               ///< which LLM reply this step came from (several tool calls share one)
  std::string call_id;        ///< the provider's tool call id ("" in the text protocol)
  std::string thought;        ///< the model's text (or the text protocol's Thought / plan)
  std::string tool;           ///< tool called ("" if the reply had none)
  std::string arguments;      ///< JSON arguments as the model gave them
  std::string observation;    ///< what the tool returned
  std::string shown;          ///< what the model was shown (cut to head and tail, plus human feedback)
  bool tool_error = false;    ///< unknown tool, bad arguments, format error, tool failure
  std::string snapshot;       ///< workspace snapshot after the step
  std::optional<double> score;  ///< set when the step ran the experiment and it was scored
  Usage usage;                ///< tokens of this step's LLM call(s)
  int llm_calls = 0;
  std::chrono::milliseconds took{0};
};

/** How the loop ended and what the harness measured. */
struct AgentResult {
  enum class Stop { final_answer, max_steps, wall_time, budget, cancelled, error };
  Stop stop = Stop::max_steps;
  std::string final_answer;    ///< the model's summary, if it gave one (not evidence of anything)
  std::string error;           ///< why it stopped, for budget/error
  std::vector<AgentStep> steps;
  std::optional<double> baseline;
  std::optional<double> final_score;  ///< the evaluator on the final workspace
  std::optional<double> best_score;   ///< best scored attempt
  std::string final_snapshot, best_snapshot;
  bool success = false;               ///< final_score beats the baseline by the task's rule
  Usage usage;
  int llm_calls = 0;
  std::string to_json() const;
};
/** JSON of one step, and back (for the run store). */
std::string to_json(const AgentStep& s);
AgentStep agent_step_from_json(std::string_view json);
const char* stop_name(AgentResult::Stop s) noexcept;

/** The agent. Thread-safety: one `run` at a time. `model`, `workspace` and `harness` must
 *  outlive the agent. */
class Agent {
 public:
  Agent(ModelPtr model, Workspace& workspace, TaskHarness& harness, AgentOptions opts = {});
  ~Agent();
  /** Adds (or replaces, by name) a tool. */
  void add_tool(std::shared_ptr<Tool> tool);
  std::vector<ToolSpec> tools() const;
  /** Human feedback at the gates in `gates` (before_execution, after_step, on_help). */
  void set_feedback(std::shared_ptr<FeedbackHandler> handler, GateOptions gates);
  /** For tools: the before_execution gate (true = run it) and the on_help gate. */
  /** Asks the before_execution gate (true without one); waits without blocking a thread. */
  boost::asio::awaitable<bool> approve_execution(std::string command);
  /** Asks the on_help gate; the text shown to the model. */
  boost::asio::awaitable<std::string> request_help(std::string question);
  /** Receives the output of scripts the agent runs as it arrives (1 = stdout, 2 = stderr). */
  void on_output(std::function<void(int stream, std::string_view chunk)> cb);
  /** For tools: an observer forwarding to `on_output` (nullptr when nobody listens). */
  OutputObserver* output_observer();
  /** Called after each step (progress display, events, persistence). */
  void on_step(std::function<void(const AgentStep&)> cb);

  /** Runs the loop for `instructions` (the chosen idea and plan). Measures the baseline first
   *  (stored or fresh). To resume, pass the steps already done (their workspace state must be
   *  restored by the caller): the conversation is rebuilt from them and the loop continues. */
  boost::asio::awaitable<AgentResult> run(std::string instructions, std::vector<AgentStep> done = {});

  // For tools: the research log and a side LLM call (AI edit, understand file, reflection).
  void log_append(const std::string& entry);
  const std::vector<std::string>& research_log() const noexcept;
  boost::asio::awaitable<std::string> ask(std::string system, std::string prompt);
  /** Records a scored attempt (the experiment tool calls it). */
  void record_score(double score, const std::string& snapshot);
  std::optional<double> baseline() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {
/** The MLAgentBench text format, parsed (sans-io). */
struct TextAction {
  std::string reflection, plan, fact_check, thought;
  std::string action;        ///< tool name
  std::string action_input;  ///< JSON object text
};
/** Parses a reply in the text format. Throws Error(errc::parse) saying what is missing or wrong,
 *  in words the model can act on. Tolerates markdown fences, bold headers and a non-JSON
 *  input that is a lone string (then {"value": …}). */
TextAction parse_text_action(std::string_view reply);
/** Cuts `text` to head + tail with a marker saying how much was left out. */
std::string cut_middle(const std::string& text, std::size_t head, std::size_t tail);
}  // namespace detail

}  // namespace v1
}  // namespace mlrc
