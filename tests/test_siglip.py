"""SigLIP checkpoints beside CLIP: covertui's vectors against transformers' own path (AutoProcessor,
AutoModel.get_image_features / get_text_features with padding="max_length", max_length=64), in fp32,
for English, French and Japanese queries and for covers that are not square; a sync and a search
through the same commands as CLIP."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from covertui.embed.model import ClipModel, ImageSpec, family_of
from covertui.embed.preprocess import load_pixels
from covertui.errors import ModelError

from conftest import AppUnderTest, until

QUERIES = ["a blue cover with a cat", "une pochette bleue avec un chat", "青い猫のカバー", "Sunset, RED"]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return (a * b).sum(-1)


def reference(path, texts=(), images=()):
    """transformers' own vectors for a SigLIP checkpoint, as its model card says to compute them."""
    import torch
    from transformers import AutoModel, AutoProcessor

    model, processor = AutoModel.from_pretrained(path).eval(), AutoProcessor.from_pretrained(path)
    with torch.inference_mode():
        text = model.get_text_features(**processor(text=list(texts), padding="max_length", max_length=64,
                                                   return_tensors="pt")).pooler_output if texts else None
        image = model.get_image_features(**processor(images=list(images), return_tensors="pt")).pooler_output \
            if images else None
    return (text.numpy() if text is not None else None), (image.numpy() if image is not None else None)


def test_a_siglip_checkpoint_is_read_as_siglip(tiny_siglip):
    assert family_of(tiny_siglip) == "siglip"
    spec = ImageSpec.from_checkpoint(tiny_siglip, "siglip")
    assert (spec.size, spec.crop, spec.fixed, spec.resample, spec.mean) == (64, 64, True, 2, (0.5, 0.5, 0.5))


def test_the_processor_config_is_read_where_transformers_5_writes_it(tmp_path):
    (tmp_path / "processor_config.json").write_text(json.dumps({"image_processor": {
        "size": {"height": 256, "width": 256}, "resample": 2, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}}))
    spec = ImageSpec.from_checkpoint(tmp_path, "siglip")
    assert (spec.size, spec.crop, spec.resample, spec.fixed) == (256, 256, 2, True)


def test_variable_resolution_and_unknown_checkpoints_are_refused_clearly(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "siglip2"}))
    with pytest.raises(ModelError, match="fixed-resolution"):
        family_of(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelError, match="CLIP and SigLIP"):
        family_of(tmp_path)


@pytest.mark.parametrize("tower", ["NumpyText", "SiglipTextModel"])
def test_text_vectors_match_transformers_in_three_scripts(make_settings, tiny_siglip, tower):
    """The app's numpy tower (saved from the checkpoint's files, no torch) and transformers' tower (GPU,
    int8, or after the first answer) both give transformers' reference vectors."""
    from transformers import AutoTokenizer

    ours = ClipModel(make_settings(COVERTUI_MODEL=str(tiny_siglip)), towers=("text",))
    if tower == "SiglipTextModel":
        ours.load_torch_text()
    assert type(ours.text).__name__ == tower
    assert ours.family == "siglip" and ours.lowercase and ours.max_length == 64
    got = ours.encode_text(QUERIES + ["cat " * 80])  # the last: cut at 64 tokens
    expected, _ = reference(tiny_siglip, [q.lower() for q in QUERIES])  # SigLIP 2 reads lowercased text
    assert got.shape == (5, 32) and cosines(got[:4], expected).min() > 0.999
    tokenizer = AutoTokenizer.from_pretrained(tiny_siglip)
    tokens = tokenizer(QUERIES[2])["input_ids"]
    assert tokenizer.unk_token_id not in tokens and len(tokens) > 3  # Japanese reaches the model as text


