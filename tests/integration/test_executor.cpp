// The local sandbox against hostile scripts: real processes, real limits, nothing mocked.
#include "helpers.hpp"

#include <mlrcopilot/executor.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

using namespace std::chrono_literals;
using namespace mlrc;
using namespace mlrc::test;
namespace fs = std::filesystem;

extern char** environ;

namespace {

const char* kPython = "/usr/bin/python3";

JobSpec job(const TempDir& ws, std::vector<std::string> argv) {
  JobSpec s;
  s.argv = std::move(argv);
  s.cwd = ws.path;
  s.limits.wall = 30s;
  return s;
}

JobResult run(Runtime& rt, JobSpec spec, OutputObserver* obs = nullptr) {
  LocalExecutor ex(rt.executor());
  return rt.run(ex.run(std::move(spec), obs), 120s);
}

// Processes whose command line contains `marker` (anywhere on the machine).
int count_processes(const std::string& marker) {
  int n = 0;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::string cmd = read_file(std::string("/proc/") + e->d_name + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(marker) != std::string::npos) ++n;
  }
  closedir(d);
  return n;
}

// Waits up to `limit` for processes with `marker` to be gone (the kernel tears a PID namespace down
// asynchronously); returns how many are left.
int wait_gone(const std::string& marker, std::chrono::milliseconds limit = 3000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  int n = count_processes(marker);
  while (n > 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(20ms);
    n = count_processes(marker);
  }
  return n;
}

bool sandboxed() { return LocalExecutor::support().pid_namespace; }

}  // namespace

TEST_CASE("Executor runs a command and reports exit status, output and protections", "[executor]") {
  TempDir ws;
  Runtime rt;
  auto r = run(rt, job(ws, {kPython, "-c", "import sys; print('hello'); print('oops', file=sys.stderr); sys.exit(3)"}));
  CHECK(r.kind == ExitKind::exited);
  CHECK(r.exit_code == 3);
  CHECK(r.stdout_head == "hello\n");
  CHECK(r.stderr_head == "oops\n");
  CHECK(r.wall > 0ms);
  CHECK(r.cpu_seconds > 0);
  CHECK(r.max_rss_bytes > 1000000);
  CHECK(r.has("process_group"));
  CHECK(r.has("env_scrub"));
  auto sup = LocalExecutor::support();
  INFO("sandbox notes: " << sup.notes);
  if (sup.user_namespace) {
    CHECK(r.has("user_namespace"));
    CHECK(r.has("network_namespace"));
    CHECK(r.has("read_only_root"));
    CHECK(r.has("pid_namespace"));
  }

  auto sig = run(rt, job(ws, {"/bin/sh", "-c", "kill -TERM $$"}));
  CHECK(sig.kind == ExitKind::signaled);
  CHECK(sig.signal == SIGTERM);
  CHECK(sig.summary().find("signal 15") != std::string::npos);

  auto missing = run(rt, job(ws, {"no-such-interpreter-xyz", "x.py"}));
  CHECK(missing.kind == ExitKind::failed_to_start);
  CHECK(missing.error.find("no-such-interpreter-xyz") != std::string::npos);
  CHECK(missing.error.find("PATH") != std::string::npos);
}

TEST_CASE("Executor streams output as it comes and writes logs", "[executor]") {
  TempDir ws, logs;
  Runtime rt;
  struct Obs : OutputObserver {
    std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>> chunks;
    void on_output(int stream, std::string_view c) override {
      if (stream == 1) chunks.emplace_back(std::chrono::steady_clock::now(), std::string(c));
    }
  } obs;
  auto spec = job(ws, {kPython, "-u", "-c", "import time\nprint('first')\ntime.sleep(0.5)\nprint('second')"});
  spec.log_dir = logs.path / "job1";
  auto r = run(rt, spec, &obs);
  REQUIRE(r.ok());
  // When did "first" and "second" arrive? (unbuffered print may write a line in two pieces)
  std::string seen;
  std::optional<std::chrono::steady_clock::time_point> first_at, second_at;
  for (auto& [at, text] : obs.chunks) {
    seen += text;
    if (!first_at && seen.find("first") != std::string::npos) first_at = at;
    if (!second_at && seen.find("second") != std::string::npos) second_at = at;
  }
  REQUIRE(first_at);
  REQUIRE(second_at);
  CHECK(*second_at - *first_at > 300ms);  // the first line reached us while the job still ran
  CHECK(seen == "first\nsecond\n");
  CHECK(read_file(r.stdout_log.string()) == "first\nsecond\n");
}

