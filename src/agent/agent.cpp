// The ExperimentAgent loop. One LLM call per step; the context is a stable, cacheable prefix
// (system: role, task, rules, tools), the instructions with the research log folded in, and a
// window of recent steps verbatim.
#include <mlrcopilot/agent.hpp>

#include "agent/tools.hpp"

#include <boost/json.hpp>

#include <map>
#include <sstream>

namespace mlrc {
inline namespace v1 {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

const char* stop_name(AgentResult::Stop s) noexcept {
  switch (s) {
    case AgentResult::Stop::final_answer: return "final_answer";
    case AgentResult::Stop::max_steps: return "max_steps";
    case AgentResult::Stop::wall_time: return "wall_time";
    case AgentResult::Stop::budget: return "budget";
    case AgentResult::Stop::cancelled: return "cancelled";
    case AgentResult::Stop::error: return "error";
  }
  return "unknown";
}

std::string AgentResult::to_json() const {
  namespace json = boost::json;
  json::object o;
  o["stop"] = stop_name(stop);
  o["final_answer"] = final_answer;
  o["error"] = error;
  auto opt = [](const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); };
  o["baseline"] = opt(baseline);
  o["final_score"] = opt(final_score);
  o["best_score"] = opt(best_score);
  o["final_snapshot"] = final_snapshot;
  o["best_snapshot"] = best_snapshot;
  o["success"] = success;
  o["llm_calls"] = llm_calls;
  o["input_tokens"] = usage.input_tokens;
  o["output_tokens"] = usage.output_tokens;
  o["cached_input_tokens"] = usage.cached_input_tokens;
  json::array steps_json;
  for (auto& s : steps) steps_json.push_back(json::parse(mlrc::to_json(s)));
  o["steps"] = std::move(steps_json);
  return json::serialize(o);
}

std::string to_json(const AgentStep& s) {
  namespace json = boost::json;
  json::object j;
  j["index"] = s.index;
  j["turn"] = s.turn;
  j["call_id"] = s.call_id;
  j["thought"] = s.thought;
  j["tool"] = s.tool;
  j["arguments"] = s.arguments;
  j["observation"] = s.observation;
  j["shown"] = s.shown;
  j["tool_error"] = s.tool_error;
  j["snapshot"] = s.snapshot;
  j["score"] = s.score ? json::value(*s.score) : json::value(nullptr);
  j["input_tokens"] = s.usage.input_tokens;
  j["output_tokens"] = s.usage.output_tokens;
  j["cached_input_tokens"] = s.usage.cached_input_tokens;
  j["llm_calls"] = s.llm_calls;
  j["ms"] = s.took.count();
  return json::serialize(j);
}

AgentStep agent_step_from_json(std::string_view text) {
  namespace json = boost::json;
  json::value v;
  try {
    v = json::parse(text);
  } catch (const std::exception& e) {
    throw Error(errc::parse, std::string("agent step: not JSON: ") + e.what());
  }
  auto& o = v.as_object();
  auto str = [&](const char* k) { return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).as_string()) : std::string(); };
  auto num = [&](const char* k) { return o.contains(k) && o.at(k).is_int64() ? o.at(k).as_int64() : std::int64_t{0}; };
  AgentStep s;
  s.index = static_cast<int>(num("index"));
  s.turn = static_cast<int>(num("turn"));
  s.call_id = str("call_id");
  s.thought = str("thought");
  s.tool = str("tool");
  s.arguments = str("arguments");
  s.observation = str("observation");
  s.shown = str("shown");
  s.tool_error = o.contains("tool_error") && o.at("tool_error").is_bool() && o.at("tool_error").as_bool();
  s.snapshot = str("snapshot");
  if (o.contains("score") && o.at("score").is_number()) s.score = o.at("score").to_number<double>();
  s.usage.input_tokens = num("input_tokens");
  s.usage.output_tokens = num("output_tokens");
  s.usage.cached_input_tokens = num("cached_input_tokens");
  s.llm_calls = static_cast<int>(num("llm_calls"));
  s.took = std::chrono::milliseconds(num("ms"));
  return s;
}

