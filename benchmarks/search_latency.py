"""Search latency (p50/p95) at 10,000 and 100,000 covers, text encoding included; ranking alone;
peak memory of a search-only process. Baseline in the same run: the original tool's way, the full
CLIPModel's get_text_features and a full argsort of all scores.
Targets on CPU with ViT-B/32 shapes: p50 <= 20 ms at 10,000; ranking alone <= 10 ms at 100,000.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import covertui  # noqa: F401  first, as in the CLI: it sets up numpy's threads before numpy loads

from _common import checkpoint

QUERIES = ["blue cover with a cat", "sunset over the sea", "black and white portrait", "neon city at night",
           "a red car", "hand drawn flowers", "orange cover", "two people on a beach", "retro pixel art",
           "a dog with sunglasses"]


def random_vectors(n: int, dim: int) -> np.ndarray:
    """float16 rows, as the embedding store holds them, made without a float64 copy of the whole."""
    rng = np.random.default_rng(0)
    out = np.empty((n, dim), dtype=np.float16)
    for start in range(0, n, 10_000):
        out[start:start + 10_000] = rng.standard_normal((min(10_000, n - start), dim), dtype=np.float32)
    return out


def index_load_seconds(dim: int, n: int = 100_000) -> float:
    """Write n vectors batch by batch through the real store (compacted as a run ends), then time a fresh
    process's view: open the store, read the vectors, build the CoverIndex."""
    import torch  # noqa: F401  loaded with the model in every search session (fast fp16 -> fp32)

    from covertui.config import load_settings
    from covertui.embed.store import EmbeddingStore
    from covertui.index import CoverIndex

    home = Path(tempfile.mkdtemp(prefix="covertui-index-"))
    paths = load_settings(environ={"COVERTUI_HOME": str(home)}, cwd=home).paths
    store = EmbeddingStore(paths, "bench@0", 1)
    vectors = random_vectors(n, dim)
    for start in range(0, n, 256):
        store.add([f"c{i}" for i in range(start, min(n, start + 256))], vectors[start:start + 256])
    store.compact()
    store.close()
    started = time.perf_counter()
    fresh = EmbeddingStore(paths, "bench@0", 1)
    CoverIndex(*fresh.matrix())
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def settings_for(path: Path, dtype: str | None):
    from covertui.config import load_settings

    home = Path(tempfile.mkdtemp(prefix="covertui-search-"))
    settings = load_settings(environ={"COVERTUI_HOME": str(home)}, cwd=home)
    return dataclasses.replace(settings, model=str(path), device="cpu", dtype=dtype)


