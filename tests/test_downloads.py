"""Model downloads against a Hugging Face hub on 127.0.0.1 (tests/fake_hub.py), through huggingface_hub's
own client: progress in bytes, a dropped connection resumed, a cancelled download resumed by the next
run, clear errors; and the app's command palette switching models in the background."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from covertui.embed.download import download, downloaded, folder
from covertui.errors import Cancelled, ModelError
from covertui.progress import CancelToken, Step
from fake_hub import FakeHub

from conftest import AppUnderTest, until, wait_until

REPO = "google/siglip2-base-patch32-256"


@pytest.fixture
def hub(monkeypatch, tiny_siglip):
    import huggingface_hub.constants

    server = FakeHub()
    server.add(REPO, tiny_siglip)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    yield server
    server.close()


def weights_size(path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def test_a_download_reports_its_bytes_and_gives_the_checkpoint(hub, tmp_path, tiny_siglip):
    steps: list[Step] = []
    path = download(tmp_path / "models", REPO, steps.append)
    assert path == folder(tmp_path / "models", REPO) == downloaded(tmp_path / "models", REPO)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"):
        assert (path / name).read_bytes() == (tiny_siglip / name).read_bytes()
    assert not list(path.glob("*.part"))
    total = weights_size(tiny_siglip)
    assert steps and all(s.stage == "model" and s.total == total and s.message == REPO for s in steps)
    assert [s.done for s in steps] == sorted(s.done for s in steps) and steps[-1].done == total
    assert steps[-1].amounts.startswith(f"{total / 1e6:.1f} MB of {total / 1e6:.1f} MB")
    assert hub.served == total  # each byte once
    hub.ranges.clear()
    assert download(tmp_path / "models", REPO) == path and not hub.ranges  # complete: nothing asked again


def test_a_dropped_connection_resumes_where_it_stopped(hub, tmp_path, tiny_siglip):
    weights = (tiny_siglip / "model.safetensors").stat().st_size
    hub.drop_after["model.safetensors"] = weights // 3
    path = download(tmp_path / "models", REPO)
    assert (path / "model.safetensors").read_bytes() == (tiny_siglip / "model.safetensors").read_bytes()
    assert ("model.safetensors", weights // 3) in hub.ranges  # the rest, not the whole file again
    assert hub.served == weights_size(tiny_siglip)


def test_a_cancelled_download_resumes_in_the_next_run(hub, tmp_path, tiny_siglip):
    import threading

    weights = (tiny_siglip / "model.safetensors").stat().st_size
    hub.hold_after["model.safetensors"] = weights // 2
    cancel, errors = CancelToken(), []

    def run() -> None:
        try:
            download(tmp_path / "models", REPO, cancel=cancel)
        except Cancelled as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert hub.holding.wait(60)
    part = folder(tmp_path / "models", REPO) / "model.safetensors.part"
    assert wait_until(lambda: part.exists() and part.stat().st_size == weights // 2, 60)  # half the weights here
    cancel.cancel()
    hub.release.set()
    worker.join(60)
    assert errors and downloaded(tmp_path / "models", REPO) is None
    assert part.stat().st_size == weights // 2  # kept
    hub.ranges.clear()
    path = download(tmp_path / "models", REPO)
    assert hub.ranges[0] == ("model.safetensors", weights // 2)  # the rest of it, then the files not fetched yet
    assert "config.json" not in {name for name, _ in hub.ranges}
    assert (path / "model.safetensors").read_bytes() == (tiny_siglip / "model.safetensors").read_bytes()


def test_two_downloads_of_one_model_fetch_it_once(hub, tmp_path, tiny_siglip):
    """The app and a sync asking for the same model: the second waits for the first, showing its bytes."""
    import threading

    weights = (tiny_siglip / "model.safetensors").stat().st_size
    hub.hold_after["model.safetensors"] = weights // 2
    steps: list[Step] = []
    results: list = []
    first = threading.Thread(target=lambda: results.append(download(tmp_path / "models", REPO)))
    first.start()
    assert hub.holding.wait(60)
    second = threading.Thread(target=lambda: results.append(download(tmp_path / "models", REPO, steps.append)))
    second.start()
    assert wait_until(lambda: any("another covertui" in s.message and s.done >= weights // 2 for s in steps), 60)
    hub.release.set()
    first.join(60)
    second.join(60)
    assert results == [folder(tmp_path / "models", REPO)] * 2
    assert hub.served == weights_size(tiny_siglip)  # each byte once


def test_unknown_models_and_a_dead_hub_say_so(hub, tmp_path, monkeypatch):
    with pytest.raises(ModelError, match="Unknown model 'google/no-such-model'"):
        download(tmp_path / "models", "google/no-such-model")
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{sock.getsockname()[1]}")
    with pytest.raises(ModelError, match="Could not reach Hugging Face .*offline"):
        download(tmp_path / "models", REPO)
    assert not (folder(tmp_path / "models", REPO) / ".complete").exists()


def test_ids_cannot_lead_outside_the_models_folder(tmp_path):
    for hostile in ("../../etc", "a/../../b", "..", "/abs/path", "x/y/../../../z"):
        assert folder(tmp_path, hostile).parent == tmp_path


def test_sync_downloads_a_hub_model_with_progress_then_embeds(hub, fake, logged_in, cli_env):
    env = {**cli_env, "COVERTUI_MODEL": REPO, "HF_ENDPOINT": hub.url}
    env.pop("HF_HUB_OFFLINE", None)
    run = subprocess.run([sys.executable, "-m", "covertui", "sync", "--all", "--json"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["embedded"] == 40
    assert f"Downloading the model {REPO}: " in run.stderr and " MB of " in run.stderr  # plain lines off a terminal
    models = subprocess.run([sys.executable, "-m", "covertui", "models", "--json"], env=env, capture_output=True,
                            text=True, timeout=300)
    row = next(r for r in json.loads(models.stdout) if r["id"] == REPO)
    assert row["downloaded"] and row["vectors"] == 40 and row["in_use"]


async def test_the_palette_switches_models_in_the_background(hub, synced, tiny_model, tiny_siglip):
    from covertui.embed.choice import choose_model, counts_by_name, use

    settings = dataclasses.replace(synced, model=None)
    use(settings, str(tiny_model))  # the library's model, chosen earlier
    weights = (tiny_siglip / "model.safetensors").stat().st_size
    hub.hold_after["model.safetensors"] = weights // 2
    app = AppUnderTest(settings)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.model_ready)
        old = app.searcher
        await pilot.press("ctrl+p")
        await pilot.press(*"Model: google/siglip2-base-patch32")
        options = app.screen.query_one("CommandList")
        await until(pilot, lambda: options.option_count and REPO in str(options.get_option_at_index(0).prompt))
        await pilot.press("enter")
        await until(pilot, hub.holding.is_set, timeout=60)
        panel = str(app.main.work_panel.label.render())
        assert "Downloading the model" in panel and "MB of" in panel and "c cancels" in panel
        await pilot.press("escape")  # back to the query: the model in use still answers meanwhile
        app.main.query_input.value = "blue"
        await until(pilot, lambda: app.main._shown_query == "blue")
        assert app.searcher is old
        hub.release.set()
        await until(pilot, lambda: app.searcher is not old, timeout=120)
        assert any(n.startswith("Now searching with google/siglip2-base-patch32-256") for n in app.notes)
        assert not app.main.work_panel.display
    counts = counts_by_name(settings)
    assert counts[tiny_model.name] == 40 and counts[REPO] == 40  # the old vectors kept, the new ones all there
    assert choose_model(settings, "cpu").name == REPO  # the next start too
