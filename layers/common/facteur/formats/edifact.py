"""EDIFACT INVOIC D96A, EANCOM 97 subset (EAN008), written with pydifact.

Segment map (EN 16931 -> EANCOM), in message order:
  BGM 380/381 + BT-1 (BT-3), DTM 137 BT-2 / 35 BT-72 / 263 BT-73..74, FTX notes (BG-1),
  RFF ON BT-13, CT BT-12, DQ BT-16, IV BT-25, AWR BT-10 (buyer reference);
  NAD SU (BG-4) / BY (BG-7) / PE (BG-10) / DP (BG-13) with RFF VA (BT-31/48) and GN (BT-30/47),
  FII RB (BT-84/85/86) under the supplier; CUX BT-5; PAT+DTM 13 BT-9 (+FTX BT-20);
  ALC A/C document allowances and charges (BG-20/21) with MOA 204/23 and TAX;
  LIN (BG-25): LIN id + GTIN, PIA SA/IN, IMD F name, QTY 47, MOA 203, PRI AAA/AAB, TAX, ALC;
  UNS S, CNT 2, MOA 79/260/259/125/124/77/113/9, TAX+MOA per VAT breakdown (BG-23).
pydifact counts UNT; the interchange carries GLNs (qualifier 14) when the parties have one.
Character set UNOC (ISO 8859-1): the file is Latin-1 encoded.
"""
from __future__ import annotations

import warnings
from datetime import UTC, datetime
from decimal import Decimal

from ..model.invoice import AllowanceCharge, Invoice, Line, Party
from ._xml import num

MESSAGE_TYPE = ("INVOIC", "D", "96A", "UN", "EAN008")


def _m(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).quantize(Decimal('0.01'))}"


def _d(value) -> str:
    return value.strftime("%Y%m%d")


def _gln(p: Party | None) -> str | None:
    if p is None:
        return None
    for i in p.identifiers:
        if i.scheme == "0088":
            return i.value
    if p.electronic_address_scheme == "0088":
        return p.electronic_address
    return None


def _chunks(text: str, size: int = 70, count: int = 5) -> list[str]:
    """Free text in at most `count` components of `size`, cut between words (a reader joins the
    components with a space); what does not fit is left out, and the loss report says so."""
    out: list[str] = []
    for word in text.split():
        while len(word) > size:  # a word longer than a component: cut hard
            out.append(word[:size])
            word = word[size:]
        if out and len(out[-1]) + 1 + len(word) <= size:
            out[-1] += " " + word
        else:
            out.append(word)
    return out[:count] or [""]


def write(inv: Invoice, *, control_reference: str | None = None, now: datetime | None = None) -> bytes:
    from pydifact.segmentcollection import Interchange, Message
    from pydifact.segments import Segment

    def seg(tag: str, *elements) -> Segment:
        # trailing empty elements are dropped, as EDIFACT requires
        els = list(elements)
        while els and els[-1] in (None, "", []):
            els.pop()
        return Segment(tag, *[("" if e is None else e) for e in els])

    now = now or datetime.now(UTC)
    ref = (control_reference or "".join(ch for ch in inv.number if ch.isalnum()))[:14] or "1"
    sender = _gln(inv.seller)
    recipient = _gln(inv.buyer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydifact: MissingImplementationWarning for segment validation
        ic = Interchange(sender=[sender or (inv.seller.vat_id or inv.seller.name or "UNKNOWN")[:35], "14" if sender else "ZZZ"],
                         recipient=[recipient or (inv.buyer.vat_id or inv.buyer.name or "UNKNOWN")[:35], "14" if recipient else "ZZZ"],
                         control_reference=ref, syntax_identifier=("UNOC", 3), timestamp=now)
        ic.add_segment(Segment("UNA", ":+.? '"))
        m = Message("1", MESSAGE_TYPE)
        add = m.add_segment
        add(seg("BGM", inv.type_code, inv.number, "9"))  # BT-3, BT-1, 9 = original
        add(seg("DTM", ["137", _d(inv.issue_date), "102"]))  # BT-2
        if inv.delivery_date:
            add(seg("DTM", ["35", _d(inv.delivery_date), "102"]))  # BT-72
        if inv.period_start and inv.period_end:  # BG-14
            add(seg("DTM", ["263", f"{_d(inv.period_start)}{_d(inv.period_end)}", "718"]))
        for n in inv.notes:  # BG-1: the subject code (UNTDID 4451) is the FTX qualifier
            add(seg("FTX", n.subject or "AAI", None, None, _chunks(n.text)))
        for qual, value in (("ON", inv.purchase_order_reference), ("CT", inv.contract_reference),
                            ("DQ", inv.despatch_advice_reference), ("AWR", inv.buyer_reference)):
            if value:
                add(seg("RFF", [qual, value]))  # BT-13, BT-12, BT-16, BT-10
        for p in inv.preceding_invoices:  # BG-3
            add(seg("RFF", ["IV", p.number]))
            if p.issue_date:
                add(seg("DTM", ["171", _d(p.issue_date), "102"]))
        _nad(add, seg, "SU", inv.seller)
        if inv.payment_account_id:  # BT-84/85/86 (the supplier's account)
            add(seg("FII", "RB", [inv.payment_account_id, inv.payment_account_name], [inv.payment_service_provider or "", "25", "5"]
                    if inv.payment_service_provider else None))
        _nad(add, seg, "BY", inv.buyer)
        if inv.payee:
            _nad(add, seg, "PE", inv.payee)
        if inv.delivery and (inv.delivery.name or inv.delivery.city):
            _nad(add, seg, "DP", inv.delivery)
        add(seg("CUX", ["2", inv.currency, "4"]))  # BT-5
        if inv.due_date or inv.payment_terms:
            add(seg("PAT", "1"))
            if inv.due_date:
                add(seg("DTM", ["13", _d(inv.due_date), "102"]))  # BT-9
        for ac in inv.allowances:
            _alc(add, seg, ac, charge=False)
        for ac in inv.charges:
            _alc(add, seg, ac, charge=True)
        for line in inv.billed_lines:
            _line(add, seg, line)
        add(seg("UNS", "S"))
        add(seg("CNT", ["2", str(len(inv.billed_lines))]))
        totals: tuple[tuple[str, Decimal | None], ...] = (("79", inv.line_total), ("260", inv.allowance_total), ("259", inv.charge_total),
                            ("125", inv.tax_exclusive_amount), ("124", inv.tax_amount), ("77", inv.tax_inclusive_amount),
                            ("113", inv.prepaid_amount), ("165", inv.rounding_amount), ("9", inv.amount_due))
        for qual, total in totals:
            if total is not None:
                add(seg("MOA", [qual, _m(total)]))
        for vb in inv.vat_breakdown:  # BG-23
            add(seg("TAX", "7", "VAT", None, None, ["", "", "", num(vb.rate) if vb.rate is not None else ""], vb.category,
                    vb.exemption_code or (vb.exemption_reason[:35] if vb.exemption_reason else None)))
            add(seg("MOA", ["125", _m(vb.taxable_amount)]))
            add(seg("MOA", ["124", _m(vb.tax_amount)]))
        ic.add_message(m)
        return _latin1(ic.serialize(break_lines=True))


def _latin1(text: str) -> bytes:
    """UNOC is ISO 8859-1: characters outside it are spelt out or replaced, never mis-encoded."""
    import unicodedata

    text = text.replace("€", "EUR").replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "?'")
    out = []
    for ch in text:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out).encode("latin-1")


