// The C ABI. Every entry point catches everything and reports through mlrc_error_last().
#include "internal.hpp"

#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/version.hpp>

static_assert(MLRC_VERSION_NUMBER == mlrc::version_number, "capi/include/mlrcopilot.h and include/mlrcopilot/version.hpp disagree");

using namespace mlrc_capi;

namespace mlrc_capi {

namespace {
std::string_view canonical_gate(std::string_view g) {
  if (g == "after_ideas") return "choose_idea";
  if (g == "before_execution") return "approve_execution";
  if (g == "on_help") return "help";
  return g;
}
}  // namespace

std::string gate_answer_problem(const std::string& gate, const boost::json::object& a) {
  auto str_field = [&](const char* k, bool required) -> std::string {
    auto* v = a.if_contains(k);
    if (!v) return required ? std::string("expected {\"") + k + "\": …}" : std::string();
    return v->is_string() ? std::string() : std::string("\"") + k + "\" must be a string";
  };
  if (gate == "choose_idea") {
    if (auto* v = a.if_contains("index")) {
      bool ok = (v->is_int64() && v->as_int64() >= 0) || v->is_uint64();
      if (!ok) return "\"index\" must be a non-negative integer";
    }
    return str_field("instructions", false);
  }
  if (gate == "approve_execution") {
    auto* v = a.if_contains("approve");
    return v && v->is_bool() ? std::string() : std::string("expected {\"approve\": true|false}");
  }
  if (gate == "after_step") return str_field("feedback", true);
  if (gate == "help") return str_field("answer", true);
  return "unknown gate '" + gate + "' (choose_idea, approve_execution, after_step or help)";
}

std::optional<std::string> GateAdapter::wait_for_answer(std::uint64_t seq, const std::shared_ptr<RunState>& run) {
  if (!run || !run->queue_events) return std::nullopt;  // a blocking run: nobody can answer later
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::unique_lock lk(hub_->mu);
  // Stop when answered, at the deadline, when the run is cancelled, or when a later gate opened
  // (this waiter then belongs to a gate that already took its default).
  while (hub_->gate_seq == seq && !hub_->gate_answer) {
    if (std::chrono::steady_clock::now() >= deadline) break;
    lk.unlock();
    bool stop = run->cancelled();
    lk.lock();
    if (stop) break;
    hub_->gate_cv.wait_for(lk, std::chrono::milliseconds(100));
  }
  if (hub_->gate_seq != seq) return std::nullopt;
  auto answer = std::move(hub_->gate_answer);
  hub_->gate_answer.reset();
  return answer;
}

std::optional<boost::json::object> GateAdapter::ask(const char* gate, const std::string& question) {
  auto run = hub_->running();
  std::uint64_t seq;
  {
    std::lock_guard lk(hub_->mu);
    seq = hub_->gate_seq;  // the gate_waiting event of this gate was emitted just before
  }
  std::optional<std::string> text;
  if (cb_) {
    mlrc_buf answer{};
    int rc;
    {
      std::lock_guard one_at_a_time(cb_mu_);
      std::unique_lock lk(hub_->mu);
      bool closed = hub_->closed;
      lk.unlock();
      CallbackScope scope(run.get());
      rc = closed ? 0 : cb_(gate, question.c_str(), &answer, payload_);
    }
    std::string given = answer.ptr ? std::string(answer.ptr, answer.size) : std::string();
    mlrc_buf_dispose(&answer);
    if (rc == MLRC_GATE_LATER) {
      text = wait_for_answer(seq, run);
    } else if (rc != 0) {
      if (run) run->cancel(true);
    } else {
      text = std::move(given);
    }
  } else {
    text = wait_for_answer(seq, run);
  }
  {
    std::lock_guard lk(hub_->mu);
    if (hub_->gate_seq == seq) {
      hub_->open_gate.clear();
      hub_->gate_answer.reset();
    }
  }
  if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  boost::system::error_code ec;
  auto v = boost::json::parse(*text, ec);
  if (ec) return bad(gate, "not JSON: " + ec.message()), std::nullopt;
  if (!v.is_object()) return bad(gate, "expected a JSON object"), std::nullopt;
  if (auto p = gate_answer_problem(gate, v.as_object()); !p.empty()) return bad(gate, p), std::nullopt;
  return std::move(v.as_object());
}

std::optional<std::size_t> GateAdapter::choose_idea(const std::vector<mlrc::Idea>& ideas, std::string& extra) {
  boost::json::array q;
  for (auto& i : ideas) q.push_back(boost::json::parse(mlrc::to_json(i)));
  auto a = ask("choose_idea", boost::json::serialize(q));
  if (!a) return std::nullopt;
  std::optional<std::size_t> pick;
  if (auto* v = a->if_contains("index")) {
    auto n = v->is_int64() ? static_cast<std::uint64_t>(v->as_int64()) : v->as_uint64();
    if (n >= ideas.size())
      return bad("choose_idea", "\"index\" must be from 0 to " + std::to_string(ideas.size() - 1)), std::nullopt;
    pick = static_cast<std::size_t>(n);
  }
  if (auto* v = a->if_contains("instructions")) extra = std::string(v->as_string());
  if (!pick && !extra.empty()) pick = 0;  // instructions alone: keep the top idea
  return pick;
}

std::optional<bool> GateAdapter::approve_execution(const std::string& command) {
  auto a = ask("approve_execution", boost::json::serialize(boost::json::object{{"command", command}}));
  if (!a) return std::nullopt;
  return a->at("approve").as_bool();
}

std::string GateAdapter::after_step(const mlrc::AgentStep& step) {
  auto a = ask("after_step", mlrc::to_json(step));
  if (!a) return {};
  return std::string(a->at("feedback").as_string());
}

std::optional<std::string> GateAdapter::help(const std::string& question) {
  auto a = ask("help", boost::json::serialize(boost::json::object{{"question", question}}));
  if (!a) return std::nullopt;
  return std::string(a->at("answer").as_string());
}

std::shared_ptr<RunState> start_op(mlrc::Runtime& rt, const std::shared_ptr<Hub>& hub, bool queue_events, const std::string& what,
                                   boost::asio::awaitable<std::string> op_in) {
  auto st = std::make_shared<RunState>();
  st->queue_events = queue_events;
  {
    std::lock_guard lk(hub->mu);
    if (hub->current) throw mlrc::Error(mlrc::errc::invalid_argument, what + " is already running (one run at a time)");
    hub->current = st;
  }
  try {
    auto op = rt.spawn(std::move(op_in), [st, hub](std::exception_ptr e, std::string result) {
      std::function<void()> on_end;
      {
        std::lock_guard lk(hub->mu);  // first, so it can be started again once wait returns
        if (hub->current == st) hub->current.reset();
      }
      {
        std::lock_guard lk(st->mu);
        if (!e) st->result_json = std::move(result);
        if (st->user_abort)
          st->error = {MLRC_EUSER, "a callback returned non-zero; the run was cancelled", {}};
        else if (st->cancel_requested)
          st->error = {MLRC_ECANCELLED, "the run was cancelled", {}};
        else if (e)
          st->error = error_of(e);
        st->done = true;
        on_end = std::move(st->on_end);
      }
      st->cv.notify_all();
      if (on_end) on_end();
    });
    std::optional<mlrc::Runtime::Op> late_cancel;
    {
      std::lock_guard lk(st->mu);
      st->op = op;
      if (st->cancel_requested && !st->done) late_cancel = op;
    }
    if (late_cancel) late_cancel->cancel();
  } catch (...) {
    std::lock_guard lk(hub->mu);
    if (hub->current == st) hub->current.reset();
    throw;
  }
  return st;
}

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

}  // namespace mlrc_capi

