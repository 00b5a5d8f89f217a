"""CDAR D22B (UN/CEFACT CrossDomainAcknowledgementAndResponse): the lifecycle messages of the French
reform, read and written. Every message written is checked with the official CDAR XSD and the
BR-FR-CDV rules (`controls.official`); the sense (who may set which status, after what) is the
lifecycle table's (`model.lifecycle.LIFECYCLE`).

Shape (../shared/docs/EXTERNAL_APIS.md section 6): the exchanged document (its id, issue time,
sender, issuer and recipients with their roles and ids), then per invoice concerned a referenced
document: the invoice number, type and date, the status code (ProcessConditionCode) and label, its
seller, and status details (reason code, requested action, sequence, notes, amounts: for 212 the
amount cashed per VAT rate, `MEN`). TypeCode 305 for the platform's transmission statuses
(200-203, 213), 23 for the business statuses."""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from lxml import etree
from pydantic import BaseModel, Field

from ..errors import RejectedInput
from ..model.lifecycle import LIFECYCLE
from . import xmlsafe
from ._xml import Builder, num, to_bytes
from .detect import NS_CDAR, Kind, xml_kind

RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": NS_CDAR, "ram": RAM, "udt": UDT, "qdt": QDT}
GUIDELINE = "urn.cpro.gouv.fr:1p0:CDV:invoice"
PARIS = ZoneInfo("Europe/Paris")  # format 204 times carry no zone: French local time
PLATFORM_CODES = frozenset({200, 201, 202, 203, 213})
# party roles (UNTDID 3035) -> who speaks
ROLE_SOURCE = {"BY": "buyer", "AB": "buyer", "PR": "buyer", "II": "buyer", "DL": "buyer",
               "SE": "seller", "SR": "seller", "PE": "seller", "IV": "seller", "WK": "platform", "DFH": "platform"}


class Party(BaseModel):
    role: str | None = None
    id: str | None = None
    scheme: str | None = None  # 0002 SIREN, 0009 SIRET, 0238 PA matricule
    address: str | None = None  # electronic address (URIID)
    address_scheme: str | None = None  # 0225
    name: str | None = None


class Amount(BaseModel):
    type_code: str  # MEN (cashed), MPA (paid), RAP, ESC...
    amount: Decimal
    percent: Decimal | None = None  # the VAT rate the amount falls under (MEN)
    currency: str | None = None


class StatusDetail(BaseModel):
    reason_code: str | None = None
    reason: str | None = None
    requested_action: str | None = None  # NOA, PIN, NIN, CNF, CNP, CNA, OTH
    sequence: int = 1
    notes: list[str] = Field(default_factory=list)
    amounts: list[Amount] = Field(default_factory=list)


class InvoiceStatus(BaseModel):
    invoice_number: str
    invoice_type: str | None = "380"
    invoice_date: date | None = None
    code: int
    label: str | None = None
    seller: Party | None = None
    recipients: list[Party] = Field(default_factory=list)
    details: list[StatusDetail] = Field(default_factory=list)

    @property
    def reason(self) -> str | None:
        texts = [t for d in self.details for t in ([d.reason] if d.reason else []) + d.notes]
        return "; ".join(texts) or None

    @property
    def reason_code(self) -> str | None:
        return next((d.reason_code for d in self.details if d.reason_code), None)

    @property
    def amount(self) -> Decimal | None:
        amounts = [a.amount for d in self.details for a in d.amounts if a.type_code in ("MEN", "MPA")]
        return sum(amounts, Decimal(0)) if amounts else None


class LifecycleMessage(BaseModel):
    id: str
    issued_at: datetime
    type_code: str = "23"  # 23 business statuses, 305 transmission statuses
    guideline: str = GUIDELINE
    business_process: str | None = "REGULATED"
    sender: Party = Field(default_factory=Party)
    issuer: Party | None = None
    recipients: list[Party] = Field(default_factory=list)
    statuses: list[InvoiceStatus]

    @property
    def source(self) -> str | None:
        """Who speaks: the issuer's role (the sender's for transmission statuses, issued by a platform)."""
        role = (self.issuer.role if self.issuer and self.issuer.role else None) or self.sender.role
        return ROLE_SOURCE.get(role or "")


