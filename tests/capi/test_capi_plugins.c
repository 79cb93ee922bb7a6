/* The phases one by one through the C ABI, with the host's own plugins: a model (wrapping the
 * scripted demo model, injecting one call of a host tool), a retriever for related work, a tool
 * the agent calls, and an executor that really runs the task's scripts with popen. Phase 1 runs
 * alone on a planner handle; phases 2-3 start from an idea on a task handle, with gates answered
 * later through mlrc_run_answer_gate. Then invalid plugins and answers. */
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- model plugin: the scripted demo model behind a C vtable ---- */
typedef struct host_model {
  mlrc_model *inner;
  int calls, released;
  int inject_tool_at; /* the call (1-based) answered with a host_lookup tool call instead; 0: none */
} host_model;

static int model_chat(void *payload, const char *request_json, mlrc_buf *response) {
  host_model *m = (host_model *)payload;
  int n, rc;
  pthread_mutex_lock(&mu);
  n = ++m->calls;
  pthread_mutex_unlock(&mu);
  if (n == m->inject_tool_at)
    return mlrc_buf_set(response, "{\"text\":\"Ask the host.\",\"tool_calls\":[{\"id\":\"h1\",\"name\":\"host_lookup\","
                                  "\"arguments\":{\"key\":\"hint\"}}],\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}");
  rc = mlrc_model_chat(m->inner, request_json, response);
  if (rc != 0) mlrc_buf_set(response, mlrc_error_last()->message);
  return rc;
}
static void model_release(void *payload) { ((host_model *)payload)->released++; }

/* ---- retriever plugin: two fixed papers ---- */
typedef struct host_retriever {
  int searches, released;
} host_retriever;
static int retriever_search(void *payload, const char *query_json, mlrc_buf *hits) {
  host_retriever *r = (host_retriever *)payload;
  pthread_mutex_lock(&mu);
  r->searches++;
  pthread_mutex_unlock(&mu);
  if (!strstr(query_json, "\"corpus\":\"papers\"")) return mlrc_buf_set(hits, "[]");
  return mlrc_buf_set(hits,
                      "[{\"id\":\"host:paper-1\",\"score\":2.5,\"title\":\"Kernel methods for digit recognition\","
                      "\"snippet\":\"RBF SVMs beat trees on small image data.\",\"fields\":{\"year\":\"2001\"}},"
                      "{\"id\":\"host:paper-2\",\"score\":1.0,\"title\":\"Random forests\",\"snippet\":\"Bagging trees.\"}]");
}
static void retriever_release(void *payload) { ((host_retriever *)payload)->released++; }

/* ---- tool plugin ---- */
typedef struct host_tool {
  int calls, released;
  char last_args[256];
} host_tool;
static int tool_call(void *payload, const char *arguments_json, mlrc_buf *observation) {
  host_tool *t = (host_tool *)payload;
  pthread_mutex_lock(&mu);
  t->calls++;
  snprintf(t->last_args, sizeof t->last_args, "%s", arguments_json);
  pthread_mutex_unlock(&mu);
  return mlrc_buf_set(observation, "The host says: an RBF-kernel SVC usually wins on digits.");
}
static void tool_release(void *payload) { ((host_tool *)payload)->released++; }

/* ---- executor plugin: runs the job with popen in its cwd (no sandbox) ---- */
typedef struct host_executor {
  int runs, released;
} host_executor;

/* Appends `s` single-quoted for /bin/sh. */
static void shell_quote(char *out, size_t cap, const char *s) {
  size_t n = strlen(out);
  if (n + 1 < cap) out[n++] = '\'';
  for (; *s && n + 5 < cap; s++) {
    if (*s == '\'') {
      memcpy(out + n, "'\\''", 4);
      n += 4;
    } else {
      out[n++] = *s;
    }
  }
  if (n + 2 < cap) out[n++] = '\'', out[n++] = ' ';
  out[n] = '\0';
}

/* Reads the JSON string starting after the opening quote at p into out (unescaping \n, \t, \",
 * \\, \/ and ASCII \uXXXX); returns the position after the closing quote. */
