"""HTTP service: `fp serve`. The library's matcher behind a small FastAPI app.

POST /match (multipart upload) -> the JSON contract plus verdict and run id; GET /titles,
GET /runs/{id}, GET /runs/{id}/report (HTML), GET /healthz; OpenAPI at /openapi.json and /docs.
Uploads are bounded in size (413) and matches in time (504: the match is cancelled and the
matcher freed before the answer goes out); uploads live in a temporary file only while they are
matched. The matcher stays warm across requests and reloads only when titles change.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from pathlib import Path

from fastapi import FastAPI, File, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from fp import __version__
from fp.config import Config
from fp.errors import FPError
from fp.fingerprint.extract import Fingerprinter
from fp.index.history import RunHistory
from fp.index.store import IndexStore
from fp.matcher.matcher import Matcher
from fp.matcher.policy import DEFAULT_POLICY, Policy
from fp.report.evidence import check
from fp.report.types import Evidence
from fp.report.render import render_html


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413, reading no further."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._reject(send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send):
        body = b'{"detail":"upload too large"}'
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _Matchers:
    """One Matcher at a time, reopened when the index's titles have changed (its change counter
    moved; recording runs does not move it); models loaded once."""

    def __init__(self, index_dir: Path, config: Config | None, fingerprinter: Fingerprinter | None):
        self.index_dir, self.config = index_dir, config
        self.lock = threading.Lock()
        self.fingerprinter = fingerprinter
        self.matcher: Matcher | None = None
        self.stamp = None

    def current(self) -> Matcher:
        with IndexStore.open(self.index_dir) as store:
            stamp = store.generation()
        if self.matcher is None or stamp != self.stamp:
            fresh = Matcher(self.index_dir, self.config, fingerprinter=self.fingerprinter)
            self.fingerprinter = fresh.fingerprinter
            if self.matcher is not None:
                self.matcher.close()
            self.matcher, self.stamp = fresh, stamp
        return self.matcher


def create_app(index_dir: str | os.PathLike, *, max_upload_bytes: int = 2 << 30, match_timeout: float = 900.0,
               policy: Policy = DEFAULT_POLICY, settings: list[str] | None = None, runtime: str | None = None):
    """The app over the index at `index_dir`; `settings`: match settings (`NAME=VALUE`, see
    `Config.for_matching`) and `runtime`: the encoders' runtime, as `fp match` takes them. Raises
    FPError, one line, for an index that does not open or a setting it does not take."""
    index_dir = Path(index_dir)
    with IndexStore.open(index_dir) as store:
        config = store.config.for_matching(settings) if settings else None
        fingerprinter = Fingerprinter(store.config, runtime=runtime) if runtime is not None else None
    matchers = _Matchers(index_dir, config, fingerprinter)
    history = RunHistory(index_dir)
    app = FastAPI(title="fp", version=__version__,
                  description="Multimodal video fingerprinting: find copies of catalogue titles.")
    app.state.matchers = matchers
    app.state.match_timeout = match_timeout

    def run_match(path: str, label: str, cancel: threading.Event) -> Evidence:
        with matchers.lock:
            return check(matchers.current(), path, policy=policy, label=label, cancel=cancel)

    @app.post("/match", summary="Match an uploaded suspect file")
    async def match(file: UploadFile = File(..., description="The suspect video")) -> JSONResponse:
        label = f"upload:{Path(file.filename or 'suspect').name[:200]}"
        suffix = Path(file.filename or "upload").suffix[:16] if file.filename else ""
        with tempfile.TemporaryDirectory(prefix="fp-upload-") as tmp:
            target = Path(tmp) / f"suspect{suffix if suffix.isascii() else ''}"
            size = 0
            with open(target, "wb") as handle:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > max_upload_bytes:
                        raise HTTPException(413, "upload too large")
                    handle.write(chunk)
            cancel = threading.Event()
            work = asyncio.ensure_future(run_in_threadpool(run_match, str(target), label, cancel))
            try:
                evidence = await asyncio.wait_for(asyncio.shield(work), app.state.match_timeout)
            except TimeoutError:
                cancel.set()  # the match stops at its next batch of frames and frees the matcher
                await asyncio.gather(work, return_exceptions=True)
                raise HTTPException(504, f"matching took longer than {app.state.match_timeout:g} s") from None
            except FPError as exc:
                raise HTTPException(422, str(exc).replace(str(target), label)) from None
        return JSONResponse({**evidence.contract(), "titles": evidence.to_dict()["titles"]})

    @app.get("/titles", summary="Titles of the index")
    def titles() -> list[dict]:
        with IndexStore.open(index_dir) as store:
            return [{"title_id": t.title_id, "duration": t.duration, "metadata": t.metadata,
                     "added_at": t.added_at.isoformat()} for t in store.titles()]

    def run_or_404(run_id: int):
        run = history.run(run_id)
        if run is None:
            raise HTTPException(404, f"no run {run_id}")
        return run

    @app.get("/runs/{run_id}", summary="A past run: the JSON contract plus verdict and evidence")
    def get_run(run_id: int) -> dict:
        return run_or_404(run_id).evidence

    @app.get("/runs/{run_id}/report", response_class=HTMLResponse, summary="A past run as an HTML report")
    def get_report(run_id: int) -> HTMLResponse:
        return HTMLResponse(render_html(run_or_404(run_id).evidence))

    @app.get("/healthz", summary="Liveness and index size")
    def healthz() -> dict:
        with IndexStore.open(index_dir) as store:
            return {"status": "ok", "titles": store.counts()["titles"], "version": __version__}

    # The ASGI app to serve: FastAPI behind the body limit (multipart framing on top of the file).
    return BodyLimit(app, max_upload_bytes + (1 << 20))
