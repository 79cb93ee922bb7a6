// LLM calls and prompt size per agent step over a scripted 30-step run on the digits task.
// Prompt tokens are estimated as characters / 4 (the scripted model cannot count real tokens),
// which is enough to compare context strategies. Compares our context (stable prefix + window
// of recent steps + folded research log) with keeping the whole history.
//
//   mlrc_bench_agent_context [--steps 30] [--window 6]
#include <mlrcopilot/agent.hpp>
#include <mlrcopilot/runtime.hpp>
#include <mlrcopilot/scripted.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace mlrc;

namespace {
struct Figures {
  int calls = 0;
  double mean_in = 0;
  std::int64_t max_in = 0, last_in = 0, total_in = 0;
};

Figures run(int steps, std::size_t window, const fs::path& work) {
  fs::remove_all(work);
  fs::create_directories(work);
  fs::copy(fs::path(MLRC_SOURCE_DIR) / "examples/tasks/digits-mlab", work / "task", fs::copy_options::recursive);
  Runtime rt;
  LocalExecutor exec(rt.executor());
  Task task = Task::load(work / "task");
  TaskHarness h(task, exec, work / "state");
  rt.run(h.prepare());
  h.copy_workspace(work / "ws");
  WorkspaceOptions wo;
  wo.store = work / "store";
  wo.fsync = false;
  Workspace ws(work / "ws", wo);
  std::vector<ScriptTurn> turns;
  for (int i = 0; i < steps - 1; ++i) {
    ScriptTurn t;
    t.text = "Step " + std::to_string(i) + ": looking at the code again.";
    if (i % 3 == 2)
      t.tool_calls.push_back({"c" + std::to_string(i), "research_log_append", R"({"entry":"checked train.py"})"});
    else
      t.tool_calls.push_back({"c" + std::to_string(i), "read_file", R"({"path":"train.py"})"});
    turns.push_back(t);
  }
  ScriptTurn fin;
  fin.tool_calls.push_back({"cf", "final_answer", R"({"summary":"done"})"});
  turns.push_back(fin);
  AgentOptions o;
  o.max_steps = steps;
  o.window = window;
  Agent agent(std::make_shared<ScriptedModel>(turns), ws, h, o);
  std::vector<std::int64_t> in;
  agent.on_step([&](const AgentStep& s) { in.push_back(s.usage.input_tokens); });
  auto r = rt.run(agent.run("Read the code."));
  Figures f;
  f.calls = r.llm_calls - 0;
  f.total_in = std::accumulate(in.begin(), in.end(), std::int64_t{0});
  f.mean_in = in.empty() ? 0 : static_cast<double>(f.total_in) / static_cast<double>(in.size());
  f.max_in = in.empty() ? 0 : *std::max_element(in.begin(), in.end());
  f.last_in = in.empty() ? 0 : in.back();
  return f;
}
}  // namespace

int main(int argc, char** argv) {
  int steps = 30;
  std::size_t window = 6;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--steps") steps = std::atoi(argv[i + 1]);
    else if (k == "--window") window = static_cast<std::size_t>(std::atoi(argv[i + 1]));
  }
  fs::path work = fs::temp_directory_path() / ("mlrc-bench-agent-" + std::to_string(::getpid()));
  auto ours = run(steps, window, work);
  auto full = run(steps, 100000, work);
  fs::remove_all(work);
  std::printf("scripted %d-step agent run (prompt tokens estimated as chars/4)\n", steps);
  std::printf("%-34s %10s %14s %14s %14s %14s\n", "context", "LLM calls", "calls/step", "mean in/step", "max in/step", "total in");
  auto row = [&](const char* name, const Figures& f) {
    std::printf("%-34s %10d %14.2f %14.0f %14lld %14lld\n", name, f.calls, static_cast<double>(f.calls) / steps, f.mean_in,
                static_cast<long long>(f.max_in), static_cast<long long>(f.total_in));
  };
  row(("window " + std::to_string(window) + " + folded log (ours)").c_str(), ours);
  row("whole history every step", full);
  return 0;
}
