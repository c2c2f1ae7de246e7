"""Names in the query box: artists, albums and tracks matched in any case, without accents and with
small typos, ranked first and ordered by the rest of the query's look; filters that narrow."""

from __future__ import annotations

import numpy as np
import pytest

from covertui.embed.pipeline import embedder
from covertui.index import CoverIndex
from covertui.names import normalize, split_filters
from covertui.search import Searcher
from covertui.sync import SyncChoice, sync

from fake_spotify import cover_id

NAMES = {  # cover -> (artist, album, title) of every track with that cover
    1: ("Björk", "Homogenic", "Jóga"), 2: ("Björk", "Vespertine", "Hidden Place"), 3: ("Björk", "Post", "Army of Me"),
    4: ("Sigur Rós", "Ágætis byrjun", "Svefn-g-englar"), 5: ("Sigur Rós", "Takk...", "Hoppípolla"),
    6: ("Radiohead", "OK Computer", "Airbag"), 7: ("Nobody Famous", "Evening", "Blue Hour"),
}


@pytest.fixture
def named(fake, settings, logged_in):
    for entry in [e for p in fake.library.playlists for e in p.entries] + fake.library.liked:
        item = entry.get("item") or entry.get("track")
        cover = int(item["album"]["id"].removeprefix("album"))
        if cover in NAMES:
            artist, album, title = NAMES[cover]
            item["artists"] = [{"name": artist, "id": normalize(artist)}]
            item["album"]["name"], item["name"] = album, title
    sync(settings, SyncChoice(all=True), embed=embedder(settings))
    return Searcher(settings)


def covers(*numbers) -> set[str]:
    return {cover_id(n) for n in numbers}


def test_names_are_matched_like_people_type_them():
    assert normalize("Sigur Rós — Ágætis byrjun!") == "sigur ros agaetis byrjun"
    assert split_filters('artist:"sigur ros" blue album:takk') == ("blue", [("artist", "sigur ros"), ("album", "takk")])
    assert split_filters("a blue cover") == ("a blue cover", [])


@pytest.mark.parametrize("query, expected, matched", [
    ("bjork", covers(1, 2, 3), "artist: bjork"),
    ("BJÖRK", covers(1, 2, 3), "artist: bjork"),
    ("sigur ros", covers(4, 5), "artist: sigur ros"),
    ("radiohed", covers(6), "artist: radiohead"),  # a typo
    ("ok computr", covers(6), "album: ok computer"),
    ("hoppipolla", covers(5), "track: hoppipolla"),
])
def test_a_name_ranks_its_covers_first(named, query, expected, matched):
    result = named.search(query, top=10)
    assert result.matched == matched
    assert {h.cover for h in result.hits[:len(expected)]} == expected
    assert len(result.hits) == 10  # the others follow, by look


def test_the_rest_of_the_query_orders_the_named_covers_by_look(named):
    result = named.search("bjork blue", top=40)
    bluest = [h.cover for h in named.search("blue", top=40).hits if h.cover in covers(1, 2, 3)]
    assert result.matched == "artist: bjork" and [h.cover for h in result.hits[:3]] == bluest
    assert [h.cover for h in result.hits[3:]] == [h.cover for h in named.search("blue", top=40).hits
                                                 if h.cover not in covers(1, 2, 3)]


def test_a_description_sharing_a_word_with_a_title_stays_visual(named):
    result = named.search("a blue cover with a cat", top=40)
    assert result.matched == "" and result.hits[0].cover == named.search('"a blue cover with a cat"', top=1).hits[0].cover


def test_filters_narrow_and_combine(named):
    assert {h.cover for h in named.search('artist:"sigur ros" blue', top=40).hits} == covers(4, 5)
    assert {h.cover for h in named.search("album:agaetis", top=40).hits} == covers(4)
    assert {h.cover for h in named.search('track:"blue hour"', top=40).hits} == covers(7)
    assert {h.cover for h in named.search("artist:bjork album:post", top=40).hits} == covers(3)
    assert named.search("artist:nobodyatall red", top=40).hits == []
    only_liked = named.search("artist:bjork", top=40, sources=["liked"]).hits  # with the source picker
    assert {h.cover for h in only_liked} == covers(1, 2, 3) and all("liked" in h.sources for h in only_liked)
    assert {h.cover for h in named.search(f"@{cover_id(1)} artist:bjork", top=40).hits} == covers(2, 3)


def test_a_weak_look_with_the_name_beats_a_strong_look_without():
    vectors = np.array([[1.0, 0.0], [0.1, 1.0], [0.8, 0.6]], dtype=np.float32)
    index = CoverIndex(["strong", "named-weak", "middle"], vectors)
    ranked = index.rank(np.array([1.0, 0.0]), top=3, first=np.array([1]))
    assert [cid for cid, _ in ranked] == ["named-weak", "strong", "middle"]
    assert ranked[0][1] == pytest.approx(0.1 / np.hypot(0.1, 1.0), abs=1e-4)  # its true cosine, not the boost
    assert [cid for cid, _ in index.rank(np.array([1.0, 0.0]), top=3)] == ["strong", "middle", "named-weak"]


def test_a_tile_shared_by_several_tracks_is_captioned_with_the_one_named(synced):
    """Cover 5 carries Song 5, Song 45 and Song 85 (artists 5, 45 and 85): asked for artist 85, its
    tile says Song 85, and y copies that track's link."""
    for query, title in (("artist 85", "Song 85"), ("song 45", "Song 45")):
        hit = Searcher(synced).search(query, top=5).hits[0]
        assert hit.cover == cover_id(5) and hit.title == title, query
        assert hit.tracks[0].url.endswith(f"track{int(title.split()[1]):06d}")
    assert Searcher(synced).search("a red cover", top=40).hits  # no name: catalog order, as before
