// The ExperimentAgent with a scripted model on a real task: real edits, real runs, the task's own
// evaluator deciding success.
#include "helpers.hpp"

#include <mlrcopilot/agent.hpp>
#include <mlrcopilot/middleware.hpp>
#include <mlrcopilot/scripted.hpp>
#include <mlrcopilot/session.hpp>

#include <boost/json.hpp>

using namespace std::chrono_literals;
using namespace mlrc;
using namespace mlrc::test;
namespace fs = std::filesystem;

namespace {

ScriptTurn call(const std::string& name, const std::string& args, const std::string& text = "") {
  ScriptTurn t;
  t.text = text;
  t.tool_calls.push_back({"call_" + name + "_" + std::to_string(std::hash<std::string>{}(args) % 100000), name, args});
  return t;
}

struct Fixture {
  TempDir dir;
  Runtime rt;
  LocalExecutor exec{rt.executor()};
  fs::path folder;
  Task task;
  std::unique_ptr<TaskHarness> harness;
  std::unique_ptr<Workspace> ws;
  Fixture() {
    folder = dir.path / "digits-mlab";
    fs::copy(fs::path(MLRC_SOURCE_DIR) / "examples/tasks/digits-mlab", folder, fs::copy_options::recursive);
    task = Task::load(folder);
    harness = std::make_unique<TaskHarness>(task, exec, dir.path / "state");
    rt.run(harness->prepare());
    harness->copy_workspace(dir.path / "ws");
    WorkspaceOptions wo;
    wo.store = dir.path / "store";
    wo.read_only = task.read_only;
    wo.fsync = false;
    ws = std::make_unique<Workspace>(dir.path / "ws", wo);
  }
};

}  // namespace

TEST_CASE("Agent: a first edit breaks the script, the agent debugs it, the harness confirms success", "[agent]") {
  Fixture f;
  std::vector<ScriptTurn> turns{
      call("list_files", "{}", "Let me look around."),
      call("read_file", R"({"path":"train.py","start_line":18,"end_line":22})"),
      call("edit_file", R"J({"path":"train.py","old_text":"DecisionTreeClassifier(random_state=SEED)","new_text":"SVC()"})J"),
      call("execute_script", R"({"script":"train.py"})"),
      call("edit_file", R"({"path":"train.py","old_text":"from sklearn.tree import DecisionTreeClassifier","new_text":"from sklearn.svm import SVC"})"),
      call("execute_script", R"({"script":"train.py"})"),
      call("research_log_append", R"({"entry":"SVC with default RBF kernel beats the tree"})"),
      call("final_answer", R"({"summary":"Replaced the decision tree with an RBF SVC."})"),
  };
  auto model = std::make_shared<ScriptedModel>(turns);
  Agent agent(model, *f.ws, *f.harness);
  std::vector<int> seen;
  agent.on_step([&](const AgentStep& s) { seen.push_back(s.index); });
  auto r = f.rt.run(agent.run("Replace the weak classifier by a stronger one."));
  INFO(r.to_json().substr(0, 4000));
  CHECK(r.stop == AgentResult::Stop::final_answer);
  REQUIRE(r.steps.size() == 8);
  CHECK(seen.size() == 8);
  CHECK(r.steps[3].tool_error);  // NameError: SVC is not imported yet
  CHECK(r.steps[3].observation.find("NameError") != std::string::npos);
  CHECK_FALSE(r.steps[5].tool_error);
  REQUIRE(r.steps[5].score);
  CHECK(*r.steps[5].score > 0.95);
  REQUIRE(r.baseline);
  CHECK(*r.baseline == Approx(0.82).margin(0.005));
  REQUIRE(r.final_score);
  CHECK(*r.final_score > 0.95);
  CHECK(r.success);
  CHECK(r.llm_calls == 8);  // one call per step
  CHECK(model->used() == 8);
  CHECK(agent.research_log().size() == 1);
  CHECK_FALSE(r.final_snapshot.empty());
  // Every step left a snapshot; the broken state can be diffed against the start.
  auto changes = f.ws->diff(f.ws->snapshots().front(), r.steps[2].snapshot);
  REQUIRE_FALSE(changes.empty());
  CHECK(changes[0].path == "train.py");
}

