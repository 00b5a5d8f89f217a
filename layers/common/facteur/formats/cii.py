"""UN/CEFACT CII D16B (the XML inside Factur-X), written from the canonical invoice.

Element order follows the Factur-X 1.0.7 XSDs (EN16931 and EXTENDED), which share the D16B
order; the BT ids in comments are the EN 16931 semantic terms each element carries."""
from __future__ import annotations

import base64
import re
from functools import cache

from lxml import etree

from ..model.invoice import AllowanceCharge, Invoice, Line, Party
from ._xml import Builder, d102, money, num, payment_terms_text, to_bytes

NSMAP = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
B = Builder(NSMAP)

PROFILE_URN = {
    "minimum": "urn:factur-x.eu:1p0:minimum",
    "basicwl": "urn:factur-x.eu:1p0:basicwl",
    "basic": "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic",
    "en16931": "urn:cen.eu:en16931:2017",
    "extended": "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended",
}


def _date(parent, tag: str, value, *, qualified: bool = False) -> None:
    if value is None:
        return
    holder = B.el(parent, tag)
    B.leaf(holder, "qdt:DateTimeString" if qualified else "udt:DateTimeString", d102(value), format="102")


def _party(parent, tag: str, p: Party | None, *, with_tax: bool = True) -> None:
    if p is None:
        return
    e = B.el(parent, tag)
    for ident in p.identifiers:  # BT-29 / BT-46 / BT-60 / BT-71
        if not ident.scheme:
            B.leaf(e, "ram:ID", ident.value)
    for ident in p.identifiers:
        if ident.scheme:
            B.leaf(e, "ram:GlobalID", ident.value, schemeID=ident.scheme)
    B.leaf(e, "ram:Name", p.name)
    B.leaf(e, "ram:Description", p.legal_info)  # BT-33
    if p.legal_id or p.trading_name:
        org = B.el(e, "ram:SpecifiedLegalOrganization")
        B.leaf(org, "ram:ID", p.legal_id, schemeID=p.legal_id_scheme)  # BT-30
        B.leaf(org, "ram:TradingBusinessName", p.trading_name)  # BT-28
    for c in p.contacts[:1]:  # BG-6 / BG-9 (one contact in the EN 16931 profile)
        ce = B.el(e, "ram:DefinedTradeContact")
        B.leaf(ce, "ram:PersonName", c.name)
        B.leaf(ce, "ram:DepartmentName", c.department)
        if c.phone:
            B.leaf(B.el(ce, "ram:TelephoneUniversalCommunication"), "ram:CompleteNumber", c.phone)
        if c.email:
            B.leaf(B.el(ce, "ram:EmailURIUniversalCommunication"), "ram:URIID", c.email)
    if p.country or p.city or p.line1 or p.postcode:
        a = B.el(e, "ram:PostalTradeAddress")
        B.leaf(a, "ram:PostcodeCode", p.postcode)
        B.leaf(a, "ram:LineOne", p.line1)
        B.leaf(a, "ram:LineTwo", p.line2)
        B.leaf(a, "ram:LineThree", p.line3)
        B.leaf(a, "ram:CityName", p.city)
        B.leaf(a, "ram:CountryID", p.country)
        B.leaf(a, "ram:CountrySubDivisionName", p.subdivision)
    if p.electronic_address:  # BT-34 / BT-49
        B.leaf(B.el(e, "ram:URIUniversalCommunication"), "ram:URIID", p.electronic_address,
               schemeID=p.electronic_address_scheme)
    if with_tax:
        if p.vat_id:  # BT-31 / BT-48 / BT-63
            B.leaf(B.el(e, "ram:SpecifiedTaxRegistration"), "ram:ID", p.vat_id, schemeID="VA")
        if p.tax_registration_id:  # BT-32
            B.leaf(B.el(e, "ram:SpecifiedTaxRegistration"), "ram:ID", p.tax_registration_id, schemeID="FC")


def _as_party(data: dict) -> Party | None:
    try:
        return Party.model_validate(data)
    except ValueError:
        return None


