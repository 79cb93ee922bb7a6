// The C ABI's model, retriever, task and planner handles, and the plugin adapters that turn a
// host's C vtables into the library's Tool, Model, Retriever and Executor.
#include "internal.hpp"

#include <mlrcopilot/json.hpp>
#include <mlrcopilot/online.hpp>
#include <mlrcopilot/paper.hpp>
#include <mlrcopilot/providers.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <thread>

using namespace mlrc_capi;
namespace json = boost::json;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace mlrc_capi {

asio::awaitable<void> offload(std::function<void()> f) {
  // One thread per call: plugins may block for long (a training run in an executor plugin) and
  // may call back into the library (a tool asking a model), so a fixed pool could run dry or
  // deadlock. The completion is posted back to the awaiting coroutine's executor.
  co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
      [](auto handler, std::function<void()> fn) {
        auto ex = asio::get_associated_executor(handler);
        auto work = asio::prefer(ex, asio::execution::outstanding_work.tracked);
        std::thread([handler = std::move(handler), fn = std::move(fn), work = std::move(work)]() mutable {
          std::exception_ptr e;
          try {
            fn();
          } catch (...) {
            e = std::current_exception();
          }
          asio::post(work, [handler = std::move(handler), e]() mutable { std::move(handler)(e); });
        }).detach();
      },
      asio::use_awaitable, std::move(f));
}

}  // namespace mlrc_capi

namespace {

std::string str_or(const char* s, const char* dflt = "") { return s ? s : dflt; }

// The part of a vtable every plugin shares: payload ownership.
struct PluginRef {
  void* payload = nullptr;
  void (*release)(void*) = nullptr;
  PluginRef(void* p, void (*r)(void*)) : payload(p), release(r) {}
  PluginRef(const PluginRef&) = delete;
  PluginRef& operator=(const PluginRef&) = delete;
  ~PluginRef() {
    if (release) release(payload);
  }
};

int check_version(const char* fn, unsigned v) {
  if (v != MLRC_PLUGIN_VERSION)
    return set_error(MLRC_EINVALID, std::string(fn) + ": vtable version " + std::to_string(v) + ", this library speaks " +
                                        std::to_string(MLRC_PLUGIN_VERSION) + " (MLRC_PLUGIN_VERSION)");
  return MLRC_OK;
}

// What a plugin function returned: its code and the text of its out buffer.
struct PluginResult {
  int rc = MLRC_EINTERNAL;
  std::string text;
};
using PluginFn = int (*)(void*, const char*, mlrc_buf*);

// Calls `fn(payload, input, &buf)` on a worker thread, filling `out`. Not a coroutine itself (GCC
// 12 mis-destroys lambdas passed as coroutine parameters), it returns offload's awaitable.
asio::awaitable<void> call_plugin(PluginFn fn, void* payload, std::string input, std::shared_ptr<PluginResult> out) {
  return offload([fn, payload, input = std::move(input), out] {
    mlrc_buf buf{};
    out->rc = fn(payload, input.c_str(), &buf);
    if (buf.ptr) out->text.assign(buf.ptr, buf.size);
    mlrc_buf_dispose(&buf);
  });
}

json::value parse_plugin_json(const std::string& plugin, const char* what, const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) throw mlrc::Error(mlrc::errc::parse, plugin + ": " + what + " is not JSON (" + ec.message() + "): " + text.substr(0, 200));
  return v;
}

// ---- Tool ------------------------------------------------------------------------------------

class ToolPlugin final : public mlrc::Tool {
 public:
  ToolPlugin(const mlrc_tool_i& vt, void* payload)
      : ref_(payload, vt.release), call_(vt.call),
        spec_{str_or(vt.name), str_or(vt.description), str_or(vt.parameters_json, R"({"type":"object"})")} {}
  mlrc::ToolSpec spec() const override { return spec_; }
  asio::awaitable<mlrc::ToolOutput> call(const std::string& arguments_json, mlrc::ToolContext&) override {
    auto res = std::make_shared<PluginResult>();
    co_await call_plugin(call_, ref_.payload, arguments_json, res);
    const int rc = res->rc;
    const std::string& text = res->text;
    if (rc != 0) co_return mlrc::ToolOutput{text.empty() ? "tool " + spec_.name + " failed (code " + std::to_string(rc) + ")" : text, true};
    co_return mlrc::ToolOutput{text, false};
  }

