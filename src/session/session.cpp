// The Session: phases, persistence, resume. See session.hpp.
#include <mlrcopilot/json.hpp>
#include <mlrcopilot/middleware.hpp>
#include <mlrcopilot/online.hpp>
#include <mlrcopilot/paper.hpp>
#include <mlrcopilot/planner.hpp>
#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/retriever.hpp>
#include <mlrcopilot/scripted.hpp>
#include <mlrcopilot/session.hpp>
#include <mlrcopilot/task.hpp>
#include <mlrcopilot/workspace.hpp>

#include "agent/tools.hpp"
#include "session/report.hpp"
#include "session/run_store.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <csignal>
#include <deque>
#include <map>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>

namespace mlrc {
inline namespace v1 {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace asio = boost::asio;

// ---------------------------------------------------------------------------------------------
// Config and summary JSON

std::string SessionConfig::to_json() const {
  json::object o{{"paper", paper.string()},       {"instructions", instructions},   {"task", task.string()},
                 {"model", model},                {"home", home.string()},          {"max_steps", max_steps},
                 {"ideas", ideas},                {"refine_rounds", refine_rounds}, {"budget_tokens", budget_tokens},
                 {"budget_usd", budget_usd},      {"protocol", protocol == AgentProtocol::text ? "text" : "tools"},
                 {"index", index.string()},       {"gates", gates},                 {"gate_timeout_s", gate_timeout.count()}};
  if (!idea.empty()) o["idea"] = json::parse(idea);
  if (!sources.empty()) o["sources"] = sources;
  return json::serialize(o);
}

SessionConfig SessionConfig::from_json(std::string_view text) {
  json::value v;
  try {
    v = json::parse(text);
  } catch (const std::exception& e) {
    throw Error(errc::parse, std::string("session config: not JSON: ") + e.what());
  }
  if (!v.is_object()) throw Error(errc::parse, "session config: expected an object");
  auto& o = v.as_object();
  auto str = [&](const char* k) { return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).as_string()) : std::string(); };
  auto num = [&](const char* k, double d) { return o.contains(k) && o.at(k).is_number() ? o.at(k).to_number<double>() : d; };
  SessionConfig c;
  c.paper = str("paper");
  c.instructions = str("instructions");
  c.task = str("task");
  c.model = str("model");
  c.home = str("home");
  c.max_steps = static_cast<int>(num("max_steps", 30));
  c.ideas = static_cast<int>(num("ideas", 3));
  c.refine_rounds = static_cast<int>(num("refine_rounds", 1));
  c.budget_tokens = static_cast<std::int64_t>(num("budget_tokens", 0));
  c.budget_usd = num("budget_usd", 0);
  c.protocol = str("protocol") == "text" ? AgentProtocol::text : AgentProtocol::tools;
  c.index = str("index");
  c.sources = str("sources");
  c.gates = static_cast<unsigned>(num("gates", 0));
  c.gate_timeout = std::chrono::seconds(static_cast<long>(num("gate_timeout_s", 600)));
  if (auto* i = o.if_contains("idea"); i && !i->is_null()) {
    if (!i->is_object()) throw Error(errc::parse, "session config: \"idea\" must be an Idea object");
    c.idea = json::serialize(*i);
    idea_from_json(c.idea, "session config field \"idea\"");  // names what is wrong, now
  }
  static const char* known[] = {"paper", "instructions", "task", "model", "home", "max_steps", "ideas", "refine_rounds",
                                "budget_tokens", "budget_usd", "protocol", "index", "gates", "gate_timeout_s", "idea", "sources"};
  for (auto& kv : o) {
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return kv.key() == k; }) == std::end(known))
      throw Error(errc::parse, "session config: unknown field \"" + std::string(kv.key()) + "\"");
  }
  for (const char* k : {"paper", "instructions", "task", "model", "home", "protocol", "index", "sources"})
    if (o.contains(k) && !o.at(k).is_string()) throw Error(errc::parse, std::string("session config: \"") + k + "\" must be a string");
  for (const char* k : {"max_steps", "ideas", "refine_rounds", "budget_tokens", "budget_usd", "gates", "gate_timeout_s"})
    if (o.contains(k) && !o.at(k).is_number()) throw Error(errc::parse, std::string("session config: \"") + k + "\" must be a number");
  if (o.contains("protocol") && c.protocol == AgentProtocol::tools && str("protocol") != "tools")
    throw Error(errc::parse, "session config: \"protocol\" must be \"tools\" or \"text\", not \"" + str("protocol") + "\"");
  return c;
}

