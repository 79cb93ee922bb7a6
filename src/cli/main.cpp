// mlrc: the command-line front end. Commands: chat, models check, task, sandbox, version.
// Exit codes: 0 success; 1 the operation failed (network, provider, timeout, budget …);
// 2 usage error (unknown command or option, missing argument); 3 configuration error
// (malformed model spec, missing API key, bad file).
#include "cli/args.hpp"
#include "cli/cmd_index.hpp"

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/executor.hpp>
#include <mlrcopilot/paper.hpp>
#include <mlrcopilot/online.hpp>
#include <mlrcopilot/planner.hpp>
#include <mlrcopilot/retriever.hpp>
#include <mlrcopilot/session.hpp>
#include <mlrcopilot/task.hpp>
#include <mlrcopilot/json.hpp>
#include <mlrcopilot/middleware.hpp>
#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/runtime.hpp>
#include <mlrcopilot/version.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_config = 3;

using Usage_error = mlrc::cli::UsageError;
using mlrc::cli::Args;
using mlrc::cli::parse_args;

double to_number(const std::string& opt, const std::string& v) {
  try {
    std::size_t n = 0;
    double d = std::stod(v, &n);
    if (n != v.size() || d < 0) throw std::invalid_argument(v);
    return d;
  } catch (const std::exception&) {
    throw Usage_error("option --" + opt + ": '" + v + "' is not a non-negative number");
  }
}

const char* main_help = R"(mlrc — machine-learning research with LLM agents

Usage: mlrc <command> [options]

Commands:
  chat           send one chat to a model and print the reply
  models check   check that a model endpoint and its key work (spends no tokens where possible)
  ideas          phase 1 only: read a paper, propose, review and rank ideas
  run            run all three phases: ideas from a paper, then implement and execute on a task
  resume         continue a run that was interrupted
  runs           list runs
  report         rewrite a run's report.md / report.html / result.json
  demo           an offline three-phase run on the bundled example, with a scripted model
  task           check a task folder, measure its baseline, evaluate a workspace
  index          build, extend and search local indexes of papers, code, models and datasets
  sandbox        run any command in the sandbox and print the result as JSON
  version        print the library version

Run 'mlrc <command> --help' for a command's options.
Exit codes: 0 success, 1 operation failed, 2 usage error, 3 configuration error.
)";

const char* chat_help = R"(Usage: mlrc chat --model SPEC [options] PROMPT...
       mlrc chat --model SPEC [options] -        (prompt from standard input)

Sends one chat and prints the reply.

Model specs: openai:MODEL, anthropic:MODEL, ollama:MODEL,
  openai-compatible:BASE_URL#MODEL, anthropic-compatible:BASE_URL#MODEL.
Keys come from OPENAI_API_KEY / ANTHROPIC_API_KEY; bases from OPENAI_BASE_URL,
ANTHROPIC_BASE_URL, OLLAMA_HOST; proxies from HTTPS_PROXY / HTTP_PROXY / NO_PROXY.

Options:
  --model SPEC          model to use (default: $MLRC_MODEL)
  --system TEXT         system prompt
  --stream              print the reply as it arrives
  --json                print one JSON object: text, tool_calls, usage, cost_usd, …
  --max-tokens N        cap the reply length
  --temperature T       sampling temperature
  --timeout SEC         deadline for the whole call including retries (default 600)
  --retries N           attempts on 429/5xx/connection loss (default 4, 1 = no retry)
  --base-url URL        override the provider's base URL
  --ca-file FILE        extra trusted CA certificates (PEM)
  --cassette FILE       record/replay file (JSON lines)
  --cassette-mode M     record | replay | auto (replay when recorded, else record; default auto)
  --budget-tokens N     refuse to start once N tokens are spent
  --budget-usd X        refuse to start once $X is spent
  -h, --help            this help
)";

const char* models_help = R"(Usage: mlrc models check SPEC [--base-url URL] [--ca-file FILE] [--timeout SEC]

Tells whether the endpoint answers and accepts the key, by listing its models (no tokens
spent), and whether it offers the named model. Exit 0 if it works, 1 if not, 3 if the spec or
configuration is wrong.
)";

class PrintObserver : public mlrc::StreamObserver {
 public:
  void on_text(std::string_view d) override {
    std::fwrite(d.data(), 1, d.size(), stdout);
    std::fflush(stdout);
  }
};