TEST_CASE("Executor scrubs the environment: the parent's keys never reach the job", "[executor][security]") {
  TempDir ws;
  Runtime rt;
  ScopedEnv k1("OPENAI_API_KEY", "sk-parent-SECRET-111111");
  ScopedEnv k2("MY_SERVICE_TOKEN", "tok-parent-SECRET-222222");
  auto spec = job(ws, {kPython, "-c", "import os; print(sorted(os.environ.items()))"});
  spec.env_allow.push_back("OPENAI_API_KEY");  // even when asked for, secrets stay out
  spec.env["EXPERIMENT"] = "42";
  auto r = run(rt, spec);
  REQUIRE(r.ok());
  CHECK(r.stdout_head.find("SECRET") == std::string::npos);
  CHECK(r.stdout_head.find("('EXPERIMENT', '42')") != std::string::npos);

  // A hostile job searching every process's environment for the key finds nothing either.
  std::string victim_env = "OPENAI_API_KEY=sk-victim-SECRET-333333";
  char* venv[] = {victim_env.data(), nullptr};
  char a0[] = "/bin/sleep", a1[] = "30.4242";
  char* vargv[] = {a0, a1, nullptr};
  pid_t victim;
  REQUIRE(posix_spawn(&victim, "/bin/sleep", nullptr, nullptr, vargv, venv) == 0);
  auto hostile = job(ws, {kPython, "-c",
                          "import os\nfound=[]\n"
                          "for p in os.listdir('/proc'):\n"
                          "  try:\n    found.append(open('/proc/'+p+'/environ','rb').read())\n  except Exception: pass\n"
                          "print('LEAK' if any(b'sk-victim-SECRET' in f for f in found) else 'clean', len(found))"});
  auto h = run(rt, hostile);
  kill(victim, SIGKILL);
  waitpid(victim, nullptr, 0);
  REQUIRE(h.ok());
  if (sandboxed()) CHECK(h.stdout_head.rfind("clean", 0) == 0);
}

TEST_CASE("Executor contains a fork bomb", "[executor][security]") {
  TempDir ws;
  Runtime rt;
  auto spec = job(ws, {kPython, "-c",
                       "import os, time\n"
                       "marker='forkbomb-7319'\n"
                       "while True:\n"
                       "  try:\n    os.fork()\n  except OSError:\n    time.sleep(0.01)\n"});
  spec.limits.processes = 64;
  spec.limits.wall = 3s;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(rt, spec);
  CHECK(std::chrono::steady_clock::now() - t0 < 15s);
  CHECK(r.kind == ExitKind::timeout);
  CHECK(wait_gone("forkbomb-7319") == 0);
  INFO(to_json(r));
  CHECK((r.has("cgroup_pids") || r.has("rlimits")));
}

TEST_CASE("Executor stops a memory bomb", "[executor][security]") {
  TempDir ws;
  Runtime rt;
  auto spec = job(ws, {kPython, "-c", "blocks=[]\nwhile True:\n  blocks.append(bytearray(16*1024*1024))\n"});
  spec.limits.memory_bytes = 256ull << 20;
  spec.limits.address_space_bytes = 512ull << 20;
  auto r = run(rt, spec);
  INFO(to_json(r));
  CHECK(r.kind == ExitKind::limit);
  CHECK(r.limit_hit == "memory");
  CHECK(r.max_rss_bytes < (600ull << 20));
}