std::string RunSummary::to_json() const {
  auto opt = [](const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); };
  json::object o{{"run_id", run_id},   {"status", status},       {"success", success},         {"metric", metric},
                 {"direction", direction}, {"baseline", opt(baseline)}, {"best", opt(best)}, {"final", opt(final_score)},
                 {"folder", folder.string()}, {"error", error}};
  return json::serialize(o);
}

namespace {

// Test hook: MLRC_TEST_KILL_AT="call:N" or "step:N" kills the process (SIGKILL, like kill -9)
// right after the Nth LLM call or step was committed. Used by the resume tests.
void maybe_die(const char* what, std::int64_t n) {
  const char* spec = std::getenv("MLRC_TEST_KILL_AT");
  if (!spec) return;
  std::string s(spec), want = std::string(what) + ":" + std::to_string(n);
  if (s == want) std::raise(SIGKILL);
}

// Records every LLM call in the run store, and on resume replays the recorded ones in order
// (verifying the request is the same) instead of asking the model again.
class JournalModel final : public Model {
 public:
  JournalModel(ModelPtr inner, detail::RunStore& store, std::string& phase, std::function<void(const Event&)>& emit)
      : inner_(std::move(inner)), store_(store), phase_(phase), emit_(emit) {
    for (auto& c : store_.calls()) {
      pending_[c.phase].push_back(c);
      next_seq_ = std::max(next_seq_, c.seq + 1);
      ++recorded_;
    }
  }
  std::size_t recorded() const { return recorded_; }
  /** Drops the first `n` recorded calls of `phase`: they belong to steps already rebuilt. */
  void consumed(const std::string& phase, std::size_t n) {
    auto& q = pending_[phase];
    for (; n > 0 && !q.empty(); --n) q.pop_front();
  }
  std::string describe() const override { return inner_->describe(); }
  asio::awaitable<void> check() override { return inner_->check(); }
  asio::awaitable<ChatResponse> chat(ChatRequest req, StreamObserver* obs) override {
    std::string hash = request_hash(req);
    // Replay: the recorded calls of this phase, in order (a finished phase is not re-run, so
    // its calls are never asked for).
    if (auto& q = pending_[phase_]; !q.empty()) {
      auto rec = q.front();
      q.pop_front();
      if (rec.request_hash != hash)
        throw Error(errc::internal, "resume: LLM call " + std::to_string(rec.seq) + " (" + phase_ +
                                        ") differs from the one recorded; the run cannot be replayed deterministically");
      ChatResponse r = chat_response_from_json(rec.response_json);
      r.from_cassette = true;
      co_return r;
    }
    ChatResponse r = co_await inner_->chat(std::move(req), obs);
    std::int64_t seq = next_seq_++;
    store_.add_call(seq, phase_, hash, to_json(r), r.usage);
    if (emit_) emit_({"cost", json::serialize(json::object{{"phase", phase_},
                                                           {"input_tokens", r.usage.input_tokens},
                                                           {"output_tokens", r.usage.output_tokens},
                                                           {"cost_usd", r.cost_usd}})});
    maybe_die("call", seq + 1);
    co_return r;
  }

