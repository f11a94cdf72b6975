"""Run a generated ``deploy.sh`` offline, then replay every gcloud command it ran through the REAL gcloud.

Two stages, because a real project is not available in CI:

1. **The script runs for real under bash** with a recording ``gcloud`` first on ``PATH``. The recorder keeps the argv
   of every call, keeps a copy of each ``--env-vars-file`` (the script deletes its own at exit), remembers what was
   created so a later ``describe`` of the same resource succeeds (that is how a second run proves it creates
   nothing), and prints what the real CLI would print for the few values the script reads back (project number,
   function URL, Eventarc trigger and subscription names, Cloud Storage service agent). Secrets are taken as
   created by the user (``secrets describe`` succeeds).
2. **Every recorded command is replayed through the real gcloud** (the Google Cloud SDK on the machine) with a fake
   access token (``CLOUDSDK_AUTH_ACCESS_TOKEN_FILE``) and every API endpoint overridden
   (``CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>``) to a local server that records the request and answers 403. So gcloud
   parses the command completely — flags, types, mutually exclusive groups, the YAML env-vars file — builds the
   request it would send, and stops at the first API call. A parse error exits 2 ("unrecognized arguments",
   "argument --x: ..."), a refused request exits 1 after the request was recorded.

Limit: only the first request of each command is seen (a command that would chain several calls stops at the 403),
and nothing checks that Google would accept the request's values (e.g. that a role exists); that needs a project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GCLOUD = shutil.which("gcloud")
APIS = ("cloudfunctions", "run", "eventarc", "pubsub", "cloudscheduler", "iam", "cloudresourcemanager",
        "serviceusage", "storage", "firestore", "cloudbuild", "artifactregistry", "logging", "compute",
        "secretmanager")
PROJECT_NUMBER = "123456789012"

RECORDER = r'''#!/usr/bin/env python3
"""A recording gcloud: logs argv, remembers creates, answers describes like the real CLI (see gcloud_replay.py)."""
import json, os, shutil, sys
log = os.environ["REPLAY_DIR"]
args = sys.argv[1:]
n = len(os.listdir(os.path.join(log, "calls")))
for i, a in enumerate(args):
    if a.startswith("--env-vars-file="):
        keep = os.path.join(log, f"env-{n}.yaml"); shutil.copyfile(a.split("=", 1)[1], keep)
        args[i] = "--env-vars-file=" + keep
    if a.startswith("--source="):
        args[i] = "--source=" + os.path.join(log, "source")
        if not os.path.isdir(os.path.join(log, "source")):
            shutil.copytree(a.split("=", 1)[1], os.path.join(log, "source"))
with open(os.path.join(log, "calls", f"{n:05d}.json"), "w") as f:
    json.dump(args, f)
words = [a for a in args if not a.startswith("-")]
state_path = os.path.join(log, "state.json")
state = json.load(open(state_path)) if os.path.exists(state_path) else []
def key(verb_at):
    group = " ".join(words[:verb_at])
    name = words[verb_at + 1] if len(words) > verb_at + 1 else ""
    if group == "scheduler jobs" and words[verb_at + 1] == "http":
        name = words[verb_at + 2]
    return group + "|" + name.split("@")[0].removeprefix("gs://")
fmt = next((a.split("=", 1)[1] for a in args if a.startswith("--format=")), "")
verb = next((i for i, w in enumerate(words) if w in ("create", "describe", "deploy")), None)
if words[:2] == ["projects", "describe"]:
    print(os.environ["REPLAY_PROJECT_NUMBER"]); sys.exit(0)
if words[:2] == ["secrets", "describe"]:
    sys.exit(0)  # secret values are the user's: deploy.sh only checks that they exist
if words[:2] == ["storage", "service-agent"]:
    print("service-" + os.environ["REPLAY_PROJECT_NUMBER"] + "@gs-project-accounts.iam.gserviceaccount.com"); sys.exit(0)
if verb is not None and words[verb] == "describe":
    if words[0] == "functions":
        if "serviceConfig.uri" in fmt: print(f"https://{words[verb + 1]}-x7q2.a.run.app")
        if "eventTrigger.trigger" in fmt:
            print("projects/" + os.environ["REPLAY_PROJECT"] + "/locations/" + os.environ["REGION"] + "/triggers/"
                  + words[verb + 1] + "-091823")
        sys.exit(0)
    if words[0] == "eventarc" and "transport.pubsub.subscription" in fmt:
        print("projects/" + os.environ["REPLAY_PROJECT"] + "/subscriptions/eventarc-r-trigger-sub-123"); sys.exit(0)
    sys.exit(0 if key(verb) in state else 1)
if verb is not None and words[verb] in ("create", "deploy"):
    state.append(key(verb)); json.dump(state, open(state_path, "w"))
sys.exit(0)
'''


@dataclass
class Run:
    returncode: int
    stderr: str
    calls: list[list[str]] = field(default_factory=list)


class Recorder:
    """A directory with the recording ``gcloud`` on a private PATH; ``run(script)`` runs a deploy.sh against it."""

    def __init__(self, root: Path, project: str = "pf-replay-project") -> None:
        self.root, self.project = root, project
        (root / "bin").mkdir(parents=True)
        (root / "calls").mkdir()
        shim = root / "bin" / "gcloud"
        shim.write_text(RECORDER.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1))
        shim.chmod(0o755)

    def run(self, script: Path, **env: str) -> Run:
        before = len(list((self.root / "calls").iterdir()))
        full = {"PATH": f"{self.root / 'bin'}:/usr/bin:/bin", "HOME": str(self.root), "REPLAY_DIR": str(self.root),
                "REPLAY_PROJECT": self.project, "REPLAY_PROJECT_NUMBER": PROJECT_NUMBER, "PROJECT": self.project,
                "REGION": "europe-west1", **env}
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=full, timeout=300)
        files = sorted((self.root / "calls").iterdir())[before:]
        return Run(proc.returncode, proc.stderr, [json.loads(f.read_text()) for f in files])


class _FakeGoogle(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str, str]] = []
    lock = threading.Lock()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        with self.lock:
            self.seen.append((self.headers.get("Authorization", ""), self.command, self.path, body))
        reply = json.dumps({"error": {"code": 403, "status": "PERMISSION_DENIED",
                                      "message": "offline replay: request recorded, not executed"}}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Replay:
    argv: list[str]
    returncode: int
    stderr: str
    requests: list[tuple[str, str, str]]

    @property
    def parsed(self) -> bool:
        """gcloud accepted the command line: it did not exit 2 and said nothing about arguments."""
        bad = ("unrecognized arguments", "argument --", "Invalid value for", "is not a valid", "must be specified",
               "Invalid choice")
        return self.returncode != 2 and not any(b in self.stderr for b in bad)


class FakeGoogle:
    """A local HTTP server standing in for every Google API: records each request, answers 403."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGoogle)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGoogle:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def env(self, config_dir: Path, token_text: str = "ya29.offline-replay") -> dict[str, str]:
        config_dir.mkdir(parents=True, exist_ok=True)
        token = config_dir / "token"
        token.write_text(token_text + "\n")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(config_dir),
               "CLOUDSDK_CONFIG": str(config_dir / "gcloud"), "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": str(token),
               "CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
               "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
               "CLOUDSDK_METRICS_ENVIRONMENT": "portafunc-tests", "CLOUDSDK_CORE_ACCOUNT": "replay@example.com"}
        for api in APIS:
            env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}"] = self.url
        return env

    def replay_all(self, commands: list[list[str]], config_dir: Path, workers: int = 2) -> list[Replay]:
        """Replay each command with its own gcloud config dir and its own fake token (how the server tells the
        requests of parallel commands apart)."""
        def one(index: int) -> Replay:
            token = f"ya29.replay-{index}"
            env = self.env(config_dir / f"c{index}", token)
            proc = subprocess.run([GCLOUD or "gcloud", *commands[index]], capture_output=True, text=True, env=env,
                                  timeout=180, stdin=subprocess.DEVNULL)
            with _FakeGoogle.lock:
                mine = [(m, p, b) for auth, m, p, b in _FakeGoogle.seen if auth == f"Bearer {token}"]
            return Replay(commands[index], proc.returncode, proc.stderr, mine)

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(len(commands))))
