"""The phases' building blocks as Python objects: Model, Retriever, Task and Planner.

Each wraps a C handle that frees itself (close(), a ``with`` block, or garbage collection); using
it after close() raises HandleClosedError. Objects made without an explicit runtime share one
default Runtime (one worker thread), created on first use.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Callable, Dict, List, Optional, Union

from . import _capi, plugins
from ._handles import (Buf, ModelHandle, PlannerHandle, RetrieverHandle, RunHandle, TaskHandle,
                       check, new_handle)
from .session import Event, Run, Runtime, _CallbackOwner, _loads

PathLike = Union[str, "os.PathLike[str]"]

_default_lock = threading.Lock()
_default_runtime: Optional[Runtime] = None


def default_runtime() -> Runtime:
    """The shared Runtime used when none is given (created on first use)."""
    global _default_runtime
    with _default_lock:
        if _default_runtime is None or _default_runtime.closed:
            _default_runtime = Runtime(1)
        return _default_runtime


def _rt(runtime: Optional[Runtime]) -> Runtime:
    return runtime if runtime is not None else default_runtime()


class _Wrapped:
    _h: Any

    def close(self) -> None:
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Model(_Wrapped):
    """A language model: a provider from a spec, or a Python object with ``chat(request)``."""

    def __init__(self, handle: ModelHandle, runtime: Runtime) -> None:
        self._h = handle
        self._runtime = runtime  # the runtime must outlive the model's calls

    @classmethod
    def from_spec(cls, spec: str, runtime: Optional[Runtime] = None) -> "Model":
        """``"openai:gpt-4o"``, ``"anthropic:claude-sonnet-4-5"``, ``"ollama:llama3"``,
        ``"scripted:FILE"``, ... (see docs/providers.md). Keys come from the environment."""
        rt = _rt(runtime)
        return cls(new_handle(ModelHandle, _capi.mlrc_model_new, rt._h.ptr, spec.encode("utf-8")), rt)

    @classmethod
    def from_python(cls, impl: Any, runtime: Optional[Runtime] = None) -> "Model":
        """Wraps an object with ``chat(request: dict) -> dict`` (see plugins.ModelPlugin)."""
        rt = _rt(runtime)
        return cls(plugins.register(plugins.model_vtable, impl, lambda vt, token: new_handle(
            ModelHandle, _capi.mlrc_model_from_plugin, rt._h.ptr, vt, token)), rt)

    def describe(self) -> str:
        buf = Buf()
        check(_capi.mlrc_model_describe(self._h.ptr, buf.ref))
        return buf.take()

    def chat(self, request: Union[str, Dict[str, Any]]) -> Dict[str, Any]:
        """One call. ``request`` is a prompt string or a ChatRequest dict
        (``{"system", "messages": [{"role", "content"}], "tools", ...}``); returns the ChatResponse."""
        if isinstance(request, str):
            request = {"messages": [{"role": "user", "content": request}]}
        buf = Buf()
        check(_capi.mlrc_model_chat(self._h.ptr, json.dumps(request).encode("utf-8"), buf.ref))
        return _loads(buf.take())

    def __repr__(self) -> str:
        return "<Model closed>" if self.closed else f"<Model {self.describe()}>"


class Retriever(_Wrapped):
    """Search over a local index folder, or a Python object with ``search(query)``."""

    def __init__(self, handle: RetrieverHandle, runtime: Runtime) -> None:
        self._h = handle
        self._runtime = runtime

    @classmethod
    def local(cls, path: PathLike, runtime: Optional[Runtime] = None) -> "Retriever":
        """Opens an index folder built by ``mlrc index build`` (or a folder of per-corpus indexes)."""
        rt = _rt(runtime)
        return cls(new_handle(RetrieverHandle, _capi.mlrc_retriever_open_local, rt._h.ptr,
                              os.fspath(path).encode("utf-8")), rt)

    @classmethod
    def sources(cls, spec: str, index: Optional[PathLike] = None,
                runtime: Optional[Runtime] = None) -> "Retriever":
        """Online sources tried in order with fallback, e.g. ``"s2,openalex,arxiv,local"`` (a bare
        ``local`` is ``index``); hits name the source that answered in ``fields["source"]``."""
        rt = _rt(runtime)
        return cls(new_handle(RetrieverHandle, _capi.mlrc_retriever_open_sources, rt._h.ptr,
                              spec.encode("utf-8"),
                              os.fspath(index).encode("utf-8") if index is not None else None), rt)

    @classmethod
    def from_python(cls, impl: Any, runtime: Optional[Runtime] = None) -> "Retriever":
        """Wraps an object with ``search(query: dict) -> list`` and ``corpora``."""
        rt = _rt(runtime)
        return cls(plugins.register(plugins.retriever_vtable, impl, lambda vt, token: new_handle(
            RetrieverHandle, _capi.mlrc_retriever_from_plugin, rt._h.ptr, vt, token)), rt)

    def search(self, text: str, corpus: str = "papers", top_k: int = 10, *,
               year_min: Optional[int] = None, year_max: Optional[int] = None,
               venue: Optional[str] = None, tag: Optional[str] = None,
               license: Optional[str] = None) -> List[Dict[str, Any]]:
        """Hits, best first: ``{"id", "score", "title", "snippet", "fields", "matched_fields"}``."""
        q: Dict[str, Any] = {"text": text, "corpus": corpus, "top_k": top_k}
        for k, v in (("year_min", year_min), ("year_max", year_max), ("venue", venue),
                     ("tag", tag), ("license", license)):
            if v is not None:
                q[k] = v
        buf = Buf()
        check(_capi.mlrc_retriever_search(self._h.ptr, json.dumps(q).encode("utf-8"), buf.ref))
        out = _loads(buf.take())
        return out if isinstance(out, list) else []


class Task(_Wrapped):
    """A task folder (task.toml or MLAgentBench layout)."""

    def __init__(self, folder: PathLike) -> None:
        self._h = new_handle(TaskHandle, _capi.mlrc_task_load, os.fspath(folder).encode("utf-8"))
        self._info: Optional[Dict[str, Any]] = None

    @property
    def info(self) -> Dict[str, Any]:
        """name, folder, format, metric, direction, run, eval, ... as a dict."""
        if self._info is None:
            buf = Buf()
            check(_capi.mlrc_task_info(self._h.ptr, buf.ref))
            self._info = _loads(buf.take())
        return self._info

    @property
    def name(self) -> str:
        return str(self.info.get("name", ""))

    @property
    def folder(self) -> str:
        return str(self.info.get("folder", ""))

    @property
    def metric(self) -> str:
        return str(self.info.get("metric", ""))

    @property
    def direction(self) -> str:
        return str(self.info.get("direction", ""))

    def baseline(self, runtime: Optional[Runtime] = None,
                 state_dir: Optional[PathLike] = None) -> Dict[str, Any]:
        """Prepares the task once and scores the untouched workspace in the sandbox (stored in
        state_dir, default <task>/.mlrc-state). Returns the Evaluation dict (``score``, ...)."""
        buf = Buf()
        check(_capi.mlrc_task_baseline(self._h.ptr, _rt(runtime)._h.ptr,
                                       os.fspath(state_dir).encode("utf-8") if state_dir else None,
                                       buf.ref))
        return _loads(buf.take())

    def __repr__(self) -> str:
        return "<Task closed>" if self.closed else f"<Task {self.name} ({self.metric})>"


class Planner(_Wrapped, _CallbackOwner):
    """Phase 1 alone (the IdeaAgent): analysis, related work, ideas, reviews, refinement, ranking."""

    OPTIONS = ("ideas", "related_per_query", "refine_rounds", "max_repairs", "max_related")

    def __init__(self, model: Model, retriever: Optional[Retriever] = None, **options: int) -> None:
        _CallbackOwner.__init__(self)
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise TypeError(f"unknown planner option(s): {', '.join(unknown)}; "
                            f"expected some of {', '.join(self.OPTIONS)}")
        self._model, self._retriever = model, retriever  # referenced while the planner lives
        self._h = new_handle(PlannerHandle, _capi.mlrc_planner_new, model._h.ptr,
                             retriever._h.ptr if retriever is not None else None,
                             json.dumps(options).encode("utf-8"))

    def on_event(self, fn: Optional[Callable[[Event], Any]]) -> None:
        """Progress events (analysis, related, idea_proposed, review, refined, repair) on library
        threads; if fn raises, the run is cancelled and ends with UserError."""
        self._set_event_cb(_capi.mlrc_planner_on_event, fn)

    @staticmethod
    def _paper(paper: Union[PathLike, Dict[str, Any]]) -> bytes:
        if isinstance(paper, dict):
            return json.dumps(paper).encode("utf-8")
        return os.fspath(paper).encode("utf-8")

    def run(self, paper: Union[PathLike, Dict[str, Any]]) -> Dict[str, Any]:
        """Blocking. ``paper`` is a file (JSON, Markdown, text, PDF) or a Paper dict
        (``{"title", "abstract", ...}``). Returns ``{"analysis", "related", "queries", "ideas",
        "reviews"}`` with the ideas best first."""
        self._cb_error = None
        buf = Buf()
        rc = _capi.mlrc_planner_run(self._h.ptr, self._paper(paper), buf.ref)
        return self._outcome(rc, buf)

    def start(self, paper: Union[PathLike, Dict[str, Any]]) -> Run:
        """Asynchronous: iterate the returned Run's events, then wait() for the result."""
        self._cb_error = None
        return Run(self, new_handle(RunHandle, _capi.mlrc_planner_start, self._h.ptr,
                                    self._paper(paper)))


def ideas_table(result: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per idea of a planner result (rank, id, score, title, hypothesis), best first."""
    rows = []
    for rank, idea in enumerate(result.get("ideas", []), 1):
        rows.append({"rank": rank, "id": idea.get("id"), "score": round(float(idea.get("score", 0)), 2),
                     "title": idea.get("title"), "hypothesis": idea.get("hypothesis")})
    return rows


__all__ = ["Model", "Retriever", "Task", "Planner", "default_runtime", "ideas_table"]
