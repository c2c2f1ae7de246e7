"""How the house is kept: one source for each fact (keys, query syntax, exit codes), the pictures'
line cache, the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image
from textual.app import App

from covertui import errors
from covertui.query import SYNTAX
from covertui.ui.graphics import choose_graphics
from covertui.ui.screens.help import markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_each_kind_of_error_has_its_own_exit_code():
    kinds = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, errors.CovertuiError)]
    own = {k: k.__dict__["exit_code"] for k in kinds if "exit_code" in k.__dict__}
    assert len(own) >= 15 and len(set(own.values())) == len(own), own


def test_the_readme_key_table_is_the_bindings():
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "README's key table differs from the bindings; it should read:\n" + markdown_table()


def test_the_query_syntax_is_written_once_and_shown_everywhere(cli_env):
    readme = (ROOT / "README.md").read_text()
    assert all(f"- {line}" in readme for line in SYNTAX)
    shown = subprocess.run([sys.executable, "-m", "covertui", "search", "--help"], env={**cli_env, "COLUMNS": "400"},
                           capture_output=True, text=True, check=True).stdout
    assert " ".join(SYNTAX) in " ".join(shown.split())


async def test_the_help_screen_lists_every_key_and_the_syntax(synced):
    from conftest import AppUnderTest

    app = AppUnderTest(synced)
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("f1")
        text = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        assert "(in the picker) check or uncheck a source" in text and "ctrl+o O" in text
        assert SYNTAX[1] in " ".join(text.split())


class OneCover(App):
    def compose(self):
        self.art = choose_graphics("halfcell").art()
        self.art.styles.width, self.art.styles.height = 8, 4
        yield self.art


def colours(lines) -> set:
    return {tuple(s.style.bgcolor.triplet) for line in lines for s in line if s.style and s.style.bgcolor}


async def test_text_pictures_are_cached_by_content_not_by_object(monkeypatch):
    """A thumbnail evicted from its cache frees its address (id) for the next one: lines cached by id
    could show the old cover in its place. By content, the same pixels in another object are drawn from
    the cache, and other pixels never are."""
    from textual_image.widget import HalfcellImage

    drawn = []
    real = HalfcellImage.render_lines

    def counted(self, crop):
        drawn.append(self.image)
        return real(self, crop)

    monkeypatch.setattr(HalfcellImage, "render_lines", counted)
    app = OneCover()
    async with app.run_test() as pilot:
        for shade in range(0, 250, 50):
            app.art.image = Image.new("RGB", (16, 16), (shade, 0, 255 - shade))
            await pilot.pause()
            lines = app.art.render_lines(app.art.region.reset_offset)
            assert colours(lines) == {(shade, 0, 255 - shade)}
        before = len(drawn)
        app.art.image = Image.new("RGB", (16, 16), (0, 0, 255))  # the first picture's pixels, a new object
        await pilot.pause()
        lines = app.art.render_lines(app.art.region.reset_offset)
        assert colours(lines) == {(0, 0, 255)} and len(drawn) == before  # from the cache: keyed by content


def test_the_log_is_off_by_default_and_written_where_covertui_log_says(cli_env, tmp_path):
    run = subprocess.run([sys.executable, "-m", "covertui", "doctor", "--json"], env=cli_env, capture_output=True,
                         text=True)
    assert "DEBUG" not in run.stderr and "INFO" not in run.stderr
    log_file = tmp_path / "covertui.log"
    subprocess.run([sys.executable, "-m", "covertui", "search", "x"], env={**cli_env, "COVERTUI_LOG": str(log_file)},
                   capture_output=True, text=True)
    logged = log_file.read_text()
    assert "covertui.cli" in logged and "search" in logged
    assert log_file.stat().st_mode & 0o077 == 0  # the owner's alone


def test_a_log_file_named_in_the_current_folders_env_is_ignored(cli_env, tmp_path):
    target = tmp_path / "not-yours.txt"
    (tmp_path / ".env").write_text(f"COVERTUI_LOG={target}\n")
    run = subprocess.run([sys.executable, "-m", "covertui", "doctor"], env=cli_env, cwd=tmp_path,
                         capture_output=True, text=True)
    assert not target.exists() and "COVERTUI_LOG in ./.env" in run.stdout
