// The C ABI. Every entry point catches everything and reports through mlrc_error_last().
#include "mlrcopilot.h"

#include <mlrcopilot/agent.hpp>
#include <mlrcopilot/error.hpp>
#include <mlrcopilot/feedback.hpp>
#include <mlrcopilot/planner.hpp>
#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/runtime.hpp>
#include <mlrcopilot/session.hpp>
#include <mlrcopilot/version.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>

static_assert(MLRC_VERSION_NUMBER == mlrc::version_number, "capi/include/mlrcopilot.h and include/mlrcopilot/version.hpp disagree");

namespace {

struct LastError {
  int code = MLRC_OK;
  std::string message = "no error";
  std::string provider_text;
  mlrc_error view{};
};
thread_local LastError last_error;

int set_error(int code, std::string message, std::string provider_text = {}) {
  last_error.code = code;
  last_error.message = std::move(message);
  last_error.provider_text = std::move(provider_text);
  return code;
}

int clear_error() { return set_error(MLRC_OK, "no error"); }

// Runs `f`, turning any exception into an error code.
template <class F>
int guarded(F&& f) noexcept {
  try {
    clear_error();
    return f();
  } catch (const mlrc::Error& e) {
    return set_error(-static_cast<int>(e.code_enum()), e.what(), e.provider_text());
  } catch (const std::bad_alloc&) {
    return set_error(MLRC_EINTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return set_error(MLRC_EINTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return set_error(MLRC_EINTERNAL, "internal error: unknown exception");
  }
}

int fill_buf(mlrc_buf* out, const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) return set_error(MLRC_EINTERNAL, "out of memory");
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  out->ptr = p;
  out->size = s.size();
  out->reserved = s.size() + 1;
  return MLRC_OK;
}

// The outcome of an exception as (code, message, provider text), without throwing.
struct ErrorInfo {
  int code = MLRC_OK;
  std::string message = "no error";
  std::string provider_text;
};
ErrorInfo error_of(std::exception_ptr e) {
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

// One run's state, shared by the mlrc_run handle, the session's event hub and the completion
// handler (which runs on a runtime thread).
struct RunState {
  std::mutex mu;
  std::condition_variable cv;
  bool queue_events = true;  // false for blocking runs: nobody pulls, so nothing is kept
  std::deque<mlrc::Event> queue;
  bool done = false;
  bool cancel_requested = false;
  bool user_abort = false;
  std::optional<mlrc::Runtime::Op> op;
  std::string result_json;  // the RunSummary, "" if the run ended by an exception
  ErrorInfo error;

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
  void wait_done() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return done; });
  }
};

// Routes a session's events to the host's callback and to the current run's queue. Shared with
// gate adapters, which may outlive the session (a gate thread that overran its timeout).
struct Hub {
  std::mutex mu;
  mlrc_event_cb cb = nullptr;
  void* payload = nullptr;
  std::shared_ptr<RunState> current;

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
      c = cb, p = payload, run = current;
    }
    if (run) run->push(ev);
    if (c) {
      mlrc_event e{ev.kind.c_str(), ev.json.c_str()};
      if (c(&e, p) != 0 && run) run->cancel(true);
    }
  }
  void warn(const std::string& message) {
    emit({"warning", boost::json::serialize(boost::json::object{{"message", message}})});
  }
};

// FeedbackHandler that asks the host's gate callback, with JSON questions and answers.
class GateAdapter final : public mlrc::FeedbackHandler {
 public:
  GateAdapter(mlrc_gate_cb cb, void* payload, std::shared_ptr<Hub> hub) : cb_(cb), payload_(payload), hub_(std::move(hub)) {}

