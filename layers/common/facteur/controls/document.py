"""The official verdict on what a supplier sent, whatever its form: the XML it carries checked with
the rule sets it declares, a PDF's Factur-X container checked too, and data read from JSON, EDIFACT
or a plain PDF checked as the CII it becomes."""
from __future__ import annotations

from ..formats import cii
from ..formats.detect import Kind
from ..formats.reader import ReadResult
from .findings import Finding, Severity
from .official import Checked, RuleSet, check
from .pdfa import check_facturx_pdf

CONTAINER = RuleSet("facturx-pdf", "Factur-X PDF/A-3 container (XMP, output intent, fonts, factur-x.xml with "
                    "AFRelationship and text/xml, /AF, trailer ID, no encryption)", "structure", "")
XML_SYNTAXES = (Kind.CII, Kind.UBL_INVOICE, Kind.UBL_CREDIT_NOTE)


def check_read(read: ReadResult, *, fr: bool | None = None, container_blocking: bool = True) -> Checked:
    """`container_blocking=False` (the pipeline, which sends a Factur-X of its own) keeps the
    container findings as warnings; `facteur check` reports them as Factur-X requires."""
    if read.xml is not None and read.syntax in XML_SYNTAXES:
        checked = check(read.xml, in_pdf=read.kind is Kind.PDF, fr=fr)
    else:  # JSON, EDIFACT, captured PDF, legacy ZUGFeRD 1.0: the CII it becomes
        checked = check(cii.write(read.invoice, profile=read.invoice.profile), fr=fr)
    found: list[Finding] = []
    if read.kind is Kind.PDF and read.pdf is not None:
        checked.rule_sets.append(CONTAINER)
        found = container_findings(read)
    elif read.syntax is Kind.ZUGFERD1:
        found = [_zugferd1()]
    if found:
        if not container_blocking:
            found = [f.model_copy(update={"severity": Severity.WARNING}) for f in found]
        checked.findings.extend(found)
    return checked


def container_findings(read: ReadResult) -> list[Finding]:
    assert read.pdf is not None
    out = [f.model_copy(update={"source": CONTAINER.id}) for f in check_facturx_pdf(read.pdf, expected_profile=read.invoice.profile)]
    if read.syntax is Kind.ZUGFERD1:
        out.append(_zugferd1())
    elif read.xml is not None and not _facturx_spec(read):
        out.append(Finding(rule="FX-PROFILE", severity=Severity.FATAL, source=CONTAINER.id,
                           message=f"the embedded XML declares {read.invoice.specification!r}, which is not a Factur-X profile",
                           message_fr=f"le XML incorporé déclare {read.invoice.specification!r}, qui n'est pas un profil Factur-X"))
    return out


def _zugferd1() -> Finding:
    return Finding(rule="ZUGFERD1", severity=Severity.FATAL, source="facteur",
                   message="legacy ZUGFeRD 1.0 (CrossIndustryDocument, 2014): read and checked as the CII it becomes, "
                           "but the document itself is neither EN 16931 nor Factur-X",
                   message_fr="ZUGFeRD 1.0 (CrossIndustryDocument, 2014) : lu et contrôlé comme le CII qu'il devient, "
                              "mais le document lui-même n'est ni EN 16931 ni Factur-X")


def _facturx_spec(read: ReadResult) -> bool:
    from .official import facturx_profile_of

    spec = read.invoice.specification
    return facturx_profile_of(spec) is not None or spec == "urn:cen.eu:en16931:2017"