int report(const mlrc::Error& e) {
  std::fprintf(stderr, "mlrc: error: %s\n", e.what());
  if (!e.provider_text().empty()) std::fprintf(stderr, "mlrc: provider said: %s\n", e.provider_text().c_str());
  auto c = e.code_enum();
  return c == mlrc::errc::config || c == mlrc::errc::parse || c == mlrc::errc::invalid_argument
             ? exit_config
             : exit_failed;
}

mlrc::ProviderConfig provider_config(const Args& a) {
  mlrc::ProviderConfig cfg;
  cfg.base_url = a.get("base-url");
  cfg.ca_file = a.get("ca-file");
  if (a.has("timeout")) cfg.timeout = std::chrono::milliseconds(static_cast<long long>(to_number("timeout", a.get("timeout")) * 1000));
  return cfg;
}

int cmd_chat(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"stream", "json", "help"},
                      {"model", "system", "max-tokens", "temperature", "timeout", "retries", "base-url", "ca-file",
                       "cassette", "cassette-mode", "budget-tokens", "budget-usd"});
  if (a.has("help")) return std::fputs(chat_help, stdout), exit_ok;
  std::string spec = a.get("model");
  if (spec.empty())
    if (const char* m = std::getenv("MLRC_MODEL")) spec = m;
  if (spec.empty()) throw Usage_error("chat: --model SPEC is required (or set MLRC_MODEL)");
  std::string prompt;
  if (a.pos.size() == 1 && a.pos[0] == "-") {
    prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    for (auto& p : a.pos) prompt += (prompt.empty() ? "" : " ") + p;
  }
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) throw Usage_error("chat: the prompt is empty");

  mlrc::ChatRequest req;
  if (a.has("system")) req.messages.push_back(mlrc::Message::system(a.get("system")));
  req.messages.push_back(mlrc::Message::user(prompt));
  req.stream = a.has("stream");
  if (a.has("max-tokens")) req.max_tokens = static_cast<std::int64_t>(to_number("max-tokens", a.get("max-tokens")));
  if (a.has("temperature")) req.temperature = to_number("temperature", a.get("temperature"));
  req.timeout = std::chrono::milliseconds(static_cast<long long>(to_number("timeout", a.get("timeout", "600")) * 1000));

  mlrc::Runtime rt;
  mlrc::ModelPtr model;
  std::string mode = a.get("cassette-mode", "auto");
  bool replay_only = a.has("cassette") && mode == "replay";
  if (!replay_only) model = mlrc::make_model(rt.executor(), spec, provider_config(a));
  mlrc::RetryPolicy rp;
  if (a.has("retries")) rp.max_attempts = std::max(1, static_cast<int>(to_number("retries", a.get("retries"))));
  if (model) model = mlrc::with_retry(model, rp);
  if (a.has("cassette")) {
    mlrc::CassetteMode m = mode == "record" ? mlrc::CassetteMode::record
                           : mode == "replay" ? mlrc::CassetteMode::replay
                           : mode == "auto"   ? mlrc::CassetteMode::replay_or_record
                                              : throw Usage_error("--cassette-mode must be record, replay or auto");
    model = mlrc::with_cassette(model, a.get("cassette"), m);
  }
  auto ledger = std::make_shared<mlrc::Ledger>();
  mlrc::Budget budget;
  if (a.has("budget-tokens")) budget.max_tokens = static_cast<std::int64_t>(to_number("budget-tokens", a.get("budget-tokens")));
  if (a.has("budget-usd")) budget.max_cost_usd = to_number("budget-usd", a.get("budget-usd"));
  model = mlrc::with_accounting(model, ledger, mlrc::PriceTable::defaults(), budget);

  PrintObserver printer;
  bool json = a.has("json");
  auto resp = rt.run(model->chat(req, req.stream && !json ? &printer : nullptr));
  if (json) {
    std::printf("%s\n", mlrc::to_json(resp).c_str());
  } else if (req.stream) {
    std::printf("\n");
  } else {
    std::printf("%s\n", resp.text.c_str());
  }
  if (!json)
    for (auto& c : resp.tool_calls) std::printf("[tool call %s %s %s]\n", c.id.c_str(), c.name.c_str(), c.arguments.c_str());
  return exit_ok;
}

int cmd_models(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help"}, {"base-url", "ca-file", "timeout"});
  if (a.has("help") || a.pos.empty()) {
    std::fputs(models_help, a.has("help") ? stdout : stderr);
    return a.has("help") ? exit_ok : exit_usage;
  }
  if (a.pos[0] != "check") throw Usage_error("models: unknown subcommand '" + a.pos[0] + "' (expected: check)");
  if (a.pos.size() != 2) throw Usage_error("models check: expected exactly one SPEC");
  mlrc::Runtime rt;
  auto model = mlrc::make_model(rt.executor(), a.pos[1], provider_config(a));
  rt.run(model->check());
  std::printf("ok: %s answers and accepts the credentials\n", model->describe().c_str());
  return exit_ok;
}

