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

/* ---- Sessions ---------------------------------------------------------------------------------
 * A run: ideas from a paper, then implementation and execution on a task, persisted under
 * home/runs/<id>/. config_json is a SessionConfig object: paper, instructions, task, model, home,
 * max_steps, ideas, refine_rounds, budget_tokens, budget_usd, protocol, index, gates,
 * gate_timeout_s. A session runs at most once at a time (else MLRC_EINVALID). */
typedef struct mlrc_session mlrc_session;
MLRC_API int mlrc_session_create(mlrc_session **out, mlrc_runtime *rt, const char *config_json);
/* Opens an existing run (to resume it). MLRC_ENOTFOUND if there is none. home NULL or "": default. */
MLRC_API int mlrc_session_open(mlrc_session **out, mlrc_runtime *rt, const char *home, const char *run_id);
MLRC_API int mlrc_session_id(const mlrc_session *s, mlrc_buf *out);
/* Cancels and waits for a run still in progress, then frees. NULL-safe. */
MLRC_API void mlrc_session_free(mlrc_session *s);

/* An event: kind is phase_started, idea_proposed, ideas_ranked, gate_waiting, step, tool_output,
 * metric, cost, warning or finished; json carries the details. */
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
 * mlrc_buf_set (JSON), or leave it empty to take the default. Called on library threads, one at a
 * time. A non-zero return cancels the run, which then ends with MLRC_EUSER. */
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
/* Cancels (if still going), waits, frees. NULL-safe. */
MLRC_API void mlrc_run_free(mlrc_run *run);

#ifdef __cplusplus
}
#endif
#endif /* MLRCOPILOT_H */
