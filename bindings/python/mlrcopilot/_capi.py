"""1:1 ctypes declarations of capi/include/mlrcopilot.h (the C prototype is above each one).

Loader order: $MLRC_LIB_PATH (a file, or a folder holding libmlrcopilot.so*), the package folder,
then the build tree (<repo>/build/*/capi). Importing checks that the library's
mlrc_version_number() equals the header version this module was written against.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_size_t, c_uint, c_void_p)
from pathlib import Path
from typing import List, Optional

# Header version this module mirrors: MLRC_VERSION_NUMBER = MAJOR * 10000 + MINOR * 100 + PATCH.
MLRC_VERSION_MAJOR = 0
MLRC_VERSION_MINOR = 1
MLRC_VERSION_PATCH = 0
MLRC_VERSION_NUMBER = MLRC_VERSION_MAJOR * 10000 + MLRC_VERSION_MINOR * 100 + MLRC_VERSION_PATCH

_LIB_NAMES = ("libmlrcopilot.so.0", "libmlrcopilot.so") if sys.platform != "darwin" else (
    "libmlrcopilot.0.dylib", "libmlrcopilot.dylib")


# typedef struct mlrc_error { int code; const char *message; const char *provider_text; } mlrc_error;
class mlrc_error(Structure):
    _fields_ = [("code", c_int), ("message", c_char_p), ("provider_text", c_char_p)]


# typedef struct mlrc_buf { char *ptr; size_t size; size_t reserved; } mlrc_buf;
class mlrc_buf(Structure):
    _fields_ = [("ptr", c_void_p), ("size", c_size_t), ("reserved", c_size_t)]


# typedef struct mlrc_event { const char *kind; const char *json; } mlrc_event;
class mlrc_event(Structure):
    _fields_ = [("kind", c_char_p), ("json", c_char_p)]


# typedef int (*mlrc_event_cb)(const mlrc_event *ev, void *payload);
mlrc_event_cb = CFUNCTYPE(c_int, POINTER(mlrc_event), c_void_p)
# typedef int (*mlrc_gate_cb)(const char *gate, const char *question_json, mlrc_buf *answer, void *payload);
mlrc_gate_cb = CFUNCTYPE(c_int, c_char_p, c_char_p, POINTER(mlrc_buf), c_void_p)

# Opaque handles.
mlrc_runtime_p = c_void_p
mlrc_session_p = c_void_p
mlrc_run_p = c_void_p
mlrc_model_p = c_void_p
mlrc_retriever_p = c_void_p
mlrc_task_p = c_void_p
mlrc_planner_p = c_void_p

# #define MLRC_PLUGIN_VERSION 1
MLRC_PLUGIN_VERSION = 1
# #define MLRC_GATE_LATER 100
MLRC_GATE_LATER = 100

# int (*fn)(void *payload, const char *input_json, mlrc_buf *out): every plugin entry point.
mlrc_plugin_fn = CFUNCTYPE(c_int, c_void_p, c_char_p, POINTER(mlrc_buf))
# void (*release)(void *payload);
mlrc_release_fn = CFUNCTYPE(None, c_void_p)


# typedef struct mlrc_tool_i { unsigned version; const char *name; const char *description;
#   const char *parameters_json; int (*call)(...); void (*release)(void *); } mlrc_tool_i;
class mlrc_tool_i(Structure):
    _fields_ = [("version", c_uint), ("name", c_char_p), ("description", c_char_p),
                ("parameters_json", c_char_p), ("call", mlrc_plugin_fn), ("release", mlrc_release_fn)]


# typedef struct mlrc_model_i { unsigned version; const char *name; int (*chat)(...);
#   void (*release)(void *); } mlrc_model_i;
class mlrc_model_i(Structure):
    _fields_ = [("version", c_uint), ("name", c_char_p), ("chat", mlrc_plugin_fn),
                ("release", mlrc_release_fn)]


# typedef struct mlrc_retriever_i { unsigned version; const char *name; const char *corpora;
#   int (*search)(...); void (*release)(void *); } mlrc_retriever_i;
class mlrc_retriever_i(Structure):
    _fields_ = [("version", c_uint), ("name", c_char_p), ("corpora", c_char_p),
                ("search", mlrc_plugin_fn), ("release", mlrc_release_fn)]


# typedef struct mlrc_executor_i { unsigned version; const char *name; int (*run)(...);
#   void (*release)(void *); } mlrc_executor_i;
class mlrc_executor_i(Structure):
    _fields_ = [("version", c_uint), ("name", c_char_p), ("run", mlrc_plugin_fn),
                ("release", mlrc_release_fn)]


def _candidates() -> List[Path]:
    out: List[Path] = []
    env = os.environ.get("MLRC_LIB_PATH")
    if env:
        p = Path(env)
        out += [p / n for n in _LIB_NAMES] if p.is_dir() else [p]
    here = Path(__file__).resolve().parent
    out += [here / n for n in _LIB_NAMES]
    # bindings/python/mlrcopilot/_capi.py -> repo root is parents[3]
    repo = Path(__file__).resolve().parents[3] if len(Path(__file__).resolve().parents) > 3 else None
    if repo is not None:
        for sub in ("build/default/capi", "build/capi"):
            out += [repo / sub / n for n in _LIB_NAMES]
        build = repo / "build"
        if build.is_dir():
            for d in sorted(build.glob("*/capi")):
                out += [d / n for n in _LIB_NAMES]
    return out


def _load() -> ctypes.CDLL:
    tried: List[str] = []
    env = os.environ.get("MLRC_LIB_PATH")
    for path in _candidates():
        if not path.exists():
            tried.append(f"{path} (missing)")
            continue
        try:
            return ctypes.CDLL(str(path))
        except OSError as exc:  # pragma: no cover - broken library file
            tried.append(f"{path} ({exc})")
            if env:
                break
    raise ImportError("mlrcopilot: cannot load libmlrcopilot; set MLRC_LIB_PATH to the library "
                      "or its folder. Tried:\n  " + "\n  ".join(tried))


lib = _load()
lib_path: Optional[str] = getattr(lib, "_name", None)


def _decl(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


# const mlrc_error *mlrc_error_last(void);
mlrc_error_last = _decl("mlrc_error_last", POINTER(mlrc_error))
# void mlrc_buf_dispose(mlrc_buf *buf);
mlrc_buf_dispose = _decl("mlrc_buf_dispose", None, POINTER(mlrc_buf))
# int mlrc_buf_set(mlrc_buf *buf, const char *text);
mlrc_buf_set = _decl("mlrc_buf_set", c_int, POINTER(mlrc_buf), c_char_p)
# int mlrc_version_number(void);
mlrc_version_number = _decl("mlrc_version_number", c_int)
# const char *mlrc_version_string(void);
mlrc_version_string = _decl("mlrc_version_string", c_char_p)
# int mlrc_model_spec_parse(mlrc_buf *out, const char *spec);
mlrc_model_spec_parse = _decl("mlrc_model_spec_parse", c_int, POINTER(mlrc_buf), c_char_p)

# int mlrc_runtime_new(mlrc_runtime **out, unsigned threads);
mlrc_runtime_new = _decl("mlrc_runtime_new", c_int, POINTER(mlrc_runtime_p), c_uint)
# void mlrc_runtime_free(mlrc_runtime *rt);
mlrc_runtime_free = _decl("mlrc_runtime_free", None, mlrc_runtime_p)

# int mlrc_session_create(mlrc_session **out, mlrc_runtime *rt, const char *config_json);
mlrc_session_create = _decl("mlrc_session_create", c_int, POINTER(mlrc_session_p), mlrc_runtime_p,
                            c_char_p)
# int mlrc_session_open(mlrc_session **out, mlrc_runtime *rt, const char *home, const char *run_id);
mlrc_session_open = _decl("mlrc_session_open", c_int, POINTER(mlrc_session_p), mlrc_runtime_p,
                          c_char_p, c_char_p)
# int mlrc_session_id(const mlrc_session *s, mlrc_buf *out);
mlrc_session_id = _decl("mlrc_session_id", c_int, mlrc_session_p, POINTER(mlrc_buf))
# void mlrc_session_free(mlrc_session *s);
mlrc_session_free = _decl("mlrc_session_free", None, mlrc_session_p)
# int mlrc_session_on_event(mlrc_session *s, mlrc_event_cb cb, void *payload);
mlrc_session_on_event = _decl("mlrc_session_on_event", c_int, mlrc_session_p, mlrc_event_cb,
                              c_void_p)
# int mlrc_session_set_gate_handler(mlrc_session *s, mlrc_gate_cb cb, void *payload);
mlrc_session_set_gate_handler = _decl("mlrc_session_set_gate_handler", c_int, mlrc_session_p,
                                      mlrc_gate_cb, c_void_p)
# int mlrc_session_run(mlrc_session *s, mlrc_buf *result_json);
mlrc_session_run = _decl("mlrc_session_run", c_int, mlrc_session_p, POINTER(mlrc_buf))

# int mlrc_session_start(mlrc_run **out, mlrc_session *s);
mlrc_session_start = _decl("mlrc_session_start", c_int, POINTER(mlrc_run_p), mlrc_session_p)
# int mlrc_run_next_event(mlrc_run *run, mlrc_event *ev, int timeout_ms);
mlrc_run_next_event = _decl("mlrc_run_next_event", c_int, mlrc_run_p, POINTER(mlrc_event), c_int)
# int mlrc_run_wait(mlrc_run *run, mlrc_buf *result_json);
mlrc_run_wait = _decl("mlrc_run_wait", c_int, mlrc_run_p, POINTER(mlrc_buf))
# int mlrc_run_cancel(mlrc_run *run);
mlrc_run_cancel = _decl("mlrc_run_cancel", c_int, mlrc_run_p)
# void mlrc_run_free(mlrc_run *run);
mlrc_run_free = _decl("mlrc_run_free", None, mlrc_run_p)
# int mlrc_run_answer_gate(mlrc_run *run, const char *gate, const char *answer_json);
mlrc_run_answer_gate = _decl("mlrc_run_answer_gate", c_int, mlrc_run_p, c_char_p, c_char_p)

# int mlrc_session_create_from_idea(mlrc_session **out, mlrc_runtime *rt, const mlrc_task *task,
#                                   const char *idea_json, const char *config_json);
mlrc_session_create_from_idea = _decl("mlrc_session_create_from_idea", c_int,
                                      POINTER(mlrc_session_p), mlrc_runtime_p, mlrc_task_p,
                                      c_char_p, c_char_p)
# int mlrc_session_set_model(mlrc_session *s, mlrc_model *m);
mlrc_session_set_model = _decl("mlrc_session_set_model", c_int, mlrc_session_p, mlrc_model_p)
# int mlrc_session_set_retriever(mlrc_session *s, mlrc_retriever *r);
mlrc_session_set_retriever = _decl("mlrc_session_set_retriever", c_int, mlrc_session_p,
                                   mlrc_retriever_p)
# int mlrc_session_add_tool(mlrc_session *s, const mlrc_tool_i *tool, void *payload);
mlrc_session_add_tool = _decl("mlrc_session_add_tool", c_int, mlrc_session_p,
                              POINTER(mlrc_tool_i), c_void_p)
# int mlrc_session_set_executor(mlrc_session *s, const mlrc_executor_i *executor, void *payload);
mlrc_session_set_executor = _decl("mlrc_session_set_executor", c_int, mlrc_session_p,
                                  POINTER(mlrc_executor_i), c_void_p)

# int mlrc_model_new(mlrc_model **out, mlrc_runtime *rt, const char *spec);
mlrc_model_new = _decl("mlrc_model_new", c_int, POINTER(mlrc_model_p), mlrc_runtime_p, c_char_p)
# int mlrc_model_from_plugin(mlrc_model **out, mlrc_runtime *rt, const mlrc_model_i *impl, void *payload);
mlrc_model_from_plugin = _decl("mlrc_model_from_plugin", c_int, POINTER(mlrc_model_p),
                               mlrc_runtime_p, POINTER(mlrc_model_i), c_void_p)
# int mlrc_model_chat(mlrc_model *m, const char *request_json, mlrc_buf *response_json);
mlrc_model_chat = _decl("mlrc_model_chat", c_int, mlrc_model_p, c_char_p, POINTER(mlrc_buf))
# int mlrc_model_describe(const mlrc_model *m, mlrc_buf *out);
mlrc_model_describe = _decl("mlrc_model_describe", c_int, mlrc_model_p, POINTER(mlrc_buf))
# void mlrc_model_free(mlrc_model *m);
mlrc_model_free = _decl("mlrc_model_free", None, mlrc_model_p)

# int mlrc_retriever_open_local(mlrc_retriever **out, mlrc_runtime *rt, const char *path);
mlrc_retriever_open_local = _decl("mlrc_retriever_open_local", c_int, POINTER(mlrc_retriever_p),
                                  mlrc_runtime_p, c_char_p)
# int mlrc_retriever_open_sources(mlrc_retriever **out, mlrc_runtime *rt, const char *spec, const char *local_index);
mlrc_retriever_open_sources = _decl("mlrc_retriever_open_sources", c_int, POINTER(mlrc_retriever_p),
                                    mlrc_runtime_p, c_char_p, c_char_p)
# int mlrc_retriever_from_plugin(mlrc_retriever **out, mlrc_runtime *rt, const mlrc_retriever_i *impl, void *payload);
mlrc_retriever_from_plugin = _decl("mlrc_retriever_from_plugin", c_int, POINTER(mlrc_retriever_p),
                                   mlrc_runtime_p, POINTER(mlrc_retriever_i), c_void_p)
# int mlrc_retriever_search(mlrc_retriever *r, const char *query_json, mlrc_buf *hits_json);
mlrc_retriever_search = _decl("mlrc_retriever_search", c_int, mlrc_retriever_p, c_char_p,
                              POINTER(mlrc_buf))
# void mlrc_retriever_free(mlrc_retriever *r);
mlrc_retriever_free = _decl("mlrc_retriever_free", None, mlrc_retriever_p)

# int mlrc_task_load(mlrc_task **out, const char *folder);
mlrc_task_load = _decl("mlrc_task_load", c_int, POINTER(mlrc_task_p), c_char_p)
# int mlrc_task_info(const mlrc_task *t, mlrc_buf *out);
mlrc_task_info = _decl("mlrc_task_info", c_int, mlrc_task_p, POINTER(mlrc_buf))
# int mlrc_task_baseline(mlrc_task *t, mlrc_runtime *rt, const char *state_dir, mlrc_buf *evaluation_json);
mlrc_task_baseline = _decl("mlrc_task_baseline", c_int, mlrc_task_p, mlrc_runtime_p, c_char_p,
                           POINTER(mlrc_buf))
# void mlrc_task_free(mlrc_task *t);
mlrc_task_free = _decl("mlrc_task_free", None, mlrc_task_p)

# int mlrc_planner_new(mlrc_planner **out, mlrc_model *model, mlrc_retriever *retriever, const char *options_json);
mlrc_planner_new = _decl("mlrc_planner_new", c_int, POINTER(mlrc_planner_p), mlrc_model_p,
                         mlrc_retriever_p, c_char_p)
# int mlrc_planner_on_event(mlrc_planner *p, mlrc_event_cb cb, void *payload);
mlrc_planner_on_event = _decl("mlrc_planner_on_event", c_int, mlrc_planner_p, mlrc_event_cb,
                              c_void_p)
# int mlrc_planner_run(mlrc_planner *p, const char *paper, mlrc_buf *result_json);
mlrc_planner_run = _decl("mlrc_planner_run", c_int, mlrc_planner_p, c_char_p, POINTER(mlrc_buf))
# int mlrc_planner_start(mlrc_run **out, mlrc_planner *p, const char *paper);
mlrc_planner_start = _decl("mlrc_planner_start", c_int, POINTER(mlrc_run_p), mlrc_planner_p,
                           c_char_p)
# void mlrc_planner_free(mlrc_planner *p);
mlrc_planner_free = _decl("mlrc_planner_free", None, mlrc_planner_p)


def _check_version() -> None:
    got = mlrc_version_number()
    if got != MLRC_VERSION_NUMBER:
        raise ImportError(
            f"mlrcopilot: library version mismatch: the Python bindings were written for "
            f"MLRC_VERSION_NUMBER {MLRC_VERSION_NUMBER} "
            f"({MLRC_VERSION_MAJOR}.{MLRC_VERSION_MINOR}.{MLRC_VERSION_PATCH}) but {lib_path} "
            f"reports {got} ({(mlrc_version_string() or b'?').decode()}); "
            f"point MLRC_LIB_PATH at a matching libmlrcopilot")


_check_version()
