"""A handler annotation naming nothing its module defines (a typo under ``from __future__ import annotations``)
cannot be refused while the module is still being imported (the name may be defined further down), and would fail
every invocation with NameError. ``portafunc inspect`` and ``portafunc package`` resolve every function's call plan
once the whole app is imported, and refuse such a handler with one line naming the function and the parameter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
from __future__ import annotations

from pydantic import BaseModel

from portafunc import App, HttpRequest, Message

app = App("typos")

"""

QUEUE_TYPO = """\
@app.queue("rows")
def handle(msg: Mesage[Row]) -> None:
    pass
"""

HTTP_TYPO = """\
@app.http("POST", "/rows")
def add(req: HttpRequest, row: Rwo) -> dict:
    return {}
"""

RETURN_TYPO = """\
@app.http("GET", "/rows/{sku}")
def get(req: HttpRequest) -> Bok:
    return {}
"""

ROW = """\
class Row(BaseModel):
    sku: str
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def _app(tmp_path: Path, *parts: str) -> Path:
    (tmp_path / "main.py").write_text(HEAD + "\n\n".join(parts))
    return tmp_path


QUEUE_LINE = ("portafunc: error: function 'handle': parameter 'msg' is annotated Mesage[Row], but module main defines "
              "no 'Mesage': every call would fail with NameError")
HTTP_LINE = ("portafunc: error: function 'add': parameter 'row' is annotated Rwo, but module main defines no 'Rwo': "
             "every call would fail with NameError")
RETURN_LINE = ("portafunc: error: function 'get': its return annotation is Bok, but module main defines no 'Bok': "
               "every call would fail with NameError")


@pytest.mark.parametrize(("typo", "line"), [(QUEUE_TYPO, QUEUE_LINE), (HTTP_TYPO, HTTP_LINE),
                                            (RETURN_TYPO, RETURN_LINE)], ids=["queue", "http", "return"])
def test_inspect_and_package_refuse_an_annotation_naming_nothing(tmp_path: Path, typo: str, line: str) -> None:
    project = _app(tmp_path, typo, ROW)  # Row is defined after its use: that one resolves
    inspected = _cli("inspect", str(project))
    assert inspected.returncode == 2, inspected.stdout + inspected.stderr
    assert inspected.stderr.startswith(line), inspected.stderr
    assert inspected.stdout == ""
    packaged = _cli("package", "--target", "aws", "--out", str(tmp_path / "dist"), str(project))
    assert packaged.returncode == 2, packaged.stdout + packaged.stderr
    assert packaged.stderr.startswith(line), packaged.stderr
    assert not (tmp_path / "dist").exists()  # refused before anything is built


def test_every_unresolvable_handler_is_named_at_once(tmp_path: Path) -> None:
    out = _cli("inspect", str(_app(tmp_path, QUEUE_TYPO, HTTP_TYPO, ROW)))
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert lines[0] == "portafunc: error: 2 handlers could never be called:"
    assert lines[1].startswith("  - " + QUEUE_LINE.removeprefix("portafunc: error: "))
    assert lines[2].startswith("  - " + HTTP_LINE.removeprefix("portafunc: error: "))


def test_names_defined_further_down_and_a_typed_payload_pass(tmp_path: Path) -> None:
    project = _app(tmp_path, """\
@app.queue("rows")
def handle(msg: Message[Row]) -> None:
    pass


@app.http("POST", "/rows")
def add(req: HttpRequest, row: Row) -> Row:
    return row
""", ROW)
    out = _cli("inspect", str(project), "--target", "aws")
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_typed_payload_its_trigger_cannot_carry_is_refused_once_its_model_resolves(tmp_path: Path) -> None:
    project = _app(tmp_path, """\
@app.schedule("rate(1 hour)")
def nightly(evt, row: Row) -> None:
    pass
""", ROW)
    out = _cli("inspect", str(project))
    assert out.returncode == 2
    assert out.stderr.startswith("portafunc: error: function 'nightly': parameter 'row' asks for a typed payload, but "
                                 "schedule events carry no payload"), out.stderr
