"""cXML InvoiceDetailRequest (formats/cxml.py), checked against the cXML 1.2.037 InvoiceDetail DTD
(tests/fixtures/external/cxml/), and the network's Response status read and classified."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from facteur.errors import RejectedInput
from facteur.formats import cxml
from facteur.formats.reader import read_document

ROOT = Path(__file__).resolve().parents[2]
DTD = etree.DTD(str(ROOT / "tests" / "fixtures" / "external" / "cxml" / "InvoiceDetail-1.2.037.dtd"))
ENV = cxml.Envelope(sender=cxml.Credential(domain="NetworkID", identity="AN01000000001"),
                    to=cxml.Credential(domain="NetworkID", identity="AN02000000002"), shared_secret="abracadabra",
                    payload_id="inv_1.0123456789abcdef@facteur", timestamp=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))


def valid(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    assert DTD.validate(root), DTD.error_log.filter_from_errors()
    return root


@pytest.mark.parametrize("name", ["FA-2026-1203.ubl.xml", "FA-2026-1204.json", "FA-2026-1211.xml", "FA-2026-1201.pdf"])
def test_each_demo_invoice_is_a_valid_invoice_detail_request_with_its_own_amounts(name):
    inv = read_document((ROOT / "demo" / "inbox" / name).read_bytes()).invoice
    root = valid(cxml.write(inv, ENV))
    head = root.find("Request/InvoiceDetailRequest/InvoiceDetailRequestHeader")
    assert head.get("invoiceID") == inv.number and head.get("purpose") == "standard"
    assert root.findtext("Header/Sender/Credential/SharedSecret") == "abracadabra"
    summary = root.find("Request/InvoiceDetailRequest/InvoiceDetailSummary")
    assert Decimal(summary.findtext("DueAmount/Money")) == inv.amount_due
    assert Decimal(summary.findtext("Tax/Money")) == inv.tax_amount
    assert sum(Decimal(x.text) for x in summary.findall("Tax/TaxDetail/TaxAmount/Money")) == inv.tax_amount
    items = root.findall("Request/InvoiceDetailRequest/InvoiceDetailOrder/InvoiceDetailItem")
    assert [Decimal(i.findtext("SubtotalAmount/Money")) for i in items] == [ln.net_amount for ln in inv.billed_lines]
    order = root.find("Request/InvoiceDetailRequest/InvoiceDetailOrder/InvoiceDetailOrderInfo")[0]
    if inv.purchase_order_reference:
        assert (order.tag, order.get("orderID")) == ("OrderIDInfo", inv.purchase_order_reference)
    else:
        assert order.tag == "SupplierOrderInfo"


def test_a_credit_note_is_a_credit_memo_with_negative_amounts_and_its_invoice():
    inv = read_document((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_bytes()).invoice
    data = inv.model_dump(by_alias=True)
    data.update({"BT-3": "381", "BT-1": "AV-2026-0001", "BG-3": [{"BT-25": "FA-2026-1204", "BT-26": inv.issue_date}]})
    credit = type(inv).model_validate(data)
    root = valid(cxml.write(credit, ENV, lang="en"))
    head = root.find("Request/InvoiceDetailRequest/InvoiceDetailRequestHeader")
    assert head.get("purpose") == "creditMemo" and head.find("InvoiceIDInfo").get("invoiceID") == "FA-2026-1204"
    assert Decimal(root.findtext("Request/InvoiceDetailRequest/InvoiceDetailSummary/DueAmount/Money")) == -inv.amount_due
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"


@pytest.mark.parametrize("code,ok,retryable", [(200, True, False), (201, True, False), (400, False, False),
                                               (401, False, False), (406, False, False), (500, False, True),
                                               (560, False, True)])
def test_the_networks_status_says_taken_refused_or_try_again(code, ok, retryable):
    st = cxml.read_response(cxml.response(code, "text", "why"))
    assert (st.code, st.ok, st.retryable, st.detail) == (code, ok, retryable, "why")


def test_an_answer_that_is_not_a_cxml_response_is_said_so():
    with pytest.raises(RejectedInput):
        cxml.read_response(b"<html><body>Bad gateway</body></html>")


def test_a_response_with_entities_is_refused_before_parsing():
    evil = (b'<?xml version="1.0"?><!DOCTYPE cXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<cXML payloadID="1" timestamp="t"><Response><Status code="200" text="&x;"/></Response></cXML>')
    with pytest.raises(RejectedInput) as exc:
        cxml.read_response(evil)
    assert exc.value.code == "xml_dtd_refused"
