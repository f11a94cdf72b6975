"""The GCP target's offline gcloud harness (tests/gcp/gcloud_replay.py) fitted to the container target's Cloud Run
``deploy.sh``: the same recording gcloud and the same real-gcloud replay, with what differs for Cloud Run services.

* ``CloudRunRecorder`` puts a ``docker`` that does nothing next to the recording gcloud (the script builds and pushes
  ``$IMAGE`` first), and answers ``gcloud run services describe NAME --format='value(status.url)'`` with a
  ``https://NAME-….a.run.app`` URL, as the real CLI does once ``run services replace`` has created the service (the
  recorder only remembers ``create``/``deploy`` commands).
* ``CloudRunGoogle`` is the fake Google API with two differences: gcloud reaches it as an HTTP proxy, because gcloud
  sends Cloud Run's Knative API to the regional host ``REGION-run.googleapis.com`` and so prefixes the overridden
  endpoint's host with the region (``europe-west1-127.0.0.1``, which resolves nowhere); and a Cloud Run service is
  answered ``404`` when gcloud reads it, so ``run services replace`` goes on to send the ``service.yaml`` it parsed as
  a create request — its body is the Service object Cloud Run would receive, with the values deploy.sh filled in.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gcp.gcloud_replay import GCLOUD, FakeGoogle, Recorder, Replay, Run, _FakeGoogle

__all__ = ["GCLOUD", "CloudRunGoogle", "CloudRunRecorder", "Replay", "Run"]

URL_ANSWER = r'''#!{python}
"""gcloud as the container deploy.sh sees it: the recording gcloud, plus a Cloud Run service's URL."""
import subprocess, sys
args = sys.argv[1:]
done = subprocess.run([{recorder!r}, *args], capture_output=True, text=True)
words = [a for a in args if not a.startswith("-")]
if words[:3] == ["run", "services", "describe"] and any("status.url" in a for a in args):
    print("https://" + words[3] + "-x7q2kz-ew.a.run.app")
    sys.exit(0)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
sys.exit(done.returncode)
'''


class CloudRunRecorder(Recorder):
    """The recording gcloud of tests/gcp, answering Cloud Run service URLs, with a no-op ``docker``."""

    def __init__(self, root: Path, project: str = "pf-replay-project") -> None:
        super().__init__(root, project)
        bin_dir = root / "bin"
        recorder = bin_dir / "gcloud-recorder"
        (bin_dir / "gcloud").rename(recorder)
        shim = bin_dir / "gcloud"
        shim.write_text(URL_ANSWER.format(python=sys.executable, recorder=str(recorder)))
        shim.chmod(0o755)
        docker = bin_dir / "docker"
        docker.write_text("#!/bin/sh\nexit 0\n")
        docker.chmod(0o755)

    def run(self, script: Path, **env: str) -> Run:
        return super().run(script, **{"IMAGE": "europe-west1-docker.pkg.dev/pf-replay-project/apps/ledger:1", **env})


class _CloudRunApi(_FakeGoogle):
    """The fake API: a Cloud Run service does not exist yet (404 on read), everything else is refused (403)."""

    def _answer(self) -> None:
        if self.command == "GET" and "/apis/serving.knative.dev/v1/namespaces/" in self.path \
                and "/services/" in self.path:
            with self.lock:
                self.seen.append((self.headers.get("Authorization", ""), self.command, self.path, ""))
            reply = json.dumps({"error": {"code": 404, "status": "NOT_FOUND",
                                          "message": "offline replay: no such service yet"}}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            return
        super()._answer()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer


class CloudRunGoogle(FakeGoogle):
    """FakeGoogle reached through gcloud's proxy setting, so regional endpoints reach it too."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _CloudRunApi)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def env(self, config_dir: Path, token_text: str = "ya29.offline-replay") -> dict[str, str]:
        env = super().env(config_dir, token_text)
        env.update({"CLOUDSDK_PROXY_TYPE": "http", "CLOUDSDK_PROXY_ADDRESS": "127.0.0.1",
                    "CLOUDSDK_PROXY_PORT": str(self.server.server_address[1])})
        return env


def body_of(replay: Replay, method: str, fragment: str) -> Any:
    """The JSON body of the first request of ``replay`` with ``method`` whose path holds ``fragment``."""
    return json.loads(next(b for m, p, b in replay.requests if m == method and fragment in p))
