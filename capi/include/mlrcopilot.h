/* mlrcopilot C ABI. C89/C99-clean; see docs/c-api.md.
 *
 * Conventions (libgit2/SQLite style): functions return 0 on success or a negative MLRC_E* code;
 * mlrc_error_last() describes the last failure on the calling thread. Whatever comes back through
 * an out-pointer belongs to the caller and is freed with the matching NULL-safe *_free or
 * mlrc_buf_dispose. No exception ever crosses this boundary. */
#ifndef MLRCOPILOT_H
#define MLRCOPILOT_H

#include <stddef.h>

#define MLRC_VERSION_MAJOR 0
#define MLRC_VERSION_MINOR 1
#define MLRC_VERSION_PATCH 0
#define MLRC_VERSION_NUMBER (MLRC_VERSION_MAJOR * 10000 + MLRC_VERSION_MINOR * 100 + MLRC_VERSION_PATCH)

#if defined(_WIN32)
#define MLRC_API __declspec(dllimport)
#elif defined(__GNUC__)
#define MLRC_API __attribute__((visibility("default")))
#else
#define MLRC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. Append only: values never change. They mirror mlrc::errc, negated. */
typedef enum mlrc_error_code {
  MLRC_OK = 0,
  MLRC_EINVALID = -1,   /* invalid argument (NULL, bad option, bad JSON) */
  MLRC_ECONFIG = -2,    /* bad or missing configuration */
  MLRC_EIO = -3,
  MLRC_ENETWORK = -4,
  MLRC_ETLS = -5,
  MLRC_ETIMEOUT = -6,
  MLRC_ECANCELLED = -7,
  MLRC_EHTTP = -8,
  MLRC_EAUTH = -9,
  MLRC_ERATELIMIT = -10,
  MLRC_ESERVER = -11,
  MLRC_EPROTOCOL = -12,
  MLRC_EPROVIDER = -13,
  MLRC_EBUDGET = -14,
  MLRC_ENOTFOUND = -15,
  MLRC_EUNSUPPORTED = -16,
  MLRC_EPARSE = -17,
  MLRC_EINTERNAL = -18,
  MLRC_EDONE = -19,     /* C ABI only: the run has finished (mlrc_run_next_event, mlrc_run_cancel) */
  MLRC_EUSER = -100     /* a callback returned non-zero */
} mlrc_error_code;

/* The last error on this thread. Never NULL; valid until the next mlrc_* call on this thread. */
typedef struct mlrc_error {
  int code;                    /* an mlrc_error_code */
  const char *message;         /* library text; never contains a secret */
  const char *provider_text;   /* text from the provider or model, "" if none */
} mlrc_error;
MLRC_API const mlrc_error *mlrc_error_last(void);

/* A byte buffer returned by the library (UTF-8 text, NUL-terminated; size excludes the NUL). */
typedef struct mlrc_buf {
  char *ptr;
  size_t size;
  size_t reserved; /* the library's; do not touch */
} mlrc_buf;
/* Frees the buffer's memory and zeroes it. NULL-safe and idempotent. */
MLRC_API void mlrc_buf_dispose(mlrc_buf *buf);

/* Replaces the buffer's content with a copy of `text`, allocated with the library's allocator (the
 * old content, if any, is freed). Use it to hand answers back to the library (gate callbacks). */
MLRC_API int mlrc_buf_set(mlrc_buf *buf, const char *text);

/* Version of the plugin vtables below; put it in each vtable's `version` field. */
#define MLRC_PLUGIN_VERSION 1

/* Run-time version of the linked library (compare with MLRC_VERSION_NUMBER). */
MLRC_API int mlrc_version_number(void);
MLRC_API const char *mlrc_version_string(void);

/* Parses and normalises a model spec ("openai:gpt-4o", "openai-compatible:http://h:8000/v1#m").
 * On success *out holds {"provider":…,"model":…,"base_url":…,"spec":…} as JSON. */
MLRC_API int mlrc_model_spec_parse(mlrc_buf *out, const char *spec);

/* ---- Runtime ----------------------------------------------------------------------------------
 * Worker threads that run sessions. threads = 0: one per hardware thread. Free it after every
 * session made with it (a session keeps the runtime alive until the session is freed). */
typedef struct mlrc_runtime mlrc_runtime;
MLRC_API int mlrc_runtime_new(mlrc_runtime **out, unsigned threads);
MLRC_API void mlrc_runtime_free(mlrc_runtime *rt);