TEST_CASE("Agent: a model that claims success without improving is not counted", "[agent]") {
  Fixture f;
  auto model = std::make_shared<ScriptedModel>(std::vector<ScriptTurn>{
      call("final_answer", R"({"summary":"I improved accuracy to 0.999, a 22% gain."})")});
  Agent agent(model, *f.ws, *f.harness);
  auto r = f.rt.run(agent.run("Improve it."));
  CHECK(r.stop == AgentResult::Stop::final_answer);
  CHECK(r.final_answer.find("0.999") != std::string::npos);
  REQUIRE(r.final_score);
  CHECK(*r.final_score == Approx(*r.baseline));
  CHECK_FALSE(r.success);
}

TEST_CASE("Agent: unknown tools, bad arguments and escapes are recorded and the loop goes on", "[agent]") {
  Fixture f;
  std::vector<ScriptTurn> turns{
      call("frobnicate", "{}"),
      call("edit_file", R"({"path":"train.py"})"),
      call("write_file", R"({"path":"../escape.py","content":"x"})"),
      call("write_file", R"({"path":"train.csv","content":"tampered"})"),
      ScriptTurn{"I think I am done.", {}, {}, {}},  // no tool call at all
      call("final_answer", R"({"summary":"nothing"})"),
  };
  Agent agent(std::make_shared<ScriptedModel>(turns), *f.ws, *f.harness);
  auto r = f.rt.run(agent.run("Try things."));
  REQUIRE(r.steps.size() == 6);
  CHECK(r.steps[0].tool_error);
  CHECK(r.steps[0].observation.find("unknown tool 'frobnicate'") != std::string::npos);
  CHECK(r.steps[1].observation.find("is required") != std::string::npos);
  CHECK(r.steps[2].observation.find("leaves the workspace") != std::string::npos);
  CHECK(r.steps[3].observation.find("read-only") != std::string::npos);
  CHECK(r.steps[4].observation.find("no tool was called") != std::string::npos);
  CHECK(r.stop == AgentResult::Stop::final_answer);
  CHECK_FALSE(fs::exists(f.dir.path / "escape.py"));
  CHECK(read_file((f.dir.path / "ws" / "train.csv").string()) != "tampered");
}

TEST_CASE("Agent: the MLAgentBench text protocol", "[agent]") {
  Fixture f;
  auto text = [](const std::string& action, const std::string& input) {
    return ScriptTurn{"Reflection: starting.\nResearch Plan and Status: 1. inspect\nFact Check: none\nThought: look\nAction: " +
                          action + "\nAction Input: " + input + "\n",
                      {}, {}, {}};
  };
  std::vector<ScriptTurn> turns{text("list_files", "{}"), ScriptTurn{"I will just think.", {}, {}, {}},
                                text("read_file", "```json\n{\"path\": \"train.py\", \"end_line\": 3}\n```"),
                                text("final_answer", R"({"summary":"looked"})")};
  AgentOptions o;
  o.protocol = AgentProtocol::text;
  Agent agent(std::make_shared<ScriptedModel>(turns), *f.ws, *f.harness, o);
  auto r = f.rt.run(agent.run("Look."));
  REQUIRE(r.steps.size() == 4);
  CHECK(r.steps[0].tool == "list_files");
  CHECK(r.steps[0].observation.find("train.py") != std::string::npos);
  CHECK(r.steps[1].tool_error);
  CHECK(r.steps[1].observation.find("Action:") != std::string::npos);
  CHECK(r.steps[2].observation.find("lines 1-3") != std::string::npos);
  CHECK(r.stop == AgentResult::Stop::final_answer);
}

TEST_CASE("Agent: budget exhaustion stops cleanly and the final state is still scored", "[agent]") {
  Fixture f;
  std::vector<ScriptTurn> turns;
  for (int i = 0; i < 10; ++i) turns.push_back(call("list_files", "{}"));
  for (auto& t : turns) t.usage = Usage{1000, 100, 0, 0};
  auto ledger = std::make_shared<Ledger>();
  Budget b;
  b.max_tokens = 3000;
  auto model = with_accounting(std::make_shared<ScriptedModel>(turns), ledger, PriceTable{}, b);
  Agent agent(model, *f.ws, *f.harness);
  auto r = f.rt.run(agent.run("Loop."));
  CHECK(r.stop == AgentResult::Stop::budget);
  CHECK(r.error.find("token budget") != std::string::npos);
  CHECK(r.steps.size() == 3);
  REQUIRE(r.final_score);
  CHECK_FALSE(r.success);
}

