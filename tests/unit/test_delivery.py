"""The invoice e-mail: French by default, English available, document attached, link in the body."""
from __future__ import annotations

import email
import email.policy
from pathlib import Path

from facteur.delivery.email import build_message
from facteur.formats.reader import read_document

ROOT = Path(__file__).resolve().parents[2]


def _inv():
    return read_document((ROOT / "demo" / "inbox" / "FA-2026-1202.xml").read_bytes()).invoice


def _roundtrip(msg):
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def test_french_mail_with_attachment_and_link():
    msg = _roundtrip(build_message(inv=_inv(), sender="factures@x.example", sender_name="X", to="a@b.example",
                                   to_name="Compta", lang="fr", link="https://api.example/d/tok.sig",
                                   link_expires="2026-12-31", attachments=[("FA.pdf", "application/pdf", b"%PDF-1.7")]))
    assert msg["Subject"] == "Facture FA-2026-1202 de Atelier Dupont SARL"
    assert msg["Content-Language"] == "fr"
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "du 01/12/2026" in body and "756,00 EUR" in body and "avant le 31/12/2026" in body
    assert "https://api.example/d/tok.sig" in body and "valable jusqu'au 31/12/2026" in body
    assert [(p.get_filename(), p.get_content()) for p in msg.iter_attachments()] == [("FA.pdf", b"%PDF-1.7")]


def test_english_reminder():
    msg = _roundtrip(build_message(inv=_inv(), sender="factures@x.example", sender_name="X", to="a@b.example",
                                   to_name="AP", lang="en", link="https://api.example/d/t", link_expires="2026-12-31",
                                   attachments=[], reminder=True))
    assert msg["Subject"].startswith("Reminder: invoice FA-2026-1202")
    assert msg["Content-Language"] == "en"
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "dated 1 Dec 2026 (756.00 EUR)" in body and "has not been opened yet" in body


def test_cr_lf_in_names_and_numbers_never_reach_a_header():
    inv = _inv()
    inv.number = "FA-1\r\nBcc: victim@evil.example"
    inv.seller.name = "Evil\nX-Injected: yes"
    raw = build_message(inv=inv, sender="factures@x.example", sender_name="Seller\r\nBcc: a@evil.example",
                        to="a@b.example", to_name="Compta\r\nCc: b@evil.example", lang="fr", link="https://x/d/t",
                        link_expires="2026-12-31", attachments=[]).as_bytes()
    msg = _roundtrip_bytes(raw)
    assert msg["Bcc"] is None and msg["Cc"] is None and msg["X-Injected"] is None
    assert msg["Subject"] == "Facture FA-1 Bcc: victim@evil.example de Evil X-Injected: yes"


def _roundtrip_bytes(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_each_recipient_gets_its_own_formats_and_the_customer_produces_them_all():
    from types import SimpleNamespace

    from facteur.model.directory import Customer, OutputFormat
    from facteur.pipeline.outbound import Message, _attached

    customer = Customer.model_validate({"id": "c", "name": "C", "formats": ["facturx"], "recipients": [
        {"id": "ap", "name": "AP", "email": "ap@c.example"},
        {"id": "erp", "name": "ERP mailbox", "email": "erp@c.example", "formats": ["ubl", "cii"]}]})
    assert customer.all_formats() == [OutputFormat.FACTURX, OutputFormat.UBL, OutputFormat.CII]
    rec = SimpleNamespace(documents={"facturx": "k.pdf", "ubl": "k.ubl.xml", "cii": "k.cii.xml"})
    ap, erp = customer.recipients
    assert _attached(ap, Message(), rec) == ["facturx", "ubl"]
    assert _attached(erp, Message(), rec) == ["ubl", "cii"]  # no PDF for the ERP's mailbox
    assert _attached(ap, Message(kind="overdue"), rec) == ["facturx"]  # reminders carry the Factur-X only
    assert _attached(erp, Message(kind="overdue"), rec) == ["ubl"]  # or the first of the recipient's formats
