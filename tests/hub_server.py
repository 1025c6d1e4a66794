"""A real HTTP server on 127.0.0.1 that stands in for the Hugging Face Hub.

It speaks the part of the Hub that huggingface_hub (2.x, plain HTTP: HF_HUB_DISABLE_XET=1) uses
for ``hf_hub_download`` and ``get_hf_file_metadata``:

    HEAD /{repo_id}/resolve/{revision}/{filename}   metadata only
    GET  /{repo_id}/resolve/{revision}/{filename}   the bytes (Range: bytes=N- or N-M -> 206)

with the headers huggingface_hub reads: ``X-Repo-Commit`` (required, else FileMetadataError),
``X-Linked-Etag`` (preferred over ``ETag``; for an LFS file its sha256), ``X-Linked-Size``
(preferred over ``Content-Length``) and, in ``redirect`` mode, ``Location``. Like the real Hub
serves LFS files, ``redirect=True`` answers /resolve/ with a 302 to another host name
(``localhost`` instead of ``127.0.0.1``, so huggingface_hub treats it as a CDN: the HEAD stops at
the 302 and the GET goes straight to the Location).

Scriptable per file (see HubFile): serve other bytes than the advertised checksum, advertise an
arbitrary etag, or drop the connection at byte N of the file on the first GET(s). Every request is
recorded (method, path, Range header) in ``requests``.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"  # what X-Repo-Commit says for a branch name
RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class HubFile:
    data: bytes  # the file as the Hub describes it: its sha256 and size are advertised
    served: bytes | None = None  # what GET really sends (None: ``data``)
    etag: str | None = None  # X-Linked-Etag / ETag (None: sha256 of ``data``)
    cut_after: int | None = None  # drop the connection once the file up to this offset is sent...
    cuts: int = 1  # ...on this many GETs (the first ones; a Range GET from beyond it sends nothing)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def body(self) -> bytes:
        return self.data if self.served is None else self.served


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent, still URL-quoted, without the query
    range: str | None  # the Range header
    filename: str | None = None  # the file it was for, when the path names one


@dataclass
class HubServer:
    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    redirect: bool = False

    def __post_init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @classmethod
    def serving(cls, files: dict[tuple[str, str], bytes], redirect: bool = False) -> HubServer:
        return cls({key: HubFile(data) for key, data in files.items()}, redirect)

    # -- control ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, repo_id: str, filename: str, data: bytes, **options: Any) -> HubFile:
        hub_file = HubFile(data, **options)
        self.files[(repo_id, filename)] = hub_file
        return hub_file

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def gets(self, filename: str | None = None) -> list[Request]:
        """The GET requests (for one file, or all)."""
        with self._lock:
            return [r for r in self.requests
                    if r.method == "GET" and (filename is None or r.filename == filename)]

    # -- HTTP ------------------------------------------------------------------------------

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_cut(self, hub_file: HubFile) -> int | None:
        with self._lock:
            if hub_file.cut_after is None or hub_file.cuts <= 0:
                return None
            hub_file.cuts -= 1
            return hub_file.cut_after

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as huggingface_hub's pooled client expects

            def log_message(self, *args: Any) -> None:
                return None

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(head=True)

            def do_GET(self) -> None:  # noqa: N802
                self._serve(head=False)

            def _locate(self) -> tuple[str, str, str, str] | None:
                """(kind, repo_id, revision, filename) from /{repo}/resolve/{rev}/{file} or
                /cdn/{repo}/{file}."""
                parts = urlsplit(self.path).path.lstrip("/").split("/")
                if len(parts) >= 5 and parts[2] == "resolve":
                    return ("resolve", unquote(f"{parts[0]}/{parts[1]}"), unquote(parts[3]),
                            unquote("/".join(parts[4:])))
                if len(parts) >= 4 and parts[0] == "cdn":
                    return ("cdn", unquote(f"{parts[1]}/{parts[2]}"), "", unquote("/".join(parts[3:])))
                return None

            def _serve(self, head: bool) -> None:
                where = self._locate()
                server._record(Request(self.command, urlsplit(self.path).path,
                                       self.headers.get("Range"), where[3] if where else None))
                if where is None:
                    self._error(404, "RepoNotFound", f"no route {self.path}", head)
                    return
                kind, repo_id, revision, filename = where
                hub_file = server.files.get((repo_id, filename))
                if hub_file is None:
                    self._error(404, "EntryNotFound", f"{filename} is not in {repo_id}", head)
                    return
                commit = revision if HEX40.match(revision) else COMMIT
                etag = hub_file.etag or hub_file.sha256
                meta = {"X-Repo-Commit": commit, "ETag": f'"{etag}"', "X-Linked-Etag": f'"{etag}"',
                        "X-Linked-Size": str(len(hub_file.data)), "Accept-Ranges": "bytes"}
                if kind == "resolve" and server.redirect:
                    cdn = f"http://localhost:{server.port}/cdn/{repo_id}/{quote(filename)}?sig=test"
                    self.send_response(302)
                    for key, value in {**meta, "Location": cdn, "Content-Length": "0"}.items():
                        self.send_header(key, value)
                    self.end_headers()
                    return
                if kind == "resolve":
                    headers = meta
                else:  # the CDN knows nothing of repositories
                    headers = {"ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
                self._content(hub_file, headers, head)

            def _content(self, hub_file: HubFile, headers: dict[str, str], head: bool) -> None:
                body = hub_file.body
                start, status = 0, 200
                wanted = None if head else self.headers.get("Range")
                if wanted:
                    match = RANGE.match(wanted.strip())
                    if match is None or int(match.group(1)) >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    start = int(match.group(1))
                    end = int(match.group(2)) + 1 if match.group(2) else len(body)
                    headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{len(body)}"}
                    body, status = body[start:end], 206
                self.send_response(status)
                for key, value in {**headers, "Content-Type": "application/octet-stream",
                                   "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if head:
                    return
                cut = server._take_cut(hub_file)
                if cut is None:
                    self.wfile.write(body)
                    return
                # An interrupted transfer: part of the promised body, then the connection drops.
                self.wfile.write(body[:max(0, cut - start)])
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def _error(self, code: int, error_code: str, message: str, head: bool) -> None:
                raw = ('{"error": "' + message.replace('"', "'") + '"}').encode()
                self.send_response(code)
                self.send_header("X-Error-Code", error_code)
                self.send_header("X-Error-Message", message)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if not head:
                    self.wfile.write(raw)

        return Handler
