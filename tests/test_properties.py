"""Random input never raises anything but covertui's own errors: the query parser, the API item parser,
`.env` loading (property-based, with hypothesis)."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from covertui.config import load_settings
from covertui.errors import CovertuiError
from covertui.models import Track
from covertui.names import split_filters
from covertui.query import parse_query
from covertui.spotify.library import choose_image, parse_entry
from covertui.text import clean

QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# JSON as an API could answer it, biased towards the keys the parser reads
KEYS = st.sampled_from(["item", "track", "id", "type", "name", "artists", "album", "images", "url", "width",
                        "external_urls", "spotify", "is_local", "show", "added_at", "release_date", "publisher", "x"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=30)
QUERY_ALPHABET = st.characters(codec="utf-8") | st.sampled_from(list('"@+-*.:0123456789 image:artist:year:\\'))


@QUICK
@given(st.text(alphabet=QUERY_ALPHABET, max_size=60))
def test_the_query_parser_raises_only_its_own_errors(query):
    text, filters = split_filters(query)
    try:
        terms = parse_query(text)
    except CovertuiError:
        return
    assert terms and all(t.kind in ("text", "cover", "image") for t in terms)


@QUICK
@given(st.text(max_size=40))
def test_text_queries_in_any_script_reach_the_model_whole(words):
    """A query without the syntax's marks is one text term, exactly as typed (any script)."""
    if words.strip() and not any(mark in words for mark in ('"', "@", "image:")):
        assert [(t.kind, t.value) for t in parse_query(words)] == [("text", words.strip())]


@QUICK
@given(JSON)
def test_the_item_parser_skips_what_it_cannot_use(entry):
    skipped = Counter()
    track = parse_entry(entry, skipped)
    assert (track is None) == (sum(skipped.values()) == 1)
    if track is not None:
        assert isinstance(track, Track) and track.id.isalnum() and track.cover_url.startswith(("http://", "https://"))
        assert all(isinstance(v, str) for v in (track.name, track.album, track.url, track.release, track.added_at))
        assert track.url.startswith("https://open.spotify.com/")


@QUICK
@given(st.dictionaries(KEYS, JSON, max_size=4), st.lists(st.dictionaries(st.sampled_from(["url", "width"]), JSON)))
def test_the_item_parser_reads_any_shape_of_track(item, images):
    entry = {"item": {**item, "id": "abc123", "album": {"images": images}}}
    parse_entry(entry, Counter())
    assert choose_image(images) is None or isinstance(choose_image(images), str)


ENV_LINE = st.one_of(
    st.text(max_size=30),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["SPOTIPY_CLIENT_ID", "COVERTUI_TIMEOUT", "COVERTUI_CONCURRENCY",
                                                        "COVERTUI_GRAPHICS", "COVERTUI_SPOTIFY_API_URL", "COVERTUI_HOME",
                                                        "COVERTUI_BATCH_SIZE", "export X"]),
              st.text(max_size=20)))


@QUICK
@given(st.lists(ENV_LINE, max_size=6), st.binary(max_size=20))
@example(["COVERTUI_HOME=\x00"], b"")
@example(['SPOTIPY_CLIENT_ID="a\x1b]52;c;x\x07"'], b"")
def test_env_files_give_settings_or_a_config_error(tmp_path_factory, lines, tail):
    folder = tmp_path_factory.mktemp("env")
    (folder / ".env").write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + tail)
    try:
        settings = load_settings(environ={"COVERTUI_HOME": str(folder / "home")}, cwd=folder)
    except CovertuiError as exc:
        assert clean(str(exc).replace("\n", " ")) == str(exc).replace("\n", " ")  # the message shows nothing raw
        return
    assert settings.concurrency >= 1 and settings.request_timeout > 0
