// The local sandbox. The parent prepares everything (paths, argv, environment, uid maps, cgroups)
// before fork(); after fork the child only makes system calls (async-signal-safe), because the
// parent is multi-threaded. With namespaces the child C unshares user+mount+pid(+net)
// namespaces, sets up the read-only root, and forks the job G as PID 1 of the new PID namespace;
// G enters a second, nested user+mount namespace (which locks the read-only mounts: they cannot be
// remounted writable from inside), sets rlimits and execs. C waits for G and reports its wait
// status through a pipe. Killing C's process group kills C; G dies with C (PDEATHSIG) and every
// process in the PID namespace dies with G.
#include <mlrcopilot/executor.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mlrc {
inline namespace v1 {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const char* exit_kind_name(ExitKind k) noexcept {
  switch (k) {
    case ExitKind::exited: return "exited";
    case ExitKind::signaled: return "signaled";
    case ExitKind::timeout: return "timeout";
    case ExitKind::limit: return "limit";
    case ExitKind::cancelled: return "cancelled";
    case ExitKind::failed_to_start: return "failed_to_start";
  }
  return "unknown";
}

bool JobResult::has(std::string_view p) const { return std::find(protections.begin(), protections.end(), p) != protections.end(); }

namespace {
std::string excerpt(const std::string& head, const std::string& tail, std::uint64_t total) {
  std::string out = head;
  std::uint64_t shown = head.size() + tail.size();
  if (total > shown) out += "\n[… " + std::to_string(total - shown) + " bytes omitted …]\n";
  out += tail;
  return out;
}
}  // namespace

std::string JobResult::output_excerpt(std::size_t max_bytes) const {
  // Each stream gets half the budget (all of it if the other is empty), split between its head
  // and its tail, with a marker saying how much was left out.
  auto part = [](const std::string& head, const std::string& tail, std::uint64_t total, std::size_t budget) {
    std::string h = head.substr(0, std::min(head.size(), budget / 3));
    std::string t = tail.size() > budget - h.size() ? tail.substr(tail.size() - (budget - h.size())) : tail;
    return excerpt(h, t, total);
  };
  bool both = stdout_bytes && stderr_bytes;
  std::size_t budget = both ? max_bytes / 2 : max_bytes;
  std::string all = stdout_bytes ? part(stdout_head, stdout_tail, stdout_bytes, budget) : "";
  if (stderr_bytes) all += (all.empty() ? "" : "\n") + std::string("[stderr]\n") + part(stderr_head, stderr_tail, stderr_bytes, budget);
  return all;
}

std::string JobResult::summary() const {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f s", static_cast<double>(wall.count()) / 1000.0);
  switch (kind) {
    case ExitKind::exited: return "exited with code " + std::to_string(exit_code) + " after " + secs;
    case ExitKind::signaled: return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ") after " + secs;
    case ExitKind::timeout: return std::string("killed: wall-clock limit passed after ") + secs;
    case ExitKind::limit: return "killed: " + limit_hit + " limit hit after " + secs;
    case ExitKind::cancelled: return std::string("cancelled after ") + secs;
    case ExitKind::failed_to_start: return "failed to start: " + error;
  }
  return "unknown";
}

std::string to_json(const JobResult& r) {
  boost::json::object o;
  o["kind"] = exit_kind_name(r.kind);
  o["exit_code"] = r.exit_code;
  o["signal"] = r.signal;
  o["limit_hit"] = r.limit_hit;
  o["error"] = r.error;
  o["summary"] = r.summary();
  o["wall_ms"] = r.wall.count();
  o["cpu_seconds"] = r.cpu_seconds;
  o["max_rss_bytes"] = r.max_rss_bytes;
  o["stdout_bytes"] = r.stdout_bytes;
  o["stderr_bytes"] = r.stderr_bytes;
  o["stdout"] = excerpt(r.stdout_head, r.stdout_tail, r.stdout_bytes);
  o["stderr"] = excerpt(r.stderr_head, r.stderr_tail, r.stderr_bytes);
  boost::json::array prot, unav, argv;
  for (auto& p : r.protections) prot.emplace_back(p);
  for (auto& p : r.unavailable) unav.emplace_back(p);
  for (auto& a : r.argv) argv.emplace_back(a);
  o["protections"] = std::move(prot);
  o["unavailable"] = std::move(unav);
  o["argv"] = std::move(argv);
  o["stdout_log"] = r.stdout_log.string();
  o["stderr_log"] = r.stderr_log.string();
  return boost::json::serialize(o);
}

namespace {

// True on the thread running the support probe: run() must not ask for support() then.
thread_local bool probing = false;

// ---------------------------------------------------------------------------------------------
// Small RAII and parent-side helpers

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(std::exchange(o.fd, -1));
    return *this;
  }
  ~Fd() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
  int release() { return std::exchange(fd, -1); }
};