namespace {

mlrc_session* wrap_session(RuntimeRef rt, mlrc::Session s) {
  auto out = std::make_unique<mlrc_session>();
  out->rt = std::move(rt);
  out->s = std::make_unique<mlrc::Session>(std::move(s));
  auto hub = out->hub;
  out->s->on_event([hub](const mlrc::Event& ev) { hub->emit(ev); });
  // Without a handler, gates wait for mlrc_run_answer_gate during asynchronous runs.
  out->s->set_feedback(std::make_shared<GateAdapter>(nullptr, nullptr, hub, out->s->config().gate_timeout));
  return out.release();
}

boost::asio::awaitable<std::string> session_op(mlrc::Session* s) {
  auto sum = co_await s->run();
  co_return sum.to_json();
}

std::shared_ptr<RunState> start_run(mlrc_session* s, bool queue_events) {
  return start_op(*s->rt, s->hub, queue_events, "session", session_op(s->s.get()));
}

}  // namespace

extern "C" {

MLRC_API const mlrc_error* mlrc_error_last(void) {
  auto& e = last_error();
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

MLRC_API int mlrc_session_create_from_idea(mlrc_session** out, mlrc_runtime* rt, const mlrc_task* task, const char* idea_json,
                                           const char* config_json) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_session_create_from_idea", "out");
    *out = nullptr;
    if (!rt) return null_arg("mlrc_session_create_from_idea", "rt");
    if (!task) return null_arg("mlrc_session_create_from_idea", "task");
    if (!idea_json) return null_arg("mlrc_session_create_from_idea", "idea_json");
    boost::system::error_code ec;
    auto cfg = boost::json::parse(config_json && *config_json ? config_json : "{}", ec);
    if (ec) return set_error(MLRC_EINVALID, "mlrc_session_create_from_idea: config_json is not JSON: " + ec.message());
    if (!cfg.is_object()) return set_error(MLRC_EINVALID, "mlrc_session_create_from_idea: config_json must be an object");
    auto idea = boost::json::parse(idea_json, ec);
    if (ec) return set_error(MLRC_EINVALID, "mlrc_session_create_from_idea: idea_json is not JSON: " + ec.message());
    if (!idea.is_object()) return set_error(MLRC_EINVALID, "mlrc_session_create_from_idea: idea_json must be an Idea object");
    auto& o = cfg.as_object();
    for (const char* k : {"task", "idea", "paper"})
      if (o.contains(k))
        return set_error(MLRC_EINVALID, std::string("mlrc_session_create_from_idea: config_json must not hold \"") + k +
                                            "\" (the task and idea are the arguments)");
    o["task"] = task->t.folder.string();
    o["idea"] = std::move(idea);
    auto c = mlrc::SessionConfig::from_json(boost::json::serialize(o));
    *out = wrap_session(rt->rt, mlrc::Session::create(*rt->rt, std::move(c)));
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

MLRC_API void mlrc_session_free(mlrc_session* s) { free_owner(s); }

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
    s->s->set_feedback(std::make_shared<GateAdapter>(cb, cb ? payload : nullptr, s->hub, s->s->config().gate_timeout));
    return MLRC_OK;
  });
}

