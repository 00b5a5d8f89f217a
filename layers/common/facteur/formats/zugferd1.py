"""Legacy ZUGFeRD 1.0 (`CrossIndustryDocument`, 2014), still sent by old billing tools: turned into
the CII D16B it became in ZUGFeRD 2 / Factur-X, element by element, so that the one CII reader
reads it. Same semantics, renamed and reordered containers:

  CrossIndustryDocument                     -> CrossIndustryInvoice
  SpecifiedExchangedDocumentContext         -> ExchangedDocumentContext
  HeaderExchangedDocument                   -> ExchangedDocument
  SpecifiedSupplyChainTradeTransaction      -> SupplyChainTradeTransaction (lines first)
  ApplicableSupplyChainTrade{Agreement,Delivery,Settlement} -> ApplicableHeaderTrade{...}
  SpecifiedSupplyChainTrade{Agreement,Delivery,Settlement}  -> SpecifiedLineTrade{...} (product first)
  SpecifiedTradeSettlementMonetarySummation -> ...Header... / ...Line...MonetarySummation
  ApplicablePercent                         -> RateApplicablePercent
  *ReferencedDocument/ID, IssueDateTime     -> IssuerAssignedID, FormattedIssueDateTime
  profiles BASIC / COMFORT / EXTENDED       -> Factur-X BASIC / EN 16931 / EXTENDED"""
from __future__ import annotations

from lxml import etree

NS_ZF1 = "urn:ferd:CrossIndustryDocument:invoice:1p0"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}

RENAME = {
    "CrossIndustryDocument": "CrossIndustryInvoice",
    "SpecifiedExchangedDocumentContext": "ExchangedDocumentContext",
    "HeaderExchangedDocument": "ExchangedDocument",
    "SpecifiedSupplyChainTradeTransaction": "SupplyChainTradeTransaction",
    "ApplicableSupplyChainTradeAgreement": "ApplicableHeaderTradeAgreement",
    "ApplicableSupplyChainTradeDelivery": "ApplicableHeaderTradeDelivery",
    "ApplicableSupplyChainTradeSettlement": "ApplicableHeaderTradeSettlement",
    "SpecifiedSupplyChainTradeAgreement": "SpecifiedLineTradeAgreement",
    "SpecifiedSupplyChainTradeDelivery": "SpecifiedLineTradeDelivery",
    "SpecifiedSupplyChainTradeSettlement": "SpecifiedLineTradeSettlement",
    "ApplicablePercent": "RateApplicablePercent",
}
PROFILES = {"basic": "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic",
            "comfort": "urn:cen.eu:en16931:2017",
            "extended": "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended"}
# D16B order of the containers whose order ZUGFeRD 1.0 had otherwise
ORDER = {
    "SupplyChainTradeTransaction": ["IncludedSupplyChainTradeLineItem", "ApplicableHeaderTradeAgreement",
                                    "ApplicableHeaderTradeDelivery", "ApplicableHeaderTradeSettlement"],
    "IncludedSupplyChainTradeLineItem": ["AssociatedDocumentLineDocument", "SpecifiedTradeProduct", "SpecifiedLineTradeAgreement",
                                         "SpecifiedLineTradeDelivery", "SpecifiedLineTradeSettlement"],
}


def is_zugferd1(root: etree._Element) -> bool:
    return etree.QName(root).namespace == NS_ZF1


def to_cii(root: etree._Element, notes: list[str] | None = None) -> bytes:
    """The CII D16B document equivalent to a ZUGFeRD 1.0 one. What EN 16931 requires and ZUGFeRD
    1.0 BASIC left out, but which the document itself determines, is derived and listed in `notes`:
    the VAT category S of a single positive rate, a line's VAT from the only breakdown, a line's net
    price from its amount and quantity, the amount due from the totals, the payment means of a payment
    to an IBAN, line numbers, week (616) and month (610) dates as days, package units as Rec 20."""
    out = _convert(root, None)
    _complete(out, notes if notes is not None else [])
    return etree.tostring(out, xml_declaration=True, encoding="UTF-8")


def _q(*names: str) -> str:
    return "/".join(f"{{{RAM}}}{n}" for n in names)


