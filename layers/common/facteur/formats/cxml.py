"""cXML 1.2 `InvoiceDetailRequest`: the invoice as procurement networks take it (SAP Ariba, Coupa),
and the `Response` they answer (its `Status` code says whether the network took it).

The document follows the cXML 1.2.037 `InvoiceDetail.dtd` (validated in tests against the DTD):
header (invoice number, date, purpose `standard` or `creditMemo`, partners `from` / `billTo` /
`remitTo` with their VAT ids, payment term, the preceding invoice of a credit memo), one order
(`OrderIDInfo` with the buyer's PO, BT-13, else `SupplierOrderInfo` with the invoice number),
one item per invoice line (quantity, unit, unit price, description, subtotal) and the summary
(subtotal, tax by rate as the VAT breakdown says, gross, net, due). Credit memos carry negative
amounts, as cXML wants. Amounts are the invoice's own Decimals, never recomputed."""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from lxml import etree
from pydantic import BaseModel

from ..errors import RejectedInput
from . import xmlsafe
from ._xml import money, num

VERSION = "1.2.037"
DOCTYPE = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{VERSION}/InvoiceDetail.dtd">'
PARIS = ZoneInfo("Europe/Paris")


class Credential(BaseModel):
    domain: str
    identity: str


class Envelope(BaseModel):
    """Who speaks to whom: the supplier (`from`, and `sender` with the shared secret), the buyer (`to`)."""

    sender: Credential
    to: Credential
    shared_secret: str
    payload_id: str
    timestamp: datetime
    deployment_mode: str = "production"  # or test
    user_agent: str = "Facteur"


def _when(d: date) -> str:
    """A date as cXML's datetime.tz (midnight, Paris time)."""
    return datetime.combine(d, time(0), PARIS).isoformat()


def write(inv, env: Envelope, lang: str = "fr") -> bytes:
    """The cXML InvoiceDetailRequest of invoice `inv` (canonical model)."""
    sign = Decimal(-1) if inv.is_credit_note else Decimal(1)
    cur = inv.currency

    def amount(parent, tag: str, value: Decimal | None) -> None:
        e = etree.SubElement(parent, tag)
        m = etree.SubElement(e, "Money", currency=cur)
        m.text = money(sign * (value or Decimal(0)))

    root = etree.Element("cXML", payloadID=env.payload_id, timestamp=env.timestamp.isoformat(), version=VERSION)
    root.set("{http://www.w3.org/XML/1998/namespace}lang", "fr-FR" if lang == "fr" else "en-US")
    header = etree.SubElement(root, "Header")
    for tag, cred in (("From", env.sender), ("To", env.to)):
        c = etree.SubElement(etree.SubElement(header, tag), "Credential", domain=cred.domain)
        etree.SubElement(c, "Identity").text = cred.identity
    sender = etree.SubElement(header, "Sender")
    c = etree.SubElement(sender, "Credential", domain=env.sender.domain)
    etree.SubElement(c, "Identity").text = env.sender.identity
    etree.SubElement(c, "SharedSecret").text = env.shared_secret
    etree.SubElement(sender, "UserAgent").text = env.user_agent

    request = etree.SubElement(etree.SubElement(root, "Request", deploymentMode=env.deployment_mode), "InvoiceDetailRequest")
    head = etree.SubElement(request, "InvoiceDetailRequestHeader", invoiceID=inv.number,
                            purpose="creditMemo" if inv.is_credit_note else "standard", operation="new",
                            invoiceDate=_when(inv.issue_date))
    etree.SubElement(head, "InvoiceDetailHeaderIndicator")
    etree.SubElement(head, "InvoiceDetailLineIndicator")
    for role, party in (("from", inv.seller), ("billTo", inv.buyer), ("remitTo", inv.payee or inv.seller)):
        _partner(head, role, party, lang)
    if inv.is_credit_note and inv.preceding_invoices:
        ref = inv.preceding_invoices[0]
        etree.SubElement(head, "InvoiceIDInfo", invoiceID=ref.number,
                         **({"invoiceDate": _when(ref.issue_date)} if ref.issue_date else {}))
    if inv.due_date and inv.due_date >= inv.issue_date:
        etree.SubElement(head, "PaymentTerm", payInNumberOfDays=str((inv.due_date - inv.issue_date).days))
    notes = [n.text for n in inv.notes if n.text]
    if notes:
        comments = etree.SubElement(head, "Comments")
        comments.set("{http://www.w3.org/XML/1998/namespace}lang", lang)
        comments.text = "\n".join(notes)

    order = etree.SubElement(request, "InvoiceDetailOrder")
    info = etree.SubElement(order, "InvoiceDetailOrderInfo")
    if inv.purchase_order_reference:
        etree.SubElement(info, "OrderIDInfo", orderID=inv.purchase_order_reference)
    else:
        etree.SubElement(info, "SupplierOrderInfo", orderID=inv.sales_order_reference or inv.number)
    lines = inv.billed_lines
    if not lines:
        raise RejectedInput("cXML needs the invoice's lines (BG-25): this invoice has none", code="no_lines")
    for n, ln in enumerate(lines, start=1):
        item = etree.SubElement(order, "InvoiceDetailItem", invoiceLineNumber=str(n), quantity=num(ln.quantity or 1) or "1")
        etree.SubElement(item, "UnitOfMeasure").text = ln.unit or "C62"
        price = etree.SubElement(item, "UnitPrice")
        etree.SubElement(price, "Money", currency=cur).text = money(ln.net_price if ln.net_price is not None else ln.net_amount)
        ref = etree.SubElement(item, "InvoiceDetailItemReference", lineNumber=ln.order_line_ref
                               if (ln.order_line_ref or "").isdigit() else str(n))
        if ln.seller_item_id:
            etree.SubElement(etree.SubElement(ref, "ItemID"), "SupplierPartID").text = ln.seller_item_id
        d = etree.SubElement(ref, "Description")
        d.set("{http://www.w3.org/XML/1998/namespace}lang", lang)
        d.text = " - ".join(x for x in (ln.name, ln.description) if x)
        amount(item, "SubtotalAmount", ln.net_amount)

    summary = etree.SubElement(request, "InvoiceDetailSummary")
    amount(summary, "SubtotalAmount", inv.tax_exclusive_amount)
    tax = etree.SubElement(summary, "Tax")
    etree.SubElement(tax, "Money", currency=cur).text = money(sign * (inv.tax_amount or Decimal(0)))
    d = etree.SubElement(tax, "Description")
    d.set("{http://www.w3.org/XML/1998/namespace}lang", lang)
    d.text = "TVA" if lang == "fr" else "VAT"
    for vb in inv.vat_breakdown:
        detail = etree.SubElement(tax, "TaxDetail", purpose="tax", category="vat",
                                  **({"percentageRate": num(vb.rate) or "0"} if vb.rate is not None else {}),
                                  **({"exemptDetail": "exempt"} if vb.category in ("E", "AE", "K", "G", "O") else {}))
        amount(detail, "TaxableAmount", vb.taxable_amount)
        amount(detail, "TaxAmount", vb.tax_amount)
    amount(summary, "GrossAmount", inv.tax_inclusive_amount)
    amount(summary, "NetAmount", inv.tax_inclusive_amount)
    amount(summary, "DueAmount", inv.amount_due)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=DOCTYPE, pretty_print=True)


