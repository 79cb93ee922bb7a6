import gc
import threading
from pathlib import Path

import pytest

import mlrcopilot as m

REPO = Path(__file__).resolve().parents[3]
PAPER = REPO / "examples" / "papers" / "sentiment-analysis.md"
TASK = REPO / "examples" / "tasks" / "digits-mlab"
MODEL = "scripted:" + str(REPO / "examples" / "demo" / "script.json")


def config(home, **extra):
    cfg = dict(paper=PAPER, task=TASK, model=MODEL, ideas=2, home=home)
    cfg.update(extra)
    return cfg


@pytest.fixture
def runtime():
    with m.Runtime(threads=1) as rt:
        yield rt


def test_version():
    assert m.version() == m.__version__
    assert m.version_number() == m._capi.MLRC_VERSION_NUMBER


def test_blocking_run_succeeds(runtime, tmp_path):
    with m.Session.create(runtime, **config(tmp_path)) as s:
        run_id = s.id
        assert run_id
        result = s.run()
    assert result["success"] is True, result
    assert result["run_id"] == run_id
    assert (tmp_path / "runs" / run_id).is_dir()
    with m.Session.open(runtime, tmp_path, run_id) as again:
        assert again.id == run_id


def test_async_run_events(runtime, tmp_path):
    with m.Session.create(runtime, **config(tmp_path)) as s:
        run = s.start()
        kinds = [ev.kind for ev in run.events(timeout_ms=200)]
        assert run.done
        assert all(isinstance(ev, str) for ev in kinds)
        assert kinds.count("step") == 8, kinds
        assert kinds[-1] == "finished"
        result = run.wait()
        assert result["success"] is True
        assert run.cancel() is False  # already ended
        run.close()


def test_step_event_data_is_a_dict(runtime, tmp_path):
    # Cheap: cancel right after the first step to check Event.data is parsed JSON.
    with m.Session.create(runtime, **config(tmp_path)) as s:
        run = s.start()
        for ev in run.events(timeout_ms=200):
            assert isinstance(ev.data, (dict, list))
            if ev.kind == "step":
                assert "index" in ev.data
                assert run.cancel() is True
                break
        with pytest.raises(m.Cancelled):
            run.wait()
        run.close()


def test_raising_event_callback_is_user_error(runtime, tmp_path):
    seen = []

    def boom(ev):
        seen.append((ev.kind, threading.get_ident()))
        raise RuntimeError("callback exploded")

    with m.Session.create(runtime, **config(tmp_path)) as s:
        s.on_event(boom)
        run = s.start()
        with pytest.raises(m.UserError) as info:
            run.wait()
        assert info.value.code == -100
        assert isinstance(info.value.__cause__, RuntimeError)
        assert "callback exploded" in str(info.value)
        run.close()
    assert seen and seen[0][1] != threading.get_ident()  # called on a library thread


def test_gate_handler_after_step(runtime, tmp_path):
    calls = []
    events = []

    def gate(name, question):
        calls.append((name, question))
        return {"feedback": "keep going"}

    with m.Session.create(runtime, **config(tmp_path, gates=m.GATE_AFTER_STEP)) as s:
        s.set_gate_handler(gate)
        s.on_event(lambda ev: events.append(ev.kind))
        result = s.run()
    assert result["success"] is True
    assert calls, "gate handler never called"
    assert {name for name, _ in calls} == {"after_step"}
    assert all(isinstance(q, dict) and "index" in q for _, q in calls)
    assert events.count("step") == 8
    assert "warning" not in events  # the answer was accepted


def test_use_after_close_raises(runtime, tmp_path):
    s = m.Session.create(runtime, **config(tmp_path))
    s.close()
    s.close()  # idempotent
    assert s.closed
    with pytest.raises(m.HandleClosedError, match="closed"):
        s.run()
    with pytest.raises(m.HandleClosedError):
        _ = s.id
    rt = m.Runtime()
    rt.close()
    with pytest.raises(m.HandleClosedError, match="Runtime is closed"):
        m.Session.create(rt, **config(tmp_path))


def test_bad_config_is_typed(runtime, tmp_path):
    with pytest.raises(m.InvalidArgument) as info:
        m.Session.create(runtime, paper=PAPER, model=MODEL, home=tmp_path)
    assert info.value.code == -1
    assert "task" in info.value.message
    with pytest.raises(TypeError, match="tsak"):
        m.Session.create(runtime, paper=PAPER, tsak=TASK)
    with pytest.raises(m.NotFound):
        m.Session.open(runtime, tmp_path, "no-such-run")


def test_unclosed_handles_are_collected(runtime, tmp_path):
    s = m.Session.create(runtime, **config(tmp_path))
    s.on_event(lambda ev: None)
    del s
    gc.collect()


def test_version_mismatch_is_a_clear_import_error(monkeypatch):
    monkeypatch.setattr(m._capi, "MLRC_VERSION_NUMBER", 9999)
    with pytest.raises(ImportError) as e:
        m._capi._check_version()
    text = str(e.value)
    assert "9999" in text and str(m.version_number()) in text and "MLRC_LIB_PATH" in text


def test_one_run_at_a_time_from_several_threads(runtime, tmp_path):
    with m.Session.create(runtime, **config(tmp_path)) as s:
        outcomes = []
        lock = threading.Lock()

        def start():
            try:
                r = s.start()
                with lock:
                    outcomes.append(r)
            except m.InvalidArgument as exc:
                with lock:
                    outcomes.append(exc)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        runs = [o for o in outcomes if isinstance(o, m.Run)]
        refused = [o for o in outcomes if isinstance(o, m.InvalidArgument)]
        assert len(runs) == 1 and len(refused) == 3, outcomes
        assert all("already running" in str(e) for e in refused)
        assert runs[0].wait()["success"] is True
        runs[0].close()
