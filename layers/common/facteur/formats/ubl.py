"""UBL 2.1 Invoice / CreditNote (EN 16931 binding, Peppol BIS 3 identifiers), written from the
canonical invoice. Element order follows the UBL 2.1 maindoc XSDs."""
from __future__ import annotations

import base64
from decimal import Decimal

from lxml import etree

from ..model.invoice import AllowanceCharge, Invoice, Line, Party
from ._xml import Builder, money, num, payment_terms_text, to_bytes
from .cii import _classifications

NS_INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CN = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

PEPPOL_CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


def _d(value) -> str | None:
    return value.isoformat() if value else None


def _tax_scheme(B: Builder, parent, scheme: str = "VAT") -> None:
    B.leaf(B.el(parent, "cac:TaxScheme"), "cbc:ID", scheme)


def _address(B: Builder, parent, tag: str, p: Party) -> None:
    if not (p.country or p.city or p.line1 or p.postcode):
        return
    a = B.el(parent, tag)
    B.leaf(a, "cbc:StreetName", p.line1)
    B.leaf(a, "cbc:AdditionalStreetName", p.line2)
    B.leaf(a, "cbc:CityName", p.city)
    B.leaf(a, "cbc:PostalZone", p.postcode)
    B.leaf(a, "cbc:CountrySubentity", p.subdivision)
    if p.line3:
        B.leaf(B.el(a, "cac:AddressLine"), "cbc:Line", p.line3)
    if p.country:
        B.leaf(B.el(a, "cac:Country"), "cbc:IdentificationCode", p.country)


def _party(B: Builder, parent, tag: str, p: Party | None, *, creditor_id: str | None = None,
           max_ids: int | None = None) -> None:
    """BG-4 seller / BG-7 buyer."""
    if p is None:
        return
    outer = B.el(parent, tag)
    e = B.el(outer, "cac:Party")
    B.leaf(e, "cbc:EndpointID", p.electronic_address, schemeID=p.electronic_address_scheme)  # BT-34 / BT-49
    for ident in p.identifiers[:max_ids]:  # BT-29 / BT-46 (UBL-SR-16: one buyer identifier)
        B.leaf(B.el(e, "cac:PartyIdentification"), "cbc:ID", ident.value, schemeID=ident.scheme)
    if creditor_id:  # BT-90 on the seller when there is no payee
        B.leaf(B.el(e, "cac:PartyIdentification"), "cbc:ID", creditor_id, schemeID="SEPA")
    if p.trading_name:  # BT-28 / BT-45
        B.leaf(B.el(e, "cac:PartyName"), "cbc:Name", p.trading_name)
    _address(B, e, "cac:PostalAddress", p)
    if p.vat_id:  # BT-31 / BT-48
        ts = B.el(e, "cac:PartyTaxScheme")
        B.leaf(ts, "cbc:CompanyID", p.vat_id)
        _tax_scheme(B, ts)
    if p.tax_registration_id:  # BT-32
        ts = B.el(e, "cac:PartyTaxScheme")
        B.leaf(ts, "cbc:CompanyID", p.tax_registration_id)
        _tax_scheme(B, ts, "FC")
    le = B.el(e, "cac:PartyLegalEntity")
    B.leaf(le, "cbc:RegistrationName", p.name)  # BT-27 / BT-44
    B.leaf(le, "cbc:CompanyID", p.legal_id, schemeID=p.legal_id_scheme)  # BT-30 / BT-47
    B.leaf(le, "cbc:CompanyLegalForm", p.legal_info)  # BT-33
    for c in p.contacts[:1]:
        ce = B.el(e, "cac:Contact")
        B.leaf(ce, "cbc:Name", c.name or c.department)  # one name in UBL: the person, else the department
        B.leaf(ce, "cbc:Telephone", c.phone)
        B.leaf(ce, "cbc:ElectronicMail", c.email)


