"""The canonical invoice: the EN 16931 semantic model.

Each field carries its business term id (BT-n) or group id (BG-n) as its alias, which is also
the key the `factur-x` package uses in its data dictionaries, so the boundary with that library
is `model_dump(by_alias=True)` / `model_validate(...)`. French CTC extensions keep their
`EXT-FR-FE-*` ids. Money, quantities and rates are `Decimal`, never float.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator


def _vatex(code: str | None) -> str | None:
    """VATEX codes are case-insensitive (CEF code list); the canonical form is the list's upper case
    (`vatex-eu-132-1a` -> `VATEX-EU-132-1A`), which every syntax's code list accepts."""
    return code.upper() if code and code.lower().startswith("vatex-") else code


VatexCode = Annotated[str | None, AfterValidator(_vatex)]

# UNTDID 1001 document types that are credit notes (EN 16931 code list for BT-3).
CREDIT_NOTE_TYPES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", str_strip_whitespace=True)

    def fx(self) -> dict[str, Any]:
        """The factur-x library's dictionary form (BT ids as keys, None dropped)."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False)


class Identifier(_Model):
    """An identifier with an optional scheme (ISO 6523 ICD, e.g. 0002 SIREN, 0009 SIRET, 0088 GLN)."""

    value: str = Field(..., alias="id")
    scheme: str | None = Field(None, alias="scheme")


class Contact(_Model):
    """BG-6 / BG-9 contact."""

    name: str | None = Field(None, alias="name", description="BT-41/BT-56 contact point (a person)")
    department: str | None = Field(None, alias="department", description="BT-41/BT-56 contact point: the department "
                                   "(CII DepartmentName, beside or instead of the person)")
    phone: str | None = Field(None, alias="phone", description="BT-42/BT-57 telephone")
    email: str | None = Field(None, alias="email", description="BT-43/BT-58 e-mail address")
    type_code: str | None = Field(None, alias="type_code", description="EXT-FR contact type code")

    @model_validator(mode="before")
    @classmethod
    def _person_and_department(cls, data: Any) -> Any:
        # The factur-x parser gives [PersonName, DepartmentName] when a CII contact has both.
        if isinstance(data, dict) and isinstance(data.get("name"), list):
            names = [n for n in data["name"] if n]
            data = {**data, "name": names[0] if names else None}
            if len(names) > 1 and not data.get("department"):
                data["department"] = names[1]
        return data


class Party(_Model):
    """BG-4 Seller, BG-7 Buyer, BG-10 Payee, BG-11 Tax representative, BG-13 Deliver to,
    and the French extension parties. Address fields are BG-5/BG-8/BG-12/BG-15."""

    name: str | None = Field(None, alias="name", description="BT-27/BT-44/BT-59/BT-62/BT-70 name")
    trading_name: str | None = Field(None, alias="biz_name", description="BT-28/BT-45 trading name")
    identifiers: list[Identifier] = Field(
        default_factory=list, alias="identifiers", description="BT-29/BT-46/BT-60/BT-71 party identifiers"
    )
    legal_id: str | None = Field(None, alias="legal_identifier", description="BT-30/BT-47/BT-61 legal registration id (SIREN in France)")
    legal_id_scheme: str | None = Field(None, alias="legal_identifier_schemeid", description="BT-30-1/BT-47-1 scheme")
    vat_id: str | None = Field(None, alias="vat_identifier", description="BT-31/BT-48/BT-63 VAT identifier")
    tax_registration_id: str | None = Field(None, alias="tax_identifier", description="BT-32 tax registration id (FC)")
    legal_info: str | None = Field(None, alias="legal_info", description="BT-33 additional legal information")
    electronic_address: str | None = Field(None, alias="einvoicing_addr", description="BT-34/BT-49 electronic address")
    electronic_address_scheme: str | None = Field(None, alias="einvoicing_addr_schemeid", description="BT-34-1/BT-49-1 EAS scheme")
    role_code: str | None = Field(None, alias="role_code", description="UNTDID 3035 role (French extension parties)")
    contacts: list[Contact] = Field(default_factory=list, alias="contacts", description="BG-6/BG-9 contacts")
    line1: str | None = Field(None, alias="addr_l1", description="BT-35/BT-50/BT-64/BT-75 address line 1")
    line2: str | None = Field(None, alias="addr_l2", description="BT-36/BT-51/BT-65/BT-76 address line 2")
    line3: str | None = Field(None, alias="addr_l3", description="BT-162/BT-163/BT-164/BT-165 address line 3")
    city: str | None = Field(None, alias="city", description="BT-37/BT-52/BT-66/BT-77 city")
    postcode: str | None = Field(None, alias="postcode", description="BT-38/BT-53/BT-67/BT-78 post code")
    subdivision: str | None = Field(None, alias="country_subdivision", description="BT-39/BT-54/BT-68/BT-79 subdivision")
    country: str | None = Field(None, alias="country_code", description="BT-40/BT-55/BT-69/BT-80 ISO 3166 country")

    @field_validator("identifiers", mode="before")
    @classmethod
    def _ids_from_dict(cls, v: Any) -> Any:
        # The factur-x library gives {scheme: id}; a list keeps repeated schemes.
        if isinstance(v, dict):
            return [{"id": i, "scheme": (s or None) if s not in ("", "no_scheme") else None} for s, i in v.items()]
        return v

    @property
    def siren(self) -> str | None:
        """The French SIREN, from BT-30 (scheme 0002) or the first 9 digits of a SIRET (0009)."""
        if self.legal_id and (self.legal_id_scheme in (None, "0002")) and self.legal_id.isdigit() and len(self.legal_id) == 9:
            return self.legal_id
        for ident in self.identifiers:
            if ident.scheme == "0002" and len(ident.value) == 9:
                return ident.value
            if ident.scheme == "0009" and len(ident.value) == 14:
                return ident.value[:9]
        return None

    @property
    def email(self) -> str | None:
        return next((c.email for c in self.contacts if c.email), None)


class Note(_Model):
    """BG-1 invoice note."""

    subject: str | None = Field(None, alias="BT-21", description="BT-21 subject code (UNTDID 4451: PMT, PMD, AAB...)")
    text: str = Field(..., alias="BT-22", description="BT-22 note")
    content_code: str | None = Field(None, alias="content_code", description="EXTENDED: the note's content code (ContentCode)")


class PrecedingInvoice(_Model):
    """BG-3 preceding invoice reference."""

    number: str = Field(..., alias="BT-25", description="BT-25 preceding invoice reference")
    issue_date: date | None = Field(None, alias="BT-26", description="BT-26 preceding invoice issue date")
    type_code: str | None = Field(None, alias="EXT-FR-FE-02", description="EXT-FR-FE-02 preceding invoice type")


class AllowanceCharge(_Model):
    """BG-20 / BG-21 document level allowance or charge, BG-27 / BG-28 at line level."""

    amount: Decimal = Field(..., alias="amount", description="BT-92/BT-99/BT-136/BT-141 amount")
    base_amount: Decimal | None = Field(None, alias="base_amount", description="BT-93/BT-100/BT-137/BT-142 base amount")
    percent: Decimal | None = Field(None, alias="rate", description="BT-94/BT-101/BT-138/BT-143 percentage")
    reason: str | None = Field(None, alias="reason", description="BT-97/BT-104/BT-139/BT-144 reason")
    reason_code: str | None = Field(None, alias="reason_code", description="BT-98/BT-105/BT-140/BT-145 reason code")
    vat_category: str | None = Field(None, alias="vat_category_code", description="BT-95/BT-102 VAT category")
    vat_rate: Decimal | None = Field(None, alias="vat_rate", description="BT-96/BT-103 VAT rate")
    vat_exemption: str | None = Field(None, alias="vat_exemption", description="EXT-FR exemption reason")
    vat_exemption_code: VatexCode = Field(None, alias="vat_exemption_code", description="EXT-FR exemption code")
    non_vat_tax_code: str | None = Field(None, alias="non_vat_tax_code", description="EXT-FR non-VAT tax code")



class VatBreakdown(_Model):
    """BG-23 VAT breakdown."""

    taxable_amount: Decimal = Field(..., alias="BT-116", description="BT-116 VAT category taxable amount")
    tax_amount: Decimal = Field(..., alias="BT-117", description="BT-117 VAT category tax amount")
    category: str = Field(..., alias="BT-118", description="BT-118 VAT category code (UNCL5305)")
    rate: Decimal | None = Field(None, alias="BT-119", description="BT-119 VAT category rate")
    exemption_reason: str | None = Field(None, alias="BT-120", description="BT-120 exemption reason text")
    exemption_code: VatexCode = Field(None, alias="BT-121", description="BT-121 exemption reason code (VATEX)")
    line_total_basis: Decimal | None = Field(None, alias="line_total_basis", description="EXTENDED: LineTotalBasisAmount")
    allowance_charge_basis: Decimal | None = Field(None, alias="allowance_charge_basis",
                                                   description="EXTENDED: AllowanceChargeBasisAmount")



class Attachment(_Model):
    """BG-24 additional supporting document."""

    reference: str = Field(..., alias="BT-122", description="BT-122 supporting document reference")
    description: str | None = Field(None, alias="BT-123", description="BT-123 description")
    uri: str | None = Field(None, alias="BT-124", description="BT-124 external document location")
    content: bytes | None = Field(None, alias="BT-125", description="BT-125 attached document (binary)")
    mime_code: str | None = Field(None, alias="BT-125-1", description="BT-125-1 MIME code")
    filename: str | None = Field(None, alias="BT-125-2", description="BT-125-2 filename")


class TermsAdjustment(_Model):
    """An early-payment discount or a late-payment penalty of a payment term (CII EXTENDED
    ApplicableTradePaymentDiscountTerms / ApplicableTradePaymentPenaltyTerms)."""

    basis_date: date | None = Field(None, alias="basis_date", description="BasisDateTime")
    period: Decimal | None = Field(None, alias="period", description="BasisPeriodMeasure (e.g. 14)")
    period_unit: str | None = Field(None, alias="period_unit", description="its unit (DAY, WEE, MON: UN/ECE Rec 20)")
    basis_amount: Decimal | None = Field(None, alias="basis_amount", description="BasisAmount")
    percent: Decimal | None = Field(None, alias="percent", description="CalculationPercent")
    amount: Decimal | None = Field(None, alias="amount", description="ActualDiscountAmount / ActualPenaltyAmount")


class PaymentTerm(_Model):
    """One payment term (CII EXTENDED repeats SpecifiedTradePaymentTerms: a due date with an
    early-payment discount, another without...). BT-9 / BT-20 summarise them for EN 16931."""

    description: str | None = Field(None, alias="BT-20", description="BT-20 text of this term")
    due_date: date | None = Field(None, alias="BT-9", description="BT-9 due date of this term")
    partial_amount: Decimal | None = Field(None, alias="partial_amount", description="PartialPaymentAmount")
    discount: TermsAdjustment | None = Field(None, alias="discount", description="early-payment discount")
    penalty: TermsAdjustment | None = Field(None, alias="penalty", description="late-payment penalty")


class LineNote(_Model):
    subject: str | None = Field(None, alias="EXT-FR-FE-183", description="EXT-FR-FE-183 line note subject")
    text: str | None = Field(None, alias="BT-127", description="BT-127 invoice line note (EXTENDED: a note may be a subject code only)")


class PriceDiscount(_Model):
    amount: Decimal = Field(..., alias="BT-147", description="BT-147 item price discount")
    reason: str | None = Field(None, alias="EXT-FR-FE-195")
    reason_code: str | None = Field(None, alias="EXT-FR-FE-196")


class ItemAttribute(_Model):
    """BG-32 item attribute."""

    code: str | None = Field(None, alias="EXT-FR-FE-159")
    name: str = Field(..., alias="BT-160", description="BT-160 item attribute name")
    value: str = Field(..., alias="BT-161", description="BT-161 item attribute value")
    measured_value: str | None = Field(None, alias="EXT-FR-FE-160")
    measured_unit: str | None = Field(None, alias="EXT-FR-FE-161")


class ReferencedProduct(_Model):
    """EXTENDED: a product included in a line's product (IncludedReferencedProduct: the items of a set)."""

    global_id: str | None = Field(None, alias="global_id")
    global_id_scheme: str | None = Field(None, alias="global_id_scheme")
    seller_id: str | None = Field(None, alias="seller_id")
    buyer_id: str | None = Field(None, alias="buyer_id")
    name: str | None = Field(None, alias="name")
    description: str | None = Field(None, alias="description")
    unit_quantity: Decimal | None = Field(None, alias="unit_quantity")
    unit: str | None = Field(None, alias="unit")