 private:
  PluginRef ref_;
  int (*call_)(void*, const char*, mlrc_buf*);
  mlrc::ToolSpec spec_;
};

// ---- Model -----------------------------------------------------------------------------------

class ModelPlugin final : public mlrc::Model {
 public:
  ModelPlugin(const mlrc_model_i& vt, void* payload) : ref_(payload, vt.release), chat_(vt.chat), name_(str_or(vt.name, "plugin")) {}
  asio::awaitable<mlrc::ChatResponse> chat(mlrc::ChatRequest req, mlrc::StreamObserver* observer) override {
    auto res = std::make_shared<PluginResult>();
    co_await call_plugin(chat_, ref_.payload, mlrc::to_json(req), res);
    const int rc = res->rc;
    const std::string& text = res->text;
    if (rc != 0)
      throw mlrc::Error(mlrc::errc::provider_error, "model plugin " + name_ + " failed (code " + std::to_string(rc) + ")" +
                                                  (text.empty() ? std::string() : ": " + text));
    parse_plugin_json("model plugin " + name_, "the response", text);
    mlrc::ChatResponse r = mlrc::chat_response_from_json(text);
    if (r.model.empty()) r.model = name_;
    if (r.finish_reason.empty()) r.finish_reason = r.tool_calls.empty() ? "stop" : "tool_calls";
    if (observer && !r.text.empty()) observer->on_text(r.text);
    co_return r;
  }
  asio::awaitable<void> check() override { co_return; }
  std::string describe() const override { return name_; }

 private:
  PluginRef ref_;
  int (*chat_)(void*, const char*, mlrc_buf*);
  std::string name_;
};

// ---- Retriever -------------------------------------------------------------------------------

std::string query_to_json(const mlrc::Query& q) {
  json::object o{{"text", q.text}, {"corpus", mlrc::corpus_name(q.corpus)}, {"top_k", q.top_k}};
  if (q.year_min) o["year_min"] = *q.year_min;
  if (q.year_max) o["year_max"] = *q.year_max;
  if (!q.venue_or_category.empty()) o["venue"] = q.venue_or_category;
  if (!q.tag.empty()) o["tag"] = q.tag;
  if (!q.license.empty()) o["license"] = q.license;
  return json::serialize(o);
}

mlrc::Query query_from_json(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) throw mlrc::Error(mlrc::errc::invalid_argument, "query_json is not JSON: " + ec.message());
  if (!v.is_object()) throw mlrc::Error(mlrc::errc::invalid_argument, "query_json: expected an object");
  auto& o = v.as_object();
  mlrc::Query q;
  auto str = [&](const char* k) -> std::string {
    auto* x = o.if_contains(k);
    if (!x || x->is_null()) return {};
    if (!x->is_string()) throw mlrc::Error(mlrc::errc::invalid_argument, std::string("query_json: \"") + k + "\" must be a string");
    return std::string(x->as_string());
  };
  auto integer = [&](const char* k) -> std::optional<std::int64_t> {
    auto* x = o.if_contains(k);
    if (!x || x->is_null()) return std::nullopt;
    if (!x->is_int64() && !x->is_uint64()) throw mlrc::Error(mlrc::errc::invalid_argument, std::string("query_json: \"") + k + "\" must be an integer");
    return x->to_number<std::int64_t>();
  };
  for (auto& kv : o) {
    static const char* known[] = {"text", "corpus", "top_k", "year_min", "year_max", "venue", "tag", "license"};
    if (std::none_of(std::begin(known), std::end(known), [&](const char* k) { return kv.key() == k; }))
      throw mlrc::Error(mlrc::errc::invalid_argument, "query_json: unknown field \"" + std::string(kv.key()) + "\"");
  }
  q.text = str("text");
  if (auto c = str("corpus"); !c.empty()) q.corpus = mlrc::parse_corpus(c);
  if (auto k = integer("top_k")) {
    if (*k <= 0) throw mlrc::Error(mlrc::errc::invalid_argument, "query_json: \"top_k\" must be positive");
    q.top_k = static_cast<std::size_t>(*k);
  }
  if (auto y = integer("year_min")) q.year_min = static_cast<int>(*y);
  if (auto y = integer("year_max")) q.year_max = static_cast<int>(*y);
  q.venue_or_category = str("venue");
  q.tag = str("tag");
  q.license = str("license");
  return q;
}

