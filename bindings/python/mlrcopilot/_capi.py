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
