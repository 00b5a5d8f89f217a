"""Read any supported input into the canonical invoice, or reject it with a precise reason.

Supported now: CII D16B (all Factur-X profiles), UBL 2.1 invoice and credit note, Factur-X /
ZUGFeRD 2.x PDFs (embedded XML), legacy ZUGFeRD 1.0 (XML or PDF), EDIFACT INVOIC and our JSON. Everything else is a `RejectedInput` whose
message says exactly why, so that the pipeline records a rejection and keeps the original."""
from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field

from lxml import etree
from pydantic import ValidationError

from ..errors import RejectedInput
from ..model.invoice import Invoice
from . import xmlsafe
from .detect import Kind, sniff, xml_kind

# The factur-x library logs every XSD/parse detail at WARNING/ERROR; we report our own reasons.
logging.getLogger("factur-x").setLevel(logging.CRITICAL)


@dataclass
class ReadResult:
    invoice: Invoice
    kind: Kind  # what the input was (for a PDF: Kind.PDF)
    syntax: Kind  # the structured syntax read (CII / UBL / JSON)
    xml: bytes | None = None  # the structured XML, when there is one
    pdf: bytes | None = None  # the supplier's PDF (the readable copy), when there is one
    warnings: list[str] = field(default_factory=list)


def read_document(data: bytes, *, filename: str = "", max_bytes: int = 20 * 1024 * 1024,
                  pdf_capture=None, invoice: Invoice | None = None) -> ReadResult:
    """`pdf_capture(text) -> invoice data | None`: the supplier's extraction templates for plain PDFs.

    `invoice`: the canonical invoice already read from these bytes (stored by the intake): the
    document is opened again for what the checks need (its XML, its syntax, the PDF container)
    but not mapped to the model a second time."""
    if not data:
        raise RejectedInput("the file is empty", code="empty")
    if len(data) > max_bytes:
        raise RejectedInput(f"the file is {len(data)} bytes, over the {max_bytes}-byte limit", code="too_large")
    kind = sniff(data)
    if kind is Kind.PDF:
        return _read_pdf(data, max_bytes=max_bytes, pdf_capture=pdf_capture, known=invoice)
    if kind in (Kind.JSON, Kind.EDIFACT) and invoice is not None:
        return ReadResult(invoice=invoice, kind=kind, syntax=kind)
    if kind is Kind.JSON:
        return _read_json(data)
    if kind is Kind.XML_OTHER:
        return _read_xml(data, known=invoice)
    if kind is Kind.EDIFACT:
        return _read_edifact(data)
    raise RejectedInput("unrecognised file: neither PDF, XML nor JSON", code="unknown_format")


def _read_xml(data: bytes, *, container: Kind | None = None, pdf: bytes | None = None,
              known: Invoice | None = None) -> ReadResult:
    root = xmlsafe.parse(data, what="the XML")
    kind = xml_kind(root)
    if kind is Kind.ZUGFERD1:  # legacy ZUGFeRD 1.0: read as the CII D16B it became
        from .zugferd1 import to_cii

        derived: list[str] = []
        read = _read_xml(to_cii(root, derived), container=container, pdf=pdf, known=known)
        read.syntax, read.xml = Kind.ZUGFERD1, data
        read.warnings += ["legacy ZUGFeRD 1.0 (CrossIndustryDocument) read as its CII D16B equivalent", *derived]
        return read
    if kind is Kind.ORDERX:
        raise RejectedInput("this is an Order-X purchase order, not an invoice", code="not_an_invoice")
    if kind not in (Kind.CII, Kind.UBL_INVOICE, Kind.UBL_CREDIT_NOTE):
        from lxml import etree

        qn = etree.QName(root)
        raise RejectedInput(f"XML root <{qn.localname}> in namespace '{qn.namespace or ''}' is not a CII or UBL invoice",
                            code="not_an_invoice")
    if known is not None:  # mapped at intake: the XML as it is, for the official rules
        return ReadResult(invoice=known, kind=container or kind, syntax=kind, xml=data, pdf=pdf)
    from facturx.parse_xml import parse_ubl_cii_xml

    if kind is Kind.CII:
        _cii_dates_valid(root)
    if kind in (Kind.UBL_INVOICE, Kind.UBL_CREDIT_NOTE):
        data_for_parser = _ubl_normalised(root, data)
    else:
        data_for_parser = data
    try:
        data_dict = parse_ubl_cii_xml(data_for_parser, float_as="string", date_as="date", bytes_as="bytes", check_xsd=False)
    except Exception as exc:  # the library raises bare Exceptions with a readable message
        raise RejectedInput(f"the {kind.value} XML cannot be read: {_first_line(exc)}", code="unreadable_xml") from exc
    if kind is Kind.CII:
        _cii_logistics_charges(root, data_dict)
        _cii_payment_terms(root, data_dict)
        _cii_parent_lines(root, data_dict)
        _cii_extended_details(root, data_dict)
    else:
        _ubl_seller_tax_registration(root, data_dict)
    _party_identifiers(root, kind, data_dict)
    try:
        invoice = Invoice.model_validate(data_dict)
    except ValidationError as exc:
        raise RejectedInput(_validation_reason(exc), code="incomplete_invoice") from exc
    return ReadResult(invoice=invoice, kind=container or kind, syntax=kind, xml=data, pdf=pdf)


