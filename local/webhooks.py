"""A webhook receiver on loopback, as a customer's or a portal's API would be: it verifies the
Standard Webhooks signature, keeps every request (headers, body, verdict), drops a repeated
`webhook-id` (answering 200 again, as receivers are told to), and can be told to answer errors
first (503 five times, 429, 410...) to exercise the sender's retries and refusals."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    valid: bool
    status: int

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    secret: str
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses to answer first, in order
    script_for: dict[str, list[int]] = field(default_factory=dict)  # the same, only for bodies containing the key
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from facteur.delivery.webhook import verify

                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                valid = verify(receiver.secret, headers, body)
                with receiver.lock:
                    mine = next((v for k, v in receiver.script_for.items() if k.encode() in body and v), None)
                    status = mine.pop(0) if mine else receiver.script.pop(0) if receiver.script else (200 if valid else 401)
                    if status == 200 and headers.get("webhook-id") in receiver.seen:
                        status = 200  # a duplicate: acknowledged, not processed twice
                    elif status == 200:
                        receiver.seen.add(headers.get("webhook-id", ""))
                    receiver.requests.append(Received(self.path, headers, body, valid, status))
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"status": status}).encode())

            def log_message(self, *args) -> None:
                return

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def accepted(self) -> list[Received]:
        """What the receiver processed: valid, 2xx, each webhook id once."""
        out, ids = [], set()
        for r in self.requests:
            if r.valid and r.status == 200 and r.headers.get("webhook-id") not in ids:
                ids.add(r.headers.get("webhook-id"))
                out.append(r)
        return out

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
