"""The directory: suppliers (tenants), their customers (buyers), and each customer's recipients
by role and channel, with what the customer expects and the milestones to watch."""
from __future__ import annotations

from decimal import Decimal
from enum import Enum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator


class Role(str, Enum):
    PAYER = "payer"  # accounts payable
    VALIDATOR = "validator"  # the person who approves the invoice
    CENTRAL_PURCHASING = "central_purchasing"
    PAYING_OFFICE = "paying_office"
    COLLECTION_AGENCY = "collection_agency"
    COPY = "copy"


class Channel(str, Enum):
    EMAIL = "email"  # e-mail with the document attached and a signed download link
    HTTP = "http"  # push to a portal or the customer's API
    CHORUS_PRO = "chorus_pro"
    PA = "pa"  # a French approved platform (Plateforme Agréée)
    PEPPOL = "peppol"
    EDI = "edi"


class OutputFormat(str, Enum):
    FACTURX = "facturx"
    UBL = "ubl"
    CII = "cii"
    EDIFACT = "edifact"
    CHORUS = "chorus"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class Recipient(_M):
    id: str
    name: str
    role: Role = Role.PAYER
    channel: Channel = Channel.EMAIL
    email: EmailStr | None = None
    endpoint: str | None = Field(None, description="URL for HTTP channels, routing id for PA/Peppol/Chorus")
    secret_id: str | None = Field(None, description="HTTP channel: the Secrets Manager secret holding the endpoint's whsec_ "
                                                    "signing secret (named facteur/webhooks/<supplier id>/...)")
    language: str = Field("fr", description="Language of messages: fr or en")
    attach_document: bool = True

    @model_validator(mode="after")
    def _https_webhooks(self) -> Recipient:
        if self.channel is Channel.HTTP and self.endpoint:
            from ..delivery.webhook import check_url

            check_url(self.endpoint)  # https only (plain http on loopback, for local receivers)
        return self


class Expectations(_M):
    """What this customer requires before accepting an invoice (checked before sending)."""

    require_purchase_order: bool = Field(False, description="BT-13 must be present")
    require_buyer_reference: bool = Field(False, description="BT-10 (service code for public buyers)")
    require_contract_reference: bool = Field(False, description="BT-12")
    required_attachments: int = Field(0, description="Minimum number of BG-24 supporting documents")
    max_amount: Decimal | None = Field(None, description="Upper bound on BT-112 (a decimal string in YAML/JSON)")


class Milestones(_M):
    """Expected delays on the invoice's path and what to do when one is missed."""

    download_within_hours: int = Field(72, description="Expected delay between sending and the first download")
    remind_every_hours: int = Field(72, description="Wait between two 'not yet downloaded' reminders")
    max_download_reminders: int = 3
    payment_check_every_hours: int = Field(24 * 30, description="A safety re-check while waiting for payment: a payment, "
                                                                  "a refusal or a dispute wakes the path at once")
    horizon_days_after_due: int = Field(90, description="Tracking ends this long after the due date")
    default_payment_days: int = Field(30, description="Due date when the invoice has none (BT-9)")


class Customer(_M):
    id: str
    name: str
    siren: str | None = None
    vat_id: str | None = None
    identifiers: list[str] = Field(default_factory=list, description="Other ids seen on invoices (GLN, SIRET, e-address)")
    language: str = "fr"
    formats: list[OutputFormat] = Field(default_factory=lambda: [OutputFormat.FACTURX, OutputFormat.UBL])
    recipients: list[Recipient] = Field(default_factory=list)
    expectations: Expectations = Field(default_factory=Expectations)
    milestones: Milestones = Field(default_factory=Milestones)
    public_sector: bool = False
    lossless: bool = Field(False, description="Hold an invoice whose conversion to one of `formats` would not carry "
                                              "every field (the loss report says which), instead of sending it")


class PdfTemplate(_M):
    """How to read one billing tool's plain PDFs (formats/pdf_capture.py)."""

    name: str
    match: str = Field(..., description="Regular expression that recognises the layout")
    fields: dict[str, str] = Field(..., description="BT id (or buyer_id / buyer_name) -> regex with one group")
    date_format: str = "%d/%m/%Y"
    decimal_comma: bool = True
    currency: str = "EUR"
    type_code: str = "380"


class Supplier(_M):
    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name: str
    siren: str | None = None
    vat_id: str | None = None
    mail_from: str | None = None
    country: str = Field("FR", description="BT-40 seller country, for invoices captured from plain PDFs")
    language: str = "fr"
    auto_complete_notes: bool = Field(False, description="Opt-in: add missing PMT/PMD/AAB notes and BT-23 from the profile")
    default_notes: dict[str, str] = Field(default_factory=dict,
                                          description="Texts of the PMT/PMD/AAB notes used by auto-completion")
    default_process_type: str | None = Field(None, description="BT-23 (B1, S1, M1...) used by auto-completion")
    pdf_templates: list[PdfTemplate] = Field(default_factory=list, description="Extraction templates for plain PDFs")
