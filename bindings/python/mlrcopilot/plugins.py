"""Plugins written in Python: tools, models, retrievers and executors that the library's agents
use like built-in ones.

Each kind is a small protocol (subclass the base class, or pass any object with the method):

- ``Tool``: ``name``, ``description``, ``parameters`` (a JSON Schema dict) and
  ``call(arguments: dict) -> str``. An exception becomes an error observation the model sees.
- ``ModelPlugin``: ``name`` and ``chat(request: dict) -> dict`` returning at least ``{"text": ...}``
  or ``{"tool_calls": [{"id", "name", "arguments"}]}``.
- ``RetrieverPlugin``: ``name``, ``corpora`` (e.g. ``("papers",)``) and
  ``search(query: dict) -> list[dict]`` of hits ``{"id", "score", "title", "snippet", "fields"}``.
- ``ExecutorPlugin``: ``name`` and ``run(job: dict) -> dict`` with ``exit_code``, ``stdout``,
  ``stderr`` (see docs/c-api.md for the job fields).

The library calls them on its worker threads (ctypes takes the GIL), possibly from several
threads at once. An exception raised inside is caught at the boundary and reported as that call's
failure; it never crashes the process. The library holds a reference until it releases the plugin.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import threading
import traceback
from typing import Any, Callable, Dict, List, Sequence, Tuple

from . import _capi


class Tool:
    """Base class for a tool the agent may call."""

    name: str = ""
    description: str = ""
    parameters: Dict[str, Any] = {"type": "object", "properties": {}}

    def call(self, arguments: Dict[str, Any]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class ModelPlugin:
    """Base class for a language model written in Python."""

    name: str = "python-model"

    def chat(self, request: Dict[str, Any]) -> Dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


class RetrieverPlugin:
    """Base class for a search back end written in Python."""

    name: str = "python-retriever"
    corpora: Sequence[str] = ("papers", "code", "models", "datasets")

    def search(self, query: Dict[str, Any]) -> List[Dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError


class ExecutorPlugin:
    """Base class for an executor that runs the task's scripts."""

    name: str = "python-executor"

    def run(self, job: Dict[str, Any]) -> Dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


# ---- the registry: payload token -> (plugin object, kind) ------------------------------------
# One module-level thunk per entry point serves every plugin, so no CFUNCTYPE is ever freed while
# the library might still call it; the payload is a token looked up here.
_lock = threading.Lock()
_registry: Dict[int, Tuple[Any, str]] = {}
_tokens = itertools.count(1)
#: Plugin failures seen at the boundary (most recent last, at most 100), for debugging.
errors: List[str] = []


def live_plugins() -> int:
    """How many plugins the library still holds (each is released exactly once)."""
    with _lock:
        return len(_registry)


def _register(obj: Any, kind: str) -> int:
    with _lock:
        token = next(_tokens)
        _registry[token] = (obj, kind)
    return token


def _lookup(payload: int) -> Any:
    with _lock:
        return _registry[payload][0]


def _fail(out, exc: BaseException, what: str) -> int:
    try:
        text = f"{what} raised {type(exc).__name__}: {exc}"
        with _lock:
            errors.append(text + "\n" + "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)))
            del errors[:-100]
        _capi.mlrc_buf_set(out, text.encode("utf-8", "replace"))
    except BaseException:  # pragma: no cover - never let anything cross into C
        pass
    return -100  # MLRC_EUSER


def _reply(out, value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value)
    return _capi.mlrc_buf_set(out, text.encode("utf-8"))


def _entry(method: str, decode: bool) -> Callable[[int, bytes, Any], int]:
    def thunk(payload, input_json, out) -> int:
        try:
            obj = _lookup(payload)
        except BaseException as exc:  # noqa: BLE001
            return _fail(out, exc, "plugin lookup")
        try:
            raw = (input_json or b"").decode("utf-8", "replace")
            arg = json.loads(raw) if decode else raw
            return _reply(out, getattr(obj, method)(arg))
        except BaseException as exc:  # noqa: BLE001 - never let it cross into C
            return _fail(out, exc, f"{type(obj).__name__}.{method}")
    return thunk


def _release(payload) -> None:
    with _lock:
        _registry.pop(payload, None)


_call_thunk = _capi.mlrc_plugin_fn(_entry("call", True))
_chat_thunk = _capi.mlrc_plugin_fn(_entry("chat", True))
_search_thunk = _capi.mlrc_plugin_fn(_entry("search", True))
_run_thunk = _capi.mlrc_plugin_fn(_entry("run", True))
_release_thunk = _capi.mlrc_release_fn(_release)


def _name(obj: Any, default: str) -> bytes:
    return str(getattr(obj, "name", "") or default).encode("utf-8")


def tool_vtable(tool: Any) -> Tuple[_capi.mlrc_tool_i, int]:
    if not callable(getattr(tool, "call", None)):
        raise TypeError(f"{tool!r} is not a tool: it needs a call(arguments) method")
    params = getattr(tool, "parameters", None) or {"type": "object"}
    vt = _capi.mlrc_tool_i(_capi.MLRC_PLUGIN_VERSION, _name(tool, type(tool).__name__),
                           str(getattr(tool, "description", "") or "").encode("utf-8"),
                           json.dumps(params).encode("utf-8"), _call_thunk, _release_thunk)
    return vt, _register(tool, "tool")


def model_vtable(model: Any) -> Tuple[_capi.mlrc_model_i, int]:
    if not callable(getattr(model, "chat", None)):
        raise TypeError(f"{model!r} is not a model: it needs a chat(request) method")
    vt = _capi.mlrc_model_i(_capi.MLRC_PLUGIN_VERSION, _name(model, "python-model"), _chat_thunk,
                            _release_thunk)
    return vt, _register(model, "model")


def retriever_vtable(retriever: Any) -> Tuple[_capi.mlrc_retriever_i, int]:
    if not callable(getattr(retriever, "search", None)):
        raise TypeError(f"{retriever!r} is not a retriever: it needs a search(query) method")
    corpora = getattr(retriever, "corpora", None)
    if isinstance(corpora, str):
        corpora = [corpora]
    vt = _capi.mlrc_retriever_i(_capi.MLRC_PLUGIN_VERSION, _name(retriever, "python-retriever"),
                                ",".join(corpora).encode("utf-8") if corpora else None,
                                _search_thunk, _release_thunk)
    return vt, _register(retriever, "retriever")


def executor_vtable(executor: Any) -> Tuple[_capi.mlrc_executor_i, int]:
    if not callable(getattr(executor, "run", None)):
        raise TypeError(f"{executor!r} is not an executor: it needs a run(job) method")
    vt = _capi.mlrc_executor_i(_capi.MLRC_PLUGIN_VERSION, _name(executor, "python-executor"),
                               _run_thunk, _release_thunk)
    return vt, _register(executor, "executor")


def register(make_vtable, obj: Any, install: Callable[[Any, int], Any]) -> Any:
    """Builds obj's vtable and hands it to `install(byref(vtable), token)`, which raises the typed
    error if the library refuses it (the library then never calls release, so the registry entry
    is dropped here). Returns what `install` returns."""
    vt, token = make_vtable(obj)
    try:
        return install(ctypes.byref(vt), token)
    except BaseException:
        _release(token)
        raise