std::string hits_to_json(const std::vector<mlrc::Hit>& hits) {
  json::array a;
  for (auto& h : hits) {
    json::object f;
    for (auto& [k, v] : h.fields) f[k] = v;
    json::array m;
    for (auto& x : h.matched_fields) m.emplace_back(x);
    a.push_back(json::object{{"id", h.id}, {"score", h.score}, {"title", h.title}, {"snippet", h.snippet}, {"fields", std::move(f)},
                             {"matched_fields", std::move(m)}});
  }
  return json::serialize(a);
}

std::vector<mlrc::Hit> hits_from_json(const std::string& plugin, const std::string& text) {
  auto v = parse_plugin_json(plugin, "hits_json", text);
  if (!v.is_array()) throw mlrc::Error(mlrc::errc::parse, plugin + ": hits_json must be an array of hits");
  std::vector<mlrc::Hit> out;
  std::size_t i = 0;
  for (auto& e : v.as_array()) {
    std::string where = plugin + ": hits_json[" + std::to_string(i++) + "]";
    if (!e.is_object()) throw mlrc::Error(mlrc::errc::parse, where + " must be an object");
    auto& o = e.as_object();
    mlrc::Hit h;
    auto* id = o.if_contains("id");
    if (!id || !id->is_string() || id->as_string().empty()) throw mlrc::Error(mlrc::errc::parse, where + ": \"id\" must be a non-empty string");
    h.id = std::string(id->as_string());
    if (auto* s = o.if_contains("score")) {
      if (!s->is_number()) throw mlrc::Error(mlrc::errc::parse, where + ": \"score\" must be a number");
      h.score = s->to_number<double>();
    }
    if (auto* t = o.if_contains("title"); t && t->is_string()) h.title = std::string(t->as_string());
    if (auto* t = o.if_contains("snippet"); t && t->is_string()) h.snippet = std::string(t->as_string());
    if (auto* f = o.if_contains("fields"); f && f->is_object())
      for (auto& kv : f->as_object())
        h.fields[std::string(kv.key())] = kv.value().is_string() ? std::string(kv.value().as_string()) : json::serialize(kv.value());
    if (auto* m = o.if_contains("matched_fields"); m && m->is_array())
      for (auto& x : m->as_array())
        if (x.is_string()) h.matched_fields.emplace_back(x.as_string());
    out.push_back(std::move(h));
  }
  return out;
}

