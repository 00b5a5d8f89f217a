"""The local SES: what moto does not do for a configuration set.

moto's SES v2 `SendEmail` keeps the raw message but drops `EmailTags` and
`ConfigurationSetName`, and never publishes events. The outbox patch records each message with
its tags and the virtual time it was sent; the relay writes it as an `.eml` file and publishes
the SES event the configuration set's EventBridge destination would publish (`Email Delivered`,
or `Email Bounced` for the SES mailbox simulator's bounce address), with the same JSON shape
(`eventType`, `mail.tags`, `delivery`/`bounce`) so the tracker's handler runs unchanged.
"""
from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

BOUNCE_ADDRESSES = {"bounce@simulator.amazonses.com", "suppressionlist@simulator.amazonses.com"}
SUPPRESSED_ADDRESSES = {"suppressionlist@simulator.amazonses.com"}  # SES's account-level suppression list
COMPLAINT_ADDRESSES = {"complaint@simulator.amazonses.com"}


@dataclass
class Mail:
    message_id: str
    sent_at: datetime
    source: str
    to: list[str]
    raw: bytes
    tags: dict[str, str]
    configuration_set: str | None
    path: Path | None = None
    events: list[str] = field(default_factory=list)

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body else ""

    def links(self) -> list[str]:
        return re.findall(r"https?://\S+/d/[A-Za-z0-9_.-]+", self.text())

    def attachments(self) -> list[tuple[str, bytes]]:
        return [(p.get_filename() or "", p.get_content()) for p in self.message.iter_attachments()]


class Outbox:
    """Messages accepted by the local SES, in sending order."""

    def __init__(self, now: Callable[[], datetime]):
        self.now = now
        self.mails: list[Mail] = []
        self._pending: list[Mail] = []
        self._lock = threading.Lock()

    def record(self, message_id: str, params: dict) -> None:
        content = params.get("Content") or {}
        raw = base64.b64decode(content["Raw"]["Data"]) if "Raw" in content else json.dumps(content).encode()
        dest = params.get("Destination") or {}
        mail = Mail(message_id=message_id, sent_at=self.now(), source=params.get("FromEmailAddress", ""),
                    to=[*dest.get("ToAddresses", []), *dest.get("CcAddresses", []), *dest.get("BccAddresses", [])],
                    raw=raw, tags={t["Name"]: t["Value"] for t in params.get("EmailTags", [])},
                    configuration_set=params.get("ConfigurationSetName"))
        with self._lock:
            self.mails.append(mail)
            self._pending.append(mail)

    def take_pending(self) -> list[Mail]:
        with self._lock:
            out, self._pending = self._pending, []
        return out

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)


def install_outbox(outbox: Outbox) -> None:
    from moto.sesv2.responses import SESV2Response

    from .patches import replace

    original = getattr(SESV2Response.send_email, "__wrapped_by_facteur__", SESV2Response.send_email)

    def send_email(self):
        out = original(self)
        outbox.record(json.loads(out)["MessageId"], json.loads(self.body))
        return out

    replace(SESV2Response, "send_email", send_email, original)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


class Relay:
    """Delivers the outbox: `.eml` files, then SES events to EventBridge as configured."""

    def __init__(self, outbox: Outbox, events_client, out_dir: Path | None, event_types: dict[str, list[str]],
                 region: str, account: str):
        self.outbox = outbox
        self.events = events_client
        self.out_dir = out_dir
        self.event_types = event_types  # configuration set -> matching event types (lower case)
        self.region = region
        self.account = account
        self.count = 0

    def pump(self) -> list[Mail]:
        mails = self.outbox.take_pending()
        for mail in mails:
            self.count += 1
            if self.out_dir is not None:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                mail.path = self.out_dir / f"{self.count:03d}-{_slug(mail.to[0] if mail.to else 'nobody')}-{_slug(mail.subject)}.eml"
                mail.path.write_bytes(mail.raw)
            self._publish(mail)
        return mails

    def redeliver(self, mail: Mail) -> None:
        """EventBridge delivers at least once: publish the mail's SES events again."""
        self._publish(mail)

    def _publish(self, mail: Mail) -> None:
        wanted = self.event_types.get(mail.configuration_set or "", [])
        if not wanted:
            return
        at = min(mail.sent_at + timedelta(seconds=2), self.outbox.now())
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        tags = {k: [v] for k, v in mail.tags.items()}
        tags["ses:configuration-set"] = [mail.configuration_set or ""]
        base = {"timestamp": mail.sent_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "source": mail.source,
                "messageId": mail.message_id, "destination": mail.to, "tags": tags}
        entries = []
        bounced = [a for a in mail.to if a.lower() in BOUNCE_ADDRESSES]
        complained = [a for a in mail.to if a.lower() in COMPLAINT_ADDRESSES]
        delivered = [a for a in mail.to if a not in bounced]
        if bounced and "bounce" in wanted:
            suppressed = any(a.lower() in SUPPRESSED_ADDRESSES for a in bounced)
            entries.append(("Email Bounced", {"eventType": "Bounce", "mail": base, "bounce": {
                "bounceType": "Permanent", "bounceSubType": "OnAccountSuppressionList" if suppressed else "General",
                "feedbackId": f"local-{mail.message_id}",
                "timestamp": stamp, "reportingMTA": "dns; local.facteur",
                "bouncedRecipients": [{"emailAddress": a, "action": "failed", "status": "5.1.1",
                                       "diagnosticCode": "smtp; 550 5.1.1 user unknown"} for a in bounced]}}))
        if delivered and "delivery" in wanted:
            entries.append(("Email Delivered", {"eventType": "Delivery", "mail": base, "delivery": {
                "timestamp": stamp, "processingTimeMillis": 2000, "recipients": delivered,
                "smtpResponse": "250 2.6.0 Message received", "reportingMTA": "local.facteur"}}))
        if complained and "complaint" in wanted:
            entries.append(("Email Complaint Received", {"eventType": "Complaint", "mail": base, "complaint": {
                "complainedRecipients": [{"emailAddress": a} for a in complained], "complaintFeedbackType": "abuse",
                "timestamp": stamp, "feedbackId": f"local-c-{mail.message_id}"}}))
        for detail_type, detail in entries:
            res = self.events.put_events(Entries=[{"Source": "aws.ses", "DetailType": detail_type, "Time": at,
                                                   "Detail": json.dumps(detail), "EventBusName": "default",
                                                   "Resources": [f"arn:aws:ses:{self.region}:{self.account}:configuration-set/{mail.configuration_set}"]}])
            if res.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused the SES event: {res['Entries']}")
            mail.events.append(str(detail["eventType"]))
