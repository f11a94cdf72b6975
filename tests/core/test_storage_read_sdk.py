"""A storage function reads the object that arrived (``evt.read()``) through its bucket's client library, so every
target that trims unused SDKs from its artifact keeps the bucket's for an app whose only bucket is a trigger's.
Checked on the packagers' own selection (the artifacts' full builds, which lock requirements, are tested per
target)."""

from __future__ import annotations

from portafunc import App, Message, StorageEvent


def _reader_app() -> App:
    app = App("reader")

    @app.storage("inbox", events=["created"])
    def on_upload(evt: StorageEvent) -> None:
        print(len(evt.read()))

    return app


def test_gcp_keeps_cloud_storage_for_a_storage_function():
    from portafunc_gcp.package import unused_sdks

    assert "google-cloud-storage" not in unused_sdks(_reader_app().resources())


def test_azure_keeps_blob_storage_for_a_storage_function():
    from portafunc_azure.package import unused_sdks

    app = _reader_app()
    assert "azure-storage-blob" not in unused_sdks(app, app.resources())


def test_an_app_without_buckets_still_leaves_the_bucket_client_out():
    from portafunc_gcp.package import unused_sdks

    app = App("plain")

    @app.queue("jobs")
    def work(msg: Message) -> None:
        pass

    assert "google-cloud-storage" in unused_sdks(app.resources())