/* ---- Plugins ----------------------------------------------------------------------------------
 * A host extends the library with C vtables. The library copies the vtable (and its strings) when
 * it is registered, calls its functions on library worker threads (never on the thread that
 * registered it; each call on its own thread, so possibly several at once for one plugin — guard
 * shared state — and a plugin may call back into the library, e.g. mlrc_model_chat), and
 * calls release(payload) exactly once when it no longer needs the plugin (release may be NULL;
 * a registration that fails never calls it).
 * Functions return 0 on success; any other value is a failure (fill the out buffer with
 * mlrc_buf_set to say why). A plugin call cannot be interrupted: cancellation takes effect when it
 * returns. Version: set `version` to MLRC_PLUGIN_VERSION. */

/* A tool the agent may call, next to the built-in ones (a tool with a built-in's name replaces it).
 * call(): arguments_json is the model's JSON object of arguments; fill observation with what the
 * model should see. Non-zero: the tool failed; observation (if set) is shown as the error. */
typedef struct mlrc_tool_i {
  unsigned version;
  const char *name;             /* [a-zA-Z0-9_-]{1,64} */
  const char *description;
  const char *parameters_json;  /* JSON Schema of the arguments object; NULL: {"type":"object"} */
  int (*call)(void *payload, const char *arguments_json, mlrc_buf *observation);
  void (*release)(void *payload);
} mlrc_tool_i;

/* A language model. chat(): request_json is a ChatRequest ({"model","system","messages":[{"role",
 * "content","tool_calls","tool_call_id"}],"tools":[{"name","description","parameters"}],
 * "max_tokens","temperature",...}); fill response_json with a ChatResponse: at least {"text": …}
 * or {"tool_calls":[{"id","name","arguments"}]}, optionally "usage":{"input_tokens",
 * "output_tokens"}, "model", "finish_reason". */
typedef struct mlrc_model_i {
  unsigned version;
  const char *name;  /* shown in reports, e.g. "host:my-llm" */
  int (*chat)(void *payload, const char *request_json, mlrc_buf *response_json);
  void (*release)(void *payload);
} mlrc_model_i;

/* A search back end. search(): query_json is {"text","corpus":"papers|code|models|datasets",
 * "top_k","year_min","year_max","venue","tag","license"} (absent filters omitted); fill hits_json
 * with [{"id","score","title","snippet","fields":{"year":…,"abstract":…},"matched_fields":[…]}]. */
typedef struct mlrc_retriever_i {
  unsigned version;
  const char *name;
  const char *corpora;  /* comma list of the corpora it serves ("papers,code"); NULL: all four */
  int (*search)(void *payload, const char *query_json, mlrc_buf *hits_json);
  void (*release)(void *payload);
} mlrc_retriever_i;

/* Runs the task's scripts (instead of the sandboxed local executor). run(): job_json is
 * {"argv":[…],"cwd","env":{…},"timeout_ms","network","hidden":[…],"writable":[…]}; fill
 * result_json with {"exit_code", "stdout", "stderr"} and optionally "kind" ("exited", "signaled",
 * "timeout", "limit", "cancelled", "failed_to_start"), "signal", "error", "wall_ms",
 * "cpu_seconds", "max_rss_bytes". Non-zero: the job failed to start (result_json, if set, says why). */
typedef struct mlrc_executor_i {
  unsigned version;
  const char *name;
  int (*run)(void *payload, const char *job_json, mlrc_buf *result_json);
  void (*release)(void *payload);
} mlrc_executor_i;

/* ---- Models -----------------------------------------------------------------------------------
 * A model handle: a provider from a spec, or a plugin. Sessions and planners keep their own
 * reference, so the handle may be freed as soon as it has been handed over. */
typedef struct mlrc_model mlrc_model;
MLRC_API int mlrc_model_new(mlrc_model **out, mlrc_runtime *rt, const char *spec);
MLRC_API int mlrc_model_from_plugin(mlrc_model **out, mlrc_runtime *rt, const mlrc_model_i *impl, void *payload);
/* One chat call, blocking: request_json a ChatRequest, response_json gets the ChatResponse. */
MLRC_API int mlrc_model_chat(mlrc_model *m, const char *request_json, mlrc_buf *response_json);
MLRC_API int mlrc_model_describe(const mlrc_model *m, mlrc_buf *out);
MLRC_API void mlrc_model_free(mlrc_model *m);

/* ---- Retrievers -------------------------------------------------------------------------------
 * Search over a local index folder (see docs/retrieval.md) or a plugin. */
typedef struct mlrc_retriever mlrc_retriever;
MLRC_API int mlrc_retriever_open_local(mlrc_retriever **out, mlrc_runtime *rt, const char *path);
/* Online sources tried in order with fallback: spec is a comma list ("s2,openalex,arxiv,local",
 * also "hf", "github", "github-code", "local:PATH") or a JSON object (docs/retrieval.md);
 * local_index (may be NULL) is the folder a bare "local" means. Keys come from the environment;
 * responses are cached under $MLRC_HOME/cache/http. MLRC_ECONFIG names an unknown source. */
