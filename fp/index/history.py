"""Match history: every `fp match` run kept in the index's database, written by its own writer.

Readers of the index (`Matcher`, `fp serve`) open the database read-only; recording a run needs
a write, so the history opens its own short-lived writable connection per record. It writes only
the `runs` table and never bumps the index's change counter, so a warm matcher need not reload
after a run is recorded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fp.index.store import IndexStore


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    created_at: datetime
    suspect_path: str
    sha256: str
    verdict: str
    evidence: dict


RUN_COLUMNS = "run_id, created_at, suspect_path, sha256, verdict, evidence_json"


class RunHistory:
    """The `runs` table of the index at `root`: record, list and fetch runs."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        IndexStore.open(self.root).close()  # one clear line when there is no index here

    def record(self, suspect_path: str, sha256: str, verdict: str, evidence: dict) -> int:
        """Store one run (any process may, also while a writer indexes); returns its id."""
        con = IndexStore.connect(self.root, read_only=False)
        try:
            con.execute("BEGIN TRANSACTION")
            run_id = int(con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()[0])
            con.execute(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                        [run_id, datetime.now(timezone.utc), suspect_path, sha256, verdict,
                         json.dumps({**evidence, "run_id": run_id})])
            con.execute("COMMIT")
        finally:
            con.close()
        return run_id

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The latest `limit` runs, newest first."""
        return self._select(f"SELECT {RUN_COLUMNS} FROM runs ORDER BY run_id DESC LIMIT ?", [limit])

    def run(self, run_id: int) -> RunRecord | None:
        found = self._select(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id])
        return found[0] if found else None

    def _select(self, sql: str, params: list) -> list[RunRecord]:
        con = IndexStore.connect(self.root, read_only=True)
        try:
            rows = con.execute(sql, params).fetchall()
        finally:
            con.close()
        return [RunRecord(*row[:-1], json.loads(row[-1])) for row in rows]
