/* Sessions through the C ABI with the scripted demo model (the code it writes really runs and is
 * scored): a blocking run, an async run pulling events, gates answered from C, cancellation from
 * another thread, callbacks that abort, and invalid arguments. */
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static char home[256];
static char config[4096];

/* The demo session's config, with `extra` (",\"key\":value" or "") appended. */
static const char *make_config(const char *extra) {
  snprintf(config, sizeof config,
           "{\"paper\":\"%s/examples/papers/sentiment-analysis.md\",\"task\":\"%s/examples/tasks/digits-mlab\","
           "\"model\":\"scripted:%s/examples/demo/script.json\",\"ideas\":2,\"home\":\"%s\"%s}",
           MLRC_SOURCE_DIR, MLRC_SOURCE_DIR, MLRC_SOURCE_DIR, home, extra);
  return config;
}

/* ---- gates and events, answered from C (library threads) ---- */
typedef struct gate_state {
  pthread_mutex_t mu;
  int after_step, approve, other, warnings, steps;
} gate_state;

static int gate_cb(const char *gate, const char *question_json, mlrc_buf *answer, void *payload) {
  gate_state *g = (gate_state *)payload;
  int first;
  pthread_mutex_lock(&g->mu);
  if (strcmp(gate, "after_step") == 0) {
    first = g->after_step++ == 0;
    /* The first answer is not JSON: the gate must take its default and warn. */
    mlrc_buf_set(answer, first ? "this is not json" : "{\"feedback\":\"Keep going.\"}");
  } else if (strcmp(gate, "approve_execution") == 0) {
    g->approve += strstr(question_json, "\"command\"") != NULL;
    mlrc_buf_set(answer, "{\"approve\": true}");
  } else {
    g->other++;
  }
  pthread_mutex_unlock(&g->mu);
  return 0;
}

static int event_cb(const mlrc_event *ev, void *payload) {
  gate_state *g = (gate_state *)payload;
  pthread_mutex_lock(&g->mu);
  if (strcmp(ev->kind, "step") == 0) g->steps++;
  if (strcmp(ev->kind, "warning") == 0 && strstr(ev->json, "after_step") && strstr(ev->json, "not JSON")) g->warnings++;
  pthread_mutex_unlock(&g->mu);
  return 0;
}

/* Aborts at the first proposed idea (phase 1, where cancellation takes effect at once); counts
 * the step events seen afterwards. */
typedef struct abort_state {
  int aborts, steps;
} abort_state;
static int abort_on_idea(const mlrc_event *ev, void *payload) {
  abort_state *a = (abort_state *)payload;
  if (strcmp(ev->kind, "step") == 0) a->steps++;
  if (strcmp(ev->kind, "idea_proposed") == 0) {
    a->aborts++;
    return 1;
  }
  return 0;
}

typedef struct cancel_arg {
  mlrc_run *run;
  int rc;
} cancel_arg;
static void *cancel_thread(void *p) {
  cancel_arg *a = (cancel_arg *)p;
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  a->rc = mlrc_run_cancel(a->run);
  return NULL;
}