class DocumentReference(_Model):
    """A referenced document: its identifier and issue date (EXTENDED delivery note...)."""

    id: str = Field(..., alias="id")
    issue_date: date | None = Field(None, alias="issue_date")


class Line(_Model):
    """BG-25 invoice line (with BG-26 period, BG-29 price, BG-30 VAT, BG-31 item)."""

    id: str = Field(..., alias="BT-126", description="BT-126 invoice line identifier")
    notes: list[LineNote] = Field(default_factory=list, alias="BT-127-00", description="BT-127 line notes")
    object_id: dict[str, Any] | None = Field(None, alias="BT-128", description="BT-128 invoice line object identifier")
    parent_id: str | None = Field(None, alias="EXT-FR-FE-162", description="EXTENDED: the line this sub-line belongs to (ParentLineID)")
    status_reason: str | None = Field(None, alias="EXT-FR-FE-163",
                                      description="EXTENDED: DETAIL, GROUP or INFORMATION (LineStatusReasonCode)")
    quantity: Decimal | None = Field(None, alias="BT-129", description="BT-129 invoiced quantity")
    unit: str = Field("C62", alias="BT-130", description="BT-130 unit of measure (UN/ECE Rec 20)")
    net_amount: Decimal | None = Field(None, alias="BT-131", description="BT-131 invoice line net amount")
    order_line_ref: str | None = Field(None, alias="BT-132", description="BT-132 referenced purchase order line")
    accounting_ref: str | None = Field(None, alias="BT-133", description="BT-133 buyer accounting reference")
    period_start: date | None = Field(None, alias="BT-134", description="BT-134 line period start")
    period_end: date | None = Field(None, alias="BT-135", description="BT-135 line period end")
    allowances: list[AllowanceCharge] = Field(default_factory=list, alias="BG-27", description="BG-27 line allowances")
    charges: list[AllowanceCharge] = Field(default_factory=list, alias="BG-28", description="BG-28 line charges")
    net_price: Decimal | None = Field(None, alias="BT-146", description="BT-146 item net price")
    price_discounts: list[PriceDiscount] = Field(default_factory=list, alias="BT-147-00", description="BT-147 price discounts")
    gross_price: Decimal | None = Field(None, alias="BT-148", description="BT-148 item gross price")
    price_base_quantity: Decimal | None = Field(None, alias="BT-149", description="BT-149 item price base quantity")
    vat_category: str | None = Field(None, alias="BT-151", description="BT-151 invoiced item VAT category code")
    vat_rate: Decimal | None = Field(None, alias="BT-152", description="BT-152 invoiced item VAT rate")
    name: str = Field(..., alias="BT-153", description="BT-153 item name")
    description: str | None = Field(None, alias="BT-154", description="BT-154 item description")
    seller_item_id: str | None = Field(None, alias="BT-155", description="BT-155 item seller's identifier")
    buyer_item_id: str | None = Field(None, alias="BT-156", description="BT-156 item buyer's identifier")
    standard_item_id: str | None = Field(None, alias="BT-157", description="BT-157 item standard identifier")
    standard_item_scheme: str | None = Field(None, alias="BT-157-1", description="BT-157-1 scheme")
    classification: dict[str, Any] | None = Field(
        None, alias="BT-158", description="BT-158 item classification: {listID: {listVersionID or '': code}}")
    origin_country: str | None = Field(None, alias="BT-159", description="BT-159 item country of origin")
    attributes: list[ItemAttribute] = Field(default_factory=list, alias="BG-32", description="BG-32 item attributes")
    included_products: list[ReferencedProduct] = Field(default_factory=list, alias="included_products",
                                                       description="EXTENDED: the products the item is made of")
    package_quantity: Decimal | None = Field(None, alias="package_quantity", description="EXTENDED: PackageQuantity")
    package_unit: str | None = Field(None, alias="package_unit", description="EXTENDED: its unit (packaging code)")
    vat_exemption: str | None = Field(None, alias="vat_exemption", description="EXTENDED: the line's VAT exemption reason")
    vat_exemption_code: VatexCode = Field(None, alias="vat_exemption_code", description="EXTENDED: its VATEX code")

    # French CTC line extensions, kept verbatim (lossless) under their EXT-FR-FE ids.
    extensions: dict[str, Any] = Field(default_factory=dict, alias="extensions")

    @model_validator(mode="before")
    @classmethod
    def _collect_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("BT-128"), dict):
            data = {**data, "BT-128": _str_keys(data["BT-128"])}
        if isinstance(data, dict) and isinstance(data.get("BT-158"), dict):
            data = {**data, "BT-158": {("" if k is None else k): (_str_keys(v) if isinstance(v, dict) else v)
                                       for k, v in data["BT-158"].items()}}
        return _collect_ext(cls, data)

    @property
    def billed(self) -> bool:
        """A line of the invoice proper: not an EXTENDED GROUP heading or INFORMATION sub-line (which
        carry no amount of their own and have no place in EN 16931)."""
        return (self.status_reason or "").upper() not in ("GROUP", "INFORMATION")

    @model_validator(mode="after")
    def _complete_when_billed(self) -> Line:
        if self.billed:
            missing = [bt for bt, v in (("BT-129", self.quantity), ("BT-131", self.net_amount), ("BT-146", self.net_price),
                                        ("BT-151", self.vat_category)) if v is None]
            if missing:
                raise ValueError(f"{', '.join(missing)} required (only EXTENDED GROUP and INFORMATION sub-lines go without)")
        return self

    @model_validator(mode="after")
    def _explicit_price_discount(self) -> Line:
        # BT-147 is implied by BT-148 - BT-146 when a gross price is given; UBL always states it,
        # so the canonical form states it too (a CII -> UBL -> CII round trip is then exact).
        if self.gross_price is not None and self.net_price is not None and not self.price_discounts \
                and self.gross_price != self.net_price:
            self.price_discounts = [PriceDiscount.model_validate({"BT-147": self.gross_price - self.net_price})]
        if [(d.amount, d.reason, d.reason_code) for d in self.price_discounts] == [(0, None, None)]:
            self.price_discounts = []  # a zero discount says nothing (UBL states one with every gross price)
        return self


