"""Regenerate demo/inbox/: what the demo supplier's billing system drops or posts.

    .venv/bin/python demo/make_inbox.py

The files are committed (the demo feeds them as they are); this script documents how they
were made: invoices built in the canonical model, written by Facteur's CII/UBL writers and
Factur-X generator, plus the broken and duplicate files a real billing system also produces.
Dates are in December 2026, where the demo's virtual clock starts."""
from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from facteur.formats import cii, facturx, ubl
from facteur.model.invoice import Invoice

HERE = Path(__file__).resolve().parent
INBOX = HERE / "inbox"
ISSUE = date(2026, 12, 1)
CENT = Decimal("0.01")

SELLER = {
    "name": "Atelier Dupont SARL", "legal_id": "732829320", "legal_id_scheme": "0002", "vat_id": "FR44732829320",
    "electronic_address": "732829320", "electronic_address_scheme": "0225",
    "line1": "12 rue des Tanneurs", "city": "Lyon", "postcode": "69002", "country": "FR",
    "contacts": [{"name": "Service facturation", "email": "facturation@atelier-dupont.example"}],
}
BUYERS = {
    "boulangerie-martin": {"name": "Boulangerie Martin SAS", "legal_id": "552100554", "legal_id_scheme": "0002",
                           "vat_id": "FR96552100554", "electronic_address": "552100554",
                           "electronic_address_scheme": "0225", "line1": "4 place du Marché", "city": "Villeurbanne",
                           "postcode": "69100", "country": "FR"},
    "nordwind": {"name": "Nordwind Logistics GmbH", "vat_id": "DE129273398", "electronic_address": "DE129273398",
                 "electronic_address_scheme": "9930", "line1": "Hafenstraße 8", "city": "Hamburg",
                 "postcode": "20457", "country": "DE"},
    "groupe-hexa": {"name": "Groupe Hexa SA", "legal_id": "542051180", "legal_id_scheme": "0002",
                    "vat_id": "FR59542051180", "electronic_address": "542051180",
                    "electronic_address_scheme": "0225", "line1": "1 esplanade de la Défense", "city": "Puteaux",
                    "postcode": "92800", "country": "FR"},
    "cafe-lumiere": {"name": "Café Lumière SARL", "legal_id": "812345619", "legal_id_scheme": "0002",
                     "vat_id": "FR42812345619", "electronic_address": "812345619",
                     "electronic_address_scheme": "0225", "line1": "18 quai Saint-Antoine", "city": "Lyon",
                     "postcode": "69002", "country": "FR"},
    "brasserie-du-port": {"name": "Brasserie du Port SAS", "legal_id": "812345627", "legal_id_scheme": "0002",
                          "vat_id": "FR66812345627", "electronic_address": "812345627",
                          "electronic_address_scheme": "0225", "line1": "2 quai Rambaud", "city": "Lyon",
                          "postcode": "69002", "country": "FR"},
    "hotels-du-rhone": {"name": "Hôtels du Rhône SA", "legal_id": "443061841", "legal_id_scheme": "0002",
                        "vat_id": "FR64443061841", "electronic_address": "443061841",
                        "electronic_address_scheme": "0225", "line1": "30 quai Perrache", "city": "Lyon",
                        "postcode": "69002", "country": "FR"},
    "mairie-de-lyon": {"name": "Mairie de Lyon", "legal_id": "216900001", "legal_id_scheme": "0002",
                       "vat_id": "FR56216900001", "electronic_address": "216900001",
                       "electronic_address_scheme": "0225", "line1": "1 place de la Comédie", "city": "Lyon",
                       "postcode": "69001", "country": "FR"},
}
NOTES = [
    {"subject": "PMT", "text": "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 €."},
    {"subject": "PMD", "text": "Pénalités de retard : trois fois le taux d'intérêt légal."},
    {"subject": "AAB", "text": "Pas d'escompte pour paiement anticipé."},
]


def invoice(number: str, buyer: str, lines: list[tuple[str, str, str]], *, po: str | None = None,
            days: int = 30, issue: date = ISSUE, buyer_reference: str | None = None,
            corrects: tuple[str, date] | None = None) -> Invoice:
    """lines: (name, quantity, unit net price), all at 20 % VAT."""
    body, total = [], Decimal("0")
    for i, (name, qty, price) in enumerate(lines, 1):
        net = (Decimal(qty) * Decimal(price)).quantize(CENT, ROUND_HALF_UP)
        total += net
        body.append({"id": str(i), "quantity": qty, "unit": "C62", "net_amount": str(net), "net_price": price,
                     "vat_category": "S", "vat_rate": "20.00", "name": name})
    tax = (total * Decimal("0.20")).quantize(CENT, ROUND_HALF_UP)
    return Invoice.model_validate({
        "number": number, "issue_date": issue, "type_code": "380", "currency": "EUR",
        "due_date": issue + timedelta(days=days), "purchase_order_reference": po, "buyer_reference": buyer_reference,
        "payment_terms": f"Paiement à {days} jours", "notes": NOTES, "process_type": "S1",
        "seller": SELLER, "buyer": BUYERS[buyer], "payment_means_code": "58",
        "payment_account_id": "FR7630006000011234567890189", "remittance_information": number,
        "line_total": str(total), "tax_exclusive_amount": str(total), "tax_amount": str(tax),
        "tax_inclusive_amount": str(total + tax), "prepaid_amount": "0.00", "amount_due": str(total + tax),
        "vat_breakdown": [{"taxable_amount": str(total), "tax_amount": str(tax), "category": "S", "rate": "20.00"}],
        "lines": body,
        "preceding_invoices": [{"number": corrects[0], "issue_date": corrects[1]}] if corrects else [],
    })