struct Agent::Impl {
  Impl(ModelPtr m, Workspace& w, TaskHarness& h, AgentOptions o) : model(std::move(m)), ws(w), harness(h), opts(std::move(o)) {}
  ModelPtr model;
  Workspace& ws;
  TaskHarness& harness;
  AgentOptions opts;
  std::vector<std::shared_ptr<Tool>> tools;
  std::function<void(const AgentStep&)> step_cb;
  std::shared_ptr<FeedbackHandler> feedback;
  GateOptions gates;
  struct Forward final : OutputObserver {
    std::function<void(int, std::string_view)> cb;
    void on_output(int stream, std::string_view chunk) override { cb(stream, chunk); }
  } forward;
  std::vector<std::string> log;
  std::optional<double> baseline;
  std::optional<double> best;
  std::string best_snapshot;
  std::optional<double> last_score;  // of the latest scored attempt
  std::string last_scored_snapshot;
  Usage side_usage;
  int side_calls = 0;

  // One exchange of the conversation: what the model said and what it was told back.
  struct Exchange {
    Message assistant;
    std::vector<Message> results;  // tool results (tools protocol) or one user observation (text)
    std::string summary;           // one line for the research log fold
  };
  std::vector<Exchange> history;

  std::shared_ptr<Tool> find(const std::string& name) const {
    for (auto& t : tools)
      if (t->spec().name == name) return t;
    return nullptr;
  }

  std::string tool_list_text() const {
    std::string s;
    for (auto& t : tools) {
      auto sp = t->spec();
      s += "- " + sp.name + ": " + sp.description + " Input: " + sp.parameters_schema + "\n";
    }
    return s;
  }

  std::string system_prompt() const {
    const Task& t = harness.task();
    std::string s =
        "You are an ML research engineer (the ExperimentAgent of MLR-Copilot). You improve an experiment in a "
        "workspace by editing its code with tools and running it in a sandbox without network.\n\n"
        "Task: " + t.name + "\n" + t.problem + "\n\n"
        "The metric is " + t.metric + " (" + direction_name(t.direction) + " is better), computed only by the task's "
        "evaluator after the experiment runs; success means at least " +
        std::to_string(static_cast<int>(t.success.min_relative_improvement * 100 + 0.5)) +
        "% relative improvement over the baseline. Claims do not count: only measured results do.\n"
        "Work in small steps: inspect, edit, run (execute_script), read the result, fix errors. "
        "Keep notes with research_log_append. When done, call final_answer with a short summary.\n";
    if (!t.read_only.empty()) {
      s += "Read-only files (do not try to change them):";
      for (auto& r : t.read_only) s += " " + r;
      s += "\n";
    }
    if (opts.protocol == AgentProtocol::text) {
      s += "\nTools:\n" + tool_list_text() +
           "\nAnswer in exactly this format:\nReflection: what the last observation means\nResearch Plan and Status: the plan, "
           "with what is done\nFact Check: which statements are confirmed by observations\nThought: what to do now\n"
           "Action: one tool name\nAction Input: a JSON object with the tool's arguments\n";
    }
    return s;
  }

  ChatRequest build_request(const std::string& instructions) const {
    ChatRequest req;
    Message sys = Message::system(system_prompt());
    sys.cache_breakpoint = true;  // the stable prefix: identical on every step
    req.messages.push_back(std::move(sys));
    std::string first = "Instructions (the idea and plan to implement):\n" + instructions;
    if (baseline) {
      std::ostringstream b;
      b << "\n\nMeasured baseline: " << harness.task().metric << " = " << *baseline << ".";
      first += b.str();
    }
    std::size_t keep_from = history.size() > opts.window ? history.size() - opts.window : 0;
    if (keep_from > 0 || !log.empty()) {
      first += "\n\nResearch log (earlier steps, summarised):\n";
      for (std::size_t i = 0; i < keep_from; ++i) first += "- " + history[i].summary + "\n";
      for (auto& e : log) first += "- note: " + e + "\n";
    }
    req.messages.push_back(Message::user(first));
    for (std::size_t i = keep_from; i < history.size(); ++i) {
      req.messages.push_back(history[i].assistant);
      for (auto& m : history[i].results) req.messages.push_back(m);
    }
    if (opts.protocol == AgentProtocol::tools) {
      for (auto& t : tools) req.tools.push_back(t->spec());
      req.tool_choice = "auto";
    }
    req.max_tokens = opts.max_tokens;
    return req;
  }
};

Agent::Agent(ModelPtr model, Workspace& workspace, TaskHarness& harness, AgentOptions opts)
    : impl_(std::make_unique<Impl>(std::move(model), workspace, harness, std::move(opts))) {
  if (!impl_->model) throw Error(errc::invalid_argument, "Agent: model is null");
  impl_->tools = detail::builtin_tools();
}
Agent::~Agent() = default;