def _ext_party(inv: Invoice, key: str, profile: str) -> Party | None:
    """The EXTENDED parties (buyer agent, payer, sales agent, invoicee, invoicer: EXT-FR-FE-BG-01..05),
    kept verbatim in the invoice's extensions; written in EXTENDED only (the other profiles have none)."""
    data = inv.extensions.get(key)
    if profile != "extended" or not isinstance(data, dict):
        return None
    return _as_party(data)


def _allowance_charge(parent, ac: AllowanceCharge, *, charge: bool, document_level: bool, extended: bool = False) -> None:
    e = B.el(parent, "ram:SpecifiedTradeAllowanceCharge")
    B.leaf(B.el(e, "ram:ChargeIndicator"), "udt:Indicator", "true" if charge else "false")
    B.leaf(e, "ram:CalculationPercent", num(ac.percent))
    B.leaf(e, "ram:BasisAmount", money(ac.base_amount))
    B.leaf(e, "ram:ActualAmount", money(ac.amount))
    B.leaf(e, "ram:ReasonCode", ac.reason_code)
    B.leaf(e, "ram:Reason", ac.reason)
    if document_level:  # BT-95..BT-96 / BT-102..BT-103
        t = B.el(e, "ram:CategoryTradeTax")
        B.leaf(t, "ram:TypeCode", "VAT")
        B.leaf(t, "ram:ExemptionReason", ac.vat_exemption if extended else None)  # EXTENDED only
        B.leaf(t, "ram:CategoryCode", ac.vat_category)
        B.leaf(t, "ram:ExemptionReasonCode", ac.vat_exemption_code if extended else None)
        B.leaf(t, "ram:RateApplicablePercent", num(ac.vat_rate))


