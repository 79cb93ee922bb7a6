#pragma once
// Shared by the C ABI's translation units: error reporting, the handle structs, asynchronous runs
// (RunState), event routing and feedback gates (Hub, GateAdapter). Not installed.
#include "mlrcopilot.h"

#include <mlrcopilot/agent.hpp>
#include <mlrcopilot/error.hpp>
#include <mlrcopilot/executor.hpp>
#include <mlrcopilot/feedback.hpp>
#include <mlrcopilot/model.hpp>
#include <mlrcopilot/planner.hpp>
#include <mlrcopilot/retriever.hpp>
#include <mlrcopilot/runtime.hpp>
#include <mlrcopilot/session.hpp>
#include <mlrcopilot/task.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mlrc_capi {

struct LastError {
  int code = MLRC_OK;
  std::string message = "no error";
  std::string provider_text;
  mlrc_error view{};
};
inline LastError& last_error() {
  thread_local LastError e;
  return e;
}

inline int set_error(int code, std::string message, std::string provider_text = {}) {
  auto& e = last_error();
  e.code = code;
  e.message = std::move(message);
  e.provider_text = std::move(provider_text);
  return code;
}

inline int clear_error() { return set_error(MLRC_OK, "no error"); }

// The outcome of an exception as (code, message, provider text), without throwing.
struct ErrorInfo {
  int code = MLRC_OK;
  std::string message = "no error";
  std::string provider_text;
};
inline ErrorInfo error_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const mlrc::Error& x) {
    return {-static_cast<int>(x.code_enum()), x.what(), x.provider_text()};
  } catch (const std::bad_alloc&) {
    return {MLRC_EINTERNAL, "out of memory", {}};
  } catch (const std::exception& x) {
    return {MLRC_EINTERNAL, std::string("internal error: ") + x.what(), {}};
  } catch (...) {
    return {MLRC_EINTERNAL, "internal error: unknown exception", {}};
  }
}

// Runs `f`, turning any exception into an error code.
template <class F>
int guarded(F&& f) noexcept {
  try {
    clear_error();
    return f();
  } catch (...) {
    try {
      auto info = error_of(std::current_exception());
      return set_error(info.code, std::move(info.message), std::move(info.provider_text));
    } catch (...) {
      return MLRC_EINTERNAL;
    }
  }
}

inline int fill_buf(mlrc_buf* out, const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) return set_error(MLRC_EINTERNAL, "out of memory");
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  out->ptr = p;
  out->size = s.size();
  out->reserved = s.size() + 1;
  return MLRC_OK;
}

// MLRC_EINVALID for a blocking call made on the runtime thread it would wait for.
#define MLRC_REFUSE_ON_RUNTIME_THREAD(fn, ref)                                                           \
  do {                                                                                                   \
    if ((ref).on_own_thread())                                                                           \
      return set_error(MLRC_EINVALID, std::string(fn) + ": called on a thread of its runtime (from an "  \
                                                        "event callback?); it would wait for itself"); \
  } while (0)

// "NAME: ARG is NULL" as MLRC_EINVALID.
inline int null_arg(const char* fn, const char* arg) { return set_error(MLRC_EINVALID, std::string(fn) + ": " + arg + " is NULL"); }

// One asynchronous operation's state (a session run or a planner run), shared by the mlrc_run
// handle, the event hub and the completion handler (which runs on a runtime thread).
struct RunState {
  std::mutex mu;
  std::condition_variable cv;
  bool queue_events = true;  // false for blocking runs: nobody pulls, so nothing is kept
  std::deque<mlrc::Event> queue;
  bool done = false;
  bool cancel_requested = false;
  bool user_abort = false;
  std::optional<mlrc::Runtime::Op> op;
  std::string result_json;  // "" if the operation ended by an exception
  ErrorInfo error;
  // Run at the end, after `done` (a session freed from its own callback is deleted here).
  std::function<void()> on_end;

  void push(const mlrc::Event& ev) {
    {
      std::lock_guard lk(mu);
      if (!queue_events) return;
      queue.push_back(ev);
    }
    cv.notify_all();
  }
  // Returns false if the run had already ended.
  bool cancel(bool by_user) {
    std::optional<mlrc::Runtime::Op> o;
    {
      std::lock_guard lk(mu);
      if (done) return false;
      cancel_requested = true;
      if (by_user) user_abort = true;
      o = op;
    }
    if (o) o->cancel();
    return true;
  }
  bool cancelled() {
    std::lock_guard lk(mu);
    return cancel_requested || done;
  }
  void wait_done() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return done; });
  }
};

