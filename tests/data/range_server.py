"""A local HTTP server for download tests: serves bytes from memory on 127.0.0.1, honours
``Range: bytes=N-`` (206 Partial Content), and can drop the connection halfway through a file,
the way a flaky network does. Every request is logged with its Range header."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Served:
    files: dict[str, bytes] = field(default_factory=dict)  # URL path → content
    cut_once: set[str] = field(default_factory=set)  # paths whose next full response stops halfway
    ignore_range: set[str] = field(default_factory=set)  # paths served whole (200) even when a Range is asked
    log: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    base: str = ""

    def url(self, path: str) -> str:
        return self.base + path


def _handler(served: Served) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            rng = self.headers.get("Range")
            served.log.append((self.path, rng))
            if self.path in served.ignore_range:
                rng = None
            body = served.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
            if start >= len(body) and rng:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206 if rng else 200)
            if rng:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if self.path in served.cut_once and not rng:
                served.cut_once.discard(self.path)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # the connection drops midway
                self.close_connection = True
                return
            self.wfile.write(body[start:])

    return Handler


@contextmanager
def range_server() -> Iterator[Served]:
    """A running server (in a thread) and what it serves; stopped when the block ends."""
    served = Served()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    served.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