 private:
  ModelPtr inner_;
  detail::RunStore& store_;
  std::string& phase_;
  std::function<void(const Event&)>& emit_;
  std::map<std::string, std::deque<detail::RunStore::Call>> pending_;
  std::int64_t next_seq_ = 0;
  std::size_t recorded_ = 0;
};

// The summary as the run store has it (status, and result.json's fields once the run ended).
RunSummary summary_from(const detail::RunStore& store, const std::string& id, const fs::path& folder) {
  RunSummary s;
  s.run_id = id;
  s.folder = folder;
  s.status = store.get("status").value_or("unknown");
  if (auto r = store.get("summary")) {
    auto v = json::parse(*r).as_object();
    s.success = v["success"].as_bool();
    if (v["final"].is_number()) s.final_score = v["final"].to_number<double>();
    if (v["best"].is_number()) s.best = v["best"].to_number<double>();
    if (v["baseline"].is_number()) s.baseline = v["baseline"].to_number<double>();
    s.metric = std::string(v["metric"].as_string());
    s.direction = std::string(v["direction"].as_string());
    s.error = std::string(v["error"].as_string());
  }
  return s;
}

// Announces every gate as a "gate_waiting" event, with its question, before the host's handler
// is asked.
class AnnouncingFeedback final : public FeedbackHandler {
 public:
  using Announce = std::function<void(const char* gate, const char* answer_as, json::value question)>;
  AnnouncingFeedback(std::shared_ptr<FeedbackHandler> inner, Announce announce)
      : inner_(std::move(inner)), announce_(std::move(announce)) {}
  std::optional<std::size_t> choose_idea(const std::vector<Idea>& ideas, std::string& extra) override {
    json::array q;
    for (auto& i : ideas) q.push_back(json::parse(to_json(i)));
    announce_("after_ideas", "choose_idea", std::move(q));
    return inner_->choose_idea(ideas, extra);
  }
  std::optional<bool> approve_execution(const std::string& command) override {
    announce_("before_execution", "approve_execution", json::object{{"command", command}});
    return inner_->approve_execution(command);
  }
  std::string after_step(const AgentStep& step) override {
    announce_("after_step", "after_step", json::parse(to_json(step)));
    return inner_->after_step(step);
  }
  std::optional<std::string> help(const std::string& question) override {
    announce_("on_help", "help", json::object{{"question", question}});
    return inner_->help(question);
  }

 private:
  std::shared_ptr<FeedbackHandler> inner_;
  Announce announce_;
};

std::string new_run_id() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::gmtime(&t));
  static const char* hex = "0123456789abcdef";
  std::random_device rd;
  std::string id = buf;
  id += '-';
  for (int i = 0; i < 4; ++i) id += hex[rd() % 16];
  return id;
}

std::string instructions_from(const Idea& idea) {
  std::string s = "Idea: " + idea.title + "\nHypothesis: " + idea.hypothesis + "\nExperiment plan:\n";
  for (std::size_t i = 0; i < idea.plan.steps.size(); ++i) s += std::to_string(i + 1) + ". " + idea.plan.steps[i] + "\n";
  if (!idea.plan.expected_outcome.empty()) s += "Expected outcome: " + idea.plan.expected_outcome + "\n";
  return s;
}

}  // namespace

struct Session::Impl {
  Runtime& rt;
  SessionConfig cfg;
  std::string id;
  fs::path folder;
  std::unique_ptr<detail::RunStore> store;
  ModelPtr model_override;
  std::shared_ptr<Retriever> retriever_override;
  std::shared_ptr<Executor> executor_override;
  std::vector<std::shared_ptr<Tool>> tools;
  std::shared_ptr<FeedbackHandler> feedback;
  std::function<void(const Event&)> emit;
  std::string phase = "setup";

