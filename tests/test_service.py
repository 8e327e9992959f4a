"""The HTTP service, started on loopback and used with a real HTTP client."""

import subprocess
import sys

import httpx
import pytest

from conftest import VIDEO
from fp.data.edits import Clip, pirate


def serve(index_dir, *extra):
    """A server on a free port of the loopback, and its address once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "fp", "-q", "serve", "--index", str(index_dir), "--host",
                             "127.0.0.1", "--port", "0", *map(str, extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # the listening line; end of file if the server stopped
    assert line.startswith("listening on http://127.0.0.1:"), line or proc.stderr.read()
    return proc, line.split()[-1]


@pytest.fixture(scope="module")
def server(index_dir):
    proc, url = serve(index_dir, "--max-upload-mb", 1)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    return pirate(Clip(str(VIDEO / "zwm_sintel.mp4"), 1.0, 8.0), tmp_path_factory.mktemp("up") / "up.mp4",
                  edits=["crop10"])


def test_round_trip_match_run_and_report(server, copy):
    assert copy.stat().st_size < 1 << 20
    with open(copy, "rb") as handle:
        res = httpx.post(server + "/match", files={"file": ("suspect <1>.mp4", handle, "video/mp4")}, timeout=300)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["verdict"] in ("match", "review") and isinstance(body["run_id"], int)
    assert body["matches"][0]["title_id"] == "zwm_sintel.mp4" and body["matches"][0]["decision"] == "match"
    assert body["query"]["path"] == "upload:suspect <1>.mp4"
    run = httpx.get(f"{server}/runs/{body['run_id']}", timeout=30).json()
    assert run["run_id"] == body["run_id"] and run["suspect"]["path"] == "upload:suspect <1>.mp4"
    assert len(run["suspect"]["sha256"]) == 64
    page = httpx.get(f"{server}/runs/{body['run_id']}/report", timeout=60)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="verdict"' in page.text and "zwm_sintel.mp4" in page.text
    assert "upload:suspect &lt;1&gt;.mp4" in page.text and "suspect frame not available" in page.text
    assert httpx.get(f"{server}/runs/999999", timeout=30).status_code == 404
    assert httpx.get(f"{server}/runs/..%2f..%2fetc%2fpasswd", timeout=30).status_code in (404, 422)


def test_titles_health_and_openapi(server):
    titles = httpx.get(server + "/titles", timeout=30).json()
    assert "zwm_sintel.mp4" in {t["title_id"] for t in titles}
    assert httpx.get(server + "/healthz", timeout=30).json()["status"] == "ok"
    spec = httpx.get(server + "/openapi.json", timeout=30).json()
    assert {"/match", "/titles", "/runs/{run_id}", "/runs/{run_id}/report", "/healthz"} <= set(spec["paths"])


def test_a_port_in_use_is_one_error_line(server, index_dir):
    taken = server.rsplit(":", 1)[1]
    busy = subprocess.run([sys.executable, "-m", "fp", "serve", "--index", str(index_dir), "--port", taken],
                          capture_output=True, text=True, timeout=600)
    assert busy.returncode == 2 and busy.stderr.count("\n") == 1, busy.stderr
    assert busy.stderr.startswith(f"error: cannot listen on 127.0.0.1:{taken}") and busy.stdout == ""


def test_bad_and_oversized_uploads(server, tmp_path):
    junk = httpx.post(server + "/match", files={"file": ("x.mp4", b"not a video" * 100, "video/mp4")}, timeout=60)
    assert junk.status_code == 422 and "not a readable media file" in junk.json()["detail"]
    assert "/tmp" not in junk.json()["detail"]
    big = httpx.post(server + "/match", files={"file": ("big.mp4", b"\0" * (3 << 20), "video/mp4")}, timeout=60)
    assert big.status_code == 413
    # a hostile file name is a label, never a path
    sneaky = httpx.post(server + "/match", files={"file": ("../../../../tmp/fp-pwned.mp4", b"x" * 100, "video/mp4")},
                        timeout=60)
    assert sneaky.status_code == 422 and "upload:fp-pwned.mp4" in sneaky.json()["detail"]
    assert not (tmp_path.parent / "fp-pwned.mp4").exists()


def test_a_timed_out_request_is_cancelled_and_frees_the_matcher(index_dir, copy, fingerprinter):
    from fastapi.testclient import TestClient

    from fp.service import create_app

    asgi = create_app(index_dir, match_timeout=0.01)
    state = asgi.app.state
    state.matchers.fingerprinter = fingerprinter  # models already loaded by the session
    with TestClient(asgi) as client:
        with open(copy, "rb") as handle:
            res = client.post("/match", files={"file": ("s.mp4", handle, "video/mp4")})
        assert res.status_code == 504
        assert not state.matchers.lock.locked()  # the cancelled match has let go before the answer
        state.match_timeout = 600.0
        with open(copy, "rb") as handle:
            res = client.post("/match", files={"file": ("s.mp4", handle, "video/mp4")})
        assert res.status_code == 200 and res.json()["verdict"] == "match"
        warm = state.matchers.matcher
        with open(copy, "rb") as handle:
            again = client.post("/match", files={"file": ("s.mp4", handle, "video/mp4")})
        assert again.json()["run_id"] == res.json()["run_id"] + 1
        assert state.matchers.matcher is warm  # recording runs does not force a reload


def test_serve_takes_a_policy_a_runtime_and_match_settings_as_fp_match_does(index_dir, copy, tmp_path):
    from fastapi.testclient import TestClient

    from fp.matcher.policy import Policy
    from fp.service import create_app

    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\nverdict = "review"\nmin_seconds = 1\n')
    asgi = create_app(index_dir, policy=Policy.load(policy), settings=["knn=8", "query_mirrored=false"],
                      runtime="onnx")
    with TestClient(asgi) as client, open(copy, "rb") as handle:
        res = client.post("/match", files={"file": ("s.mp4", handle, "video/mp4")})
    assert res.status_code == 200 and res.json()["verdict"] == "review"
    matcher = asgi.app.state.matchers.matcher
    assert (matcher.config.knn, matcher.config.query_mirrored, matcher.fingerprinter.runtime) == (8, False, "onnx")
    bad = subprocess.run([sys.executable, "-m", "fp", "serve", "--index", str(index_dir), "--set", "knn=0"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ") \
        and "knn" in bad.stderr, bad.stderr