def test_image_vectors_match_transformers_on_covers_that_are_not_square(make_settings, tiny_siglip, tmp_path):
    import torch

    rng = np.random.default_rng(3)
    paths, images = [], []
    for i, size in enumerate([(300, 300), (640, 360), (200, 500), (64, 64)]):
        image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
        image = image.resize((size[0] // 4, size[1] // 4)).resize(size, Image.BILINEAR)  # smooth, as pictures are
        paths.append(tmp_path / f"c{i}.png")
        image.save(paths[-1])
        images.append(image)
    ours = ClipModel(make_settings(COVERTUI_MODEL=str(tiny_siglip)), towers=("vision",))
    for fast in (False, True):  # PIL's resize, and torch's where it is the faster one
        pixels = torch.from_numpy(np.stack([load_pixels(p, ours.spec, fast=fast) for p in paths]))
        assert pixels.shape == (4, 3, 64, 64)
        got = ours.encode_pixels(pixels)
        _, expected = reference(tiny_siglip, images=images)
        assert cosines(got, expected).min() > 0.999, fast


def test_a_siglip_checkpoint_syncs_and_searches_through_the_same_commands(fake, logged_in, cli_env, tiny_siglip):
    env = {**cli_env, "COVERTUI_MODEL": str(tiny_siglip)}
    run = subprocess.run([sys.executable, "-m", "covertui", "sync", "--all", "--json"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["embedded"] == 40
    for query in ("a blue cover", "青い猫"):
        found = subprocess.run([sys.executable, "-m", "covertui", "search", query, "--json", "--top", "5"], env=env,
                               capture_output=True, text=True, timeout=300)
        assert found.returncode == 0, found.stderr
        out = json.loads(found.stdout)
        assert out["model"].endswith("tiny-siglip") and len(out["results"]) == 5
        assert all(-1 <= r["score"] <= 1 for r in out["results"])


def test_words_around_a_name_reach_the_model_as_typed():
    from covertui.names import normalize, words_besides

    text = "Björk ガラス été"
    assert normalize(text).split()[0] == "bjork"
    assert words_besides(text, (0, 1)) == "ガラス été"  # not "カラス ete": the voicing mark and accents kept
    assert words_besides("blue Sigur Rós cover", (1, 3)) == "blue cover"


def test_an_english_only_model_says_so_for_another_script(synced, cli_env):
    run = subprocess.run([sys.executable, "-m", "covertui", "search", "青い猫", "--json"], env=cli_env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "reads English only" in json.loads(run.stdout)["note"]
    run = subprocess.run([sys.executable, "-m", "covertui", "search", "a blue cat"], env=cli_env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "English only" not in run.stderr


def test_the_model_catalog_tells_what_is_here(synced, cli_env, tiny_model):
    run = subprocess.run([sys.executable, "-m", "covertui", "models", "--json"], env=cli_env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = {row["id"]: row for row in json.loads(run.stdout)}
    default = rows["google/siglip2-base-patch32-256"]
    assert default["family"] == "SigLIP 2" and "languages" in default and default["vectors"] == 0
    assert not default["downloaded"] and default["download_mb"] > 1000  # no model hub here
    ours = rows[tiny_model.name]  # the model in use, with the vectors of the covers synced with it
    assert ours["in_use"] and ours["vectors"] == 40 and ours["covers_per_s"] > 0


async def test_covers_embedded_with_the_earlier_default_keep_it_until_the_user_chooses(synced, tiny_model, monkeypatch):
    from covertui.catalog import Catalog
    from covertui.embed import choice

    monkeypatch.setattr(choice, "EARLIER_DEFAULTS", {"cpu": str(tiny_model), "gpu": str(tiny_model)})
    earlier = choice.ModelInfo(str(tiny_model), "CLIP", "English", 1, 224, 1.0)
    monkeypatch.setattr(choice, "BY_ID", {**choice.BY_ID, str(tiny_model): earlier})
    settings = dataclasses.replace(synced, model=None)
    chosen = choice.choose_model(settings, "cpu")
    assert (chosen.name, chosen.better) == (str(tiny_model), choice.CPU_DEFAULT)  # no re-embedding unasked
    with Catalog(settings.paths) as catalog:
        rate = catalog.rates()[tiny_model.name]
    note = choice.upgrade_note(chosen, 40, rate)
    assert "google/siglip2-base-patch32-256" in note and "1.5 GB" in note and "min to embed your 40 covers" in note
    app = AppUnderTest(settings)  # the app says the same at start, and searches with the model that has vectors
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.model_ready and any("A better model is available" in n for n in app.notes))
        assert app.searcher.model.name == str(tiny_model)
    choice.use(settings, choice.CPU_DEFAULT)  # the user chose: the new default from now on, old vectors kept
    assert choice.choose_model(settings, "cpu") == choice.Chosen(choice.CPU_DEFAULT, "chosen with `covertui models --use`")
    assert choice.counts_by_name(settings)[tiny_model.name] == 40


async def test_the_app_answers_with_siglips_numpy_text_tower_and_keeps_it(fake, settings, logged_in, tiny_siglip):
    """SigLIP's text tower stays numpy's in the app: torch's would add its 256k-token table again, past
    the app's 1 GB bound, for queries ~1.5x faster."""
    from covertui.embed.pipeline import embedder
    from covertui.search import Searcher
    from covertui.sync import SyncChoice, sync

    siglip = dataclasses.replace(settings, model=str(tiny_siglip), device="cpu", dtype="float32")
    sync(siglip, SyncChoice(all=True), embed=embedder(siglip))
    expected = [h.cover for h in Searcher(siglip).search("青い猫", top=3).hits]
    app = AppUnderTest(siglip)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.model_ready and not any(w.group == "model" and w.is_running
                                                               for w in app.workers))
        assert app.searcher.model.numpy_text and not app.searcher.model.torch_text_pays
        assert [h.cover for h in app.searcher.search("青い猫", top=3).hits] == expected