  Impl(Runtime& r) : rt(r) {}
  void event(const std::string& kind, const std::string& js) {
    store->add_event(kind, js);
    if (emit) emit({kind, js});
  }
  std::shared_ptr<FeedbackHandler> announcing() {
    return std::make_shared<AnnouncingFeedback>(feedback, [this](const char* gate, const char* answer_as, json::value q) {
      event("gate_waiting", json::serialize(json::object{{"gate", gate}, {"answer_as", answer_as}, {"question", std::move(q)}}));
    });
  }
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session::~Session() = default;
const std::string& Session::id() const noexcept { return impl_->id; }
const fs::path& Session::folder() const noexcept { return impl_->folder; }
const SessionConfig& Session::config() const noexcept { return impl_->cfg; }
void Session::set_model(ModelPtr m) { impl_->model_override = std::move(m); }
void Session::set_feedback(std::shared_ptr<FeedbackHandler> h) { impl_->feedback = std::move(h); }
void Session::on_event(std::function<void(const Event&)> cb) { impl_->emit = std::move(cb); }
void Session::add_tool(std::shared_ptr<Tool> tool) {
  if (!tool) throw Error(errc::invalid_argument, "session: add_tool: no tool");
  impl_->tools.push_back(std::move(tool));
}
void Session::set_retriever(std::shared_ptr<Retriever> r) { impl_->retriever_override = std::move(r); }
void Session::set_executor(std::shared_ptr<Executor> e) { impl_->executor_override = std::move(e); }

Session Session::create(Runtime& rt, SessionConfig cfg) {
  if (cfg.task.empty()) throw Error(errc::invalid_argument, "session: no task folder given");
  if (cfg.paper.empty() && cfg.instructions.empty() && cfg.idea.empty())
    throw Error(errc::invalid_argument, "session: give a paper (for phase 1), an idea or instructions for the agent");
  if (cfg.home.empty()) cfg.home = default_home();
  cfg.task = fs::absolute(cfg.task);
  if (!cfg.paper.empty()) cfg.paper = fs::absolute(cfg.paper);
  Task::load(cfg.task);  // fail now, naming the problem, not halfway through a run
  if (!cfg.paper.empty() && cfg.idea.empty()) Paper::load(cfg.paper);
  if (!cfg.index.empty()) {
    cfg.index = fs::absolute(cfg.index);
    LocalRetriever check(cfg.index);  // an unreadable index is an input error, found now
  }
  if (!cfg.sources.empty()) {
    OnlineConfig oc;
    oc.local_index = cfg.index;
    make_online_retriever(rt.executor(), cfg.sources, oc);  // an unknown source is found now
  }
  auto impl = std::make_unique<Impl>(rt);
  impl->cfg = cfg;
  impl->id = new_run_id();
  impl->folder = cfg.home / "runs" / impl->id;
  fs::create_directories(impl->folder);
  impl->store = std::make_unique<detail::RunStore>(impl->folder / "run.db");
  impl->store->set("config", cfg.to_json());
  impl->store->set("status", "created");
  impl->store->set("run_id", impl->id);
  return Session(std::move(impl));
}

Session Session::open(Runtime& rt, const fs::path& home_in, const std::string& run_id) {
  fs::path home = home_in.empty() ? default_home() : home_in;
  fs::path folder = home / "runs" / run_id;
  if (!fs::exists(folder / "run.db")) throw Error(errc::not_found, "no run '" + run_id + "' in " + (home / "runs").string());
  auto impl = std::make_unique<Impl>(rt);
  impl->id = run_id;
  impl->folder = folder;
  impl->store = std::make_unique<detail::RunStore>(folder / "run.db");
  auto cfg = impl->store->get("config");
  if (!cfg) throw Error(errc::parse, "run " + run_id + ": the run store has no configuration");
  impl->cfg = SessionConfig::from_json(*cfg);
  return Session(std::move(impl));
}

std::vector<RunSummary> Session::list(const fs::path& home_in) {
  fs::path runs = (home_in.empty() ? default_home() : home_in) / "runs";
  std::vector<RunSummary> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(runs, ec)) {
    if (!fs::exists(e.path() / "run.db")) continue;
    try {
      detail::RunStore store(e.path() / "run.db");
      out.push_back(summary_from(store, e.path().filename().string(), e.path()));
    } catch (const std::exception&) {
      // A run whose store cannot be read is listed with an unknown status rather than hidden.
      out.push_back(RunSummary{e.path().filename().string(), "unreadable", false, {}, {}, {}, {}, {}, e.path(), {}});
    }
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.run_id > b.run_id; });
  return out;
}

RunSummary Session::summary() const { return summary_from(*impl_->store, impl_->id, impl_->folder); }