def _ubl_seller_tax_registration(root, data: dict) -> None:
    """BT-32: the seller's PartyTaxScheme whose TaxScheme is not VAT (the parser reads VAT only)."""
    ns = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
          "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
    for ts in root.findall("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme", ns):
        scheme = (ts.findtext("cac:TaxScheme/cbc:ID", namespaces=ns) or "").strip()
        company = (ts.findtext("cbc:CompanyID", namespaces=ns) or "").strip()
        if scheme and scheme.upper() != "VAT" and company and isinstance(data.get("BG-4"), dict):
            data["BG-4"].setdefault("tax_identifier", company)


def _cii_logistics_charges(root, data: dict) -> None:
    """EXTENDED logistics service fees (BT-X-272) are document-level charges: BT-108 already
    counts them (BR-FXEXT-CO-12). The factur-x parser skips them; they become BG-21 charges so
    that no amount is lost and every other syntax balances."""
    ram = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    ns = {"ram": ram}
    fees = root.findall(".//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedLogisticsServiceCharge", ns)
    for fee in fees:
        charge = {"amount": fee.findtext("ram:AppliedAmount", namespaces=ns),
                  "reason": fee.findtext("ram:Description", namespaces=ns) or "Logistics service fee",
                  "vat_category_code": fee.findtext("ram:AppliedTradeTax/ram:CategoryCode", namespaces=ns),
                  "vat_rate": fee.findtext("ram:AppliedTradeTax/ram:RateApplicablePercent", namespaces=ns)}
        data.setdefault("BG-21", [])
        if not isinstance(data["BG-21"], list):
            data["BG-21"] = [data["BG-21"]]
        data["BG-21"].append({k: v.strip() for k, v in charge.items() if v})


_CII_PARTIES = {"BG-4": "ApplicableHeaderTradeAgreement/{*}SellerTradeParty",
                "BG-7": "ApplicableHeaderTradeAgreement/{*}BuyerTradeParty",
                "BG-10": "ApplicableHeaderTradeSettlement/{*}PayeeTradeParty",
                "BG-13": "ApplicableHeaderTradeDelivery/{*}ShipToTradeParty"}
_UBL_PARTIES = {"BG-4": "{*}AccountingSupplierParty/{*}Party/{*}PartyIdentification/{*}ID",
                "BG-7": "{*}AccountingCustomerParty/{*}Party/{*}PartyIdentification/{*}ID",
                "BG-10": "{*}PayeeParty/{*}PartyIdentification/{*}ID"}


def _party_identifiers(root, kind: Kind, data: dict) -> None:
    """BT-29 / BT-46 / BT-60 / BT-71 as the list they are: the factur-x parser keys them by scheme,
    so two identifiers of the same scheme (or of none) would collapse into the last one."""
    for group in ("BG-4", "BG-7", "BG-10", "BG-13"):
        if kind is Kind.CII:
            party = root.find(f"./{{*}}SupplyChainTradeTransaction/{{*}}{_CII_PARTIES[group]}")
            found = [] if party is None else [el for el in party if isinstance(el.tag, str) and etree.QName(el).localname in ("ID", "GlobalID")]
        elif group in _UBL_PARTIES:
            found = root.findall(f"./{_UBL_PARTIES[group]}")
        else:
            continue
        ids = [{"id": el.text.strip(), "scheme": el.get("schemeID") or None} for el in found if el.text and el.text.strip()]
        if len(ids) > 1 and isinstance(data.get(group), dict):
            data[group] = {**data[group], "identifiers": ids}


