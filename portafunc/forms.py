"""HTML form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data`` (fields and uploaded files).

``req.form()`` parses the body once per request, in memory (the body is already bounded by the front door and
``PORTAFUNC_MAX_BODY_BYTES``). URL-encoded forms are read by the standard library's ``urllib.parse``; multipart
bodies by ``python-multipart`` (the ``portafunc[forms]`` extra), imported on the first multipart request only.
A malformed form is a 400 problem, a body of another content type a 415, never a crash.
"""

from __future__ import annotations

from .errors import BadRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from .events import HttpRequest

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FIELDS = 1000  # fields and files of one form: past that, 400 (a form of many tiny parts costs CPU per part)


class UploadedFile:
    """One file of a ``multipart/form-data`` body: the ``filename`` the client gave (its last path segment), the
    part's ``content_type`` and its bytes (``data``)."""

    __slots__ = ("name", "filename", "content_type", "data", "headers")

    def __init__(self, name: str, filename: str, content_type: str, data: bytes,
                 headers: dict[str, str] | None = None) -> None:
        self.name = name  # the form field it was sent as
        self.filename = filename
        self.content_type = content_type
        self.data = data
        self.headers = headers or {}  # the part's headers, names lower-cased

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """A model field may be an ``UploadedFile`` (filled from a multipart body) without
        ``arbitrary_types_allowed``: an instance is taken as it is."""
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        """What the OpenAPI document shows for such a field: a file's contents."""
        return {"type": "string", "format": "binary"}

    def __repr__(self) -> str:
        return f"UploadedFile({self.name!r}, filename={self.filename!r}, {self.content_type}, {self.size} bytes)"


class FormData:
    """The fields (text) and files of a form body; a name sent several times keeps every value, in order.

    ``form["name"]`` is a field's first value (KeyError when absent), ``form.get(name)`` the same or a default,
    ``form.get_all(name)`` every value; ``form.files[name]`` the uploaded files of a field, ``form.file(name)`` its
    first file or None.
    """

    __slots__ = ("fields", "files")

    def __init__(self, fields: dict[str, list[str]] | None = None,
                 files: dict[str, list[UploadedFile]] | None = None) -> None:
        self.fields: dict[str, list[str]] = fields if fields is not None else {}
        self.files: dict[str, list[UploadedFile]] = files if files is not None else {}

    def __getitem__(self, name: str) -> str:
        return self.fields[name][0]

    def __contains__(self, name: object) -> bool:
        return name in self.fields or name in self.files

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.fields, *self.files]))

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def file(self, name: str) -> UploadedFile | None:
        files = self.files.get(name)
        return files[0] if files else None

    def __repr__(self) -> str:
        return f"FormData(fields={sorted(self.fields)}, files={sorted(self.files)})"


def parse_form(req: HttpRequest) -> FormData:
    """``req``'s body as a form.

    Raises:
        BadRequest: 415 when the content type is not a form type; 400 when the body is not a well-formed form
            (bad percent-encoding or UTF-8, a multipart body without its boundary or closing delimiter, a part
            without a name, more than ``MAX_FIELDS`` fields).
    """
    header = req.headers.get("content-type") or ""
    media = header.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return _urlencoded(req.body)
    if media == "multipart/form-data":
        return _multipart(req.body, header)
    what = f"content type {media!r}" if media else "no content type"
    raise BadRequest(f"the request body has {what}; a form is sent as {' or '.join(FORM_TYPES)}", status=415,
                     title="Unsupported Media Type")


def _urlencoded(body: bytes) -> FormData:
    from urllib.parse import parse_qsl

    try:
        text = body.decode("utf-8")  # percent-encoded by browsers; raw UTF-8 (curl -d 'name=é') is read too
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"form body is not valid URL-encoded UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:  # more than max_num_fields
        raise BadRequest(f"form body is refused: {exc}") from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return FormData(fields)


def _multipart(body: bytes, content_type: str) -> FormData:
    try:
        from python_multipart.exceptions import MultipartParseError
        from python_multipart.multipart import MultipartParser, parse_options_header
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("multipart/form-data bodies need python-multipart: pip install 'portafunc[forms]'") \
            from None
    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data body without a boundary in its Content-Type")
    reader = _PartReader()
    parser = MultipartParser(boundary, reader.callbacks(), max_size=len(body))
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(f"multipart/form-data body is malformed: {exc}") from None
    if not reader.ended:
        raise BadRequest("multipart/form-data body ends before its closing boundary")
    return reader.form(parse_options_header)


class _PartReader:
    """Collects the parts python-multipart reports, in memory."""

    def __init__(self) -> None:
        self.parts: list[tuple[dict[str, str], bytes]] = []
        self.ended = False
        self._headers: dict[str, str] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._data = bytearray()

    def callbacks(self) -> Any:
        def part_begin() -> None:
            if len(self.parts) >= MAX_FIELDS:
                raise BadRequest(f"form body has more than {MAX_FIELDS} parts")
            self._headers, self._data = {}, bytearray()

        def header_field(data: bytes, start: int, end: int) -> None:
            self._field += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._value += data[start:end]

        def header_end() -> None:
            name = self._field.decode("latin-1").strip().lower()
            self._headers[name] = self._value.decode("latin-1").strip()
            self._field, self._value = bytearray(), bytearray()

        def part_data(data: bytes, start: int, end: int) -> None:
            self._data += data[start:end]

        def part_end() -> None:
            self.parts.append((self._headers, bytes(self._data)))

        def end() -> None:
            self.ended = True

        return {"on_part_begin": part_begin, "on_header_field": header_field, "on_header_value": header_value,
                "on_header_end": header_end, "on_part_data": part_data, "on_part_end": part_end, "on_end": end}

    def form(self, parse_options_header: Any) -> FormData:
        fields: dict[str, list[str]] = {}
        files: dict[str, list[UploadedFile]] = {}
        for headers, data in self.parts:
            disposition, options = parse_options_header(headers.get("content-disposition"))
            raw_name = options.get(b"name")
            if disposition != b"form-data" or raw_name is None:
                raise BadRequest("multipart/form-data part without 'Content-Disposition: form-data; name=...'")
            name = raw_name.decode("utf-8", "replace")
            filename = options.get(b"filename")
            if filename is not None:
                base = filename.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
                files.setdefault(name, []).append(UploadedFile(
                    name, base, headers.get("content-type", "application/octet-stream"), data, headers))
                continue
            try:
                fields.setdefault(name, []).append(data.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise BadRequest(f"form field {name!r} is not valid UTF-8: {exc.reason} at byte {exc.start}") \
                    from None
        return FormData(fields, files)


__all__ = ["FormData", "UploadedFile", "parse_form", "FORM_TYPES"]
