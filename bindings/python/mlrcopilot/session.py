"""Pythonic API: Runtime, Session, Run, Event."""

from __future__ import annotations

import ctypes
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, Optional

from . import _capi
from ._handles import Buf, RunHandle, RuntimeHandle, SessionHandle, check, last_error
from .errors import EDONE, ETIMEOUT, EUSER, MlrcError

CONFIG_KEYS = ("paper", "instructions", "task", "model", "home", "max_steps", "ideas",
               "refine_rounds", "budget_tokens", "budget_usd", "protocol", "index", "gates",
               "gate_timeout_s", "idea", "sources")

GATE_CHOOSE_IDEA = 1
GATE_APPROVE_EXECUTION = 2
GATE_AFTER_STEP = 4
GATE_HELP = 8


def version() -> str:
    """The linked library's version string (mlrc_version_string)."""
    return (_capi.mlrc_version_string() or b"").decode()


def version_number() -> int:
    return int(_capi.mlrc_version_number())


def _loads(text: str) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {"raw": text}


def parse_model_spec(spec: str) -> Dict[str, Any]:
    buf = Buf()
    check(_capi.mlrc_model_spec_parse(buf.ref, spec.encode("utf-8")))
    return _loads(buf.take())


@dataclass(frozen=True)
class Event:
    kind: str
    data: Dict[str, Any] = field(default_factory=dict)


class Runtime:
    """Worker threads that run sessions (threads=0: one per hardware thread)."""

    def __init__(self, threads: int = 1) -> None:
        if threads < 0:
            raise ValueError("threads must be >= 0")
        self._h = RuntimeHandle.new(threads)

    def close(self) -> None:
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _CallbackOwner:
    """What Session and Planner share: callbacks whose exceptions become the run's error."""

    _h: Any

    def __init__(self) -> None:
        self._cb_lock = threading.Lock()
        self._cb_error: Optional[BaseException] = None
        self._event_fn: Optional[Callable[[Event], Any]] = None

    def _record(self, exc: BaseException) -> None:
        with self._cb_lock:
            if self._cb_error is None:
                self._cb_error = exc

    def _set_event_cb(self, c_setter, fn: Optional[Callable[[Event], Any]]) -> None:
        if fn is None:
            check(c_setter(self._h.ptr, _capi.mlrc_event_cb(), None))
            self._event_fn = None
            return

        def thunk(ev_p, _payload) -> int:
            try:
                ev = ev_p.contents
                fn(Event((ev.kind or b"").decode(), _loads((ev.json or b"").decode("utf-8", "replace"))))
                return 0
            except BaseException as exc:  # noqa: BLE001 - never let it cross into C
                self._record(exc)
                return 1

        cb = _capi.mlrc_event_cb(thunk)
        self._h.keepalive.append(cb)
        check(c_setter(self._h.ptr, cb, None))
        self._event_fn = fn

    def _outcome(self, rc: int, buf: Buf) -> Dict[str, Any]:
        result = _loads(buf.take()) if rc == 0 or buf.raw.ptr else None
        if rc == 0:
            return result or {}
        err = last_error(rc, result)
        with self._cb_lock:
            cause, self._cb_error = self._cb_error, None
        if rc == EUSER and cause is not None:
            err.message = f"{err.message}: callback raised {type(cause).__name__}: {cause}"
            err.args = (err.message,)
            raise err from cause
        raise err


def _config_json(config: Optional[Dict[str, Any]], kwargs: Dict[str, Any]) -> str:
    cfg = dict(config or {})
    cfg.update(kwargs)
    unknown = sorted(set(cfg) - set(CONFIG_KEYS))
    if unknown:
        raise TypeError(f"unknown session config key(s): {', '.join(unknown)}; "
                        f"expected some of {', '.join(CONFIG_KEYS)}")
    cfg = {k: (os.fspath(v) if isinstance(v, os.PathLike) else v)
           for k, v in cfg.items() if v is not None}
    return json.dumps(cfg)