def _nad(add, seg, qualifier: str, p: Party) -> None:
    gln = _gln(p)
    street = [x for x in (p.line1, p.line2, p.line3) if x][:4]
    add(seg("NAD", qualifier, [gln, "", "9"] if gln else None, None, [(p.name or "")[:35]], street or None,
            p.city, p.subdivision, p.postcode, p.country))
    if p.vat_id:
        add(seg("RFF", ["VA", p.vat_id]))  # BT-31 / BT-48 / BT-63
    if p.legal_id:
        add(seg("RFF", ["GN", p.legal_id]))  # BT-30 / BT-47 / BT-61
    for c in p.contacts[:1]:  # BG-6 / BG-9
        if c.name:
            add(seg("CTA", "IC", ["", c.name]))
        for value, kind in ((c.phone, "TE"), (c.email, "EM")):
            if value:
                add(seg("COM", [value, kind]))


def _alc(add, seg, ac: AllowanceCharge, *, charge: bool) -> None:
    add(seg("ALC", "C" if charge else "A", None, None, None, [ac.reason_code or "", "", "", ac.reason or ""]))
    if ac.percent is not None:
        add(seg("PCD", ["2" if charge else "1", num(ac.percent)]))
    add(seg("MOA", ["23" if charge else "204", _m(ac.amount)]))
    if ac.base_amount is not None:
        add(seg("MOA", ["25", _m(ac.base_amount)]))
    if ac.vat_category:
        add(seg("TAX", "7", "VAT", None, None, ["", "", "", num(ac.vat_rate) if ac.vat_rate is not None else ""], ac.vat_category))


def _line(add, seg, line: Line) -> None:
    gtin = line.standard_item_id if line.standard_item_scheme == "0160" else None
    add(seg("LIN", line.id, None, [gtin, "SRV"] if gtin else None))  # BT-126, BT-157
    if line.seller_item_id or line.buyer_item_id:
        ids = [[line.seller_item_id, "SA"]] if line.seller_item_id else []
        ids += [[line.buyer_item_id, "IN"]] if line.buyer_item_id else []
        add(seg("PIA", "5", *ids))  # BT-155, BT-156
    add(seg("IMD", "F", None, ["", "", "", line.name[:35], line.name[35:70]]))  # BT-153
    if line.description:
        add(seg("IMD", "F", None, ["", "", "", line.description[:35], line.description[35:70]]))  # BT-154
    add(seg("QTY", ["47", num(line.quantity), line.unit]))  # BT-129, BT-130
    add(seg("MOA", ["203", _m(line.net_amount)]))  # BT-131
    add(seg("PRI", ["AAA", num(line.net_price), "", "", num(line.price_base_quantity) if line.price_base_quantity else "",
                    line.unit if line.price_base_quantity else ""]))  # BT-146, BT-149
    if line.gross_price is not None:
        add(seg("PRI", ["AAB", num(line.gross_price)]))  # BT-148
    if line.order_line_ref:
        add(seg("RFF", ["LI", line.order_line_ref]))  # BT-132
    add(seg("TAX", "7", "VAT", None, None, ["", "", "", num(line.vat_rate) if line.vat_rate is not None else ""],
            line.vat_category))  # BT-151, BT-152
    for ac in line.allowances:
        _alc(add, seg, ac, charge=False)
    for ac in line.charges:
        _alc(add, seg, ac, charge=True)