void Agent::add_tool(std::shared_ptr<Tool> tool) {
  if (!tool) throw Error(errc::invalid_argument, "Agent::add_tool: tool is null");
  auto name = tool->spec().name;
  for (auto& t : impl_->tools)
    if (t->spec().name == name) {
      t = std::move(tool);
      return;
    }
  impl_->tools.push_back(std::move(tool));
}

std::vector<ToolSpec> Agent::tools() const {
  std::vector<ToolSpec> out;
  for (auto& t : impl_->tools) out.push_back(t->spec());
  return out;
}

void Agent::on_step(std::function<void(const AgentStep&)> cb) { impl_->step_cb = std::move(cb); }

void Agent::on_output(std::function<void(int, std::string_view)> cb) { impl_->forward.cb = std::move(cb); }
OutputObserver* Agent::output_observer() { return impl_->forward.cb ? &impl_->forward : nullptr; }

void Agent::set_feedback(std::shared_ptr<FeedbackHandler> handler, GateOptions gates) {
  impl_->feedback = std::move(handler);
  impl_->gates = gates;
}

asio::awaitable<bool> Agent::approve_execution(std::string command) {
  auto& I = *impl_;
  if (!I.feedback || !(I.gates.gates & gate_before_execution)) co_return true;
  auto h = I.feedback;
  // A named std::function, not a temporary in the co_await expression (GCC 12 destroys those twice).
  std::function<std::optional<bool>()> ask = [h, command] { return h->approve_execution(command); };
  auto answer = co_await answer_within_async<bool>(I.gates.timeout, std::move(ask));
  co_return answer.value_or(I.gates.default_approve);
}

asio::awaitable<std::string> Agent::request_help(std::string question) {
  auto& I = *impl_;
  if (!I.feedback || !(I.gates.gates & gate_on_help)) co_return "No human is available for this run; continue on your own.";
  auto h = I.feedback;
  std::function<std::optional<std::string>()> ask = [h, question] { return h->help(question); };
  auto answer = co_await answer_within_async<std::string>(I.gates.timeout, std::move(ask));
  co_return answer ? "The human answered: " + *answer : "No answer came in time; continue on your own.";
}
void Agent::log_append(const std::string& entry) { impl_->log.push_back(entry); }
const std::vector<std::string>& Agent::research_log() const noexcept { return impl_->log; }
std::optional<double> Agent::baseline() const noexcept { return impl_->baseline; }

void Agent::record_score(double score, const std::string& snapshot) {
  auto& I = *impl_;
  I.last_score = score;
  I.last_scored_snapshot = snapshot;
  bool better = !I.best || (I.harness.task().direction == Direction::higher ? score > *I.best : score < *I.best);
  if (better) I.best = score, I.best_snapshot = snapshot;
}

asio::awaitable<std::string> Agent::ask(std::string system, std::string prompt) {
  ChatRequest req;
  req.messages = {Message::system(std::move(system)), Message::user(std::move(prompt))};
  req.max_tokens = impl_->opts.max_tokens;
  ChatResponse r = co_await impl_->model->chat(std::move(req));
  impl_->side_usage += r.usage;
  impl_->side_calls++;
  co_return r.text;
}

namespace {
// Model-caused failures: shown to the model, recorded, the loop goes on.
bool model_caused(const Error& e) {
  switch (e.code_enum()) {
    case errc::invalid_argument:
    case errc::not_found:
    case errc::parse:
    case errc::unsupported: return true;
    default: return false;
  }
}
std::string brief(const std::string& s, std::size_t n) {
  std::string one = s.substr(0, n);
  for (auto& c : one)
    if (c == '\n') c = ' ';
  return one + (s.size() > n ? "…" : "");
}
}  // namespace

