"""A library whose names were chosen by an attacker: anyone who shares a collaborative playlist with the
user names some of them. Markup, escape sequences, C1 controls, bidi overrides, right-to-left text and
very long names, in every field covertui shows; device names too."""

from __future__ import annotations

from fake_spotify import Library, Playlist, cover_hash, device, track_obj

OSC52 = "\x1b]52;c;aGFja2Vk\x07"  # writes "hacked" to the user's clipboard
CLICK = "[@click=app.screenshot('pwned.svg','{dir}')]click me[/]"
NAMES = [
    "Broken [/] name",  # a MarkupError at start, once
    "Song [Live at Wembley]",  # a title markup would shorten to "Song "
    "[link=https://evil.example/x]a link[/link] and [b]bold[/b]",
    f"clip{OSC52}board",
    "wipe\x1b[2J\x1b]0;owned title\x07 screen",
    "c1 \u009b2J csi",  # C1 CSI: ESC [ in one character
    "bidi \u202eevil\u202c override",
    "שלום עולם — مرحبا",  # right-to-left text is fine, and shown
    "Long " + "x" * 400,
]
# What must never reach the terminal, whatever the code path
INJECTED = ["\x1b]52;c;aGFja2Vk", "\x1b[2J", "\x1b]0;owned", "\u009b", "\u202e", "\x1b]8;", "evil.example/x\x1b"]


def visible(name: str) -> str:
    """What covertui shows of a name: the name, each control or bidi character as `?`."""
    from covertui.text import clean

    return clean(name)


def hostile_library(click_dir: str) -> Library:
    """Playlists named as above, their tracks, artists and albums named likewise, and devices too."""
    names = NAMES + [CLICK.format(dir=click_dir)]
    lib = Library(display_name="[red]Me[/red]")
    for c in range(len(names)):
        lib.covers[cover_hash(c)] = c
    for p, name in enumerate(names):
        entries = []
        for k in range(2):
            n = p * 2 + k
            track = track_obj(n, p, title=names[(p + k) % len(names)])
            track["artists"] = [{"name": names[(p + k + 1) % len(names)], "id": f"artist{n}"}]
            track["album"]["name"] = names[(p + k + 2) % len(names)]
            entries.append({"added_at": "2026-01-01T00:00:00Z", "is_local": False, "item": track})
        lib.playlists.append(Playlist(f"playlist{p:012d}abcd", name, "me", entries, collaborative=True))
    lib.liked = []
    lib.devices = [device(f"Kitchen{OSC52}"), device("Den\x1b[2J [b]TV[/b] \u202eevil")]
    return lib
