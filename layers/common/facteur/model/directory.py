"""The directory: suppliers (tenants), their customers (buyers), and each customer's recipients
by role and channel, with what the customer expects and the milestones to watch."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import Enum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from .scenario import Scenario


class Role(str, Enum):
    PAYER = "payer"  # accounts payable
    VALIDATOR = "validator"  # the person who approves the invoice
    CENTRAL_PURCHASING = "central_purchasing"
    PAYING_OFFICE = "paying_office"
    COLLECTION_AGENCY = "collection_agency"
    COPY = "copy"
    OTHER = "other"


class Channel(str, Enum):
    EMAIL = "email"  # e-mail with the document attached and a signed download link
    HTTP = "http"  # push to a portal or the customer's API
    CHORUS_PRO = "chorus_pro"
    PA = "pa"  # a French approved platform (Plateforme Agréée)
    PEPPOL = "peppol"
    EDI = "edi"
    CXML = "cxml"  # a procurement network (SAP Ariba, Coupa...): cXML InvoiceDetailRequest over HTTPS


class OutputFormat(str, Enum):
    FACTURX = "facturx"
    UBL = "ubl"
    CII = "cii"
    EDIFACT = "edifact"
    CHORUS = "chorus"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class CxmlEndpoint(_M):
    """Who the invoice is from and to on a procurement network (cXML credentials; the shared secret
    is in the recipient's `secret_id`)."""

    from_domain: str = Field("NetworkID", max_length=50)
    from_identity: str = Field(..., max_length=100, description="The supplier's id on the network (e.g. AN01...)")
    to_domain: str = Field("NetworkID", max_length=50)
    to_identity: str = Field(..., max_length=100, description="The buyer's id on the network")
    deployment_mode: str = Field("production", pattern="^(production|test)$")


class Recipient(_M):
    id: str
    name: str
    role: Role = Role.PAYER
    channel: Channel = Channel.EMAIL
    email: EmailStr | None = None
    endpoint: str | None = Field(None, description="URL for http/cxml, the buyer's address for pa, SIRET for chorus_pro, "
                                                   "the AS2 connector id for edi")
    secret_id: str | None = Field(None, description="HTTP channel: the Secrets Manager secret holding the endpoint's whsec_ "
                                                    "signing secret (named facteur/webhooks/<supplier id>/...); cxml: "
                                                    "the network's shared secret (facteur/cxml/<supplier id>/...)")
    language: str = Field("fr", description="Language of messages: fr or en")
    attach_document: bool = True
    formats: list[OutputFormat] = Field(default_factory=list, description="The formats this recipient's e-mails carry "
                                                                          "(facturx, ubl, cii, edifact); empty: the "
                                                                          "Factur-X and the customer's UBL")
    fallback: str | None = Field(None, description="Id of the recipient (of the same customer) to use when this one's "
                                                   "channel bounces or does not deliver in time (scenario action "
                                                   "fallback_channel)")
    fallback_only: bool = Field(False, description="Receives nothing unless another recipient falls back to it")
    cxml: CxmlEndpoint | None = Field(None, description="channel cxml: the network credentials (endpoint: its HTTPS URL, "
                                                        "secret_id: facteur/cxml/<supplier id>/... holding the shared secret)")

    @model_validator(mode="after")
    def _https_webhooks(self) -> Recipient:
        if self.channel is Channel.CHORUS_PRO and not (self.endpoint and re.fullmatch(r"\d{14}", self.endpoint)):
            raise ValueError(f"recipient '{self.id}' on Chorus Pro: endpoint is the public buyer's SIRET (14 digits)")
        if self.channel is Channel.PA and self.endpoint and not re.fullmatch(r"[A-Za-z0-9_.\-/]{9,125}", self.endpoint):
            raise ValueError(f"recipient '{self.id}' on a PA: endpoint is the buyer's electronic address in the French "
                             "directory (SIREN, SIREN_SIRET, SIREN_SIRET_routing code or SIREN_suffix), or empty for BT-49")
        if self.channel is Channel.EDI and not (self.endpoint and re.fullmatch(r"c-[0-9a-f]{17}", self.endpoint)):
            raise ValueError(f"recipient '{self.id}' on edi: endpoint is the AWS Transfer Family AS2 connector that reaches "
                             "the partner (c- and 17 hexadecimal digits)")
        if self.channel is Channel.CXML and not (self.endpoint and self.cxml and self.secret_id):
            raise ValueError(f"recipient '{self.id}' on cxml needs endpoint (the network's URL), cxml (credentials) and "
                             "secret_id (the shared secret)")
        if self.channel in (Channel.HTTP, Channel.CXML) and self.endpoint:
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


class HoldRules(_M):
    """What must not leave for this customer ("retain what must not leave"): each broken rule holds
    the invoice with its reason; POST /invoices/{id}/release sends it anyway (recorded)."""

    blocked: str | None = Field(None, description="The customer is blocked: why (nothing leaves until released)")
    credit_hold: str | None = Field(None, description="Credit hold: why (invoices are held, reminders go on)")
    approval_above: Decimal | None = Field(None, description="An invoice above this total (BT-112) waits for the "
                                                             "supplier's approval (a release)")
    not_before: date | None = Field(None, description="Nothing leaves before this date (the customer's year-end closing, "
                                                      "a new contract): held until then, released by API")


class EmailRules(_M):
    """How this customer wants its invoice e-mails."""

    subject: str | None = Field(None, max_length=200, description="Subject template: {number} {seller} {BT-1} {BT-10} "
                                                                  "{BT-13} {amount} {due}, e.g. '[PO {BT-13}] Facture {BT-1}'")
    intro: str | None = Field(None, max_length=2000, description="A paragraph put first in the body (same fields)")
    link_only: bool = Field(False, description="No attachment: the signed download link only")
    max_attachment_bytes: int | None = Field(None, ge=0, description="Above this size, the link only")

    @field_validator("subject", "intro")
    @classmethod
    def _fields_known(cls, v: str | None) -> str | None:
        return template_fields_known(v, EMAIL_FIELDS)


def template_fields_known(text: str | None, known: tuple[str, ...]) -> str | None:
    """A template naming only fields it will be given ({number}...), else a clear error."""
    import string

    if text is not None:
        for _, name, _, _ in string.Formatter().parse(text):
            if name is not None and name not in known:
                raise ValueError(f"unknown field {{{name}}}; known: {', '.join('{' + f + '}' for f in known)}")
    return text


EMAIL_FIELDS = ("number", "seller", "BT-1", "BT-10", "BT-13", "amount", "due")
MESSAGE_KINDS = ("invoice", "not_opened", "courtesy", "overdue", "validate", "notice")
MESSAGE_FIELDS = ("number", "seller", "date", "amount", "due", "name", "expires", "formats", "outstanding", "interest",
                  "indemnity", "claimed")


class MessageText(_M):
    """A supplier's own wording of one message, per language (French first, English available);
    what is not given keeps Facteur's text. The download link and the signature are always added."""

    subject_fr: str | None = Field(None, max_length=200)
    body_fr: str | None = Field(None, max_length=4000)
    subject_en: str | None = Field(None, max_length=200)
    body_en: str | None = Field(None, max_length=4000)

    @field_validator("subject_fr", "body_fr", "subject_en", "body_en")
    @classmethod
    def _fields_known(cls, v: str | None) -> str | None:
        return template_fields_known(v, MESSAGE_FIELDS)

    def text(self, lang: str) -> tuple[str | None, str | None]:
        return (self.subject_en, self.body_en) if lang == "en" else (self.subject_fr, self.body_fr)


class DistributionRule(_M):
    """Which roles receive the invoice, when, and on what condition (the filière). A role no rule
    names receives every invoice on issue."""

    roles: list[Role]
    when: str = Field("issue", pattern="^(issue|approved)$", description="on issue, or once the invoice is approved (205)")
    min_amount: Decimal | None = Field(None, description="only invoices whose total (BT-112) is at least this")
    max_amount: Decimal | None = None
    credit_notes: bool | None = Field(None, description="true: credit notes only; false: invoices only")
    order_prefix: str | None = Field(None, max_length=50, description="only invoices whose PO (BT-13) starts with this")

    def matches(self, total: Decimal, is_credit_note: bool, order: str | None) -> bool:
        if self.min_amount is not None and total < self.min_amount:
            return False
        if self.max_amount is not None and total > self.max_amount:
            return False
        if self.credit_notes is not None and is_credit_note != self.credit_notes:
            return False
        return not (self.order_prefix and not (order or "").startswith(self.order_prefix))


class Customer(_M):
    id: str
    name: str
    group: str | None = Field(None, description="Customer group (chain, holding, public body...): a scenario can apply "
                                                "to a group")
    scenario: str | None = Field(None, description="Name of the supplier's scenario that applies to this customer "
                                                   "(default: the one naming it, else its group's, else the default)")
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
    contractual_rate: Decimal | None = Field(None, description="Late-payment interest rate agreed with this customer, in "
                                                               "percent a year (default: ECB rate + 10 points)")
    grouped_reminders: bool = Field(False, description="One statement of account (every open invoice, e-mail + PDF) "
                                                       "instead of a reminder per invoice")
    hold: HoldRules = Field(default_factory=HoldRules)
    email: EmailRules = Field(default_factory=EmailRules)
    distribution: list[DistributionRule] = Field(default_factory=list,
                                                 description="Who receives what and when; empty: every recipient on issue")

    def all_formats(self) -> list[OutputFormat]:
        """What to produce: the customer's formats and every one a recipient of it asks for."""
        return list(dict.fromkeys([*self.formats, *(f for r in self.recipients for f in r.formats)]))

    def receives(self, role: Role, stage: str, total: Decimal, is_credit_note: bool, order: str | None) -> bool:
        """Does a recipient of this role receive this invoice at this stage (issue, approved)?"""
        rules = [r for r in self.distribution if role in r.roles]
        if not rules:
            return stage == "issue"
        return any(r.when == stage and r.matches(total, is_credit_note, order) for r in rules)

    @model_validator(mode="after")
    def _fallbacks(self) -> Customer:
        ids = {r.id for r in self.recipients}
        for r in self.recipients:
            if r.fallback and (r.fallback not in ids or r.fallback == r.id):
                raise ValueError(f"recipient '{r.id}': its fallback '{r.fallback}' is not another recipient of this customer")
        return self


class GroupRules(_M):
    """What every customer of a group (a chain, a holding, a public body) shares, unless the customer
    says otherwise: recipients added to each (a holding's central purchasing), distribution, hold
    and e-mail rules."""

    recipients: list[Recipient] = Field(default_factory=list, description="Added to each customer of the group")
    distribution: list[DistributionRule] = Field(default_factory=list)
    hold: HoldRules | None = None
    email: EmailRules | None = None

    def apply(self, c: Customer) -> Customer:
        """The customer with the group's rules where it has none of its own."""
        own = c.model_fields_set
        ids = {r.id for r in c.recipients}
        clash = [r.id for r in self.recipients if r.id in ids]
        if clash:
            raise ValueError(f"customer '{c.id}' has recipient(s) {', '.join(clash)} of the same id as its group's")
        update: dict = {"recipients": [*c.recipients, *self.recipients]}
        if "distribution" not in own and self.distribution:
            update["distribution"] = self.distribution
        if "hold" not in own and self.hold is not None:
            update["hold"] = self.hold
        if "email" not in own and self.email is not None:
            update["email"] = self.email
        merged = c.model_copy(update=update)
        return Customer.model_validate(merged.model_dump())  # fallbacks checked again on the whole


class Agency(_M):
    """A collection agency the supplier hands unpaid invoices to (scenario action hand_off)."""

    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name: str
    channel: Channel = Channel.EMAIL
    email: EmailStr | None = None
    endpoint: str | None = Field(None, description="webhook URL for cases (channel http)")
    secret_id: str | None = Field(None, description="the webhook's signing secret (facteur/webhooks/<supplier id>/...)")
    language: str = "fr"

    @model_validator(mode="after")
    def _reachable(self) -> Agency:
        if self.channel is Channel.EMAIL and not self.email:
            raise ValueError(f"agency '{self.id}' on e-mail needs its address")
        if self.channel is Channel.HTTP and not (self.endpoint and self.secret_id):
            raise ValueError(f"agency '{self.id}' on http needs endpoint and secret_id")
        if self.channel not in (Channel.EMAIL, Channel.HTTP):
            raise ValueError(f"agency '{self.id}': cases go by email or http")
        if self.channel is Channel.HTTP and self.endpoint:
            from ..delivery.webhook import check_url

            check_url(self.endpoint)
        return self


class PdfTemplate(_M):
    """How to read one billing tool's plain PDFs (formats/pdf_capture.py)."""

    name: str
    match: str = Field(..., description="Regular expression that recognises the layout")
    fields: dict[str, str] = Field(..., description="BT id (or buyer_id / buyer_name) -> regex with one group")
    date_format: str = "%d/%m/%Y"
    decimal_comma: bool = True
    currency: str = "EUR"
    type_code: str = "380"


CHORUS_ENVIRONMENTS = {
    "production": ("https://oauth.piste.gouv.fr/api/oauth/token", "https://api.piste.gouv.fr/cpro"),
    "sandbox": ("https://sandbox-oauth.piste.gouv.fr/api/oauth/token", "https://sandbox-api.piste.gouv.fr/cpro"),
}


class ChorusConfig(_M):
    """A supplier's Chorus Pro access (in the directory; the secret holds the credentials)."""

    secret_id: str = Field(..., description="facteur/chorus/<supplier id>: client_id, client_secret, login, password, user_id")
    environment: str = Field("production", pattern="^(production|sandbox)$")
    token_url: str | None = Field(None, description="override (a local fake): default from the environment")
    api_base: str | None = Field(None, description="override (a local fake): default from the environment")

    def urls(self) -> tuple[str, str]:
        token, api = CHORUS_ENVIRONMENTS[self.environment]
        return self.token_url or token, (self.api_base or api).rstrip("/")


class PaConfig(_M):
    """A supplier's plateforme agréée (PA): its AFNOR XP Z12-013 flow and directory services, on
    OAuth2 client credentials (the secret holds them)."""

    name: str = Field(..., max_length=100, description="The platform's name (shown in timelines)")
    secret_id: str = Field(..., description="facteur/pa/<supplier id>...: {client_id, client_secret}")
    token_url: str = Field(..., description="The PA's OAuth2 token endpoint")
    flow_api: str = Field(..., description="The flow service's base URL (…/flow-service)")
    directory_api: str = Field(..., description="The directory service's base URL (…/directory-service)")
    organization_id: str | None = Field(None, max_length=100, description="Organization-Id header (multi-tenant PAs)")
    profile: str = Field("CIUS", pattern="^(Basic|CIUS|Extended-CTC-FR)$", description="flowProfile of the Factur-X sent")

    @field_validator("token_url", "flow_api", "directory_api")
    @classmethod
    def _https(cls, v: str) -> str:
        from ..delivery.webhook import check_url

        return check_url(v).rstrip("/")


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
    alerts_to: EmailStr | None = Field(None, description="Where alerts and the daily worklist go (default: mail_from)")
    iban: str | None = Field(None, description="Printed on formal notices (default: the invoice's own payment account)")
    agencies: list[Agency] = Field(default_factory=list, description="Collection agencies (scenario hand_off)")
    chorus: ChorusConfig | None = Field(None, description="Chorus Pro access (PISTE), for customers reached through it")
    pa: PaConfig | None = Field(None, description="The supplier's plateforme agréée (AFNOR flow and directory APIs), for "
                                                  "customers reached through the French network (channel pa)")
    messages: dict[str, MessageText] = Field(default_factory=dict,
                                             description="The supplier's own wording of its messages, by kind: "
                                                         + ", ".join(MESSAGE_KINDS))

    @field_validator("messages")
    @classmethod
    def _kinds(cls, v: dict[str, MessageText]) -> dict[str, MessageText]:
        unknown = [k for k in v if k not in MESSAGE_KINDS]
        if unknown:
            raise ValueError(f"unknown message(s) {', '.join(unknown)}; one of {', '.join(MESSAGE_KINDS)}")
        return v
    groups: dict[str, GroupRules] = Field(default_factory=dict, description="Rules shared by the customers of a group "
                                                                          "(their `group`), by group name")
    scenarios: dict[str, Scenario] = Field(default_factory=dict,
                                           description="Reminder and dunning scenarios by name (model/scenario.py); "
                                                       "without any, each customer's `milestones` apply")

    @field_validator("scenarios", mode="before")
    @classmethod
    def _named(cls, v: object) -> object:
        if isinstance(v, dict):
            return {str(k): ({**b, "name": str(k)} if isinstance(b, dict) else b) for k, b in v.items()}
        return v

    @model_validator(mode="after")
    def _agencies_known(self) -> Supplier:
        known = {a.id for a in self.agencies}
        for name, sc in self.scenarios.items():
            for step in sc.steps:
                if step.agency and step.agency not in known:
                    raise ValueError(f"scenario '{name}' hands off to '{step.agency}', which is not one of the "
                                     f"supplier's agencies ({', '.join(sorted(known)) or 'none'})")
        return self
