"""The EDI channel (`channel: edi`): the invoice as an EANCOM INVOIC D96A (formats/edifact.py) put
in the documents bucket's EDI outbox and sent to the trading partner over AS2 by an AWS Transfer
Family connector (`StartFileTransfer`; the connector, with the partner's URL and certificates, is
the recipient's `endpoint`). The partner's signed receipt (MDN) is the delivery milestone: Transfer
Family publishes `AS2 MDN Receive Completed` (disposition `processed`: delivered; `processed/error`
or `failed`: refused) or `AS2 MDN Receive Failed` / `AS2 Payload Send Failed` to EventBridge, and
`record_transfer_event` puts it on the invoice.

The outbox key names what the file is (`edi-outbox/{supplier}/{invoice}/{purpose}/{recipient}/
{number}.edi`), so an event finds its invoice and delivery record without any lookup table, and a
sender that died after the connector took the file is settled by the MDN, never sent twice."""
from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote, unquote

from .. import clock
from ..context import Context
from ..errors import PermanentError
from ..formats import edifact
from ..model.directory import Recipient
from ..model.invoice import Invoice
from ..model.lifecycle import EventKind
from ..observability import count
from ..tracking.deliveries import DeliveryStore
from ..tracking.store import Event, InvoiceRecord, apply_event
from .outbound import safe_name

OUTBOX = "edi-outbox"
MDN_OK = "processed"
EVENTS = ("AS2 MDN Receive Completed", "AS2 MDN Receive Failed", "AS2 Payload Send Failed")


def outbox_key(supplier_id: str, invoice_id: str, purpose: str, recipient_id: str, number: str) -> str:
    return f"{OUTBOX}/{supplier_id}/{invoice_id}/{quote(purpose, safe='')}/{quote(recipient_id, safe='')}/{safe_name(number)}.edi"


def send(ctx: Context, rec: InvoiceRecord, inv: Invoice, recipient: Recipient, purpose: str) -> str:
    """Write the INVOIC to the outbox and hand it to the recipient's AS2 connector; the transfer id."""
    if not recipient.endpoint:
        raise PermanentError(f"recipient '{recipient.id}' on edi has no AS2 connector (endpoint)", code="edi_not_configured")
    # the interchange control reference: stable for this delivery (the partner's duplicate check)
    ref = str(int(hashlib.sha256(f"{rec.invoice_id}|{purpose}|{recipient.id}".encode()).hexdigest()[:12], 16))[:14]
    data = edifact.write(inv, control_reference=ref, now=clock.now())
    key = outbox_key(rec.supplier_id, rec.invoice_id, purpose, recipient.id, inv.number)
    ctx.documents.put(key, data, "application/edifact")
    bucket = ctx.settings.require("documents_bucket")
    res = ctx.client("transfer").start_file_transfer(ConnectorId=recipient.endpoint, SendFilePaths=[f"/{bucket}/{key}"])
    return str(res["TransferId"])


def _parse_key(key: str) -> tuple[str, str, str, str] | None:
    """(supplier, invoice id, purpose, recipient id) from an outbox key."""
    parts = key.split("/")
    if len(parts) != 6 or parts[0] != OUTBOX:
        return None
    return parts[1], parts[2], unquote(parts[3]), unquote(parts[4])


def record_transfer_event(ctx: Context, detail_type: str, detail: dict[str, Any]) -> dict:
    """An AS2 event of Transfer Family (EventBridge `detail`): the MDN says whether the partner took the file."""
    if detail_type not in EVENTS:
        return {"ignored": detail_type}
    s3 = detail.get("s3-attributes") or {}
    found = _parse_key(str(s3.get("file-key") or ""))
    if found is None:
        return {"ignored": "not a Facteur outbox file"}
    supplier_id, invoice_id, purpose, recipient_id = found
    rec = ctx.store.get(invoice_id)
    if rec.supplier_id != supplier_id:
        return {"ignored": "the file's supplier is not the invoice's"}
    transfer_id = str(detail.get("transfer-id") or "")
    disposition = str(detail.get("disposition") or "")
    processed = detail_type == "AS2 MDN Receive Completed" and disposition.rstrip().lower().endswith(MDN_OK)
    info: dict[str, Any] = {"channel": "edi", "message_id": transfer_id, "as2_event": detail_type,
                            **{k: v for k, v in {"disposition": disposition or None,
                                                 "mdn_message_id": detail.get("mdn-message-id"),
                                                 "mdn_key": s3.get("mdn-key"), "status_code": detail.get("status-code"),
                                                 "error": detail.get("failure-code") or (None if processed else "mdn_refused"),
                                                 "reason": detail.get("failure-message")}.items() if v}}
    DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb")).confirm(invoice_id, purpose, recipient_id,
                                                                                     "edi", transfer_id)
    kind = EventKind.DELIVERED if processed else EventKind.BOUNCED
    count("EdiDelivered" if processed else "EdiRefused")
    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=_at(detail), actor="as2",
                                             recipient_id=recipient_id, detail=info,
                                             id=f"as2:{transfer_id}:{'mdn' if processed else 'failed'}"))
    return {"recorded": kind.value, "invoice_id": invoice_id}


def _at(detail: dict[str, Any]):
    stamp = detail.get("end-timestamp") or detail.get("start-timestamp")
    try:
        return clock.parse_iso(str(stamp)) if stamp else clock.now()
    except ValueError:
        return clock.now()
