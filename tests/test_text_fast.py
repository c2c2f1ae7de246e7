"""The text tower without torch or transformers (embed/text_fast.py): saved the first time transformers
loads it, loaded from then on with numpy and `tokenizers`, giving transformers' vectors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from covertui.embed import text_fast
from covertui.embed.model import ClipModel

TEXTS = ["a blue cover with a cat", "Björk — Homogenic!", "東京の夜 · неон", "cat " * 60]  # the last one: cut at 77


def vectors(settings, texts=TEXTS) -> tuple[str, np.ndarray]:
    model = ClipModel(settings, towers=("text",))
    return type(model.text).__name__, model.encode_text(texts)


@pytest.mark.parametrize("act", ["quick_gelu", "gelu"])
def test_the_numpy_tower_gives_transformers_vectors(make_settings, tiny_model, tmp_path, act):
    model_dir = tmp_path / f"clip-{act}"
    shutil.copytree(tiny_model, model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config["text_config"]["hidden_act"] = act
    (model_dir / "config.json").write_text(json.dumps(config))
    settings = make_settings(COVERTUI_MODEL=str(model_dir))
    kind, reference = vectors(settings)  # through transformers (fp32), which saves the tower
    assert kind == "CLIPTextModelWithProjection"
    assert list(text_fast.folder(settings.paths.cache_dir, ClipModel(settings, towers=()).identity).iterdir())
    kind, fast = vectors(settings)
    assert kind == "NumpyText"
    assert (fast * reference).sum(axis=1).min() > 0.9999


def test_a_search_with_the_numpy_tower_ranks_as_before(synced):
    from covertui.search import Searcher

    before = {h.cover: h.score for h in Searcher(synced).search("a red cover with a dog", top=40).hits}
    after = Searcher(synced)
    assert type(after.model.text).__name__ == "NumpyText"
    now = {h.cover: h.score for h in after.search("a red cover with a dog", top=40).hits}
    assert now.keys() == before.keys()  # every cover, each scored as before within fp16 weights' rounding
    assert max(abs(now[c] - before[c]) for c in now) < 2e-3


def test_the_saved_tower_loads_without_torch_or_transformers(synced, cli_env):
    ClipModel(synced, towers=("text",))  # the first load saves it
    code = ("import sys; from covertui.config import load_settings; from covertui.embed.model import ClipModel; "
            "m = ClipModel(load_settings(), towers=('text',)); v = m.encode_text(['a cat']); "
            "print(type(m.text).__name__, v.shape, sorted(x for x in ('torch', 'transformers') if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, check=True)
    assert out.stdout.split(" ", 1)[0] == "NumpyText" and out.stdout.strip().endswith("[]"), out.stderr


def test_a_damaged_saved_tower_falls_back_to_transformers_and_is_saved_again(settings):
    first = ClipModel(settings, towers=("text",))
    folder = text_fast.folder(settings.paths.cache_dir, first.identity)
    (folder / "weights.npz").write_bytes(b"not a zip")
    again = ClipModel(settings, towers=("text",))
    assert type(again.text).__name__ == "CLIPTextModelWithProjection"  # it works, the slow way
    assert type(ClipModel(settings, towers=("text",)).text).__name__ == "NumpyText"  # saved again


def test_no_numpy_tower_for_int8_or_a_tower_it_cannot_match(make_settings, tiny_model, tmp_path, monkeypatch):
    settings = make_settings(COVERTUI_DTYPE="int8")
    assert type(ClipModel(settings, towers=("text",)).text).__name__ != "NumpyText"
    assert not (settings.paths.cache_dir / "text-towers").exists()
    monkeypatch.setattr(text_fast, "_activation", lambda x, name: x)  # a numpy tower that is wrong
    settings = make_settings()
    ClipModel(settings, towers=("text",))
    assert not list((settings.paths.cache_dir / "text-towers").iterdir())  # checked on the probes: not saved