def _complete(root: etree._Element, notes: list[str]) -> None:
    from datetime import date, timedelta
    from decimal import Decimal, InvalidOperation

    for ds in root.iter(f"{{{UDT}}}DateTimeString"):
        fmt, value = ds.get("format"), (ds.text or "").strip()
        end = etree.QName(ds.getparent()).localname.startswith("End")
        try:
            if fmt == "616" and len(value) == 6:  # YYYYWW
                day = date.fromisocalendar(int(value[:4]), int(value[4:]), 7 if end else 1)
            elif fmt == "610" and len(value) == 6:  # YYYYMM
                first = date(int(value[:4]), int(value[4:]), 1)
                day = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1) if end else first
            else:
                continue
        except ValueError:
            continue
        ds.set("format", "102")
        ds.text = day.strftime("%Y%m%d")
        notes.append(f"date {value} (format {fmt}) read as {day.isoformat()}")
    for pq in root.iter(f"{{{RAM}}}PackageQuantity"):  # UN/ECE Rec 21 package codes are Rec 20 "X" + code since ZUGFeRD 2
        code = pq.get("unitCode") or ""
        if len(code) == 2 and code.isalnum():
            pq.set("unitCode", "X" + code)
            notes.append(f"package unit {code} (UN/ECE Rec 21) written X{code} (Rec 20)")
    settlement = root.find(f"{{{RSM}}}SupplyChainTradeTransaction/{_q('ApplicableHeaderTradeSettlement')}")
    if settlement is None:
        return
    for means in settlement.findall(_q("SpecifiedTradeSettlementPaymentMeans")):
        if means.find(_q("TypeCode")) is None and means.find(_q("PayeePartyCreditorFinancialAccount", "IBANID")) is not None:
            code = etree.Element(f"{{{RAM}}}TypeCode")
            code.text = "58"
            means.insert(0, code)
            notes.append("BT-81 payment means 58 (SEPA credit transfer) for a payment to an IBAN with no type code")
    totals = settlement.find(_q("SpecifiedTradeSettlementHeaderMonetarySummation"))
    if totals is not None and totals.find(_q("DuePayableAmount")) is None:
        grand = _dec(totals.findtext(_q("GrandTotalAmount")))
        paid = _dec(totals.findtext(_q("TotalPrepaidAmount"))) or 0
        if grand is not None:
            etree.SubElement(totals, f"{{{RAM}}}DuePayableAmount").text = format(grand - paid, "f")
            notes.append(f"BT-115 amount due {grand - paid} = total {grand} - prepaid {paid} (BR-CO-16)")
    taxes = settlement.findall(_q("ApplicableTradeTax"))
    for tax in taxes:
        rate = tax.findtext(_q("RateApplicablePercent"))
        if tax.find(_q("CategoryCode")) is None and rate and _dec(rate) and _dec(rate) > 0:
            code = etree.Element(f"{{{RAM}}}CategoryCode")
            code.text = "S"
            tax.find(_q("RateApplicablePercent")).addprevious(code)
            notes.append(f"BT-118 VAT category S for the {rate} % rate (ZUGFeRD 1.0 gave the rate only)")
    only = taxes[0] if len(taxes) == 1 else None
    header = root.find(f"{{{RSM}}}ExchangedDocument")
    items = list(root.iter(f"{{{RAM}}}IncludedSupplyChainTradeLineItem"))
    taken = {i.findtext(_q("AssociatedDocumentLineDocument", "LineID")) for i in items}
    n = 0
    for item in items:
        if item.find(_q("SpecifiedTradeProduct")) is None and item.find(f".//{{{RAM}}}LineTotalAmount") is None:
            # a free-text line (ZUGFeRD 1.0 EXTENDED): its notes become invoice notes
            for note in item.findall(_q("AssociatedDocumentLineDocument", "IncludedNote")):
                if header is not None:
                    header.append(note)
                notes.append("a text-only line became an invoice note (BG-1)")
            item.getparent().remove(item)
            continue
        n += 1
        doc = item.find(_q("AssociatedDocumentLineDocument"))
        if doc is not None and doc.find(_q("LineID")) is None:
            while str(n) in taken:
                n += 1
            taken.add(str(n))
            etree.SubElement(doc, f"{{{RAM}}}LineID").text = str(n)
            doc.insert(0, doc[-1])
            notes.append(f"a line without LineID numbered {n} (BT-126)")
        line_id = item.findtext(_q("AssociatedDocumentLineDocument", "LineID")) or "?"
        st = item.find(_q("SpecifiedLineTradeSettlement"))
        if st is not None and st.find(_q("ApplicableTradeTax")) is None and only is not None and only.find(_q("CategoryCode")) is not None:
            tax = etree.Element(f"{{{RAM}}}ApplicableTradeTax")
            for tag in ("TypeCode", "CategoryCode", "RateApplicablePercent"):
                src = only.find(_q(tag))
                if src is not None:
                    etree.SubElement(tax, f"{{{RAM}}}{tag}").text = src.text
            st.insert(0, tax)
            notes.append(f"line {line_id}: VAT of the invoice's only breakdown")
        agreement = item.find(_q("SpecifiedLineTradeAgreement"))
        if agreement is None or agreement.find(_q("NetPriceProductTradePrice")) is None:
            qty = _dec(item.findtext(_q("SpecifiedLineTradeDelivery", "BilledQuantity")))
            amount = _dec(item.findtext(_q("SpecifiedLineTradeSettlement", "SpecifiedTradeSettlementLineMonetarySummation", "LineTotalAmount")))
            if qty and amount is not None:
                try:
                    price = (amount / qty).quantize(Decimal("0.0001")).normalize()
                except InvalidOperation:
                    continue
                if agreement is None:
                    agreement = etree.Element(f"{{{RAM}}}SpecifiedLineTradeAgreement")
                    item.find(_q("SpecifiedLineTradeDelivery")).addprevious(agreement)
                net = etree.SubElement(agreement, f"{{{RAM}}}NetPriceProductTradePrice")
                etree.SubElement(net, f"{{{RAM}}}ChargeAmount").text = format(price, "f")
                notes.append(f"line {line_id}: net price {price} = amount {amount} / quantity {qty}")