def memory(path: Path, towers: str, n: int) -> float:
    """Peak RSS (MiB) of a fresh process that loads the given towers and an index of n covers."""
    code = f"""
import numpy as np, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from search_latency import settings_for
from covertui.embed.model import ClipModel
from covertui.index import CoverIndex
from pathlib import Path
from search_latency import random_vectors
model = ClipModel(settings_for(Path({str(path)!r}), None), towers={tuple(towers.split(','))!r})
index = CoverIndex([str(i) for i in range({n})], random_vectors({n}, model.dim))
index.rank(model.encode_text(["a cat"])[0], 50)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def name_matching(covers: int = 10_000, tracks_per_cover: int = 3, queries: int = 60) -> dict:
    """What names in the query add to a search: NameIndex.find() per query, at `covers` covers with
    3 tracks each (artist, album, title), for descriptions (no name) and for misspelt names followed
    by a look, typed key by key as in the app; and the index's build time."""
    import random

    from covertui.models import Cover, Track
    from covertui.names import NameIndex

    rng = random.Random(0)
    syllables = ["ka", "lo", "mi", "ra", "sen", "tor", "vel", "ith", "bjor", "un", "dal", "ros", "gri", "pho", "zan"]
    word = lambda: "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3)))  # noqa: E731
    artists = [" ".join(word() for _ in range(rng.randint(1, 2))).title() for _ in range(covers // 4)]
    catalog, rows = {}, {}
    for i in range(covers):
        artist, album = rng.choice(artists), " ".join(word() for _ in range(rng.randint(1, 3))).title()
        tracks = [Track(f"t{i}-{k}", " ".join(word() for _ in range(rng.randint(1, 4))).title(), [artist], album,
                        "", "", f"c{i}", "") for k in range(tracks_per_cover)]
        catalog[f"c{i}"], rows[f"c{i}"] = Cover(f"c{i}", tracks=tracks), i
    started = time.perf_counter()
    names = NameIndex(catalog, rows)
    build = time.perf_counter() - started

    def timed(texts: list[str]) -> list[float]:
        samples = []
        for text in texts:
            started = time.perf_counter()
            names.find(text)
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    described = timed([f"{QUERIES[q % len(QUERIES)]} {q}" for q in range(queries)])
    typed = []
    for _ in range(queries // 3):
        name = rng.choice(artists).lower()
        cut = rng.randrange(len(name))
        text = f"{name[:cut]}{name[cut + 1:]} blue cover"  # one letter missing
        typed += timed([text[:end] for end in range(3, len(text) + 1)])
    return {"build_s": build, "described": percentiles(described), "typed": percentiles(typed),
            "tracks": covers * tracks_per_cover}


def folding(covers: int = 10_000, dim: int = 512, queries: int = 200) -> dict:
    """One tile per picture: finding the copies (at each index load) and what folding adds to ranking.
    One cover in 20 is a copy of another (a single beside its album, a remaster)."""
    from covertui.index import CoverIndex
    from covertui.pictures import Picture, copies

    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, covers, dtype=np.int64)
    grids = rng.integers(0, 255, (covers, 48), dtype=np.uint8)
    twins = rng.choice(covers, covers // 20, replace=False)
    hashes[twins[1::2]], grids[twins[1::2]] = hashes[twins[::2]] ^ 0b101, grids[twins[::2]]  # 2 bits apart
    ids = [f"c{i}" for i in range(covers)]
    pictures = {cid: Picture(int(h), 0.0, 0.5, g.tobytes()) for cid, h, g in zip(ids, hashes, grids)}
    started = time.perf_counter()
    group = copies(ids, pictures)
    build = time.perf_counter() - started
    vectors = random_vectors(covers, dim)
    vectors[twins[1::2]] = vectors[twins[::2]]  # a copy looks the same to the model too
    index = CoverIndex(ids, vectors)
    asked = rng.standard_normal((queries, dim)).astype(np.float32)
    plain, folded = [], []
    for query in asked:  # alternated, so that neither gets the warmer caches
        for samples, by in ((plain, None), (folded, group)):
            started = time.perf_counter()
            index.rank(query, 60, None, group=by)
            samples.append((time.perf_counter() - started) * 1000)
    from covertui.models import Cover, Track
    from covertui.search import _View

    catalog = {cid: Cover(cid, tracks=[Track(f"{cid}-{k}", f"Song {k}", [f"Artist {i % 2500}"], f"Album {i}", "", "",
                                             cid, "", added_at=f"2026-{1 + i % 12:02d}-{1 + k:02d}T10:00:00Z")
                                       for k in range(3)], sources={"liked"}) for i, cid in enumerate(ids)}
    browse = {}
    for order in ("recent", "colour", "artist"):
        view = _View(index, catalog, pictures, group)
        started = time.perf_counter()
        view.key(order)  # once per order and index load
        first = time.perf_counter() - started
        rows = np.flatnonzero(view.mask(None))
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            rows[np.argsort(view.key(order)[rows], kind="stable")]
            samples.append((time.perf_counter() - started) * 1000)
        browse[order] = (first * 1000, percentiles(samples)[0])
    return {"build_s": build, "folded_pictures": int((group != np.arange(covers)).sum()),
            "plain": percentiles(plain), "folded": percentiles(folded), "browse": browse}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="vit-b32", choices=["vit-b32", "vit-l14", "siglip2-b32", "siglip2-so400m"])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "covertui-bench")
    args = parser.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer

    from covertui.embed.model import ClipModel
    from covertui.index import CoverIndex

    path = checkpoint(args.work, args.shape)
    model = ClipModel(settings_for(path, None), towers=("text",))
    print(f"model: {model.description} (text tower only)")
    full = AutoModel.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    pad = {"padding": "max_length", "max_length": 64} if model.family == "siglip" else {}
    results = {}
    for n in (10_000, 100_000):
        index = CoverIndex([f"c{i}" for i in range(n)], random_vectors(n, model.dim))
        mask = np.ones(n, dtype=bool)
        total, rank_only, naive = [], [], []
        texts = [f"{QUERIES[q % len(QUERIES)]} {n} {q}" for q in range(args.queries)]  # new texts: no cache hits
        for text in texts:  # covertui: text tower, cached embeddings, partial sort
            started = time.perf_counter()
            vector = model.encode_text([text])[0]
            index.rank(vector, 50, mask)
            total.append((time.perf_counter() - started) * 1000)
        for _ in texts:
            started = time.perf_counter()
            index.rank(vector, 50, mask)
            rank_only.append((time.perf_counter() - started) * 1000)
        for text in texts:  # baseline, in its own loop so that neither evicts the other from the caches
            started = time.perf_counter()
            with torch.no_grad():
                feats = full.get_text_features(**tokenizer([text], return_tensors="pt", **pad)).pooler_output
                feats = (feats / feats.norm(dim=-1, keepdim=True))[0].numpy()
            np.argsort(-(index.matrix @ feats))[:50]
            naive.append((time.perf_counter() - started) * 1000)
        results[n] = (percentiles(total), percentiles(rank_only), percentiles(naive))
        (p50, p95), (r50, r95), (b50, b95) = results[n]
        print(f"{n:>7} covers: search p50 {p50:6.1f} ms, p95 {p95:6.1f} ms | ranking alone p50 {r50:5.1f} ms, "
              f"p95 {r95:5.1f} ms | baseline p50 {b50:6.1f} ms -> {b50 / p50:.1f}x faster")
    cached = []
    for q in range(args.queries):
        started = time.perf_counter()
        model.encode_text([QUERIES[q % len(QUERIES)]])
        cached.append((time.perf_counter() - started) * 1000)
    print(f"repeated query text (cached embedding): p50 {percentiles(cached)[0]:.3f} ms")
    names = name_matching()
    (d50, d95), (t50, t95) = names["described"], names["typed"]
    print(f"names in the query, 10,000 covers / {names['tracks']:,} tracks: index built in {names['build_s']:.2f} s; "
          f"a description p50 {d50:.2f} / p95 {d95:.2f} ms, a misspelt name typed key by key p50 {t50:.2f} / "
          f"p95 {t95:.2f} ms; against the 10k search p50 {results[10_000][0][0]:.1f} ms   (target: <= 5 ms added)")
    fold = folding(dim=model.dim)
    (u50, u95), (f50, f95) = fold["plain"], fold["folded"]
    print(f"one tile per picture, 10,000 covers ({fold['folded_pictures']} copies): copies found in "
          f"{fold['build_s']:.3f} s; ranking p50 {u50:.2f} / p95 {u95:.2f} ms unfolded, {f50:.2f} / {f95:.2f} ms "
          f"folded (+{f50 - u50:.2f} ms p50)")
    print("browsing 10,000 covers, order built once per index load / then sorted p50: " + ", ".join(
        f"{order} {first:.0f} / {then:.2f} ms" for order, (first, then) in fold["browse"].items()))
    print(f"loading the index of 100,000 covers (store on disk -> CoverIndex): {index_load_seconds(model.dim):.2f} s")
    text_only = memory(path, "text", 100_000)
    both = memory(path, "vision,text", 100_000)
    print(f"peak memory, search-only process with 100,000 covers: {text_only:.0f} MiB "
          f"(loading both towers: {both:.0f} MiB, {both / text_only:.2f}x)")
    print(json.dumps({str(k): v for k, v in results.items()}))


if __name__ == "__main__":
    main()