const char* task_help = R"(Usage: mlrc task check TASK [--direction higher|lower] [--metric NAME] [--json]
       mlrc task baseline TASK [--force] [--home DIR] [--json]
       mlrc task eval TASK WORKSPACE [--run] [--home DIR] [--json]

  check      validate a task folder (native task.toml or MLAgentBench env/ + scripts/) and
             print what it declares
  baseline   run the task's prepare step (once), then run and score the untouched workspace;
             the score is remembered in $MLRC_HOME/tasks/ (--force measures again)
  eval       score WORKSPACE with the task's evaluator; with --run, run the experiment first

Options:
  --direction D   metric direction when the task folder does not declare it
  --metric NAME   metric name override
  --home DIR      state folder (default: $MLRC_HOME, else ~/.mlrc)
  --json          print JSON
Exit codes: 0 ok, 1 the run/evaluation failed, 2 usage, 3 the task folder is invalid.
)";

const char* sandbox_help = R"(Usage: mlrc sandbox [options] -- COMMAND [ARGS...]

Runs COMMAND under the local sandbox and prints the result as JSON: how it ended, exit
code or signal, resource use, output head/tail, and which protections were active.

Options:
  --cwd DIR            working directory (default: current); the job may write there
  --writable DIR       another folder the job may write (repeatable as a comma list)
  --hide DIR           folders the job must not see (comma list)
  --wall SEC           wall-clock limit
  --cpu SEC            CPU-time limit
  --memory MB          memory limit (cgroup, else address space)
  --address-space MB   virtual address-space limit
  --processes N        process/thread limit
  --file-size MB       largest file the job may write
  --open-files N       open file limit
  --output MB          stdout+stderr limit
  --network            allow network access (default: none)
  --no-confine         do not make the file system read-only
  --allow-degraded     run even if a protection is unavailable (recorded in the result)
  --log-dir DIR        write stdout.log and stderr.log there
Exit code: the job's exit code; 128+N if killed by signal N; 124 wall-clock timeout;
125 another limit hit or cancelled; 126 failed to start; 2 usage error.
)";

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::filesystem::path task_state_dir(const Args& a, const mlrc::Task& t) {
  std::filesystem::path home = a.has("home") ? std::filesystem::path(a.get("home")) : mlrc::default_home();
  std::hash<std::string> h;
  char tag[17];
  std::snprintf(tag, sizeof tag, "%016zx", h(t.folder.string()));
  return home / "tasks" / (t.name + "-" + std::string(tag).substr(0, 10));
}

int cmd_task(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help", "json", "force", "run"}, {"direction", "metric", "home", "interpreter"});
  if (a.has("help")) return std::fputs(task_help, stdout), exit_ok;
  if (a.pos.size() < 2) {
    std::fputs(task_help, stderr);
    return exit_usage;
  }
  const std::string sub = a.pos[0];
  mlrc::TaskLoadOptions lo;
  if (a.has("direction")) lo.direction = mlrc::parse_direction(a.get("direction"));
  lo.metric = a.get("metric");
  lo.interpreter = a.get("interpreter");
  mlrc::Task task = mlrc::Task::load(a.pos[1], lo);
  bool json = a.has("json");
  if (sub == "check") {
    if (a.pos.size() != 2) throw Usage_error("task check: expected one TASK folder");
    if (json) {
      std::printf("%s\n", task.to_json().c_str());
    } else {
      std::printf("task %s (%s format) is valid\n  metric: %s, %s is better; success: >= %.0f%% relative improvement\n", task.name.c_str(),
                  task.format.c_str(), task.metric.c_str(), mlrc::direction_name(task.direction), task.success.min_relative_improvement * 100);
      std::printf("  workspace: %s\n  read-only: %zu pattern(s)\n  prepare: %s\n", task.workspace.string().c_str(), task.read_only.size(),
                  task.prepare.empty() ? "none" : "yes (run once)");
    }
    return exit_ok;
  }
  mlrc::Runtime rt;
  mlrc::LocalExecutor exec(rt.executor());
  mlrc::TaskHarness harness(task, exec, task_state_dir(a, task));
  if (sub == "baseline") {
    if (a.pos.size() != 2) throw Usage_error("task baseline: expected one TASK folder");
    auto ev = rt.run(harness.baseline(a.has("force")));
    if (json) std::printf("%s\n", ev.to_json().c_str());
    else std::printf("baseline %s = %.6g (%s is better)\n", task.metric.c_str(), *ev.score, mlrc::direction_name(task.direction));
    return exit_ok;
  }
  if (sub == "eval") {
    if (a.pos.size() != 3) throw Usage_error("task eval: expected TASK and WORKSPACE");
    auto ev = a.has("run") ? rt.run(harness.run_and_evaluate(a.pos[2])) : rt.run(harness.evaluate(a.pos[2]));
    if (json) {
      std::printf("%s\n", ev.to_json().c_str());
    } else if (ev.ok()) {
      std::printf("%s = %.6g", task.metric.c_str(), *ev.score);
      if (auto b = harness.stored_baseline())
        std::printf(" (baseline %.6g, %+.1f%%, %s)", *b, task.relative_improvement(*b, *ev.score) * 100,
                    task.succeeded(*b, *ev.score) ? "meets the success rule" : "below the success rule");
      std::printf("\n");
    } else {
      std::fprintf(stderr, "mlrc: evaluation failed: %s\n", ev.error.c_str());
    }
    return ev.ok() ? exit_ok : exit_failed;
  }
  throw Usage_error("task: unknown subcommand '" + sub + "' (expected check, baseline or eval)");
}