def _dec(text: str | None):
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(text.strip()) if text and text.strip() else None
    except InvalidOperation:
        return None


def _convert(el: etree._Element, parent_name: str | None) -> etree._Element:
    local = etree.QName(el).localname
    ns = RSM if etree.QName(el).namespace == NS_ZF1 else RAM
    name = RENAME.get(local, local)
    if local == "SpecifiedTradeSettlementMonetarySummation":
        name = "SpecifiedTradeSettlementLineMonetarySummation" if parent_name == "SpecifiedLineTradeSettlement" \
            else "SpecifiedTradeSettlementHeaderMonetarySummation"
    if parent_name and parent_name.endswith("ReferencedDocument") and local == "ID":
        name = "IssuerAssignedID"
    if local == "DateTimeString" or local == "Indicator":
        ns = UDT
    out = etree.Element(f"{{{ns}}}{name}", nsmap=NSMAP if parent_name is None else None)
    for k, v in el.attrib.items():
        if etree.QName(k).namespace is None:
            out.set(k, v)
    text = (el.text or "").strip()
    if text and len(el) == 0:
        out.text = el.text
    if local == "ID" and parent_name == "GuidelineSpecifiedDocumentContextParameter":
        out.text = PROFILES.get(text.rsplit(":", 1)[-1].lower(), PROFILES["comfort"])
    children = [c for c in el if isinstance(c.tag, str)]
    issue_date = None
    for child in children:
        if name.endswith("ReferencedDocument") and etree.QName(child).localname == "IssueDateTime":
            issue_date = child  # becomes FormattedIssueDateTime, after the identifier
            continue
        out.append(_convert(child, name))
    if issue_date is not None:
        value = next((t.text for t in issue_date.iter() if isinstance(t.tag, str) and etree.QName(t).localname == "DateTimeString"), None)
        value = value or (issue_date.text or "").strip()[:10].replace("-", "")
        if value:
            f = etree.SubElement(out, f"{{{RAM}}}FormattedIssueDateTime")
            etree.SubElement(f, f"{{{QDT}}}DateTimeString", format="102").text = value.strip()
    if name in ORDER:
        rank = {n: i for i, n in enumerate(ORDER[name])}
        kids = sorted(out, key=lambda c: rank.get(etree.QName(c).localname, len(rank)))
        for c in kids:
            out.append(c)  # re-appending moves each child to the end, in the sorted order
    return out
