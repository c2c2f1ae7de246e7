"""CLIP embedding and search with tiny random checkpoints loaded through from_pretrained."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from covertui.embed.model import ClipModel, ImageSpec, resolve_device
from covertui.embed.pipeline import embed_covers, embedder
from covertui.embed.preprocess import PREPROCESS_VERSION, load_pixels
from covertui.embed.store import EmbeddingStore
from covertui.errors import Cancelled, ModelError, NothingIndexed, QueryError
from covertui.index import CoverIndex
from covertui.progress import CancelToken
from covertui.query import Term, parse_query
from covertui.search import Searcher
from covertui.sync import SyncChoice, sync

from fake_spotify import cover_id


@pytest.fixture
def images(tmp_path):
    """Covers of the kinds met in the wild: JPEG of several sizes, PNG with alpha, grey, palette, CMYK."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    specs = [("a.jpg", (300, 300), "RGB", "JPEG"), ("b.jpg", (640, 640), "RGB", "JPEG"),
             ("c.png", (500, 320), "RGBA", "PNG"), ("d.jpg", (64, 64), "L", "JPEG"),
             ("e.png", (333, 480), "P", "PNG"), ("f.jpg", (300, 300), "CMYK", "JPEG")]
    paths = []
    for name, size, mode, fmt in specs:
        arr = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        img = Image.fromarray(arr).resize(size, Image.BILINEAR).convert(mode)
        img.save(folder / name, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        paths.append(folder / name)
    return paths


def test_preprocessing_matches_the_checkpoints_processor(settings, images):
    import torch
    from transformers import CLIPImageProcessor, CLIPModel

    ours = ClipModel(settings)
    processor = CLIPImageProcessor.from_pretrained(ours.path)
    reference = CLIPModel.from_pretrained(ours.path).eval()
    pixels = torch.from_numpy(np.stack([load_pixels(p, ours.spec) for p in images]))
    mine = ours.encode_pixels(pixels)
    with torch.inference_mode():
        inputs = processor(images=[Image.open(p).convert("RGB") for p in images], return_tensors="pt")
        theirs = reference.get_image_features(**inputs).pooler_output
    theirs = torch.nn.functional.normalize(theirs, dim=-1).numpy()
    cosines = (mine * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, cosines


@pytest.mark.parametrize("resample", [3, 2])
def test_torch_resize_gives_pils_pixels(images, resample):
    """The faster resize (torch's) and PIL's agree to 2 levels on every kind of cover, upscaled and
    cropped ones too, so the vectors cached with either stay valid."""
    spec = ImageSpec(size=224, crop=224, mean=(0.5,) * 3, std=(0.5,) * 3, resample=resample)
    for path in images:
        pil, fast = (load_pixels(path, spec, fast=f).astype(int) for f in (False, True))
        assert pil.shape == fast.shape == (3, 224, 224) and pil.flags.c_contiguous
        assert np.abs(pil - fast).max() <= 2, path.name
        assert (pil != fast).mean() < 0.1, path.name


def test_search_loads_only_the_text_tower(settings):
    model = ClipModel(settings, towers=("text",))
    assert model.text is not None and model.vision is None
    assert model.encode_text(["a blue cover"]).shape == (1, 16)


def synced(settings, **selection):
    return sync(settings, SyncChoice(**(selection or {"all": True})), embed=embedder(settings))


def test_sync_embeds_then_reuses_the_cache(fake, settings, logged_in):
    first = synced(settings)
    assert first.embedded == 40 and first.covers == 40
    again = synced(settings)
    assert again.embedded == 0 and again.downloaded == 0


def test_switching_models_keeps_both_sets(fake, settings, make_settings, other_model, logged_in):
    synced(settings)
    other = make_settings(COVERTUI_MODEL=str(other_model))
    assert synced(other).embedded == 40
    assert synced(settings).embedded == 0  # the first model's vectors are still there
    a, b = ClipModel(settings, towers=()), ClipModel(other, towers=())
    assert a.identity != b.identity
    assert len(EmbeddingStore(settings.paths, a.identity, PREPROCESS_VERSION)) == 40
    assert len(EmbeddingStore(settings.paths, b.identity, PREPROCESS_VERSION)) == 40


def test_interrupted_embedding_resumes_where_it_stopped(fake, settings, logged_in):
    sync(settings, SyncChoice(all=True))  # download only
    model = ClipModel(settings, towers=("vision",))
    store = EmbeddingStore(settings.paths, model.identity, PREPROCESS_VERSION)
    from covertui.catalog import Catalog

    with Catalog(settings.paths) as catalog:
        covers = {cid: c.path for cid, c in catalog.covers().items()}
    cancel = CancelToken()
    calls = []

    def progress(p):
        if p.stage == "embed" and p.done:
            calls.append(p.done)
            cancel.cancel()

    with pytest.raises(Cancelled):
        embed_covers(model, store, covers, progress, cancel, batch_size=8)
    reopened = EmbeddingStore(settings.paths, model.identity, PREPROCESS_VERSION)
    assert len(reopened) == 8  # the finished batch was stored
    report = embed_covers(model, reopened, covers, batch_size=8)
    assert report.embedded == 32 and len(reopened) == 40


def test_out_of_memory_shrinks_the_batch(fake, settings, logged_in, monkeypatch):
    sync(settings, SyncChoice(liked=True))
    model = ClipModel(settings, towers=("vision",))
    real = model.encode_pixels

    def small_device(pixels):
        if len(pixels) > 4:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(pixels)

    monkeypatch.setattr(model, "encode_pixels", small_device)
    store = EmbeddingStore(settings.paths, model.identity, PREPROCESS_VERSION)
    from covertui.catalog import Catalog

    with Catalog(settings.paths) as catalog:
        covers = {cid: c.path for cid, c in catalog.covers().items()}
    report = embed_covers(model, store, covers, batch_size=16)
    assert report.embedded == len(covers) and report.batch_size == 4


def test_ranking_matches_vectors_computed_by_hand():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(500, 8)).astype(np.float32)
    ids = [f"c{i}" for i in range(500)]
    index = CoverIndex(ids, vectors)
    query = rng.normal(size=8).astype(np.float32)
    query /= np.linalg.norm(query)
    normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.argsort(-(normed @ query))[:10]
    ranked = index.rank(query, top=10)
    assert [cid for cid, _ in ranked] == [ids[i] for i in expected]
    assert np.allclose([s for _, s in ranked], (normed @ query)[expected], atol=1e-6)
    mask = index.rows_of({"c3", "c7", "c11"})
    assert {cid for cid, _ in index.rank(query, top=10, mask=mask)} == {"c3", "c7", "c11"}
    assert "c3" not in {cid for cid, _ in index.rank(index.vector("c3"), top=5, exclude="c3")}


def test_device_ranking_agrees_with_numpy():
    """The torch path used on GPUs, run here on the CPU device: same order, fp16-close scores."""
    rng = np.random.default_rng(2)
    ids = [f"c{i}" for i in range(300)]
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    numpy_index, torch_index = CoverIndex(ids, vectors), CoverIndex(ids, vectors, device="cpu", torch=True)
    query = numpy_index.matrix[5] + 0.5 * numpy_index.matrix[9]
    query /= np.linalg.norm(query)
    mask = numpy_index.rows_of({f"c{i}" for i in range(0, 300, 2)})
    expected = numpy_index.rank(query, 10, mask, exclude="c4")
    got = torch_index.rank(query, 10, mask, exclude="c4")
    assert [c for c, _ in got][:3] == [c for c, _ in expected][:3]
    assert np.allclose([s for _, s in got], [s for _, s in expected], atol=5e-3)
    assert all(int(c[1:]) % 2 == 0 and c != "c4" for c, _ in got)
    first, group = np.array([40, 41, 42]), np.arange(300) // 2 * 2  # a name's rows; pictures in pairs
    expected = numpy_index.rank(query, 10, mask, first=first, group=group)
    got = torch_index.rank(query, 10, mask, first=first, group=group)
    assert {c for c, _ in got[:2]} == {c for c, _ in expected[:2]} == {"c40", "c42"}  # the name's rows first
    assert len({int(c[1:]) // 2 for c, _ in got}) == len(got) == 10  # one row per picture


def test_query_syntax():
    assert parse_query("blue cover with a cat - lo-fi") == [Term("text", "blue cover with a cat - lo-fi")]
    assert parse_query('"sunset" + 0.5*"cat" - "text"') == [
        Term("text", "sunset"), Term("text", "cat", 0.5), Term("text", "text", -1.0)]
    assert parse_query('@abc123 - "text" + image:/tmp/x.png') == [
        Term("cover", "abc123"), Term("text", "text", -1.0), Term("image", "/tmp/x.png")]
    for bad in ['"a" "b"', '"" + "x"', "   "]:
        with pytest.raises(QueryError):
            parse_query(bad)


def test_combined_query_is_the_weighted_sum(fake, settings, logged_in):
    synced(settings)
    searcher = Searcher(settings)
    a, b = searcher.model.encode_text(["sunset", "cat"])
    expected = a - 0.5 * b
    expected /= np.linalg.norm(expected)
    got = searcher.query_vector(parse_query('"sunset" - 0.5*"cat"'))
    assert np.allclose(got, expected, atol=1e-6)
    more = searcher.search(f"@{cover_id(3)}", top=5)
    assert cover_id(3) not in [h.cover for h in more.hits] and len(more.hits) == 5
    top = searcher.search(f'@{cover_id(3)} + "cat"', top=1)
    assert top.hits  # a cover and text combine


def test_image_file_query_finds_that_cover(fake, settings, logged_in):
    synced(settings)
    searcher = Searcher(settings)
    path = searcher.covers[cover_id(7)].path
    result = searcher.search(f"image:{path}", top=1)
    assert result.hits[0].cover == cover_id(7) and result.hits[0].score > 0.999


def test_source_filter(fake, settings, logged_in):
    fake.library.playlists[2].entries = fake.library.playlists[2].entries[:5]  # covers 0..4 only
    synced(settings)
    searcher = Searcher(settings)
    only = searcher.search("a red cover", top=50, sources=["playlist000000000002abcd"])
    assert {h.cover for h in only.hits} == {cover_id(n) for n in range(80, 85) for n in [n % 40]}
    assert len(searcher.search("a red cover", top=50).hits) == 40


def test_folder_source_needs_no_spotify(make_settings, tmp_path, images):
    settings = make_settings(SPOTIPY_CLIENT_ID="")
    (images[0].parent / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (images[0].parent / "notes.txt").write_text("not an image")
    summary = synced(settings, folders=[str(images[0].parent)])
    assert summary.embedded == len(images) and summary.failed == [
        {"cover": "broken.jpg", "reason": "unreadable image: not an image (UnidentifiedImageError)"}]
    hit = Searcher(settings).search(f"image:{images[2]}", top=1).hits[0]
    assert hit.path == str(images[2]) and hit.tracks == []


def test_cli_search_json(fake, settings, logged_in, cli_env):
    synced(settings)
    run = subprocess.run([sys.executable, "-m", "covertui", "search", "a blue cover", "--top", "3", "--json"],
                         env=cli_env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["query"] == "a blue cover" and out["model"].endswith("tiny-clip") and out["elapsed_ms"] > 0
    assert len(out["results"]) == 3
    first = out["results"][0]
    assert set(first) == {"score", "cover", "path", "url", "tracks", "sources", "copies"}
    assert first["path"].endswith(".jpg") and first["tracks"][0]["url"].startswith("https://open.spotify.com/track/")
    scores = [r["score"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_before_any_sync_is_a_clear_error(settings, cli_env):
    with pytest.raises(NothingIndexed, match="covertui sync"):
        Searcher(settings).search("cat")
    run = subprocess.run([sys.executable, "-m", "covertui", "search", "cat"], env=cli_env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode != 0 and "covertui sync" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("args,match", [
    (["--model", "no-such-org/no-such-model"], "no-such-org/no-such-model"),
    (["--model", "/nonexistent/folder"], "not a model folder"),
    (["--device", "cuda"], "no CUDA device"),
])
def test_model_and_device_errors_are_one_line(cli_env, args, match):
    run = subprocess.run([sys.executable, "-m", "covertui", *args, "search", "cat"], env=cli_env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and match in run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_device_auto_selects_cpu_here():
    assert resolve_device(None) == "cpu"
    with pytest.raises(ModelError):
        resolve_device("tpu")


def test_corrupt_image_in_covers_is_reported_not_fatal(fake, settings, logged_in):
    sync(settings, SyncChoice(liked=True))
    victim = next(settings.paths.covers_dir.glob("*.jpg"))
    victim.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    summary = synced(settings, liked=True)
    assert summary.embedded == 39
    assert {"cover": victim.stem, "reason": "unreadable image: not an image (OSError)"} in summary.failed


def test_concurrent_model_loads_keep_their_dtype(make_settings, tmp_path):
    """The app loads the text tower while a sync loads the vision tower: both must come out bf16."""
    import threading

    import torch

    from tiny_clip import make_clip

    path = make_clip(tmp_path / "mid-clip", text_hidden=128, text_layers=4, vision_hidden=128, vision_layers=4)
    settings = make_settings(COVERTUI_MODEL=str(path), COVERTUI_DTYPE="bfloat16")
    wrong = []

    def load(towers):
        model = ClipModel(settings, towers=towers)
        model.load_torch_text()  # the text tower may come from numpy (text_fast.py) once one load saved it
        wrong.extend(n for t in towers for n, p in getattr(model, t).named_parameters() if p.dtype != torch.bfloat16)

    for _ in range(8):  # a race: without the lock about half of the runs of this test catch it
        threads = [threading.Thread(target=load, args=(t,)) for t in (("text",), ("vision",), ("text", "vision"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert wrong == []


def test_int8_is_a_choice_on_the_cpu_with_its_own_vectors(make_settings, tmp_path):
    exact = ClipModel(make_settings(COVERTUI_DTYPE="float32"), towers=("vision", "text"))
    quick = ClipModel(make_settings(COVERTUI_DTYPE="int8"), towers=("vision", "text"))
    assert quick.identity == exact.identity + "+int8" and "int8" in quick.description  # never mixed with exact ones
    import torch

    pixels = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (8, 3, 224, 224), dtype=np.uint8))
    drift = 1 - (exact.encode_pixels(pixels) * quick.encode_pixels(pixels)).sum(axis=1)
    assert drift.max() < 0.02  # close to the exact vectors, not equal
    assert (exact.encode_text(["a red cover"]) * quick.encode_text(["a red cover"])).sum() > 0.98
    with pytest.raises(ModelError, match="CPU only"):
        from covertui.embed.model import resolve_dtype

        resolve_dtype("cuda", "int8")
