"""Beyond the query: year filters, browsing in an order, one tile per picture, and catalogs from
before these (completed by the next sync without downloading covers again)."""

from __future__ import annotations

import json
import subprocess
import sys

import diskcache
import numpy as np
import pytest
from PIL import Image, ImageDraw

from covertui.catalog import Catalog, SourceRecord
from covertui.embed.pipeline import embedder
from covertui.errors import QueryError
from covertui.names import normalize
from covertui.pictures import copies, measure
from covertui.search import Searcher
from covertui.sync import SyncChoice, sync

from fake_spotify import COLOURS, cover_id, make_jpeg

RAINBOW = ["red", "orange", "yellow", "green", "blue", "purple", "white", "black"]  # greys last, light to dark


@pytest.fixture
def everything(fake, settings, logged_in):
    sync(settings, SyncChoice(all=True), embed=embedder(settings))
    return Searcher(settings)


def background(cover: str) -> str:
    """The background colour the fake drew cover n with (make_jpeg)."""
    n = next(n for n in range(40) if cover_id(n) == cover)
    return list(COLOURS)[n % len(COLOURS)]


def year_of(n: int) -> int:
    return 1960 + n % 40  # the fake's release dates


def test_year_filters_narrow_to_the_release_years(everything):
    number = {cover_id(n): n for n in range(40)}
    hits = everything.search("year:1975", top=40).hits
    assert {number[h.cover] for h in hits} == {15}
    hits = everything.search("a red cover year:1980-1989", top=40).hits
    assert {number[h.cover] for h in hits} == set(range(20, 30))
    assert {number[h.cover] for h in everything.search("year:1990s", top=40).hits} == set(range(30, 40))
    assert {number[h.cover] for h in everything.search("year:1995-", top=40).hits} == set(range(35, 40))
    with pytest.raises(QueryError, match="year:1994"):
        everything.search("year:nineties", top=5)


def test_browsing_without_words_in_each_order(everything):
    recent = everything.search("", top=40)
    assert recent.order == "recent" and len(recent.hits) == 40
    newest = [max(t.added_at for t in h.tracks) for h in recent.hits]
    assert newest == sorted(newest, reverse=True)
    colour = everything.search("", top=40, order="colour").hits
    ranks = [RAINBOW.index(background(h.cover)) for h in colour]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == RAINBOW.index("black")
    artist = everything.search("", top=40, order="artist").hits
    names = [min(normalize(t.artists[0]) for t in h.tracks) for h in artist]
    assert names == sorted(names)
    only = everything.search("year:1970-1971", top=40, order="artist").hits  # filters alone browse too
    assert {h.cover for h in only} == {cover_id(10), cover_id(11)}


def test_a_query_in_another_order_keeps_the_best_matches(everything):
    best = everything.search("a blue cover", top=10)
    by_colour = everything.search("a blue cover", top=10, order="colour")
    assert {h.cover for h in by_colour.hits} == {h.cover for h in best.hits}
    ranks = [RAINBOW.index(background(h.cover)) for h in by_colour.hits]
    assert ranks == sorted(ranks)
    with pytest.raises(QueryError, match="Unknown order"):
        everything.search("blue", order="size")