  std::optional<std::size_t> choose_idea(const std::vector<mlrc::Idea>& ideas, std::string& extra) override {
    boost::json::array q;
    for (auto& i : ideas) q.push_back(boost::json::parse(mlrc::to_json(i)));
    auto a = ask("choose_idea", boost::json::serialize(q));
    if (!a) return std::nullopt;
    std::optional<std::size_t> pick;
    if (auto* v = a->if_contains("index")) {
      if (v->is_int64() && v->as_int64() >= 0 && static_cast<std::size_t>(v->as_int64()) < ideas.size())
        pick = static_cast<std::size_t>(v->as_int64());
      else if (v->is_uint64() && v->as_uint64() < ideas.size())
        pick = static_cast<std::size_t>(v->as_uint64());
      else
        return bad("choose_idea", "\"index\" must be an integer from 0 to " + std::to_string(ideas.size() - 1)), std::nullopt;
    }
    if (auto* v = a->if_contains("instructions")) {
      if (!v->is_string()) return bad("choose_idea", "\"instructions\" must be a string"), std::nullopt;
      extra = std::string(v->as_string());
    }
    if (!pick && !extra.empty()) pick = 0;  // instructions alone: keep the top idea
    return pick;
  }
  std::optional<bool> approve_execution(const std::string& command) override {
    auto a = ask("approve_execution", boost::json::serialize(boost::json::object{{"command", command}}));
    if (!a) return std::nullopt;
    auto* v = a->if_contains("approve");
    if (!v || !v->is_bool()) return bad("approve_execution", "expected {\"approve\": true|false}"), std::nullopt;
    return v->as_bool();
  }
  std::string after_step(const mlrc::AgentStep& step) override {
    auto a = ask("after_step", mlrc::to_json(step));
    if (!a) return {};
    auto* v = a->if_contains("feedback");
    if (!v || !v->is_string()) return bad("after_step", "expected {\"feedback\": \"...\"}"), std::string();
    return std::string(v->as_string());
  }
  std::optional<std::string> help(const std::string& question) override {
    auto a = ask("help", boost::json::serialize(boost::json::object{{"question", question}}));
    if (!a) return std::nullopt;
    auto* v = a->if_contains("answer");
    if (!v || !v->is_string()) return bad("help", "expected {\"answer\": \"...\"}"), std::nullopt;
    return std::string(v->as_string());
  }

 private:
  void bad(const char* gate, const std::string& why) {
    hub_->warn(std::string("gate ") + gate + ": invalid answer (" + why + "); taking the default");
  }
  // The answer as a JSON object, or nullopt for the default (empty, invalid, or the callback aborted).
  std::optional<boost::json::object> ask(const char* gate, const std::string& question) {
    mlrc_buf answer{};
    int rc = cb_(gate, question.c_str(), &answer, payload_);
    std::string text = answer.ptr ? std::string(answer.ptr, answer.size) : std::string();
    mlrc_buf_dispose(&answer);
    if (rc != 0) {
      if (auto run = hub_->running()) run->cancel(true);
      return std::nullopt;
    }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec) return bad(gate, "not JSON: " + ec.message()), std::nullopt;
    if (!v.is_object()) return bad(gate, "expected a JSON object"), std::nullopt;
    return std::move(v.as_object());
  }
  mlrc_gate_cb cb_;
  void* payload_;
  std::shared_ptr<Hub> hub_;
};

}  // namespace

struct mlrc_runtime {
  std::shared_ptr<mlrc::Runtime> rt;
};

struct mlrc_session {
  std::shared_ptr<mlrc::Runtime> rt;  // kept alive while the session lives
  std::unique_ptr<mlrc::Session> s;
  std::shared_ptr<Hub> hub = std::make_shared<Hub>();
};

struct mlrc_run {
  std::shared_ptr<RunState> st;
  std::string kind, json;  // the last event handed out by mlrc_run_next_event
};

namespace {

mlrc_session* wrap_session(std::shared_ptr<mlrc::Runtime> rt, mlrc::Session s) {
  auto out = std::make_unique<mlrc_session>();
  out->rt = std::move(rt);
  out->s = std::make_unique<mlrc::Session>(std::move(s));
  auto hub = out->hub;
  out->s->on_event([hub](const mlrc::Event& ev) { hub->emit(ev); });
  return out.release();
}

// Starts `s` on its runtime. Throws; the caller is inside guarded().
std::shared_ptr<RunState> start_run(mlrc_session* s, bool queue_events) {
  auto st = std::make_shared<RunState>();
  st->queue_events = queue_events;
  {
    std::lock_guard lk(s->hub->mu);
    if (s->hub->current) throw mlrc::Error(mlrc::errc::invalid_argument, "session is already running");
    s->hub->current = st;
  }
  auto hub = s->hub;
  try {
    auto op = s->rt->spawn(s->s->run(), [st, hub](std::exception_ptr e, mlrc::RunSummary sum) {
      {
        std::lock_guard lk(hub->mu);  // first, so the session can be started again once wait returns
        if (hub->current == st) hub->current.reset();
      }
      {
        std::lock_guard lk(st->mu);
        if (!e) {
          try {
            st->result_json = sum.to_json();
          } catch (...) {
            e = std::current_exception();
          }
        }
        if (st->user_abort)
          st->error = {MLRC_EUSER, "a callback returned non-zero; the run was cancelled", {}};
        else if (st->cancel_requested)
          st->error = {MLRC_ECANCELLED, "the run was cancelled", {}};
        else if (e)
          st->error = error_of(e);
        st->done = true;
      }
      st->cv.notify_all();
    });
    std::optional<mlrc::Runtime::Op> late_cancel;
    {
      std::lock_guard lk(st->mu);
      st->op = op;
      if (st->cancel_requested && !st->done) late_cancel = op;
    }
    if (late_cancel) late_cancel->cancel();
  } catch (...) {
    std::lock_guard lk(s->hub->mu);
    if (s->hub->current == st) s->hub->current.reset();
    throw;
  }
  return st;
}

// Waits for the run and reports its outcome (through the thread's last error too).
int finish_wait(RunState& st, mlrc_buf* result_json) {
  st.wait_done();
  std::lock_guard lk(st.mu);
  if (result_json && !st.result_json.empty()) {
    int rc = fill_buf(result_json, st.result_json);
    if (rc != MLRC_OK) return rc;
  }
  if (st.error.code == MLRC_OK) return clear_error();
  return set_error(st.error.code, st.error.message, st.error.provider_text);
}

}  // namespace