const char* run_help = R"(Usage: mlrc run --task TASK (--paper PAPER | --instructions TEXT) --model SPEC [options]
       mlrc resume RUN_ID [--home DIR]
       mlrc runs [--json] [--home DIR]
       mlrc report RUN_ID [--home DIR]
       mlrc demo [--model SPEC] [--home DIR]

run: phase 1 reads PAPER and proposes, reviews and ranks ideas; phases 2-3 implement the best one
in a copy of the task's workspace and run it in the sandbox; the task's evaluator decides success.
The run's folder (printed when it starts) holds result.json, report.md, report.html, chart.svg,
the workspace, its snapshots and run.db (everything needed to resume).

Options:
  --task DIR            task folder (native task.toml or MLAgentBench format)
  --paper FILE          paper (JSON, Markdown, text, PDF)
  --paper-id ID         a paper looked up by id: in --corpus FILE[,FILE] (JSON-lines, our format)
                        if given, else on Semantic Scholar (ids like arXiv:2408.14033, DOI:…,
                        CorpusId:…, or a paperId; S2_API_KEY optional)
  --instructions TEXT   what to implement, without phase 1
  --model SPEC          openai:…, anthropic:…, ollama:…, openai-compatible:URL#M, scripted:FILE
  --max-steps N         agent steps (default 30)
  --ideas N             ideas to propose (default 3)
  --refine-rounds N     review/refine rounds (default 1)
  --budget-tokens N     stop once N tokens are spent
  --budget-usd X        stop once $X is spent
  --protocol P          tools (native tool calling, default) or text (MLAgentBench format)
  --index DIR           local index (mlrc index build): related work for phase 1, retrieve_* tools
  --sources SPEC        online sources with fallback, e.g. s2,openalex,arxiv,local ("local" is
                        --index); see docs/retrieval.md
  --gates LIST          human feedback at: ideas, exec, step, help (comma list), all or none;
                        asked on this terminal
  --gate-timeout SEC    how long a gate waits before taking its default (default 600)
  --home DIR            where runs live (default $MLRC_HOME, else ~/.mlrc)
  --json                print result.json at the end instead of a summary
Exit codes: 0 the run finished and met the task's success rule; 4 it finished without meeting
it; 5 budget exhausted; 1 it failed; 2 usage; 3 bad input (task, paper, spec).
)";

class Progress {
 public:
  void operator()(const mlrc::Event& e) {
    if (e.kind == "phase_started") std::fprintf(stderr, "[%5.1fs] phase %s\n", elapsed(), field(e.json, "phase").c_str());
    else if (e.kind == "idea_proposed") std::fprintf(stderr, "[%5.1fs] idea: %s\n", elapsed(), field(e.json, "title").c_str());
    else if (e.kind == "ideas_ranked") std::fprintf(stderr, "[%5.1fs] chosen: %s\n", elapsed(), field(e.json, "title").c_str());
    else if (e.kind == "step") {
      std::string score = field(e.json, "score");
      std::fprintf(stderr, "[%5.1fs] step %s: %s%s%s | tokens in %lld out %lld\n", elapsed(), field(e.json, "index").c_str(),
                   field(e.json, "tool").c_str(), field(e.json, "tool_error") == "true" ? " (error)" : "",
                   score != "null" && !score.empty() ? (" score " + score).c_str() : "", static_cast<long long>(in_), static_cast<long long>(out_));
    } else if (e.kind == "cost") {
      in_ += std::atoll(field(e.json, "input_tokens").c_str());
      out_ += std::atoll(field(e.json, "output_tokens").c_str());
    } else if (e.kind == "warning") std::fprintf(stderr, "[%5.1fs] note: %s\n", elapsed(), field(e.json, "message").c_str());
  }

