"""Exception handlers through every target's real entry point: ``@app.exception_handler(SomeError)`` answers HTTP
requests whose function raised it; ``@app.exception_handler(404)`` / ``(405)`` answer requests no function serves."""

from __future__ import annotations

import pytest

from portafunc import App, HttpRequest, HttpResponse, RegistrationError, Router


class OutOfStock(Exception):
    def __init__(self, sku: str) -> None:
        super().__init__(f"{sku} is out of stock")
        self.sku = sku


class Discontinued(OutOfStock):
    pass


def handled_app() -> App:
    app = App("handlers")

    @app.exception_handler(OutOfStock)
    def out_of_stock(req: HttpRequest, exc: OutOfStock) -> HttpResponse:
        return HttpResponse.problem(409, "Out of stock", str(exc), sku=exc.sku)

    @app.exception_handler(Discontinued)
    def discontinued(req: HttpRequest, exc: Discontinued) -> HttpResponse:
        return HttpResponse.problem(410, "Discontinued", str(exc))

    @app.exception_handler(404)
    def not_found(req: HttpRequest, exc: Exception) -> HttpResponse:
        return HttpResponse.json({"error": "no such page", "path": req.path}, status=404)

    @app.exception_handler(405)
    def wrong_method(req: HttpRequest, exc: Exception) -> dict:
        return {"error": f"{req.method} is not served here"}, 405  # type: ignore[return-value]

    @app.http("POST", "/orders/{sku}")
    def order(req: HttpRequest) -> dict:
        sku = req.path_params["sku"]
        if sku == "old":
            raise Discontinued(sku)
        if sku == "gone":
            raise OutOfStock(sku)
        if sku == "bug":
            raise KeyError("internal detail")
        return {"sku": sku}

    return app


def test_a_handled_exception_becomes_the_handlers_response(cloud) -> None:
    resp = cloud.http(handled_app(), "POST", "/orders/gone")
    assert resp.status == 409 and resp.headers.get("content-type") == "application/problem+json"
    assert resp.json_body() == {"type": "about:blank", "title": "Out of stock", "status": 409,
                                "detail": "gone is out of stock", "sku": "gone"}


def test_the_most_specific_handler_wins_and_unhandled_errors_stay_500(cloud) -> None:
    app = handled_app()
    assert cloud.http(app, "POST", "/orders/old").status == 410
    bug = cloud.http(app, "POST", "/orders/bug")
    assert bug.status == 500 and b"internal detail" not in bug.body
    assert cloud.http(app, "POST", "/orders/ok").json_body() == {"sku": "ok"}


def test_custom_404_and_405_keep_their_status_and_allow(cloud) -> None:
    app = handled_app()
    missing = cloud.http(app, "GET", "/nowhere")
    assert missing.status == 404 and missing.json_body() == {"error": "no such page", "path": "/nowhere"}
    wrong = cloud.http(app, "GET", "/orders/x")
    assert wrong.status == 405 and wrong.json_body() == {"error": "GET is not served here"}
    assert wrong.headers.get("allow") == "POST"


def test_a_failing_handler_gives_the_standard_answer(cloud) -> None:
    app = App("failing-handler")

    @app.exception_handler(404)
    def broken(req: HttpRequest, exc: Exception) -> HttpResponse:
        raise RuntimeError("handler bug")

    @app.exception_handler(ValueError)
    def broken_too(req: HttpRequest, exc: Exception) -> HttpResponse:
        raise RuntimeError("handler bug")

    @app.http("GET", "/x")
    def x(req: HttpRequest) -> None:
        raise ValueError("boom")

    assert cloud.http(app, "GET", "/nowhere").status == 404
    assert cloud.http(app, "GET", "/x").status == 500


def test_bad_registrations_are_refused() -> None:
    app = App("bad")
    with pytest.raises(RegistrationError, match="404/405"):
        app.exception_handler(500)
    app.exception_handler(KeyError)(lambda req, exc: None)
    with pytest.raises(RegistrationError, match="registered already"):
        app.exception_handler(KeyError)
    router = Router()
    router.exception_handler(KeyError)(lambda req, exc: None)
    with pytest.raises(RegistrationError, match="whole app"):
        App("r").include_router(router)