def _partner(head, role: str, party, lang: str) -> None:
    partner = etree.SubElement(head, "InvoicePartner")
    contact = etree.SubElement(partner, "Contact", role=role)
    name = etree.SubElement(contact, "Name")
    name.set("{http://www.w3.org/XML/1998/namespace}lang", lang)
    name.text = party.name or ""
    if party.line1 and party.city and party.country:
        addr = etree.SubElement(contact, "PostalAddress")
        for line in (party.line1, party.line2, party.line3):
            if line:
                etree.SubElement(addr, "Street").text = line
        etree.SubElement(addr, "City").text = party.city
        if party.postcode:
            etree.SubElement(addr, "PostalCode").text = party.postcode
        etree.SubElement(addr, "Country", isoCountryCode=party.country).text = party.country
    if party.vat_id:
        etree.SubElement(partner, "IdReference", identifier=party.vat_id, domain="vatID")
    if party.legal_id:
        etree.SubElement(partner, "IdReference", identifier=party.legal_id,
                         domain="SIREN" if party.legal_id_scheme == "0002" else "companyRegistrationID")


# --- the network's answer -----------------------------------------------------------------

class Status(BaseModel):
    code: int
    text: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def retryable(self) -> bool:
        """cXML: 2xx taken, 4xx refused for good (bad request, credentials, duplicate...), 5xx
        transient (500 internal, 550/551 unable to reach or forward, 560 temporary)."""
        return self.code >= 500


def read_response(data: bytes) -> Status:
    """The `Status` of a cXML `Response` (code, text, and the network's explanation)."""
    root = xmlsafe.parse_declared(data, what="the cXML response")
    st = root.find("Response/Status")
    if root.tag != "cXML" or st is None or not (st.get("code") or "").isdigit():
        raise RejectedInput("not a cXML Response with a Status code", code="cxml_no_status")
    return Status(code=int(st.get("code") or 0), text=st.get("text") or "", detail=" ".join((st.text or "").split())[:500])


def response(code: int, text: str, detail: str = "", payload_id: str = "response@facteur") -> bytes:
    """A cXML Response (what a network answers; used by the loopback fake)."""
    root = etree.Element("cXML", payloadID=payload_id, timestamp=datetime.now(PARIS).isoformat(), version=VERSION)
    st = etree.SubElement(etree.SubElement(root, "Response"), "Status", code=str(code), text=text)
    if detail:
        st.text = detail
    doctype = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{VERSION}/cXML.dtd">'
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype)
