"""The client libraries a trimmed artifact keeps for what a function does without declaring it: a storage function
reads the object that arrived (``evt.read()``) through its bucket's client, and a queue or topic function may forward
a message to its dead letter itself. Checked on the packagers' own selection (the full builds, which lock
requirements, are tested per target)."""

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


def test_gcp_keeps_pubsub_for_a_consumer_that_may_dead_letter():
    # a queue consumer that publishes nothing: its dead letter (declared, or the topic deploy.sh names in
    # PORTAFUNC_DEADLETTER_<FUNC>) is reached through the Pub/Sub client when the function forwards a message itself
    from portafunc_gcp.package import unused_sdks

    app = App("worker")

    @app.queue("jobs", max_attempts=3)
    def work(msg: Message) -> None:
        pass

    assert "google-cloud-pubsub" not in unused_sdks(app.resources())