class RetrieverPlugin final : public mlrc::Retriever {
 public:
  RetrieverPlugin(const mlrc_retriever_i& vt, void* payload, std::vector<mlrc::Corpus> corpora)
      : ref_(payload, vt.release), search_(vt.search), name_(str_or(vt.name, "plugin")), corpora_(std::move(corpora)) {}
  // Parses the vtable's comma list of corpora (NULL or "": all four).
  static std::vector<mlrc::Corpus> parse_corpora(const char* text) {
    std::string list = str_or(text);
    if (list.find_first_not_of(" ,") == std::string::npos)
      return {mlrc::Corpus::papers, mlrc::Corpus::code, mlrc::Corpus::models, mlrc::Corpus::datasets};
    std::vector<mlrc::Corpus> out;
    std::size_t pos = 0;
    while (true) {
      auto comma = list.find(',', pos);
      std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (!item.empty()) out.push_back(mlrc::parse_corpus(item));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    return out;
  }
  asio::awaitable<std::vector<mlrc::Hit>> search(mlrc::Query q) override {
    if (q.text.find_first_not_of(" \t\r\n") == std::string::npos) throw mlrc::Error(mlrc::errc::invalid_argument, "empty query");
    if (std::find(corpora_.begin(), corpora_.end(), q.corpus) == corpora_.end())
      throw mlrc::Error(mlrc::errc::not_found, "retriever plugin " + name_ + " does not serve " + mlrc::corpus_name(q.corpus));
    auto res = std::make_shared<PluginResult>();
    co_await call_plugin(search_, ref_.payload, query_to_json(q), res);
    const int rc = res->rc;
    const std::string& text = res->text;
    if (rc != 0)
      throw mlrc::Error(mlrc::errc::provider_error, "retriever plugin " + name_ + " failed (code " + std::to_string(rc) + ")" +
                                                  (text.empty() ? std::string() : ": " + text));
    auto hits = hits_from_json("retriever plugin " + name_, text);
    if (hits.size() > q.top_k) hits.resize(q.top_k);
    co_return hits;
  }
  std::string name() const override { return name_; }
  std::vector<mlrc::Corpus> corpora() const override { return corpora_; }

 private:
  PluginRef ref_;
  int (*search_)(void*, const char*, mlrc_buf*);
  std::string name_;
  std::vector<mlrc::Corpus> corpora_;
};

// ---- Executor --------------------------------------------------------------------------------

std::string job_to_json(const mlrc::JobSpec& spec) {
  json::array argv, hidden, writable;
  for (auto& a : spec.argv) argv.emplace_back(a);
  for (auto& h : spec.hidden) hidden.emplace_back(h.string());
  for (auto& w : spec.writable) writable.emplace_back(w.string());
  json::object env;
  for (auto& [k, v] : spec.env) env[k] = v;
  return json::serialize(json::object{{"argv", std::move(argv)},
                                      {"cwd", spec.cwd.string()},
                                      {"env", std::move(env)},
                                      {"timeout_ms", spec.limits.wall.count()},
                                      {"network", spec.network},
                                      {"hidden", std::move(hidden)},
                                      {"writable", std::move(writable)}});
}

mlrc::JobResult job_result_from_json(const std::string& plugin, const std::string& text, const mlrc::JobSpec& spec) {
  auto v = parse_plugin_json(plugin, "result_json", text);
  if (!v.is_object()) throw mlrc::Error(mlrc::errc::parse, plugin + ": result_json must be an object");
  auto& o = v.as_object();
  mlrc::JobResult r;
  r.argv = spec.argv;
  auto str = [&](const char* k) { auto* x = o.if_contains(k); return x && x->is_string() ? std::string(x->as_string()) : std::string(); };
  auto num = [&](const char* k, double d) { auto* x = o.if_contains(k); return x && x->is_number() ? x->to_number<double>() : d; };
  std::string kind = str("kind");
  if (kind.empty()) kind = "exited";
  static const std::pair<const char*, mlrc::ExitKind> kinds[] = {
      {"exited", mlrc::ExitKind::exited}, {"signaled", mlrc::ExitKind::signaled}, {"timeout", mlrc::ExitKind::timeout},
      {"limit", mlrc::ExitKind::limit},   {"cancelled", mlrc::ExitKind::cancelled}, {"failed_to_start", mlrc::ExitKind::failed_to_start}};
  auto it = std::find_if(std::begin(kinds), std::end(kinds), [&](auto& k) { return kind == k.first; });
  if (it == std::end(kinds)) throw mlrc::Error(mlrc::errc::parse, plugin + ": result_json \"kind\" is \"" + kind + "\", not a known exit kind");
  r.kind = it->second;
  if (auto* x = o.if_contains("exit_code"); !x || !x->is_number()) {
    if (r.kind == mlrc::ExitKind::exited) throw mlrc::Error(mlrc::errc::parse, plugin + ": result_json needs an integer \"exit_code\"");
  }
  r.exit_code = static_cast<int>(num("exit_code", -1));
  r.signal = static_cast<int>(num("signal", 0));
  r.error = str("error");
  r.limit_hit = str("limit_hit");
  r.stdout_head = str("stdout");
  r.stderr_head = str("stderr");
  r.stdout_bytes = r.stdout_head.size();
  r.stderr_bytes = r.stderr_head.size();
  r.wall = std::chrono::milliseconds(static_cast<std::int64_t>(num("wall_ms", 0)));
  r.cpu_seconds = num("cpu_seconds", 0);
  r.max_rss_bytes = static_cast<std::uint64_t>(num("max_rss_bytes", 0));
  return r;
}

class ExecutorPlugin final : public mlrc::Executor {
 public:
  ExecutorPlugin(const mlrc_executor_i& vt, void* payload) : ref_(payload, vt.release), run_(vt.run), name_(str_or(vt.name, "plugin")) {}
  asio::awaitable<mlrc::JobResult> run(mlrc::JobSpec spec, mlrc::OutputObserver* observer) override {
    auto res = std::make_shared<PluginResult>();
    co_await call_plugin(run_, ref_.payload, job_to_json(spec), res);
    const int rc = res->rc;
    const std::string& text = res->text;
    mlrc::JobResult r;
    if (rc != 0) {
      r.kind = mlrc::ExitKind::failed_to_start;
      r.argv = spec.argv;
      r.error = "executor plugin " + name_ + " failed (code " + std::to_string(rc) + ")" + (text.empty() ? std::string() : ": " + text);
      co_return r;
    }
    r = job_result_from_json("executor plugin " + name_, text, spec);
    if (observer) {
      if (!r.stdout_head.empty()) observer->on_output(1, r.stdout_head);
      if (!r.stderr_head.empty()) observer->on_output(2, r.stderr_head);
    }
    co_return r;
  }
  std::string name() const override { return name_; }