std::pair<Fd, Fd> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw Error(errc::io, std::string("pipe2: ") + std::strerror(errno));
  return {Fd(p[0]), Fd(p[1])};
}

bool secret_name(std::string_view n) {
  std::string u(n);
  for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (auto w : {"KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"})
    if (u.find(w) != std::string::npos) return true;
  return false;
}

std::string find_in_path(const std::string& name, const std::string& path, const fs::path& cwd) {
  if (name.find('/') != std::string::npos) {
    fs::path p = fs::path(name).is_absolute() ? fs::path(name) : cwd / name;
    if (::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p)) return p.string();
    throw Error(errc::not_found, "program '" + name + "' does not exist or is not executable (looked at " + p.string() + ")");
  }
  std::string_view rest = path;
  while (true) {
    auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    fs::path p = fs::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p)) return p.string();
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  throw Error(errc::not_found, "program '" + name + "' not found in PATH=" + path);
}

// cgroups: v1 controllers mounted at /sys/fs/cgroup/<ctrl>, or v2 at /sys/fs/cgroup. A job's
// cgroup is created under the parent's own cgroup, when that is writable.
struct Cgroup {
  fs::path dir;
  std::string controller;  // "pids" or "memory"
  bool ok() const { return !dir.empty(); }
};

std::string own_cgroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line, v2;
  while (std::getline(in, line)) {
    // "4:memory:/path" (v1) or "0::/path" (v2)
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (ctrls.empty()) v2 = path;
    std::stringstream ss(ctrls);
    for (std::string c; std::getline(ss, c, ',');)
      if (c == controller) return "v1:" + path;
  }
  return v2.empty() ? "" : "v2:" + v2;
}

bool write_file(const fs::path& p, const std::string& s) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
  ::close(fd);
  return ok;
}

std::string read_small(const fs::path& p) {
  std::ifstream in(p);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  return s;
}

Cgroup make_cgroup(const std::string& controller, const std::string& name, const std::string& limit_file, const std::string& limit) {
  std::string own = own_cgroup(controller);
  if (own.empty()) return {};
  std::string rel = own.substr(3);  // after "v1:" / "v2:"
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  fs::path base = own.rfind("v1:", 0) == 0 ? fs::path("/sys/fs/cgroup") / controller / rel : fs::path("/sys/fs/cgroup") / rel;
  std::string lf = limit_file;
  if (own.rfind("v2:", 0) == 0) lf = controller == "pids" ? "pids.max" : "memory.max";
  fs::path dir = base / name;
  std::error_code ec;
  if (!fs::create_directory(dir, ec) || ec) return {};
  if (!write_file(dir / lf, limit)) {
    fs::remove(dir, ec);
    return {};
  }
  if (controller == "memory" && own.rfind("v1:", 0) == 0) write_file(dir / "memory.memsw.limit_in_bytes", limit);  // no swap escape
  return {dir, controller};
}

void remove_cgroup(const Cgroup& cg) {
  if (!cg.ok()) return;
  // Processes may take a moment to leave after SIGKILL.
  for (int i = 0; i < 100; ++i) {
    if (::rmdir(cg.dir.c_str()) == 0 || errno == ENOENT) return;
    std::string procs = read_small(cg.dir / "cgroup.procs");
    std::stringstream ss(procs);
    for (long pid; ss >> pid;) ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::usleep(10000);
  }
}

// ---------------------------------------------------------------------------------------------
// The child side. Only async-signal-safe calls below this line until exec.

struct ChildPlan {
  const char* exe;
  std::vector<char*> argv, envp;
  const char* cwd;
  int out_fd, err_fd, info_fd, status_fd, null_fd;
  bool namespaces;  // try namespaces at all
  bool net_ns, ro_root;
  bool require_ns, require_net, require_ro;
  std::string uid_map1, gid_map1;  // stage 1: "0 <outer uid> 1"
  std::string uid_map2, gid_map2;  // stage 2: "<job uid> 0 1"
  std::vector<const char*> writable;  // bind-mounted writable (absolute, existing)
  std::vector<const char*> hidden;    // covered by an empty read-only tmpfs
  int life_r = -1, life_w = -1;        // C keeps life_w open; G sees EOF on life_r if C died
  std::vector<std::pair<int, rlim_t>> rlimits;
  std::vector<const char*> cgroup_procs;  // cgroup.procs files to join
};