MLRC_API int mlrc_retriever_open_sources(mlrc_retriever **out, mlrc_runtime *rt, const char *spec, const char *local_index);
MLRC_API int mlrc_retriever_from_plugin(mlrc_retriever **out, mlrc_runtime *rt, const mlrc_retriever_i *impl, void *payload);
/* query_json as for mlrc_retriever_i.search; hits_json gets the hits, best first. */
MLRC_API int mlrc_retriever_search(mlrc_retriever *r, const char *query_json, mlrc_buf *hits_json);
MLRC_API void mlrc_retriever_free(mlrc_retriever *r);

/* ---- Tasks ------------------------------------------------------------------------------------
 * A task folder (task.toml or MLAgentBench layout). */
typedef struct mlrc_task mlrc_task;
MLRC_API int mlrc_task_load(mlrc_task **out, const char *folder);
/* {"name","folder","format","metric","direction","run","eval",…} */
MLRC_API int mlrc_task_info(const mlrc_task *t, mlrc_buf *out);
/* Prepares the task (once) and measures the untouched workspace's score, in the sandbox,
 * remembered in state_dir (NULL or "": <folder>/.mlrc-state). evaluation_json gets the Evaluation. */
MLRC_API int mlrc_task_baseline(mlrc_task *t, mlrc_runtime *rt, const char *state_dir, mlrc_buf *evaluation_json);
MLRC_API void mlrc_task_free(mlrc_task *t);

/* ---- Sessions ---------------------------------------------------------------------------------
 * A run: ideas from a paper, then implementation and execution on a task, persisted under
 * home/runs/<id>/. config_json is a SessionConfig object: paper, instructions, task, model, home,
 * max_steps, ideas, refine_rounds, budget_tokens, budget_usd, protocol, index, sources, gates,
 * gate_timeout_s, idea (an Idea object: skip phase 1). An unknown field or a wrong type is
 * MLRC_EPARSE naming it. A session runs at most once at a time (else MLRC_EINVALID).
 * Callbacks must not free or wait for their own run or session: mlrc_run_wait then returns
 * MLRC_EINVALID, and mlrc_run_free / mlrc_session_free cancel and leave the freeing to the run's
 * end instead of waiting. */
typedef struct mlrc_session mlrc_session;
MLRC_API int mlrc_session_create(mlrc_session **out, mlrc_runtime *rt, const char *config_json);
/* Phases 2-3 only: implements and executes idea_json (an Idea, e.g. from mlrc_planner_run's
 * "ideas") on task. config_json (may be NULL) holds further SessionConfig fields. */
MLRC_API int mlrc_session_create_from_idea(mlrc_session **out, mlrc_runtime *rt, const mlrc_task *task,
                                           const char *idea_json, const char *config_json);
/* Opens an existing run (to resume it). MLRC_ENOTFOUND if there is none. home NULL or "": default. */
MLRC_API int mlrc_session_open(mlrc_session **out, mlrc_runtime *rt, const char *home, const char *run_id);
MLRC_API int mlrc_session_id(const mlrc_session *s, mlrc_buf *out);
/* Cancels and waits for a run still in progress, then frees. NULL-safe. */
MLRC_API void mlrc_session_free(mlrc_session *s);

/* Plugins and handles for a session (before it runs; MLRC_EINVALID while it runs). They are not
 * stored in the run: give them again after mlrc_session_open to resume. */
MLRC_API int mlrc_session_set_model(mlrc_session *s, mlrc_model *m);
MLRC_API int mlrc_session_set_retriever(mlrc_session *s, mlrc_retriever *r);
MLRC_API int mlrc_session_add_tool(mlrc_session *s, const mlrc_tool_i *tool, void *payload);
MLRC_API int mlrc_session_set_executor(mlrc_session *s, const mlrc_executor_i *executor, void *payload);

/* An event: kind is phase_started, analysis, related, idea_proposed, review, refined, repair,
 * ideas_ranked, gate_waiting, step, tool_output, metric, cost, warning or finished; json carries
 * the details. gate_waiting's json is {"gate","answer_as","question"}. */
typedef struct mlrc_event {
  const char *kind;
  const char *json;
} mlrc_event;

/* Called on library threads as events happen (ev valid during the call only). A non-zero return
 * cancels the run, which then ends with MLRC_EUSER. */
typedef int (*mlrc_event_cb)(const mlrc_event *ev, void *payload);
MLRC_API int mlrc_session_on_event(mlrc_session *s, mlrc_event_cb cb, void *payload);

