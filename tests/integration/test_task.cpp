// Tasks and the harness, on copies of the example tasks: real Python, real evaluators.
#include "helpers.hpp"

#include <mlrcopilot/executor.hpp>
#include <mlrcopilot/task.hpp>
#include <mlrcopilot/workspace.hpp>

using namespace std::chrono_literals;
using namespace mlrc;
using namespace mlrc::test;
namespace fs = std::filesystem;

namespace {

fs::path example(const std::string& name) { return fs::path(MLRC_SOURCE_DIR) / "examples" / "tasks" / name; }

// A private copy of an example task (prepare steps write into the task folder).
fs::path copy_task(const TempDir& dir, const std::string& name) {
  fs::path dest = dir.path / name;
  fs::copy(example(name), dest, fs::copy_options::recursive);
  return dest;
}

void replace_in(const fs::path& file, const std::string& from, const std::string& to) {
  std::string text = read_file(file.string());
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, from.size(), to);
  std::ofstream(file) << text;
}

}  // namespace

TEST_CASE("Example tasks load in both formats with declared metric directions", "[task]") {
  auto digits = Task::load(example("digits-mlab"));
  CHECK(digits.format == "mlagentbench");
  CHECK(digits.metric == "accuracy");
  CHECK(digits.direction == Direction::higher);
  CHECK(digits.problem.find("handwritten-digit") != std::string::npos);
  CHECK(digits.read_only.size() == 3);
  CHECK(digits.prepare.size() == 2);
  CHECK(digits.workspace == example("digits-mlab") / "env");

  auto bc = Task::load(example("breast-cancer-native"));
  CHECK(bc.format == "native");
  CHECK(bc.direction == Direction::higher);
  CHECK(bc.prepare.empty());
  auto db = Task::load(example("diabetes-native"));
  CHECK(db.metric == "rmse");
  CHECK(db.direction == Direction::lower);
  CHECK(db.problem.find("diabetes") != std::string::npos);  // from problem_file
  CHECK(db.expand({"{python}", "{task}/eval.py", "{workspace}"}, "/w") ==
        std::vector<std::string>{"/usr/bin/python3", db.folder.string() + "/eval.py", "/w"});

  // The success rule in both directions.
  CHECK(db.relative_improvement(73.8, 53.4) == Approx((73.8 - 53.4) / 73.8));
  CHECK(db.succeeded(73.8, 60.0));
  CHECK_FALSE(db.succeeded(73.8, 70.0));
  CHECK(bc.succeeded(0.72, 0.80));
  CHECK_FALSE(bc.succeeded(0.72, 0.78));
}

TEST_CASE("Bad task folders get errors naming the file and the problem", "[task]") {
  TempDir dir;
  auto e = expect_error([&] { Task::load(dir.path / "nope"); });
  CHECK(e.code_enum() == errc::not_found);
  e = expect_error([&] { Task::load(dir.path); });
  CHECK(std::string(e.what()).find("not a task folder") != std::string::npos);

  // MLAgentBench format without a direction: never guessed.
  auto mlab = copy_task(dir, "digits-mlab");
  fs::remove(mlab / "scripts" / "metric.json");
  e = expect_error([&] { Task::load(mlab); });
  CHECK(e.code_enum() == errc::parse);
  CHECK(std::string(e.what()).find("higher or lower") != std::string::npos);
  TaskLoadOptions lo;
  lo.direction = Direction::higher;
  CHECK(Task::load(mlab, lo).direction == Direction::higher);
  fs::remove(mlab / "scripts" / "eval.py");
  e = expect_error([&] { Task::load(mlab, lo); });
  CHECK(std::string(e.what()).find("scripts/eval.py") != std::string::npos);

  auto native = copy_task(dir, "breast-cancer-native");
  auto toml = native / "task.toml";
  std::string good = read_file(toml.string());
  std::ofstream(toml) << good << "\n[broken\n";
  e = expect_error([&] { Task::load(native); });
  CHECK(e.code_enum() == errc::parse);
  CHECK(std::string(e.what()).find("task.toml line") != std::string::npos);

  std::string no_run = good;
  no_run.replace(no_run.find("[run]"), 5, "[runx]");
  std::ofstream(toml) << no_run;
  e = expect_error([&] { Task::load(native); });
  CHECK(std::string(e.what()).find("'run.command' is missing") != std::string::npos);

  std::string bad_dir = good;
  bad_dir.replace(bad_dir.find("direction = \"higher\""), 20, "direction = \"up\"");
  std::ofstream(toml) << bad_dir;
  e = expect_error([&] { Task::load(native); });
  CHECK(std::string(e.what()).find("'eval.direction'") != std::string::npos);
  CHECK(std::string(e.what()).find("'up'") != std::string::npos);

  std::ofstream(toml) << good;
  fs::remove_all(native / "workspace");
  e = expect_error([&] { Task::load(native); });
  CHECK(std::string(e.what()).find("workspace folder") != std::string::npos);
}

