"""One conversion, done the same way by `facteur convert` and the pipeline's convert step: write
the target, check it with the official rules of what it declares, and say exactly what it could
not carry (the loss report).

- Factur-X: CII of the invoice's profile in a PDF/A-3 (the supplier's PDF when it can be one);
  checked with the profile's Factur-X rules and the container checks.
- CII: the invoice's own specification identifier kept (an XRechnung stays an XRechnung), so its
  CIUS rules are run too; checked with the CII D16B XSD and the CEN rules.
- UBL: Peppol BIS 3 is claimed only when the document passes the Peppol rules; otherwise the
  output declares plain EN 16931 and `notes["peppol"]` says which Peppol rules refused it.
The loss report compares the invoice with what the output reads back as, field by field, so a
field the target cannot hold is listed, never dropped silently.
An output is checked with the rules of what it declares; BR-FR only on request (`fr=True`): it is
the input that `check` holds to the French rules, for French sellers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .controls.findings import Finding
from .controls.official import Checked, check
from .controls.pdfa import check_facturx_pdf
from .formats import cii, edifact, facturx, ubl
from .model.invoice import Invoice

FORMATS = ("facturx", "cii", "ubl", "edifact")
PEPPOL_SCHEMES = {"0002", "0007", "0009", "0037", "0060", "0088", "0096", "0106", "0130", "0135", "0142", "0151", "0183",
                  "0184", "0188", "0190", "0191", "0192", "0193", "0195", "0196", "0198", "0199", "0200", "0201", "0202",
                  "0204", "0208", "0209", "0210", "0211", "0212", "0213", "0215", "0216", "0218", "0221", "0225", "0230",
                  "0235", "0240", "0242", "0244", "0245", "0246", "9901", "9910", "9913", "9914", "9915", "9918", "9919",
                  "9920", "9922", "9923", "9924", "9925", "9926", "9927", "9928", "9929", "9930", "9931", "9932", "9933",
                  "9934", "9935", "9936", "9937", "9938", "9939", "9940", "9941", "9942", "9943", "9944", "9945", "9946",
                  "9947", "9948", "9949", "9950", "9951", "9952", "9953", "9957", "9959"}


@dataclass
class Output:
    format: str
    data: bytes
    checked: Checked
    lost: list[str] = field(default_factory=list)  # what the target could not carry, by business term
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> list[Finding]:
        return self.checked.blocking


def peppol_capable(inv: Invoice) -> bool:
    """Both parties have an electronic address in a Peppol EAS scheme (PEPPOL-EN16931-R010/R020)."""
    return all(p.electronic_address and p.electronic_address_scheme in PEPPOL_SCHEMES for p in (inv.seller, inv.buyer))


def convert(inv: Invoice, to: str, *, profile: str | None = None, supplier_pdf: bytes | None = None, lang: str = "fr",
            fr: bool = False, pdf_notes: list[str] | None = None, now: datetime | None = None,
            not_read: list[str] | None = None) -> Output:
    """`not_read`: what the reader could not take from the input (`formats.unread`), listed first in
    the loss report: a conversion cannot carry what was never read."""
    out = _convert(inv, to, profile=profile, supplier_pdf=supplier_pdf, lang=lang, fr=fr, pdf_notes=pdf_notes, now=now)
    if not_read:
        out.lost = [f"input {item}" for item in not_read] + out.lost
    return out


def _convert(inv: Invoice, to: str, *, profile: str | None, supplier_pdf: bytes | None, lang: str, fr: bool,
             pdf_notes: list[str] | None, now: datetime | None) -> Output:
    profile = profile or inv.profile
    if to == "facturx":
        xml = cii.write(inv, profile=profile)
        pdf = facturx.generate(inv, profile=profile, pdf=supplier_pdf, xml=xml, lang=lang, notes=pdf_notes)
        checked = check(xml, in_pdf=True, fr=fr)
        checked.findings.extend(check_facturx_pdf(pdf, expected_profile=profile))
        return Output(to, pdf, checked, lost=lost_in(inv, xml, facturx_profile=profile))
    if to == "cii":
        xml = cii.write(inv, profile=profile, standalone=True)
        return Output(to, xml, check(xml, fr=fr), lost=lost_in(inv, xml))
    if to == "ubl":
        notes: dict[str, Any] = {}
        if peppol_capable(inv):
            xml = ubl.write(inv, peppol=True)
            checked = check(xml, fr=fr)
            refused = sorted({f.rule for f in checked.blocking if f.source == "peppol-bis3-ubl"})
            if not refused:
                return Output(to, xml, checked, lost=lost_in(inv, xml), notes={"peppol": "claimed"})
            notes["peppol"] = {"claimed": False, "refused_by": refused}
        xml = ubl.write(inv, peppol=False)
        return Output(to, xml, check(xml, fr=fr), lost=lost_in(inv, xml), notes=notes)
    if to == "edifact":
        data = edifact.write(inv, now=now)  # no official rules in-process for EANCOM; what it cannot carry is listed
        return Output(to, data, Checked([]), lost=lost_in(inv, data))
    raise ValueError(f"unknown format {to}")


def lost_in(inv: Invoice, xml: bytes, *, facturx_profile: str | None = None) -> list[str]:
    """What `inv` holds that the written `xml` does not give back, as `BT path: value` lines."""
    from .formats.reader import read_document

    back = read_document(xml).invoice
    want, got = business_values(inv), business_values(back)
    out = []
    for path, value in want.items():
        if path not in got or got[path] != value:
            if path == "BT-24" and facturx_profile:
                out.append(f"BT-24 specification identifier {value!r} (a Factur-X declares its profile)")
                continue
            out.append(f"{path}: {value!r}" + (f" (became {got[path]!r})" if path in got else ""))
    return out


def business_values(inv: Invoice) -> dict[str, Any]:
    """Every value of the invoice by its path of business terms (`BG-7.contacts.0.name`), lines by
    their identifier (`BG-25.<BT-126>.BT-153`) so that a line left out does not shift the others."""
    data = inv.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True, mode="python")
    if data.get("BG-25"):
        data["BG-25"] = {str(line.get("BT-126", i)): line for i, line in enumerate(data["BG-25"])}
    return leaves(data)


def leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.update(leaves(v, f"{prefix}.{i}"))
    else:
        out[prefix] = _norm(data)
    return out


def _norm(v: Any) -> Any:
    """Values compared as business values: 100.00 = 100, an embedded file by its digest."""
    import hashlib
    from decimal import Decimal

    if isinstance(v, Decimal):
        return v.normalize()
    if isinstance(v, bytes):
        return "sha256:" + hashlib.sha256(v).hexdigest()[:16]
    return v