TEST_CASE("Agent context: one LLM call per step and a bounded prompt over 30 steps", "[agent]") {
  Fixture f;
  std::vector<ScriptTurn> turns;
  for (int i = 0; i < 29; ++i) turns.push_back(call("read_file", R"({"path":"train.py"})"));
  turns.push_back(call("final_answer", R"({"summary":"done"})"));
  auto model = std::make_shared<ScriptedModel>(turns);
  Agent agent(model, *f.ws, *f.harness);
  std::vector<std::int64_t> inputs;
  agent.on_step([&](const AgentStep& s) { inputs.push_back(s.usage.input_tokens); });
  auto r = f.rt.run(agent.run("Read."));
  REQUIRE(r.steps.size() == 30);
  CHECK(r.llm_calls == 30);
  // The window keeps the prompt from growing with the step count.
  CHECK(inputs.back() < inputs[8] * 2);
}

TEST_CASE("Text protocol parser (sans-io)", "[agent][text]") {
  auto a = detail::parse_text_action(
      "**Reflection:** ok\n**Research Plan and Status:** 1. do\n2. more\nFact Check: -\nThought: go\n**Action:** `edit_file`\n"
      "**Action Input:** {\"path\": \"a.py\", \"old_text\": \"x\", \"new_text\": \"y\"}\n");
  CHECK(a.action == "edit_file");
  CHECK(a.plan == "1. do\n2. more");
  CHECK(a.thought == "go");
  CHECK(a.action_input == R"({"path":"a.py","old_text":"x","new_text":"y"})");
  CHECK_THROWS_WITH(detail::parse_text_action("Thought: hmm"), Catch::Contains("no 'Action:' line"));
  CHECK_THROWS_WITH(detail::parse_text_action("Action: read_file\nAction Input: {path: x}"), Catch::Contains("not valid JSON"));
  CHECK(detail::parse_text_action("Action: list_files\n").action_input == "{}");
  CHECK(detail::cut_middle(std::string(10000, 'a'), 100, 100).find("bytes cut") != std::string::npos);
}

TEST_CASE("Agent: feedback gates — after-step feedback, execution approval, help", "[agent][feedback]") {
  Fixture f;
  struct Human : FeedbackHandler {
    int steps = 0, approvals = 0, helps = 0;
    std::optional<bool> approve_execution(const std::string&) override {
      ++approvals;
      return false;  // deny
    }
    std::string after_step(const AgentStep& s) override {
      ++steps;
      return s.index == 1 ? "Try an SVM next." : "";
    }
    std::optional<std::string> help(const std::string& q) override {
      ++helps;
      return "Use sklearn.svm.SVC (asked: " + q + ")";
    }
  };
  auto human = std::make_shared<Human>();
  ScriptTurn t3 = call("request_help", R"({"question":"Which model?"})");
  t3.expect = "Human feedback: Try an SVM next.";  // the feedback reached the next prompt
  std::vector<ScriptTurn> turns{call("list_files", "{}"), call("execute_script", R"({"script":"train.py"})"), t3,
                                call("final_answer", R"({"summary":"asked"})")};
  // The second turn's request must carry the first step's feedback.
  turns[1].expect = "Human feedback: Try an SVM next.";
  turns[2].expect = "did not approve";
  Agent agent(std::make_shared<ScriptedModel>(turns), *f.ws, *f.harness);
  agent.set_feedback(human, GateOptions{gate_after_step | gate_before_execution | gate_on_help, std::chrono::seconds(5), true});
  auto r = f.rt.run(agent.run("Ask for help."));
  INFO(r.to_json().substr(0, 3000));
  REQUIRE(r.steps.size() == 4);
  CHECK(r.steps[1].tool_error);
  CHECK(r.steps[1].observation.find("did not approve") != std::string::npos);
  CHECK(r.steps[2].observation.find("Use sklearn.svm.SVC") != std::string::npos);
  CHECK(human->approvals == 1);
  CHECK(human->helps == 1);
  CHECK(human->steps == 4);

  // A gate nobody answers takes its default after the timeout.
  struct Silent : FeedbackHandler {
    std::optional<std::string> help(const std::string&) override {
      std::this_thread::sleep_for(3s);
      return "too late";
    }
  };
  Fixture g;
  Agent quiet(std::make_shared<ScriptedModel>(std::vector<ScriptTurn>{call("request_help", R"({"question":"?"})"),
                                                                       call("final_answer", R"({"summary":"-"})")}),
              *g.ws, *g.harness);
  quiet.set_feedback(std::make_shared<Silent>(), GateOptions{gate_on_help, std::chrono::seconds(1), true});
  auto q = g.rt.run(quiet.run("x"));
  CHECK(q.steps[0].observation.find("No answer came in time") != std::string::npos);
}