// Marks the thread as inside a host callback of a run (events or gates), so that freeing or
// waiting for that run from the callback does not wait for itself.
inline const RunState*& callback_run() {
  thread_local const RunState* r = nullptr;
  return r;
}
struct CallbackScope {
  const RunState* saved;
  explicit CallbackScope(const RunState* r) : saved(callback_run()) { callback_run() = r; }
  ~CallbackScope() { callback_run() = saved; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
};
inline bool in_callback_of(const std::shared_ptr<RunState>& r) { return r && callback_run() == r.get(); }

// Routes events to the host's callback and to the current run's queue, and holds the gate a run
// is waiting at (for mlrc_run_answer_gate). Shared with gate adapters, which may outlive the
// session (a gate thread that overran its timeout).
struct Hub {
  std::mutex mu;
  mlrc_event_cb cb = nullptr;
  void* payload = nullptr;
  std::shared_ptr<RunState> current;
  // The open gate: its answer_as name while a gate_waiting event is out, its sequence number
  // (so a late waiter of an earlier gate never takes or closes a later one), and the answer.
  std::string open_gate;
  std::uint64_t gate_seq = 0;
  std::optional<std::string> gate_answer;
  std::condition_variable gate_cv;
  bool closed = false;  // the owning session/planner was freed: never call the host again

  std::shared_ptr<RunState> running() {
    std::lock_guard lk(mu);
    return current;
  }
  void emit(const mlrc::Event& ev) {
    mlrc_event_cb c;
    void* p;
    std::shared_ptr<RunState> run;
    {
      std::lock_guard lk(mu);
      c = closed ? nullptr : cb, p = payload, run = current;
      if (ev.kind == "gate_waiting") {
        // Opened before anyone hears of it, so an answer given straight away is not lost.
        boost::system::error_code ec;
        auto v = boost::json::parse(ev.json, ec);
        if (!ec && v.is_object())
          if (auto* a = v.as_object().if_contains("answer_as"); a && a->is_string()) {
            open_gate = std::string(a->as_string());
            ++gate_seq;
            gate_answer.reset();
          }
      }
    }
    if (run) run->push(ev);
    if (c) {
      mlrc_event e{ev.kind.c_str(), ev.json.c_str()};
      CallbackScope scope(run.get());
      if (c(&e, p) != 0 && run) run->cancel(true);
    }
  }
  void close() {
    std::lock_guard lk(mu);
    closed = true;
    cb = nullptr;
    payload = nullptr;
  }
  void warn(const std::string& message) {
    emit({"warning", boost::json::serialize(boost::json::object{{"message", message}})});
  }
};

// FeedbackHandler that asks the host: through its gate callback, or by waiting for
// mlrc_run_answer_gate (no callback, or the callback returned MLRC_GATE_LATER) during an
// asynchronous run.
class GateAdapter final : public mlrc::FeedbackHandler {
 public:
  GateAdapter(mlrc_gate_cb cb, void* payload, std::shared_ptr<Hub> hub, std::chrono::seconds timeout)
      : cb_(cb), payload_(payload), hub_(std::move(hub)), timeout_(timeout) {}

  std::optional<std::size_t> choose_idea(const std::vector<mlrc::Idea>& ideas, std::string& extra) override;
  std::optional<bool> approve_execution(const std::string& command) override;
  std::string after_step(const mlrc::AgentStep& step) override;
  std::optional<std::string> help(const std::string& question) override;

