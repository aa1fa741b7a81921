"""The batch job's database: one SQLite file (WAL mode) holding every input and its output.

Each input file is one row (``items``): its path relative to the input root, kind (image or
video), output stem (:mod:`pipelines.batch_clean.naming`), status (``pending`` -> ``done`` | ``error``
(bad input: retried only with ``--retry-errors``) | ``failed`` (the machine failed: a full disk, out
of memory; every plain resume retries it)), the output path, the error text and the number
of frames (and of faces, with ``--detect faces``). A ``done`` item may carry a ``warning``: a video that
ended early (truncated or damaged) is done with the frames it had, and the warning says how many. An output is written atomically *before* its row is marked done, so after ``kill -9``
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

from pipelines.batch_clean.naming import natural_stem
from reflect.errors import ConfigError, OutputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS job (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    rel TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    stem TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    output TEXT,
    error TEXT,
    frames INTEGER NOT NULL DEFAULT 0,
    faces INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL,
    warning TEXT
);
CREATE INDEX IF NOT EXISTS items_status ON items (status);
"""


@dataclass(frozen=True)
class Item:
    id: int
    rel: str  # path relative to the input root, '/'-separated
    kind: str  # image | video
    stem: str = ""  # output path without extension (pipelines.batch_clean.naming)


class JobDB:
    """A thin typed wrapper over the job's SQLite file; every write is its own transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # used by the main thread and (while a job runs) the writer thread, never both at once
        try:
            self.conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
            columns = {r[1] for r in self.conn.execute("PRAGMA table_info(items)")}
            if "faces" not in columns:  # a job database made before --detect faces existed
                self.conn.execute("ALTER TABLE items ADD COLUMN faces INTEGER NOT NULL DEFAULT 0")
            if "stem" not in columns:  # made before output names were recorded: natural stems
                self.conn.execute("ALTER TABLE items ADD COLUMN stem TEXT")
            if "warning" not in columns:  # made before truncated videos were told apart
                self.conn.execute("ALTER TABLE items ADD COLUMN warning TEXT")
        except sqlite3.OperationalError as e:  # a full disk, a read-only folder, a lock held elsewhere
            raise OutputError(
                f"cannot open the job database {self.path} ({e}); free space (or fix the folder) "
                "and run the same command again"
            ) from None
        except sqlite3.DatabaseError as e:
            raise ConfigError(
                f"job database {self.path} is not readable ({e}); move it away (or pass --restart after "
                "deleting it) to start the job over"
            ) from None

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
                f"job database {self.path} belongs to a job with other settings ({', '.join(diff)} "
                f"differ{_hint(old, diff)}); use a new --output folder or pass --restart to start over"
            )

    def reset(self) -> None:
        self.conn.execute("DELETE FROM items")
        self.conn.execute("DELETE FROM job")

    # ---- items ---------------------------------------------------------------------------------
    def known(self) -> list[tuple[str, str, str]]:
        """``(rel, kind, stem)`` of every registered input."""
        rows = self.conn.execute("SELECT rel, kind, stem FROM items ORDER BY id").fetchall()
        return [(r, k, s if s is not None else natural_stem(r)) for r, k, s in rows]

    def add_items(self, entries: list[tuple[str, str, str]]) -> int:
        """Register ``(rel, kind, stem)`` inputs; already known ones are kept as they are. Returns new count."""
        before = self.count()
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT OR IGNORE INTO items (rel, kind, stem) VALUES (?, ?, ?)", entries)
        self.conn.execute("COMMIT")
        return self.count() - before

    def retry_errors(self) -> int:
        cur = self.conn.execute("UPDATE items SET status='pending', error=NULL WHERE status='error'")
        return cur.rowcount

    def retry_failed(self) -> int:
        """Inputs the machine failed on (full disk, out of memory) go back to pending: every run retries them."""
        cur = self.conn.execute("UPDATE items SET status='pending', error=NULL WHERE status='failed'")
        return cur.rowcount

    def pending(self) -> list[Item]:
        rows = self.conn.execute(
            "SELECT id, rel, kind, stem FROM items WHERE status='pending' ORDER BY id"
        ).fetchall()
        return [Item(i, r, k, s if s is not None else natural_stem(r)) for i, r, k, s in rows]

    def mark_done(
        self, item_id: int, output: str, frames: int, faces: int = 0, warning: str | None = None
    ) -> None:
        self.conn.execute(
            "UPDATE items SET status='done', output=?, frames=?, faces=?, error=NULL, warning=?, attempts=attempts+1, "
            "updated=? WHERE id=?",
            (output, frames, faces, warning, time.time(), item_id),
        )

    def mark_error(self, item_id: int, error: str) -> None:
        self.conn.execute(
            "UPDATE items SET status='error', error=?, attempts=attempts+1, updated=? WHERE id=?",
            (error, time.time(), item_id),
        )

    def mark_failed(self, item_id: int, error: str) -> None:
        """Not the input's fault (a full disk, out of memory): a plain resume tries it again."""
        self.conn.execute(
            "UPDATE items SET status='failed', error=?, attempts=attempts+1, updated=? WHERE id=?",
            (error, time.time(), item_id),
        )

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM items WHERE status=?", (status,)).fetchone()[0])

    def frames_done(self) -> int:
        return int(
            self.conn.execute("SELECT COALESCE(SUM(frames), 0) FROM items WHERE status='done'").fetchone()[0]
        )

    def faces_done(self) -> int:
        return int(
            self.conn.execute("SELECT COALESCE(SUM(faces), 0) FROM items WHERE status='done'").fetchone()[0]
        )

    def errors(self) -> list[tuple[str, str]]:
        return [
            (r[0], r[1])
            for r in self.conn.execute("SELECT rel, error FROM items WHERE status='error' ORDER BY id")
        ]

    def warnings(self) -> list[tuple[str, str]]:
        """Done items with a warning (a truncated video): ``(rel, warning)``."""
        return [
            (r[0], r[1])
            for r in self.conn.execute(
                "SELECT rel, warning FROM items WHERE status='done' AND warning IS NOT NULL ORDER BY id"
            )
        ]

    def failures(self) -> list[tuple[str, str]]:
        return [
            (r[0], r[1])
            for r in self.conn.execute("SELECT rel, error FROM items WHERE status='failed' ORDER BY id")
        ]

    def rows(self) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT id, rel, kind, status, output, error, warning, frames, faces, attempts FROM items ORDER BY id"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _hint(old: dict[str, Any], keys: list[str]) -> str:
    """Settings added after a job was made: how to resume it as it was."""
    if "work_size" in keys and "work_size" not in old:
        return "; a job made without a working size resumes with --work-size 0"
    return ""