static const char *json_string(const char *p, char *out, size_t cap) {
  size_t n = 0;
  while (*p && *p != '"') {
    char c = *p++;
    if (c == '\\') {
      c = *p++;
      if (c == 'n') c = '\n';
      else if (c == 't') c = '\t';
      else if (c == 'u') {
        c = (char)strtol((char[]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
        p += 4;
      }
    }
    if (n + 1 < cap) out[n++] = c;
  }
  out[n] = '\0';
  return *p ? p + 1 : p;
}

/* The strings of the JSON array "argv":[...]. */
static int argv_of(const char *job, char argv[][512], int max) {
  const char *p = strstr(job, "\"argv\":[");
  int n = 0;
  if (!p) return 0;
  p += 8;
  while (*p == '"' && n < max) {
    p = json_string(p + 1, argv[n++], 512);
    if (*p == ',') p++;
  }
  return n;
}
static void string_field(const char *job, const char *key, char *out, size_t cap) {
  char pat[64];
  const char *p, *e;
  size_t len;
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  out[0] = '\0';
  p = strstr(job, pat);
  if (!p) return;
  p += strlen(pat);
  e = strchr(p, '"');
  len = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
  memcpy(out, p, len);
  out[len] = '\0';
}
/* Appends `s` as a JSON string body (escaping quotes, backslashes, control characters). */
static void json_escape(char *out, size_t cap, const char *s) {
  size_t n = strlen(out);
  for (; *s && n + 8 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') out[n++] = '\\', out[n++] = (char)c;
    else if (c == '\n') out[n++] = '\\', out[n++] = 'n';
    else if (c < 0x20) n += (size_t)sprintf(out + n, "\\u%04x", c);
    else out[n++] = (char)c;
  }
  out[n] = '\0';
}

static int executor_run(void *payload, const char *job_json, mlrc_buf *result) {
  host_executor *x = (host_executor *)payload;
  char argv[16][512], cwd[1024], cmd[8192] = "", errfile[64], line[1024];
  static char out[65536], err[65536], json[140000];
  int argc = argv_of(job_json, argv, 16), i, status, code;
  FILE *f;
  size_t n;
  pthread_mutex_lock(&mu);
  x->runs++;
  pthread_mutex_unlock(&mu);
  string_field(job_json, "cwd", cwd, sizeof cwd);
  if (argc == 0) return mlrc_buf_set(result, "no argv in the job");
  strcpy(errfile, "/tmp/mlrc-capi-exec-XXXXXX");
  i = mkstemp(errfile);
  if (i < 0) return mlrc_buf_set(result, "mkstemp failed");
  close(i);
  strcat(cmd, "cd ");
  shell_quote(cmd, sizeof cmd, cwd);
  strcat(cmd, "&& exec ");
  for (i = 0; i < argc; i++) shell_quote(cmd, sizeof cmd, argv[i]);
  strcat(cmd, "2>");
  shell_quote(cmd, sizeof cmd, errfile);
  f = popen(cmd, "r");
  if (!f) return mlrc_buf_set(result, "popen failed");
  out[0] = err[0] = '\0';
  n = 0;
  while (fgets(line, sizeof line, f) && n + strlen(line) + 1 < sizeof out) {
    strcpy(out + n, line);
    n += strlen(line);
  }
  status = pclose(f);
  code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  f = fopen(errfile, "r");
  if (f) {
    n = fread(err, 1, sizeof err - 1, f);
    err[n] = '\0';
    fclose(f);
  }
  unlink(errfile);
  snprintf(json, sizeof json, "{\"kind\":\"exited\",\"exit_code\":%d,\"stdout\":\"", code);
  json_escape(json, sizeof json, out);
  strcat(json, "\",\"stderr\":\"");
  json_escape(json, sizeof json, err);
  strcat(json, "\"}");
  return mlrc_buf_set(result, json);
}
static void executor_release(void *payload) { ((host_executor *)payload)->released++; }

static const char *SCRIPT = "scripted:" MLRC_SOURCE_DIR "/examples/demo/script.json";

int main(void) {
  mlrc_runtime *rt = NULL;
  mlrc_model *inner = NULL, *model = NULL, *tmp_model = NULL;
  mlrc_retriever *retr = NULL;
  mlrc_planner *planner = NULL;
  mlrc_task *task = NULL;
  mlrc_session *s = NULL;
  mlrc_run *run = NULL;
  mlrc_buf buf = {0, 0, 0};
  mlrc_event ev;
  host_model hm = {NULL, 0, 0, 0};
  host_retriever hr = {0, 0};
  host_tool ht = {0, 0, ""};
  host_executor hx = {0, 0};
  mlrc_model_i model_vt = {MLRC_PLUGIN_VERSION, "host:wrapped-scripted", model_chat, model_release};
  mlrc_retriever_i retr_vt = {MLRC_PLUGIN_VERSION, "host-papers", "papers", retriever_search, retriever_release};
  mlrc_tool_i tool_vt = {MLRC_PLUGIN_VERSION, "host_lookup", "Ask the host application for a hint.",
                         "{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\"}},\"required\":[\"key\"]}", tool_call,
                         tool_release};
  mlrc_executor_i exec_vt = {MLRC_PLUGIN_VERSION, "host-popen", executor_run, executor_release};
  char home[64], cfg[512];
  int rc, ideas = 0, related = 0, gates = 0, bad_answers = 0, steps = 0;
  const char *idea =
      "{\"id\":\"idea-1\",\"title\":\"Replace the decision tree with an RBF-kernel SVM\","
      "\"hypothesis\":\"An RBF SVM models smooth class boundaries and beats a single tree on digits.\","
      "\"plan\":{\"steps\":[\"Replace DecisionTreeClassifier with SVC\",\"Run train.py\"],\"metrics\":[\"accuracy\"]}}";

  strcpy(home, "/tmp/mlrc-capi-plugins-XXXXXX");
  if (!mkdtemp(home)) return perror("mkdtemp"), 1;
  CHECK(mlrc_runtime_new(&rt, 1) == 0);

  /* ---- phase 1 alone: planner with a model plugin and a retriever plugin ---- */
  CHECK(mlrc_model_new(&inner, rt, SCRIPT) == 0);
  hm.inner = inner;
  CHECK(mlrc_model_from_plugin(&model, rt, &model_vt, &hm) == 0);
  CHECK(mlrc_model_describe(model, &buf) == 0 && strcmp(buf.ptr, "host:wrapped-scripted") == 0);
  mlrc_buf_dispose(&buf);
  CHECK(mlrc_retriever_from_plugin(&retr, rt, &retr_vt, &hr) == 0);
  CHECK(mlrc_retriever_search(retr, "{\"text\":\"svm digits\",\"corpus\":\"papers\",\"top_k\":1}", &buf) == 0);
  CHECK(buf.ptr && strstr(buf.ptr, "host:paper-1") && !strstr(buf.ptr, "host:paper-2")); /* top_k is enforced */
  mlrc_buf_dispose(&buf);
  CHECK(mlrc_retriever_search(retr, "{\"text\":\"svm\",\"corpus\":\"models\"}", &buf) == MLRC_ENOTFOUND);
  CHECK(mlrc_retriever_search(retr, "{\"text\":\"\"}", &buf) == MLRC_EINVALID);
  CHECK(mlrc_retriever_search(retr, "{\"text\":\"svm\",\"top_k\":\"3\"}", &buf) == MLRC_EINVALID &&
        strstr(mlrc_error_last()->message, "top_k"));
  CHECK(mlrc_retriever_search(retr, "{\"text\":\"svm\",\"colour\":1}", &buf) == MLRC_EINVALID &&
        strstr(mlrc_error_last()->message, "colour"));

  CHECK(mlrc_planner_new(&planner, model, retr, "{\"ideas\":2,\"refine_rounds\":1}") == 0);
  rc = mlrc_planner_start(&run, planner, MLRC_SOURCE_DIR "/examples/papers/sentiment-analysis.md");
  CHECK(rc == 0);
  if (run) {
    while ((rc = mlrc_run_next_event(run, &ev, 30000)) == 0) {
      if (strcmp(ev.kind, "idea_proposed") == 0) ideas++;
      if (strcmp(ev.kind, "related") == 0 && strstr(ev.json, "host:paper-1")) related++;
    }
    CHECK(rc == MLRC_EDONE);
    CHECK(mlrc_run_wait(run, &buf) == 0);
    CHECK(buf.ptr && strstr(buf.ptr, "\"ideas\"") && strstr(buf.ptr, "\"reviews\"") && strstr(buf.ptr, "host:paper-1"));
    mlrc_buf_dispose(&buf);
    mlrc_run_free(run);
    run = NULL;
  }
  CHECK(ideas == 2);
  CHECK(related == 1);
  CHECK(hr.searches >= 2);
  CHECK(hm.calls == 8); /* analyze, propose, 2 reviews, 2 refinements, 2 reviews */
  mlrc_planner_free(planner);
  planner = NULL;

  /* ---- phases 2-3 from an idea on a task, with the host's tool and executor ---- */
  CHECK(mlrc_task_load(&task, MLRC_SOURCE_DIR "/examples/tasks/digits-mlab") == 0);
  CHECK(mlrc_task_info(task, &buf) == 0 && buf.ptr && strstr(buf.ptr, "\"metric\":\"accuracy\""));
  mlrc_buf_dispose(&buf);
  snprintf(cfg, sizeof cfg, "{\"home\":\"%s\",\"model\":\"%s\",\"gates\":6,\"gate_timeout_s\":60,\"max_steps\":12}", home, SCRIPT);
  rc = mlrc_session_create_from_idea(&s, rt, task, idea, cfg);
  CHECK(rc == 0);
  if (s) {
    hm.inject_tool_at = hm.calls + 1; /* the agent's first move calls the host tool */
    CHECK(mlrc_session_set_model(s, model) == 0);
    CHECK(mlrc_session_add_tool(s, &tool_vt, &ht) == 0);
    CHECK(mlrc_session_set_executor(s, &exec_vt, &hx) == 0);
    CHECK(mlrc_session_set_retriever(s, retr) == 0);
    rc = mlrc_session_start(&run, s);
    CHECK(rc == 0);
    CHECK(mlrc_session_add_tool(s, &tool_vt, &ht) == MLRC_EINVALID); /* not while it runs */
    if (run) {
      while ((rc = mlrc_run_next_event(run, &ev, 60000)) == 0) {
        if (strcmp(ev.kind, "step") == 0) steps++;
        if (strcmp(ev.kind, "gate_waiting") != 0) continue;
        gates++;
        if (strstr(ev.json, "\"answer_as\":\"approve_execution\"")) {
          /* A wrong answer is refused at once and the gate stays open. */
          bad_answers += mlrc_run_answer_gate(run, "approve_execution", "{\"approve\":\"yes\"}") == MLRC_EINVALID;
          bad_answers += mlrc_run_answer_gate(run, "after_step", "{\"feedback\":\"x\"}") == MLRC_EINVALID &&
                         strstr(mlrc_error_last()->message, "waits at 'approve_execution'") != NULL;
          CHECK(mlrc_run_answer_gate(run, "approve_execution", "{\"approve\": true}") == 0);
        } else if (strstr(ev.json, "\"answer_as\":\"after_step\"")) {
          bad_answers += mlrc_run_answer_gate(run, "after_step", "not json") == MLRC_EINVALID;
          CHECK(mlrc_run_answer_gate(run, "after_step", "{\"feedback\":\"Keep going.\"}") == 0);
        }
      }
      CHECK(rc == MLRC_EDONE);
      CHECK(mlrc_run_wait(run, &buf) == 0);
      if (!(buf.ptr && strstr(buf.ptr, "\"success\":true"))) fprintf(stderr, "result: %s\n", buf.ptr ? buf.ptr : "(none)");
      CHECK(buf.ptr && strstr(buf.ptr, "\"success\":true"));
      mlrc_buf_dispose(&buf);
      mlrc_run_free(run);
      run = NULL;
    }
    CHECK(steps == 9); /* the host tool, then the demo's 8 moves */
    CHECK(gates >= 9 + 2);
    CHECK(bad_answers >= 5);
    CHECK(ht.calls == 1 && strstr(ht.last_args, "\"hint\""));
    CHECK(hx.runs >= 5); /* baseline run + eval, a failing script run, a run + eval */
    mlrc_session_free(s);
    s = NULL;
  }
  CHECK(ht.released == 1 && hx.released == 1); /* the session dropped its plugins */

  /* ---- invalid plugins and arguments ---- */
  {
    mlrc_tool_i bad_tool = tool_vt;
    mlrc_model_i bad_model = model_vt;
    CHECK(mlrc_session_create_from_idea(&s, rt, task, idea, "{\"task\":\"/x\"}") == MLRC_EINVALID && s == NULL);
    CHECK(mlrc_session_create_from_idea(&s, rt, task, "[1]", NULL) == MLRC_EINVALID);
    CHECK(mlrc_session_create_from_idea(&s, rt, NULL, idea, NULL) == MLRC_EINVALID);
    CHECK(mlrc_session_create_from_idea(&s, rt, task, idea, "{\"max_steps\":\"many\"}") != 0 &&
          strstr(mlrc_error_last()->message, "max_steps"));
    CHECK(mlrc_session_create_from_idea(&s, rt, task, idea, cfg) == 0);
    bad_tool.release = NULL;
    bad_tool.version = 99;
    CHECK(mlrc_session_add_tool(s, &bad_tool, NULL) == MLRC_EINVALID && strstr(mlrc_error_last()->message, "version 99"));
    bad_tool.version = MLRC_PLUGIN_VERSION;
    bad_tool.name = "bad name!";
    CHECK(mlrc_session_add_tool(s, &bad_tool, NULL) == MLRC_EINVALID && strstr(mlrc_error_last()->message, "bad name!"));
    bad_tool.name = "ok_name";
    bad_tool.parameters_json = "{not json";
    CHECK(mlrc_session_add_tool(s, &bad_tool, NULL) == MLRC_EINVALID && strstr(mlrc_error_last()->message, "parameters_json"));
    bad_tool.parameters_json = NULL;
    bad_tool.call = NULL;
    CHECK(mlrc_session_add_tool(s, &bad_tool, NULL) == MLRC_EINVALID);
    CHECK(mlrc_session_add_tool(s, NULL, NULL) == MLRC_EINVALID);
    CHECK(mlrc_session_set_executor(s, NULL, NULL) == MLRC_EINVALID);
    CHECK(mlrc_session_set_model(s, NULL) == MLRC_EINVALID);
    CHECK(mlrc_session_set_retriever(NULL, retr) == MLRC_EINVALID);
    mlrc_session_free(s);
    s = NULL;
    bad_model.version = 0;
    CHECK(mlrc_model_from_plugin(&tmp_model, rt, &bad_model, NULL) == MLRC_EINVALID && tmp_model == NULL);
    CHECK(mlrc_model_new(&tmp_model, rt, "nonsense-provider:x") != 0 && tmp_model == NULL);
    CHECK(mlrc_model_chat(model, "{\"messages\":42}", &buf) != 0 && strstr(mlrc_error_last()->message, "messages"));
    CHECK(mlrc_model_chat(NULL, "{}", &buf) == MLRC_EINVALID);
    CHECK(mlrc_planner_new(&planner, model, NULL, "{\"ideas\":0}") == MLRC_EINVALID && strstr(mlrc_error_last()->message, "ideas"));
    CHECK(mlrc_planner_new(&planner, model, NULL, "{\"idea\":2}") == MLRC_EINVALID && strstr(mlrc_error_last()->message, "\"idea\""));
    CHECK(mlrc_planner_new(&planner, NULL, NULL, NULL) == MLRC_EINVALID && planner == NULL);
    CHECK(mlrc_planner_new(&planner, model, NULL, NULL) == 0);
    CHECK(mlrc_planner_run(planner, "/no/such/paper.md", &buf) == MLRC_ENOTFOUND || mlrc_error_last()->code != 0);
    CHECK(strstr(mlrc_error_last()->message, "/no/such/paper.md") != NULL);
    CHECK(mlrc_planner_run(planner, "{\"title\": 5}", &buf) != 0);
    mlrc_planner_free(planner);
    {
      mlrc_task *t2 = NULL;
      mlrc_retriever *r2 = NULL;
      CHECK(mlrc_task_load(&t2, "/no/such/task") != 0 && t2 == NULL && strstr(mlrc_error_last()->message, "/no/such/task"));
      CHECK(mlrc_retriever_open_local(&r2, rt, "/no/such/index") == MLRC_ENOTFOUND && r2 == NULL);
    }
    CHECK(mlrc_run_answer_gate(NULL, "help", "{}") == MLRC_EINVALID);
    {
      /* Every new entry point: NULL handles and out-pointers are MLRC_EINVALID, never a crash. */
      mlrc_model *mp = NULL;
      mlrc_retriever *rp = NULL;
      mlrc_task *tp = NULL;
      mlrc_planner *pp = NULL;
      mlrc_session *sp = NULL;
      mlrc_run *runp = NULL;
      CHECK(mlrc_model_new(NULL, rt, SCRIPT) == MLRC_EINVALID);
      CHECK(mlrc_model_new(&mp, NULL, SCRIPT) == MLRC_EINVALID && mp == NULL);
      CHECK(mlrc_model_new(&mp, rt, NULL) == MLRC_EINVALID);
      CHECK(mlrc_model_from_plugin(&mp, rt, NULL, NULL) == MLRC_EINVALID);
      CHECK(mlrc_model_describe(NULL, &buf) == MLRC_EINVALID);
      CHECK(mlrc_model_describe(model, NULL) == MLRC_EINVALID);
      CHECK(mlrc_model_chat(model, NULL, &buf) == MLRC_EINVALID);
      CHECK(mlrc_model_chat(model, "{}", NULL) == MLRC_EINVALID);
      CHECK(mlrc_retriever_open_local(&rp, rt, NULL) == MLRC_EINVALID);
      CHECK(mlrc_retriever_open_sources(&rp, NULL, "s2", NULL) == MLRC_EINVALID);
      CHECK(mlrc_retriever_open_sources(&rp, rt, NULL, NULL) == MLRC_EINVALID);
      CHECK(mlrc_retriever_open_sources(&rp, rt, "s2,bing", NULL) == MLRC_ECONFIG && rp == NULL &&
            strstr(mlrc_error_last()->message, "bing") != NULL);
      CHECK(mlrc_retriever_open_sources(&rp, rt, "s2,local", NULL) == MLRC_ECONFIG); /* local needs an index */
      CHECK(mlrc_retriever_open_sources(&rp, rt, "s2,openalex", NULL) == 0 && rp != NULL);
      mlrc_retriever_free(rp);
      CHECK(mlrc_retriever_from_plugin(&rp, rt, NULL, NULL) == MLRC_EINVALID);
      CHECK(mlrc_retriever_search(NULL, "{}", &buf) == MLRC_EINVALID);
      CHECK(mlrc_retriever_search(retr, NULL, &buf) == MLRC_EINVALID);
      CHECK(mlrc_retriever_search(retr, "{not json", &buf) == MLRC_EINVALID);
      CHECK(mlrc_task_load(NULL, "x") == MLRC_EINVALID);
      CHECK(mlrc_task_load(&tp, NULL) == MLRC_EINVALID);
      CHECK(mlrc_task_info(NULL, &buf) == MLRC_EINVALID);
      CHECK(mlrc_task_info(task, NULL) == MLRC_EINVALID);
      CHECK(mlrc_task_baseline(NULL, rt, NULL, &buf) == MLRC_EINVALID);
      CHECK(mlrc_task_baseline(task, NULL, NULL, &buf) == MLRC_EINVALID);
      CHECK(mlrc_task_baseline(task, rt, NULL, NULL) == MLRC_EINVALID);
      CHECK(mlrc_planner_new(NULL, model, NULL, NULL) == MLRC_EINVALID);
      CHECK(mlrc_planner_on_event(NULL, NULL, NULL) == MLRC_EINVALID);
      CHECK(mlrc_planner_run(NULL, "p", &buf) == MLRC_EINVALID);
      CHECK(mlrc_planner_start(&runp, NULL, "p") == MLRC_EINVALID && runp == NULL);
      CHECK(mlrc_planner_new(&pp, model, NULL, NULL) == 0);
      CHECK(mlrc_planner_run(pp, NULL, &buf) == MLRC_EINVALID);
      CHECK(mlrc_planner_start(NULL, pp, "p") == MLRC_EINVALID);
      CHECK(mlrc_planner_start(&runp, pp, NULL) == MLRC_EINVALID);
      mlrc_planner_free(pp);
      CHECK(mlrc_session_create_from_idea(NULL, rt, task, idea, NULL) == MLRC_EINVALID);
      CHECK(mlrc_session_create_from_idea(&sp, NULL, task, idea, NULL) == MLRC_EINVALID);
      CHECK(mlrc_session_create_from_idea(&sp, rt, task, NULL, NULL) == MLRC_EINVALID);
      CHECK(mlrc_session_set_model(NULL, model) == MLRC_EINVALID);
      CHECK(mlrc_session_add_tool(NULL, &tool_vt, NULL) == MLRC_EINVALID);
      CHECK(mlrc_session_set_executor(NULL, &exec_vt, NULL) == MLRC_EINVALID);
      CHECK(mlrc_run_answer_gate(NULL, NULL, NULL) == MLRC_EINVALID);
      mlrc_model_free(NULL);
      mlrc_retriever_free(NULL);
      mlrc_task_free(NULL);
      mlrc_planner_free(NULL);
    }
  }

  mlrc_task_free(task);
  CHECK(hr.released == 0);
  mlrc_retriever_free(retr); /* the planner and sessions that shared it are gone: the last reference */
  CHECK(hr.released == 1);
  CHECK(hm.released == 0);
  mlrc_model_free(model);
  CHECK(hm.released == 1);
  mlrc_model_free(inner);
  mlrc_runtime_free(rt);
  return CHECK_SUMMARY();
}