 private:
  static std::string field(const std::string& js, const char* k) {
    try {
      auto v = boost::json::parse(js);
      if (!v.is_object() || !v.as_object().contains(k)) return {};
      auto& x = v.as_object().at(k);
      return x.is_string() ? std::string(x.as_string()) : boost::json::serialize(x);
    } catch (...) {
      return {};
    }
  }
  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  long long in_ = 0, out_ = 0;
};

int finish(const mlrc::RunSummary& s, bool json) {
  if (json) {
    std::printf("%s\n", s.to_json().c_str());
  } else {
    std::printf("run %s: %s", s.run_id.c_str(), s.status.c_str());
    if (s.baseline && s.final_score) std::printf(", %s %.4g -> %.4g (%s is better)", s.metric.c_str(), *s.baseline, *s.final_score, s.direction.c_str());
    std::printf(", success: %s\n  folder: %s\n  report: %s\n", s.success ? "yes" : "no", s.folder.string().c_str(),
                (s.folder / "report.md").string().c_str());
    if (!s.error.empty()) std::printf("  note: %s\n", s.error.c_str());
  }
  if (s.status == "budget_exceeded") return 5;
  if (s.status == "failed") return exit_failed;
  return s.success ? exit_ok : 4;
}

int run_session(mlrc::Runtime& rt, mlrc::Session& session, bool json) {
  std::fprintf(stderr, "run %s: folder %s (model %s)\n", session.id().c_str(), session.folder().string().c_str(),
               session.config().model.c_str());
  Progress progress;
  session.on_event([&](const mlrc::Event& e) { progress(e); });
  if (session.config().gates) session.set_feedback(std::make_shared<mlrc::ConsoleFeedback>(session.config().gate_timeout));
  auto s = rt.run(session.run());
  return finish(s, json);
}

// --paper-id ID [--corpus FILE[,FILE]]: the paper looked up in a local JSON-lines corpus, or on
// Semantic Scholar without --corpus, saved as JSON under the home folder so that the run (and a
// resume) reads it like any paper file.
std::string paper_from_args(const Args& a) {
  if (!a.has("paper-id")) return a.get("paper");
  std::optional<mlrc::Paper> paper;
  if (a.has("corpus")) {
    std::vector<std::filesystem::path> files;
    for (auto& f : split_commas(a.get("corpus"))) files.emplace_back(f);
    paper = mlrc::Paper::find_in_jsonl(a.get("paper-id"), files);
    if (!paper) throw mlrc::Error(mlrc::errc::invalid_argument, "paper id '" + a.get("paper-id") + "' is not in " + a.get("corpus"));
  } else {
    mlrc::Runtime rt;
    mlrc::OnlineOptions o;
    o.cache.dir = mlrc::default_http_cache_dir();
    mlrc::SemanticScholarRetriever s2(rt.executor(), o);
    auto hit = rt.run(s2.paper(a.get("paper-id")));
    paper = mlrc::paper_from_hit(hit);
    if (paper->abstract.empty() && paper->title.empty())
      throw mlrc::Error(mlrc::errc::not_found, "semantic scholar has no title or abstract for paper '" + a.get("paper-id") + "'");
  }
  std::filesystem::path home = a.has("home") ? std::filesystem::path(a.get("home")) : mlrc::default_home();
  std::string name = a.get("paper-id");
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
  std::filesystem::create_directories(home / "papers");
  auto path = home / "papers" / (name + ".json");
  std::ofstream(path) << mlrc::to_json(*paper) << "\n";
  return path.string();
}