int main(void) {
  mlrc_runtime *rt = NULL;
  mlrc_session *s = NULL, *s2 = NULL;
  mlrc_run *run = NULL, *run2 = NULL;
  mlrc_buf buf = {0, 0, 0}, id = {0, 0, 0};
  mlrc_event ev;
  int rc, steps, finished, timeouts;

  strcpy(home, "/tmp/mlrc-capi-XXXXXX");
  if (!mkdtemp(home)) {
    perror("mkdtemp");
    return 1;
  }
  CHECK(mlrc_runtime_new(&rt, 2) == 0 && rt != NULL);

  /* (1) A blocking scripted session, end to end. */
  rc = mlrc_session_create(&s, rt, make_config(""));
  CHECK(rc == 0 && s != NULL);
  if (s) {
    CHECK(mlrc_session_id(s, &id) == 0 && id.size > 0);
    rc = mlrc_session_run(s, &buf);
    CHECK(rc == 0);
    CHECK(buf.ptr != NULL && strstr(buf.ptr, "\"success\":true") != NULL);
    CHECK(buf.ptr != NULL && strstr(buf.ptr, "\"status\":\"finished\"") != NULL);
    mlrc_buf_dispose(&buf);
    /* The run can be opened again by id. */
    rc = mlrc_session_open(&s2, rt, home, id.ptr);
    CHECK(rc == 0 && s2 != NULL);
    if (s2) {
      mlrc_buf id2 = {0, 0, 0};
      CHECK(mlrc_session_id(s2, &id2) == 0 && strcmp(id.ptr, id2.ptr) == 0);
      mlrc_buf_dispose(&id2);
    }
    mlrc_session_free(s2);
    s2 = NULL;
    mlrc_session_free(s);
    s = NULL;
  }
  mlrc_buf_dispose(&id);

  /* (2) Async: pull events until the run is done, then wait. */
  rc = mlrc_session_create(&s, rt, make_config(""));
  CHECK(rc == 0);
  if (s) {
    rc = mlrc_session_start(&run, s);
    CHECK(rc == 0 && run != NULL);
    /* One session runs once at a time. */
    rc = mlrc_session_start(&run2, s);
    CHECK(rc == MLRC_EINVALID && run2 == NULL && strstr(mlrc_error_last()->message, "session is already running"));
    CHECK(mlrc_session_run(s, &buf) == MLRC_EINVALID && buf.ptr == NULL);
    steps = finished = timeouts = 0;
    for (;;) {
      rc = mlrc_run_next_event(run, &ev, 120000);
      if (rc != 0) break;
      if (strcmp(ev.kind, "step") == 0) steps++;
      if (strcmp(ev.kind, "finished") == 0) finished++;
    }
    CHECK(rc == MLRC_EDONE);
    CHECK(steps == 8);
    CHECK(finished == 1);
    CHECK(mlrc_run_next_event(run, &ev, 0) == MLRC_EDONE); /* stays done */
    rc = mlrc_run_wait(run, &buf);
    CHECK(rc == 0 && buf.ptr != NULL && strstr(buf.ptr, "\"success\":true") != NULL);
    mlrc_buf_dispose(&buf);
    CHECK(mlrc_run_cancel(run) == MLRC_EDONE); /* nothing left to cancel */
    mlrc_run_free(run);
    run = NULL;
    mlrc_session_free(s);
    s = NULL;
  }

  /* (3) Gates answered from C: after_step feedback and execution approval (gates = 4|2). */
  {
    gate_state g;
    memset(&g, 0, sizeof g);
    pthread_mutex_init(&g.mu, NULL);
    rc = mlrc_session_create(&s, rt, make_config(",\"gates\":6,\"gate_timeout_s\":60"));
    CHECK(rc == 0);
    if (s) {
      CHECK(mlrc_session_set_gate_handler(s, gate_cb, &g) == 0);
      CHECK(mlrc_session_on_event(s, event_cb, &g) == 0);
      rc = mlrc_session_run(s, &buf);
      CHECK(rc == 0 && buf.ptr != NULL && strstr(buf.ptr, "\"success\":true") != NULL);
      mlrc_buf_dispose(&buf);
      CHECK(g.after_step == 8);
      CHECK(g.approve >= 1);
      CHECK(g.other == 0); /* choose_idea and help are not enabled */
      CHECK(g.steps == 8);
      CHECK(g.warnings == 1); /* the bad first answer was reported */
      mlrc_session_free(s);
      s = NULL;
    }
    pthread_mutex_destroy(&g.mu);
  }

  /* (3b) An event callback returning non-zero cancels the run: MLRC_EUSER. */
  rc = mlrc_session_create(&s, rt, make_config(""));
  CHECK(rc == 0);
  if (s) {
    abort_state seen = {0, 0};
    CHECK(mlrc_session_on_event(s, abort_on_idea, &seen) == 0);
    rc = mlrc_session_run(s, &buf);
    CHECK(rc == MLRC_EUSER && mlrc_error_last()->code == MLRC_EUSER);
    CHECK(seen.aborts >= 1);
    CHECK(seen.steps == 0); /* stopped in phase 1 */
    CHECK(buf.ptr == NULL || strstr(buf.ptr, "\"success\":false") != NULL);
    mlrc_buf_dispose(&buf);
    mlrc_session_free(s);
    s = NULL;
  }

  /* (4) Cancel from another thread shortly after start. If the cancel request was registered
   * (mlrc_run_cancel returned 0 before the run ended) wait reports MLRC_ECANCELLED; if the run had
   * already ended, cancel says MLRC_EDONE and wait reports the run's own outcome. */
  rc = mlrc_session_create(&s, rt, make_config(""));
  CHECK(rc == 0);
  if (s) {
    pthread_t th;
    cancel_arg a;
    rc = mlrc_session_start(&run, s);
    CHECK(rc == 0);
    if (run) {
      a.run = run;
      a.rc = 1;
      CHECK(pthread_create(&th, NULL, cancel_thread, &a) == 0);
      pthread_join(th, NULL);
      rc = mlrc_run_wait(run, &buf);
      CHECK(a.rc == 0 || a.rc == MLRC_EDONE);
      if (a.rc == 0) {
        CHECK(rc == MLRC_ECANCELLED && strstr(mlrc_error_last()->message, "cancelled") != NULL);
      } else {
        CHECK(rc == 0);
      }
      steps = 0;
      while (mlrc_run_next_event(run, &ev, 0) == 0)
        if (strcmp(ev.kind, "step") == 0) steps++;
      CHECK(steps < 8); /* it really stopped early */
      mlrc_buf_dispose(&buf);
      mlrc_run_free(run);
      run = NULL;
    }
    /* Freeing a run that is still going cancels and waits. */
    rc = mlrc_session_start(&run, s);
    CHECK(rc == 0);
    mlrc_run_free(run);
    run = NULL;
    mlrc_session_free(s);
    s = NULL;
  }

  /* (5) NULL and invalid arguments never crash. */
  CHECK(mlrc_runtime_new(NULL, 1) == MLRC_EINVALID);
  CHECK(mlrc_session_create(NULL, rt, make_config("")) == MLRC_EINVALID);
  CHECK(mlrc_session_create(&s, NULL, make_config("")) == MLRC_EINVALID && s == NULL);
  CHECK(mlrc_session_create(&s, rt, NULL) == MLRC_EINVALID && strstr(mlrc_error_last()->message, "config_json is NULL"));
  CHECK(mlrc_session_open(NULL, rt, home, "x") == MLRC_EINVALID);
  CHECK(mlrc_session_open(&s, NULL, home, "x") == MLRC_EINVALID);
  CHECK(mlrc_session_open(&s, rt, home, NULL) == MLRC_EINVALID);
  CHECK(mlrc_session_open(&s, rt, home, "no-such-run") == MLRC_ENOTFOUND && s == NULL);
  CHECK(mlrc_session_id(NULL, &buf) == MLRC_EINVALID);
  CHECK(mlrc_session_id(NULL, NULL) == MLRC_EINVALID);
  CHECK(mlrc_session_run(NULL, &buf) == MLRC_EINVALID);
  CHECK(mlrc_session_start(&run, NULL) == MLRC_EINVALID && run == NULL);
  CHECK(mlrc_session_start(NULL, NULL) == MLRC_EINVALID);
  CHECK(mlrc_session_on_event(NULL, event_cb, NULL) == MLRC_EINVALID);
  CHECK(mlrc_session_set_gate_handler(NULL, gate_cb, NULL) == MLRC_EINVALID);
  CHECK(mlrc_run_next_event(NULL, &ev, 0) == MLRC_EINVALID);
  CHECK(mlrc_run_wait(NULL, &buf) == MLRC_EINVALID);
  CHECK(mlrc_run_cancel(NULL) == MLRC_EINVALID && strstr(mlrc_error_last()->message, "run is NULL"));
  CHECK(mlrc_buf_set(NULL, "x") == MLRC_EINVALID);
  CHECK(mlrc_buf_set(&buf, NULL) == MLRC_EINVALID);
  CHECK(mlrc_buf_set(&buf, "abc") == 0 && buf.size == 3 && strcmp(buf.ptr, "abc") == 0);
  CHECK(mlrc_buf_set(&buf, "de") == 0 && buf.size == 2 && strcmp(buf.ptr, "de") == 0);
  mlrc_buf_dispose(&buf);
  mlrc_run_free(NULL);
  mlrc_session_free(NULL);
  mlrc_runtime_free(NULL);
  /* Bad config JSON: MLRC_EPARSE naming the problem. */
  CHECK(mlrc_session_create(&s, rt, "{\"task\": ") == MLRC_EPARSE && s == NULL);
  CHECK(strstr(mlrc_error_last()->message, "session config: not JSON") != NULL);
  CHECK(mlrc_session_create(&s, rt, "[1,2]") == MLRC_EPARSE && strstr(mlrc_error_last()->message, "expected an object"));
  CHECK(mlrc_session_create(&s, rt, "{\"paper\":\"x.md\"}") == MLRC_EINVALID &&
        strstr(mlrc_error_last()->message, "no task folder"));

  mlrc_runtime_free(rt);
  {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", home);
  }
  return CHECK_SUMMARY();
}
