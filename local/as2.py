"""The local AWS Transfer Family AS2 connector: what moto does not do.

moto keeps connectors (`CreateConnector`, `DescribeConnector`) but has no `StartFileTransfer`.
The patch adds it: the connector must exist (else `ResourceNotFoundException`, as AWS answers),
each `SendFilePaths` object must exist in the bucket, and the transfer is recorded with the
virtual time. The relay then plays the trading partner: it keeps the file as the partner
received it (`<out>/edi/<connector>/`), writes the partner's MDN beside it (and in the bucket,
under `edi-mdn/`), and publishes the Transfer Family event the connector would publish to
EventBridge (`AS2 MDN Receive Completed` with the disposition, or `AS2 Payload Send Failed`),
with the documented detail fields, so the tracker's handler runs unchanged. What the partner
answers is scripted per connector (`partners[connector_id] = ["processed", "processed/error:
unexpected-processing-error", "send_failed"]`, then `processed`)."""
from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass
class Transfer:
    transfer_id: str
    connector_id: str
    bucket: str
    key: str
    data: bytes
    at: datetime
    outcome: str = ""
    mdn: str = ""


@dataclass
class As2Outbox:
    now: Callable[[], datetime]
    partners: dict[str, list[str]] = field(default_factory=dict)
    transfers: list[Transfer] = field(default_factory=list)
    _pending: list[Transfer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, t: Transfer) -> None:
        with self.lock:
            self.transfers.append(t)
            self._pending.append(t)

    def take_pending(self) -> list[Transfer]:
        with self.lock:
            out, self._pending = self._pending, []
        return out

    @property
    def pending(self) -> int:
        with self.lock:
            return len(self._pending)

    def outcome(self, connector_id: str) -> str:
        with self.lock:
            script = self.partners.get(connector_id) or []
            return script.pop(0) if script else "processed"


def install_as2(outbox: As2Outbox) -> None:
    from moto.core.common_models import BaseModel  # noqa: F401 - moto loaded
    from moto.s3.models import s3_backends
    from moto.transfer.exceptions import ConnectorNotFound
    from moto.transfer.responses import TransferResponse

    from .patches import replace

    original = getattr(TransferResponse, "start_file_transfer", None)

    def start_file_transfer(self):
        params = json.loads(self.body)
        connector_id = params.get("ConnectorId", "")
        if connector_id not in self.transfer_backend.connectors:
            raise ConnectorNotFound(connector_id=connector_id)
        transfer_id = str(uuid.uuid4())
        for path in params.get("SendFilePaths") or []:
            bucket, _, key = str(path).lstrip("/").partition("/")
            backend = s3_backends[self.current_account]["global"]
            obj = backend.get_object(bucket, key)
            if obj is None:
                raise ConnectorNotFound(connector_id=f"{connector_id} (file {path} not found)")
            outbox.record(Transfer(transfer_id, connector_id, bucket, key, bytes(obj.value), outbox.now()))
        return json.dumps({"TransferId": transfer_id})

    replace(TransferResponse, "start_file_transfer", start_file_transfer, original)


class As2Relay:
    """Plays the trading partners: files kept, MDNs written, Transfer Family events published."""

    def __init__(self, outbox: As2Outbox, events_client, s3_client, out_dir: Path | None, region: str, account: str):
        self.outbox, self.events, self.s3, self.out_dir = outbox, events_client, s3_client, out_dir
        self.region, self.account = region, account

    def pump(self) -> list[Transfer]:
        done = self.outbox.take_pending()
        for t in done:
            t.outcome = self.outbox.outcome(t.connector_id)
            self._deliver(t)
        return done

    def _deliver(self, t: Transfer) -> None:
        at = min(t.at + timedelta(seconds=3), self.outbox.now())
        stamp = at.isoformat().replace("+00:00", "Z")
        name = t.key.rsplit("/", 1)[-1]
        s3attrs: dict[str, str] = {"file-bucket": t.bucket, "file-key": t.key}
        detail: dict[str, Any] = {"s3-attributes": s3attrs, "connector-id": t.connector_id,
                  "transfer-id": t.transfer_id, "as2-from": "FACTEUR", "as2-to": t.connector_id.upper(),
                  "as2-message-id": f"<{t.transfer_id}@facteur.local>", "message-subject": name, "bytes": len(t.data),
                  "start-timestamp": t.at.isoformat().replace("+00:00", "Z"), "end-timestamp": stamp,
                  "requester-file-name": name}
        if t.outcome == "send_failed":
            detail_type = "AS2 Payload Send Failed"
            detail.update({"status-code": "FAILED", "failure-code": "HTTP_ERROR_RESPONSE_FROM_PARTNER",
                           "failure-message": "partner answered HTTP 503"})
        else:
            detail_type = "AS2 MDN Receive Completed"
            disposition = f"automatic-action/MDN-sent-automatically; {t.outcome}"
            mdn_key = f"edi-mdn/{t.connector_id}/{t.transfer_id}.mdn"
            t.mdn = (f"Original-Message-ID: <{t.transfer_id}@facteur.local>\r\nFinal-Recipient: rfc822; {t.connector_id}\r\n"
                     f"Disposition: {disposition}\r\nReceived-Content-MIC: local, sha-256\r\n")
            self.s3.put_object(Bucket=t.bucket, Key=mdn_key, Body=t.mdn.encode())
            s3attrs.update({"mdn-bucket": t.bucket, "mdn-key": mdn_key})
            detail.update({"disposition": disposition, "mdn-message-id": f"<mdn-{t.transfer_id}@partner.local>",
                           "mdn-subject": f"Signed Message Disposition Notification: {name}", "status-code": "COMPLETED"})
        if self.out_dir is not None:
            folder = self.out_dir / t.connector_id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{t.transfer_id[:8]}-{name}").write_bytes(t.data)
            if t.mdn:
                (folder / f"{t.transfer_id[:8]}-{name}.mdn").write_text(t.mdn)
        res = self.events.put_events(Entries=[{
            "Source": "aws.transfer", "DetailType": detail_type, "Time": at, "Detail": json.dumps(detail),
            "EventBusName": "default",
            "Resources": [f"arn:aws:transfer:{self.region}:{self.account}:connector/{t.connector_id}"]}])
        if res.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the Transfer Family event: {res['Entries']}")
