"""Reading EDIFACT INVOIC into the canonical model: the CEN EN 16931 binding (D14B/D16B, as in
the CEN examples) and the EANCOM D96A subset this package writes.

Header: BGM (BT-3, BT-1), DTM 137/131/35/167/168/263/13, FTX (DOC -> BT-23/24, AAB -> BT-20,
others -> notes), RFF (ON, CT, VN, ALO, AAK, DQ, AEP, GC, AOU, PQ, OI/IV + DTM 384/171, AWR),
NAD SE/SU, BY, PE, DP with RFF VA/GN/FC/AHP, CTA/COM and FII, CUX, PAI, ALC.
Lines (LIN): PIA, IMD, QTY 47, MOA 203, PRI AAA/AAB, TAX, RFF LI, ALC.
Summary (after UNS): MOA 79/260/259/389|125/176|124/388|77/113/165/9, then TAX + MOA 125/124.
"""
from __future__ import annotations

import base64
import binascii
import re
import warnings
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import RejectedInput

RFF_FIELDS = {"ON": "BT-13", "CT": "BT-12", "VN": "BT-14", "ALO": "BT-15", "AAK": "BT-16", "DQ": "BT-16",
              "AEP": "BT-11", "GC": "BT-17", "AOU": "BT-19", "PQ": "BT-83", "AWR": "BT-10", "AVE": "BT-10"}
NAD_GROUPS = {"SE": "BG-4", "SU": "BG-4", "BY": "BG-7", "PE": "BG-10", "DP": "BG-13", "TR": "BG-11"}
SCHEME_EANCOM = {"9": "0088"}  # EANCOM code list qualifier 9 = GS1 GLN


def _els(seg) -> list:
    return list(seg.elements)


def _comp(el, i: int, default: str = "") -> str:
    if isinstance(el, list):
        return el[i] if i < len(el) and el[i] is not None else default
    return el if i == 0 and el is not None else default


def _el(seg, i: int, j: int = 0) -> str:
    els = _els(seg)
    return _comp(els[i], j) if i < len(els) else ""


def _join(el, sep: str = " ") -> str:
    return sep.join(p for p in (el if isinstance(el, list) else [el]) if p)


def _date(value: str, fmt: str = "102") -> date:
    return datetime.strptime(value[:8], "%Y%m%d").date()


def _dec(value: str) -> Decimal:
    try:
        return Decimal(value.replace(",", "."))
    except InvalidOperation as exc:
        raise RejectedInput(f"EDIFACT: '{value}' is not a number", code="edifact_invalid") from exc


