"""``check-status --url`` reads the status URL it is given (it used to append /v6/status/ again)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from scheduler.commands.check import check_status, status_url
from scheduler.commands.operations import update_database
from scheduler.config import load_settings


def test_the_url_is_taken_as_given_and_a_bare_address_means_its_status():
    assert status_url("http://h:8000/v6/status/") == "http://h:8000/v6/status/"
    assert status_url("https://proxy.example/scale/api/v6/status/") == "https://proxy.example/scale/api/v6/status/"
    assert status_url("http://h:8000") == "http://h:8000/v6/status/"
    assert status_url("http://h:8000/") == "http://h:8000/v6/status/"
    for bad in ("file:///etc/passwd", "ftp://h/x", "h:8000/v6/status/", "http:///v6/status/"):
        with pytest.raises(ValueError):
            status_url(bad)


@pytest.fixture
def status_server():
    """Serves a minimal v6 status at one path only; records the paths asked for."""
    seen: list[str] = []
    document = json.dumps({"timestamp": "2026-01-01T00:00:00Z", "nodes": []}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            seen.append(self.path)
            if self.path == "/scale/api/v6/status/":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(document)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_check_status_reads_exactly_the_given_url(status_server, tmp_path, capsys):
    base, seen = status_server
    settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/check.db"}, config_file="/dev/null")
    assert update_database(settings) == 0
    assert check_status(settings, base + "/scale/api/v6/status/") == 0
    assert seen == ["/scale/api/v6/status/"]
    assert "match" in capsys.readouterr().err

    assert check_status(settings, "file:///etc/hostname") == 1
    assert check_status(settings, base + "/elsewhere/") == 1  # 404: a clear failure, not a crash
    assert seen[-1] == "/elsewhere/"
    assert "cannot read the status" in capsys.readouterr().err
