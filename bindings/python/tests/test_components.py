"""Model, Retriever, Task and Planner objects, the phases one by one, and plugins written in
Python (tool, model, retriever, executor) used by the library's agents."""

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

import mlrcopilot as m
from mlrcopilot import plugins

REPO = Path(__file__).resolve().parents[3]
PAPER = REPO / "examples" / "papers" / "sentiment-analysis.md"
TASK = REPO / "examples" / "tasks" / "digits-mlab"
SCRIPT = REPO / "examples" / "demo" / "script.json"
MODEL = "scripted:" + str(SCRIPT)
IDEA = {
    "id": "idea-1",
    "title": "Replace the decision tree with an RBF-kernel SVM",
    "hypothesis": "An RBF SVM models smooth class boundaries and beats a single tree on digits.",
    "plan": {"steps": ["Replace DecisionTreeClassifier with SVC", "Run train.py"],
             "metrics": ["accuracy"]},
}


@pytest.fixture
def runtime():
    with m.Runtime(threads=1) as rt:
        yield rt


class Papers(m.RetrieverPlugin):
    name = "py-papers"
    corpora = ("papers",)

    def __init__(self):
        self.queries = []
        self.lock = threading.Lock()

    def search(self, query):
        with self.lock:
            self.queries.append(query)
        return [{"id": "py:kernels", "score": 3.0, "title": "Kernel machines for small images",
                 "snippet": "RBF SVMs beat trees on digits.", "fields": {"year": "2001"}},
                {"id": "py:forests", "score": 1.5, "title": "Random forests", "snippet": "Bagging."}]


class Wrapped(m.ModelPlugin):
    """A Python model that forwards to the scripted model and can inject one tool call."""

    name = "py:wrapped-scripted"

    def __init__(self, inner, inject_at=0, tool="py_hint"):
        self.inner, self.calls, self.inject_at, self.tool = inner, 0, inject_at, tool
        self.requests = []

    def chat(self, request):
        self.calls += 1
        self.requests.append(request)
        if self.calls == self.inject_at:
            return {"text": "Ask the host.", "tool_calls": [
                {"id": "py1", "name": self.tool, "arguments": {"topic": "models"}}]}
        return self.inner.chat(request)


class Hint(m.Tool):
    name = "py_hint"
    description = "Ask the notebook user's code for a hint."
    parameters = {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}

    def __init__(self):
        self.args = []

    def call(self, arguments):
        self.args.append(arguments)
        return "Hint: an RBF-kernel SVC usually wins on digits."


class Subprocess(m.ExecutorPlugin):
    """Runs jobs with subprocess (no sandbox) and counts them."""

    name = "py-subprocess"

    def __init__(self):
        self.jobs = []

    def run(self, job):
        self.jobs.append(job)
        p = subprocess.run(job["argv"], cwd=job["cwd"], capture_output=True, text=True,
                           timeout=(job.get("timeout_ms") or 600000) / 1000)
        return {"exit_code": p.returncode, "stdout": p.stdout, "stderr": p.stderr}


def test_model_from_spec_and_chat(runtime):
    with m.Model.from_spec(MODEL, runtime) as model:
        assert model.describe().startswith("scripted:")
        reply = model.chat("Summarise the paper.")
        assert "summary" in reply["text"]  # the demo script's first turn
    with pytest.raises(m.HandleClosedError):
        model.chat("again")
    with pytest.raises(m.MlrcError) as e:
        m.Model.from_spec("nonsense-provider:x", runtime)
    assert "nonsense-provider" in str(e.value)
    with m.Model.from_spec(MODEL, runtime) as model, pytest.raises(m.MlrcError) as e:
        model.chat({"messages": 42})
    assert "messages" in str(e.value)


def test_default_runtime_model():
    model = m.Model.from_spec(MODEL)  # no runtime: the shared default one
    assert model.chat("hi")["text"]
    model.close()


def test_task_info_and_baseline(runtime, tmp_path):
    with m.Task(TASK) as task:
        assert task.metric == "accuracy" and task.direction == "higher"
        assert task.name
        ev = task.baseline(runtime, state_dir=tmp_path / "state")
        assert 0.5 < ev["score"] < 0.95, ev
    with pytest.raises(m.NotFound) as e:
        m.Task(tmp_path / "no-such-task")
    assert "no-such-task" in str(e.value)


