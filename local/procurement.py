"""A procurement network on loopback (SAP Ariba or Coupa's cXML invoice endpoint), as the cXML 1.2
contract says: it takes a cXML `InvoiceDetailRequest` posted as text/xml, checks the document
against the cXML DTD when given one, the sender's shared secret and the buyer it is addressed to,
and answers a cXML `Response` whose `Status` says what happened (200 OK; 400 a document it
cannot take; 401 bad credentials; 406 not acceptable). A document already received (same
`payloadID`) is answered 200 again and kept once, as networks do. It can be told to answer
errors first (`script`: cXML status codes such as 500, 560; or an HTTP status given as
("http", 503))."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from .loopback import Loopback, QuietHandler

TEXTS = {200: "OK", 201: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 406: "Not Acceptable",
         409: "Conflict", 500: "Internal Server Error", 550: "Unable to reach cXML server", 560: "Temporary server error"}


@dataclass
class Received:
    payload_id: str
    invoice_id: str
    body: bytes
    status: int


@dataclass
class CxmlNetwork(Loopback):
    shared_secret: str
    buyers: set[str] = field(default_factory=set)  # the To identities it serves
    dtd: Path | None = None
    script: list[Any] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    documents: dict[str, bytes] = field(default_factory=dict)  # payloadID -> document, each once

    def __post_init__(self) -> None:
        net = self
        self.lock = threading.Lock()
        self._dtd = etree.DTD(str(self.dtd)) if self.dtd else None

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                from facteur.formats import cxml

                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                code, detail, pid, number = net.answer(body, self.headers.get("content-type", ""))
                http = 200
                with net.lock:
                    scripted = net.script.pop(0) if net.script else None
                if isinstance(scripted, tuple):
                    http, code, detail = int(scripted[1]), 500, "scripted HTTP error"
                elif isinstance(scripted, int):
                    code, detail = scripted, "scripted"
                elif code == 200:
                    with net.lock:
                        net.documents.setdefault(pid, body)  # taken once, however often it comes
                with net.lock:
                    net.requests.append(Received(pid, number, body, code if http == 200 else http))
                data = cxml.response(code, TEXTS.get(code, "Error"), detail)
                self.send_response(http)
                self.send_header("content-type", "text/xml; charset=UTF-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.serve(Handler)

    @property
    def url(self) -> str:
        return self.base_url + "/cxml/invoices"

    def answer(self, body: bytes, ctype: str) -> tuple[int, str, str, str]:
        """(status code, explanation, payloadID, invoice number) for a posted document."""
        if "xml" not in ctype:
            return 406, f"content type {ctype!r}: text/xml expected", "", ""
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
        except etree.XMLSyntaxError as exc:
            return 400, f"not well-formed: {exc}", "", ""
        pid = root.get("payloadID") or ""
        head = root.find("Request/InvoiceDetailRequest/InvoiceDetailRequestHeader")
        number = head.get("invoiceID", "") if head is not None else ""
        if self._dtd is not None and not self._dtd.validate(root):
            errors = "; ".join(str(e.message) for e in self._dtd.error_log.filter_from_errors()[:3])
            return 400, f"the document breaks the cXML DTD: {errors}", pid, number
        if root.findtext("Header/Sender/Credential/SharedSecret") != self.shared_secret:
            return 401, "SharedSecret does not match", pid, number
        if self.buyers and root.findtext("Header/To/Credential/Identity") not in self.buyers:
            return 400, "unknown buyer (To)", pid, number
        if head is None:
            return 406, "only InvoiceDetailRequest is accepted here", pid, number
        return 200, "", pid, number
