// Tasks: loading both folder formats, and the harness that prepares, measures the baseline and
// scores workspaces with the task's own evaluator under the sandbox.
#include <mlrcopilot/task.hpp>
#include <mlrcopilot/workspace.hpp>

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <simdjson.h>
#include <toml++/toml.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

namespace mlrc {
inline namespace v1 {

namespace fs = std::filesystem;
namespace json = boost::json;

const char* direction_name(Direction d) noexcept { return d == Direction::higher ? "higher" : "lower"; }

Direction parse_direction(std::string_view s) {
  if (s == "higher" || s == "max" || s == "maximize") return Direction::higher;
  if (s == "lower" || s == "min" || s == "minimize") return Direction::lower;
  throw Error(errc::parse, "metric direction '" + std::string(s) + "' is not 'higher' or 'lower'");
}

fs::path default_home() {
  if (const char* h = std::getenv("MLRC_HOME"); h && *h) return h;
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".mlrc";
  return fs::temp_directory_path() / "mlrc";
}

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(errc::not_found, "cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += hex[md[i] >> 4], out += hex[md[i] & 15];
  return out;
}

// ---- native task.toml

struct Toml {
  const toml::table& t;
  fs::path file;
  std::string where(std::string_view key) const { return file.string() + ": field '" + std::string(key) + "'"; }
  const toml::node* node(std::string_view dotted) const { return t.at_path(dotted).node(); }
  std::optional<std::string> str(std::string_view key, bool required = false) const {
    auto* n = node(key);
    if (!n) {
      if (required) throw Error(errc::parse, where(key) + " is missing");
      return std::nullopt;
    }
    if (!n->is_string()) throw Error(errc::parse, where(key) + " must be a string");
    return std::string(*n->value<std::string>());
  }
  std::optional<double> num(std::string_view key) const {
    auto* n = node(key);
    if (!n) return std::nullopt;
    if (!n->is_number()) throw Error(errc::parse, where(key) + " must be a number");
    return *n->value<double>();
  }
  std::vector<std::string> argv(std::string_view key, bool required) const {
    auto* n = node(key);
    if (!n) {
      if (required) throw Error(errc::parse, where(key) + " is missing (a command as an array of strings)");
      return {};
    }
    auto* arr = n->as_array();
    if (!arr || arr->empty()) throw Error(errc::parse, where(key) + " must be a non-empty array of strings");
    std::vector<std::string> out;
    for (auto& e : *arr) {
      if (!e.is_string()) throw Error(errc::parse, where(key) + " must contain only strings");
      out.push_back(std::string(*e.value<std::string>()));
    }
    return out;
  }
  std::vector<std::string> strings(std::string_view key) const {
    auto* n = node(key);
    if (!n) return {};
    auto* arr = n->as_array();
    if (!arr) throw Error(errc::parse, where(key) + " must be an array of strings");
    std::vector<std::string> out;
    for (auto& e : *arr) {
      if (!e.is_string()) throw Error(errc::parse, where(key) + " must contain only strings");
      out.push_back(std::string(*e.value<std::string>()));
    }
    return out;
  }
};

Task load_native(const fs::path& folder, const TaskLoadOptions& opts) {
  fs::path file = folder / "task.toml";
  toml::table tbl;
  try {
    tbl = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw Error(errc::parse, file.string() + " line " + std::to_string(e.source().begin.line) + ", column " +
                                 std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  Toml t{tbl, file};
  Task task;
  task.format = "native";
  task.folder = folder;
  task.name = t.str("name").value_or(folder.filename().string());
  if (auto p = t.str("problem")) task.problem = *p;
  else if (auto pf = t.str("problem_file")) task.problem = read_text(folder / *pf);
  else throw Error(errc::parse, file.string() + ": needs 'problem' (text) or 'problem_file' (a file in the task folder)");
  if (trim(task.problem).empty()) throw Error(errc::parse, file.string() + ": the research problem is empty");
  task.workspace = folder / t.str("workspace").value_or("workspace");
  task.read_only = t.strings("read_only");
  task.interpreter = t.str("interpreter").value_or("/usr/bin/python3");
  task.prepare = t.argv("prepare", false);
  if (auto* n = t.node("prepare_network"); n && n->is_boolean()) task.prepare_network = *n->value<bool>();
  task.run = t.argv("run.command", true);
  if (auto s = t.num("run.timeout_s")) task.run_timeout = std::chrono::seconds(static_cast<long>(*s));
  task.eval = t.argv("eval.command", true);
  if (auto s = t.num("eval.timeout_s")) task.eval_timeout = std::chrono::seconds(static_cast<long>(*s));
  task.metric = t.str("eval.metric", opts.metric.empty()).value_or("");
  if (auto d = t.str("eval.direction")) {
    try {
      task.direction = parse_direction(*d);
    } catch (const Error& e) {
      throw Error(errc::parse, t.where("eval.direction") + ": " + e.what());
    }
  } else if (!opts.direction) {
    throw Error(errc::parse, t.where("eval.direction") + " is missing: say whether a higher or lower " + task.metric + " is better");
  }
  task.expected_baseline = t.num("baseline.expected");
  if (auto r = t.num("success.min_relative_improvement")) task.success.min_relative_improvement = *r;
  if (auto m = t.num("limits.memory_mb")) task.limits.memory_bytes = static_cast<std::uint64_t>(*m) << 20;
  if (auto m = t.num("limits.address_space_mb")) task.limits.address_space_bytes = static_cast<std::uint64_t>(*m) << 20;
  if (auto p = t.num("limits.processes")) task.limits.processes = static_cast<std::uint64_t>(*p);
  if (auto c = t.num("limits.cpu_s")) task.limits.cpu = std::chrono::seconds(static_cast<long>(*c));
  if (auto f = t.num("limits.file_size_mb")) task.limits.file_size_bytes = static_cast<std::uint64_t>(*f) << 20;
  if (auto o = t.num("limits.output_mb")) task.limits.output_bytes = static_cast<std::uint64_t>(*o) << 20;
  return task;
}

// ---- MLAgentBench / MLR-Copilot folder

// Imports scripts/eval.py by path and prints get_score(workspace) — the format's contract.
constexpr const char* kMlabEval =
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('mlrc_task_eval', sys.argv[1])\n"
    "mod = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(mod)\n"
    "print(float(mod.get_score(sys.argv[2])))\n";

Task load_mlab(const fs::path& folder, const TaskLoadOptions& opts) {
  Task task;
  task.format = "mlagentbench";
  task.folder = folder;
  task.name = folder.filename().string();
  fs::path scripts = folder / "scripts";
  task.workspace = folder / "env";
  fs::path problem = scripts / "research_problem.txt";
  if (!fs::exists(problem)) throw Error(errc::not_found, "task " + folder.string() + ": missing scripts/research_problem.txt");
  task.problem = read_text(problem);
  if (trim(task.problem).empty()) throw Error(errc::parse, problem.string() + " is empty");
  fs::path eval = scripts / "eval.py";
  if (!fs::exists(eval)) throw Error(errc::not_found, "task " + folder.string() + ": missing scripts/eval.py (it must define get_score(submission_folder))");
  if (read_text(eval).find("def get_score") == std::string::npos)
    throw Error(errc::parse, eval.string() + " does not define get_score(submission_folder)");
  if (fs::path ro = scripts / "read_only_files.txt"; fs::exists(ro)) {
    std::stringstream ss(read_text(ro));
    for (std::string line; std::getline(ss, line);) {
      line = trim(line);
      if (!line.empty() && line[0] != '#') task.read_only.push_back(line);
    }
  }
  if (fs::exists(scripts / "prepare.py")) task.prepare = {"{python}", "{task}/scripts/prepare.py"};
  task.run = {"{python}", "train.py"};
  task.eval = {"{python}", "-c", kMlabEval, "{task}/scripts/eval.py", "{workspace}"};
  if (fs::path mj = scripts / "metric.json"; fs::exists(mj)) {
    std::string text = read_text(mj);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto err = parser.parse(text).get(doc)) throw Error(errc::parse, mj.string() + ": not JSON (" + simdjson::error_message(err) + ")");
    std::string_view v;
    if (!doc["metric"].get_string().get(v)) task.metric = std::string(v);
    if (!doc["direction"].get_string().get(v)) {
      try {
        task.direction = parse_direction(v);
      } catch (const Error& e) {
        throw Error(errc::parse, mj.string() + ": field 'direction': " + e.what());
      }
    } else if (!opts.direction) {
      throw Error(errc::parse, mj.string() + ": field 'direction' (\"higher\" or \"lower\") is missing");
    }
    simdjson::dom::array run;
    if (!doc["run"].get_array().get(run)) {
      task.run.clear();
      for (auto a : run) {
        std::string_view s;
        if (a.get_string().get(s)) throw Error(errc::parse, mj.string() + ": field 'run' must be an array of strings");
        task.run.emplace_back(s);
      }
    }
    double d;
    if (!doc["min_relative_improvement"].get_double().get(d)) task.success.min_relative_improvement = d;
  } else if (!opts.direction) {
    throw Error(errc::parse, "task " + folder.string() +
                                 " (MLAgentBench format) does not say whether a higher or lower score is better: add "
                                 "scripts/metric.json {\"metric\": \"accuracy\", \"direction\": \"higher\"} or pass a direction");
  }
  if (task.metric.empty()) task.metric = "score";
  return task;
}

double parse_score(const std::string& stdout_text, const std::string& metric, std::string& error) {
  std::stringstream ss(stdout_text);
  std::string line, last;
  while (std::getline(ss, line))
    if (!trim(line).empty()) last = trim(line);
  if (last.empty()) {
    error = "the evaluator printed nothing (expected the score on its last line)";
    return NAN;
  }
  char* end = nullptr;
  double v = std::strtod(last.c_str(), &end);
  if (end && *end == '\0' && end != last.c_str()) {
    if (!std::isfinite(v)) error = "the evaluator printed a non-finite score '" + last + "'";
    return v;
  }
  // A JSON object with the metric (or "score") is accepted too.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (!parser.parse(last).get(doc) && doc.is_object()) {
    for (const std::string& key : {metric, std::string("score")}) {
      double d;
      if (!key.empty() && !doc[key].get_double().get(d)) return d;
    }
  }
  error = "the evaluator's last line is not a number: '" + last.substr(0, 200) + "'";
  return NAN;
}

json::value job_json(const JobResult& r) { return json::parse(to_json(r)); }

json::array str_array(const std::vector<std::string>& v) {
  json::array a;
  for (auto& s : v) a.emplace_back(s);
  return a;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

Task Task::load(const fs::path& folder_in, const TaskLoadOptions& opts) {
  std::error_code ec;
  fs::path folder = fs::canonical(folder_in, ec);
  if (ec || !fs::is_directory(folder)) throw Error(errc::not_found, "task folder '" + folder_in.string() + "' does not exist");
  Task t;
  if (fs::exists(folder / "task.toml")) t = load_native(folder, opts);
  else if (fs::is_directory(folder / "env") && fs::is_directory(folder / "scripts")) t = load_mlab(folder, opts);
  else
    throw Error(errc::parse, "'" + folder.string() +
                                 "' is not a task folder: expected task.toml, or env/ and scripts/ (MLAgentBench format)");
  if (opts.direction) t.direction = *opts.direction;
  if (!opts.metric.empty()) t.metric = opts.metric;
  if (!opts.interpreter.empty()) t.interpreter = opts.interpreter;
  if (!fs::is_directory(t.workspace)) throw Error(errc::not_found, "task " + t.name + ": workspace folder " + t.workspace.string() + " does not exist");
  if (t.limits.wall.count() == 0) t.limits.wall = std::chrono::duration_cast<std::chrono::milliseconds>(t.run_timeout);
  return t;
}

std::vector<std::string> Task::expand(const std::vector<std::string>& argv, const fs::path& ws) const {
  std::vector<std::string> out;
  for (std::string a : argv) {
    for (auto [key, val] : {std::pair<std::string, std::string>{"{python}", interpreter}, {"{task}", folder.string()},
                            {"{workspace}", ws.string()}}) {
      for (auto pos = a.find(key); pos != std::string::npos; pos = a.find(key, pos + val.size())) a.replace(pos, key.size(), val);
    }
    out.push_back(std::move(a));
  }
  return out;
}

double Task::relative_improvement(double baseline, double score) const {
  double denom = std::abs(baseline) > 1e-12 ? std::abs(baseline) : 1e-12;
  double diff = direction == Direction::higher ? score - baseline : baseline - score;
  return diff / denom;
}

bool Task::succeeded(double baseline, double score) const {
  return relative_improvement(baseline, score) >= success.min_relative_improvement - 1e-12;
}

std::string Task::to_json() const {
  json::object o;
  o["name"] = name;
  o["format"] = format;
  o["folder"] = folder.string();
  o["workspace"] = workspace.string();
  o["metric"] = metric;
  o["direction"] = direction_name(direction);
  o["min_relative_improvement"] = success.min_relative_improvement;
  o["read_only"] = str_array(read_only);
  o["prepare"] = str_array(prepare);
  o["run"] = str_array(run);
  o["eval"] = str_array(eval);
  o["run_timeout_s"] = run_timeout.count();
  o["eval_timeout_s"] = eval_timeout.count();
  if (expected_baseline) o["expected_baseline"] = *expected_baseline;
  o["problem"] = problem;
  return json::serialize(o);
}

std::string Evaluation::to_json() const {
  json::object o;
  if (score) o["score"] = *score;
  else o["score"] = nullptr;
  o["error"] = error;
  o["workspace"] = workspace.string();
  o["snapshot"] = snapshot;
  o["run_command"] = str_array(run_command);
  o["eval_command"] = str_array(eval_command);
  if (run) o["run"] = job_json(*run);
  o["eval"] = job_json(eval);
  return json::serialize(o);
}

TaskHarness::TaskHarness(Task task, Executor& executor, fs::path state_dir)
    : task_(std::move(task)), exec_(executor), state_(std::move(state_dir)) {
  std::error_code ec;
  fs::create_directories(state_, ec);
  if (ec) throw Error(errc::io, "cannot create task state folder " + state_.string() + ": " + ec.message());
}

boost::asio::awaitable<void> TaskHarness::prepare(bool force) {
  if (task_.prepare.empty()) co_return;
  // The stamp remembers what was prepared: the command and the content of the files it names.
  std::string what;
  for (auto& a : task_.expand(task_.prepare, task_.workspace)) {
    what += a + "\n";
    if (fs::is_regular_file(a)) what += sha256_hex(read_text(a)) + "\n";
  }
  std::string hash = sha256_hex(what);
  // Prepare writes into the task folder, so the stamp and a lock live there too: runs of the same
  // task (other processes included) prepare it once, and none reads data another is writing.
  fs::path stamp = task_.folder / ".mlrc-prepared.json";
  int lock_fd = ::open((task_.folder / ".mlrc-prepare.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) throw Error(errc::io, "cannot create the prepare lock in " + task_.folder.string() + ": " + std::strerror(errno));
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // closing releases the flock
  } unlock{lock_fd};
  boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
  while (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {  // never block the runtime's thread
    wait.expires_after(std::chrono::milliseconds(100));
    co_await wait.async_wait(boost::asio::use_awaitable);
  }
  if (!force && fs::exists(stamp) && read_text(stamp).find(hash) != std::string::npos) co_return;
  JobSpec spec;
  spec.argv = task_.expand(task_.prepare, task_.workspace);
  spec.cwd = task_.folder;
  spec.network = task_.prepare_network;
  spec.limits.wall = std::chrono::minutes(30);
  spec.env["PYTHONDONTWRITEBYTECODE"] = "1";
  spec.log_dir = state_ / "prepare-logs";
  JobResult r = co_await exec_.run(spec);
  if (!r.ok())
    throw Error(errc::io, "prepare of task " + task_.name + " failed (" + r.summary() + "): " + r.output_excerpt(2000));
  json::object o{{"hash", hash}, {"command", str_array(spec.argv)}, {"at", now_iso()}};
  std::ofstream(stamp) << json::serialize(o) << "\n";
}

void TaskHarness::copy_workspace(const fs::path& dest) const {
  if (fs::exists(dest)) throw Error(errc::invalid_argument, "workspace destination " + dest.string() + " already exists");
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  fs::copy(task_.workspace, dest, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) throw Error(errc::io, "cannot copy workspace " + task_.workspace.string() + " to " + dest.string() + ": " + ec.message());
}

boost::asio::awaitable<Evaluation> TaskHarness::evaluate(fs::path workspace) {
  Evaluation ev;
  ev.workspace = fs::absolute(workspace);
  ev.eval_command = task_.expand(task_.eval, ev.workspace);
  JobSpec spec;
  spec.argv = ev.eval_command;
  spec.cwd = task_.folder;
  spec.limits.wall = std::chrono::duration_cast<std::chrono::milliseconds>(task_.eval_timeout);
  spec.env["PYTHONDONTWRITEBYTECODE"] = "1";
  ev.eval = co_await exec_.run(spec);
  if (!ev.eval.ok()) {
    std::string out = ev.eval.output_excerpt(1500);
    ev.error = "the evaluator " + ev.eval.summary() + (out.empty() ? " (no output)" : ":\n" + out);
    co_return ev;
  }
  std::string err;
  double v = parse_score(ev.eval.stdout_head + ev.eval.stdout_tail, task_.metric, err);
  if (err.empty()) ev.score = v;
  else ev.error = err;
  co_return ev;
}

boost::asio::awaitable<Evaluation> TaskHarness::run_and_evaluate(fs::path workspace, Workspace* ws, OutputObserver* observer) {
  fs::path root = fs::absolute(workspace);
  JobSpec spec;
  spec.argv = task_.expand(task_.run, root);
  spec.cwd = root;
  spec.limits = task_.limits;
  spec.log_dir = root.parent_path() / ".mlrc-logs" / std::to_string(std::time(nullptr));
  // The experiment must not see the task folder (hidden labels, the evaluator) — unless the
  // workspace lives inside it.
  auto rel = fs::relative(root, task_.folder);
  if (rel.empty() || *rel.begin() == "..") spec.hidden.push_back(task_.folder);
  JobResult run = co_await exec_.run(spec, observer);
  std::string snapshot;
  if (ws) snapshot = ws->snapshot("after run").id;
  if (!run.ok()) {
    Evaluation ev;
    ev.workspace = root;
    ev.run_command = spec.argv;
    ev.snapshot = snapshot;
    std::string out = run.output_excerpt(3000);
    ev.error = "the experiment " + run.summary() + (out.empty() ? " (no output)" : ":\n" + out);
    ev.run = std::move(run);
    co_return ev;
  }
  Evaluation ev = co_await evaluate(root);
  ev.run = std::move(run);
  ev.run_command = spec.argv;
  ev.snapshot = snapshot;
  co_return ev;
}

std::optional<double> TaskHarness::stored_baseline() const {
  fs::path p = state_ / "baseline.json";
  if (!fs::exists(p)) return std::nullopt;
  std::string text = read_text(p);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  double d;
  if (parser.parse(text).get(doc) || doc["score"].get_double().get(d)) return std::nullopt;
  return d;
}

boost::asio::awaitable<Evaluation> TaskHarness::baseline(bool force) {
  if (!force) {
    if (auto s = stored_baseline()) {
      Evaluation ev;
      ev.score = s;
      ev.workspace = state_ / "baseline" / "workspace";
      ev.run_command = task_.expand(task_.run, ev.workspace);
      ev.eval_command = task_.expand(task_.eval, ev.workspace);
      co_return ev;
    }
  }
  co_await prepare();
  fs::path dest = state_ / "baseline" / "workspace";
  std::error_code ec;
  fs::remove_all(dest.parent_path(), ec);
  copy_workspace(dest);
  Evaluation ev = co_await run_and_evaluate(dest);
  if (!ev.ok()) throw Error(errc::invalid_argument, "the baseline of task " + task_.name + " fails, so it cannot be improved on: " + ev.error);
  json::object o{{"score", *ev.score},
                 {"metric", task_.metric},
                 {"direction", direction_name(task_.direction)},
                 {"run_command", str_array(ev.run_command)},
                 {"eval_command", str_array(ev.eval_command)},
                 {"workspace", dest.string()},
                 {"measured_at", now_iso()}};
  std::ofstream(state_ / "baseline.json") << json::serialize(o) << "\n";
  co_return ev;
}

}  // namespace v1
}  // namespace mlrc