def _cii_extended_details(root, data: dict) -> None:
    """EXTENDED details the factur-x parser skips: the document's name, the notes' content codes,
    the delivery note, the VAT breakdowns' basis amounts, and per line the package quantity, the
    included products and the VAT exemption."""
    def text(el, path):
        found = el.find(path) if el is not None else None
        return found.text.strip() if found is not None and found.text and found.text.strip() else None

    doc = root.find("./{*}ExchangedDocument")
    if text(doc, "./{*}Name"):
        data["document_name"] = text(doc, "./{*}Name")
    notes = data.get("BG-1") if isinstance(data.get("BG-1"), list) else None
    xml_notes = [n for n in (doc.findall("./{*}IncludedNote") if doc is not None else []) if text(n, "./{*}Content")]
    if notes and len(notes) == len(xml_notes):
        for note, el in zip(notes, xml_notes, strict=True):
            if text(el, "./{*}ContentCode") and isinstance(note, dict):
                note["content_code"] = text(el, "./{*}ContentCode")
    tx = root.find("./{*}SupplyChainTradeTransaction")
    dn = tx.find("./{*}ApplicableHeaderTradeDelivery/{*}DeliveryNoteReferencedDocument") if tx is not None else None
    if text(dn, "./{*}IssuerAssignedID"):
        data["delivery_note"] = {"id": text(dn, "./{*}IssuerAssignedID"),
                                 "issue_date": _date_102(text(dn, "./{*}FormattedIssueDateTime/{*}DateTimeString"))}
    fx = tx.find("./{*}ApplicableHeaderTradeSettlement/{*}TaxApplicableTradeCurrencyExchange") if tx is not None else None
    if text(fx, "./{*}ConversionRate"):
        data["tax_exchange"] = {k: v for k, v in {
            "source": text(fx, "./{*}SourceCurrencyCode"), "target": text(fx, "./{*}TargetCurrencyCode"),
            "rate": text(fx, "./{*}ConversionRate"), "date": text(fx, "./{*}ConversionRateDateTime/{*}DateTimeString")}.items() if v}
    breakdown = data.get("BG-23") if isinstance(data.get("BG-23"), list) else None
    taxes = tx.findall("./{*}ApplicableHeaderTradeSettlement/{*}ApplicableTradeTax") if tx is not None else []
    if breakdown and len(breakdown) == len(taxes):
        for vb, el in zip(breakdown, taxes, strict=True):
            for key, tag in (("line_total_basis", "LineTotalBasisAmount"), ("allowance_charge_basis", "AllowanceChargeBasisAmount")):
                if text(el, f"./{{*}}{tag}") is not None and isinstance(vb, dict):
                    vb[key] = text(el, f"./{{*}}{tag}")
    lines = data.get("BG-25") if isinstance(data.get("BG-25"), list) else None
    items = tx.findall("./{*}IncludedSupplyChainTradeLineItem") if tx is not None else []
    if not lines or len(lines) != len(items):
        return
    for line, item in zip(lines, items, strict=True):
        if not isinstance(line, dict):
            continue
        pq = item.find("./{*}SpecifiedLineTradeDelivery/{*}PackageQuantity")
        if pq is not None and pq.text and pq.text.strip():
            line["package_quantity"], line["package_unit"] = pq.text.strip(), pq.get("unitCode")
        tax = item.find("./{*}SpecifiedLineTradeSettlement/{*}ApplicableTradeTax")
        if text(tax, "./{*}ExemptionReason"):
            line["vat_exemption"] = text(tax, "./{*}ExemptionReason")
        if text(tax, "./{*}ExemptionReasonCode"):
            line["vat_exemption_code"] = text(tax, "./{*}ExemptionReasonCode")
        products = []
        for rp in item.findall("./{*}SpecifiedTradeProduct/{*}IncludedReferencedProduct"):
            gid, uq = rp.find("./{*}GlobalID"), rp.find("./{*}UnitQuantity")
            products.append({k: v for k, v in {
                "global_id": text(rp, "./{*}GlobalID"), "global_id_scheme": gid.get("schemeID") if gid is not None else None,
                "seller_id": text(rp, "./{*}SellerAssignedID"), "buyer_id": text(rp, "./{*}BuyerAssignedID"),
                "name": text(rp, "./{*}Name"), "description": text(rp, "./{*}Description"),
                "unit_quantity": text(rp, "./{*}UnitQuantity"), "unit": uq.get("unitCode") if uq is not None else None}.items() if v})
        if products:
            line["included_products"] = products


