"""The fault matrix: the whole sync-then-search path under each fault, then the end state.

Each case asserts that the message is clear, that nothing already fetched is lost, and that a
clean rerun ends in the same state as a run that never saw the fault, with nothing downloaded
or embedded twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from covertui.catalog import Catalog
from covertui.covers import covers_on_disk
from covertui.embed.model import ClipModel
from covertui.embed.pipeline import embedder
from covertui.embed.preprocess import PREPROCESS_VERSION
from covertui.embed.store import EmbeddingStore
from covertui.errors import CovertuiError
from covertui.search import Searcher
from covertui.sync import SyncChoice, sync

from conftest import login, wait_until
from fake_spotify import Fault, cover_id


def sync_and_search(settings, selection=None):
    summary = sync(settings, selection or SyncChoice(all=True), embed=embedder(settings))
    return summary, Searcher(settings).search("a blue cover", top=5)


def end_state(settings) -> dict:
    """What a user has after a sync: sources' tracks, covers on disk, vectors (row order aside)."""
    with Catalog(settings.paths) as catalog:
        covers = catalog.covers()
        tracks = {sid: sorted(t.id for t in catalog.record(sid).tracks) for sid in catalog.sources()
                  if catalog.record(sid)}
    store = EmbeddingStore(settings.paths, ClipModel(settings, towers=()).identity, PREPROCESS_VERSION)
    ids, matrix = store.matrix()
    order = np.argsort(ids)
    return {"tracks": tracks, "covers": sorted(covers), "files": sorted(covers_on_disk(settings.paths)),
            "vector_ids": sorted(ids), "vectors": np.asarray(matrix, dtype=np.float32)[order]}


def assert_same_state(a: dict, b: dict) -> None:
    for key in ("tracks", "covers", "files", "vector_ids"):
        assert a[key] == b[key], key
    assert np.allclose(a["vectors"], b["vectors"], atol=2e-3)


def embedded_rows(settings, namespace: str | None = None) -> int:
    """Rows written to the embedding cache, duplicates included (a cover embedded twice counts twice)."""
    import diskcache

    namespace = namespace or rows_namespace(settings)
    with diskcache.Cache(str(settings.paths.embeddings_dir)) as db:
        return sum(len(db.get(("chunk", namespace, key))["ids"]) for key in db.get(("index", namespace)) or [])


def rows_namespace(settings) -> str:
    return f"{ClipModel(settings, towers=()).identity}|p{PREPROCESS_VERSION}"


@pytest.fixture
def reference(make_settings, fake, tmp_path):
    """The end state of a run that saw no fault, in a home of its own."""
    settings = make_settings(COVERTUI_HOME=str(tmp_path / "reference"))
    login(fake, settings)
    sync_and_search(settings)
    state = end_state(settings)
    fake.image_hits.clear()
    return state


CASES = {
    "429 short": [Fault("/v1/me/playlists", 429, retry_after=1, times=2)],
    "429 very long": [Fault("/v1/playlists/playlist000000000001abcd/items", 429, retry_after=86400, times=-1)],
    "5xx bursts": [Fault("/v1/me/playlists", 500, times=2), Fault("/v1/me/tracks", 502, times=2),
                   Fault("/v1/playlists/", 503, times=3), Fault("/image/", 503, times=4)],
    "connection reset mid-body (API)": [Fault("/v1/playlists/playlist000000000000abcd/items", kind="reset", times=2)],
    "connection reset mid-body (images)": [Fault("/image/", kind="reset", times=6)],
    "image host hangs": [Fault(f"/image/{cover_id(3)}", kind="hang", hang=3, times=-1)],
    "bad covers": [Fault(f"/image/{cover_id(n)}", kind=k, times=-1)
                   for n, k in enumerate(["html", "empty", "truncate", "huge"])],
    "API down": [Fault("/v1/", 503, times=-1)],
}


@pytest.mark.parametrize("case", list(CASES))
def test_fault_then_clean_rerun(case, fake, make_settings, logged_in, reference):
    settings = make_settings(COVERTUI_TIMEOUT="0.5", COVERTUI_MAX_RETRY_WAIT="5")
    for fault in CASES[case]:
        fake.add_fault(fault)
    try:
        summary, _ = sync_and_search(settings)
        outcome = summary.failed
    except CovertuiError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 300
        assert any(w in message for w in ("try again", "network", "rate limit", "Spotify")), message
        outcome = message
    kept = set(covers_on_disk(settings.paths))
    fake.faults.clear()
    fake.image_hits.clear()
    sync_and_search(settings)
    assert_same_state(end_state(settings), reference)
    assert sum(fake.image_hits.values()) == 40 - len(kept), outcome  # nothing kept was downloaded again
    assert embedded_rows(settings) == 40  # nothing embedded twice


def test_revoked_refresh_token_loses_nothing(fake, settings, reference):
    login(fake, settings)
    sync(settings, SyncChoice(liked=True), embed=embedder(settings))
    before = end_state(settings)
    login(fake, settings, lifetime=0)
    fake.revoke_all()
    with pytest.raises(CovertuiError, match="covertui auth"):
        sync(settings, SyncChoice(all=True), embed=embedder(settings))
    assert_same_state(end_state(settings), before)
    assert Searcher(settings).search("cat").hits  # what was synced stays searchable