 private:
  PluginRef ref_;
  int (*run_)(void*, const char*, mlrc_buf*);
  std::string name_;
};

bool running(mlrc_session* s) { return s->hub->running() != nullptr; }

mlrc::Paper paper_from_arg(const char* paper) {
  std::string text(paper);
  auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') return mlrc::paper_from_json(text, "paper JSON");
  return mlrc::Paper::load(text);
}

mlrc::PlannerOptions planner_options(const char* options_json) {
  mlrc::PlannerOptions po;
  if (!options_json || !*options_json) return po;
  boost::system::error_code ec;
  auto v = json::parse(options_json, ec);
  if (ec) throw mlrc::Error(mlrc::errc::invalid_argument, "planner options: not JSON: " + ec.message());
  if (!v.is_object()) throw mlrc::Error(mlrc::errc::invalid_argument, "planner options: expected an object");
  for (auto& kv : v.as_object()) {
    std::string k(kv.key());
    if (!kv.value().is_int64() && !kv.value().is_uint64())
      throw mlrc::Error(mlrc::errc::invalid_argument, "planner options: \"" + k + "\" must be an integer");
    auto n = kv.value().to_number<std::int64_t>();
    bool non_negative = k == "refine_rounds" || k == "max_repairs";
    if (n < (non_negative ? 0 : 1))
      throw mlrc::Error(mlrc::errc::invalid_argument, "planner options: \"" + k + "\" must be " + (non_negative ? "0 or more" : "positive"));
    if (k == "ideas") po.ideas = static_cast<std::size_t>(n);
    else if (k == "related_per_query") po.related_per_query = static_cast<std::size_t>(n);
    else if (k == "refine_rounds") po.refine_rounds = static_cast<int>(n);
    else if (k == "max_repairs") po.max_repairs = static_cast<int>(n);
    else if (k == "max_related") po.max_related = static_cast<std::size_t>(n);
    else throw mlrc::Error(mlrc::errc::invalid_argument, "planner options: unknown field \"" + k + "\"");
  }
  return po;
}

asio::awaitable<mlrc::Evaluation> baseline_op(std::shared_ptr<mlrc::TaskHarness> h) {
  co_await h->prepare();
  co_return co_await h->baseline();
}

asio::awaitable<std::string> planner_op(std::shared_ptr<mlrc::Planner> planner, mlrc::Paper paper) {
  auto result = co_await planner->run(paper);
  co_return mlrc::to_json(result);
}

std::shared_ptr<RunState> start_planner(mlrc_planner* p, const char* paper, bool queue_events) {
  auto opts = p->options;
  auto hub = p->hub;
  opts.on_event = [hub](std::string_view kind, std::string_view js) {
    hub->emit({kind == "idea" ? std::string("idea_proposed") : std::string(kind), std::string(js)});
  };
  auto planner = std::make_shared<mlrc::Planner>(p->model, mlrc::related_search(p->retriever), opts);
  return start_op(*p->rt, hub, queue_events, "planner", planner_op(planner, paper_from_arg(paper)));
}

}  // namespace