TEST_CASE("Session: three phases through the library, events, reports, and a failing baseline reported", "[session]") {
  TempDir dir;
  fs::path src = MLRC_SOURCE_DIR;
  fs::copy(src / "examples/tasks/digits-mlab", dir.path / "task", fs::copy_options::recursive);
  SessionConfig cfg;
  cfg.paper = src / "examples/papers/sentiment-analysis.md";
  cfg.task = dir.path / "task";
  cfg.model = "scripted:" + (src / "examples/demo/script.json").string();
  cfg.home = dir.path / "home";
  cfg.ideas = 2;
  Runtime rt;
  auto session = Session::create(rt, cfg);
  std::map<std::string, int> kinds;
  std::string output;
  session.on_event([&](const Event& e) {
    kinds[e.kind]++;
    if (e.kind == "tool_output") output += e.json;
  });
  auto s = rt.run(session.run());
  CHECK(s.status == "finished");
  CHECK(s.success);
  REQUIRE(s.baseline);
  REQUIRE(s.final_score);
  CHECK(*s.final_score > *s.baseline * 1.1);
  CHECK(kinds["phase_started"] == 2);
  CHECK(kinds["idea_proposed"] == 2);
  CHECK(kinds["step"] == 8);
  CHECK(kinds["metric"] >= 1);
  CHECK(kinds["cost"] == 16);
  CHECK(kinds["finished"] == 1);
  CHECK(output.find("validation accuracy") != std::string::npos);  // streamed script output
  for (auto f : {"result.json", "report.md", "report.html", "chart.svg", "run.db"}) CHECK(fs::exists(session.folder() / f));
  auto listed = Session::list(cfg.home);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].status == "finished");

  // Gates are announced as events while the handler is asked.
  struct Quiet : FeedbackHandler {};
  cfg.gates = gate_after_step | gate_after_ideas;
  auto gated = Session::create(rt, cfg);
  gated.set_feedback(std::make_shared<Quiet>());
  std::map<std::string, int> gates_seen;
  gated.on_event([&](const Event& e) {
    if (e.kind != "gate_waiting") return;
    auto o = boost::json::parse(e.json).as_object();
    gates_seen[std::string(o.at("gate").as_string()) + "/" + std::string(o.at("answer_as").as_string())]++;
    if (o.at("gate") == "after_ideas") CHECK(o.at("question").as_array().size() == 2);  // the ideas to choose from
    if (o.at("gate") == "after_step") CHECK(o.at("question").as_object().contains("tool"));
  });
  CHECK(rt.run(gated.run()).success);
  CHECK(gates_seen["after_ideas/choose_idea"] == 1);
  CHECK(gates_seen["after_step/after_step"] == 8);
  cfg.gates = 0;

  // A task whose baseline fails: the run ends "failed" with the reason, and a report.
  std::ofstream(dir.path / "task" / "env" / "train.py") << "raise SystemExit('broken baseline')\n";
  auto bad = Session::create(rt, cfg);
  auto b = rt.run(bad.run());
  CHECK(b.status == "failed");
  CHECK(b.error.find("baseline") != std::string::npos);
  CHECK(b.error.find("broken baseline") != std::string::npos);
  CHECK(fs::exists(bad.folder() / "report.md"));
}
