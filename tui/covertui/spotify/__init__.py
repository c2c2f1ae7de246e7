"""Spotify: login (auth) and reading the user's library (library)."""
