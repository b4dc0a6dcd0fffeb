"""The live page's server: the page at `/`, the statistics file at `/stats.json`, on localhost.

A page opened from a file may not read another local file (browsers forbid
it), so live statistics are served: the binary rewrites its `--stats-json`
file atomically at every interval, and each request reads it afresh. The
server listens on 127.0.0.1 only and serves nothing else.
"""

from __future__ import annotations

from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chainc.viz.html import STATS_PATH
from chainc.viz.statsfile import StatsError, parse_stats

HOST = "127.0.0.1"


def make_server(page: str, stats_path: str, port: int = 0) -> ThreadingHTTPServer:
    """A server (not yet serving) for `page` and the statistics file; port 0 picks a free one.

    Raises OSError when the port is taken.
    """
    body = page.encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", body)
            elif path == "/" + STATS_PATH:
                self._send_stats()
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found")

        def _send_stats(self) -> None:
            try:
                with open(stats_path, "rb") as f:
                    data = f.read()
                # A file the page could not use is sent as the reason instead.
                parse_stats(data.decode("utf-8"), stats_path)
            except OSError as exc:
                message = f"{stats_path}: cannot read: {exc.strerror}"
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                           message.encode("utf-8"))
                return
            except (StatsError, UnicodeDecodeError) as exc:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                           str(exc).encode("utf-8"))
                return
            self._send(HTTPStatus.OK, "application/json", data)

        def _send(self, code: HTTPStatus, kind: str, data: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # one line per poll would bury the URL the user needs

    return ThreadingHTTPServer((HOST, port), Handler)