void say(int fd, const char* s) {
  if (fd >= 0) {
    ssize_t r = ::write(fd, s, std::strlen(s));
    (void)r;
  }
}
void say_errno(int fd, const char* what) {
  char buf[256];
  int e = errno;
  std::size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n < sizeof buf - 2) buf[n++] = *s++;
  };
  put(what);
  put(": ");
  put(strerrordesc_np(e) ? strerrordesc_np(e) : "error");
  buf[n++] = '\n';
  buf[n] = 0;
  say(fd, buf);
}
void itoa_dec(long v, char* out) {
  char tmp[24];
  int n = 0;
  bool neg = v < 0;
  unsigned long u = neg ? static_cast<unsigned long>(-v) : static_cast<unsigned long>(v);
  do tmp[n++] = static_cast<char>('0' + u % 10), u /= 10;
  while (u);
  int i = 0;
  if (neg) out[i++] = '-';
  while (n) out[i++] = tmp[--n];
  out[i] = 0;
}
bool write_all(const char* path, const std::string& s) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
  ::close(fd);
  return ok;
}
[[noreturn]] void die(const ChildPlan& p, const char* what) {
  say_errno(p.info_fd, what);
  ::_exit(126);
}

int mount_setattr_sys(int dfd, const char* path, unsigned flags, mount_attr* attr) {
  return static_cast<int>(::syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(mount_attr)));
}

// Stage 2 and exec: runs in the job process.
[[noreturn]] void exec_job(const ChildPlan& p, bool in_ns) {
  if (in_ns) {
    // A nested user + mount namespace: our read-only mounts become locked for the job.
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) {
      write_all("/proc/self/setgroups", "deny");
      if (!write_all("/proc/self/uid_map", p.uid_map2) || !write_all("/proc/self/gid_map", p.gid_map2))
        die(p, "!sandbox: writing the nested uid/gid map failed");
      say(p.info_fd, "+locked_mounts\n");
    } else if (p.require_ro) {
      die(p, "!sandbox: nested user namespace (to lock the read-only mounts) failed");
    }
  }
  for (auto& [res, val] : p.rlimits) {
    // CPU: SIGXCPU at the soft limit (reported as the cpu limit), SIGKILL a second later if ignored.
    rlimit rl{val, res == RLIMIT_CPU ? val + 1 : val};
    if (::setrlimit(res, &rl) != 0) die(p, "!sandbox: setrlimit failed");
  }
  if (!p.rlimits.empty()) say(p.info_fd, "+rlimits\n");
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (::chdir(p.cwd) != 0) die(p, "!sandbox: cannot enter the working directory");
  ::execve(p.exe, p.argv.data(), p.envp.data());
  die(p, "!exec failed");
}