extern "C" {

// ---- Models ----------------------------------------------------------------------------------

MLRC_API int mlrc_model_new(mlrc_model** out, mlrc_runtime* rt, const char* spec) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_model_new", "out");
    *out = nullptr;
    if (!rt) return null_arg("mlrc_model_new", "rt");
    if (!spec) return null_arg("mlrc_model_new", "spec");
    *out = new mlrc_model{rt->rt, mlrc::make_model(rt->rt->executor(), spec)};
    return MLRC_OK;
  });
}

MLRC_API int mlrc_model_from_plugin(mlrc_model** out, mlrc_runtime* rt, const mlrc_model_i* impl, void* payload) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_model_from_plugin", "out");
    *out = nullptr;
    if (!rt) return null_arg("mlrc_model_from_plugin", "rt");
    if (!impl) return null_arg("mlrc_model_from_plugin", "impl");
    if (int rc = check_version("mlrc_model_from_plugin", impl->version)) return rc;
    if (!impl->chat) return null_arg("mlrc_model_from_plugin", "impl->chat");
    *out = new mlrc_model{rt->rt, std::make_shared<ModelPlugin>(*impl, payload)};
    return MLRC_OK;
  });
}

MLRC_API int mlrc_model_chat(mlrc_model* m, const char* request_json, mlrc_buf* response_json) {
  return guarded([&]() -> int {
    if (!response_json) return null_arg("mlrc_model_chat", "response_json");
    *response_json = mlrc_buf{};
    if (!m) return null_arg("mlrc_model_chat", "model");
    if (!request_json) return null_arg("mlrc_model_chat", "request_json");
    MLRC_REFUSE_ON_RUNTIME_THREAD("mlrc_model_chat", m->rt);
    auto req = mlrc::chat_request_from_json(request_json);
    auto model = m->m;
    auto r = m->rt->run(model->chat(std::move(req), nullptr));
    return fill_buf(response_json, mlrc::to_json(r));
  });
}

MLRC_API int mlrc_model_describe(const mlrc_model* m, mlrc_buf* out) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_model_describe", "out");
    *out = mlrc_buf{};
    if (!m) return null_arg("mlrc_model_describe", "model");
    return fill_buf(out, m->m->describe());
  });
}

MLRC_API void mlrc_model_free(mlrc_model* m) {
  try {
    delete m;
  } catch (...) {
  }
}

// ---- Retrievers ------------------------------------------------------------------------------

MLRC_API int mlrc_retriever_open_local(mlrc_retriever** out, mlrc_runtime* rt, const char* path) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_retriever_open_local", "out");
    *out = nullptr;
    if (!rt) return null_arg("mlrc_retriever_open_local", "rt");
    if (!path) return null_arg("mlrc_retriever_open_local", "path");
    *out = new mlrc_retriever{rt->rt, std::make_shared<mlrc::LocalRetriever>(path)};
    return MLRC_OK;
  });
}

MLRC_API int mlrc_retriever_open_sources(mlrc_retriever** out, mlrc_runtime* rt, const char* spec, const char* local_index) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_retriever_open_sources", "out");
    *out = nullptr;
    if (!rt) return null_arg("mlrc_retriever_open_sources", "rt");
    if (!spec) return null_arg("mlrc_retriever_open_sources", "spec");
    mlrc::OnlineConfig oc;
    if (local_index) oc.local_index = local_index;
    *out = new mlrc_retriever{rt->rt, mlrc::make_online_retriever(rt->rt->executor(), spec, oc)};
    return MLRC_OK;
  });
}

MLRC_API int mlrc_retriever_from_plugin(mlrc_retriever** out, mlrc_runtime* rt, const mlrc_retriever_i* impl, void* payload) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_retriever_from_plugin", "out");
    *out = nullptr;
    if (!rt) return null_arg("mlrc_retriever_from_plugin", "rt");
    if (!impl) return null_arg("mlrc_retriever_from_plugin", "impl");
    if (int rc = check_version("mlrc_retriever_from_plugin", impl->version)) return rc;
    if (!impl->search) return null_arg("mlrc_retriever_from_plugin", "impl->search");
    std::vector<mlrc::Corpus> corpora;
    try {
      corpora = RetrieverPlugin::parse_corpora(impl->corpora);
    } catch (const mlrc::Error& e) {
      return set_error(MLRC_EINVALID, std::string("mlrc_retriever_from_plugin: corpora: ") + e.what());
    }
    *out = new mlrc_retriever{rt->rt, std::make_shared<RetrieverPlugin>(*impl, payload, std::move(corpora))};
    return MLRC_OK;
  });
}

