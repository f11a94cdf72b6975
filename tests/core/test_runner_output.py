"""``portafunc run`` keeps lines whole: a handler's ``print`` lines and the runner's own lines (written from other
threads) never share a line of the terminal, and a line left without its newline is still written at exit."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from test_runner import REPO, portafunc_cmd, runner_env

from portafunc.runner.console import LineStream, say, whole_lines

CHATTY = Path(__file__).resolve().parent / "runner_fixtures" / "chatty"
WHOLE = re.compile(r"print \d \d+ x{60}|say \d+ x{60}|\d\d:\d\d:\d\d INFO    chatty: logged \d+ x{60}"
                   r"|\d\d:\d\d:\d\d schedule rate\(1 day\) \(manual\) -> chatter success \S+")


def run_into_file(tmp: Path, function: str, **env: str) -> tuple[int, str]:
    """Run ``--trigger FUNCTION`` with stdout and stderr on one file, as they share a terminal."""
    out = tmp / f"{function}.out"
    with open(out, "wb") as sink:
        proc = subprocess.run(portafunc_cmd("run", str(CHATTY), "--trigger", function), cwd=REPO, stdout=sink,
                              stderr=subprocess.STDOUT, env=runner_env(tmp / "records.jsonl", **env), timeout=60)
    return proc.returncode, out.read_text(encoding="utf-8")


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["PYTHONUNBUFFERED", "buffered"])
def test_prints_and_runner_lines_from_many_threads_stay_whole_lines(tmp_path: Path, unbuffered: str) -> None:
    code, out = run_into_file(tmp_path, "chatter", PYTHONUNBUFFERED=unbuffered)
    assert code == 0, out
    lines = out.splitlines()
    broken = [line for line in lines if not WHOLE.fullmatch(line)]
    assert not broken, f"{len(broken)} line(s) not whole, e.g. {broken[:3]}"
    assert len(lines) == 4 * 1000 + 2 * 1000 + 1


def test_a_line_without_its_newline_is_written_at_exit(tmp_path: Path) -> None:
    code, out = run_into_file(tmp_path, "unfinished")
    assert code == 0, out
    assert "no newline here" in out.splitlines()


# -- the stream wrapper itself ------------------------------------------------------------------------------------
def file_stream(path: Path) -> io.TextIOWrapper:
    return open(path, "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115 - closed by the test


def test_the_stream_keeps_what_the_wrapped_one_says_about_itself(tmp_path: Path) -> None:
    with file_stream(tmp_path / "out") as raw:
        stream = LineStream(raw, threading.RLock())
        assert stream.fileno() == raw.fileno()
        assert stream.isatty() is False
        assert (stream.encoding, stream.errors, stream.name) == ("utf-8", "backslashreplace", raw.name)
        assert stream.writable() and not stream.closed
        with pytest.raises(TypeError):
            stream.write(b"bytes")  # type: ignore[arg-type]


def test_partial_lines_wait_for_their_thread_s_newline(tmp_path: Path) -> None:
    path = tmp_path / "out"
    with file_stream(path) as raw:
        stream = LineStream(raw, threading.RLock())
        assert stream.write("one ") == 4
        assert path.read_text() == ""  # nothing until the newline
        other = threading.Thread(target=lambda: stream.write("another thread\n"))
        other.start()
        other.join()
        stream.writelines(["two\nthree", "\n"])
        assert path.read_text() == "another thread\none two\nthree\n"
        stream.write("progress")
        stream.flush()  # an explicit flush writes the thread's partial line as it is
        assert path.read_text().endswith("three\nprogress")


def test_a_dead_thread_s_partial_line_is_not_given_to_another(tmp_path: Path) -> None:
    """A thread that ends with its line unfinished: the next thread (often given the same ident) starts afresh."""
    path = tmp_path / "out"
    with file_stream(path) as raw:
        stream = LineStream(raw, threading.RLock())
        for text in ("left by a thread that ended", "a new line\n", "left by another", "and one more\n"):
            t = threading.Thread(target=stream.write, args=(text,))
            t.start()
            t.join()
        stream.end_all()
        lines = path.read_text().splitlines()
        assert sorted(lines) == ["a new line", "and one more", "left by a thread that ended", "left by another"]


def test_whole_lines_installs_for_its_duration_and_flushes_partial_lines(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with file_stream(out_path) as out, file_stream(err_path) as err:
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        with whole_lines():
            assert isinstance(sys.stdout, LineStream) and isinstance(sys.stderr, LineStream)
            with whole_lines():  # nested: kept, not wrapped twice
                assert sys.stdout.wrapped is out  # type: ignore[attr-defined]
            print("unfinished", end="")
            say("a runner line")
            assert out_path.read_text() == ""
        assert sys.stdout is out and sys.stderr is err
        assert out_path.read_text() == "unfinished\n"
        assert err_path.read_text() == "a runner line\n"


def unbuffered(fd: int) -> io.TextIOWrapper:
    """A text stream on ``fd`` as ``python -u`` makes stdout: each write() of the text layer is a write(2)."""
    return io.TextIOWrapper(open(fd, "wb", buffering=0, closefd=False), encoding="utf-8",  # noqa: SIM115
                            write_through=True)


def test_a_pipe_reader_sees_whole_lines_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both streams on one pipe, many threads: every line read back is one of the lines written."""
    read_fd, write_fd = os.pipe()
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(read_fd, 65536), b"")),
                              daemon=True)
    reader.start()
    try:
        monkeypatch.setattr(sys, "stdout", unbuffered(write_fd))
        monkeypatch.setattr(sys, "stderr", unbuffered(write_fd))

        def printer(n: int) -> None:
            for i in range(300):
                print("print", n, i, "y" * 40)

        def sayer() -> None:
            for i in range(300):
                say(f"say {i} {'z' * 40}")

        with whole_lines():
            threads = [threading.Thread(target=printer, args=(n,)) for n in range(4)]
            threads.append(threading.Thread(target=sayer))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        monkeypatch.undo()
    finally:
        os.close(write_fd)
        reader.join(10)
        os.close(read_fd)
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 5 * 300
    assert all(re.fullmatch(r"print \d \d+ y{40}|say \d+ z{40}", line) for line in lines), lines[:5]
