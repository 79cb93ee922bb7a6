#pragma once
/** @file feedback.hpp
 *  Human feedback at the points the user picks (MLR-Copilot's human-in-the-loop):
 *  - `after_ideas`: choose (and add instructions to) the idea to implement;
 *  - `before_execution`: approve each script run;
 *  - `after_step`: free-text feedback that goes into the next prompt;
 *  - `on_help`: answer the agent's `request_help` tool.
 *  A gate that gets no answer within `GateOptions::timeout` follows its default (top idea,
 *  `default_approve`, no feedback, "no help available"). */

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mlrc {
inline namespace v1 {

struct Idea;
struct AgentStep;

enum Gate : unsigned { gate_none = 0, gate_after_ideas = 1, gate_before_execution = 2, gate_after_step = 4, gate_on_help = 8 };
/** Parses "ideas,exec,step,help" (or "none", "all"); Error(errc::invalid_argument) for an unknown name. */
unsigned parse_gates(std::string_view list);

struct GateOptions {
  unsigned gates = gate_none;
  std::chrono::seconds timeout{600};
  bool default_approve = true;  ///< what an unanswered before_execution gate does
};

/** Answers gates. Calls come from library threads, one at a time; each may block up to the gate
 *  timeout (after which its answer is ignored). Return nullopt / "" to take the default. */
class FeedbackHandler {
 public:
  virtual ~FeedbackHandler() = default;
  /** Index into `ideas` (best first); may append to `extra_instructions`. */
  virtual std::optional<std::size_t> choose_idea(const std::vector<Idea>& ideas, std::string& extra_instructions) {
    (void)ideas, (void)extra_instructions;
    return std::nullopt;
  }
  virtual std::optional<bool> approve_execution(const std::string& command) {
    (void)command;
    return std::nullopt;
  }
  virtual std::string after_step(const AgentStep& step) {
    (void)step;
    return {};
  }
  virtual std::optional<std::string> help(const std::string& question) {
    (void)question;
    return std::nullopt;
  }
};

/** Asks on the terminal: prompts on stderr, reads a line from stdin (with the gate timeout). */
class ConsoleFeedback final : public FeedbackHandler {
 public:
  explicit ConsoleFeedback(std::chrono::seconds timeout) : timeout_(timeout) {}
  std::optional<std::size_t> choose_idea(const std::vector<Idea>& ideas, std::string& extra) override;
  std::optional<bool> approve_execution(const std::string& command) override;
  std::string after_step(const AgentStep& step) override;
  std::optional<std::string> help(const std::string& question) override;

 private:
  std::optional<std::string> read_line(const std::string& prompt);
  std::chrono::seconds timeout_;
};

/** Runs `fn` on a helper thread and waits at most `timeout`; nullopt if it did not answer in time
 *  or threw. (The thread is detached if it overruns; its late answer is dropped.) */
template <class T>
std::optional<T> answer_within(std::chrono::seconds timeout, std::function<std::optional<T>()> fn);

/** The same for coroutines: `fn` runs on a helper thread while the awaiting coroutine waits on a
 *  timer, so a gate waiting for a human never blocks a runtime thread (other runs on the runtime
 *  go on). Cancelling the awaiting operation ends the wait with Error(errc::cancelled). */
template <class T>
boost::asio::awaitable<std::optional<T>> answer_within_async(std::chrono::seconds timeout, std::function<std::optional<T>()> fn);

}  // namespace v1
}  // namespace mlrc
