"""Detect what a file is from its bytes (never from its name alone)."""
from __future__ import annotations

from enum import Enum

from lxml import etree


class Kind(str, Enum):
    PDF = "pdf"
    CII = "cii"
    UBL_INVOICE = "ubl-invoice"
    UBL_CREDIT_NOTE = "ubl-creditnote"
    ZUGFERD1 = "zugferd1"
    ORDERX = "orderx"
    CDAR = "cdar"  # a lifecycle message (CrossDomainAcknowledgementAndResponse)
    JSON = "json"
    EDIFACT = "edifact"
    XML_OTHER = "xml-other"
    UNKNOWN = "unknown"


NS_CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
NS_UBL_INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_UBL_CN = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_ZF1 = "urn:ferd:CrossIndustryDocument:invoice:1p0"
NS_ORDERX = "urn:un:unece:uncefact:data:standard:SCRDMCCBDACIOMessageStructure:100"
NS_CDAR = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"


def sniff(data: bytes) -> Kind:
    """A first look at the bytes: PDF, JSON, EDIFACT, XML (refined by `xml_kind`) or unknown."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf\xff\xfe\xfe\xff \t\r\n\x00")
    if data[:1024].find(b"%PDF-") != -1:
        return Kind.PDF
    if head.startswith((b"{", b"[")):
        return Kind.JSON
    if head.startswith((b"UNA", b"UNB")):
        return Kind.EDIFACT
    if head.startswith(b"<") or data[:4] in (b"\xff\xfe<\x00", b"\xfe\xff\x00<"):
        return Kind.XML_OTHER
    return Kind.UNKNOWN


def xml_kind(root: etree._Element) -> Kind:
    qn = etree.QName(root)
    if qn.namespace == NS_CII and qn.localname == "CrossIndustryInvoice":
        return Kind.CII
    if qn.namespace == NS_UBL_INV and qn.localname == "Invoice":
        return Kind.UBL_INVOICE
    if qn.namespace == NS_UBL_CN and qn.localname == "CreditNote":
        return Kind.UBL_CREDIT_NOTE
    if qn.namespace == NS_ZF1:
        return Kind.ZUGFERD1
    if qn.namespace == NS_ORDERX:
        return Kind.ORDERX
    if qn.namespace == NS_CDAR and qn.localname == "CrossDomainAcknowledgementAndResponse":
        return Kind.CDAR
    return Kind.XML_OTHER
