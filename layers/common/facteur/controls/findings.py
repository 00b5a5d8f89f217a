"""A finding: one rule broken, where, how bad, in French and English."""
from __future__ import annotations

from enum import Enum

from pydantic import BaseModel


class Severity(str, Enum):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


BLOCKING = {Severity.FATAL, Severity.ERROR}


class Finding(BaseModel):
    rule: str  # e.g. BR-CO-15, PEPPOL-EN16931-R008, XSD, CUST-PO
    severity: Severity
    message: str  # English (the official rule text for schematron rules)
    message_fr: str | None = None
    location: str | None = None  # XPath in the checked XML
    bt: str | None = None  # the business term concerned, when known
    source: str = "schematron"  # schematron | xsd | customer | reader

    @property
    def blocking(self) -> bool:
        return self.severity in BLOCKING
