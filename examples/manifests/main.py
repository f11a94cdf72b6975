"""An upload pipeline: every object uploaded to the ``uploads`` bucket gets a small JSON manifest (size, checksum,
content type, when) in the ``manifests`` bucket, and a daily job deletes the manifests older than ``KEEP_DAYS``.

The port of the classic storage-trigger sample (an S3-triggered Lambda, a Blob-triggered Azure Function, a Cloud
Storage-triggered Cloud Function) with a scheduled clean-up beside it: one file, deployed unchanged to every cloud.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone

import portafunc
from portafunc import App, ScheduleEvent, StorageEvent

#: Manifests older than this many days are deleted by the daily clean-up.
KEEP_DAYS = int(os.environ.get("KEEP_DAYS", "7"))

app = App("manifests")
uploads = portafunc.bucket("uploads")  # made once per instance; bound on each call
manifests = portafunc.bucket("manifests")


def manifest_key(upload_key: str) -> str:
    return f"{upload_key}.json"


@app.storage(uploads, events=["created"], uses=[manifests])
def write_manifest(evt: StorageEvent) -> None:
    """Describe the uploaded object in ``manifests/<key>.json``, reading it as a stream (any size fits)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with evt.open() as upload:
            for chunk in iter(lambda: upload.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        content_type = uploads.stat(evt.key).content_type
    except portafunc.KeyNotFound:  # deleted again before we got to it: nothing to describe
        print(f"{evt.key} is gone already: no manifest")
        return
    uploaded = evt.time or datetime.now(timezone.utc)
    manifest = {"key": evt.key, "size": size, "sha256": digest.hexdigest(), "etag": evt.etag,
                "content_type": content_type, "uploaded_at": uploaded.isoformat()}
    manifests.put(manifest_key(evt.key), json.dumps(manifest, indent=1), content_type="application/json")
    print(f"manifest {manifest_key(evt.key)}: {size} bytes, sha256 {digest.hexdigest()[:12]}")


@app.schedule(cron="0 3 * * *", uses=[manifests])
def cleanup(evt: ScheduleEvent) -> None:
    """Every day at 03:00 UTC: delete the manifests last written more than ``KEEP_DAYS`` days before."""
    cutoff = evt.time - timedelta(days=KEEP_DAYS)
    listed = list(manifests.list())  # list first, then delete: never change what is being paged through
    old = [info.key for info in listed if info.updated is not None and info.updated < cutoff]
    for key in old:
        manifests.delete(key)
    print(f"cleanup: {len(old)} manifest(s) older than {cutoff:%Y-%m-%d %H:%M} UTC deleted, "
          f"{len(listed) - len(old)} kept")