class Session(_CallbackOwner):
    """A run persisted under home/runs/<id>/. Use Session.create, Session.from_idea or Session.open.

    One run at a time per session: starting it again while it runs raises InvalidArgument.
    Setters (set_model, add_tool, ...) must be called before run()/start()."""

    def __init__(self, handle: SessionHandle) -> None:
        super().__init__()
        self._h = handle
        self._id: Optional[str] = None
        self._gate_fn: Optional[Callable[[str, Any], Any]] = None

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def create(cls, runtime: Runtime, config: Optional[Dict[str, Any]] = None,
               **kwargs: Any) -> "Session":
        """All three phases (give ``paper``), or the agent alone (``instructions`` or ``idea``)."""
        return cls(SessionHandle.create(runtime._h, _config_json(config, kwargs)))

    @classmethod
    def from_idea(cls, runtime: Runtime, task: Any, idea: Dict[str, Any],
                  config: Optional[Dict[str, Any]] = None, **kwargs: Any) -> "Session":
        """Phases 2-3 only: implements and executes ``idea`` (one of Planner.run's ideas) on
        ``task`` (a Task). Further SessionConfig fields as keyword arguments."""
        if not isinstance(idea, dict):
            raise TypeError("idea must be a dict (an idea from Planner.run)")
        for k in ("task", "idea", "paper"):
            if k in kwargs or (config and k in config):
                raise TypeError(f"from_idea: '{k}' is an argument, not a config key")
        from ._handles import new_handle
        return cls(new_handle(SessionHandle, _capi.mlrc_session_create_from_idea, runtime._h.ptr,
                              task._h.ptr, json.dumps(idea).encode("utf-8"),
                              _config_json(config, kwargs).encode("utf-8")))

    @classmethod
    def open(cls, runtime: Runtime, home: Optional[os.PathLike | str], run_id: str) -> "Session":
        return cls(SessionHandle.open(runtime._h, os.fspath(home) if home else None, run_id))

    # ---- lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        """Cancels and waits for a run still going, then frees the session."""
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def id(self) -> str:
        if self._id is None:
            buf = Buf()
            check(_capi.mlrc_session_id(self._h.ptr, buf.ref))
            self._id = buf.take()
        return self._id

    # ---- plugins ---------------------------------------------------------------------------
    def set_model(self, model: Any) -> None:
        """Uses a Model (or any object with chat(request), wrapped as a plugin) for this run."""
        from .components import Model
        if not isinstance(model, Model):
            model = Model.from_python(model)
        check(_capi.mlrc_session_set_model(self._h.ptr, model._h.ptr))

    def set_retriever(self, retriever: Any) -> None:
        """Uses a Retriever (or any object with search(query)) for related work and retrieve_*."""
        from .components import Retriever
        if not isinstance(retriever, Retriever):
            retriever = Retriever.from_python(retriever)
        check(_capi.mlrc_session_set_retriever(self._h.ptr, retriever._h.ptr))

    def add_tool(self, tool: Any) -> None:
        """Gives the agent a tool written in Python (see plugins.Tool)."""
        from . import plugins
        plugins.register(plugins.tool_vtable, tool,
                         lambda vt, token: check(_capi.mlrc_session_add_tool(self._h.ptr, vt, token)))

    def set_executor(self, executor: Any) -> None:
        """Runs the task's scripts with a Python executor (see plugins.ExecutorPlugin)."""
        from . import plugins
        plugins.register(plugins.executor_vtable, executor,
                         lambda vt, token: check(_capi.mlrc_session_set_executor(self._h.ptr, vt, token)))

    # ---- callbacks -------------------------------------------------------------------------
    def on_event(self, fn: Optional[Callable[[Event], Any]]) -> None:
        """Calls fn(Event) on library threads for every event; None removes it. If fn raises, the
        run is cancelled and ends with UserError (the exception is its __cause__)."""
        self._set_event_cb(_capi.mlrc_session_on_event, fn)

    def set_gate_handler(self, fn: Optional[Callable[[str, Any], Optional[Dict[str, Any]]]]) -> None:
        """fn(gate, question) -> dict answer, None (the default) or LATER (answer later with
        Run.answer_gate), on library threads, one at a time. Gates: choose_idea,
        approve_execution, after_step, help (enable with config "gates"). If fn raises, the run
        is cancelled and ends with UserError. Without a handler, an asynchronous run waits for
        Run.answer_gate at each gate (up to gate_timeout_s)."""
        if fn is None:
            check(_capi.mlrc_session_set_gate_handler(self._h.ptr, _capi.mlrc_gate_cb(), None))
            self._gate_fn = None
            return

        def thunk(gate, question, answer, _payload) -> int:
            try:
                reply = fn((gate or b"").decode(), _loads((question or b"").decode("utf-8", "replace")))
                if reply is LATER:
                    return _capi.MLRC_GATE_LATER
                if reply is not None:
                    text = reply if isinstance(reply, str) else json.dumps(reply)
                    if _capi.mlrc_buf_set(answer, text.encode("utf-8")) != 0:
                        raise last_error(-1)
                return 0
            except BaseException as exc:  # noqa: BLE001
                self._record(exc)
                return 1

        cb = _capi.mlrc_gate_cb(thunk)
        self._h.keepalive.append(cb)
        check(_capi.mlrc_session_set_gate_handler(self._h.ptr, cb, None))
        self._gate_fn = fn

    # ---- running ---------------------------------------------------------------------------
    def run(self) -> Dict[str, Any]:
        """Runs (or resumes) to the end, blocking; returns the RunSummary dict."""
        self._cb_error = None
        buf = Buf()
        rc = _capi.mlrc_session_run(self._h.ptr, buf.ref)  # ctypes releases the GIL here
        return self._outcome(rc, buf)

    def start(self) -> "Run":
        """Starts the run on the runtime and returns at once."""
        self._cb_error = None
        return Run(self, RunHandle.start(self._h))