TEST_CASE("Executor stops a CPU spin at its CPU limit and a sleeper at the wall clock", "[executor][security]") {
  TempDir ws;
  Runtime rt;
  auto spin = job(ws, {kPython, "-c", "while True: pass"});
  spin.limits.cpu = 1s;
  auto r = run(rt, spin);
  CHECK(r.kind == ExitKind::limit);
  CHECK(r.limit_hit == "cpu");
  CHECK(r.cpu_seconds >= 0.8);  // the kernel checks RLIMIT_CPU at tick granularity

  // A shell that backgrounds a grandchild (which even leaves the session) and sleeps forever.
  auto sleeper = job(ws, {"/bin/sh", "-c", "sleep 1000.777 & setsid sleep 1000.777 & sleep 1000.777"});
  sleeper.limits.wall = 1s;
  auto t0 = std::chrono::steady_clock::now();
  auto s = run(rt, sleeper);
  CHECK(s.kind == ExitKind::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 6s);
  if (sandboxed()) CHECK(wait_gone("1000.777") == 0);
  else CHECK(wait_gone("1000.777") <= 1);  // without a PID namespace a setsid escapee can outlive the group
}

TEST_CASE("Executor limits file size and output volume", "[executor][security]") {
  TempDir ws;
  Runtime rt;
  auto fill = job(ws, {kPython, "-c", "f=open('big.bin','wb')\nwhile True:\n  f.write(b'x'*1048576)\n"});
  fill.limits.file_size_bytes = 8ull << 20;
  auto r = run(rt, fill);
  INFO(to_json(r));
  CHECK(r.kind == ExitKind::limit);
  CHECK(r.limit_hit == "file_size");
  CHECK(fs::file_size(ws.path / "big.bin") <= (8ull << 20));

  auto chatty = job(ws, {"/bin/sh", "-c", "yes 'spam spam spam'"});
  chatty.limits.output_bytes = 4ull << 20;
  auto c = run(rt, chatty);
  CHECK(c.kind == ExitKind::limit);
  CHECK(c.limit_hit == "output");
  CHECK(c.stdout_bytes >= (4ull << 20));
  CHECK(c.stdout_head.size() <= 4096);
}

TEST_CASE("Executor captures hundreds of MB of output without deadlock or unbounded memory", "[executor]") {
  TempDir ws, logs;
  Runtime rt;
  auto spec = job(ws, {kPython, "-c",
                       "import sys\nline=b'y'*1023+b'\\n'\nw=sys.stdout.buffer\n"
                       "for i in range(200*1024):\n  w.write(line)\n"
                       "sys.stderr.write('done\\n')\n"});
  spec.log_dir = logs.path;
  auto r = run(rt, spec);
  REQUIRE(r.ok());
  CHECK(r.stdout_bytes == 200ull * 1024 * 1024);
  CHECK(fs::file_size(r.stdout_log) == 200ull * 1024 * 1024);
  CHECK(r.stdout_head.size() == spec.keep_head);
  CHECK(r.stdout_tail.size() == spec.keep_tail);
  CHECK(r.stderr_head == "done\n");
  CHECK(r.output_excerpt().find("bytes omitted") != std::string::npos);
}

TEST_CASE("Executor blocks network access unless asked", "[executor][security]") {
  if (!LocalExecutor::support().network_namespace) {
    WARN("skipped: no network namespaces here: " << LocalExecutor::support().notes);
    return;
  }
  TempDir ws;
  Runtime rt;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(lfd, 8) == 0);
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  std::string code = "import socket\ntry:\n  socket.create_connection(('127.0.0.1', " + port +
                     "), timeout=3)\n  print('connected')\nexcept OSError as e:\n  print('blocked', e)\n";
  auto r = run(rt, job(ws, {kPython, "-c", code}));
  CHECK(r.stdout_head.rfind("blocked", 0) == 0);
  CHECK(accept(lfd, nullptr, nullptr) < 0);  // nothing reached us

  auto allowed = job(ws, {kPython, "-c", code});
  allowed.network = true;
  auto a = run(rt, allowed);
  CHECK(a.stdout_head.rfind("connected", 0) == 0);
  CHECK_FALSE(a.has("network_namespace"));
  close(lfd);
}