def _allowance_charge(B: Builder, parent, ac: AllowanceCharge, *, charge: bool, currency: str, document_level: bool) -> None:
    e = B.el(parent, "cac:AllowanceCharge")
    B.leaf(e, "cbc:ChargeIndicator", "true" if charge else "false")
    B.leaf(e, "cbc:AllowanceChargeReasonCode", ac.reason_code)
    B.leaf(e, "cbc:AllowanceChargeReason", ac.reason)
    B.leaf(e, "cbc:MultiplierFactorNumeric", num(ac.percent))
    B.leaf(e, "cbc:Amount", money(ac.amount), currencyID=currency)
    B.leaf(e, "cbc:BaseAmount", money(ac.base_amount), currencyID=currency if ac.base_amount is not None else None)
    if document_level:
        tc = B.el(e, "cac:TaxCategory")
        B.leaf(tc, "cbc:ID", ac.vat_category)
        B.leaf(tc, "cbc:Percent", num(ac.vat_rate))
        _tax_scheme(B, tc)


def _line(B: Builder, parent, line: Line, inv: Invoice, credit: bool) -> None:
    cur = inv.currency
    li = B.el(parent, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
    B.leaf(li, "cbc:ID", line.id)  # BT-126
    texts = [n.text for n in line.notes if n.text]
    if texts:  # BT-127: one note in UBL (UBL-SR-34); several are joined, none dropped
        B.leaf(li, "cbc:Note", "\n".join(texts))
    B.leaf(li, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity", num(line.quantity), unitCode=line.unit)
    B.leaf(li, "cbc:LineExtensionAmount", money(line.net_amount), currencyID=cur)  # BT-131
    B.leaf(li, "cbc:AccountingCost", line.accounting_ref)  # BT-133
    if line.period_start or line.period_end:  # BG-26
        per = B.el(li, "cac:InvoicePeriod")
        B.leaf(per, "cbc:StartDate", _d(line.period_start))
        B.leaf(per, "cbc:EndDate", _d(line.period_end))
    if line.order_line_ref:  # BT-132
        B.leaf(B.el(li, "cac:OrderLineReference"), "cbc:LineID", line.order_line_ref)
    if line.object_id:  # BT-128: one in UBL (UBL-SR-52), the first
        for scheme, value in list(line.object_id.items())[:1]:
            dr = B.el(li, "cac:DocumentReference")
            B.leaf(dr, "cbc:ID", value, schemeID=scheme or None)
            B.leaf(dr, "cbc:DocumentTypeCode", "130")
    for ac in line.allowances:
        _allowance_charge(B, li, ac, charge=False, currency=cur, document_level=False)
    for ac in line.charges:
        _allowance_charge(B, li, ac, charge=True, currency=cur, document_level=False)
    item = B.el(li, "cac:Item")
    B.leaf(item, "cbc:Description", line.description)  # BT-154
    B.leaf(item, "cbc:Name", line.name)  # BT-153
    if line.buyer_item_id:
        B.leaf(B.el(item, "cac:BuyersItemIdentification"), "cbc:ID", line.buyer_item_id)
    if line.seller_item_id:
        B.leaf(B.el(item, "cac:SellersItemIdentification"), "cbc:ID", line.seller_item_id)
    if line.standard_item_id:
        B.leaf(B.el(item, "cac:StandardItemIdentification"), "cbc:ID", line.standard_item_id,
               schemeID=line.standard_item_scheme)
    if line.origin_country:
        B.leaf(B.el(item, "cac:OriginCountry"), "cbc:IdentificationCode", line.origin_country)
    for code, info in _classifications(line):  # BT-158
        B.leaf(B.el(item, "cac:CommodityClassification"), "cbc:ItemClassificationCode", code,
               listID=info.get("listID"), listVersionID=info.get("listVersionID"))
    tc = B.el(item, "cac:ClassifiedTaxCategory")
    B.leaf(tc, "cbc:ID", line.vat_category)  # BT-151
    B.leaf(tc, "cbc:Percent", num(line.vat_rate))  # BT-152
    _tax_scheme(B, tc)
    for attr in line.attributes:  # BG-32
        ap = B.el(item, "cac:AdditionalItemProperty")
        B.leaf(ap, "cbc:Name", attr.name)
        B.leaf(ap, "cbc:Value", attr.value)
    price = B.el(li, "cac:Price")
    B.leaf(price, "cbc:PriceAmount", num(line.net_price), currencyID=cur)  # BT-146
    B.leaf(price, "cbc:BaseQuantity", num(line.price_base_quantity), unitCode=line.unit if line.price_base_quantity else None)
    if line.gross_price is not None:  # BT-147 / BT-148
        ac = B.el(price, "cac:AllowanceCharge")
        B.leaf(ac, "cbc:ChargeIndicator", "false")
        discount = sum((d.amount for d in line.price_discounts), start=line.gross_price - line.gross_price)
        B.leaf(ac, "cbc:Amount", num(discount if line.price_discounts else line.gross_price - (line.net_price or 0)), currencyID=cur)
        B.leaf(ac, "cbc:BaseAmount", num(line.gross_price), currencyID=cur)


def write(inv: Invoice, *, peppol: bool = False) -> bytes:
    """UBL XML for `inv`; `peppol` uses the Peppol BIS 3 customization and profile ids."""
    credit = inv.is_credit_note
    ns_root = NS_CN if credit else NS_INV
    B = Builder({"cac": CAC, "cbc": CBC})
    root = etree.Element(f"{{{ns_root}}}{'CreditNote' if credit else 'Invoice'}", nsmap={None: ns_root, "cac": CAC, "cbc": CBC})
    cur = inv.currency
    B.leaf(root, "cbc:CustomizationID", PEPPOL_CUSTOMIZATION if peppol else "urn:cen.eu:en16931:2017")  # BT-24
    B.leaf(root, "cbc:ProfileID", inv.process_type or (PEPPOL_PROFILE if peppol else None))  # BT-23
    B.leaf(root, "cbc:ID", inv.number)  # BT-1
    B.leaf(root, "cbc:IssueDate", _d(inv.issue_date))  # BT-2
    if not credit:
        B.leaf(root, "cbc:DueDate", _d(inv.due_date))  # BT-9
    B.leaf(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode", inv.type_code)  # BT-3
    for n in inv.notes:  # BG-1: subject code as "#CODE#text" (EN 16931 UBL binding)
        B.leaf(root, "cbc:Note", f"#{n.subject}#{n.text}" if n.subject else n.text)
    B.leaf(root, "cbc:TaxPointDate", _d(inv.tax_point_date))  # BT-7
    B.leaf(root, "cbc:DocumentCurrencyCode", cur)  # BT-5
    B.leaf(root, "cbc:TaxCurrencyCode", inv.tax_currency)  # BT-6
    B.leaf(root, "cbc:AccountingCost", inv.buyer_accounting_reference)  # BT-19
    B.leaf(root, "cbc:BuyerReference", inv.buyer_reference)  # BT-10
    if inv.period_start or inv.period_end or inv.tax_point_code:  # BG-14, BT-8
        per = B.el(root, "cac:InvoicePeriod")
        B.leaf(per, "cbc:StartDate", _d(inv.period_start))
        B.leaf(per, "cbc:EndDate", _d(inv.period_end))
        B.leaf(per, "cbc:DescriptionCode", _ubl_tax_point_code(inv.tax_point_code))
    if inv.purchase_order_reference or inv.sales_order_reference:  # BT-13 / BT-14
        orf = B.el(root, "cac:OrderReference")
        B.leaf(orf, "cbc:ID", inv.purchase_order_reference or "NA")
        B.leaf(orf, "cbc:SalesOrderID", inv.sales_order_reference)
    for prec in inv.preceding_invoices:  # BG-3
        br = B.el(B.el(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
        B.leaf(br, "cbc:ID", prec.number)
        B.leaf(br, "cbc:IssueDate", _d(prec.issue_date))
    if inv.despatch_advice_reference:  # BT-16
        B.leaf(B.el(root, "cac:DespatchDocumentReference"), "cbc:ID", inv.despatch_advice_reference)
    if inv.receiving_advice_reference:  # BT-15
        B.leaf(B.el(root, "cac:ReceiptDocumentReference"), "cbc:ID", inv.receiving_advice_reference)
    for tender in inv.tender_references:  # BT-17
        B.leaf(B.el(root, "cac:OriginatorDocumentReference"), "cbc:ID", tender)
    if inv.contract_reference:  # BT-12
        B.leaf(B.el(root, "cac:ContractDocumentReference"), "cbc:ID", inv.contract_reference)
    if inv.invoiced_object:  # BT-18
        for scheme, value in inv.invoiced_object.items():
            adr = B.el(root, "cac:AdditionalDocumentReference")
            B.leaf(adr, "cbc:ID", value, schemeID=scheme or None)
            B.leaf(adr, "cbc:DocumentTypeCode", "130")
    for att in inv.attachments:  # BG-24
        adr = B.el(root, "cac:AdditionalDocumentReference")
        B.leaf(adr, "cbc:ID", att.reference)
        B.leaf(adr, "cbc:DocumentDescription", att.description)
        if att.content is not None or att.uri:
            a = B.el(adr, "cac:Attachment")
            if att.content is not None:
                B.leaf(a, "cbc:EmbeddedDocumentBinaryObject", base64.b64encode(att.content).decode(),
                       mimeCode=att.mime_code or "application/octet-stream", filename=att.filename or att.reference)
            if att.uri:
                B.leaf(B.el(a, "cac:ExternalReference"), "cbc:URI", att.uri)
    if inv.project_reference:  # BT-11
        B.leaf(B.el(root, "cac:ProjectReference"), "cbc:ID", inv.project_reference)
    _party(B, root, "cac:AccountingSupplierParty", inv.seller, creditor_id=None if inv.payee else inv.creditor_id)
    _party(B, root, "cac:AccountingCustomerParty", inv.buyer, max_ids=1)
    if inv.payee:  # BG-10
        pe = B.el(root, "cac:PayeeParty")
        for ident in inv.payee.identifiers:
            B.leaf(B.el(pe, "cac:PartyIdentification"), "cbc:ID", ident.value, schemeID=ident.scheme)
        if inv.creditor_id:  # BT-90 on the payee when there is one
            B.leaf(B.el(pe, "cac:PartyIdentification"), "cbc:ID", inv.creditor_id, schemeID="SEPA")
        B.leaf(B.el(pe, "cac:PartyName"), "cbc:Name", inv.payee.name)
        if inv.payee.legal_id:
            B.leaf(B.el(pe, "cac:PartyLegalEntity"), "cbc:CompanyID", inv.payee.legal_id, schemeID=inv.payee.legal_id_scheme)
    if inv.tax_representative:  # BG-11
        tr = B.el(root, "cac:TaxRepresentativeParty")
        B.leaf(B.el(tr, "cac:PartyName"), "cbc:Name", inv.tax_representative.name)
        _address(B, tr, "cac:PostalAddress", inv.tax_representative)
        if inv.tax_representative.vat_id:
            ts = B.el(tr, "cac:PartyTaxScheme")
            B.leaf(ts, "cbc:CompanyID", inv.tax_representative.vat_id)
            _tax_scheme(B, ts)
    if inv.delivery or inv.delivery_date:  # BG-13
        dl = B.el(root, "cac:Delivery")
        B.leaf(dl, "cbc:ActualDeliveryDate", _d(inv.delivery_date))
        d = inv.delivery
        if d is not None:
            if d.identifiers or d.country:
                loc = B.el(dl, "cac:DeliveryLocation")
                if d.identifiers:
                    B.leaf(loc, "cbc:ID", d.identifiers[0].value, schemeID=d.identifiers[0].scheme)
                _address(B, loc, "cac:Address", d)
            if d.name:
                B.leaf(B.el(B.el(dl, "cac:DeliveryParty"), "cac:PartyName"), "cbc:Name", d.name)
    means: list[dict[str, str | None]] = [{"BT-81": inv.payment_means_code, "BT-82": inv.payment_means_text, "BT-83": inv.remittance_information,
              "BT-84": inv.payment_account_id, "BT-85": inv.payment_account_name, "BT-86": inv.payment_service_provider}]
    means += [dict(t) for t in inv.additional_credit_transfers]
    for i, m in enumerate(means):  # BG-16
        if not m.get("BT-81"):
            continue
        pm = B.el(root, "cac:PaymentMeans")
        B.leaf(pm, "cbc:PaymentMeansCode", m.get("BT-81"), name=m.get("BT-82") if i == 0 else None)  # UBL-SR-46
        if credit and i == 0:
            B.leaf(pm, "cbc:PaymentDueDate", _d(inv.due_date))  # BT-9 on credit notes
        B.leaf(pm, "cbc:PaymentID", m.get("BT-83"))
        if i == 0 and inv.card_number:  # BG-18
            ca = B.el(pm, "cac:CardAccount")
            B.leaf(ca, "cbc:PrimaryAccountNumberID", inv.card_number)
            B.leaf(ca, "cbc:NetworkID", "NA")
            B.leaf(ca, "cbc:HolderName", inv.card_holder)
        if m.get("BT-84"):  # BG-17
            fa = B.el(pm, "cac:PayeeFinancialAccount")
            B.leaf(fa, "cbc:ID", m.get("BT-84"))
            B.leaf(fa, "cbc:Name", m.get("BT-85"))
            if m.get("BT-86"):
                B.leaf(B.el(fa, "cac:FinancialInstitutionBranch"), "cbc:ID", m.get("BT-86"))
        if i == 0 and (inv.mandate_reference or inv.debited_account):  # BG-19
            md = B.el(pm, "cac:PaymentMandate")
            B.leaf(md, "cbc:ID", inv.mandate_reference)
            if inv.debited_account:
                B.leaf(B.el(md, "cac:PayerFinancialAccount"), "cbc:ID", inv.debited_account)
    if inv.payment_terms:  # BT-20
        B.leaf(B.el(root, "cac:PaymentTerms"), "cbc:Note", payment_terms_text(inv.payment_terms))
    for ac in inv.allowances:  # BG-20
        _allowance_charge(B, root, ac, charge=False, currency=cur, document_level=True)
    for ac in inv.charges:  # BG-21
        _allowance_charge(B, root, ac, charge=True, currency=cur, document_level=True)
    tt = B.el(root, "cac:TaxTotal")
    B.leaf(tt, "cbc:TaxAmount", money(inv.tax_amount if inv.tax_amount is not None else Decimal(0)), currencyID=cur)  # BT-110
    for vb in inv.vat_breakdown:  # BG-23
        sub = B.el(tt, "cac:TaxSubtotal")
        B.leaf(sub, "cbc:TaxableAmount", money(vb.taxable_amount), currencyID=cur)
        B.leaf(sub, "cbc:TaxAmount", money(vb.tax_amount), currencyID=cur)
        tc = B.el(sub, "cac:TaxCategory")
        B.leaf(tc, "cbc:ID", vb.category)
        B.leaf(tc, "cbc:Percent", num(vb.rate))
        B.leaf(tc, "cbc:TaxExemptionReasonCode", vb.exemption_code)
        B.leaf(tc, "cbc:TaxExemptionReason", vb.exemption_reason)
        _tax_scheme(B, tc)
    # BT-111, unless BT-6 = BT-5: then BT-110 is also BT-111 (a second total would count twice, BR-CO-15)
    if inv.tax_currency and inv.tax_currency != inv.currency and inv.tax_amount_accounting is not None:
        B.leaf(B.el(root, "cac:TaxTotal"), "cbc:TaxAmount", money(inv.tax_amount_accounting), currencyID=inv.tax_currency)
    lmt = B.el(root, "cac:LegalMonetaryTotal")
    B.leaf(lmt, "cbc:LineExtensionAmount", money(inv.line_total if inv.line_total is not None else Decimal(0)), currencyID=cur)
    B.leaf(lmt, "cbc:TaxExclusiveAmount", money(inv.tax_exclusive_amount), currencyID=cur)
    B.leaf(lmt, "cbc:TaxInclusiveAmount", money(inv.tax_inclusive_amount), currencyID=cur)
    B.leaf(lmt, "cbc:AllowanceTotalAmount", money(inv.allowance_total), currencyID=cur)
    B.leaf(lmt, "cbc:ChargeTotalAmount", money(inv.charge_total), currencyID=cur)
    B.leaf(lmt, "cbc:PrepaidAmount", money(inv.prepaid_amount), currencyID=cur)
    B.leaf(lmt, "cbc:PayableRoundingAmount", money(inv.rounding_amount), currencyID=cur)
    B.leaf(lmt, "cbc:PayableAmount", money(inv.amount_due), currencyID=cur)
    for line in inv.billed_lines:  # EXTENDED GROUP / INFORMATION sub-lines have no place in EN 16931
        _line(B, root, line, inv, credit)
    return to_bytes(root)


def _ubl_tax_point_code(cii_code: str | None) -> str | None:
    # BT-8: CII uses UNTDID 2475 (5, 29, 72); UBL uses UNTDID 2005 (3, 35, 432).
    return {"5": "3", "29": "35", "72": "432", "invoice": "3", "delivery": "35", "payment": "432"}.get(
        cii_code or "", cii_code)