def _cii_parent_lines(root, data: dict) -> None:
    """EXTENDED sub-lines: each line's ParentLineID (the factur-x parser reads the line kind,
    LineStatusReasonCode, but not its parent)."""
    lines = data.get("BG-25")
    items = root.findall("./{*}SupplyChainTradeTransaction/{*}IncludedSupplyChainTradeLineItem")
    if not isinstance(lines, list) or len(lines) != len(items):
        return
    for line, item in zip(lines, items, strict=True):
        parent = item.findtext("./{*}AssociatedDocumentLineDocument/{*}ParentLineID")
        if parent and parent.strip() and isinstance(line, dict):
            line["EXT-FR-FE-162"] = parent.strip()


def _cii_payment_terms(root, data: dict) -> None:
    """Every SpecifiedTradePaymentTerms with its discount and penalty terms (EXTENDED), which the
    factur-x parser flattens into BT-9 / BT-20 lists or skips: kept whole in payment_terms_detail."""
    ram = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    terms = root.findall(f"./{{*}}SupplyChainTradeTransaction/{{*}}ApplicableHeaderTradeSettlement/{{{ram}}}SpecifiedTradePaymentTerms")

    def text(el, path):
        found = el.find(path)
        return found.text.strip() if found is not None and found.text and found.text.strip() else None

    def adjustment(el, tag, amount_tag):
        adj = el.find(f"{{{ram}}}{tag}")
        if adj is None:
            return None
        period = adj.find(f"{{{ram}}}BasisPeriodMeasure")
        out = {"basis_date": _date_102(text(adj, f"{{{ram}}}BasisDateTime/{{*}}DateTimeString")),
               "period": period.text.strip() if period is not None and period.text else None,
               "period_unit": period.get("unitCode") if period is not None else None,
               "basis_amount": text(adj, f"{{{ram}}}BasisAmount"), "percent": text(adj, f"{{{ram}}}CalculationPercent"),
               "amount": text(adj, f"{{{ram}}}{amount_tag}")}
        return {k: v for k, v in out.items() if v is not None} or None

    detail = []
    for t in terms:
        item = {"BT-20": text(t, f"{{{ram}}}Description"), "BT-9": _date_102(text(t, f"{{{ram}}}DueDateDateTime/{{*}}DateTimeString")),
                "partial_amount": text(t, f"{{{ram}}}PartialPaymentAmount"),
                "discount": adjustment(t, "ApplicableTradePaymentDiscountTerms", "ActualDiscountAmount"),
                "penalty": adjustment(t, "ApplicableTradePaymentPenaltyTerms", "ActualPenaltyAmount")}
        detail.append({k: v for k, v in item.items() if v is not None})
    if len(detail) > 1 or any(("discount" in d or "penalty" in d or "partial_amount" in d) for d in detail):
        data["payment_terms_detail"] = detail


def _cii_dates_valid(root) -> None:
    """Every format-102 date is a real day: otherwise a precise reason, not a parser's traceback."""
    from datetime import datetime

    for ds in root.iter("{*}DateTimeString"):
        if ds.get("format") == "102":
            value = (ds.text or "").strip()
            try:
                datetime.strptime(value, "%Y%m%d")
            except ValueError:
                where = "/".join(etree.QName(a).localname for a in reversed(list(ds.iterancestors())[:3]))
                raise RejectedInput(f"invalid date {value!r} (format 102, YYYYMMDD) in {where}", code="invalid_date") from None


def _date_102(value: str | None):
    from datetime import date

    if not value or len(value) != 8 or not value.isdigit():
        return None
    return date(int(value[:4]), int(value[4:6]), int(value[6:]))