TEST_CASE("Harness: prepare once, baseline stored, improvement measured by the evaluator", "[task][harness]") {
  TempDir dir;
  auto folder = copy_task(dir, "diabetes-native");
  auto task = Task::load(folder);
  Runtime rt;
  LocalExecutor exec(rt.executor());
  TaskHarness h(task, exec, dir.path / "state");

  auto b = rt.run(h.baseline());
  REQUIRE(b.ok());
  CHECK(*b.score == Approx(73.83).margin(0.01));
  CHECK(h.stored_baseline() == b.score);
  CHECK(b.run_command[1] == "train.py");
  CHECK(fs::exists(folder / "test_labels.csv"));  // prepared
  auto prepared_at = fs::last_write_time(folder / "test_labels.csv");
  rt.run(h.prepare());  // remembered: not run again
  CHECK(fs::last_write_time(folder / "test_labels.csv") == prepared_at);
  auto again = rt.run(h.baseline());  // stored, not re-measured
  CHECK(again.score == b.score);
  CHECK_FALSE(again.run.has_value());

  // An improved copy of the workspace, with snapshots: the number links to its snapshot.
  auto ws_dir = dir.path / "attempt1";
  h.copy_workspace(ws_dir);
  WorkspaceOptions wo;
  wo.store = dir.path / "store";
  Workspace ws(ws_dir, wo);
  ws.snapshot("start");
  auto src = read_file((ws_dir / "train.py").string());
  INFO(src);
  REQUIRE(src.find("DecisionTreeRegressor(random_state=SEED)") != std::string::npos);
  ws.edit("train.py", "DecisionTreeRegressor(random_state=SEED)", "LinearRegression()");
  ws.edit("train.py", "from sklearn.tree import DecisionTreeRegressor", "from sklearn.linear_model import LinearRegression");
  auto ev = rt.run(h.run_and_evaluate(ws_dir, &ws));
  INFO(ev.error);
  REQUIRE(ev.ok());
  CHECK(*ev.score < 60);
  CHECK(task.succeeded(*b.score, *ev.score));
  CHECK_FALSE(ev.snapshot.empty());
  CHECK(ws.snapshots().back() == ev.snapshot);
  CHECK(ev.run->has("hidden_paths") == LocalExecutor::support().read_only_root);
}

TEST_CASE("Harness reports broken experiments and broken evaluators clearly", "[task][harness]") {
  TempDir dir;
  auto folder = copy_task(dir, "breast-cancer-native");
  auto task = Task::load(folder);
  Runtime rt;
  LocalExecutor exec(rt.executor());
  TaskHarness h(task, exec, dir.path / "state");

  auto ws = dir.path / "ws";
  h.copy_workspace(ws);
  std::ofstream(ws / "train.py") << "raise SystemExit('model exploded')\n";
  auto ev = rt.run(h.run_and_evaluate(ws));
  CHECK_FALSE(ev.ok());
  CHECK(ev.error.find("exited with code 1") != std::string::npos);
  CHECK(ev.error.find("model exploded") != std::string::npos);

  // The experiment cannot read the hidden test labels in the task folder.
  if (LocalExecutor::support().read_only_root) {
    std::ofstream(ws / "train.py") << "import sys\ntry:\n  open('" + (folder / "test_labels.csv").string() +
                                          "').read(); print('CHEATED')\nexcept OSError:\n  print('labels hidden')\n";
    auto peek = rt.run(h.run_and_evaluate(ws));
    REQUIRE(peek.run);
    CHECK(peek.run->stdout_head == "labels hidden\n");
  }

  // An evaluator that crashes, and one that prints no number.
  h.copy_workspace(dir.path / "ws2");
  std::ofstream(folder / "eval.py") << "import sys\nprint('scoring...')\nraise RuntimeError('evaluator bug')\n";
  auto e1 = rt.run(h.evaluate(dir.path / "ws2"));
  CHECK_FALSE(e1.ok());
  CHECK(e1.error.find("evaluator exited with code 1") != std::string::npos);
  CHECK(e1.error.find("evaluator bug") != std::string::npos);
  std::ofstream(folder / "eval.py") << "print('all good, accuracy high')\n";
  auto e2 = rt.run(h.evaluate(dir.path / "ws2"));
  CHECK_FALSE(e2.ok());
  CHECK(e2.error.find("not a number") != std::string::npos);
  std::ofstream(folder / "eval.py") << "print('{\"accuracy\": 0.5}')\n";
  auto e3 = rt.run(h.evaluate(dir.path / "ws2"));
  REQUIRE(e3.ok());
  CHECK(*e3.score == 0.5);

  // A baseline that fails is refused.
  std::ofstream(task.workspace / "train.py") << "raise SystemExit(2)\n";
  auto e = expect_error([&] { rt.run(h.baseline(true)); });
  CHECK(e.code_enum() == errc::invalid_argument);
  CHECK(std::string(e.what()).find("baseline") != std::string::npos);
}

TEST_CASE("MLAgentBench task: prepare, baseline via get_score, improvement", "[task][harness]") {
  TempDir dir;
  auto folder = copy_task(dir, "digits-mlab");
  auto task = Task::load(folder);
  Runtime rt;
  LocalExecutor exec(rt.executor());
  TaskHarness h(task, exec, dir.path / "state");
  auto b = rt.run(h.baseline());
  REQUIRE(b.ok());
  CHECK(*b.score == Approx(0.82).margin(0.005));
  auto ws = dir.path / "ws";
  h.copy_workspace(ws);
  CHECK(fs::exists(ws / "train.csv"));  // prepared data came along
  replace_in(ws / "train.py", "from sklearn.tree import DecisionTreeClassifier", "from sklearn.svm import SVC");
  replace_in(ws / "train.py", "DecisionTreeClassifier(random_state=SEED)", "SVC()");
  auto ev = rt.run(h.run_and_evaluate(ws));
  REQUIRE(ev.ok());
  CHECK(*ev.score > 0.95);
  CHECK(task.succeeded(*b.score, *ev.score));
}
