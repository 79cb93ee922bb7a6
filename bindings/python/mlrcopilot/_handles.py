"""Owning wrappers around the C handles: close(), context manager, guarded __del__, and the
helpers that turn non-zero returns into typed exceptions from mlrc_error_last()."""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import Any, Callable, Dict, Optional

from . import _capi
from .errors import HandleClosedError, MlrcError, make_error


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


def last_error(rc: int, result: Optional[Dict[str, Any]] = None) -> MlrcError:
    """Build the typed exception for `rc` from this thread's mlrc_error_last()."""
    err = _capi.mlrc_error_last().contents
    code = err.code if err.code != 0 else rc
    return make_error(rc if rc != 0 else code, _text(err.message) or f"mlrc error {rc}",
                      _text(err.provider_text), result)


def check(rc: int) -> int:
    if rc != 0:
        raise last_error(rc)
    return rc


class Buf:
    """An mlrc_buf owned by Python; take() copies the text out and disposes the buffer."""

    def __init__(self) -> None:
        self.raw = _capi.mlrc_buf()

    @property
    def ref(self):
        return ctypes.byref(self.raw)

    def take(self) -> str:
        try:
            if not self.raw.ptr:
                return ""
            return ctypes.string_at(self.raw.ptr, self.raw.size).decode("utf-8", "replace")
        finally:
            _capi.mlrc_buf_dispose(ctypes.byref(self.raw))

    def __del__(self) -> None:
        if sys.is_finalizing() or _capi is None or self.raw.ptr is None:
            return
        try:
            _capi.mlrc_buf_dispose(ctypes.byref(self.raw))
        except Exception:  # pragma: no cover
            pass


class Handle:
    """Base for owning handles. Subclasses set `_free` and `_kind`."""

    _kind = "handle"
    _free: Callable[[Any], None]

    def __init__(self, ptr: int) -> None:
        self._ptr: Optional[int] = ptr
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @property
    def ptr(self) -> int:
        ptr = self._ptr
        if ptr is None:
            raise HandleClosedError(-1, f"{self._kind} is closed: it cannot be used after close()")
        return ptr

    def close(self) -> None:
        with self._lock:
            ptr, self._ptr = self._ptr, None
        if ptr is not None:
            type(self)._free(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # At interpreter shutdown module globals may already be gone and library threads may be
        # blocked on the GIL for a callback: leak rather than risk a deadlock or crash.
        if sys.is_finalizing() or _capi is None or getattr(self, "_ptr", None) is None:
            return
        try:
            self.close()
        except Exception:  # pragma: no cover
            pass

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else hex(self._ptr)
        return f"<{type(self).__name__} {state}>"


class RuntimeHandle(Handle):
    _kind = "Runtime"

    @staticmethod
    def _free(ptr: int) -> None:
        _capi.mlrc_runtime_free(ptr)

    @classmethod
    def new(cls, threads: int) -> "RuntimeHandle":
        out = _capi.mlrc_runtime_p()
        check(_capi.mlrc_runtime_new(ctypes.byref(out), threads))
        return cls(out.value)


class SessionHandle(Handle):
    _kind = "Session"

    def __init__(self, ptr: int) -> None:
        super().__init__(ptr)
        # Every CFUNCTYPE ever registered stays referenced for the life of this object: a gate
        # callback may still be running after its run ended (gate_timeout_s).
        self.keepalive: list = []

    @staticmethod
    def _free(ptr: int) -> None:
        _capi.mlrc_session_free(ptr)

    @classmethod
    def create(cls, rt: RuntimeHandle, config_json: str) -> "SessionHandle":
        out = _capi.mlrc_session_p()
        check(_capi.mlrc_session_create(ctypes.byref(out), rt.ptr, config_json.encode("utf-8")))
        return cls(out.value)

    @classmethod
    def open(cls, rt: RuntimeHandle, home: Optional[str], run_id: str) -> "SessionHandle":
        out = _capi.mlrc_session_p()
        check(_capi.mlrc_session_open(ctypes.byref(out), rt.ptr,
                                      home.encode("utf-8") if home else None,
                                      run_id.encode("utf-8")))
        return cls(out.value)


class RunHandle(Handle):
    _kind = "Run"

    @staticmethod
    def _free(ptr: int) -> None:
        _capi.mlrc_run_free(ptr)

    @classmethod
    def start(cls, session: SessionHandle) -> "RunHandle":
        out = _capi.mlrc_run_p()
        check(_capi.mlrc_session_start(ctypes.byref(out), session.ptr))
        return cls(out.value)


class ModelHandle(Handle):
    _kind = "Model"

    @staticmethod
    def _free(ptr: int) -> None:
        _capi.mlrc_model_free(ptr)


class RetrieverHandle(Handle):
    _kind = "Retriever"

    @staticmethod
    def _free(ptr: int) -> None:
        _capi.mlrc_retriever_free(ptr)


class TaskHandle(Handle):
    _kind = "Task"

    @staticmethod
    def _free(ptr: int) -> None:
        _capi.mlrc_task_free(ptr)


class PlannerHandle(Handle):
    _kind = "Planner"

    def __init__(self, ptr: int) -> None:
        super().__init__(ptr)
        self.keepalive: list = []

    @staticmethod
    def _free(ptr: int) -> None:
        _capi.mlrc_planner_free(ptr)


def new_handle(cls, fn, *args):
    """Calls fn(&out, *args) and wraps the result in cls (raising the typed error on failure)."""
    out = ctypes.c_void_p()
    check(fn(ctypes.byref(out), *args))
    return cls(out.value)