def test_redirect_to_another_scheme_is_refused(fake, settings, logged_in):
    fake.add_fault(Fault(f"/image/{cover_id(2)}", kind="redirect", body=b"file:///etc/passwd", times=-1))
    fake.add_fault(Fault(f"/image/{cover_id(5)}", kind="redirect", body=f"{fake.url}/image/{cover_id(6)}".encode(),
                         times=1))
    summary = sync(settings, SyncChoice(liked=True))
    assert summary.failed == [{"cover": cover_id(2), "reason": "refused a non-http(s) URL"}]
    assert cover_id(5) in covers_on_disk(settings.paths)  # an http redirect is followed


def _run(cli_env, *args, **kw):
    return subprocess.Popen([sys.executable, "-m", "covertui", *args], env=cli_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("phase,seed", [("download", 1), ("download", 2), ("embed", 3), ("embed", 4)])
def test_sigkill_at_a_random_point_then_rerun(phase, seed, fake, settings, logged_in, cli_env, reference):
    rng = random.Random(seed)
    if phase == "download":
        fake.image_delay = 0.03
        cli_env["COVERTUI_CONCURRENCY"] = "2"
        started = lambda: sum(fake.image_hits.values()) >= rng.randint(2, 30)  # noqa: E731
    else:
        cli_env["COVERTUI_BATCH_SIZE"] = "2"
        target = rng.randint(1, 12)
        namespace = rows_namespace(settings)
        rows = lambda: embedded_rows(settings, namespace) if settings.paths.embeddings_dir.exists() else 0  # noqa
        started = lambda: rows() >= 2 * target  # noqa: E731
    proc = _run(cli_env, "sync", "--all")
    if phase == "embed":  # once it embeds, the sync runs at the lowest priority: on a busy machine this watcher
        assert wait_until(lambda: rows() >= 1, 60, interval=0.005)  # must see the rows grow before the last is in
        os.setpriority(os.PRIO_PROCESS, proc.pid, 19)
    assert wait_until(started, 300, interval=0.005)
    time.sleep(rng.random() * 0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept, rows = set(covers_on_disk(settings.paths)), embedded_rows(settings)
    assert rows < 40 and (phase == "embed" or len(kept) < 40)  # killed before the end
    time.sleep(0.3)  # the dead process's requests still in the fake's hands finish (and are counted) first
    fake.image_delay = 0
    fake.image_hits.clear()
    rerun = _run(cli_env, "sync", "--json")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert json.loads(out)["embedded"] == 40 - rows
    assert_same_state(end_state(settings), reference)
    assert sum(fake.image_hits.values()) == 40 - len(kept)
    assert embedded_rows(settings) == 40


def test_two_syncs_at_once(fake, settings, logged_in, cli_env):
    fake.image_delay = 0.1
    cli_env["COVERTUI_CONCURRENCY"] = "2"
    first = _run(cli_env, "sync", "--all")
    assert wait_until(lambda: sum(fake.image_hits.values()) > 0, 60)
    second = _run(cli_env, "sync", "--all")
    _, err = second.communicate(timeout=60)
    assert second.returncode != 0 and "Another covertui sync is running" in err and "Traceback" not in err
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert len(covers_on_disk(settings.paths)) == 40 and embedded_rows(settings) == 40


@pytest.mark.parametrize("what", ["catalog", "embeddings"])
def test_corrupted_cache_is_a_clear_error(what, fake, settings, logged_in, cli_env):
    sync(settings, SyncChoice(liked=True), embed=embedder(settings))
    db = (settings.paths.catalog_dir if what == "catalog" else settings.paths.embeddings_dir) / "cache.db"
    db.write_bytes(b"this is not a database" * 100)
    for args in (["sync"], ["search", "cat"], ["sources", "--offline"]):
        proc = _run(cli_env, *args)
        _, err = proc.communicate(timeout=120)
        if args[0] == "sources" and what == "embeddings":
            assert proc.returncode == 0  # the catalog alone is fine
            continue
        assert proc.returncode != 0 and "Traceback" not in err, err
        last = err.strip().splitlines()[-1]  # after any progress lines: one line that says what to do
        assert last.startswith("covertui: ") and ("move it aside" in last or "Move that folder aside" in last), err


@pytest.fixture
def small_mount(tmp_path):
    """A filesystem of its own for the data folder (tmpfs), to make it full or read-only."""
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()

    def mount(options: str) -> Path:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here")
        return mountpoint

    yield mount
    subprocess.run(["umount", str(mountpoint)], capture_output=True)


def test_full_data_directory(fake, make_settings, small_mount, cli_env):
    home = small_mount("size=400k")
    settings = make_settings(COVERTUI_HOME=str(home))
    login(fake, settings)
    cli_env["COVERTUI_HOME"] = str(home)
    proc = _run(cli_env, "sync", "--all", "--no-embed")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in err, err
    assert "No space left on device" in err and "kept" in err
    files = covers_on_disk(settings.paths)
    assert files and not [p for p in settings.paths.covers_dir.iterdir() if p.name.startswith(".part-")]
    from covertui.covers import validate_image

    for path in files.values():  # every file that was kept is whole
        validate_image(path.read_bytes())


def test_read_only_data_directory(fake, make_settings, small_mount, cli_env):
    home = small_mount("size=4m")
    settings = make_settings(COVERTUI_HOME=str(home))
    login(fake, settings)
    subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
    cli_env["COVERTUI_HOME"] = str(home)
    proc = _run(cli_env, "sync", "--all")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in err, err
    assert "Read-only file system" in err or "cannot write" in err, err
