#pragma once
/** @file executor.hpp
 *  Running code an LLM wrote: `Executor` and its local sandbox, `LocalExecutor`.
 *
 *  A job runs in its own session and process group, with rlimits, a wall-clock deadline that kills
 *  the whole process tree, and an environment built from an allowlist (the parent's API keys never
 *  reach it). Where the kernel allows, it also runs in new user, PID, mount and network namespaces:
 *  no network, the file system read-only except the job's writable folders and a private /tmp, and
 *  every descendant killed with the job. Where the machine permits cgroups, process count and
 *  memory are capped there too. `JobResult::protections` says which of these were really active;
 *  a job that asks for a protection the machine cannot give fails unless `allow_degraded`. */

#include <mlrcopilot/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** Resource limits of one job; 0 means no limit. */
struct Limits {
  std::chrono::milliseconds wall{0};      ///< wall clock; the whole tree is killed when it passes
  std::chrono::seconds cpu{0};            ///< CPU time (RLIMIT_CPU)
  std::uint64_t memory_bytes = 0;         ///< memory in use (memory cgroup); RLIMIT_AS where there is no cgroup
  std::uint64_t address_space_bytes = 0;  ///< virtual address space (RLIMIT_AS)
  std::uint64_t processes = 0;            ///< processes/threads in the job (pids cgroup; RLIMIT_NPROC otherwise)
  std::uint64_t file_size_bytes = 0;      ///< largest file the job may write (RLIMIT_FSIZE)
  std::uint64_t open_files = 0;           ///< RLIMIT_NOFILE
  std::uint64_t output_bytes = 0;         ///< stdout+stderr; the job is killed past it
};

/** What to run. */
struct JobSpec {
  /** argv[0] is an absolute path, a path relative to `cwd`, or a name looked up in the job's PATH. */
  std::vector<std::string> argv;
  std::filesystem::path cwd;  ///< must exist; it is writable for the job
  /** Added to the scrubbed environment (after the allowlist). */
  std::map<std::string, std::string> env;
  /** Parent variables passed through, if set. Names containing KEY, TOKEN, SECRET or PASSWORD are
   *  never passed, whatever this says. */
  std::vector<std::string> env_allow{"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "OPENBLAS_CORETYPE",
                                     "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"};
  Limits limits;
  bool network = false;                           ///< false: no network (own network namespace)
  bool confine_writes = true;                     ///< true: read-only file system except `writable`, cwd and /tmp
  std::vector<std::filesystem::path> writable;    ///< more folders the job may write
  /** Folders the job must not see at all (an empty read-only tmpfs is mounted over each), e.g.
   *  the task folder holding hidden test labels. Needs the mount namespace: without it the job
   *  fails to start unless `allow_degraded`. */
  std::vector<std::filesystem::path> hidden;
  bool allow_degraded = false;                    ///< run even if a requested protection is unavailable
  std::filesystem::path log_dir;                  ///< if set, stdout.log / stderr.log are written here
  std::size_t keep_head = 4096;                   ///< bytes of each stream kept from the start
  std::size_t keep_tail = 8192;                   ///< bytes of each stream kept from the end
};

/** How a job ended. */
enum class ExitKind {
  exited,           ///< returned normally (see exit_code)
  signaled,         ///< killed by a signal it did not ask for (see signal)
  timeout,          ///< wall-clock limit passed; the tree was killed
  limit,            ///< a resource limit was hit (see limit_hit); the job was stopped
  cancelled,        ///< the caller cancelled it; the tree was killed
  failed_to_start,  ///< could not be started (see error)
};
const char* exit_kind_name(ExitKind k) noexcept;

/** The outcome of a job. */
struct JobResult {
  ExitKind kind = ExitKind::failed_to_start;
  int exit_code = -1;
  int signal = 0;
  std::string limit_hit;  ///< "cpu", "memory", "output", "file_size", "processes" when kind == limit
  std::string error;      ///< why it failed to start
  std::string stdout_head, stdout_tail, stderr_head, stderr_tail;  ///< tail excludes what head holds
  std::uint64_t stdout_bytes = 0, stderr_bytes = 0;
  std::chrono::milliseconds wall{0};
  double cpu_seconds = 0;
  std::uint64_t max_rss_bytes = 0;
  std::vector<std::string> protections;  ///< active: "process_group", "rlimits", "env_scrub", "user_namespace", "pid_namespace", "network_namespace", "read_only_root", "private_tmp", "cgroup_pids", "cgroup_memory"
  std::vector<std::string> unavailable;  ///< requested but not given (only with allow_degraded), with the reason
  std::filesystem::path stdout_log, stderr_log;
  std::vector<std::string> argv;

  bool ok() const noexcept { return kind == ExitKind::exited && exit_code == 0; }
  bool has(std::string_view protection) const;
  /** Head and tail of both streams, with a "[… N bytes omitted …]" marker, for prompts. */
  std::string output_excerpt(std::size_t max_bytes = 8192) const;
  /** One line such as "exited with code 1 after 2.3 s" or "killed: memory limit". */
  std::string summary() const;
};

/** Receives output as it arrives (stream 1 = stdout, 2 = stderr). Called on the runtime's
 *  threads, one call at a time per job. */
class OutputObserver {
 public:
  virtual ~OutputObserver() = default;
  virtual void on_output(int stream, std::string_view chunk) = 0;
};

/** Runs jobs. Implementations: `LocalExecutor`; plugins may add others (Slurm, remote). */
class Executor {
 public:
  virtual ~Executor() = default;
  /** Runs `spec` to the end. Cancellation (terminal) kills the job's tree and returns a result of
   *  kind `cancelled`. Throws Error(errc::invalid_argument) for a malformed spec and
   *  Error(errc::unsupported) when a required protection is unavailable. */
  virtual boost::asio::awaitable<JobResult> run(JobSpec spec, OutputObserver* observer = nullptr) = 0;
  virtual std::string name() const = 0;
};

/** What the local machine can do, found by running a probe job once. */
struct SandboxSupport {
  bool user_namespace = false, pid_namespace = false, network_namespace = false, read_only_root = false;
  bool cgroup_pids = false, cgroup_memory = false;
  std::string notes;  ///< why something is unavailable
};

/** The local sandbox. Thread-safety: `run` may be called concurrently. */
class LocalExecutor final : public Executor {
 public:
  explicit LocalExecutor(boost::asio::any_io_executor ex);
  ~LocalExecutor() override;
  boost::asio::awaitable<JobResult> run(JobSpec spec, OutputObserver* observer = nullptr) override;
  std::string name() const override { return "local"; }
  /** Probes (once per process) and returns what this machine supports. Blocking; cheap after the first call. */
  static SandboxSupport support();

 private:
  boost::asio::any_io_executor ex_;
};

/** JSON of a result (for the CLI, the run store and the C ABI). */
std::string to_json(const JobResult& r);

}  // namespace v1
}  // namespace mlrc