extern "C" {

MLRC_API const mlrc_error* mlrc_error_last(void) {
  auto& e = last_error;
  e.view.code = e.code;
  e.view.message = e.message.c_str();
  e.view.provider_text = e.provider_text.c_str();
  return &e.view;
}

MLRC_API void mlrc_buf_dispose(mlrc_buf* buf) {
  if (!buf) return;
  std::free(buf->ptr);
  buf->ptr = nullptr;
  buf->size = buf->reserved = 0;
}

MLRC_API int mlrc_buf_set(mlrc_buf* buf, const char* text) {
  return guarded([&]() -> int {
    if (!buf) return set_error(MLRC_EINVALID, "mlrc_buf_set: buf is NULL");
    if (!text) return set_error(MLRC_EINVALID, "mlrc_buf_set: text is NULL");
    mlrc_buf fresh{};
    int rc = fill_buf(&fresh, text);
    if (rc != MLRC_OK) return rc;
    mlrc_buf_dispose(buf);
    *buf = fresh;
    return MLRC_OK;
  });
}

MLRC_API int mlrc_version_number(void) { return mlrc::linked_version_number(); }
MLRC_API const char* mlrc_version_string(void) { return mlrc::linked_version_string(); }

MLRC_API int mlrc_model_spec_parse(mlrc_buf* out, const char* spec) {
  return guarded([&]() -> int {
    if (!out) return set_error(MLRC_EINVALID, "mlrc_model_spec_parse: out is NULL");
    *out = mlrc_buf{};
    if (!spec) return set_error(MLRC_EINVALID, "mlrc_model_spec_parse: spec is NULL");
    auto s = mlrc::ModelSpec::parse(spec);
    boost::json::object o;
    o["provider"] = mlrc::provider_kind_name(s.kind);
    o["model"] = s.model;
    o["base_url"] = s.base_url;
    o["spec"] = s.to_string();
    return fill_buf(out, boost::json::serialize(o));
  });
}

// ---- Runtime --------------------------------------------------------------------------------

MLRC_API int mlrc_runtime_new(mlrc_runtime** out, unsigned threads) {
  return guarded([&]() -> int {
    if (!out) return set_error(MLRC_EINVALID, "mlrc_runtime_new: out is NULL");
    *out = nullptr;
    mlrc::RuntimeOptions o;
    o.threads = threads;
    auto rt = std::make_shared<mlrc::Runtime>(o);
    *out = new mlrc_runtime{std::move(rt)};
    return MLRC_OK;
  });
}

MLRC_API void mlrc_runtime_free(mlrc_runtime* rt) {
  try {
    delete rt;
  } catch (...) {
  }
}

// ---- Sessions -------------------------------------------------------------------------------

MLRC_API int mlrc_session_create(mlrc_session** out, mlrc_runtime* rt, const char* config_json) {
  return guarded([&]() -> int {
    if (!out) return set_error(MLRC_EINVALID, "mlrc_session_create: out is NULL");
    *out = nullptr;
    if (!rt) return set_error(MLRC_EINVALID, "mlrc_session_create: rt is NULL");
    if (!config_json) return set_error(MLRC_EINVALID, "mlrc_session_create: config_json is NULL");
    auto cfg = mlrc::SessionConfig::from_json(config_json);
    *out = wrap_session(rt->rt, mlrc::Session::create(*rt->rt, std::move(cfg)));
    return MLRC_OK;
  });
}

MLRC_API int mlrc_session_open(mlrc_session** out, mlrc_runtime* rt, const char* home, const char* run_id) {
  return guarded([&]() -> int {
    if (!out) return set_error(MLRC_EINVALID, "mlrc_session_open: out is NULL");
    *out = nullptr;
    if (!rt) return set_error(MLRC_EINVALID, "mlrc_session_open: rt is NULL");
    if (!run_id || !*run_id) return set_error(MLRC_EINVALID, "mlrc_session_open: run_id is NULL or empty");
    *out = wrap_session(rt->rt, mlrc::Session::open(*rt->rt, home ? home : "", run_id));
    return MLRC_OK;
  });
}

MLRC_API int mlrc_session_id(const mlrc_session* s, mlrc_buf* out) {
  return guarded([&]() -> int {
    if (!out) return set_error(MLRC_EINVALID, "mlrc_session_id: out is NULL");
    *out = mlrc_buf{};
    if (!s) return set_error(MLRC_EINVALID, "mlrc_session_id: session is NULL");
    return fill_buf(out, s->s->id());
  });
}

MLRC_API void mlrc_session_free(mlrc_session* s) {
  if (!s) return;
  try {
    if (auto run = s->hub->running()) {
      run->cancel(false);
      run->wait_done();
    }
    delete s;
  } catch (...) {
  }
}

MLRC_API int mlrc_session_on_event(mlrc_session* s, mlrc_event_cb cb, void* payload) {
  return guarded([&]() -> int {
    if (!s) return set_error(MLRC_EINVALID, "mlrc_session_on_event: session is NULL");
    std::lock_guard lk(s->hub->mu);
    s->hub->cb = cb;
    s->hub->payload = cb ? payload : nullptr;
    return MLRC_OK;
  });
}

MLRC_API int mlrc_session_set_gate_handler(mlrc_session* s, mlrc_gate_cb cb, void* payload) {
  return guarded([&]() -> int {
    if (!s) return set_error(MLRC_EINVALID, "mlrc_session_set_gate_handler: session is NULL");
    if (s->hub->running()) return set_error(MLRC_EINVALID, "session is already running");
    s->s->set_feedback(cb ? std::make_shared<GateAdapter>(cb, payload, s->hub) : nullptr);
    return MLRC_OK;
  });
}

MLRC_API int mlrc_session_run(mlrc_session* s, mlrc_buf* result_json) {
  return guarded([&]() -> int {
    if (result_json) *result_json = mlrc_buf{};
    if (!s) return set_error(MLRC_EINVALID, "mlrc_session_run: session is NULL");
    auto st = start_run(s, false);
    return finish_wait(*st, result_json);
  });
}

// ---- Asynchronous runs ----------------------------------------------------------------------

MLRC_API int mlrc_session_start(mlrc_run** out, mlrc_session* s) {
  return guarded([&]() -> int {
    if (!out) return set_error(MLRC_EINVALID, "mlrc_session_start: out is NULL");
    *out = nullptr;
    if (!s) return set_error(MLRC_EINVALID, "mlrc_session_start: session is NULL");
    auto run = std::make_unique<mlrc_run>();
    run->st = start_run(s, true);
    *out = run.release();
    return MLRC_OK;
  });
}

MLRC_API int mlrc_run_next_event(mlrc_run* run, mlrc_event* ev, int timeout_ms) {
  return guarded([&]() -> int {
    if (!run) return set_error(MLRC_EINVALID, "mlrc_run_next_event: run is NULL");
    if (!ev) return set_error(MLRC_EINVALID, "mlrc_run_next_event: ev is NULL");
    ev->kind = ev->json = nullptr;
    auto& st = *run->st;
    std::unique_lock lk(st.mu);
    auto ready = [&] { return !st.queue.empty() || st.done; };
    if (timeout_ms < 0)
      st.cv.wait(lk, ready);
    else
      st.cv.wait_for(lk, std::chrono::milliseconds(timeout_ms), ready);
    if (!st.queue.empty()) {
      run->kind = std::move(st.queue.front().kind);
      run->json = std::move(st.queue.front().json);
      st.queue.pop_front();
      ev->kind = run->kind.c_str();
      ev->json = run->json.c_str();
      return MLRC_OK;
    }
    if (st.done) return set_error(MLRC_EDONE, "the run has finished and every event was taken");
    return set_error(MLRC_ETIMEOUT, "no event within " + std::to_string(timeout_ms) + " ms");
  });
}

MLRC_API int mlrc_run_wait(mlrc_run* run, mlrc_buf* result_json) {
  return guarded([&]() -> int {
    if (result_json) *result_json = mlrc_buf{};
    if (!run) return set_error(MLRC_EINVALID, "mlrc_run_wait: run is NULL");
    return finish_wait(*run->st, result_json);
  });
}

MLRC_API int mlrc_run_cancel(mlrc_run* run) {
  return guarded([&]() -> int {
    if (!run) return set_error(MLRC_EINVALID, "mlrc_run_cancel: run is NULL");
    if (!run->st->cancel(false)) return set_error(MLRC_EDONE, "the run had already finished");
    return MLRC_OK;
  });
}

MLRC_API void mlrc_run_free(mlrc_run* run) {
  if (!run) return;
  try {
    run->st->cancel(false);
    run->st->wait_done();
    delete run;
  } catch (...) {
  }
}

}  // extern "C"