def main() -> None:
    INBOX.mkdir(exist_ok=True)
    fx = invoice("FA-2026-1201", "boulangerie-martin",
                 [("Révision four à sole", "1", "480.00"), ("Joint de porte four", "2", "36.50")])
    (INBOX / "FA-2026-1201.pdf").write_bytes(facturx.generate(fx, profile="en16931", pdf=None, lang="fr"))
    c = invoice("FA-2026-1202", "nordwind", [("Pallet racking inspection", "3", "210.00")], po="NW-88213")
    (INBOX / "FA-2026-1202.xml").write_bytes(cii.write(c, profile="en16931"))
    # The billing system exports the same invoice a second time, under another name.
    (INBOX / "FA-2026-1202-export2.xml").write_bytes(cii.write(c, profile="en16931"))
    u = invoice("FA-2026-1203", "groupe-hexa", [("Maintenance annuelle - lot 2", "1", "1250.00"),
                                                ("Déplacement technicien", "2", "85.00")], po="HX-PO-4471", days=45)
    (INBOX / "FA-2026-1203.ubl.xml").write_bytes(ubl.write(u))
    j = invoice("FA-2026-1204", "boulangerie-martin", [("Contrat d'entretien décembre", "1", "150.00")])
    (INBOX / "FA-2026-1204.json").write_text(
        json.dumps(json.loads(j.model_dump_json(by_alias=True, exclude_none=True)), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8")
    held = invoice("FA-2026-1205", "groupe-hexa", [("Pièces détachées", "4", "62.00")])  # Hexa requires a PO (BT-13)
    (INBOX / "FA-2026-1205.ubl.xml").write_bytes(ubl.write(held))
    (INBOX / "export-truncated.xml").write_bytes(cii.write(c, profile="en16931")[:700])
    cafe = invoice("FA-2026-1206", "cafe-lumiere", [("Machine à café - maintenance trimestrielle", "1", "420.00"),
                                                    ("Moulin - remplacement meules", "1", "180.00")])
    (INBOX / "FA-2026-1206.xml").write_bytes(cii.write(cafe, profile="en16931"))
    # The Mairie de Lyon receives its invoices through Chorus Pro, with its service code (BT-10)
    m = invoice("FA-2026-1209", "mairie-de-lyon", [("Entretien fontaines - décembre", "1", "850.00")],
                buyer_reference="SERV-TECH")
    (INBOX / "FA-2026-1209.json").write_text(
        json.dumps(json.loads(m.model_dump_json(by_alias=True, exclude_none=True)), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8")
    # Hôtels du Rhône receives through the French network (its PA) as well as by e-mail and on its
    # API; it refuses FA-2026-1210 (wrong order number), corrected by FA-2026-1211 (BG-3 -> 1210)
    hr = [("Révision chambres froides - cuisine centrale", "1", "640.00"), ("Filtres à graisse", "4", "22.50")]
    for number, po, issue, corrects in (("FA-2026-1210", "HR-PO-0001", ISSUE, None),
                                        ("FA-2026-1211", "HR-PO-7781", ISSUE + timedelta(days=4), ("FA-2026-1210", ISSUE))):
        h = invoice(number, "hotels-du-rhone", hr, po=po, issue=issue, corrects=corrects)
        (INBOX / f"{number}.xml").write_bytes(cii.write(h, profile="en16931"))
    # Brasserie du Port prefers one statement of account to a reminder per invoice
    for number, days, item in (("FA-2026-1207", 30, ("Détartrage machine à bière", "1", "260.00")),
                               ("FA-2026-1208", 40, ("Joints de tireuse (lot de 6)", "2", "45.00"))):
        b = invoice(number, "brasserie-du-port", [item], days=days)
        (INBOX / f"{number}.json").write_text(
            json.dumps(json.loads(b.model_dump_json(by_alias=True, exclude_none=True)), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8")
    print(f"wrote {len(list(INBOX.iterdir()))} files to {INBOX}")


if __name__ == "__main__":
    main()
