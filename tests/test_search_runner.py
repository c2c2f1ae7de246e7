"""The app's search scheduling and garbage-collection policy, driven without an app."""

from __future__ import annotations

import gc
import queue
import threading

import pytest
from PIL import Image

from covertui.errors import NothingIndexed
from covertui.models import Hit, SearchResult
from covertui.ui.idle_gc import IdleCollector
from covertui.ui.search_runner import SearchRunner


class FakeSearcher:
    """Answers every query with `hits` covers; `hold` keeps the next search waiting until released."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.asked: list[tuple[str, list[str]]] = []
        self.started = queue.Queue()
        self.hold: threading.Event | None = None

    def search(self, text, top, sources, order="relevance"):
        self.asked.append((text, sources))
        self.started.put(text)
        gate, self.hold = self.hold, None
        if gate is not None:
            gate.wait(10)
        if text == "nothing":
            raise NothingIndexed("No covers are embedded yet.")
        hits = [Hit(f"c{i}", 1.0 - i / 100, path, "") for i, path in enumerate(self.paths[:top])]
        return SearchResult(text, hits, 1.0)


class Reports:
    def __init__(self) -> None:
        self.events = queue.Queue()

    def results(self, result, thumbnails):
        self.events.put(("results", result.query, len(result.hits), thumbnails))

    def thumbnails(self, hits, start, thumbnails):
        self.events.put(("thumbnails", start, thumbnails))

    def failed(self, error):
        self.events.put(("failed", str(error)))

    def next(self):
        return self.events.get(timeout=10)


@pytest.fixture
def covers(tmp_path) -> list[str]:
    paths = []
    for i in range(7):
        path = tmp_path / f"{i}.jpg"
        Image.new("RGB", (300, 300), (i * 30, 0, 0)).save(path)
        paths.append(str(path))
    return paths


def runner_for(searcher, reports, page_size=4) -> SearchRunner:
    runner = SearchRunner(48, reports.results, reports.thumbnails, reports.failed)
    runner.page_size = page_size
    runner.start(searcher)
    return runner


def start(runner) -> threading.Thread:
    thread = threading.Thread(target=runner.run)
    thread.start()
    return thread


def test_the_first_screenful_comes_with_its_thumbnails_and_the_rest_after(covers):
    reports = Reports()
    runner = runner_for(FakeSearcher(covers), reports)
    assert runner.want("red", ["b", "a"])
    start(runner).join(10)
    kind, query, hits, thumbnails = reports.next()
    assert (kind, query, hits, len(thumbnails)) == ("results", "red", 7, 4)
    assert all(t.size == (48, 48) for t in thumbnails)
    kind, first, rest = reports.next()
    assert (kind, first, len(rest)) == ("thumbnails", 4, 3)
    assert runner.searcher.asked == [("red", ["a", "b"])] and not runner.busy


def test_a_newer_query_replaces_the_running_one_unseen(covers):
    reports, searcher = Reports(), FakeSearcher(covers)
    runner = runner_for(searcher, reports)
    searcher.hold = gate = threading.Event()
    assert runner.want("r", ["a"])
    thread = start(runner)
    assert searcher.started.get(timeout=10) == "r"
    assert not runner.want("re", ["a"]) and not runner.want("red", ["a"])  # the running worker takes them up
    gate.set()
    thread.join(10)
    assert [text for text, _ in searcher.asked] == ["r", "red"]  # "re" was replaced before it ran
    assert reports.next()[:2] == ("results", "red")  # "r" was dropped unseen
    assert reports.next()[0] == "thumbnails" and reports.events.empty()


def test_the_same_query_twice_is_one_search_unless_asked_again(covers):
    reports, searcher = Reports(), FakeSearcher(covers)
    runner = runner_for(searcher, reports, page_size=10)
    assert runner.want("sea", ["a", "b"])
    start(runner).join(10)
    assert not runner.want("sea", ["b", "a"])  # the same sources in another order
    assert runner.want("sea", ["a", "b"], again=True)  # Enter, or covers embedded meanwhile
    start(runner).join(10)
    assert len(searcher.asked) == 2


def test_a_query_typed_before_the_model_is_ready_runs_when_it_is(covers):
    reports = Reports()
    runner = SearchRunner(48, reports.results, reports.thumbnails, reports.failed)
    assert not runner.want("sunset", [])  # nothing to run it with yet
    assert not runner.want("sunset cat", [])
    assert runner.start(FakeSearcher(covers))
    start(runner).join(10)
    assert reports.next()[:2] == ("results", "sunset cat")


def test_failures_are_reported_and_closing_stops_it(covers):
    reports = Reports()
    runner = runner_for(FakeSearcher(covers), reports)
    assert runner.want("nothing", [])
    start(runner).join(10)
    assert reports.next() == ("failed", "No covers are embedded yet.")
    runner.close()
    assert not runner.want("red", [])


def test_full_collections_wait_until_the_user_is_idle(monkeypatch):
    before = gc.get_threshold()
    busy = [False]
    collector = IdleCollector(idle=1.0, busy=lambda: busy[0])
    collected = []
    monkeypatch.setattr(gc, "collect", lambda *args: collected.append(args))
    monkeypatch.setattr(gc, "get_count", lambda: (0, 0, 10))  # as many as would have started one
    collector.hold()
    try:
        assert gc.get_threshold()[2] >= 1 << 30  # the interpreter starts none by itself
        collector.touched()
        assert not collector.collect_if_idle()  # a key was just pressed
        collector.last_input -= 2
        busy[0] = True
        assert not collector.collect_if_idle()  # a search is running
        busy[0] = False
        assert collector.collect_if_idle() and collected == [()]
    finally:
        collector.release()
    assert gc.get_threshold() == before