class _Later:
    def __repr__(self) -> str:
        return "LATER"


#: Returned by a gate handler to answer later with Run.answer_gate.
LATER = _Later()


class Run:
    """An asynchronous run (of a Session or a Planner): iterate events(), then wait(); cancel()
    from any thread. Events are taken by one consumer."""

    def __init__(self, session: _CallbackOwner, handle: RunHandle) -> None:
        self._session = session  # keeps the owner's callbacks referenced
        self._h = handle
        self._done = False

    def next_event(self, timeout_ms: int = -1) -> Optional[Event]:
        """The next event; None on timeout; raises StopIteration once the run is done."""
        ev = _capi.mlrc_event()
        rc = _capi.mlrc_run_next_event(self._h.ptr, ctypes.byref(ev), int(timeout_ms))
        if rc == ETIMEOUT:
            return None
        if rc == EDONE:
            self._done = True
            raise StopIteration
        check(rc)
        return Event((ev.kind or b"").decode(), _loads((ev.json or b"").decode("utf-8", "replace")))

    def events(self, timeout_ms: int = 500) -> Iterator[Event]:
        """Yields events until the run has ended and every event was taken. timeout_ms is the
        poll interval (Ctrl-C is seen between polls)."""
        while True:
            try:
                ev = self.next_event(timeout_ms)
            except StopIteration:
                return
            if ev is not None:
                yield ev

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    @property
    def done(self) -> bool:
        return self._done

    def wait(self) -> Dict[str, Any]:
        """Blocks until the run ends; returns the RunSummary dict or raises (Cancelled,
        UserError, ...; the summary, if any, is on the exception's .result)."""
        buf = Buf()
        rc = _capi.mlrc_run_wait(self._h.ptr, buf.ref)
        return self._session._outcome(rc, buf)

    def answer_gate(self, gate: str, answer: Optional[Dict[str, Any]] = None) -> None:
        """Answers the gate the run waits at (see the gate_waiting event's "answer_as"):
        choose_idea {"index", "instructions"}, approve_execution {"approve"}, after_step
        {"feedback"}, help {"answer"}; None takes the default. Raises InvalidArgument for an
        answer of the wrong shape or when no such gate is waiting."""
        text = None if answer is None else (answer if isinstance(answer, str) else json.dumps(answer))
        check(_capi.mlrc_run_answer_gate(self._h.ptr, gate.encode("utf-8"),
                                         text.encode("utf-8") if text is not None else None))

    def cancel(self) -> bool:
        """Requests cancellation. False if the run had already ended."""
        rc = _capi.mlrc_run_cancel(self._h.ptr)
        if rc == EDONE:
            return False
        check(rc)
        return True

    def close(self) -> None:
        """Cancels (if still going), waits, frees."""
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
