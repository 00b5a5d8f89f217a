"""What the loopback fakes of external services share: an HTTP server on 127.0.0.1, on a free port,
served by a daemon thread, that writes no access log."""
from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        return


class Loopback:
    server: ThreadingHTTPServer

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()


class OAuthClients:
    """An OAuth2 token endpoint for the client credentials grant: one client, tokens kept in `tokens`."""

    client_id: str
    client_secret: str
    tokens: set[str]
    lock: threading.Lock

    def token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != ["client_credentials"] or form.get("client_id") != [self.client_id] \
                or form.get("client_secret") != [self.client_secret]:
            return 401, {"error": "invalid_client"}
        token = uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
