"""``compile_pyc(bytecode_only=...)``: the named folders become ``module.pyc`` beside where the source was (no
``.py``, no ``__pycache__``), importable by the same Python without their sources; docstrings are gone, asserts and
line numbers stay; everything else keeps its source beside its cached bytecode; two compilations give the same
bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from portafunc.packaging.build import compile_pyc

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
LIB = '''"""Module docstring."""

from __future__ import annotations


class Thing:
    """Class docstring."""


def only_doc() -> None:
    """A body that is only a docstring."""


def checked(value: int) -> int:
    """Function docstring."""
    assert value > 0, "value must be positive"
    return value


def fails() -> None:
    raise ValueError("from line 21")
'''
CHECK = r"""
import sys, traceback
sys.path.insert(0, sys.argv[1])
import vendored.lib as lib
print(lib.__file__.endswith("vendored/lib.pyc"), lib.__doc__, lib.Thing.__doc__, lib.only_doc(), lib.checked.__doc__)
try:
    lib.checked(0)
except AssertionError as exc:
    print("assert kept:", exc)
try:
    lib.fails()
except ValueError:
    print(traceback.format_exc().splitlines()[-2].strip())
"""


def _tree(root: Path) -> Path:
    (root / "vendored").mkdir(parents=True)
    (root / "vendored" / "__init__.py").write_text("")
    (root / "vendored" / "lib.py").write_text(LIB)
    (root / "app.py").write_text('"""The app keeps this."""\n')
    return root


def test_named_folders_become_sourceless_bytecode_without_docstrings(tmp_path: Path) -> None:
    root = _tree(tmp_path / "a")
    assert compile_pyc(root, PY, bytecode_only=["vendored"])
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    tag = PY.replace(".", "")
    assert files == [f"__pycache__/app.cpython-{tag}.pyc", "app.py", "vendored/__init__.pyc", "vendored/lib.pyc"]
    done = subprocess.run([sys.executable, "-I", "-c", CHECK, str(root)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "True None None None None"
    assert lines[1] == "assert kept: value must be positive"
    assert lines[2] == 'File "vendored/lib.py", line 21, in fails'  # file and line, no source line to show


def test_sourceless_bytecode_is_reproducible(tmp_path: Path) -> None:
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert compile_pyc(first, PY, bytecode_only=["vendored"]) and compile_pyc(second, PY, bytecode_only=["vendored"])
    assert (first / "vendored" / "lib.pyc").read_bytes() == (second / "vendored" / "lib.pyc").read_bytes()