MLRC_API int mlrc_retriever_search(mlrc_retriever* r, const char* query_json, mlrc_buf* hits_json) {
  return guarded([&]() -> int {
    if (!hits_json) return null_arg("mlrc_retriever_search", "hits_json");
    *hits_json = mlrc_buf{};
    if (!r) return null_arg("mlrc_retriever_search", "retriever");
    if (!query_json) return null_arg("mlrc_retriever_search", "query_json");
    MLRC_REFUSE_ON_RUNTIME_THREAD("mlrc_retriever_search", r->rt);
    auto q = query_from_json(query_json);
    auto retriever = r->r;
    auto hits = r->rt->run(retriever->search(std::move(q)));
    return fill_buf(hits_json, hits_to_json(hits));
  });
}

MLRC_API void mlrc_retriever_free(mlrc_retriever* r) {
  try {
    delete r;
  } catch (...) {
  }
}

// ---- Tasks -----------------------------------------------------------------------------------

MLRC_API int mlrc_task_load(mlrc_task** out, const char* folder) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_task_load", "out");
    *out = nullptr;
    if (!folder) return null_arg("mlrc_task_load", "folder");
    *out = new mlrc_task{mlrc::Task::load(fs::absolute(folder))};
    return MLRC_OK;
  });
}

MLRC_API int mlrc_task_info(const mlrc_task* t, mlrc_buf* out) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_task_info", "out");
    *out = mlrc_buf{};
    if (!t) return null_arg("mlrc_task_info", "task");
    return fill_buf(out, t->t.to_json());
  });
}

MLRC_API int mlrc_task_baseline(mlrc_task* t, mlrc_runtime* rt, const char* state_dir, mlrc_buf* evaluation_json) {
  return guarded([&]() -> int {
    if (!evaluation_json) return null_arg("mlrc_task_baseline", "evaluation_json");
    *evaluation_json = mlrc_buf{};
    if (!t) return null_arg("mlrc_task_baseline", "task");
    if (!rt) return null_arg("mlrc_task_baseline", "rt");
    fs::path state = state_dir && *state_dir ? fs::path(state_dir) : t->t.folder / ".mlrc-state";
    auto exec = std::make_shared<mlrc::LocalExecutor>(rt->rt->executor());
    auto harness = std::make_shared<mlrc::TaskHarness>(t->t, *exec, state);
    auto ev = rt->rt->run(baseline_op(harness));
    return fill_buf(evaluation_json, ev.to_json());
  });
}

MLRC_API void mlrc_task_free(mlrc_task* t) {
  try {
    delete t;
  } catch (...) {
  }
}

// ---- Session plugins -------------------------------------------------------------------------

MLRC_API int mlrc_session_set_model(mlrc_session* s, mlrc_model* m) {
  return guarded([&]() -> int {
    if (!s) return null_arg("mlrc_session_set_model", "session");
    if (!m) return null_arg("mlrc_session_set_model", "model");
    if (running(s)) return set_error(MLRC_EINVALID, "mlrc_session_set_model: the session is running");
    s->s->set_model(m->m);
    s->runtimes.push_back(m->rt);
    return MLRC_OK;
  });
}

MLRC_API int mlrc_session_set_retriever(mlrc_session* s, mlrc_retriever* r) {
  return guarded([&]() -> int {
    if (!s) return null_arg("mlrc_session_set_retriever", "session");
    if (!r) return null_arg("mlrc_session_set_retriever", "retriever");
    if (running(s)) return set_error(MLRC_EINVALID, "mlrc_session_set_retriever: the session is running");
    s->s->set_retriever(r->r);
    s->runtimes.push_back(r->rt);
    return MLRC_OK;
  });
}