def test_retrievers(runtime, tmp_path):
    papers = Papers()
    r = m.Retriever.from_python(papers, runtime)
    hits = r.search("svm digits", top_k=1, year_min=1990)
    assert [h["id"] for h in hits] == ["py:kernels"]
    assert hits[0]["fields"]["year"] == "2001"
    assert papers.queries[0]["year_min"] == 1990 and papers.queries[0]["top_k"] == 1
    with pytest.raises(m.NotFound):
        r.search("svm", corpus="models")  # it serves papers only
    with pytest.raises(m.InvalidArgument):
        r.search("   ")
    r.close()
    # A local index built with the CLI.
    corpus = REPO / "examples" / "corpus" / "papers.jsonl"
    mlrc = Path(os.environ["MLRC_LIB_PATH"]).resolve().parent / "src" / "mlrc"  # same build as the library
    subprocess.run([str(mlrc), "index", "build", "--kind", "papers", "--index", str(tmp_path / "idx"),
                    str(corpus)], check=True, capture_output=True)
    first = json.loads(corpus.read_text().splitlines()[0])
    with m.Retriever.local(tmp_path / "idx", runtime) as local:
        hits = local.search(first["title"], top_k=3)
        assert hits and hits[0]["title"] == first["title"]
    with pytest.raises(m.NotFound):
        m.Retriever.local(tmp_path / "nothing", runtime)


class Broken(m.RetrieverPlugin):
    corpora = ("papers",)

    def search(self, query):
        raise RuntimeError("index server down")


def test_plugin_exceptions_become_errors(runtime):
    r = m.Retriever.from_python(Broken(), runtime)
    with pytest.raises(m.ProviderError) as e:
        r.search("anything")
    assert "RuntimeError: index server down" in str(e.value)
    assert any("index server down" in x for x in plugins.errors)
    r.close()

    class BadJson(m.ModelPlugin):
        def chat(self, request):
            return "this is not json"

    model = m.Model.from_python(BadJson(), runtime)
    with pytest.raises(m.ParseError) as e:
        model.chat("hello")
    assert "not JSON" in str(e.value)
    model.close()
    with pytest.raises(TypeError):
        m.Model.from_python(object(), runtime)


def test_planner_then_idea_session_with_python_plugins(runtime, tmp_path):
    before = plugins.live_plugins()
    inner = m.Model.from_spec(MODEL, runtime)
    wrapped = Wrapped(inner)
    model = m.Model.from_python(wrapped, runtime)
    papers = Papers()
    retriever = m.Retriever.from_python(papers, runtime)

    # Phase 1 alone, asynchronous, events as an iterator.
    planner = m.Planner(model, retriever, ideas=2, refine_rounds=1)
    run = planner.start(PAPER)
    kinds = [ev.kind for ev in run.events()]
    result = run.wait()
    run.close()
    assert kinds.count("idea_proposed") == 2
    assert "related" in kinds and "review" in kinds
    assert [i["id"] for i in result["ideas"]]
    assert any(p["id"] == "py:kernels" for p in result["related"])
    assert wrapped.calls == 8 and papers.queries
    table = m.ideas_table(result)
    assert [row["rank"] for row in table] == [1, 2] and table[0]["score"] >= table[1]["score"]
    with pytest.raises(TypeError):
        m.Planner(model, colour=3)
    with pytest.raises(m.InvalidArgument):
        m.Planner(model, ideas=0)
    planner.close()

    # Phases 2-3 from the chosen idea, with a Python tool and executor, gates answered later.
    task = m.Task(TASK)
    wrapped.inject_at = wrapped.calls + 1
    hint, executor = Hint(), Subprocess()
    gates = []
    with m.Session.from_idea(runtime, task, result["ideas"][0], home=tmp_path, model=MODEL,
                             gates=m.GATE_APPROVE_EXECUTION, gate_timeout_s=60) as s:
        s.set_model(model)
        s.set_retriever(retriever)
        s.add_tool(hint)
        s.set_executor(executor)
        run = s.start()
        with pytest.raises(m.InvalidArgument):
            s.start()  # one run at a time
        for ev in run.events():
            if ev.kind == "gate_waiting":
                gates.append(ev.data["answer_as"])
                with pytest.raises(m.InvalidArgument):
                    run.answer_gate("approve_execution", {"approve": "yes"})
                with pytest.raises(m.InvalidArgument):
                    run.answer_gate("help", {"answer": "?"})
                run.answer_gate("approve_execution", {"approve": True})
        summary = run.wait()
        run.close()
    assert summary["success"] is True, summary
    assert gates == ["approve_execution", "approve_execution"]
    assert hint.args == [{"topic": "models"}]
    assert len(executor.jobs) >= 5 and all(j["argv"] for j in executor.jobs)
    # The tool's observation reached the model's next request.
    seen = json.dumps(wrapped.requests[wrapped.inject_at])
    assert "RBF-kernel SVC usually wins" in seen
    for h in (model, retriever, inner, task):
        h.close()
    assert plugins.live_plugins() == before  # every plugin was released


