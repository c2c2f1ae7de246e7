"""Text covertui does not own is data: a hostile library's names are shown literally by the app and by
every CLI command, never run as markup, never reach the terminal as escape sequences."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from covertui.embed.pipeline import embedder
from covertui.sync import SyncChoice, sync
from covertui.text import clean, dumps
from covertui.ui.screens import DetailsScreen, DevicePicker
from covertui.ui.widgets import CoverTile, SourcePicker

from conftest import AppUnderTest, until
from hostile import CLICK, INJECTED, NAMES, OSC52, hostile_library, visible

SIZE = (150, 48)


@pytest.fixture
def click_dir(tmp_path):
    folder = tmp_path / "click"
    folder.mkdir()
    return folder


@pytest.fixture
def fake(click_dir):
    """The fake Spotify serving the hostile library (replaces conftest's, for every fixture here)."""
    from fake_spotify import FakeSpotify

    server = FakeSpotify(hostile_library(str(click_dir))).start()
    yield server
    server.stop()


@pytest.fixture
def hostile(fake, settings, logged_in):
    sync(settings, SyncChoice(all=True), embed=embedder(settings))
    return settings


def all_names(click_dir) -> list[str]:
    return NAMES + [CLICK.format(dir=click_dir)]


def assert_nothing_injected(output: str) -> None:
    for sequence in INJECTED:
        assert sequence not in output, f"{sequence!r} reached the output"
    assert "Traceback" not in output


def covertui(cli_env, *args, tty: bool = False) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "covertui", *args], env=cli_env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout + done.stderr


# the rule ---------------------------------------------------------------------------------------------
def test_clean_keeps_text_and_replaces_controls():
    assert clean("Song [Live at Wembley]") == "Song [Live at Wembley]"
    assert clean("שלום 👨\u200d👩\u200d👧 é") == "שלום 👨\u200d👩\u200d👧 é"  # scripts, joined emoji
    assert clean(f"a{OSC52}b\u009b\u202e\u2028\n\ud800") == "a?]52;c;aGFja2Vk?b?????"
    assert dumps({"n": f"x{OSC52}\u009b\u202e\U000e0041"}) == \
        '{"n": "x\\u001b]52;c;aGFja2Vk\\u0007\\u009b\\u202e\\udb40\\udc41"}'
    assert json.loads(dumps(NAMES)) == NAMES


# the CLI ------------------------------------------------------------------------------------------------
def test_every_cli_command_shows_names_literally(fake, hostile, cli_env, click_dir):
    names = all_names(click_dir)
    outputs = {}
    for args in (["sources"], ["sources", "--offline"], ["sync", "--all"], ["search", "--sort", "artist", "--top", "40"],
                 ["search", "song", "--top", "40"], ["devices"], ["play", "4uLU6hMCjMI75M1A2tKUQC"],
                 ["queue", "4uLU6hMCjMI75M1A2tKUQC", "--device", f"Nowhere{OSC52}"], ["doctor"]):
        code, output = covertui(cli_env, *args)
        outputs[" ".join(args)] = output
        assert_nothing_injected(output)
    assert all(visible(name) in outputs["sources"] for name in names)
    assert "Song [Live at Wembley]" in outputs["search --sort artist --top 40"]
    assert "Broken [/] name" in outputs["search --sort artist --top 40"]
    assert visible(fake.library.devices[0]["name"]) in outputs["devices"]
    assert "Kitchen?]52;c;aGFja2Vk?" in outputs["play 4uLU6hMCjMI75M1A2tKUQC"]  # the several-devices error lists them
    assert "Nowhere?]52;c;aGFja2Vk?" in outputs[f"queue 4uLU6hMCjMI75M1A2tKUQC --device Nowhere{OSC52}"]


def test_json_output_escapes_controls_and_keeps_names_exact(fake, hostile, cli_env, click_dir):
    for args in (["sources", "--json"], ["search", "--sort", "artist", "--top", "40", "--json"], ["devices", "--json"],
                 ["sync", "--all", "--json"]):
        code, output = covertui(cli_env, *args)
        assert code == 0, output
        assert output.isprintable() or output.replace("\n", "").isprintable(), args
        assert_nothing_injected(output)
    _, output = covertui(cli_env, "sources", "--json")
    assert {s["name"] for s in json.loads(output)} >= set(all_names(click_dir))  # the exact names, escaped
    _, output = covertui(cli_env, "devices", "--json")
    assert [d["name"] for d in json.loads(output)] == [d["name"] for d in fake.library.devices]