# --- reading ----------------------------------------------------------------------------------

def read(data: bytes) -> LifecycleMessage:
    root = xmlsafe.parse(data, what="the CDAR message")
    if xml_kind(root) is not Kind.CDAR:
        qn = etree.QName(root)
        raise RejectedInput(f"<{qn.localname}> is not a CDAR lifecycle message (CrossDomainAcknowledgementAndResponse)",
                            code="not_a_cdar")
    ns = {"rsm": NS_CDAR, "ram": RAM}
    doc = root.find("rsm:ExchangedDocument", ns)
    ack = root.find("rsm:AcknowledgementDocument", ns)
    if doc is None or ack is None:
        raise RejectedInput("the CDAR message has no ExchangedDocument or AcknowledgementDocument", code="cdar_incomplete")
    statuses = []
    for ref in ack.findall("ram:ReferenceReferencedDocument", ns):
        code = _text(ref, "ram:ProcessConditionCode")
        number = _text(ref, "ram:IssuerAssignedID")
        if not code or not code.isdigit() or not number:
            raise RejectedInput("a referenced invoice of the CDAR message has no number or no status code "
                                "(IssuerAssignedID, ProcessConditionCode)", code="cdar_incomplete")
        statuses.append(InvoiceStatus(
            invoice_number=number, invoice_type=_text(ref, "ram:TypeCode"), code=int(code),
            invoice_date=_date102(_text(ref, "ram:FormattedIssueDateTime/qdt:DateTimeString")),
            label=_text(ref, "ram:ProcessCondition"), seller=_party(ref.find("ram:IssuerTradeParty", ns)),
            recipients=[p for p in (_party(e) for e in ref.findall("ram:RecipientTradeParty", ns)) if p],
            details=[_detail(st) for st in ref.findall("ram:SpecifiedDocumentStatus", ns)]))
    if not statuses:
        raise RejectedInput("the CDAR message references no invoice", code="cdar_incomplete")
    issued = _text(doc, "ram:IssueDateTime/udt:DateTimeString") or _text(ack, "ram:IssueDateTime/udt:DateTimeString")
    return LifecycleMessage(
        id=_text(doc, "ram:ID") or "", issued_at=_datetime204(issued), type_code=_text(ack, "ram:TypeCode") or "23",
        guideline=_text(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") or "",
        business_process=_text(root, "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        sender=_party(doc.find("ram:SenderTradeParty", ns)) or Party(), issuer=_party(doc.find("ram:IssuerTradeParty", ns)),
        recipients=[p for p in (_party(e) for e in doc.findall("ram:RecipientTradeParty", ns)) if p], statuses=statuses)


_NS = {"rsm": NS_CDAR, "ram": RAM, "udt": UDT, "qdt": QDT}


def _text(el, path: str) -> str | None:
    found = el.find(path, _NS) if el is not None else None
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _party(el) -> Party | None:
    if el is None:
        return None
    gid = el.find("ram:GlobalID", _NS)
    uri = el.find("ram:URIUniversalCommunication/ram:URIID", _NS)
    return Party(role=_text(el, "ram:RoleCode"), id=_text(el, "ram:GlobalID") or _text(el, "ram:ID"),
                 scheme=gid.get("schemeID") if gid is not None else None, address=_text(el, "ram:URIUniversalCommunication/ram:URIID"),
                 address_scheme=uri.get("schemeID") if uri is not None else None, name=_text(el, "ram:Name"))


def _detail(el) -> StatusDetail:
    seq = _text(el, "ram:SequenceNumeric")
    amounts = []
    for ch in el.findall("ram:SpecifiedDocumentCharacteristic", _NS):
        value = _text(ch, "ram:ValueAmount")
        if value is not None:
            amt = ch.find("ram:ValueAmount", _NS)
            pct = _text(ch, "ram:ValuePercent")
            amounts.append(Amount(type_code=_text(ch, "ram:TypeCode") or "", amount=Decimal(value),
                                  percent=Decimal(pct) if pct else None, currency=amt.get("currencyID") if amt is not None else None))
    return StatusDetail(reason_code=_text(el, "ram:ReasonCode"), reason=_text(el, "ram:Reason"),
                        requested_action=_text(el, "ram:RequestedActionCode"),
                        sequence=int(seq) if seq and seq.isdigit() else 1,
                        notes=[n.text.strip() for n in el.findall("ram:IncludedNote/ram:Content", _NS) if n.text and n.text.strip()],
                        amounts=amounts)


def _date102(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError as exc:
        raise RejectedInput(f"invalid date {value!r} (format 102) in the CDAR message", code="invalid_date") from exc


def _datetime204(value: str | None) -> datetime:
    if not value:
        raise RejectedInput("the CDAR message has no issue date and time", code="cdar_incomplete")
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=PARIS)
    except ValueError as exc:
        raise RejectedInput(f"invalid date and time {value!r} (format 204, YYYYMMDDHHMMSS) in the CDAR message",
                            code="invalid_date") from exc


# --- writing ----------------------------------------------------------------------------------

def write(msg: LifecycleMessage) -> bytes:
    B = Builder({"rsm": NS_CDAR, "ram": RAM, "udt": UDT, "qdt": QDT})
    root = etree.Element(f"{{{NS_CDAR}}}CrossDomainAcknowledgementAndResponse", nsmap=NSMAP)
    ctx = B.el(root, "rsm:ExchangedDocumentContext")
    if msg.business_process:
        B.leaf(B.el(ctx, "ram:BusinessProcessSpecifiedDocumentContextParameter"), "ram:ID", msg.business_process)
    B.leaf(B.el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", msg.guideline)
    doc = B.el(root, "rsm:ExchangedDocument")
    B.leaf(doc, "ram:ID", msg.id)
    stamp = msg.issued_at.astimezone(PARIS).strftime("%Y%m%d%H%M%S")
    B.leaf(B.el(doc, "ram:IssueDateTime"), "udt:DateTimeString", stamp, format="204")
    _write_party(B, doc, "ram:SenderTradeParty", msg.sender)
    _write_party(B, doc, "ram:IssuerTradeParty", msg.issuer)
    for r in msg.recipients:
        _write_party(B, doc, "ram:RecipientTradeParty", r)
    ack = B.el(root, "rsm:AcknowledgementDocument")
    B.leaf(B.el(ack, "ram:MultipleReferencesIndicator"), "udt:Indicator", "true" if len(msg.statuses) > 1 else "false")
    B.leaf(ack, "ram:TypeCode", msg.type_code)
    B.leaf(B.el(ack, "ram:IssueDateTime"), "udt:DateTimeString", stamp, format="204")
    for st in msg.statuses:
        ref = B.el(ack, "ram:ReferenceReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", st.invoice_number)
        B.leaf(ref, "ram:TypeCode", st.invoice_type)
        if st.invoice_date:
            B.leaf(B.el(ref, "ram:FormattedIssueDateTime"), "qdt:DateTimeString", st.invoice_date.strftime("%Y%m%d"), format="102")
        B.leaf(ref, "ram:ProcessConditionCode", str(st.code))
        B.leaf(ref, "ram:ProcessCondition", st.label or (LIFECYCLE[st.code].label_fr if st.code in LIFECYCLE else None))
        _write_party(B, ref, "ram:IssuerTradeParty", st.seller)
        for r in st.recipients:
            _write_party(B, ref, "ram:RecipientTradeParty", r)
        for d in st.details:
            sd = B.el(ref, "ram:SpecifiedDocumentStatus")
            B.leaf(sd, "ram:ReasonCode", d.reason_code)
            B.leaf(sd, "ram:Reason", d.reason)
            B.leaf(sd, "ram:RequestedActionCode", d.requested_action)
            B.leaf(sd, "ram:SequenceNumeric", str(d.sequence))
            for note in d.notes:
                B.leaf(B.el(sd, "ram:IncludedNote"), "ram:Content", note)
            for a in d.amounts:
                ch = B.el(sd, "ram:SpecifiedDocumentCharacteristic")
                B.leaf(ch, "ram:TypeCode", a.type_code)
                B.leaf(ch, "ram:ValueAmount", num(a.amount), currencyID=a.currency)
                B.leaf(ch, "ram:ValuePercent", num(a.percent))
    return to_bytes(root)


def _write_party(B: Builder, parent, tag: str, p: Party | None) -> None:
    if p is None:
        return
    e = B.el(parent, tag)
    B.leaf(e, "ram:GlobalID", p.id, schemeID=p.scheme)
    B.leaf(e, "ram:Name", p.name)
    B.leaf(e, "ram:RoleCode", p.role)
    if p.address:
        B.leaf(B.el(e, "ram:URIUniversalCommunication"), "ram:URIID", p.address, schemeID=p.address_scheme)


def cashed_by_rate(amount: Decimal, breakdown: list[tuple[Decimal, Decimal]], currency: str | None = None) -> list[Amount]:
    """A payment of `amount` split over the invoice's VAT rates in proportion to each rate's amount
    with VAT (`breakdown`: [(rate, taxable + tax)]), to the cent, the rounding left on the last one:
    the `MEN` blocks a 212 carries (BR-FR-CDV-14)."""
    rows = [(rate, gross) for rate, gross in breakdown if gross]
    total = sum((g for _, g in rows), Decimal(0))
    if not rows or not total:
        return [Amount(type_code="MEN", amount=amount, percent=breakdown[0][0] if breakdown else Decimal(0), currency=currency)]
    out, left = [], amount
    for i, (rate, gross) in enumerate(rows):
        part = left if i == len(rows) - 1 else (amount * gross / total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        left -= part
        out.append(Amount(type_code="MEN", amount=part, percent=rate, currency=currency))
    return out


def message_for(inv, code: int, *, reason_code: str | None = None, reason: str | None = None, amount: Decimal | None = None,
                at: datetime, message_id: str, requested_action: str | None = None) -> LifecycleMessage:
    """The CDAR message of status `code` about invoice `inv`, issued by the party the lifecycle table
    names (the seller for 209 / 212, the buyer for 204-211, a platform for 200-203 / 213) to the other."""
    from ..model.lifecycle import Source

    rule = LIFECYCLE[code]
    seller, buyer = _invoice_party(inv.seller, "SE"), _invoice_party(inv.buyer, "BY")
    seller_ref = Party(role="SE", id=seller.id, scheme=seller.scheme)
    if Source.PLATFORM in rule.issuers:  # transmission statuses: the platform speaks, to the seller
        sender, issuer, recipients, type_code = Party(role="WK"), Party(role="WK"), [seller], "305"
    elif Source.SELLER in rule.issuers:
        sender, issuer, recipients, type_code = Party(role="SE"), seller, [buyer], "23"
    else:
        sender, issuer, recipients, type_code = Party(role="BY"), buyer, [seller], "23"
    detail = StatusDetail(reason_code=reason_code, requested_action=requested_action, notes=[reason] if reason else [])
    if code == 212 and amount is not None:
        rates = [(vb.rate or Decimal(0), vb.taxable_amount + vb.tax_amount) for vb in inv.vat_breakdown]
        detail.amounts = cashed_by_rate(amount, rates, inv.currency)
    elif code in (206, 211) and amount is not None:
        detail.amounts = [Amount(type_code="MPA" if code == 211 else "MAP", amount=amount, currency=inv.currency)]
    status = InvoiceStatus(invoice_number=inv.number, invoice_type=inv.type_code, invoice_date=inv.issue_date, code=code, label=rule.label_fr,
                           seller=seller_ref, details=[detail] if (reason_code or reason or detail.amounts or requested_action) else [])
    return LifecycleMessage(id=message_id, issued_at=at, type_code=type_code, sender=sender, issuer=issuer,
                            recipients=recipients, statuses=[status])


def _invoice_party(p, role: str) -> Party:
    """A party of the invoice as CDAR names it: its SIREN (0002) or other legal id, and its electronic
    address (0225, the SIREN when none is given)."""
    ident, scheme = (p.siren, "0002") if p.siren else (p.legal_id or p.vat_id, p.legal_id_scheme if p.legal_id else None)
    address = p.electronic_address or p.siren
    return Party(role=role, id=ident, scheme=scheme, name=p.name, address=address,
                 address_scheme=p.electronic_address_scheme or ("0225" if address else None))