asio::awaitable<AgentResult> Agent::run(std::string instructions, std::vector<AgentStep> done) {
  auto& I = *impl_;
  AgentResult res;
  const auto t0 = clock::now();
  I.history.clear();
  Evaluation base = co_await I.harness.baseline();
  I.baseline = base.score;
  res.baseline = base.score;
  if (done.empty()) I.ws.snapshot("start");

  // Resume: rebuild the conversation, the research log and the scores from the steps done.
  int first_turn = 1;
  for (std::size_t i = 0; i < done.size();) {
    Impl::Exchange ex;
    int turn = done[i].turn;
    ex.assistant = Message::assistant(done[i].thought);
    for (; i < done.size() && done[i].turn == turn; ++i) {
      const AgentStep& st = done[i];
      if (!st.call_id.empty()) {
        ex.assistant.tool_calls.push_back({st.call_id, st.tool, st.arguments});
        ex.results.push_back(Message::tool_result(st.call_id, st.tool, st.shown, st.tool_error));
      } else {
        if (I.opts.protocol == AgentProtocol::text) ex.assistant.content = st.thought;
        ex.results.push_back(Message::user("Observation:\n" + st.shown));
      }
      if (st.tool == "research_log_append" && !st.tool_error) {
        auto v = boost::json::parse(st.arguments);
        if (v.is_object() && v.as_object().contains("entry") && v.as_object().at("entry").is_string())
          I.log.push_back(std::string(v.as_object().at("entry").as_string()));
      }
      if (st.score) record_score(*st.score, st.snapshot);
      ex.summary += (ex.summary.empty() ? "" : "; ") + std::string("step ") + std::to_string(st.index) + ": " +
                    (st.tool.empty() ? "(no action)" : st.tool) + " " + brief(st.arguments, 80) + " → " +
                    (st.tool_error ? "ERROR " : "") + brief(st.observation, 160);
      res.usage += st.usage;
      res.llm_calls += st.llm_calls;
      res.steps.push_back(st);
      if (st.tool == "final_answer" && !st.tool_error) res.final_answer = st.observation;
    }
    I.history.push_back(std::move(ex));
    first_turn = turn + 1;
  }
  bool already_finished = !res.final_answer.empty();
  if (already_finished) res.stop = AgentResult::Stop::final_answer;
  // Cancellation is checked between steps: a cancelled tool (a killed script) reports back
  // normally, so the loop must look for itself.
  auto cstate = co_await asio::this_coro::cancellation_state;
  auto cancelled = [&] { return cstate.cancelled() != asio::cancellation_type::none; };

  for (int step = first_turn; !already_finished && step <= I.opts.max_steps; ++step) {
    if (cancelled()) {
      res.stop = AgentResult::Stop::cancelled;
      break;
    }
    if (clock::now() - t0 > I.opts.max_wall) {
      res.stop = AgentResult::Stop::wall_time;
      break;
    }
    const auto ts = clock::now();
    ChatRequest req = I.build_request(instructions);
    ChatResponse resp;
    try {
      resp = co_await I.model->chat(std::move(req));
    } catch (const Error& e) {
      res.stop = e.code_enum() == errc::budget_exceeded ? AgentResult::Stop::budget
                 : e.code_enum() == errc::cancelled     ? AgentResult::Stop::cancelled
                                                        : AgentResult::Stop::error;
      res.error = e.what();
      break;
    }
    res.llm_calls++;
    res.usage += resp.usage;

    // What to do: the tool calls (tools protocol) or the parsed action (text protocol).
    struct Call {
      std::string id, name, arguments;
      std::string format_error;
    };
    std::vector<Call> calls;
    std::string thought = resp.text;
    if (I.opts.protocol == AgentProtocol::tools) {
      for (auto& c : resp.tool_calls) calls.push_back({c.id, c.name, c.arguments, {}});
      if (calls.empty()) calls.push_back({"", "", "{}", "no tool was called; call one of the tools (final_answer when done)"});
    } else {
      try {
        auto a = detail::parse_text_action(resp.text);
        thought = a.thought.empty() ? a.plan : a.thought;
        calls.push_back({"", a.action, a.action_input, {}});
      } catch (const Error& e) {
        calls.push_back({"", "", "{}", std::string(e.what())});
      }
    }

    Impl::Exchange ex;
    ex.assistant = resp.as_message();
    bool finished = false;
    for (std::size_t k = 0; k < calls.size(); ++k) {
      auto& call = calls[k];
      AgentStep st;
      st.index = static_cast<int>(res.steps.size()) + 1;
      st.turn = step;
      st.call_id = call.id;
      st.thought = k == 0 ? thought : "";
      st.tool = call.name;
      st.arguments = call.arguments;
      if (k == 0) st.usage = resp.usage, st.llm_calls = 1;
      int side_before = I.side_calls;
      Usage side_usage_before = I.side_usage;
      if (!call.format_error.empty()) {
        st.tool_error = true;
        st.observation = "Error: " + call.format_error;
      } else if (auto tool = I.find(call.name); !tool) {
        st.tool_error = true;
        std::string names;
        for (auto& t : I.tools) names += (names.empty() ? "" : ", ") + t->spec().name;
        st.observation = "Error: unknown tool '" + call.name + "'. Available: " + names;
      } else {
        ToolContext ctx{*this, I.ws, I.harness, st.index};
        std::optional<Error> failure;
        try {
          ToolOutput out = co_await tool->call(call.arguments, ctx);
          st.observation = out.observation;
          st.tool_error = out.error;
        } catch (const Error& e) {
          if (!model_caused(e)) throw;
          failure = e;
        }
        if (failure) {
          st.tool_error = true;
          st.observation = "Error: " + std::string(failure->what());
        }
        if (call.name == "final_answer" && !st.tool_error) {
          finished = true;
          res.final_answer = st.observation;
        }
      }
      if (I.last_score && st.observation.find("Evaluation by the task's evaluator") != std::string::npos)
        st.score = I.last_score;
      st.usage.input_tokens += I.side_usage.input_tokens - side_usage_before.input_tokens;
      st.usage.output_tokens += I.side_usage.output_tokens - side_usage_before.output_tokens;
      st.llm_calls += I.side_calls - side_before;
      std::string shown = detail::cut_middle(st.observation, I.opts.observation_head, I.opts.observation_tail);
      st.snapshot = I.ws.snapshot("step " + std::to_string(st.index)).id;
      st.took = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - ts);
      std::string fb;
      if (I.opts.feedback) fb = I.opts.feedback(st);
      if (fb.empty() && I.feedback && (I.gates.gates & gate_after_step)) {
        auto h = I.feedback;
        AgentStep copy = st;
        std::function<std::optional<std::string>()> ask = [h, copy]() -> std::optional<std::string> { return h->after_step(copy); };
        auto answer = co_await answer_within_async<std::string>(I.gates.timeout, std::move(ask));
        fb = answer.value_or("");
      }
      if (!fb.empty()) shown += "\n\nHuman feedback: " + fb;
      st.shown = shown;
      if (I.opts.protocol == AgentProtocol::tools && !call.id.empty())
        ex.results.push_back(Message::tool_result(call.id, call.name, shown, st.tool_error));
      else
        ex.results.push_back(Message::user("Observation:\n" + shown));
      ex.summary += (ex.summary.empty() ? "" : "; ") + std::string("step ") + std::to_string(st.index) + ": " +
                    (st.tool.empty() ? "(no action)" : st.tool) + " " + brief(st.arguments, 80) + " → " +
                    (st.tool_error ? "ERROR " : "") + brief(st.observation, 160);
      res.steps.push_back(st);
      if (I.step_cb) I.step_cb(res.steps.back());
      if (finished || cancelled()) break;
    }
    // Without a call id the reply had no tool call: answer with a user message instead.
    I.history.push_back(std::move(ex));
    if (finished) {
      res.stop = AgentResult::Stop::final_answer;
      break;
    }
    if (cancelled()) {
      res.stop = AgentResult::Stop::cancelled;
      break;
    }
  }
  res.usage += I.side_usage;
  res.llm_calls += I.side_calls;

  // The harness decides: evaluate the final workspace unless the last scored attempt is it.
  auto final_snap = I.ws.snapshot("final");
  res.final_snapshot = final_snap.id;
  if (I.last_score && !I.last_scored_snapshot.empty() && I.ws.diff(I.last_scored_snapshot, "").empty()) {
    res.final_score = I.last_score;
  } else if (res.stop != AgentResult::Stop::cancelled) {
    Evaluation ev = co_await I.harness.run_and_evaluate(I.ws.root(), &I.ws);
    if (ev.ok()) {
      res.final_score = ev.score;
      record_score(*ev.score, ev.snapshot);
      res.final_snapshot = ev.snapshot;
    } else if (res.error.empty()) {
      res.error = "final evaluation: " + ev.error;
    }
  }
  res.best_score = I.best;
  res.best_snapshot = I.best_snapshot;
  res.success = res.final_score && res.baseline && I.harness.task().succeeded(*res.baseline, *res.final_score);
  co_return res;
}

}  // namespace v1
}  // namespace mlrc
