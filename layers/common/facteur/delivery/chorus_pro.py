"""Chorus Pro through PISTE (shared/docs/EXTERNAL_APIS.md §5): the public buyers' channel.

OAuth2 client credentials (token cached until a minute before it expires, asked again once on a
401), every call a JSON POST with `Authorization: Bearer` and `cpro-account:
base64(login:password)` (the technical account), every answer checked for `codeRetour` whatever
its HTTP status. Errors are classified: 429, 5xx, timeouts and network failures are retryable;
401/403 after a fresh token, 4xx and a `codeRetour` other than 0 (a business rejection: file too
large, unknown structure, mandatory service code...) are permanent, with Chorus Pro's own label.

The supplier's credentials are a Secrets Manager secret under its own prefix
(`facteur/chorus/<supplier id>`): `{"client_id", "client_secret", "login", "password", "user_id"}`."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from ..errors import PermanentError, RetryableError
from ..model.directory import ChorusConfig
from . import oauth

TIMEOUT_SECONDS = oauth.TIMEOUT_SECONDS
# Chorus Pro's invoice statuses -> the French lifecycle status it means for the supplier (None: a
# step of the buyer's internal workflow, recorded as the platform's word without a code).
STATUS_CODES: dict[str, int] = {
    "DEPOSEE": 200, "EN_COURS_ACHEMINEMENT": 201, "MISE_A_DISPOSITION": 203, "PRISE_EN_COMPTE_DESTINATAIRE": 204,
    "SERVICE_FAIT": 205, "MANDATEE": 205, "MISE_A_DISPOSITION_COMPTABLE": 205, "COMPTABILISEE": 205,
    "SUSPENDUE": 208, "COMPLETEE": 209, "REJETEE": 210, "A_RECYCLER": 213, "MISE_EN_PAIEMENT": 211,
}


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    login: str
    password: str
    user_id: int

    @classmethod
    def parse(cls, text: str) -> Credentials:
        try:
            d = json.loads(text)
            return cls(str(d["client_id"]), str(d["client_secret"]), str(d["login"]), str(d["password"]), int(d["user_id"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError("the Chorus Pro secret must hold client_id, client_secret, login, password and user_id",
                                 code="chorus_secret_invalid") from exc


@dataclass(frozen=True)
class StructureRules:
    id_structure: int
    service_code_required: bool
    engagement_required: bool
    active_services: frozenset[str]


class ChorusPro:
    def __init__(self, config: ChorusConfig, credentials: Credentials, session=None):
        import requests

        self.config, self.credentials = config, credentials
        self.token_url, self.api = config.urls()
        self.api = self.api.rstrip("/")
        self.http = session or requests.Session()

    # -- transport ------------------------------------------------------------------------------
    def _token(self, fresh: bool = False) -> str:
        return oauth.token(self.http, self.token_url, self.credentials.client_id, self.credentials.client_secret,
                           fresh=fresh, scope="openid", name="Chorus Pro (PISTE)", code="chorus")

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import requests

        account = base64.b64encode(f"{self.credentials.login}:{self.credentials.password}".encode()).decode()
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._token(fresh=attempt == 1)}", "cpro-account": account,
                       "Content-Type": "application/json;charset=utf-8", "Accept": "application/json"}
            try:
                res = self.http.post(f"{self.api}{path}", json=body, headers=headers, timeout=TIMEOUT_SECONDS)
            except requests.Timeout as exc:
                raise RetryableError(f"Chorus Pro: no answer within {TIMEOUT_SECONDS} s ({path})", code="chorus_timeout") from exc
            except requests.RequestException as exc:
                raise RetryableError(f"Chorus Pro could not be reached ({path})", code="chorus_unreachable") from exc
            if res.status_code == 401 and attempt == 0:
                continue  # the token expired early: once more with a fresh one
            break
        if res.status_code == 429 or res.status_code >= 500:
            raise RetryableError(f"Chorus Pro: HTTP {res.status_code} on {path}", code=f"chorus_http_{res.status_code}")
        try:
            data = res.json()
        except ValueError:
            data = {}
        label = data.get("libelle") or " ".join(res.text.split())[:200]
        if res.status_code != 200:
            raise PermanentError(f"Chorus Pro refused {path}: HTTP {res.status_code} {label}".strip(),
                                 code=f"chorus_http_{res.status_code}")
        if int(data.get("codeRetour", 0)) != 0:
            raise PermanentError(f"Chorus Pro refused {path}: {data.get('codeRetour')} {label}",
                                 code=f"chorus_{data.get('codeRetour')}")
        return data

    # -- the calls -------------------------------------------------------------------------------
    def structure_rules(self, siret: str) -> StructureRules:
        """The public buyer (by SIRET): must invoices carry a service code (BT-10) or an engagement
        number (BT-13), and which services are active."""
        found = self.call("/structures/v1/rechercher", {"structure": {"identifiantStructure": siret,
                                                                      "typeIdentifiantStructure": "SIRET"}})
        structures = found.get("listeStructures") or []
        if not structures:
            raise PermanentError(f"Chorus Pro knows no structure with SIRET {siret}", code="chorus_unknown_structure")
        sid = int(structures[0]["idStructureCPP"])
        params = self.call("/structures/v1/consulter", {"idStructureCPP": sid, "codeLangue": "fr"}).get("parametres") or {}
        services = self.call("/structures/v1/rechercher/services",
                             {"idStructure": sid, "parametresRechercherServicesStructure": {"nbResultatsParPage": 10000}})
        active = frozenset(s["codeService"] for s in services.get("listeServices") or [] if s.get("estActif", True))
        return StructureRules(sid, bool(params.get("codeServiceDoitEtreRenseigne")),
                              bool(params.get("numeroEJDoitEtreRenseigne")), active)

    def deposit(self, pdf: bytes, filename: str) -> str:
        """The Factur-X as a mixed E2 flow; Chorus Pro's flow number."""
        from ..formats.chorus import deposit_payload

        try:
            body = deposit_payload(pdf, filename, self.credentials.user_id)
        except ValueError as exc:
            raise PermanentError(str(exc), code="chorus_too_large") from exc
        return str(self.call("/factures/v1/deposer/flux", body)["numeroFluxDepot"])

    def invoices_changed(self, since: str, until: str) -> list[dict[str, Any]]:
        """Every invoice of the supplier whose status changed in [since, until] (the sweep key
        `dateHeureEtatCourant`), all pages."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            res = self.call("/factures/v1/rechercher/fournisseur", {
                "periodeDateHeureEtatCourantDu": since, "periodeDateHeureEtatCourantAu": until,
                "rechercheFactureParFournisseur": {"pageResultatDemandee": page, "nbResultatsParPage": 100}})
            out += res.get("listeFactures") or []
            paging = res.get("parametresRetour") or {}
            if page >= int(paging.get("pages", 1) or 1):
                return out
            page += 1