mlrc::SessionConfig session_config(const Args& a) {
  mlrc::SessionConfig c;
  c.task = a.get("task");
  c.paper = paper_from_args(a);
  c.instructions = a.get("instructions");
  c.model = a.get("model");
  if (c.model.empty())
    if (const char* m = std::getenv("MLRC_MODEL")) c.model = m;
  c.home = a.get("home");
  if (a.has("max-steps")) c.max_steps = static_cast<int>(to_number("max-steps", a.get("max-steps")));
  if (a.has("ideas")) c.ideas = static_cast<int>(to_number("ideas", a.get("ideas")));
  if (a.has("refine-rounds")) c.refine_rounds = static_cast<int>(to_number("refine-rounds", a.get("refine-rounds")));
  if (a.has("budget-tokens")) c.budget_tokens = static_cast<std::int64_t>(to_number("budget-tokens", a.get("budget-tokens")));
  if (a.has("budget-usd")) c.budget_usd = to_number("budget-usd", a.get("budget-usd"));
  c.index = a.get("index");
  c.sources = a.get("sources");
  c.gates = mlrc::parse_gates(a.get("gates", "none"));
  if (a.has("gate-timeout")) c.gate_timeout = std::chrono::seconds(static_cast<long long>(to_number("gate-timeout", a.get("gate-timeout"))));
  if (a.get("protocol", "tools") == "text") c.protocol = mlrc::AgentProtocol::text;
  else if (a.get("protocol", "tools") != "tools") throw Usage_error("--protocol must be tools or text");
  return c;
}

const std::vector<std::string> run_valued{"task", "paper", "instructions", "model", "home", "max-steps", "ideas", "refine-rounds",
                                          "budget-tokens", "budget-usd", "protocol", "index", "gates", "gate-timeout", "paper-id", "corpus",
                                          "sources"};

int cmd_run(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help", "json"}, run_valued);
  if (a.has("help")) return std::fputs(run_help, stdout), exit_ok;
  if (!a.has("task")) throw Usage_error("run: --task TASK is required");
  if (!a.has("paper") && !a.has("paper-id") && !a.has("instructions"))
    throw Usage_error("run: give --paper PAPER, --paper-id ID [--corpus FILE], or --instructions TEXT");
  if (a.get("model").empty() && !std::getenv("MLRC_MODEL")) throw Usage_error("run: --model SPEC is required (or set MLRC_MODEL)");
  mlrc::SessionConfig cfg;
  try {
    cfg = session_config(a);
  } catch (const mlrc::Error& e) {
    report(e);
    return exit_config;
  }
  mlrc::Runtime rt;
  std::optional<mlrc::Session> session;
  try {
    session.emplace(mlrc::Session::create(rt, cfg));
  } catch (const mlrc::Error& e) {
    report(e);
    return exit_config;  // the task, paper or spec is wrong: nothing was run
  }
  return run_session(rt, *session, a.has("json"));
}

int cmd_resume(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help", "json"}, {"home"});
  if (a.has("help")) return std::fputs(run_help, stdout), exit_ok;
  if (a.pos.size() != 1) throw Usage_error("resume: expected one RUN_ID");
  mlrc::Runtime rt;
  auto session = mlrc::Session::open(rt, a.get("home"), a.pos[0]);
  return run_session(rt, session, a.has("json"));
}

int cmd_runs(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help", "json"}, {"home"});
  if (a.has("help")) return std::fputs(run_help, stdout), exit_ok;
  for (auto& r : mlrc::Session::list(a.get("home"))) {
    if (a.has("json")) {
      boost::json::object o{{"run_id", r.run_id}, {"status", r.status}, {"folder", r.folder.string()}, {"success", r.success}};
      std::printf("%s\n", boost::json::serialize(o).c_str());
    } else {
      std::printf("%-22s %-16s %s %s\n", r.run_id.c_str(), r.status.c_str(), r.success ? "success" : "-      ", r.folder.string().c_str());
    }
  }
  return exit_ok;
}

int cmd_report(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help"}, {"home"});
  if (a.has("help")) return std::fputs(run_help, stdout), exit_ok;
  if (a.pos.size() != 1) throw Usage_error("report: expected one RUN_ID");
  mlrc::Runtime rt;
  auto session = mlrc::Session::open(rt, a.get("home"), a.pos[0]);
  session.write_report();
  std::printf("%s\n%s\n", (session.folder() / "report.md").string().c_str(), (session.folder() / "report.html").string().c_str());
  return exit_ok;
}

// The bundled demo: found next to the executable's source tree or the install prefix.
std::filesystem::path demo_dir() {
  if (const char* d = std::getenv("MLRC_EXAMPLES")) return d;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  for (auto p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
    if (std::filesystem::exists(p / "examples" / "demo" / "script.json")) return p / "examples";
    if (std::filesystem::exists(p / "share" / "mlrcopilot" / "examples" / "demo" / "script.json")) return p / "share" / "mlrcopilot" / "examples";
  }
  throw mlrc::Error(mlrc::errc::not_found, "demo: cannot find the examples folder (set MLRC_EXAMPLES)");
}

