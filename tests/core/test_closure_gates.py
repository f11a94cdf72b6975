"""The packager's predicates for ``portafunc.params``, ``portafunc.cors``, the resource model and the messaging
handles (OPTIONAL in
``portafunc/packaging/closure.py``) say "not needed" only when registering the app really did not import the module:
each app below is registered in a fresh interpreter, which then reports whether the module was imported and what
the predicate says. A predicate may say "needed" when it was not (a larger zip), never the other way round."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAD = "from __future__ import annotations\n" \
       "from portafunc import App, HttpRequest, HttpResponse\n" \
       "app = App('gates')\n"
APPS = {
    "plain": "@app.http('GET', '/a')\ndef a(req: HttpRequest) -> dict:\n    return {}\n",
    "unannotated": "@app.http('GET', '/a')\ndef a(req):\n    return {}\n",
    "response": "@app.http('GET', '/a')\ndef a(req: HttpRequest) -> HttpResponse:\n    return HttpResponse(204)\n",
    "generic_return": "@app.http('GET', '/a')\ndef a(req: HttpRequest) -> dict[str, int]:\n    return {}\n",
    "two_params": "@app.http('GET', '/a/{n}')\ndef a(req: HttpRequest, n: int) -> dict:\n    return {}\n",
    "path_param_only": "@app.http('GET', '/a/{n}')\ndef a(n: int) -> dict:\n    return {}\n",
    "content_types": "@app.http('POST', '/a', content_types=['text/plain'])\ndef a(req: HttpRequest) -> dict:\n"
                     "    return {}\n",
    "queue_only": "@app.queue('work')\ndef w(msg):\n    pass\n",
    "uses": "from portafunc import publishes\n@app.http('POST', '/a', uses=[publishes('order-events')])\n"
            "def a(req: HttpRequest) -> dict:\n    return {}\n",
    "queue_handle": "import portafunc\njobs = portafunc.queue('jobs')\n"
                    "@app.queue(jobs, dead_letter=portafunc.queue('failed'))\ndef w(msg):\n    jobs.send('x')\n",
    "handle_uses": "import portafunc\nnews = portafunc.topic('news')\n@app.http('POST', '/a', uses=[news])\n"
                   "def a(req: HttpRequest) -> dict:\n    return {}\n",
    "form_body": "from pydantic import BaseModel\nclass Signup(BaseModel):\n    name: str\n"
                 "@app.http('POST', '/a', content_types=['application/x-www-form-urlencoded'])\n"
                 "def a(body: Signup) -> dict:\n    return {}\n",
    "cors": "from portafunc import Cors\n@app.http('GET', '/a', cors=Cors(allow_origins=['https://x.example']))\n"
            "def a(req: HttpRequest) -> dict:\n    return {}\n",
}
PROBE = r"""
import json, sys
namespace = {"__name__": "probe_app"}
exec(compile(sys.argv[1], "probe_app", "exec"), namespace)
imported = {m: m in sys.modules for m in ("portafunc.params", "portafunc.cors", "portafunc.resources",
                                         "portafunc.config", "portafunc.handles", "portafunc.forms")}
from portafunc.packaging.closure import OPTIONAL
said = {m: OPTIONAL[m](namespace["app"]) for m in imported}
# a module that messaging's binding imports at its top level ships whenever messaging does (the closure follows
# top-level imports of every shipped module): opening a module-level handle loads it, gated or not
carried = {"portafunc.resources": "portafunc.messaging.binding" in sys.modules}
print(json.dumps({"imported": imported, "said": said, "carried": carried}))
"""


@pytest.mark.parametrize("name", sorted(APPS))
def test_a_module_registration_imported_is_never_judged_unneeded(name: str) -> None:
    # from __future__ annotations too: the return annotation is then a string, which _plan reads as such
    for head in (HEAD, HEAD.split("\n", 1)[1]):
        done = subprocess.run([sys.executable, "-I", "-c", PROBE, head + APPS[name]], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        for module, imported in report["imported"].items():
            assert report["said"][module] or report["carried"].get(module) or not imported, (name, module, report)
    if name in ("plain", "unannotated", "response", "queue_only"):
        assert not report["said"]["portafunc.params"], report  # the gate does trim the usual cases
        assert not report["said"]["portafunc.forms"], report
    if name == "form_body":
        assert report["said"]["portafunc.forms"], report
    assert report["said"]["portafunc.resources"] == (name in ("uses", "handle_uses")), report  # the model only then
    assert report["said"]["portafunc.handles"] == (name in ("queue_only", "queue_handle", "uses", "handle_uses")), \
        report  # and the handles only for an app with a topic or queue


def test_a_project_that_reads_a_form_itself_ships_the_form_reader(tmp_path) -> None:
    """``req.form()`` in a plain handler registers nothing the gate sees: the project's code is read for it."""
    from portafunc.packaging.closure import project_imports

    (tmp_path / "main.py").write_text(HEAD + "@app.http('POST', '/a')\ndef a(req: HttpRequest) -> dict:\n"
                                      "    return dict(req.form().fields)\n", encoding="utf-8")
    assert "portafunc.forms" in project_imports(tmp_path)
    (tmp_path / "main.py").write_text(HEAD + APPS["plain"], encoding="utf-8")
    assert "portafunc.forms" not in project_imports(tmp_path)