[[noreturn]] void child_main(const ChildPlan& p) {
  // Default signal handling and mask: the parent's threads may have changed them.
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
  if (::setsid() < 0) die(p, "!setsid failed");
  say(p.info_fd, "+process_group\n+env_scrub\n");
  if (::dup2(p.null_fd, 0) < 0 || ::dup2(p.out_fd, 1) < 0 || ::dup2(p.err_fd, 2) < 0) die(p, "!dup2 failed");
  // Every other inherited descriptor (the parent's sockets, files …) closes at exec.
  ::close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
  for (const char* procs : p.cgroup_procs) {
    char pid[24];
    itoa_dec(::getpid(), pid);
    int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, pid, std::strlen(pid)) > 0;
    if (fd >= 0) ::close(fd);
    if (!ok) die(p, "!sandbox: cannot join the job's cgroup");
  }
  if (!p.namespaces) exec_job(p, false);

  int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | (p.net_ns ? CLONE_NEWNET : 0);
  if (::unshare(flags) != 0) {
    if (p.require_ns) die(p, "!sandbox: namespaces unavailable (unshare)");
    say_errno(p.info_fd, "-namespaces: unshare");
    exec_job(p, false);
  }
  write_all("/proc/self/setgroups", "deny");
  if (!write_all("/proc/self/uid_map", p.uid_map1) || !write_all("/proc/self/gid_map", p.gid_map1))
    die(p, "!sandbox: writing the uid/gid map failed");
  say(p.info_fd, "+user_namespace\n");
  if (p.net_ns) say(p.info_fd, "+network_namespace\n");

  if (p.ro_root || !p.hidden.empty()) {
    bool ok = ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
    for (const char* h : p.hidden) {
      if (::mount("tmpfs", h, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k") == 0) continue;
      if (p.require_ro) die(p, "!sandbox: cannot hide a folder from the job (mount)");
      say_errno(p.info_fd, "-hidden: mount tmpfs");
    }
    if (!p.hidden.empty() && ok) say(p.info_fd, "+hidden_paths\n");
    if (p.ro_root) {
      for (const char* w : p.writable) ok = ok && ::mount(w, w, nullptr, MS_BIND | MS_REC, nullptr) == 0;
      mount_attr ro{};
      ro.attr_set = MOUNT_ATTR_RDONLY;
      ok = ok && mount_setattr_sys(AT_FDCWD, "/", AT_RECURSIVE, &ro) == 0;
      mount_attr rw{};
      rw.attr_clr = MOUNT_ATTR_RDONLY;
      for (const char* w : p.writable) ok = ok && mount_setattr_sys(AT_FDCWD, w, AT_RECURSIVE, &rw) == 0;
    }
    if (!ok) {
      if (p.require_ro) die(p, "!sandbox: read-only root setup failed (mount)");
      say_errno(p.info_fd, "-read_only_root: mount");
    } else if (p.ro_root) {
      say(p.info_fd, "+read_only_root\n+private_tmpdir\n");
    }
  }

  int life[2];
  if (::pipe2(life, O_CLOEXEC) != 0) die(p, "!sandbox: pipe failed");
  pid_t g = ::fork();
  if (g < 0) die(p, "!sandbox: fork into the PID namespace failed");
  if (g == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // If C died before PDEATHSIG was armed, its end of the life pipe is closed: stop here.
    ::close(life[1]);
    pollfd pf{life[0], POLLIN, 0};
    if (::poll(&pf, 1, 0) > 0) ::_exit(137);
    say(p.info_fd, "+pid_namespace\n");
    // A /proc for this PID namespace, where the kernel allows it (not inside some containers).
    // Without it the host's /proc would show the parent's environment and memory, so hide it.
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0) {
      say(p.info_fd, "+private_proc\n");
    } else {
      say_errno(p.info_fd, "-private_proc: mount proc");
      if (::mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k") == 0)
        say(p.info_fd, "+proc_hidden\n");
      else if (p.require_ro)
        die(p, "!sandbox: cannot give the job a private /proc or hide the host's");
    }
    // G is the namespace's init: the job J runs as its child, so J keeps ordinary signal
    // semantics (PID 1 ignores default-action signals) and orphans are reaped. When G exits the
    // kernel kills whatever is left in the namespace.
    pid_t j = ::fork();
    if (j < 0) die(p, "!sandbox: fork of the job failed");
    if (j == 0) exec_job(p, true);
    ::close(p.info_fd);
    ::close(1);
    ::close(2);
    int status = 0, st = 0;
    for (;;) {
      pid_t w = ::waitpid(-1, &st, 0);
      if (w == j) {
        status = st;
        break;
      }
      if (w < 0 && errno != EINTR) break;
    }
    ssize_t w = ::write(p.status_fd, &status, sizeof status);
    (void)w;
    ::_exit(0);
  }
  ::close(life[0]);
  ::close(p.info_fd);
  ::close(p.out_fd);
  ::close(p.err_fd);
  ::close(p.status_fd);
  ::close(1);
  ::close(2);
  int status = 0;
  while (::waitpid(g, &status, 0) < 0 && errno == EINTR) {
  }
  ::_exit(0);
}

// ---------------------------------------------------------------------------------------------
// The parent side.

struct Stream {
  std::string head{}, tail{};
  std::uint64_t bytes = 0;
  std::FILE* log = nullptr;
  std::size_t keep_head = 0, keep_tail = 0;
  void add(std::string_view d) {
    bytes += d.size();
    if (log) std::fwrite(d.data(), 1, d.size(), log);
    if (head.size() < keep_head) {
      auto n = std::min(d.size(), keep_head - head.size());
      head.append(d.substr(0, n));
      d.remove_prefix(n);
    }
    if (keep_tail == 0 || d.empty()) return;
    tail.append(d);
    if (tail.size() > 2 * keep_tail) tail.erase(0, tail.size() - keep_tail);
  }
  void finish() {
    if (tail.size() > keep_tail) tail.erase(0, tail.size() - keep_tail);
  }
};

struct Job {
  pid_t pid = -1;
  bool exited = false;  // reaped: the pid may be reused, never signal it again
  bool killed = false;
  std::string limit_hit;
  void kill_tree() {
    if (pid <= 0 || exited) return;
    killed = true;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
};

asio::awaitable<void> pump(asio::posix::stream_descriptor& d, Stream& s, int which, OutputObserver* obs, Job& job,
                           std::uint64_t& total, std::uint64_t limit, int& open_streams) {
  struct Done {
    int& n;
    ~Done() { --n; }
  } done{open_streams};
  std::vector<char> buf(64 * 1024);
  for (;;) {
    auto [ec, n] = co_await d.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (n) {
      std::string_view chunk(buf.data(), n);
      s.add(chunk);
      total += n;
      if (obs) obs->on_output(which, chunk);
      if (limit && total > limit && job.limit_hit.empty()) {
        job.limit_hit = "output";
        job.kill_tree();
      }
    }
    if (ec) co_return;  // EOF, or the descriptor was closed
  }
}

}  // namespace

LocalExecutor::LocalExecutor(asio::any_io_executor ex) : ex_(std::move(ex)) {
  if (!probing) support();  // probe now, on the caller's thread, not later inside a job
}
LocalExecutor::~LocalExecutor() = default;

asio::awaitable<JobResult> LocalExecutor::run(JobSpec spec, OutputObserver* observer) {
  using namespace asio::experimental::awaitable_operators;
  co_await asio::this_coro::throw_if_cancelled(false);
  auto ex = co_await asio::this_coro::executor;
  const auto t0 = clock::now();
  JobResult res;
  res.argv = spec.argv;
  if (spec.argv.empty() || spec.argv[0].empty()) throw Error(errc::invalid_argument, "job has no command (argv is empty)");
  std::error_code ec;
  if (spec.cwd.empty()) throw Error(errc::invalid_argument, "job has no working directory");
  fs::path cwd = fs::canonical(spec.cwd, ec);
  if (ec || !fs::is_directory(cwd)) throw Error(errc::invalid_argument, "job working directory '" + spec.cwd.string() + "' does not exist");

  // Environment: the allowlist, then the caller's additions.
  std::map<std::string, std::string> env;
  for (auto& name : spec.env_allow)
    if (const char* v = std::getenv(name.c_str()); v && !secret_name(name)) env[name] = v;
  if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  // A private temp dir per job, also its HOME (tools write caches there).
  static std::atomic<unsigned> seq{0};
  fs::path tmp = fs::temp_directory_path() / ("mlrc-job-" + std::to_string(::getpid()) + "-" + std::to_string(++seq));
  fs::create_directories(tmp, ec);
  if (ec) throw Error(errc::io, "cannot create job temp dir " + tmp.string() + ": " + ec.message());
  struct TmpGuard {
    fs::path p;
    ~TmpGuard() {
      std::error_code e;
      fs::remove_all(p, e);
    }
  } tmp_guard{tmp};
  env["TMPDIR"] = tmp.string();
  env["HOME"] = tmp.string();
  for (auto& [k, v] : spec.env) env[k] = v;

  std::string exe;
  try {
    exe = find_in_path(spec.argv[0], env["PATH"], cwd);
  } catch (const Error& e) {
    res.kind = ExitKind::failed_to_start;
    res.error = e.what();
    co_return res;
  }

  const SandboxSupport sup = probing ? SandboxSupport{true, true, true, true, false, false, {}} : support();
  bool want_ns = !spec.network || spec.confine_writes || !spec.hidden.empty();
  if (want_ns && !sup.user_namespace && !spec.allow_degraded)
    throw Error(errc::unsupported, std::string("sandbox: ") + (!spec.network ? "network isolation" : "write confinement") +
                                       " needs user namespaces, which this machine does not allow (" + sup.notes +
                                       "); set allow_degraded to run without it");

  // Logs.
  Stream out{.keep_head = spec.keep_head, .keep_tail = spec.keep_tail}, err{.keep_head = spec.keep_head, .keep_tail = spec.keep_tail};
  struct FileGuard {
    std::FILE*& f;
    ~FileGuard() {
      if (f) std::fclose(f);
      f = nullptr;
    }
  } g1{out.log}, g2{err.log};
  if (!spec.log_dir.empty()) {
    fs::create_directories(spec.log_dir, ec);
    res.stdout_log = spec.log_dir / "stdout.log";
    res.stderr_log = spec.log_dir / "stderr.log";
    out.log = std::fopen(res.stdout_log.c_str(), "wb");
    err.log = std::fopen(res.stderr_log.c_str(), "wb");
    if (!out.log || !err.log) throw Error(errc::io, "cannot write job logs in " + spec.log_dir.string());
  }

  // cgroups for process count and memory, when this machine lets us make them.
  std::string cg_name = "mlrc-" + std::to_string(::getpid()) + "-" + std::to_string(seq.load()) + "-" +
                        std::to_string(std::random_device{}() % 100000);
  Cgroup cg_pids, cg_mem;
  if (spec.limits.processes) cg_pids = make_cgroup("pids", cg_name, "pids.max", std::to_string(spec.limits.processes));
  if (spec.limits.memory_bytes) cg_mem = make_cgroup("memory", cg_name, "memory.limit_in_bytes", std::to_string(spec.limits.memory_bytes));

  // Plan the child.
  std::vector<std::string> argv_s = spec.argv, env_s;
  for (auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<std::string> writable_s{cwd.string()};
  for (auto& w : spec.writable) {
    auto c = fs::canonical(w, ec);
    if (ec) throw Error(errc::invalid_argument, "writable folder '" + w.string() + "' does not exist");
    writable_s.push_back(c.string());
  }
  std::vector<std::string> hidden_s;
  for (auto& h : spec.hidden) {
    auto c = fs::canonical(h, ec);
    if (ec || !fs::is_directory(c)) throw Error(errc::invalid_argument, "folder to hide '" + h.string() + "' does not exist");
    hidden_s.push_back(c.string());
  }
  bool want_hidden = !hidden_s.empty();
  std::vector<std::string> cg_procs;
  if (cg_pids.ok()) cg_procs.push_back((cg_pids.dir / "cgroup.procs").string());
  if (cg_mem.ok()) cg_procs.push_back((cg_mem.dir / "cgroup.procs").string());

  auto [out_r, out_w] = make_pipe();
  auto [err_r, err_w] = make_pipe();
  auto [info_r, info_w] = make_pipe();
  auto [st_r, st_w] = make_pipe();
  Fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));

  ChildPlan plan;
  plan.exe = exe.c_str();
  for (auto& a : argv_s) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (auto& e : env_s) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  plan.cwd = cwd.c_str();
  plan.out_fd = out_w.fd;
  plan.err_fd = err_w.fd;
  plan.info_fd = info_w.fd;
  plan.status_fd = st_w.fd;
  plan.null_fd = null_fd.fd;
  plan.namespaces = want_ns && sup.user_namespace;
  plan.net_ns = !spec.network;
  plan.ro_root = spec.confine_writes;
  plan.require_ns = !spec.allow_degraded;
  plan.require_net = !spec.network && !spec.allow_degraded;
  plan.require_ro = (spec.confine_writes || want_hidden) && !spec.allow_degraded;
  plan.uid_map1 = "0 " + std::to_string(::geteuid()) + " 1";
  plan.gid_map1 = "0 " + std::to_string(::getegid()) + " 1";
  plan.uid_map2 = "1000 0 1";
  plan.gid_map2 = "1000 0 1";
  for (auto& w : writable_s) plan.writable.push_back(w.c_str());
  for (auto& h : hidden_s) plan.hidden.push_back(h.c_str());
  std::string tmp_s = tmp.string(), shm = "/dev/shm";
  plan.writable.push_back(tmp_s.c_str());
  if (fs::is_directory(shm, ec)) plan.writable.push_back(shm.c_str());  // POSIX semaphores (multiprocessing)
  const Limits& L = spec.limits;
  plan.rlimits.push_back({RLIMIT_CORE, 0});
  if (L.cpu.count()) plan.rlimits.push_back({RLIMIT_CPU, static_cast<rlim_t>(L.cpu.count())});
  if (L.address_space_bytes) plan.rlimits.push_back({RLIMIT_AS, L.address_space_bytes});
  else if (L.memory_bytes && !cg_mem.ok()) plan.rlimits.push_back({RLIMIT_AS, L.memory_bytes});
  if (L.processes && !cg_pids.ok()) plan.rlimits.push_back({RLIMIT_NPROC, L.processes});
  if (L.file_size_bytes) plan.rlimits.push_back({RLIMIT_FSIZE, L.file_size_bytes});
  if (L.open_files) plan.rlimits.push_back({RLIMIT_NOFILE, L.open_files});
  for (auto& c : cg_procs) plan.cgroup_procs.push_back(c.c_str());

  Job job;
  job.pid = ::fork();
  if (job.pid < 0) {
    remove_cgroup(cg_pids);
    remove_cgroup(cg_mem);
    throw Error(errc::io, std::string("fork: ") + std::strerror(errno));
  }
  if (job.pid == 0) child_main(plan);
  out_w.reset();
  err_w.reset();
  info_w.reset();
  st_w.reset();
  if (cg_pids.ok()) res.protections.push_back("cgroup_pids");
  if (cg_mem.ok()) res.protections.push_back("cgroup_memory");

  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, job.pid, 0)));
  asio::posix::stream_descriptor out_d(ex, out_r.release()), err_d(ex, err_r.release()), info_d(ex, info_r.release()),
      st_d(ex, st_r.release());
  asio::posix::stream_descriptor pid_d(ex, pidfd.release());

  std::uint64_t total = 0;
  std::string info;
  bool cancelled = false, timed_out = false;
  int c_status = 0;
  rusage ru{};

  auto read_info = [&]() -> asio::awaitable<void> {
    char b[512];
    for (;;) {
      auto [e, n] = co_await info_d.async_read_some(asio::buffer(b), asio::as_tuple(asio::use_awaitable));
      info.append(b, n);
      if (e) co_return;
    }
  };
  int open_streams = 2;
  auto wait_exit = [&]() -> asio::awaitable<void> {
    auto [e] = co_await pid_d.async_wait(asio::posix::stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable));
    if (e) throw boost::system::system_error(e);
    // Exited. Something it left behind may still hold the pipes (only possible without a PID
    // namespace): give the output 2 s to end, then kill the group and stop reading.
    asio::steady_timer t(ex);
    for (int i = 0; i < 40 && open_streams > 0; ++i) {
      t.expires_after(50ms);
      auto [te] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      if (te) throw boost::system::system_error(te);
    }
    if (open_streams > 0) {
      ::kill(-job.pid, SIGKILL);
      out_d.cancel();
      err_d.cancel();
      info_d.cancel();
    }
  };
  auto deadline = [&]() -> asio::awaitable<void> {
    asio::steady_timer t(ex);
    if (L.wall.count() > 0) t.expires_after(L.wall);
    else t.expires_at(clock::time_point::max());
    co_await t.async_wait(asio::use_awaitable);
  };

  auto cstate = co_await asio::this_coro::cancellation_state;
  // Phase 1: until the job exits, the deadline passes, or we are cancelled.
  try {
    auto r = co_await ((wait_exit() && pump(out_d, out, 1, observer, job, total, L.output_bytes, open_streams) &&
                        pump(err_d, err, 2, observer, job, total, L.output_bytes, open_streams) && read_info()) ||
                       deadline());
    if (r.index() == 1) timed_out = true;
  } catch (const std::exception&) {
    // Cancelled from outside: every branch ends with operation_aborted (several at once give
    // asio::multiple_exceptions). Anything else is a real failure: still kill and reap first.
    cancelled = cstate.cancelled() != asio::cancellation_type::none;
    if (!cancelled) {
      job.kill_tree();
      int st;
      ::waitpid(job.pid, &st, 0);
      remove_cgroup(cg_pids);
      remove_cgroup(cg_mem);
      throw;
    }
  }
  if (timed_out || cancelled) job.kill_tree();
  // Reap C. After SIGKILL this returns at once.
  for (;;) {
    pid_t w = ::wait4(job.pid, &c_status, 0, &ru);
    if (w == job.pid || (w < 0 && errno != EINTR)) break;
  }
  job.exited = true;
  // Drain what is left in the pipes without blocking: the tree is gone, so EOF is near.
  for (auto* d : {&out_d, &err_d, &info_d}) {
    d->non_blocking(true);
    char b[65536];
    for (;;) {
      boost::system::error_code e;
      std::size_t n = d->read_some(asio::buffer(b), e);
      if (n) {
        if (d == &info_d) info.append(b, n);
        else {
          (d == &out_d ? out : err).add(std::string_view(b, n));
          if (observer) observer->on_output(d == &out_d ? 1 : 2, std::string_view(b, n));
        }
      }
      if (e || n == 0) break;
    }
  }
  out.finish();
  err.finish();

  // The job's own status: relayed by C through the status pipe when it ran in a PID namespace.
  int status = c_status;
  {
    st_d.non_blocking(true);
    int relayed = 0;
    boost::system::error_code e;
    if (st_d.read_some(asio::buffer(&relayed, sizeof relayed), e) == sizeof relayed) status = relayed;
  }
  remove_cgroup(cg_pids);
  bool mem_oom = false;
  if (cg_mem.ok()) {
    // v2: memory.events, v1: memory.oom_control; both have "oom_kill N".
    for (const char* f : {"memory.events", "memory.oom_control"}) {
      std::string text = read_small(cg_mem.dir / f);
      if (auto at = text.find("oom_kill "); at != std::string::npos && std::atol(text.c_str() + at + 9) > 0) mem_oom = true;
    }
    remove_cgroup(cg_mem);
  }

  // What the child said about its setup.
  {
    std::stringstream ss(info);
    for (std::string line; std::getline(ss, line);) {
      if (line.empty()) continue;
      if (line[0] == '+') {
        std::string p = line.substr(1);
        if (p != "locked_mounts" && !res.has(p)) res.protections.push_back(p);
      } else if (line[0] == '-') {
        res.unavailable.push_back(line.substr(1));
      } else if (line[0] == '!') {
        res.error = line.substr(1);
      }
    }
  }
  res.stdout_head = std::move(out.head);
  res.stdout_tail = std::move(out.tail);
  res.stderr_head = std::move(err.head);
  res.stderr_tail = std::move(err.tail);
  res.stdout_bytes = out.bytes;
  res.stderr_bytes = err.bytes;
  res.wall = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0);
  res.cpu_seconds = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  res.max_rss_bytes = static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;

  if (!res.error.empty()) {
    res.kind = ExitKind::failed_to_start;
    if (!spec.allow_degraded && res.error.rfind("sandbox:", 0) == 0)
      throw Error(errc::unsupported, res.error + "; set allow_degraded to run without this protection");
    co_return res;
  }
  if (cancelled) {
    res.kind = ExitKind::cancelled;
  } else if (timed_out) {
    res.kind = ExitKind::timeout;
  } else if (!job.limit_hit.empty()) {
    res.kind = ExitKind::limit;
    res.limit_hit = job.limit_hit;
  } else if (WIFEXITED(status)) {
    res.kind = ExitKind::exited;
    res.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    res.signal = WTERMSIG(status);
    res.kind = ExitKind::signaled;
    if (res.signal == SIGXCPU || (res.signal == SIGKILL && L.cpu.count() && res.cpu_seconds >= static_cast<double>(L.cpu.count()) * 0.9))
      res.kind = ExitKind::limit, res.limit_hit = "cpu";
    else if (res.signal == SIGXFSZ)
      res.kind = ExitKind::limit, res.limit_hit = "file_size";
  }
  // Memory: the cgroup says so, or the job died of allocation failure under RLIMIT_AS.
  if ((res.kind == ExitKind::exited && res.exit_code != 0) || res.kind == ExitKind::signaled) {
    std::string tail = res.stderr_head + res.stderr_tail;
    bool alloc_fail = tail.find("MemoryError") != std::string::npos || tail.find("Cannot allocate memory") != std::string::npos ||
                      tail.find("std::bad_alloc") != std::string::npos || tail.find("out of memory") != std::string::npos;
    if ((L.memory_bytes || L.address_space_bytes) && (mem_oom || alloc_fail)) res.kind = ExitKind::limit, res.limit_hit = "memory";
    // Python (and others) ignore SIGXFSZ and fail the write with EFBIG instead.
    else if (L.file_size_bytes && tail.find("File too large") != std::string::npos) res.kind = ExitKind::limit, res.limit_hit = "file_size";
    else if (L.processes && (tail.find("Resource temporarily unavailable") != std::string::npos || tail.find("fork") != std::string::npos) &&
             res.kind != ExitKind::signaled)
      res.kind = ExitKind::limit, res.limit_hit = "processes";
  }
  co_return res;
}