def test_gate_handler_can_defer(runtime, tmp_path):
    asked = []

    def handler(gate, question):
        asked.append(gate)
        return m.LATER

    with m.Session.create(runtime, paper=PAPER, task=TASK, model=MODEL, ideas=2, home=tmp_path,
                          gates=m.GATE_CHOOSE_IDEA, gate_timeout_s=60) as s:
        s.set_gate_handler(handler)
        run = s.start()
        chosen = None
        for ev in run.events():
            if ev.kind == "gate_waiting":
                assert ev.data["answer_as"] == "choose_idea" and len(ev.data["question"]) == 2
                run.answer_gate("choose_idea", {"index": 1, "instructions": "Keep it small."})
            if ev.kind == "ideas_ranked":
                chosen = ev.data["chosen"]
        summary = run.wait()
        run.close()
    assert asked == ["choose_idea"]
    assert summary["success"] is True
    assert chosen is not None


def test_idea_session_bad_input(runtime, tmp_path):
    task = m.Task(TASK)
    with pytest.raises(TypeError):
        m.Session.from_idea(runtime, task, "not a dict", home=tmp_path)
    with pytest.raises(TypeError):
        m.Session.from_idea(runtime, task, IDEA, task=TASK)
    with pytest.raises(m.MlrcError) as e:
        m.Session.from_idea(runtime, task, {"title": 5}, home=tmp_path, model=MODEL)
    assert "title" in str(e.value)
    with pytest.raises(m.MlrcError) as e:
        m.Session.create(runtime, task=TASK, instructions="x", model=MODEL, home=tmp_path,
                         max_steps="many")
    assert "max_steps" in str(e.value)
    task.close()
    with pytest.raises(m.HandleClosedError):
        m.Session.from_idea(runtime, task, IDEA, home=tmp_path)


OPENALEX_WORKS = {
    "meta": {"count": 1, "page": 1, "per_page": 10},
    "results": [{
        "id": "https://openalex.org/W2741809807", "title": "Kernel machines for digit recognition",
        "relevance_score": 12.5, "publication_year": 2018,
        "primary_location": {"source": {"display_name": "PeerJ"}},
        "authorships": [{"author": {"display_name": "Ada Lovelace"}}],
        "abstract_inverted_index": {"RBF": [0], "kernels": [1], "beat": [2], "trees": [3]}}],
}


