"""Structural checks of a Factur-X PDF/A-3 container (what veraPDF would check first):
XMP with pdfaid part 3, rdf:about on every rdf:Description and the Factur-X extension schema, an output intent with an ICC profile,
every font embedded, the factur-x.xml embedded file with its AFRelationship and MIME subtype,
referenced from the catalog's /AF array, a trailer /ID, and no encryption."""
from __future__ import annotations

import io
import re

from .findings import Finding, Severity


def _f(rule: str, message: str, message_fr: str) -> Finding:
    return Finding(rule=rule, severity=Severity.FATAL, message=message, message_fr=message_fr, source="pdfa")


def check_facturx_pdf(pdf: bytes, *, expected_profile: str | None = None) -> list[Finding]:
    from pypdf import PdfReader

    out: list[Finding] = []
    reader = PdfReader(io.BytesIO(pdf))
    if reader.is_encrypted:
        return [_f("PDFA-ENCRYPT", "PDF/A forbids encryption", "Le PDF/A interdit le chiffrement")]
    root = reader.root_object
    if "/ID" not in reader.trailer:
        out.append(_f("PDFA-ID", "the trailer has no /ID", "La section trailer n'a pas d'/ID"))
    # XMP metadata
    meta = root.get("/Metadata")
    xmp = meta.get_object().get_data().decode("utf-8", "replace") if meta is not None else ""
    if not re.search(r"pdfaid:part(?:>|=\")\s*3", xmp):
        out.append(_f("PDFA-XMP-PART", "XMP does not declare PDF/A-3 (pdfaid:part=3)", "Le XMP ne déclare pas PDF/A-3"))
    if "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" not in xmp:
        out.append(_f("FX-XMP-NS", "XMP lacks the Factur-X extension schema", "Le XMP n'a pas le schéma d'extension Factur-X"))
    if re.search(r"<rdf:Description(?![^>]*rdf:about)", xmp):
        out.append(_f("PDFA-XMP-ABOUT", "an XMP rdf:Description has no rdf:about (ISO 19005 6.6.2.1)",
                      "Une rdf:Description du XMP n'a pas d'attribut rdf:about (ISO 19005 6.6.2.1)"))
    level = re.search(r"fx:ConformanceLevel(?:>|=\")\s*([A-Z0-9 ]+)", xmp)
    if expected_profile and level:
        want = {"minimum": "MINIMUM", "basicwl": "BASIC WL", "basic": "BASIC", "en16931": "EN 16931",
                "extended": "EXTENDED"}.get(expected_profile)
        if want and level.group(1).strip() != want:
            out.append(_f("FX-XMP-LEVEL", f"XMP conformance level {level.group(1).strip()!r}, expected {want!r}",
                          f"Niveau XMP {level.group(1).strip()!r}, attendu {want!r}"))
    # Output intent with an ICC profile
    intents = root.get("/OutputIntents")
    if not intents or not any("/DestOutputProfile" in i.get_object() for i in intents):
        out.append(_f("PDFA-OUTPUTINTENT", "no output intent with an ICC profile", "Pas d'output intent avec profil ICC"))
    # Fonts embedded
    for page_no, page in enumerate(reader.pages, start=1):
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for name, ref in fonts.items():
            font = ref.get_object()
            descs = [font]
            if "/DescendantFonts" in font:
                descs = [d.get_object() for d in font["/DescendantFonts"]]
            for d in descs:
                fd = d.get("/FontDescriptor")
                fd = fd.get_object() if fd is not None else None
                not_embedded = fd is None or not any(k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3"))
                if not_embedded and font.get("/Subtype") != "/Type3":
                    out.append(_f("PDFA-FONT", f"font {name} on page {page_no} is not embedded",
                                  f"La police {name} page {page_no} n'est pas incorporée"))
    # The invoice XML
    attachments = {n.lower(): n for n in reader.attachments}
    if "factur-x.xml" not in attachments:
        out.append(_f("FX-ATTACHMENT", "no embedded factur-x.xml", "Pas de fichier factur-x.xml incorporé"))
    else:
        af = root.get("/AF")
        specs = [s.get_object() for s in af] if af else []
        spec = next((s for s in specs if str(s.get("/F", "")).lower() == "factur-x.xml"
                     or str(s.get("/UF", "")).lower() == "factur-x.xml"), None)
        if spec is None:
            out.append(_f("FX-AF", "factur-x.xml is not referenced from the catalog /AF array",
                          "factur-x.xml n'est pas référencé dans /AF du catalogue"))
        else:
            rel = str(spec.get("/AFRelationship", ""))
            if rel not in ("/Data", "/Alternative", "/Source"):
                out.append(_f("FX-AFREL", f"AFRelationship is {rel or 'missing'}, expected Data or Alternative",
                              f"AFRelationship vaut {rel or 'rien'}, attendu Data ou Alternative"))
            ef = spec.get("/EF", {}).get("/F")
            subtype = str(ef.get_object().get("/Subtype", "")) if ef is not None else ""
            if subtype not in ("/text#2Fxml", "/text/xml"):
                out.append(_f("FX-MIME", f"embedded file MIME subtype is {subtype or 'missing'}, expected text/xml",
                              f"Type MIME du fichier incorporé : {subtype or 'absent'}, attendu text/xml"))
    return out
