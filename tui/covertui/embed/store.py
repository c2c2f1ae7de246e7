"""Embedding vectors in diskcache, keyed by (model identity, preprocessing version, cover id).

Vectors for one (model, preprocessing) pair live in chunks: one chunk per embedded batch,
each a record of cover ids and a float16 matrix, listed in an index record updated in the same
transaction. A killed run loses at most the batch in flight; loading 100,000 vectors reads a
few records, not 100,000. Other models' vectors are kept untouched.
"""

from __future__ import annotations

import sqlite3
import uuid

import numpy as np

from ..config import Paths
from ..errors import StoreError

COMPACT_AFTER = 64


class EmbeddingStore:
    def __init__(self, paths: Paths, model_identity: str, preprocess_version: int) -> None:
        import diskcache

        self.namespace = f"{model_identity}|p{preprocess_version}"
        try:
            paths.embeddings_dir.mkdir(parents=True, exist_ok=True)
            self._db = diskcache.Cache(str(paths.embeddings_dir), timeout=30)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"The embedding cache at {paths.embeddings_dir} cannot be opened ({exc}); move it "
                             "aside and run `covertui sync` again to rebuild it.") from None
        self._dir = paths.embeddings_dir
        self._loaded: set[str] = set()
        self._ids: list[str] = []
        self._parts: list[np.ndarray] = []
        self._row: dict[str, int] = {}
        self.refresh()

    def close(self) -> None:
        self._db.close()

    def _read(self, key):
        try:
            return self._db.get(key)
        except (sqlite3.DatabaseError, OSError, EOFError, ValueError) as exc:
            raise StoreError(f"The embedding cache at {self._dir} is damaged ({type(exc).__name__}); move it aside "
                             "and run `covertui sync` again to rebuild it.") from None

    def refresh(self) -> int:
        """Load chunks written since the last look (by this or another process). Returns rows added."""
        added = 0
        for key in self._read(("index", self.namespace)) or []:
            if key in self._loaded:
                continue
            chunk = self._read(("chunk", self.namespace, key))
            self._loaded.add(key)
            if chunk is None:
                continue
            added += self._take(chunk["ids"], np.frombuffer(chunk["vecs"], dtype=np.float16).reshape(len(chunk["ids"]), -1))
        return added

    def _take(self, ids: list[str], vecs: np.ndarray) -> int:
        fresh = [i for i, cid in enumerate(ids) if cid not in self._row]
        if not fresh:
            return 0
        for i in fresh:
            self._row[ids[i]] = len(self._ids)
            self._ids.append(ids[i])
        self._parts.append(vecs[fresh] if len(fresh) < len(ids) else vecs)
        return len(fresh)

    def __contains__(self, cover_id: str) -> bool:
        return cover_id in self._row

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: list[str], vectors: np.ndarray) -> None:
        """Persist one batch (one transaction), then keep it in memory."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float16)
        key = uuid.uuid4().hex
        with self._db.transact():
            self._db.set(("chunk", self.namespace, key), {"ids": list(ids), "vecs": vecs.tobytes()})
            index = list(self._read(("index", self.namespace)) or [])
            index.append(key)
            self._db.set(("index", self.namespace), index)
            self._db.set(("count", self.namespace), len(self._row) + len(set(ids).difference(self._row)))
        self._loaded.add(key)
        self._take(list(ids), vecs)

    def compact(self) -> None:
        """Merge many small chunks into one, so loading stays a handful of reads."""
        index = list(self._read(("index", self.namespace)) or [])
        if len(index) <= COMPACT_AFTER:
            return
        self.refresh()
        ids, matrix = self.matrix()
        key = uuid.uuid4().hex
        with self._db.transact():
            self._db.set(("chunk", self.namespace, key), {"ids": ids, "vecs": matrix.astype(np.float16).tobytes()})
            self._db.set(("index", self.namespace), [key])
            for old in index:
                self._db.delete(("chunk", self.namespace, old))
        self._loaded = {key}

    def matrix(self) -> tuple[list[str], np.ndarray]:
        """All cover ids with vectors, and their float16 rows in the same order."""
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        if not self._parts:
            return [], np.zeros((0, 0), dtype=np.float16)
        return list(self._ids), self._parts[0]


def vector_counts(paths: Paths) -> dict[str, int]:
    """Covers with vectors, by model identity (`name@hash`, as the store's namespaces begin), without
    reading the vectors (a store written before the counts were kept is read once, and counted)."""
    import diskcache

    if not paths.embeddings_dir.is_dir():
        return {}
    try:
        with diskcache.Cache(str(paths.embeddings_dir), timeout=30) as db:
            namespaces = {key[1] for key in db.iterkeys() if isinstance(key, tuple) and key[0] == "index"}
            counts = {ns: db.get(("count", ns)) for ns in namespaces}
    except (sqlite3.DatabaseError, OSError, EOFError, ValueError) as exc:
        raise StoreError(f"The embedding cache at {paths.embeddings_dir} is damaged ({type(exc).__name__}); move "
                         "it aside and run `covertui sync` again to rebuild it.") from None
    out: dict[str, int] = {}
    for namespace, count in counts.items():
        identity, _, version = namespace.rpartition("|p")
        if count is None:
            store = EmbeddingStore(paths, identity, int(version))
            try:
                count = len(store)
                store._db.set(("count", namespace), count)
            finally:
                store.close()
        out[identity] = max(out.get(identity, 0), int(count))
    return out