def test_sync_progress_on_a_terminal_shows_names_as_text(fake, settings, logged_in, cli_env):
    """rich's progress bars on a pty: a `[/]` in a name used to kill its refresh thread, an OSC 52 went through."""
    from fake_terminal import FakeTerminal

    term = FakeTerminal("plain", [sys.executable, "-m", "covertui", "sync", "--all", "--no-embed"], cli_env)
    try:
        assert term.process.wait(120) == 0, term.text()[-2000:]
        term.wait_for("covers:")
    finally:
        term.close()
    assert_nothing_injected(term.text())
    assert "Reading playlists" in term.text()


# the app --------------------------------------------------------------------------------------------------
def prompts(app) -> list[str]:
    picker = app.query_one(SourcePicker)
    return [str(option.prompt) for option in picker.options]


async def test_the_app_shows_every_name_literally_and_clicks_run_nothing(hostile, click_dir):
    app = AppUnderTest(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.main.sources) == len(all_names(click_dir)) + 1)
        assert [p.rsplit(" (", 1)[0] for p in prompts(app)[1:]] == [visible(n) for n in all_names(click_dir)]
        picker = app.query_one(SourcePicker)
        row = next(i for i, o in enumerate(picker.options) if "click me" in str(o.prompt))
        picker.scroll_to(y=max(0, row - 2), animate=False)
        await pilot.pause()
        await pilot.click(SourcePicker, offset=(4, row - int(picker.scroll_y)))  # the row that carried the action
        await until(pilot, lambda: app.model_ready and app.main.grid.hits)
        captions = [(str(t.name_label.render()), str(t.meta_label.render())) for t in app.query(CoverTile) if t.display]
        titles = {c[0] for c in captions}
        assert "Song [Live at Wembley]" in titles and "Broken [/] name" in titles
        await pilot.click(CoverTile, offset=(10, 12))  # a tile's caption: markup there would be clickable too
        await pilot.pause()
        assert list(click_dir.iterdir()) == []  # the screenshot action never ran
        song = next(i for i, h in enumerate(app.main.grid.hits) if h.tracks[0].name == "Song [Live at Wembley]")
        app.main.grid.selected = song
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        shown = "\n".join(str(w.render()) for w in app.screen.query("Static, Label"))
        shown += "\n".join(str(o.prompt) for o in app.screen.query_one("OptionList").options)
        assert "Song [Live at Wembley]" in shown and visible(NAMES[3]) in shown


async def test_a_named_match_in_the_border_and_device_names_in_dialogs_are_plain(fake, hostile, monkeypatch):
    from textual.app import App
    from textual.content import Content

    shown = []  # what reaches Textual's notifications: (message, markup)
    real_notify = App.notify

    def notify(self, message, **kwargs):
        shown.append((message, kwargs.get("markup", True)))
        real_notify(self, message, **kwargs)

    monkeypatch.setattr(App, "notify", notify)
    app = AppUnderTest(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model_ready)
        app.query_one("#query").value = "Broken [/] name"
        await until(pilot, lambda: "first" in (app.main.grid.border_title or ""))
        # names are matched normalized ("broken name"); the query's own "[/]" broke nothing on the way
        assert Content.from_markup(app.main.grid.border_title).plain == "covers by best match · track: broken name first"
        app.main.grid.focus()
        await pilot.press("P")  # two devices, none playing: the picker lists them
        await until(pilot, lambda: isinstance(app.screen, DevicePicker))
        labels = [str(o.prompt) for o in app.screen.query_one("OptionList").options]
        assert labels[0].startswith("Kitchen?]52;c;aGFja2Vk?") and "[b]TV[/b] ?evil" in labels[1]
        await pilot.press("enter")
        await until(pilot, lambda: any(message.startswith("Playing on") for message, _ in shown))
    assert ("Playing on Kitchen?]52;c;aGFja2Vk?.", False) in shown  # cleaned, and not markup


def test_the_app_on_a_terminal_writes_no_injected_sequence(fake, hostile, cli_env):
    """The whole app on a pty: what reaches the terminal holds the names as text, nothing of their escapes."""
    from fake_terminal import FakeTerminal

    term = FakeTerminal("plain", [sys.executable, "-m", "covertui"], cli_env)
    try:
        term.wait_for("Wembley]")
        term.type("Broken [/] name")
        term.wait_for("name first")
        term.type("\x11")  # ctrl+q
        assert term.process.wait(60) == 0
    finally:
        term.close()
    assert_nothing_injected(term.text())