MLRC_API int mlrc_session_add_tool(mlrc_session* s, const mlrc_tool_i* tool, void* payload) {
  return guarded([&]() -> int {
    if (!s) return null_arg("mlrc_session_add_tool", "session");
    if (!tool) return null_arg("mlrc_session_add_tool", "tool");
    if (int rc = check_version("mlrc_session_add_tool", tool->version)) return rc;
    if (!tool->call) return null_arg("mlrc_session_add_tool", "tool->call");
    static const std::regex name_re("[A-Za-z0-9_-]{1,64}");
    if (!tool->name || !std::regex_match(tool->name, name_re))
      return set_error(MLRC_EINVALID, std::string("mlrc_session_add_tool: tool name '") + str_or(tool->name, "(NULL)") +
                                          "' must match [A-Za-z0-9_-]{1,64}");
    if (tool->parameters_json) {
      boost::system::error_code ec;
      auto v = json::parse(tool->parameters_json, ec);
      if (ec || !v.is_object())
        return set_error(MLRC_EINVALID, std::string("mlrc_session_add_tool: tool '") + tool->name +
                                            "': parameters_json must be a JSON Schema object" + (ec ? " (" + ec.message() + ")" : ""));
    }
    if (running(s)) return set_error(MLRC_EINVALID, "mlrc_session_add_tool: the session is running");
    s->s->add_tool(std::make_shared<ToolPlugin>(*tool, payload));
    return MLRC_OK;
  });
}

MLRC_API int mlrc_session_set_executor(mlrc_session* s, const mlrc_executor_i* executor, void* payload) {
  return guarded([&]() -> int {
    if (!s) return null_arg("mlrc_session_set_executor", "session");
    if (!executor) return null_arg("mlrc_session_set_executor", "executor");
    if (int rc = check_version("mlrc_session_set_executor", executor->version)) return rc;
    if (!executor->run) return null_arg("mlrc_session_set_executor", "executor->run");
    if (running(s)) return set_error(MLRC_EINVALID, "mlrc_session_set_executor: the session is running");
    s->s->set_executor(std::make_shared<ExecutorPlugin>(*executor, payload));
    return MLRC_OK;
  });
}

// ---- Planner ---------------------------------------------------------------------------------

MLRC_API int mlrc_planner_new(mlrc_planner** out, mlrc_model* model, mlrc_retriever* retriever, const char* options_json) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_planner_new", "out");
    *out = nullptr;
    if (!model) return null_arg("mlrc_planner_new", "model");
    auto p = std::make_unique<mlrc_planner>();
    p->rt = model->rt;
    p->model = model->m;
    if (retriever) p->retriever = retriever->r, p->retriever_rt = retriever->rt;
    p->options = planner_options(options_json);
    *out = p.release();
    return MLRC_OK;
  });
}

MLRC_API int mlrc_planner_on_event(mlrc_planner* p, mlrc_event_cb cb, void* payload) {
  return guarded([&]() -> int {
    if (!p) return null_arg("mlrc_planner_on_event", "planner");
    std::lock_guard lk(p->hub->mu);
    p->hub->cb = cb;
    p->hub->payload = cb ? payload : nullptr;
    return MLRC_OK;
  });
}

MLRC_API int mlrc_planner_run(mlrc_planner* p, const char* paper, mlrc_buf* result_json) {
  return guarded([&]() -> int {
    if (result_json) *result_json = mlrc_buf{};
    if (!p) return null_arg("mlrc_planner_run", "planner");
    if (!paper) return null_arg("mlrc_planner_run", "paper");
    MLRC_REFUSE_ON_RUNTIME_THREAD("mlrc_planner_run", p->rt);
    auto st = start_planner(p, paper, false);
    return finish_wait(*st, result_json);
  });
}

MLRC_API int mlrc_planner_start(mlrc_run** out, mlrc_planner* p, const char* paper) {
  return guarded([&]() -> int {
    if (!out) return null_arg("mlrc_planner_start", "out");
    *out = nullptr;
    if (!p) return null_arg("mlrc_planner_start", "planner");
    if (!paper) return null_arg("mlrc_planner_start", "paper");
    auto run = std::make_unique<mlrc_run>();
    run->st = start_planner(p, paper, true);
    *out = run.release();
    return MLRC_OK;
  });
}

MLRC_API void mlrc_planner_free(mlrc_planner* p) { free_owner(p); }

}  // extern "C"