def picture(size: int = 500) -> Image.Image:
    """A cover-like picture: shapes and a title."""
    rng = np.random.default_rng(7)
    img = Image.new("RGB", (size, size), (40, 70, 150))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = (int(v) for v in rng.integers(0, size - 150, 2))
        draw.ellipse([x, y, x + int(rng.integers(40, 150)), y + int(rng.integers(40, 150))],
                     fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw.text((20, size - 40), "THE SAME PICTURE", fill=(255, 255, 255))
    return img


def test_the_same_picture_is_one_result_with_its_copies(settings, tmp_path, cli_env):
    folder = tmp_path / "art"
    folder.mkdir()
    original = picture()
    original.save(folder / "album.png")
    original.resize((640, 640), Image.Resampling.LANCZOS).save(folder / "single.jpg", quality=70)
    recoloured = Image.merge("RGB", original.split()[::-1])  # the same shapes in other colours: not a copy
    recoloured.save(folder / "other-colours.png")
    for n in range(5):
        (folder / f"cover{n}.jpg").write_bytes(make_jpeg(n))
    summary = sync(settings, SyncChoice(folders=[str(folder)]), embed=embedder(settings))
    assert summary.embedded == 8
    result = Searcher(settings).search(f"image:{folder / 'album.png'}", top=10)
    assert len(result.hits) == 7
    first = result.hits[0]
    assert first.path.endswith("album.png") and len(first.copies) == 1
    files = {h.path.rsplit("/", 1)[-1] for h in result.hits}
    assert "other-colours.png" in files and len(files & {"album.png", "single.jpg"}) == 1
    unfolded = Searcher(settings).search(f"image:{folder / 'album.png'}", top=10, fold=False)
    assert len(unfolded.hits) == 8 and all(not h.copies for h in unfolded.hits)

    run = subprocess.run([sys.executable, "-m", "covertui", "search", "--sort", "colour", "--json"],
                         env=cli_env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["order"] == "colour" and len(out["results"]) == 7
    folded = [r for r in out["results"] if r["copies"]]
    assert len(folded) == 1 and len(folded[0]["copies"]) == 1
    run = subprocess.run([sys.executable, "-m", "covertui", "search", "--json", "--no-fold", "--sort", "recent"],
                         env=cli_env, capture_output=True, text=True, timeout=120)
    assert len(json.loads(run.stdout)["results"]) == 8
    run = subprocess.run([sys.executable, "-m", "covertui", "search"], env=cli_env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0 and "--sort" in run.stderr


def test_copies_are_told_by_picture_not_by_name(tmp_path):
    """The hash survives a resize and JPEG at quality 70; a series on one template in other colours
    does not fold, nor do the fake's covers, which share layouts."""
    img = picture()
    img.save(tmp_path / "a.png")
    img.resize((640, 640)).save(tmp_path / "b.jpg", quality=70)
    img.resize((200, 200)).save(tmp_path / "c.webp", quality=60)
    Image.merge("RGB", img.split()[::-1]).save(tmp_path / "d.png")
    pictures = {name: measure(tmp_path / name) for name in ("a.png", "b.jpg", "c.webp", "d.png")}
    assert list(copies(list(pictures), pictures)) == [0, 0, 0, 3]
    fakes = {str(n): measure(__import__("io").BytesIO(make_jpeg(n))) for n in range(40)}
    assert list(copies(list(fakes), fakes)) == list(range(40))


def test_a_catalog_from_before_is_completed_without_downloading_again(fake, settings, logged_in):
    sync(settings, SyncChoice(all=True), embed=embedder(settings))
    with Catalog(settings.paths) as catalog:  # as 0.2 stored it: no dates, no pictures
        for source in catalog.sources():
            record = catalog.record(source)
            for track in record.tracks:
                track.release = track.added_at = ""
            catalog.save_record(source, SourceRecord(record.snapshot_id, record.tracks, record.skipped, version=1))
    diskcache.Cache(str(settings.paths.catalog_dir)).delete("pictures")
    assert Searcher(settings).search("year:1975", top=5).hits == []
    summary = sync(settings, SyncChoice(), embed=embedder(settings))
    assert summary.downloaded == 0 and summary.embedded == 0 and not summary.unchanged
    searcher = Searcher(settings)
    assert [h.cover for h in searcher.search("year:1975", top=5).hits] == [cover_id(15)]
    with Catalog(settings.paths) as catalog:
        assert len(catalog.pictures()) == 40
    again = sync(settings, SyncChoice())
    assert len(again.unchanged) == len(again.sources)  # read once more, then known again