@pytest.fixture
def api_server(tmp_path, monkeypatch):
    """mlrc-fake-llm --serve-dir: Semantic Scholar's search rate-limited, OpenAlex answering."""
    www = tmp_path / "www"
    (www / "graph" / "v1" / "paper").mkdir(parents=True)
    (www / "graph" / "v1" / "paper" / "search").write_text('{"message": "Too Many Requests"}')
    (www / "graph" / "v1" / "paper" / "search.status").write_text("429\nRetry-After: 600\n")
    (www / "works").write_text(json.dumps(OPENALEX_WORKS))
    # Next to the library under test (conftest.py sets MLRC_LIB_PATH to build/<preset>/capi).
    fake = os.environ.get("MLRCOPILOT_TEST_FAKE_LLM") or str(
        Path(os.environ["MLRC_LIB_PATH"]).resolve().parent / "tests" / "mlrc-fake-llm")
    port_file = tmp_path / "port"
    proc = subprocess.Popen([str(fake), "--port", "0", "--port-file", str(port_file), "--serve-dir", str(www)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import time
    for _ in range(200):
        if port_file.exists() and port_file.read_text().strip():
            break
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port_file.read_text().strip()}"
    for var in ("MLRC_S2_URL", "MLRC_OPENALEX_URL", "MLRC_ARXIV_URL"):
        monkeypatch.setenv(var, base)
    monkeypatch.setenv("MLRC_HOME", str(tmp_path / "home"))
    yield base
    proc.terminate()
    proc.wait()


def test_online_sources_fall_back(runtime, api_server):
    with m.Retriever.sources("s2,openalex", runtime=runtime) as r:
        hits = r.search("rbf kernels")
    assert [h["id"] for h in hits] == ["openalex:W2741809807"]
    assert hits[0]["fields"]["source"] == "openalex"
    assert hits[0]["fields"]["abstract"] == "RBF kernels beat trees"
    with pytest.raises(m.ConfigError) as e:
        m.Retriever.sources("s2,bing", runtime=runtime)
    assert "bing" in str(e.value)


def test_session_with_online_sources_reports_failing_ones(runtime, api_server, tmp_path):
    with m.Session.create(runtime, paper=PAPER, task=TASK, model=MODEL, ideas=2, home=tmp_path / "runs",
                          sources="s2,openalex") as s:
        run = s.start()
        warnings, related = [], []
        for ev in run.events():
            if ev.kind == "warning":
                warnings.append(ev.data["message"])
            if ev.kind == "related":
                related += [p["id"] for p in ev.data["papers"]]
        summary = run.wait()
        run.close()
    assert summary["success"] is True
    assert "openalex:W2741809807" in related
    assert any("source s2 failed" in w for w in warnings), warnings
    with pytest.raises(m.ConfigError):
        m.Session.create(runtime, paper=PAPER, task=TASK, model=MODEL, home=tmp_path, sources="bing")


def test_gate_handler_that_raises_cancels_the_run(runtime, tmp_path):
    def handler(gate, question):
        raise KeyError("no such idea")

    with m.Session.create(runtime, paper=PAPER, task=TASK, model=MODEL, ideas=2, home=tmp_path,
                          gates=m.GATE_CHOOSE_IDEA, gate_timeout_s=60) as s:
        s.set_gate_handler(handler)
        with pytest.raises(m.UserError) as e:
            s.run()
    assert isinstance(e.value.__cause__, KeyError)


def test_freeing_from_inside_a_callback_does_not_deadlock(runtime, tmp_path):
    s = m.Session.create(runtime, paper=PAPER, task=TASK, model=MODEL, ideas=2, home=tmp_path)
    holder, closed, started = [], threading.Event(), threading.Event()

    def on_event(ev):
        if ev.kind == "idea_proposed" and not closed.is_set():
            assert started.wait(30)  # start() has returned the run
            holder[0].close()   # the run, from its own callback: cancels, does not wait
            s.close()           # the session too: freed when the run ends
            closed.set()

    s.on_event(on_event)
    holder.append(s.start())
    started.set()
    assert closed.wait(60)
    assert holder[0].closed and s.closed
    with pytest.raises(m.HandleClosedError):
        s.start()


def test_model_of_another_runtime_outlives_its_handles(runtime, tmp_path):
    with m.Runtime(threads=1) as other:
        model = m.Model.from_spec(MODEL, other)
    # `other` is closed and the model handle goes too: the session keeps what it needs alive.
    with m.Session.create(runtime, paper=PAPER, task=TASK, ideas=2, home=tmp_path) as s:
        s.set_model(model)
        model.close()
        assert s.run()["success"] is True


def test_blocking_call_from_an_event_callback_is_refused(runtime, tmp_path):
    model = m.Model.from_spec(MODEL, runtime)
    seen = []

    def on_event(ev):
        if ev.kind == "analysis" and not seen:
            try:
                model.chat("hi")  # would wait for the runtime thread this callback runs on
            except m.InvalidArgument as exc:
                seen.append(str(exc))

    planner = m.Planner(model, ideas=2)
    planner.on_event(on_event)
    planner.run(PAPER)
    assert seen and "thread of its runtime" in seen[0]


def test_a_waiting_gate_does_not_stall_other_runs_on_the_runtime(runtime, tmp_path):
    # One runtime thread: session A waits at its gate for an answer while session B runs through.
    a = m.Session.create(runtime, paper=PAPER, task=TASK, model=MODEL, ideas=2, home=tmp_path / "a",
                         gates=m.GATE_CHOOSE_IDEA, gate_timeout_s=120)
    b = m.Session.create(runtime, paper=PAPER, task=TASK, model=MODEL, ideas=2, home=tmp_path / "b")
    run_a = a.start()
    for ev in run_a.events():
        if ev.kind == "gate_waiting":
            break
    import time
    t0 = time.monotonic()
    assert b.run()["success"] is True       # not held up by A's open gate
    assert time.monotonic() - t0 < 60
    run_a.answer_gate("choose_idea", {"index": 0})
    assert run_a.wait()["success"] is True
    run_a.close()
    a.close()
    b.close()