class Invoice(_Model):
    """BG-0: the invoice. Field order follows EN 16931."""

    number: str = Field(..., alias="BT-1", description="BT-1 invoice number")
    issue_date: date = Field(..., alias="BT-2", description="BT-2 invoice issue date")
    type_code: str = Field("380", alias="BT-3", description="BT-3 invoice type code (UNTDID 1001)")
    currency: str = Field(..., alias="BT-5", description="BT-5 invoice currency code")
    tax_currency: str | None = Field(None, alias="BT-6", description="BT-6 VAT accounting currency")
    tax_exchange: dict[str, Any] | None = Field(
        None, alias="tax_exchange", description="EXTENDED: VAT currency exchange {source, target, rate, date} (TaxApplicableTradeCurrencyExchange)")
    tax_point_date: date | None = Field(None, alias="BT-7", description="BT-7 VAT point date")
    tax_point_code: str | None = Field(None, alias="BT-8", description="BT-8 VAT point date code: invoice, delivery or payment")
    due_date: date | None = Field(None, alias="BT-9", description="BT-9 payment due date")
    buyer_reference: str | None = Field(None, alias="BT-10", description="BT-10 buyer reference (service code for public buyers)")
    project_reference: str | None = Field(None, alias="BT-11", description="BT-11 project reference")
    project_name: str | None = Field(None, alias="BT-11-0", description="BT-11 project name (CII)")
    contract_reference: str | None = Field(None, alias="BT-12", description="BT-12 contract reference")
    purchase_order_reference: str | None = Field(None, alias="BT-13", description="BT-13 purchase order reference")
    sales_order_reference: str | None = Field(None, alias="BT-14", description="BT-14 sales order reference")
    receiving_advice_reference: str | None = Field(None, alias="BT-15", description="BT-15 receiving advice reference")
    despatch_advice_reference: str | None = Field(None, alias="BT-16", description="BT-16 despatch advice reference")
    tender_references: list[str] = Field(default_factory=list, alias="BT-17", description="BT-17 tender or lot reference")
    invoiced_object: dict[str, Any] | None = Field(None, alias="BT-18", description="BT-18 invoiced object identifier")
    buyer_accounting_reference: str | None = Field(None, alias="BT-19", description="BT-19 buyer accounting reference")
    payment_terms: str | None = Field(None, alias="BT-20", description="BT-20 payment terms")
    payment_terms_detail: list[PaymentTerm] = Field(
        default_factory=list, alias="payment_terms_detail",
        description="EXTENDED: every payment term with its due date, discount and penalty (BT-9/BT-20 summarise them)")
    notes: list[Note] = Field(default_factory=list, alias="BG-1", description="BG-1 invoice notes")
    document_name: str | None = Field(None, alias="document_name", description="EXTENDED: the document's name (RECHNUNG...)")
    delivery_note: DocumentReference | None = Field(None, alias="delivery_note",
                                                    description="EXTENDED: the delivery note (DeliveryNoteReferencedDocument)")
    process_type: str | None = Field(None, alias="BT-23", description="BT-23 business process type (French invoicing mode)")
    specification: str = Field("urn:cen.eu:en16931:2017", alias="BT-24", description="BT-24 specification identifier")
    preceding_invoices: list[PrecedingInvoice] = Field(default_factory=list, alias="BG-3", description="BG-3 preceding invoices")
    seller: Party = Field(..., alias="BG-4", description="BG-4 seller")
    buyer: Party = Field(..., alias="BG-7", description="BG-7 buyer")
    payee: Party | None = Field(None, alias="BG-10", description="BG-10 payee")
    tax_representative: Party | None = Field(None, alias="BG-11", description="BG-11 seller tax representative")
    delivery: Party | None = Field(None, alias="BG-13", description="BG-13 delivery information (BT-70..BT-80)")
    delivery_date: date | None = Field(None, alias="BT-72", description="BT-72 actual delivery date")
    period_start: date | None = Field(None, alias="BT-73", description="BT-73 invoicing period start")
    period_end: date | None = Field(None, alias="BT-74", description="BT-74 invoicing period end")
    payment_means_code: str | None = Field(None, alias="BT-81", description="BT-81 payment means type code (UNTDID 4461)")
    payment_means_text: str | None = Field(None, alias="BT-82", description="BT-82 payment means text")
    remittance_information: str | None = Field(None, alias="BT-83", description="BT-83 remittance information")
    payment_account_id: str | None = Field(None, alias="BT-84", description="BT-84 payment account identifier (IBAN)")
    payment_account_name: str | None = Field(None, alias="BT-85", description="BT-85 payment account name")
    payment_service_provider: str | None = Field(None, alias="BT-86", description="BT-86 payment service provider (BIC)")
    card_number: str | None = Field(None, alias="BT-87", description="BT-87 payment card primary account number (last digits)")
    card_holder: str | None = Field(None, alias="BT-88", description="BT-88 payment card holder name")
    mandate_reference: str | None = Field(None, alias="BT-89", description="BT-89 mandate reference")
    creditor_id: str | None = Field(None, alias="BT-90", description="BT-90 bank assigned creditor identifier")
    debited_account: str | None = Field(None, alias="BT-91", description="BT-91 debited account identifier")
    additional_credit_transfers: list[dict[str, str]] = Field(
        default_factory=list, alias="BG-17-extra", description="BG-16/BG-17 repeated payment instructions beyond the first"
    )
    allowances: list[AllowanceCharge] = Field(default_factory=list, alias="BG-20", description="BG-20 document level allowances")
    charges: list[AllowanceCharge] = Field(default_factory=list, alias="BG-21", description="BG-21 document level charges")
    line_total: Decimal | None = Field(None, alias="BT-106", description="BT-106 sum of invoice line net amounts")
    allowance_total: Decimal | None = Field(None, alias="BT-107", description="BT-107 sum of allowances on document level")
    charge_total: Decimal | None = Field(None, alias="BT-108", description="BT-108 sum of charges on document level")
    tax_exclusive_amount: Decimal = Field(..., alias="BT-109", description="BT-109 invoice total amount without VAT")
    tax_amount: Decimal | None = Field(None, alias="BT-110", description="BT-110 invoice total VAT amount")
    tax_amount_accounting: Decimal | None = Field(None, alias="BT-111", description="BT-111 total VAT in accounting currency")
    tax_inclusive_amount: Decimal = Field(..., alias="BT-112", description="BT-112 invoice total amount with VAT")
    prepaid_amount: Decimal | None = Field(None, alias="BT-113", description="BT-113 paid amount")
    rounding_amount: Decimal | None = Field(None, alias="BT-114", description="BT-114 rounding amount")
    amount_due: Decimal = Field(..., alias="BT-115", description="BT-115 amount due for payment")
    vat_breakdown: list[VatBreakdown] = Field(default_factory=list, alias="BG-23", description="BG-23 VAT breakdown")
    attachments: list[Attachment] = Field(default_factory=list, alias="BG-24", description="BG-24 supporting documents")
    lines: list[Line] = Field(default_factory=list, alias="BG-25", description="BG-25 invoice lines")
    # French CTC and other extensions with no EN 16931 id, kept verbatim under their ids.
    extensions: dict[str, Any] = Field(default_factory=dict, alias="extensions")

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        # BG-16 may repeat (several credit transfers): the first fills BT-81..BT-86, the others
        # are kept in BG-17-extra so nothing is lost.
        keys = ("BT-81", "BT-82", "BT-83", "BT-84", "BT-85", "BT-86")
        if any(isinstance(data.get(k), list) for k in keys):
            n = max(len(data[k]) if isinstance(data.get(k), list) else 1 for k in keys if data.get(k) is not None)
            rows = [{k: (data[k][i] if isinstance(data.get(k), list) and i < len(data[k]) else (data.get(k) if not isinstance(data.get(k), list) else None))
                     for k in keys} for i in range(n)]
            rows = [{k: v for k, v in r.items() if v is not None} for r in rows]
            unique = []
            for r in rows:
                if r not in unique:
                    unique.append(r)
            for k in keys:
                data[k] = unique[0].get(k)
            data["BG-17-extra"] = list(data.get("BG-17-extra") or []) + unique[1:]
        # Several payment terms (EXTENDED): each kept in payment_terms_detail; BT-9 is the last due
        # date (the one for the full amount), BT-20 their texts, one per line.
        if isinstance(data.get("BT-9"), list) or isinstance(data.get("BT-20"), list):
            dues = data.get("BT-9") if isinstance(data.get("BT-9"), list) else [data.get("BT-9")]
            texts = data.get("BT-20") if isinstance(data.get("BT-20"), list) else [data.get("BT-20")]
            if not data.get("payment_terms_detail"):
                n = max(len(dues), len(texts))
                data["payment_terms_detail"] = [{"BT-20": texts[i] if i < len(texts) else None, "BT-9": dues[i] if i < len(dues) else None}
                                                for i in range(n)]
            real_dues = [d for d in dues if d]
            data["BT-9"] = max(real_dues) if real_dues else None
            data["BT-20"] = "\n".join(str(t).strip() for t in texts if t) or None
        if isinstance(data.get("BT-8"), str) and data["BT-8"] in ("5", "29", "72", "3", "35", "432"):
            data["BT-8"] = {"5": "invoice", "3": "invoice", "29": "delivery", "35": "delivery",
                            "72": "payment", "432": "payment"}[data["BT-8"]]
        if isinstance(data.get("BT-18"), dict):
            data["BT-18"] = _str_keys(data["BT-18"])
        if isinstance(data.get("BT-17"), str):
            data["BT-17"] = [data["BT-17"]]
        # The payee (BG-10) and tax representative (BG-11) have a name (BT-59, BT-62) and no
        # trading name; UBL carries that name in PartyName, which the parser reads as a trading name.
        # BT-90 travels in UBL as a seller (or payee) identifier with schemeID "SEPA".
        for group in ("BG-4", "BG-10"):
            party = data.get(group)
            ids = party.get("identifiers") if isinstance(party, dict) else None
            if isinstance(ids, dict) and "SEPA" in ids:  # the parser's {scheme: value} form
                data[group] = {**party, "identifiers": {k: v for k, v in ids.items() if k != "SEPA"}}
                data["BT-90"] = data.get("BT-90") or ids["SEPA"]
            elif isinstance(ids, list):
                sepa = [i for i in ids if isinstance(i, dict) and i.get("scheme") == "SEPA"]
                if sepa:
                    data[group] = {**party, "identifiers": [i for i in ids if i not in sepa]}
                    data["BT-90"] = data.get("BT-90") or sepa[0].get("id")
        for group in ("BG-10", "BG-11"):
            party = data.get(group)
            if isinstance(party, dict) and not party.get("name") and party.get("biz_name"):
                party = dict(party)
                party["name"] = party.pop("biz_name")
                data[group] = party
        return _collect_ext(cls, data)

    @property
    def is_credit_note(self) -> bool:
        return self.type_code in CREDIT_NOTE_TYPES

    @property
    def billed_lines(self) -> list[Line]:
        """The lines EN 16931 knows: EXTENDED GROUP and INFORMATION sub-lines left out."""
        return [ln for ln in self.lines if ln.billed]

    @property
    def profile(self) -> str:
        """The Factur-X profile implied by BT-24."""
        spec = self.specification.lower()
        for key, profile in (("minimum", "minimum"), ("basicwl", "basicwl"), ("extended", "extended"), ("basic", "basic")):
            if key in spec:
                return profile
        return "en16931"


def _str_keys(d: dict) -> dict:
    """Scheme-keyed dicts from the factur-x library use None for 'no scheme'; JSON needs str keys."""
    return {("" if k is None else str(k)): v for k, v in d.items()}


def _collect_ext(cls: type[BaseModel], data: Any) -> Any:
    """Move keys the model does not know (EXT-FR-FE-*, other extensions) into `extensions`."""
    if not isinstance(data, dict):
        return data
    known = set()
    for name, f in cls.model_fields.items():
        known.add(name)
        if f.alias:
            known.add(f.alias)
    extra = {k: v for k, v in data.items() if k not in known}
    if not extra:
        return data
    out = {k: v for k, v in data.items() if k in known}
    ext = dict(out.get("extensions") or {})
    ext.update(extra)
    out["extensions"] = ext
    return out