def _ubl_normalised(root, data: bytes) -> bytes:
    """xs:boolean allows 0/1 (the CEN examples use them); the factur-x parser only knows
    true/false and would silently drop an allowance whose ChargeIndicator is 0."""
    from lxml import etree

    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    changed = False
    for el in root.iter(f"{{{cbc}}}ChargeIndicator"):
        text = (el.text or "").strip()
        if text in ("0", "1"):
            el.text = "true" if text == "1" else "false"
            changed = True
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") if changed else data


def _read_edifact(data: bytes) -> ReadResult:
    from .edifact_read import read

    try:  # UNOW/UNOY are UTF-8; UNOA-UNOC are ISO 8859-x
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    try:
        invoice = Invoice.model_validate(read(text.lstrip("\ufeff")))
    except ValidationError as exc:
        raise RejectedInput(_validation_reason(exc), code="incomplete_invoice") from exc
    return ReadResult(invoice=invoice, kind=Kind.EDIFACT, syntax=Kind.EDIFACT)


def _read_json(data: bytes) -> ReadResult:
    try:
        payload = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedInput(f"the JSON is not valid: {exc}", code="json_malformed") from exc
    if not isinstance(payload, dict):
        raise RejectedInput("the JSON must be an object describing one invoice", code="json_not_object")
    payload = payload.get("invoice", payload)
    try:
        invoice = Invoice.model_validate(payload)
    except ValidationError as exc:
        raise RejectedInput(_validation_reason(exc), code="incomplete_invoice") from exc
    return ReadResult(invoice=invoice, kind=Kind.JSON, syntax=Kind.JSON)


def _read_pdf(data: bytes, *, max_bytes: int, pdf_capture=None, known: Invoice | None = None) -> ReadResult:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    from .pdfsafe import embedded_files

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise RejectedInput("the PDF is encrypted; Facteur cannot read its embedded invoice", code="pdf_encrypted")
        attachments = embedded_files(reader)  # {name: bytes}, within the file-count and size budget
    except RejectedInput:
        raise
    except LimitReachedError as exc:
        raise RejectedInput("an embedded file of the PDF decompresses past the size limit", code="pdf_too_large_inflated") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError) as exc:
        raise RejectedInput(f"the PDF is corrupt or unreadable: {_first_line(exc)}", code="pdf_corrupt") from exc
    names = {n.lower(): n for n in attachments}
    for wanted in ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"):
        if wanted in names:
            xml = attachments[names[wanted]]
            if len(xml) > max_bytes:
                raise RejectedInput("the embedded XML is over the size limit", code="too_large")
            return _read_xml(xml, container=Kind.PDF, pdf=data, known=known)
    if any(n.lower().endswith(".xml") for n in attachments):
        listed = ", ".join(sorted(attachments))
        raise RejectedInput(f"the PDF embeds XML files ({listed}) but none named factur-x.xml, "
                            "zugferd-invoice.xml or xrechnung.xml", code="pdf_no_invoice_xml")
    if known is not None:  # captured from the PDF's text at intake
        return ReadResult(invoice=known, kind=Kind.PDF, syntax=Kind.PDF, pdf=data,
                          warnings=["data captured from the PDF text by an extraction template"])
    if pdf_capture is not None:
        from .pdf_capture import pdf_text

        try:
            text = pdf_text(data)
        except Exception as exc:  # pypdf raises many types on damaged content streams
            raise RejectedInput(f"the PDF text cannot be extracted: {_first_line(exc)}", code="pdf_corrupt") from exc
        captured = pdf_capture(text)
        if captured is not None:
            try:
                invoice = Invoice.model_validate(captured)
            except ValidationError as exc:
                raise RejectedInput(_validation_reason(exc), code="template_incomplete") from exc
            return ReadResult(invoice=invoice, kind=Kind.PDF, syntax=Kind.PDF, pdf=data,
                              warnings=["data captured from the PDF text by an extraction template"])
        raise RejectedInput("the PDF has no embedded invoice XML (plain PDF) and none of the supplier's extraction "
                            "templates matches it", code="pdf_plain")
    raise RejectedInput("the PDF has no embedded invoice XML (plain PDF); no extraction template is configured "
                        "for this supplier", code="pdf_plain")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    more = f" (+{exc.error_count() - 8} more)" if exc.error_count() > 8 else ""
    return "the invoice is incomplete or invalid: " + "; ".join(parts) + more