asio::awaitable<RunSummary> Session::run() {
  auto& I = *impl_;
  auto& store = *I.store;
  store.set("status", "running");
  Task task = Task::load(I.cfg.task);

  // The model: built from the spec (or given), journaled for resume, accounted against budgets.
  ModelPtr base = I.model_override ? I.model_override : make_model(I.rt.executor(), I.cfg.model);
  auto ledger = std::make_shared<Ledger>();
  auto journal = std::make_shared<JournalModel>(base, store, I.phase, I.emit);
  if (auto scripted = std::dynamic_pointer_cast<ScriptedModel>(base)) scripted->skip(journal->recorded());
  // Spend already recorded counts against the budget too.
  for (auto& c : store.calls()) {
    auto r = chat_response_from_json(c.response_json);
    ledger->record(r.model, r.usage, r.cost_usd);
  }
  Budget budget{I.cfg.budget_tokens, I.cfg.budget_usd};
  ModelPtr model = with_accounting(journal, ledger, PriceTable::defaults(), budget);

  std::shared_ptr<Retriever> retriever = I.retriever_override;
  if (!retriever && !I.cfg.sources.empty()) {
    OnlineConfig oc;
    oc.local_index = I.cfg.index;
    oc.fallback.on_attempt = [&I](const SourceAttempt& a) {
      if (a.answered || a.skipped) return;
      I.event("warning", json::serialize(json::object{{"message", "source " + a.source + " failed (" + a.error + "); trying the next"},
                                                      {"source", a.source}}));
    };
    retriever = make_online_retriever(I.rt.executor(), I.cfg.sources, oc);
  }
  if (!retriever && !I.cfg.index.empty()) retriever = std::make_shared<LocalRetriever>(I.cfg.index);
  // A gate that may not wait (timeout 0) takes its default without asking anyone.
  GateOptions gates{I.cfg.gate_timeout.count() > 0 ? I.cfg.gates : 0u, I.cfg.gate_timeout, true};

  RunSummary sum;
  sum.run_id = I.id;
  sum.folder = I.folder;
  sum.metric = task.metric;
  sum.direction = direction_name(task.direction);
  try {
    // Phase 1: ideas.
    std::string instructions = I.cfg.instructions;
    if (!I.cfg.idea.empty()) {
      Idea given = idea_from_json(I.cfg.idea, "session config field \"idea\"");
      instructions = instructions_from(given) + (I.cfg.instructions.empty() ? "" : "\n" + I.cfg.instructions);
      if (!store.get("chosen_idea")) {
        store.set("chosen_idea", to_json(given));
        store.set("chosen_instructions", instructions);
      }
    } else if (!I.cfg.paper.empty()) {
      if (auto chosen = store.get("chosen_instructions")) {
        instructions = *chosen;
      } else {
        I.phase = "ideas";
        I.event("phase_started", R"({"phase":"ideas"})");
        Paper paper = Paper::load(I.cfg.paper);
        store.set("paper", to_json(paper));
        PlannerOptions po;
        po.ideas = static_cast<std::size_t>(std::max(1, I.cfg.ideas));
        po.refine_rounds = I.cfg.refine_rounds;
        po.on_event = [&](std::string_view kind, std::string_view js) {
          I.event(kind == "idea" ? "idea_proposed" : std::string(kind), std::string(js));
        };
        Planner planner(model, related_search(retriever), po);
        auto result = co_await planner.run(paper);
        json::array ideas, reviews;
        for (auto& i : result.ideas) ideas.push_back(json::parse(to_json(i)));
        for (auto& r : result.reviews) reviews.push_back(json::parse(to_json(r)));
        store.set("analysis", to_json(result.analysis));
        json::array related;
        for (auto& p : result.related) related.push_back(json::object{{"id", p.id}, {"title", p.title}, {"year", p.year}});
        store.set("related", json::serialize(related));
        store.set("ideas", json::serialize(ideas));
        store.set("reviews", json::serialize(reviews));
        if (result.ideas.empty()) throw Error(errc::protocol, "phase 1 produced no ideas");
        std::size_t pick = 0;
        std::string extra;
        if (I.feedback && (gates.gates & gate_after_ideas)) {
          auto h = I.announcing();
          auto ideas_copy = result.ideas;
          auto extra_box = std::make_shared<std::string>();
          // A named std::function, not a temporary in the co_await expression (GCC 12 destroys those twice).
          std::function<std::optional<std::size_t>()> ask = [h, ideas_copy, extra_box] { return h->choose_idea(ideas_copy, *extra_box); };
          auto answer = co_await answer_within_async<std::size_t>(gates.timeout, std::move(ask));
          if (answer && *answer < result.ideas.size()) pick = *answer, extra = *extra_box;
        }
        const Idea& best = result.ideas[pick];
        instructions = instructions_from(best) + (I.cfg.instructions.empty() ? "" : "\n" + I.cfg.instructions) +
                       (extra.empty() ? "" : "\nHuman instructions: " + extra);
        store.set("chosen_idea", to_json(best));
        store.set("chosen_instructions", instructions);
        I.event("ideas_ranked", json::serialize(json::object{{"chosen", best.id}, {"title", best.title}, {"score", best.score}}));
      }
    }

    // Phases 2-3: implement and execute in the task workspace.
    I.phase = "experiment";
    I.event("phase_started", R"({"phase":"experiment"})");
    std::shared_ptr<Executor> exec = I.executor_override;
    if (!exec) exec = std::make_shared<LocalExecutor>(I.rt.executor());
    TaskHarness harness(task, *exec, I.folder / "task-state");
    fs::path ws_dir = I.folder / "workspace";
    if (!fs::exists(ws_dir)) {
      co_await harness.prepare();
      harness.copy_workspace(ws_dir);
    }
    WorkspaceOptions wo;
    wo.read_only = task.read_only;
    wo.store = I.folder / "snapshots";
    Workspace ws(ws_dir, wo);
    std::vector<AgentStep> done;
    for (auto& js : store.steps()) done.push_back(agent_step_from_json(js));
    // Resume: put the workspace back to the last committed step (undoing any half-done step).
    if (!done.empty()) ws.restore(done.back().snapshot);
    else if (!ws.snapshots().empty()) ws.restore(ws.snapshots().front());
    std::size_t calls_done = 0;
    for (auto& st : done) calls_done += static_cast<std::size_t>(st.llm_calls);
    journal->consumed("experiment", calls_done);
    if (!done.empty()) I.event("warning", json::serialize(json::object{{"message", "resumed after step " + std::to_string(done.back().index)}}));

    AgentOptions ao;
    ao.max_steps = I.cfg.max_steps;
    ao.protocol = I.cfg.protocol;
    Agent agent(model, ws, harness, ao);
    if (I.feedback)
      agent.set_feedback(I.announcing(), gates);
    // Script output as it comes, as events (not stored: the logs and steps keep it).
    agent.on_output([&I](int stream, std::string_view chunk) {
      if (I.emit) I.emit({"tool_output", json::serialize(json::object{{"stream", stream}, {"text", std::string(chunk)}})});
    });
    if (retriever)
      for (auto c : retriever->corpora()) agent.add_tool(detail::retrieval_tool(retriever, c));
    for (auto& t : I.tools) agent.add_tool(t);
    agent.on_step([&](const AgentStep& st) {
      store.add_step(st.index, st.turn, to_json(st));
      I.event("step", to_json(st));
      if (st.score) I.event("metric", json::serialize(json::object{{"step", st.index}, {"score", *st.score}, {"snapshot", st.snapshot}}));
      maybe_die("step", st.index);
    });
    AgentResult res = co_await agent.run(instructions, done);
    store.set("agent_result", res.to_json());
    sum.baseline = res.baseline;
    sum.best = res.best_score;
    sum.final_score = res.final_score;
    sum.success = res.success;
    sum.error = res.error;
    sum.status = res.stop == AgentResult::Stop::budget      ? "budget_exceeded"
                 : res.stop == AgentResult::Stop::error     ? "failed"
                 : res.stop == AgentResult::Stop::cancelled ? "cancelled"
                                                            : "finished";
    if (res.final_score) I.event("metric", json::serialize(json::object{{"final", *res.final_score}, {"snapshot", res.final_snapshot}}));
  } catch (const Error& e) {
    sum.status = e.code_enum() == errc::budget_exceeded ? "budget_exceeded" : e.code_enum() == errc::cancelled ? "cancelled" : "failed";
    sum.error = e.what();
  }
  store.set("status", sum.status);
  store.set("summary", sum.to_json());
  I.event("finished", sum.to_json());
  write_report();
  co_return sum;
}

void Session::write_report() { detail::write_reports(*impl_->store, impl_->folder, summary()); }

}  // namespace v1
}  // namespace mlrc
