"""Chorus Pro deposit payload (PISTE `POST /cpro/factures/v1/deposer/flux`): the Factur-X PDF
as a mixed E2 flow (`IN_DP_E2_CII_FACTURX`, not E1: see shared/docs/EXTERNAL_APIS.md §5).
Public buyers need BT-10 (the service code) or a PO (BT-13), which the customer check enforces."""
from __future__ import annotations

import base64

SYNTAX_FACTURX = "IN_DP_E2_CII_FACTURX"
MAX_BYTES = 10 * 1024 * 1024  # Chorus Pro's file limit


def deposit_payload(pdf: bytes, filename: str, user_id: int) -> dict:
    if len(pdf) > MAX_BYTES:
        raise ValueError(f"the Factur-X PDF is {len(pdf)} bytes, over Chorus Pro's 10 MB limit")
    if not filename.lower().endswith(".pdf"):
        filename += ".pdf"
    return {"fichierFlux": base64.b64encode(pdf).decode("ascii"), "nomFichier": filename,
            "syntaxeFlux": SYNTAX_FACTURX, "avecSignature": False, "idUtilisateurCourant": int(user_id)}
