"""An app whose own route overlaps its docs route (``/{code}`` beside ``/docs``), on Azure: the docs functions are
registered by ``App(docs_route=...)`` under fixed names, so the refusal names a fix the user can make (a name for
their own function, or another docs route), and that fix deploys with the host picking what the app picks."""

from __future__ import annotations

from azure_host_routing import host_pick, host_routes, refusals

from portafunc import App, HttpRequest
from portafunc_azure.triggers import unmatched_function_name


def _shortener(name: str, docs_route: str = "/docs") -> App:
    app = App("links", docs_route=docs_route)

    @app.http("GET", "/{code}", name=name)
    def follow(req: HttpRequest) -> str:
        return req.path_params["code"]

    return app


def test_the_refusal_names_a_fix_the_user_can_make_and_it_works() -> None:
    (refused,) = refusals(_shortener("follow"))
    assert refused.function == "follow" and "'portafunc_docs'" in refused.reason
    assert "name='a_portafunc_docs'" not in refused.instead  # App(docs_route=...) names it: no way to rename it
    assert "name='z_follow'" in refused.instead and "docs_route" in refused.instead
    for fixed in (_shortener("z_follow"), _shortener("follow", docs_route="/api/docs")):
        assert refusals(fixed) == []
        routes = host_routes(fixed)
        for path in ("/docs", "/api/docs", "/abc"):
            spec = fixed.route("GET", path)[0]
            expected = unmatched_function_name(fixed) if spec is None else spec.name  # no route: the catch-all
            assert host_pick(routes, "GET", path) == expected, path


def test_a_route_more_specific_than_the_docs_files_route_is_renamed_to_sort_first() -> None:
    """``/docs/about`` is more specific than the docs' ``/docs/{file}``: the app serves it with the user's function,
    so that function's name must sort before the docs functions' (which the user cannot rename)."""
    def about_app(name: str) -> App:
        app = App("links", docs_route="/docs")
        app.http("GET", "/docs/about", name=name)(lambda req: "about")
        return app

    (refused,) = refusals(about_app("zz_about"))
    assert refused.function == "portafunc_docs_files" and "'zz_about'" in refused.reason
    assert "name='a_zz_about'" in refused.instead
    fixed = about_app("about")
    assert refusals(fixed) == []
    assert fixed.route("GET", "/docs/about")[0] is fixed.function("about")
    assert host_pick(host_routes(fixed), "GET", "/docs/about") == "about"