int cmd_demo(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help", "json"}, {"model", "home", "max-steps"});
  if (a.has("help")) return std::fputs(run_help, stdout), exit_ok;
  auto ex = demo_dir();
  mlrc::SessionConfig c;
  c.paper = ex / "papers" / "sentiment-analysis.md";
  c.task = ex / "tasks" / "digits-mlab";
  c.model = a.has("model") ? a.get("model") : "scripted:" + (ex / "demo" / "script.json").string();
  c.home = a.get("home");
  c.ideas = 2;
  c.refine_rounds = 1;
  if (a.has("max-steps")) c.max_steps = static_cast<int>(to_number("max-steps", a.get("max-steps")));
  // A small open-licence corpus (examples/corpus) indexed once, so phase 1 retrieves related work.
  std::filesystem::path home = c.home.empty() ? mlrc::default_home() : c.home;
  std::filesystem::path index = home / "demo-index" / "papers";
  if (!std::filesystem::exists(index / "manifest.json") && std::filesystem::exists(ex / "corpus" / "papers.jsonl")) {
    std::vector<std::filesystem::path> inputs{ex / "corpus" / "papers.jsonl"};
    mlrc::IndexBuilder(index).build(mlrc::Corpus::papers, inputs);
  }
  if (std::filesystem::exists(index)) c.index = index;
  if (!a.has("model"))
    std::fprintf(stderr, "mlrc demo: the model is SCRIPTED (%s): every reply is canned; the code it writes really runs\n"
                         "and the metric is really measured by the task's evaluator.\n", c.model.c_str());
  mlrc::Runtime rt;
  auto session = mlrc::Session::create(rt, c);
  return run_session(rt, session, a.has("json"));
}

const char* ideas_help = R"(Usage: mlrc ideas (--paper PAPER | --paper-id ID [--corpus FILE]) --model SPEC [--index DIR] [--sources SPEC]
                  [--ideas N] [--refine-rounds N] [--json]

Phase 1 alone: extracts the paper's tasks, gaps and keywords, retrieves related work from the
local index (--index) or online sources with fallback (--sources s2,openalex,arxiv,local), proposes
N ideas with experiment plans, reviews them on the paper's criteria, refines, and prints them
ranked. --json prints everything (analysis, related papers and which query found them, ideas,
reviews). --paper-id without --corpus looks the paper up on Semantic Scholar.
)";

int cmd_ideas(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help", "json"}, {"paper", "paper-id", "corpus", "home", "model", "index", "sources", "ideas", "refine-rounds"});
  if (a.has("help")) return std::fputs(ideas_help, stdout), exit_ok;
  if (!a.has("paper") && !a.has("paper-id")) throw Usage_error("ideas: --paper PAPER (or --paper-id ID [--corpus FILE]) is required");
  std::string spec = a.get("model");
  if (spec.empty())
    if (const char* m = std::getenv("MLRC_MODEL")) spec = m;
  if (spec.empty()) throw Usage_error("ideas: --model SPEC is required (or set MLRC_MODEL)");
  mlrc::Paper paper = mlrc::Paper::load(paper_from_args(a));
  mlrc::Runtime rt;
  auto model = mlrc::with_retry(mlrc::make_model(rt.executor(), spec));
  mlrc::PlannerOptions po;
  if (a.has("ideas")) po.ideas = static_cast<std::size_t>(to_number("ideas", a.get("ideas")));
  if (a.has("refine-rounds")) po.refine_rounds = static_cast<int>(to_number("refine-rounds", a.get("refine-rounds")));
  if (!a.has("json"))
    po.on_event = [](std::string_view kind, std::string_view) { std::fprintf(stderr, "  %.*s\n", static_cast<int>(kind.size()), kind.data()); };
  std::shared_ptr<mlrc::Retriever> retriever;
  if (a.has("sources")) {
    mlrc::OnlineConfig oc;
    oc.local_index = a.get("index");
    oc.fallback.on_attempt = [](const mlrc::SourceAttempt& at) {
      if (!at.answered && !at.skipped) std::fprintf(stderr, "  source %s failed (%s); trying the next\n", at.source.c_str(), at.error.c_str());
    };
    retriever = mlrc::make_online_retriever(rt.executor(), a.get("sources"), oc);
  } else if (a.has("index")) {
    retriever = std::make_shared<mlrc::LocalRetriever>(a.get("index"));
  }
  mlrc::Planner planner(model, mlrc::related_search(retriever), po);
  auto result = rt.run(planner.run(paper));
  if (a.has("json")) {
    std::printf("%s\n", mlrc::to_json(result).c_str());
    return exit_ok;
  }
  std::printf("%s\n  tasks: %zu, gaps: %zu, related papers: %zu\n\n", paper.title.c_str(), result.analysis.tasks.size(),
              result.analysis.gaps.size(), result.related.size());
  for (std::size_t i = 0; i < result.ideas.size(); ++i) {
    auto& idea = result.ideas[i];
    std::printf("%zu. %s  (review %.2f, novelty %d)\n   %s\n", i + 1, idea.title.c_str(), idea.score, result.reviews[i].novelty,
                idea.hypothesis.c_str());
    for (std::size_t k = 0; k < idea.plan.steps.size(); ++k) std::printf("   - %s\n", idea.plan.steps[k].c_str());
  }
  return exit_ok;
}

