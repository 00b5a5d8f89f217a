"""The procurement-network channel (SAP Ariba, Coupa... : `channel: cxml`): the invoice as a cXML
`InvoiceDetailRequest` (formats/cxml.py) posted over HTTPS with the supplier's shared secret; the
network's `Response` status is the delivery milestone.

- `payloadID` is derived from the delivery record: a retry after a lost answer sends the same
  document, which the network recognises (it answers it again, and takes it once).
- Errors: the network unreachable, a timeout, HTTP 429/5xx or a cXML status 5xx (500, 550, 551,
  560) are retryable; HTTP 4xx or a cXML status 4xx (bad request, 401 credentials, 403, 406...)
  are permanent, with the network's own text."""
from __future__ import annotations

import hashlib

from .. import clock
from ..context import Context
from ..errors import PermanentError, RejectedInput, RetryableError
from ..formats import cxml
from ..model.directory import Recipient
from ..model.invoice import Invoice
from ..tracking.store import InvoiceRecord

TIMEOUT_SECONDS = 30


def payload_id(invoice_id: str, purpose: str, recipient_id: str) -> str:
    return f"{invoice_id}.{hashlib.sha256(f'{purpose}|{recipient_id}'.encode()).hexdigest()[:16]}@facteur"


def send(ctx: Context, rec: InvoiceRecord, inv: Invoice, recipient: Recipient, purpose: str) -> str:
    """Post the invoice to the recipient's network; its payloadID when the network took it."""
    import requests

    from ..delivery.webhook import check_url

    conf, url = recipient.cxml, recipient.endpoint
    if conf is None or not url:
        raise PermanentError(f"recipient '{recipient.id}' on cxml has no endpoint or credentials", code="cxml_not_configured")
    from .platforms import own_secret

    secret = own_secret(ctx, rec.supplier_id, f"{recipient.secret_id or ''}", "cxml", "cXML").strip()
    pid = payload_id(rec.invoice_id, purpose, recipient.id)
    env = cxml.Envelope(sender=cxml.Credential(domain=conf.from_domain, identity=conf.from_identity),
                        to=cxml.Credential(domain=conf.to_domain, identity=conf.to_identity), shared_secret=secret,
                        payload_id=pid, timestamp=clock.now(), deployment_mode=conf.deployment_mode)
    body = cxml.write(inv, env, lang=recipient.language)
    try:
        res = requests.post(check_url(url), data=body, timeout=TIMEOUT_SECONDS, allow_redirects=False,
                            headers={"Content-Type": "text/xml; charset=UTF-8", "Accept": "text/xml"})
    except requests.Timeout as exc:
        raise RetryableError(f"cXML network: no answer within {TIMEOUT_SECONDS} s", code="cxml_timeout") from exc
    except requests.ConnectionError as exc:
        raise RetryableError("cXML network could not be reached", code="cxml_unreachable") from exc
    try:
        status = cxml.read_response(res.content)
    except RejectedInput:
        status = None
    said = (f"{status.code} {status.text} {status.detail}" if status else " ".join(res.text.split())[:200]).strip()
    if res.status_code == 429 or res.status_code >= 500 or (status is not None and status.retryable):
        raise RetryableError(f"cXML network: HTTP {res.status_code}, {said}", code=f"cxml_{status.code if status else res.status_code}")
    if res.status_code >= 300 or status is None or not status.ok:
        raise PermanentError(f"cXML network refused it: HTTP {res.status_code}, {said}",
                             code=f"cxml_{status.code if status else res.status_code}")
    return pid