SandboxSupport LocalExecutor::support() {
  static std::once_flag once;
  static SandboxSupport s;
  std::call_once(once, [] {
    asio::io_context ioc;
    // Probe with everything requested but degradation allowed: the result lists what took.
    JobSpec spec;
    spec.argv = {"/bin/true"};
    spec.cwd = fs::temp_directory_path();
    spec.allow_degraded = true;
    JobResult r;
    bool done = false;
    // On a thread of its own: never nest io_context::run inside a caller's coroutine.
    std::thread([&] {
      probing = true;
      LocalExecutor ex(ioc.get_executor());
      asio::co_spawn(ioc, ex.run(spec), [&](std::exception_ptr e, JobResult jr) {
        if (!e) r = std::move(jr);
        done = true;
      });
      ioc.run();
    }).join();
    s.user_namespace = r.has("user_namespace");
    s.pid_namespace = r.has("pid_namespace");
    s.network_namespace = r.has("network_namespace");
    s.read_only_root = r.has("read_only_root");
    for (auto& u : r.unavailable) s.notes += (s.notes.empty() ? "" : "; ") + u;
    if (!done) s.notes += "probe did not finish";
    // cgroups: can we create one under our own?
    auto probe_cg = [](const char* ctrl, const char* file, const char* val) {
      Cgroup c = make_cgroup(ctrl, "mlrc-probe-" + std::to_string(::getpid()), file, val);
      bool ok = c.ok();
      remove_cgroup(c);
      return ok;
    };
    s.cgroup_pids = probe_cg("pids", "pids.max", "100");
    s.cgroup_memory = probe_cg("memory", "memory.limit_in_bytes", "1073741824");
  });
  return s;
}

}  // namespace v1
}  // namespace mlrc