def _line(parent, line: Line, *, one_note: bool = False, extended: bool = False, full: bool = False) -> None:
    """`extended`: the EXTENDED profile; `full`: no Factur-X profile at all (a standalone CII D16B),
    where the line's VAT exemption has its place too."""
    li = B.el(parent, "ram:IncludedSupplyChainTradeLineItem")
    doc = B.el(li, "ram:AssociatedDocumentLineDocument")
    B.leaf(doc, "ram:LineID", line.id)  # BT-126
    if extended:  # EXTENDED sub-lines: the parent line and the line's kind (DETAIL, GROUP, INFORMATION)
        B.leaf(doc, "ram:ParentLineID", line.parent_id)
        B.leaf(doc, "ram:LineStatusReasonCode", line.status_reason)
    notes = line.notes
    if one_note:  # BT-127 occurs once below EXTENDED, with a text: joined, none dropped
        texts = [n.text for n in notes if n.text]
        notes = [type(notes[0]).model_validate({"BT-127": "\n".join(texts)})] if len(texts) > 1 else [n for n in notes if n.text]
    for n in notes:
        ne = B.el(doc, "ram:IncludedNote")
        B.leaf(ne, "ram:Content", n.text)
        B.leaf(ne, "ram:SubjectCode", n.subject)
    prod = B.el(li, "ram:SpecifiedTradeProduct")
    B.leaf(prod, "ram:GlobalID", line.standard_item_id, schemeID=line.standard_item_scheme)  # BT-157
    B.leaf(prod, "ram:SellerAssignedID", line.seller_item_id)  # BT-155
    B.leaf(prod, "ram:BuyerAssignedID", line.buyer_item_id)  # BT-156
    B.leaf(prod, "ram:Name", line.name)  # BT-153
    B.leaf(prod, "ram:Description", line.description)  # BT-154
    for attr in line.attributes:  # BG-32
        ch = B.el(prod, "ram:ApplicableProductCharacteristic")
        B.leaf(ch, "ram:Description", attr.name)
        B.leaf(ch, "ram:Value", attr.value)
    for code, info in _classifications(line):  # BT-158
        B.leaf(B.el(prod, "ram:DesignatedProductClassification"), "ram:ClassCode", code,
               listID=info.get("listID"), listVersionID=info.get("listVersionID"))
    if line.origin_country:  # BT-159
        B.leaf(B.el(prod, "ram:OriginTradeCountry"), "ram:ID", line.origin_country)
    for rp in line.included_products if extended else []:  # EXTENDED: the products of a set
        ref = B.el(prod, "ram:IncludedReferencedProduct")
        B.leaf(ref, "ram:GlobalID", rp.global_id, schemeID=rp.global_id_scheme)
        B.leaf(ref, "ram:SellerAssignedID", rp.seller_id)
        B.leaf(ref, "ram:BuyerAssignedID", rp.buyer_id)
        B.leaf(ref, "ram:Name", rp.name)
        B.leaf(ref, "ram:Description", rp.description)
        B.leaf(ref, "ram:UnitQuantity", num(rp.unit_quantity), unitCode=rp.unit)

    agr = B.el(li, "ram:SpecifiedLineTradeAgreement")
    ext = line.extensions if extended else {}
    if line.order_line_ref or ext.get("EXT-FR-FE-135"):  # BT-132 (and, in EXTENDED, the line's own order)
        ref = B.el(agr, "ram:BuyerOrderReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", ext.get("EXT-FR-FE-135"))
        B.leaf(ref, "ram:LineID", line.order_line_ref)
    if line.gross_price is not None or line.price_discounts:  # BT-148 / BT-147
        gp = B.el(agr, "ram:GrossPriceProductTradePrice")
        B.leaf(gp, "ram:ChargeAmount", num(line.gross_price if line.gross_price is not None else line.net_price))
        B.leaf(gp, "ram:BasisQuantity", num(line.price_base_quantity), unitCode=line.unit if line.price_base_quantity else None)
        for disc in line.price_discounts:
            ac = B.el(gp, "ram:AppliedTradeAllowanceCharge")
            B.leaf(B.el(ac, "ram:ChargeIndicator"), "udt:Indicator", "false")
            B.leaf(ac, "ram:ActualAmount", num(disc.amount))
            B.leaf(ac, "ram:ReasonCode", disc.reason_code)
            B.leaf(ac, "ram:Reason", disc.reason)
    if line.net_price is not None:  # (EXTENDED GROUP / INFORMATION sub-lines may have none)
        np_ = B.el(agr, "ram:NetPriceProductTradePrice")
        B.leaf(np_, "ram:ChargeAmount", num(line.net_price))  # BT-146
        B.leaf(np_, "ram:BasisQuantity", num(line.price_base_quantity), unitCode=line.unit if line.price_base_quantity else None)

    dl = B.el(li, "ram:SpecifiedLineTradeDelivery")
    B.leaf(dl, "ram:BilledQuantity", num(line.quantity), unitCode=line.unit)  # BT-129 / BT-130
    if extended:
        B.leaf(dl, "ram:PackageQuantity", num(line.package_quantity), unitCode=line.package_unit)
    if isinstance(ext.get("EXT-FR-FE-BG-10"), dict):  # EXTENDED: the line's own deliver-to party
        _party(dl, "ram:ShipToTradeParty", _as_party(ext["EXT-FR-FE-BG-10"]), with_tax=False)
    if ext.get("EXT-FR-FE-140"):  # EXTENDED: the line's despatch advice
        ref = B.el(dl, "ram:DespatchAdviceReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", ext.get("EXT-FR-FE-140"))
        B.leaf(ref, "ram:LineID", ext.get("EXT-FR-FE-141"))

    st = B.el(li, "ram:SpecifiedLineTradeSettlement")
    if line.vat_category is not None:
        tax = B.el(st, "ram:ApplicableTradeTax")
        B.leaf(tax, "ram:TypeCode", "VAT")
        B.leaf(tax, "ram:ExemptionReason", line.vat_exemption if extended or full else None)
        B.leaf(tax, "ram:CategoryCode", line.vat_category)  # BT-151
        B.leaf(tax, "ram:ExemptionReasonCode", line.vat_exemption_code if extended or full else None)
        B.leaf(tax, "ram:RateApplicablePercent", num(line.vat_rate))  # BT-152
    if line.period_start or line.period_end:  # BG-26
        per = B.el(st, "ram:BillingSpecifiedPeriod")
        _date(per, "ram:StartDateTime", line.period_start)
        _date(per, "ram:EndDateTime", line.period_end)
    for ac in line.allowances:
        _allowance_charge(st, ac, charge=False, document_level=False)
    for ac in line.charges:
        _allowance_charge(st, ac, charge=True, document_level=False)
    if line.net_amount is not None:
        B.leaf(B.el(st, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount", money(line.net_amount))
    if ext.get("EXT-FR-FE-136"):  # EXTENDED: the invoice (line) this line refers to
        ref = B.el(st, "ram:InvoiceReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", ext.get("EXT-FR-FE-136"))
        B.leaf(ref, "ram:LineID", ext.get("EXT-FR-FE-139"))
        B.leaf(ref, "ram:TypeCode", ext.get("EXT-FR-FE-137"))
        _date(ref, "ram:FormattedIssueDateTime", ext.get("EXT-FR-FE-138"), qualified=True)
    _object_refs(st, line.object_id)  # BT-128
    if line.accounting_ref:  # BT-133
        B.leaf(B.el(st, "ram:ReceivableSpecifiedTradeAccountingAccount"), "ram:ID", line.accounting_ref)


def _object_refs(parent, ids: dict | None) -> None:
    """BT-18 / BT-128 object identifiers: {scheme or "": value} -> referenced documents of type 130."""
    for scheme, value in (ids or {}).items():
        ref = B.el(parent, "ram:AdditionalReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", value)
        B.leaf(ref, "ram:TypeCode", "130")
        B.leaf(ref, "ram:ReferenceTypeCode", scheme or None)


def _classifications(line: Line):
    """BT-158 in the factur-x library shape: {listID: {listVersionID or "": code}}."""
    for list_id, versions in (line.classification or {}).items():
        if isinstance(versions, dict):
            for version, code in versions.items():
                yield code, {"listID": list_id or None, "listVersionID": version or None}
        else:
            yield versions, {"listID": list_id or None}


# BT-8 as the factur-x library names it, to UNTDID 2475 (CII) codes.
TAX_POINT_CODE = {"invoice": "5", "delivery": "29", "payment": "72"}


def write(inv: Invoice, *, profile: str | None = None, standalone: bool = False) -> bytes:
    """The CII D16B XML of `inv` for a Factur-X profile (default: the one BT-24 implies).
    `standalone`: a CII that travels on its own, not in a Factur-X: an EN 16931 invoice keeps its
    own specification identifier (XRechnung...) and is not cut down to the Factur-X profile."""
    profile = profile or inv.profile
    standalone = standalone and profile == "en16931"
    # A standalone CII keeps the CIUS it claims (XRechnung...); a Factur-X / ZUGFeRD 2 profile URN,
    # malformed or not, becomes the proper one of its profile.
    own = standalone and not re.search(r"factur-x|zugferd", inv.specification, re.IGNORECASE)
    guideline = inv.specification if own else PROFILE_URN.get(profile, inv.specification)
    root = B.root("rsm:CrossIndustryInvoice")
    ctx = B.el(root, "rsm:ExchangedDocumentContext")
    if inv.process_type:  # BT-23
        B.leaf(B.el(ctx, "ram:BusinessProcessSpecifiedDocumentContextParameter"), "ram:ID", inv.process_type)
    B.leaf(B.el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", guideline)

    doc = B.el(root, "rsm:ExchangedDocument")
    B.leaf(doc, "ram:ID", inv.number)  # BT-1
    B.leaf(doc, "ram:Name", inv.document_name if profile == "extended" else None)
    B.leaf(doc, "ram:TypeCode", inv.type_code)  # BT-3
    _date(doc, "ram:IssueDateTime", inv.issue_date)  # BT-2
    for n in inv.notes:  # BG-1
        ne = B.el(doc, "ram:IncludedNote")
        B.leaf(ne, "ram:ContentCode", n.content_code if profile == "extended" else None)
        B.leaf(ne, "ram:Content", n.text)
        B.leaf(ne, "ram:SubjectCode", n.subject)

    tx = B.el(root, "rsm:SupplyChainTradeTransaction")
    if profile not in ("minimum", "basicwl"):
        for line in inv.lines if profile == "extended" else inv.billed_lines:  # sub-lines: EXTENDED only
            _line(tx, line, one_note=profile != "extended", extended=profile == "extended", full=standalone)

    agr = B.el(tx, "ram:ApplicableHeaderTradeAgreement")
    B.leaf(agr, "ram:BuyerReference", inv.buyer_reference)  # BT-10
    _party(agr, "ram:SellerTradeParty", inv.seller)
    _party(agr, "ram:BuyerTradeParty", inv.buyer)
    _party(agr, "ram:SalesAgentTradeParty", _ext_party(inv, "EXT-FR-FE-BG-03", profile), with_tax=False)
    _party(agr, "ram:SellerTaxRepresentativeTradeParty", inv.tax_representative)
    if inv.sales_order_reference:  # BT-14
        B.leaf(B.el(agr, "ram:SellerOrderReferencedDocument"), "ram:IssuerAssignedID", inv.sales_order_reference)
    if inv.purchase_order_reference:  # BT-13
        B.leaf(B.el(agr, "ram:BuyerOrderReferencedDocument"), "ram:IssuerAssignedID", inv.purchase_order_reference)
    if inv.contract_reference:  # BT-12
        B.leaf(B.el(agr, "ram:ContractReferencedDocument"), "ram:IssuerAssignedID", inv.contract_reference)
    for att in inv.attachments:  # BG-24
        ref = B.el(agr, "ram:AdditionalReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", att.reference)
        B.leaf(ref, "ram:URIID", att.uri)
        B.leaf(ref, "ram:TypeCode", "916")
        B.leaf(ref, "ram:Name", att.description)
        if att.content is not None:
            B.leaf(ref, "ram:AttachmentBinaryObject", base64.b64encode(att.content).decode(),
                   mimeCode=att.mime_code or "application/octet-stream", filename=att.filename or att.reference)
    for tender in inv.tender_references:  # BT-17
        ref = B.el(agr, "ram:AdditionalReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", tender)
        B.leaf(ref, "ram:TypeCode", "50")
    _object_refs(agr, inv.invoiced_object)  # BT-18
    _party(agr, "ram:BuyerAgentTradeParty", _ext_party(inv, "EXT-FR-FE-BG-01", profile), with_tax=False)
    if inv.project_reference:  # BT-11
        proj = B.el(agr, "ram:SpecifiedProcuringProject")
        B.leaf(proj, "ram:ID", inv.project_reference)
        B.leaf(proj, "ram:Name", inv.project_name or "Project reference")

    dlv = B.el(tx, "ram:ApplicableHeaderTradeDelivery")
    _party(dlv, "ram:ShipToTradeParty", inv.delivery, with_tax=False)  # BG-13
    if inv.delivery_date:  # BT-72
        ev = B.el(dlv, "ram:ActualDeliverySupplyChainEvent")
        _date(ev, "ram:OccurrenceDateTime", inv.delivery_date)
    if inv.despatch_advice_reference:  # BT-16
        B.leaf(B.el(dlv, "ram:DespatchAdviceReferencedDocument"), "ram:IssuerAssignedID", inv.despatch_advice_reference)
    if inv.receiving_advice_reference:  # BT-15
        B.leaf(B.el(dlv, "ram:ReceivingAdviceReferencedDocument"), "ram:IssuerAssignedID", inv.receiving_advice_reference)
    if inv.delivery_note is not None and profile == "extended":  # EXTENDED: the delivery note
        ref = B.el(dlv, "ram:DeliveryNoteReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", inv.delivery_note.id)
        _date(ref, "ram:FormattedIssueDateTime", inv.delivery_note.issue_date, qualified=True)

    st = B.el(tx, "ram:ApplicableHeaderTradeSettlement")
    B.leaf(st, "ram:CreditorReferenceID", inv.creditor_id)  # BT-90
    B.leaf(st, "ram:PaymentReference", inv.remittance_information)  # BT-83
    # BT-6 only when it differs from BT-5 (the CII binding of BR-53 forbids them equal)
    B.leaf(st, "ram:TaxCurrencyCode", inv.tax_currency if inv.tax_currency != inv.currency else None)
    B.leaf(st, "ram:InvoiceCurrencyCode", inv.currency)  # BT-5
    _party(st, "ram:InvoicerTradeParty", _ext_party(inv, "EXT-FR-FE-BG-05", profile), with_tax=False)
    _party(st, "ram:InvoiceeTradeParty", _ext_party(inv, "EXT-FR-FE-BG-04", profile), with_tax=False)
    _party(st, "ram:PayeeTradeParty", inv.payee, with_tax=False)  # BG-10
    _party(st, "ram:PayerTradeParty", _ext_party(inv, "EXT-FR-FE-BG-02", profile), with_tax=False)
    if inv.tax_exchange and profile == "extended":  # EXTENDED: the VAT currency exchange
        fx = B.el(st, "ram:TaxApplicableTradeCurrencyExchange")
        B.leaf(fx, "ram:SourceCurrencyCode", inv.tax_exchange.get("source"))
        B.leaf(fx, "ram:TargetCurrencyCode", inv.tax_exchange.get("target"))
        B.leaf(fx, "ram:ConversionRate", inv.tax_exchange.get("rate"))
        if inv.tax_exchange.get("date"):
            B.leaf(B.el(fx, "ram:ConversionRateDateTime"), "udt:DateTimeString", inv.tax_exchange["date"], format="102")
    means: list[dict[str, str | None]] = [{"BT-81": inv.payment_means_code, "BT-82": inv.payment_means_text, "BT-84": inv.payment_account_id,
              "BT-85": inv.payment_account_name, "BT-86": inv.payment_service_provider}]
    means += [dict(t) for t in inv.additional_credit_transfers]
    for i, m in enumerate(means):
        if not m.get("BT-81"):
            continue
        pm = B.el(st, "ram:SpecifiedTradeSettlementPaymentMeans")
        B.leaf(pm, "ram:TypeCode", m.get("BT-81"))
        B.leaf(pm, "ram:Information", m.get("BT-82"))
        if i == 0 and inv.card_number:  # BG-18
            card = B.el(pm, "ram:ApplicableTradeSettlementFinancialCard")
            B.leaf(card, "ram:ID", inv.card_number)
            B.leaf(card, "ram:CardholderName", inv.card_holder)
        if i == 0 and inv.debited_account:  # BT-91
            B.leaf(B.el(pm, "ram:PayerPartyDebtorFinancialAccount"), "ram:IBANID", inv.debited_account)
        if m.get("BT-84") or m.get("BT-85"):  # BG-17
            acc = B.el(pm, "ram:PayeePartyCreditorFinancialAccount")
            B.leaf(acc, "ram:IBANID", m.get("BT-84"))
            B.leaf(acc, "ram:AccountName", m.get("BT-85"))
        if m.get("BT-86"):
            B.leaf(B.el(pm, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", m.get("BT-86"))
    for i, vb in enumerate(inv.vat_breakdown):  # BG-23
        t = B.el(st, "ram:ApplicableTradeTax")
        B.leaf(t, "ram:CalculatedAmount", money(vb.tax_amount))
        B.leaf(t, "ram:TypeCode", "VAT")
        B.leaf(t, "ram:ExemptionReason", vb.exemption_reason)
        B.leaf(t, "ram:BasisAmount", money(vb.taxable_amount))
        if profile == "extended":
            B.leaf(t, "ram:LineTotalBasisAmount", money(vb.line_total_basis))
            B.leaf(t, "ram:AllowanceChargeBasisAmount", money(vb.allowance_charge_basis))
        B.leaf(t, "ram:CategoryCode", vb.category)
        B.leaf(t, "ram:ExemptionReasonCode", vb.exemption_code)
        if inv.tax_point_date and i == 0:  # BT-7, once (CII-SR-461: only one TaxPointDate)
            B.leaf(B.el(t, "ram:TaxPointDate"), "udt:DateString", d102(inv.tax_point_date), format="102")
        B.leaf(t, "ram:DueDateTypeCode", TAX_POINT_CODE.get(inv.tax_point_code or "", inv.tax_point_code))  # BT-8
        B.leaf(t, "ram:RateApplicablePercent", num(vb.rate))
    if inv.period_start or inv.period_end:  # BG-14
        per = B.el(st, "ram:BillingSpecifiedPeriod")
        _date(per, "ram:StartDateTime", inv.period_start)
        _date(per, "ram:EndDateTime", inv.period_end)
    for ac in inv.allowances:  # BG-20
        _allowance_charge(st, ac, charge=False, document_level=True, extended=profile == "extended")
    for ac in inv.charges:  # BG-21
        _allowance_charge(st, ac, charge=True, document_level=True, extended=profile == "extended")
    if profile == "extended" and inv.payment_terms_detail:  # every term, with its discount and penalty
        for i, pt in enumerate(inv.payment_terms_detail):
            terms = B.el(st, "ram:SpecifiedTradePaymentTerms")
            B.leaf(terms, "ram:Description", payment_terms_text(pt.description))
            _date(terms, "ram:DueDateDateTime", pt.due_date)
            B.leaf(terms, "ram:DirectDebitMandateID", inv.mandate_reference if i == 0 else None)  # BT-89
            B.leaf(terms, "ram:PartialPaymentAmount", money(pt.partial_amount))
            for tag, amount_tag, adj in (("ram:ApplicableTradePaymentPenaltyTerms", "ram:ActualPenaltyAmount", pt.penalty),
                                         ("ram:ApplicableTradePaymentDiscountTerms", "ram:ActualDiscountAmount", pt.discount)):
                if adj is not None:
                    a = B.el(terms, tag)
                    _date(a, "ram:BasisDateTime", adj.basis_date)
                    B.leaf(a, "ram:BasisPeriodMeasure", num(adj.period), unitCode=adj.period_unit)
                    B.leaf(a, "ram:BasisAmount", money(adj.basis_amount))
                    B.leaf(a, "ram:CalculationPercent", num(adj.percent))
                    B.leaf(a, amount_tag, money(adj.amount))
    elif inv.payment_terms or inv.due_date or inv.mandate_reference:
        terms = B.el(st, "ram:SpecifiedTradePaymentTerms")
        B.leaf(terms, "ram:Description", payment_terms_text(inv.payment_terms))  # BT-20
        _date(terms, "ram:DueDateDateTime", inv.due_date)  # BT-9
        B.leaf(terms, "ram:DirectDebitMandateID", inv.mandate_reference)  # BT-89
    tot = B.el(st, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    B.leaf(tot, "ram:LineTotalAmount", money(inv.line_total))  # BT-106
    B.leaf(tot, "ram:ChargeTotalAmount", money(inv.charge_total))  # BT-108
    B.leaf(tot, "ram:AllowanceTotalAmount", money(inv.allowance_total))  # BT-107
    B.leaf(tot, "ram:TaxBasisTotalAmount", money(inv.tax_exclusive_amount))  # BT-109
    B.leaf(tot, "ram:TaxTotalAmount", money(inv.tax_amount), currencyID=inv.currency)  # BT-110
    # BT-111, unless BT-6 = BT-5: then BT-110 is also BT-111 (a second total would count twice, BR-CO-15)
    if inv.tax_currency and inv.tax_currency != inv.currency and inv.tax_amount_accounting is not None:
        B.leaf(tot, "ram:TaxTotalAmount", money(inv.tax_amount_accounting), currencyID=inv.tax_currency)
    B.leaf(tot, "ram:RoundingAmount", money(inv.rounding_amount))  # BT-114
    B.leaf(tot, "ram:GrandTotalAmount", money(inv.tax_inclusive_amount))  # BT-112
    B.leaf(tot, "ram:TotalPrepaidAmount", money(inv.prepaid_amount))  # BT-113
    B.leaf(tot, "ram:DuePayableAmount", money(inv.amount_due))  # BT-115
    for prec in inv.preceding_invoices:  # BG-3
        ref = B.el(st, "ram:InvoiceReferencedDocument")
        B.leaf(ref, "ram:IssuerAssignedID", prec.number)
        B.leaf(ref, "ram:TypeCode", prec.type_code if profile == "extended" else None)  # EXT-FR-FE-02
        _date(ref, "ram:FormattedIssueDateTime", prec.issue_date, qualified=True)
    if inv.buyer_accounting_reference:  # BT-19
        B.leaf(B.el(st, "ram:ReceivableSpecifiedTradeAccountingAccount"), "ram:ID", inv.buyer_accounting_reference)
    if standalone:  # what the CII D16B schema cannot hold (a second BG-3...) is left out; the loss report lists it
        prune_to_profile(root, "d16b")
    elif profile != "extended":  # the Factur-X profiles restrict CII D16B: say no more than they allow
        prune_to_profile(root, profile)
    return to_bytes(root)


def prune_to_profile(root: etree._Element, profile: str) -> etree._Element:
    """Drop the elements a Factur-X profile does not carry (its XSD is a restriction of the
    CII D16B one: same types, fewer elements). The canonical invoice keeps everything; a
    MINIMUM or BASIC WL output simply says less."""
    allowed = _profile_types(profile)

    def walk(el: etree._Element, type_name: str) -> None:
        children = allowed.get(type_name)
        if children is None:  # a simple or unrestricted type: leave as is
            return
        seen: dict[str, int] = {}
        for child in list(el):
            if not isinstance(child.tag, str):
                continue
            spec = children.get(child.tag)
            seen[child.tag] = seen.get(child.tag, 0) + 1
            if spec is None or seen[child.tag] > spec[1]:  # not in the profile, or over its maxOccurs
                el.remove(child)
            else:
                walk(child, spec[0])

    walk(root, allowed["__root__"])
    if profile == "d16b":
        return root
    # What the schematrons forbid in context although the shared XSD type allows it:
    # the payee (BG-10) has ids, a name and a legal id only; in MINIMUM, so has the buyer.
    ram = NSMAP["ram"]
    restricted: dict[str, tuple[str, ...]] = {"PayeeTradeParty": ("PostalTradeAddress", "DefinedTradeContact", "SpecifiedTaxRegistration",
                                      "URIUniversalCommunication", "Description")}
    if profile == "minimum":
        restricted["BuyerTradeParty"] = ("PostalTradeAddress", "SpecifiedTaxRegistration")
    for buyer in root.iter(f"{{{ram}}}BuyerTradeParty"):  # BT-46 is one identifier: the first ID and GlobalID stay
        for tag in ("ID", "GlobalID"):
            for extra in buyer.findall(f"{{{ram}}}{tag}")[1:]:
                buyer.remove(extra)
    if profile != "minimum":  # EN 16931 has no buyer tax registration (FC) besides the VAT id (BT-48): Factur-X allows VA only
        for reg in list(root.iterfind(f".//{{{ram}}}BuyerTradeParty/{{{ram}}}SpecifiedTaxRegistration")):
            if reg.find(f"{{{ram}}}ID") is not None and reg.find(f"{{{ram}}}ID").get("schemeID") != "VA":
                reg.getparent().remove(reg)
    for party, tags in restricted.items():
        for el in root.iter(f"{{{ram}}}{party}"):
            for tag in tags:
                for child in el.findall(f"{{{ram}}}{tag}"):
                    el.remove(child)
    return root


@cache
def _profile_types(profile: str) -> dict:
    """{type qname: {child element qname: (child type qname, maxOccurs)}} from the profile's XSD files."""
    import os

    from ..controls.official import RULE_SETS

    folder = os.path.dirname(RULE_SETS["cii-d16b-xsd" if profile == "d16b" else f"facturx-{profile}-xsd"].file)
    xs = "http://www.w3.org/2001/XMLSchema"
    types: dict = {}
    for name in os.listdir(folder):
        if not name.endswith(".xsd"):
            continue
        doc = etree.parse(os.path.join(folder, name)).getroot()
        tns = doc.get("targetNamespace")

        def qname(ref: str, node, tns=tns) -> str:
            prefix, _, local = ref.rpartition(":")
            return f"{{{node.nsmap.get(prefix or None, tns)}}}{local}"

        for ct in doc.iter(f"{{{xs}}}complexType"):
            if ct.get("name") is None or ct.find(f".//{{{xs}}}simpleContent") is not None:
                continue
            types[f"{{{tns}}}{ct.get('name')}"] = {
                f"{{{tns}}}{e.get('name')}": (qname(e.get("type"), e),
                                              10**9 if e.get("maxOccurs") == "unbounded" else int(e.get("maxOccurs", "1")))
                for e in ct.iter(f"{{{xs}}}element") if e.get("name") and e.get("type")}
        for el in doc.findall(f"{{{xs}}}element"):
            if el.get("name") == "CrossIndustryInvoice":
                types["__root__"] = qname(el.get("type"), el)
    return types


def tree(inv: Invoice, *, profile: str | None = None) -> etree._Element:
    return etree.fromstring(write(inv, profile=profile))