def read(text: str) -> dict[str, Any]:
    """INVOIC text -> the canonical invoice's data (BT/BG keys), for Invoice.model_validate."""
    from pydifact.segmentcollection import Interchange

    text, packages = _packages(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            messages = list(Interchange.from_str(text).get_messages())
    except Exception as exc:  # pydifact raises several types on bad syntax
        raise RejectedInput(f"the EDIFACT interchange cannot be parsed: {str(exc).splitlines()[0][:200]}",
                            code="edifact_malformed") from exc
    if not messages:
        raise RejectedInput("the EDIFACT interchange holds no message", code="edifact_malformed")
    if len(messages) > 1:
        raise RejectedInput(f"the EDIFACT interchange holds {len(messages)} messages; send one invoice per file",
                            code="edifact_multiple")
    msg = messages[0]
    if msg.identifier[0] != "INVOIC":
        raise RejectedInput(f"EDIFACT message {msg.identifier[0]} is not an INVOIC", code="not_an_invoice")
    reader = _Reader()
    reader.packages = packages
    return reader.run(list(msg.segments))


_PACKAGE = re.compile(r"UNO\+([^']*)'(.*?)UNP\+[^']*'\s*", re.S)


def _packages(text: str) -> tuple[str, dict[str, tuple[str, bytes]]]:
    """UNO..UNP binary packages (attached documents) are taken out of the interchange (pydifact
    does not parse them): reference -> (MIME code, content)."""
    found: dict[str, tuple[str, bytes]] = {}

    def take(m: re.Match) -> str:
        head = m.group(1).split("+")
        ref = head[1].split(":")[-1] if len(head) > 1 else ""
        mime = head[2].split(":")[-1] if len(head) > 2 else "application/octet-stream"
        body = m.group(2).strip()
        try:
            content = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            content = body.encode("latin-1", "replace")
        if content[:5] in (b"JVBER", b"iVBOR", b"/9j/4"):  # encoded twice (PDF, PNG, JPEG in base64 again)
            try:
                content = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                pass
        if not mime or "/" not in mime:
            mime = next((m for sig, m in ((b"%PDF", "application/pdf"), (b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"))
                         if content.startswith(sig)), "application/octet-stream")
        found[ref] = (mime, content)
        return ""

    return _PACKAGE.sub(take, text), found


class _Reader:
    def __init__(self):
        self.d: dict[str, Any] = {"BG-1": [], "BG-25": [], "BG-23": [], "BG-20": [], "BG-21": []}
        self.party: dict | None = None
        self.line: dict | None = None
        self.summary = False
        self.tax: dict | None = None
        self.alc: dict | None = None
        self.last_rff: str | None = None
        self.exemption: str | None = None
        self.attachment: dict | None = None
        self.packages: dict[str, tuple[str, bytes]] = {}

    def run(self, segs) -> dict:
        for s in segs:
            getattr(self, f"_{s.tag}", self._skip)(s)
        self._close_line()
        d = self.d
        for vb in d["BG-23"]:
            if self.exemption and vb.get("BT-118") not in ("S", "L", "M") and not (vb.get("BT-120") or vb.get("BT-121")):
                vb["BT-120"] = self.exemption
        for att in d.get("BG-24", []):  # the binary objects of the interchange (UNO..UNP packages)
            ref = att.get("BT-122")
            if ref in self.packages:
                att["BT-125-1"], att["BT-125"] = self.packages[ref]
        for key in ("BG-1", "BG-25", "BG-23", "BG-20", "BG-21"):
            if not d[key]:
                del d[key]
        return d

    def _skip(self, s) -> None:
        pass

    # -- header --
    def _BGM(self, s):
        self.d["BT-3"] = _el(s, 0) or "380"
        self.d["BT-1"] = _el(s, 1)

    def _DTM(self, s):
        qual, value, fmt = _el(s, 0, 0), _el(s, 0, 1), _el(s, 0, 2) or "102"
        if not value:
            return
        if qual == "263" and fmt == "718" and len(value) >= 16:
            target = self.line if self.line is not None else self.d
            a, b = ("BT-134", "BT-135") if self.line is not None else ("BT-73", "BT-74")
            target[a], target[b] = _date(value[:8]), _date(value[8:16])
            return
        keys = {"137": "BT-2", "131": "BT-7", "35": "BT-72", "13": "BT-9", "167": "BT-73", "168": "BT-74"}
        if self.line is not None and qual in ("167", "168"):
            self.line["BT-134" if qual == "167" else "BT-135"] = _date(value)
        elif qual in ("384", "171") and self.d.get("BG-3"):
            self.d["BG-3"][-1]["BT-26"] = _date(value)
        elif qual in keys:
            self.d[keys[qual]] = _date(value)

    def _FTX(self, s):
        subject = _el(s, 0)
        els = _els(s)
        text_el = els[3] if len(els) > 3 else ""
        text = " ".join(p for p in (text_el if isinstance(text_el, list) else [text_el]) if p)
        if subject == "DOC":
            self.d["BT-24"] = text or "urn:cen.eu:en16931:2017"
            if _el(s, 2):
                self.d["BT-23"] = _el(s, 2)
        elif self.line is not None and subject == "ACF" and ":" in _join(text_el, ":"):
            name, _, value = _join(text_el, ":").partition(":")  # an item attribute (BG-32): name:value
            self.line.setdefault("BG-32", []).append({"BT-160": name, "BT-161": value})
        elif self.line is not None:
            self.line.setdefault("BT-127-00", []).append({"BT-127": text})
        elif subject == "AAB" and "BT-20" not in self.d and not text.startswith("Pas d"):
            self.d["BT-20"] = text
        elif subject == "AGM" and text:  # VAT exemption reason (BT-120) of the exempt categories
            self.exemption = text
        elif text:
            self.d["BG-1"].append({"BT-21": subject or None, "BT-22": text})

    def _RFF(self, s):
        qual, value = _el(s, 0, 0), _el(s, 0, 1)
        self.last_rff = qual
        if qual == "ATS" and self.attachment is not None and self.line is None and value:
            self.attachment["BT-122"] = value  # the package that carries the document
            return
        if self.party is not None and self.line is None and not self.summary:
            key = {"VA": "vat_identifier", "GN": "legal_identifier", "FC": "tax_identifier", "AHP": "tax_identifier"}.get(qual)
            if key and value:
                self.party.setdefault(key, value)
                return
        if self.line is not None:
            if qual in ("LI", "ON"):  # the referenced order line: LI:n or ON::n
                self.line["BT-132"] = value or _el(s, 0, 2)
            elif qual == "AOU":
                self.line["BT-133"] = value
            return
        if qual in ("OI", "IV") and value:
            self.d.setdefault("BG-3", []).append({"BT-25": value})
        elif qual in RFF_FIELDS and value:
            key = RFF_FIELDS[qual]
            if key == "BT-17":
                self.d.setdefault(key, []).append(value)
            else:
                self.d.setdefault(key, value)

    def _NAD(self, s):
        group = NAD_GROUPS.get(_el(s, 0))
        if group is None or self.line is not None:
            self.party = None
            return
        pid, scheme = _el(s, 1, 0), _el(s, 1, 2) or _el(s, 1, 1)
        names = _els(s)[3] if len(_els(s)) > 3 else ""
        street = _els(s)[4] if len(_els(s)) > 4 else ""
        lines = [x for x in (street if isinstance(street, list) else [street]) if x]
        party: dict[str, Any] = {"name": _comp(names, 0) or None, "biz_name": _comp(names, 1) or None,
                                 "addr_l1": lines[0] if lines else None, "addr_l2": lines[1] if len(lines) > 1 else None,
                                 "addr_l3": lines[2] if len(lines) > 2 else None, "city": _el(s, 5) or None,
                                 "country_subdivision": _el(s, 6, 3) or _el(s, 6) or None,
                                 "postcode": _el(s, 7) or None, "country_code": _el(s, 8) or None, "contacts": []}
        if pid:
            party["identifiers"] = [{"id": pid, "scheme": SCHEME_EANCOM.get(scheme, scheme) or None}]
        self.party = {k: v for k, v in party.items() if v not in (None, "")}
        self.party.setdefault("contacts", [])
        self.d[group] = self.party

    def _CTA(self, s):
        if self.party is not None:
            self.party["contacts"].append({"name": _el(s, 1, 1) or _el(s, 1, 0) or None})

    def _COM(self, s):
        if self.attachment is not None and _el(s, 0, 1) == "AO":
            self.attachment["BT-124"] = _el(s, 0, 0)
            return
        if self.party is not None:
            if not self.party["contacts"]:
                self.party["contacts"].append({})
            kind = {"TE": "phone", "EM": "email"}.get(_el(s, 0, 1))
            if kind:
                self.party["contacts"][-1][kind] = _el(s, 0, 0)

    def _FII(self, s):
        if _el(s, 0) == "RB" and "BT-84" not in self.d:
            self.d["BT-84"] = _el(s, 1, 0)
            if _el(s, 1, 1):
                self.d["BT-85"] = _el(s, 1, 1)
            if _el(s, 2, 0):
                self.d["BT-86"] = _el(s, 2, 0)
        elif _el(s, 0) == "BI":
            self.d.setdefault("BT-91", _el(s, 1, 0))

    def _CUX(self, s):
        self.d["BT-5"] = _el(s, 0, 1)

    def _PAI(self, s):
        code = _el(s, 0, 2)
        if code:
            self.d.setdefault("BT-81", code)

    def _EFI(self, s):  # a supporting document (BG-24): file name and description
        name, description = _el(s, 0, 0), _el(s, 0, 1)
        self.attachment = {"BT-122": name, "BT-125-2": name or None, "BT-123": description or None}
        self.d.setdefault("BG-24", []).append(self.attachment)

    def _GIR(self, s):
        if self.last_rff == "ATS":
            self.d["BT-18"] = {"": _el(s, 1, 0)}

    # -- allowances / charges --
    def _ALC(self, s):
        charge = _el(s, 0) == "C"
        # reason text:code in C552 (CEN binding) or code...description in C214 (EANCOM)
        self.alc = {"reason_code": _el(s, 4, 0) or _el(s, 1, 1) or None, "reason": _el(s, 4, 3) or _el(s, 1, 0) or None}
        target = self.line if self.line is not None else self.d
        key = ("BG-28" if charge else "BG-27") if self.line is not None else ("BG-21" if charge else "BG-20")
        target.setdefault(key, []).append(self.alc)

    def _PCD(self, s):
        if self.alc is not None:
            self.alc["rate"] = _dec(_el(s, 0, 1))

    # -- lines --
    def _close_line(self):
        if self.line is not None:
            self.d["BG-25"].append({k: v for k, v in self.line.items() if v not in (None, "")})
            self.line = None

    def _LIN(self, s):
        self._close_line()
        self.party = None
        self.alc = None
        self.line = {"BT-126": _el(s, 0)}
        if _el(s, 2, 0) and _el(s, 2, 1) in ("SRV", "EN", "0160"):
            self.line["BT-157"], self.line["BT-157-1"] = _el(s, 2, 0), "0160"

    def _PIA(self, s):
        if self.line is None:
            return
        for el in _els(s)[1:]:
            code, kind = _comp(el, 0), _comp(el, 1)
            if kind == "SA":
                self.line["BT-155"] = code
            elif kind == "IN":
                self.line["BT-156"] = code

    def _IMD(self, s):
        if self.line is None:
            return
        name = "".join(_el(s, 2, i) for i in (3, 4))
        if _el(s, 0) == "A":  # IMD+A: the item description (BT-154)
            self.line["BT-154"] = name
        elif "BT-153" not in self.line:
            self.line["BT-153"] = name
        else:
            self.line["BT-154"] = name

    def _ALI(self, s):
        if self.line is not None and _el(s, 0):
            self.line["BT-159"] = _el(s, 0)

    def _QTY(self, s):
        if self.line is not None and _el(s, 0, 0) == "47":
            self.line["BT-129"] = _dec(_el(s, 0, 1))
            self.line["BT-130"] = _el(s, 0, 2) or "C62"

    def _PRI(self, s):
        if self.line is None:
            return
        qual, value = _el(s, 0, 0), _el(s, 0, 1)
        if qual == "AAA" and value:
            self.line["BT-146"] = _dec(value)
            if _el(s, 0, 4):
                self.line["BT-149"] = _dec(_el(s, 0, 4))
        elif qual == "AAB" and value:
            self.line["BT-148"] = _dec(value)

    def _TAX(self, s):
        rate = _el(s, 4, 3)
        cat = _el(s, 5)
        if self.summary:
            self.tax = {"BT-118": cat or "S"}
            if rate:
                self.tax["BT-119"] = _dec(rate)
            if _el(s, 6):
                self.tax["BT-121" if _el(s, 6).startswith("VATEX") else "BT-120"] = _el(s, 6)
            self.d["BG-23"].append(self.tax)
        elif self.alc is not None and (self.line is None or self.alc in self.line.get("BG-27", []) + self.line.get("BG-28", [])):
            self.alc["vat_category_code"] = cat
            if rate:
                self.alc["vat_rate"] = _dec(rate)
        elif self.line is not None:
            self.line["BT-151"] = cat or "S"
            if rate:
                self.line["BT-152"] = _dec(rate)

    def _UNS(self, s):
        self._close_line()
        self.summary = True
        self.alc = None

    def _MOA(self, s):
        qual, value = _el(s, 0, 0), _el(s, 0, 1)
        if not value:
            return
        amount = _dec(value)
        if self.summary and self.tax is not None:
            if qual == "125":
                self.tax["BT-116"] = amount
            elif qual in ("124", "150"):
                self.tax["BT-117"] = amount
            return
        if self.summary:
            key = {"79": "BT-106", "260": "BT-107", "259": "BT-108", "389": "BT-109", "125": "BT-109",
                   "176": "BT-110", "124": "BT-110", "388": "BT-112", "77": "BT-112", "113": "BT-113",
                   "165": "BT-114", "366": "BT-114", "9": "BT-115"}.get(qual)
            if key:
                self.d.setdefault(key, amount)
            return
        if self.alc is not None and qual in ("204", "23", "8", "131"):
            self.alc["amount"] = amount
            return
        if self.alc is not None and qual == "25":
            self.alc["base_amount"] = amount
            return
        if self.line is not None and qual == "509" and self.alc is not None and "amount" not in self.alc:
            # ALC+A with MOA 509 on a line is the item price discount (BT-147), not a line allowance
            self.line["BG-27"].remove(self.alc)
            self.line.setdefault("BT-147-00", []).append({"BT-147": amount})
            self.alc = None
            return
        if self.line is not None and qual == "203":
            self.line["BT-131"] = amount