 private:
  void bad(const char* gate, const std::string& why) {
    hub_->warn(std::string("gate ") + gate + ": invalid answer (" + why + "); taking the default");
  }
  std::optional<boost::json::object> ask(const char* gate, const std::string& question);
  std::optional<std::string> wait_for_answer(std::uint64_t seq, const std::shared_ptr<RunState>& run);
  std::mutex cb_mu_;  // one host gate callback at a time, even when one overran its timeout
  mlrc_gate_cb cb_;
  void* payload_;
  std::shared_ptr<Hub> hub_;
  std::chrono::seconds timeout_;
};

// Checks an answer's shape for `gate` (answer_as name); "" if fine, else what is wrong.
std::string gate_answer_problem(const std::string& gate, const boost::json::object& answer);

// Starts `op` (which yields the result JSON) on `rt` as the hub's current run. Throws.
std::shared_ptr<RunState> start_op(mlrc::Runtime& rt, const std::shared_ptr<Hub>& hub, bool queue_events, const std::string& what,
                                   boost::asio::awaitable<std::string> op);
// Waits for the run and reports its outcome (through the thread's last error too).
int finish_wait(RunState& st, mlrc_buf* result_json);

// Calls `f` (a blocking host callback) on a worker thread and resumes on the caller's executor,
// so plugins never block the runtime's I/O threads.
boost::asio::awaitable<void> offload(std::function<void()> f);

// A shared reference to a Runtime that is never the last one dropped on that runtime's own
// thread (a Runtime cannot join itself): dropped there — a session freed from its own callback,
// a Python handle collected inside a callback — it is handed to a short-lived thread instead.
class RuntimeRef {
 public:
  RuntimeRef() = default;
  RuntimeRef(std::shared_ptr<mlrc::Runtime> p) : p_(std::move(p)) {}  // NOLINT: implicit on purpose
  RuntimeRef(const RuntimeRef&) = default;
  RuntimeRef(RuntimeRef&&) noexcept = default;
  RuntimeRef& operator=(RuntimeRef other) noexcept {
    std::swap(p_, other.p_);
    return *this;
  }
  ~RuntimeRef() {
    if (on_own_thread()) std::thread([q = std::move(p_)] {}).detach();
  }
  mlrc::Runtime* operator->() const noexcept { return p_.get(); }
  mlrc::Runtime& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  /** True on one of the runtime's own threads, where a blocking call on it would wait for itself. */
  bool on_own_thread() const { return p_ && p_->context().get_executor().running_in_this_thread(); }

 private:
  std::shared_ptr<mlrc::Runtime> p_;
};

}  // namespace mlrc_capi

struct mlrc_runtime {
  mlrc_capi::RuntimeRef rt;
};

struct mlrc_session {
  mlrc_capi::RuntimeRef rt;  // kept alive while the session lives
  std::unique_ptr<mlrc::Session> s;
  std::shared_ptr<mlrc_capi::Hub> hub = std::make_shared<mlrc_capi::Hub>();
  // The runtimes of the models and retrievers given to it (their I/O runs there).
  std::vector<mlrc_capi::RuntimeRef> runtimes;
};

struct mlrc_run {
  std::shared_ptr<mlrc_capi::RunState> st;
  std::shared_ptr<mlrc_capi::Hub> hub;
  std::string kind, json;  // the last event handed out by mlrc_run_next_event
};

struct mlrc_model {
  mlrc_capi::RuntimeRef rt;
  mlrc::ModelPtr m;
};

struct mlrc_retriever {
  mlrc_capi::RuntimeRef rt;
  std::shared_ptr<mlrc::Retriever> r;
};

struct mlrc_task {
  mlrc::Task t;
};

struct mlrc_planner {
  mlrc_capi::RuntimeRef rt;
  mlrc_capi::RuntimeRef retriever_rt;  // the retriever's runtime, kept alive too
  mlrc::ModelPtr model;
  std::shared_ptr<mlrc::Retriever> retriever;
  mlrc::PlannerOptions options;
  std::shared_ptr<mlrc_capi::Hub> hub = std::make_shared<mlrc_capi::Hub>();
};

namespace mlrc_capi {

// Frees a session or planner: no host callback after this returns; a run still going is cancelled
// and waited for — or, when freed from that run's own callback (waiting would wait for itself),
// deleted when the run ends.
template <class Owner>
void free_owner(Owner* o) noexcept {
  if (!o) return;
  try {
    o->hub->close();
    if (auto run = o->hub->running()) {
      run->cancel(false);
      if (in_callback_of(run)) {
        std::unique_lock lk(run->mu);
        if (!run->done) {
          run->on_end = [o] { delete o; };
          return;
        }
      } else {
        run->wait_done();
      }
    }
    delete o;
  } catch (...) {
  }
}

}  // namespace mlrc_capi