int cmd_sandbox(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help", "network", "no-confine", "allow-degraded"},
                      {"cwd", "writable", "hide", "wall", "cpu", "memory", "address-space", "processes", "file-size",
                       "open-files", "output", "log-dir"});
  if (a.has("help")) return std::fputs(sandbox_help, stdout), exit_ok;
  if (a.pos.empty()) throw Usage_error("sandbox: no command given (put it after --)");
  mlrc::JobSpec spec;
  spec.argv = a.pos;
  spec.cwd = a.has("cwd") ? std::filesystem::path(a.get("cwd")) : std::filesystem::current_path();
  for (auto& w : split_commas(a.get("writable"))) spec.writable.emplace_back(w);
  for (auto& h : split_commas(a.get("hide"))) spec.hidden.emplace_back(h);
  auto num = [&](const char* k) { return a.has(k) ? to_number(k, a.get(k)) : 0.0; };
  auto mb = [&](const char* k) { return static_cast<std::uint64_t>(num(k) * 1024 * 1024); };
  spec.limits.wall = std::chrono::milliseconds(static_cast<long long>(num("wall") * 1000));
  spec.limits.cpu = std::chrono::seconds(static_cast<long long>(num("cpu")));
  spec.limits.memory_bytes = mb("memory");
  spec.limits.address_space_bytes = mb("address-space");
  spec.limits.processes = static_cast<std::uint64_t>(num("processes"));
  spec.limits.file_size_bytes = mb("file-size");
  spec.limits.open_files = static_cast<std::uint64_t>(num("open-files"));
  spec.limits.output_bytes = mb("output");
  spec.network = a.has("network");
  spec.confine_writes = !a.has("no-confine");
  spec.allow_degraded = a.has("allow-degraded");
  if (a.has("log-dir")) spec.log_dir = a.get("log-dir");
  mlrc::Runtime rt;
  mlrc::LocalExecutor exec(rt.executor());
  auto r = rt.run(exec.run(spec));
  std::printf("%s\n", mlrc::to_json(r).c_str());
  switch (r.kind) {
    case mlrc::ExitKind::exited: return r.exit_code;
    case mlrc::ExitKind::signaled: return 128 + r.signal;
    case mlrc::ExitKind::timeout: return 124;
    case mlrc::ExitKind::limit:
    case mlrc::ExitKind::cancelled: return 125;
    case mlrc::ExitKind::failed_to_start: return 126;
  }
  return exit_failed;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      std::fputs(main_help, args.empty() ? stderr : stdout);
      return args.empty() ? exit_usage : exit_ok;
    }
    std::string cmd = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "chat") return cmd_chat(rest);
    if (cmd == "models") return cmd_models(rest);
    if (cmd == "task") return cmd_task(rest);
    if (cmd == "index") return mlrc::cmd_index(rest);
    if (cmd == "run") return cmd_run(rest);
    if (cmd == "ideas") return cmd_ideas(rest);
    if (cmd == "resume") return cmd_resume(rest);
    if (cmd == "runs") return cmd_runs(rest);
    if (cmd == "report") return cmd_report(rest);
    if (cmd == "demo") return cmd_demo(rest);
    if (cmd == "sandbox") return cmd_sandbox(rest);
    if (cmd == "version" || cmd == "--version") {
      std::printf("mlrc %s\n", mlrc::linked_version_string());
      return exit_ok;
    }
    throw Usage_error("unknown command '" + cmd + "'");
  } catch (const Usage_error& e) {
    std::fprintf(stderr, "mlrc: %s\nRun 'mlrc --help' for usage.\n", e.what());
    return exit_usage;
  } catch (const mlrc::Error& e) {
    return report(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlrc: internal error: %s\n", e.what());
    return exit_failed;
  }
}