MLRC_API int mlrc_session_run(mlrc_session* s, mlrc_buf* result_json) {
  return guarded([&]() -> int {
    if (result_json) *result_json = mlrc_buf{};
    if (!s) return set_error(MLRC_EINVALID, "mlrc_session_run: session is NULL");
    MLRC_REFUSE_ON_RUNTIME_THREAD("mlrc_session_run", s->rt);
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
    run->hub = s->hub;
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
    if (in_callback_of(run->st))
      return set_error(MLRC_EINVALID, "mlrc_run_wait: called from the run's own callback (it would wait for itself)");
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

MLRC_API int mlrc_run_answer_gate(mlrc_run* run, const char* gate, const char* answer_json) {
  return guarded([&]() -> int {
    if (!run) return null_arg("mlrc_run_answer_gate", "run");
    if (!gate) return null_arg("mlrc_run_answer_gate", "gate");
    std::string g(canonical_gate(gate));
    std::string text = answer_json ? answer_json : "";
    if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
      boost::system::error_code ec;
      auto v = boost::json::parse(text, ec);
      if (ec) return set_error(MLRC_EINVALID, "mlrc_run_answer_gate: answer for '" + g + "' is not JSON: " + ec.message());
      if (!v.is_object()) return set_error(MLRC_EINVALID, "mlrc_run_answer_gate: answer for '" + g + "' must be a JSON object");
      if (auto p = gate_answer_problem(g, v.as_object()); !p.empty())
        return set_error(MLRC_EINVALID, "mlrc_run_answer_gate: answer for '" + g + "': " + p);
    } else {
      text.clear();
    }
    if (!run->hub) return set_error(MLRC_EINVALID, "mlrc_run_answer_gate: this run has no feedback gates");
    {
      std::lock_guard lk(run->hub->mu);
      if (run->hub->current != run->st) return set_error(MLRC_EINVALID, "mlrc_run_answer_gate: the run has ended");
      if (run->hub->open_gate != g)
        return set_error(MLRC_EINVALID, "mlrc_run_answer_gate: no gate '" + g + "' is waiting" +
                                            (run->hub->open_gate.empty() ? std::string() : " (the run waits at '" + run->hub->open_gate + "')"));
      run->hub->gate_answer = std::move(text);
    }
    run->hub->gate_cv.notify_all();
    return MLRC_OK;
  });
}

MLRC_API void mlrc_run_free(mlrc_run* run) {
  if (!run) return;
  try {
    run->st->cancel(false);
    if (!in_callback_of(run->st)) run->st->wait_done();  // from its own callback: do not wait for itself
    delete run;
  } catch (...) {
  }
}

}  // extern "C"
