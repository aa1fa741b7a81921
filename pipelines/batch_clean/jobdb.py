"""The batch job's database: one SQLite file (WAL mode) holding every input and its output.

Each input file is one row (``items``): its path relative to the input root, kind (image or
video), status (``pending`` -> ``done`` | ``error``), the output path, the error text and the number
of frames (and of faces, with ``--detect faces``). An output is written atomically *before* its row is marked done, so after ``kill -9``
a restart redoes at most the items in flight and overwrites their outputs with the same bytes:
nothing is lost and nothing is written twice under another name.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reflect.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS job (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    rel TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    output TEXT,
    error TEXT,
    frames INTEGER NOT NULL DEFAULT 0,
    faces INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL
);
CREATE INDEX IF NOT EXISTS items_status ON items (status);
"""


@dataclass(frozen=True)
class Item:
    id: int
    rel: str  # path relative to the input root, '/'-separated
    kind: str  # image | video


class JobDB:
    """A thin typed wrapper over the job's SQLite file; every write is its own transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # used by the main thread and (while a job runs) the writer thread, never both at once
        self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(items)")}
        if "faces" not in columns:  # a job database made before --detect faces existed
            self.conn.execute("ALTER TABLE items ADD COLUMN faces INTEGER NOT NULL DEFAULT 0")

    def close(self) -> None:
        self.conn.close()

    # ---- job settings ------------------------------------------------------------------------
    def check_settings(self, settings: dict[str, Any]) -> None:
        """Store the job's settings on first use; a restart with other settings is refused."""
        row = self.conn.execute("SELECT value FROM job WHERE key='settings'").fetchone()
        text = json.dumps(settings, sort_keys=True)
        if row is None:
            self.conn.execute("INSERT INTO job (key, value) VALUES ('settings', ?)", (text,))
            return
        old = json.loads(row[0])
        diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if diff:
            raise ConfigError(
                f"job database {self.path} belongs to a job with other settings ({', '.join(diff)} differ); "
                "use a new --output folder or pass --restart to start over"
            )

    def reset(self) -> None:
        self.conn.execute("DELETE FROM items")
        self.conn.execute("DELETE FROM job")

    # ---- items ---------------------------------------------------------------------------------
    def add_items(self, entries: list[tuple[str, str]]) -> int:
        """Register ``(rel, kind)`` inputs; already known ones are kept as they are. Returns new count."""
        before = self.count()
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT OR IGNORE INTO items (rel, kind) VALUES (?, ?)", entries)
        self.conn.execute("COMMIT")
        return self.count() - before

    def retry_errors(self) -> int:
        cur = self.conn.execute("UPDATE items SET status='pending', error=NULL WHERE status='error'")
        return cur.rowcount

    def pending(self) -> list[Item]:
        rows = self.conn.execute("SELECT id, rel, kind FROM items WHERE status='pending' ORDER BY id").fetchall()
        return [Item(*r) for r in rows]

    def mark_done(self, item_id: int, output: str, frames: int, faces: int = 0) -> None:
        self.conn.execute(
            "UPDATE items SET status='done', output=?, frames=?, faces=?, error=NULL, attempts=attempts+1, "
            "updated=? WHERE id=?",
            (output, frames, faces, time.time(), item_id),
        )

    def mark_error(self, item_id: int, error: str) -> None:
        self.conn.execute(
            "UPDATE items SET status='error', error=?, attempts=attempts+1, updated=? WHERE id=?",
            (error, time.time(), item_id),
        )

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM items WHERE status=?", (status,)).fetchone()[0])

    def frames_done(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(SUM(frames), 0) FROM items WHERE status='done'").fetchone()[0])

    def faces_done(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(SUM(faces), 0) FROM items WHERE status='done'").fetchone()[0])

    def errors(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute("SELECT rel, error FROM items WHERE status='error' ORDER BY id")]

    def rows(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT id, rel, kind, status, output, error, frames, faces, attempts FROM items ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