/* Answers a feedback gate (enabled by "gates" in the config: 1 ideas, 2 execution, 4 step, 8 help).
 * gate is "choose_idea", "approve_execution", "after_step" or "help"; fill answer with
 * mlrc_buf_set (JSON: {"index":N,"instructions":"…"}, {"approve":true|false}, {"feedback":"…"},
 * {"answer":"…"}), or leave it empty to take the default. Called on library threads, one at a
 * time. Return MLRC_GATE_LATER to answer later with mlrc_run_answer_gate (asynchronous runs only;
 * a blocking run takes the default). Any other non-zero return cancels the run, which then ends
 * with MLRC_EUSER. Without a handler, an asynchronous run waits for mlrc_run_answer_gate (up to
 * the config's gate_timeout_s, then the default); a blocking run takes the defaults. */
#define MLRC_GATE_LATER 100 /* distinct from the usual 1 = abort */
typedef int (*mlrc_gate_cb)(const char *gate, const char *question_json, mlrc_buf *answer, void *payload);
MLRC_API int mlrc_session_set_gate_handler(mlrc_session *s, mlrc_gate_cb cb, void *payload);

/* Runs (or resumes) to the end, blocking. result_json (may be NULL) gets the RunSummary JSON. */
MLRC_API int mlrc_session_run(mlrc_session *s, mlrc_buf *result_json);

/* ---- Asynchronous runs ------------------------------------------------------------------------ */
typedef struct mlrc_run mlrc_run;
/* Starts the session on the runtime and returns at once. Events are queued for
 * mlrc_run_next_event (and also passed to the mlrc_session_on_event callback). */
MLRC_API int mlrc_session_start(mlrc_run **out, mlrc_session *s);
/* Next event: 0 and *ev filled (strings valid until the next call on this run or its free);
 * MLRC_ETIMEOUT if none within timeout_ms (negative: wait for ever); MLRC_EDONE once the run has
 * finished and every event was taken. One consumer per run. */
MLRC_API int mlrc_run_next_event(mlrc_run *run, mlrc_event *ev, int timeout_ms);
/* Blocks until the run ends. Returns 0, MLRC_ECANCELLED (cancelled), MLRC_EUSER (a callback
 * aborted) or the run's error; result_json (may be NULL) gets the RunSummary JSON when the run
 * produced one (also when cancelled), else stays empty. */
MLRC_API int mlrc_run_wait(mlrc_run *run, mlrc_buf *result_json);
/* Requests cancellation; any thread, idempotent. MLRC_EDONE if the run had already ended. */
MLRC_API int mlrc_run_cancel(mlrc_run *run);
/* Answers the gate the run is waiting at (announced by a gate_waiting event). gate is the event's
 * "answer_as" (or its "gate"); answer_json as for the gate handler; NULL or "" takes the default.
 * MLRC_EINVALID if the JSON is not an object of the expected shape or no such gate is waiting. */
MLRC_API int mlrc_run_answer_gate(mlrc_run *run, const char *gate, const char *answer_json);
/* Cancels (if still going), waits, frees. NULL-safe. */
MLRC_API void mlrc_run_free(mlrc_run *run);

/* ---- Planner (phase 1 alone) ------------------------------------------------------------------
 * The IdeaAgent: analysis, related work, ideas, reviews, refinement, ranking. options_json (may be
 * NULL): {"ideas":3,"related_per_query":5,"refine_rounds":1,"max_repairs":2,"max_related":12}.
 * retriever may be NULL (no related work). */
typedef struct mlrc_planner mlrc_planner;
MLRC_API int mlrc_planner_new(mlrc_planner **out, mlrc_model *model, mlrc_retriever *retriever, const char *options_json);
/* Progress events (analysis, related, idea_proposed, review, refined, repair). */
MLRC_API int mlrc_planner_on_event(mlrc_planner *p, mlrc_event_cb cb, void *payload);
/* paper: a file (JSON, Markdown, text, PDF) or a JSON Paper object ("{…}"). result_json gets
 * {"analysis","related","queries","ideas" (best first),"reviews"}. Blocking. */
MLRC_API int mlrc_planner_run(mlrc_planner *p, const char *paper, mlrc_buf *result_json);
/* The same, asynchronous: events through mlrc_run_next_event, result through mlrc_run_wait. */
MLRC_API int mlrc_planner_start(mlrc_run **out, mlrc_planner *p, const char *paper);
MLRC_API void mlrc_planner_free(mlrc_planner *p);

#ifdef __cplusplus
}
#endif
#endif /* MLRCOPILOT_H */