TEST_CASE("Executor confines writes to the workspace and its temp dir", "[executor][security]") {
  if (!LocalExecutor::support().read_only_root) {
    WARN("skipped: no read-only root here: " << LocalExecutor::support().notes);
    return;
  }
  TempDir ws, outside;
  Runtime rt;
  auto target = (outside.path / "escaped.txt").string();
  std::string code = "import os, tempfile\nres=[]\n"
                     "for p in ['" + target + "', '/etc/mlrc-escape-test', '../escape-rel.txt']:\n"
                     "  try:\n    open(p,'w').write('x'); res.append('WROTE '+p)\n  except OSError as e:\n    res.append('denied')\n"
                     "open('inside.txt','w').write('ok')\n"
                     "with tempfile.NamedTemporaryFile() as t: t.write(b'tmp ok')\n"
                     "try:\n  os.system('mount -o remount,rw / 2>/dev/null'); open('/etc/mlrc-escape-test','w').write('x'); res.append('REMOUNTED')\n"
                     "except OSError: res.append('denied')\n"
                     "print(' '.join(res))\n";
  auto r = run(rt, job(ws, {kPython, "-c", code}));
  INFO(to_json(r));
  REQUIRE(r.ok());
  CHECK(r.stdout_head == "denied denied denied denied\n");
  CHECK_FALSE(fs::exists(target));
  CHECK_FALSE(fs::exists("/etc/mlrc-escape-test"));
  CHECK_FALSE(fs::exists(ws.path.parent_path() / "escape-rel.txt"));
  CHECK(read_file((ws.path / "inside.txt").string()) == "ok");
}

TEST_CASE("Executor jobs can be cancelled and the tree dies", "[executor]") {
  TempDir ws;
  Runtime rt({.threads = 2});
  LocalExecutor ex(rt.executor());
  std::promise<JobResult> done;
  auto op = rt.spawn(ex.run(job(ws, {"/bin/sh", "-c", "sleep 999.313 & sleep 999.313"})),
                     [&](std::exception_ptr e, JobResult r) {
                       if (e) done.set_exception(e);
                       else done.set_value(std::move(r));
                     });
  std::this_thread::sleep_for(300ms);
  CHECK(count_processes("999.313") >= 1);
  op.cancel();
  auto fut = done.get_future();
  REQUIRE(fut.wait_for(5s) == std::future_status::ready);
  auto r = fut.get();
  CHECK(r.kind == ExitKind::cancelled);
  CHECK(wait_gone("999.313") == 0);
}

TEST_CASE("Executor refuses a malformed spec clearly", "[executor]") {
  TempDir ws;
  Runtime rt;
  LocalExecutor ex(rt.executor());
  auto e = expect_error([&] { rt.run(ex.run(JobSpec{})); });
  CHECK(e.code_enum() == errc::invalid_argument);
  JobSpec bad;
  bad.argv = {"/bin/true"};
  bad.cwd = ws.path / "does-not-exist";
  e = expect_error([&] { rt.run(ex.run(bad)); });
  CHECK(std::string(e.what()).find("does-not-exist") != std::string::npos);
}

TEST_CASE("Executor hides folders from the job (hidden test labels)", "[executor][security]") {
  if (!LocalExecutor::support().read_only_root) {
    WARN("skipped: no mount namespace here");
    return;
  }
  TempDir ws, task;
  task.file("test_labels.csv", "id,label\n0,7\n");
  auto spec = job(ws, {kPython, "-c",
                       "import os\ntry:\n  print(open('" + (task.path / "test_labels.csv").string() +
                           "').read())\nexcept OSError as e:\n  print('hidden', len(os.listdir('" + task.path.string() + "')))"});
  spec.hidden.push_back(task.path);
  Runtime rt;
  auto r = run(rt, spec);
  CHECK(r.stdout_head == "hidden 0\n");
  CHECK(r.has("hidden_paths"));
}
