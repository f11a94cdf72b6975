"""req.form(): URL-encoded and multipart bodies parsed into fields and files; malformed forms are 400, other content
types 415 (as problems, through handle_http), never a crash."""

from __future__ import annotations

import pytest

from portafunc import BadRequest, FormData, HttpRequest, UploadedFile
from portafunc.forms import MAX_FIELDS

URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


def multipart(*parts: bytes, boundary: bytes = b"BB") -> tuple[bytes, dict[str, str]]:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + b"--" + boundary + b"--\r\n"
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}


def form_of(body: bytes, headers: dict[str, str] | None) -> FormData:
    return HttpRequest("POST", "/f", body=body, headers=headers).form()


def test_a_url_encoded_form_keeps_repeated_and_blank_fields() -> None:
    form = form_of(b"a=1&b=%E2%82%AC&a=2&c=&d+e=f+g&raw=\xc3\xa9", URLENCODED)
    assert form.fields == {"a": ["1", "2"], "b": ["€"], "c": [""], "d e": ["f g"], "raw": ["é"]}
    assert form["a"] == "1" and form.get("zz") is None and form.get_all("a") == ["1", "2"]
    assert "c" in form and list(form) == ["a", "b", "c", "d e", "raw"] and form.files == {}


def test_a_multipart_form_splits_fields_from_files_and_keeps_only_the_file_name() -> None:
    body, headers = multipart(
        b'Content-Disposition: form-data; name="title"\r\n\r\nhello',
        b'Content-Disposition: form-data; name="doc"; filename="C:\\\\Users\\\\me\\\\a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nline 1\r\nline 2",
        b'Content-Disposition: form-data; name="doc"; filename="b.bin"\r\n\r\n\x00\xff')
    form = form_of(body, headers)
    assert form.fields == {"title": ["hello"]}
    first, second = form.files["doc"]
    assert isinstance(first, UploadedFile) and form.file("doc") is first
    assert (first.filename, first.content_type, first.data) == ("a.txt", "text/plain", b"line 1\r\nline 2")
    assert (second.filename, second.content_type, second.data, second.size) == (
        "b.bin", "application/octet-stream", b"\x00\xff", 2)
    assert form.file("none") is None


def test_the_form_is_parsed_once_per_request() -> None:
    req = HttpRequest("POST", "/f", body=b"a=1", headers=URLENCODED)
    assert req.form() is req.form()


@pytest.mark.parametrize(("body", "headers", "status", "detail"), [
    (b"a=%FF", URLENCODED, 400, "UTF-8"),
    (b"a=\xff", URLENCODED, 400, "URL-encoded"),
    (b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS + 1)), URLENCODED, 400, "refused"),
    (b"x", {"Content-Type": "multipart/form-data"}, 400, "boundary"),
    (b"--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunfinished", {
        "Content-Type": "multipart/form-data; boundary=BB"}, 400, "closing boundary"),
    (multipart(b"Content-Type: text/plain\r\n\r\nno name")[0], multipart()[1], 400, "name="),
    (multipart(b'Content-Disposition: form-data; name="a"\r\n\r\n\xff')[0], multipart()[1], 400, "UTF-8"),
    (b"".join(multipart(*[b'Content-Disposition: form-data; name="a"\r\n\r\n1'] * (MAX_FIELDS + 1))[:1]),
     multipart()[1], 400, "parts"),
    (b"{}", {"Content-Type": "application/json"}, 415, "a form is sent as"),
    (b"a=1", None, 415, "no content type"),
])
def test_malformed_forms_and_other_content_types_are_refused(body: bytes, headers: dict[str, str] | None,
                                                             status: int, detail: str) -> None:
    with pytest.raises(BadRequest) as refused:
        form_of(body, headers)
    assert refused.value.status == status and detail in refused.value.detail
