"""The French reform (BR-FR, Flux 2) around the official rules: when they apply, and the
supplier's opt-in auto-completion of the mandatory notes (PMT, PMD, AAB) and BT-23."""
from __future__ import annotations

from ..model.directory import Supplier
from ..model.invoice import Invoice, Note

# Statutory texts (Code de commerce L441-10) used when the supplier has not given its own.
DEFAULT_NOTES = {
    "PMT": "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 €.",
    "PMD": "En cas de retard de paiement, des pénalités sont exigibles au taux de trois fois le taux d'intérêt légal.",
    "AAB": "Pas d'escompte pour paiement anticipé.",
}


def french_rules_apply(inv: Invoice) -> bool:
    """BR-FR rules are checked for French sellers (country FR or an FR VAT number)."""
    s = inv.seller
    return (s.country or "").upper() == "FR" or (s.vat_id or "").upper().startswith("FR")


def auto_complete(inv: Invoice, supplier: Supplier) -> tuple[Invoice, dict[str, str]]:
    """The invoice with the missing mandatory mentions added, and what was added (BT id/code -> text).
    Only for suppliers that opted in; nothing is ever overwritten."""
    if not supplier.auto_complete_notes or not french_rules_apply(inv):
        return inv, {}
    present = {n.subject for n in inv.notes if n.subject}
    added: dict[str, str] = {}
    notes = list(inv.notes)
    for code in ("PMT", "PMD", "AAB"):
        if code not in present:
            text = supplier.default_notes.get(code) or DEFAULT_NOTES[code]
            notes.append(Note.model_validate({"BT-21": code, "BT-22": text}))
            added[f"BT-22/{code}"] = text
    update: dict = {"notes": notes}
    if not inv.process_type and supplier.default_process_type:
        update["process_type"] = supplier.default_process_type
        added["BT-23"] = supplier.default_process_type
    return (inv.model_copy(update=update) if added else inv), added
