"""Chorus Pro (PISTE) on loopback, as its documented contract says (shared/docs/EXTERNAL_APIS.md
§5): the OAuth token endpoint, `structures/v1/rechercher|consulter|rechercher/services`,
`factures/v1/deposer/flux` and `factures/v1/rechercher/fournisseur` with its paging and the sweep
key `dateHeureEtatCourant`. It checks what a real one checks (the bearer token and the
`cpro-account` header, the flow's syntax and size, the Factur-X inside), answers `codeRetour` and
`libelle`, and can be told to fail first (`script`: HTTP statuses, or "expire" to refuse the next
token as expired). The buyer's side moves an invoice along its statuses (`advance`)."""
from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from .loopback import Loopback, OAuthClients, QuietHandler


@dataclass
class Structure:
    siret: str
    id: int
    name: str
    service_code_required: bool = False
    engagement_required: bool = False
    services: dict[str, bool] = field(default_factory=dict)  # code -> active


@dataclass
class Deposit:
    flow: str
    invoice_id: int
    number: str
    filename: str
    pdf: bytes
    amount: str
    status: str = "DEPOSEE"
    changed_at: str = ""
    comment: str = ""
    history: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ChorusFake(Loopback, OAuthClients):
    client_id: str = "chorus-client"
    client_secret: str = "chorus-secret"
    login: str = "TECH_1_facteur@cpro.fr"
    password: str = "cpro-password"
    structures: dict[str, Structure] = field(default_factory=dict)
    script: list[int | str] = field(default_factory=list)
    now: Any = None  # callable -> aware datetime (the runtime's virtual clock)
    deposits: list[Deposit] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self
        self.lock = threading.Lock()
        self.tokens: set[str] = set()

        class Handler(QuietHandler):
            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake.lock:
                    fake.requests.append({"path": self.path, "headers": headers, "body": raw.decode("utf-8", "replace")})
                    scripted = fake.script.pop(0) if fake.script else None
                if isinstance(scripted, int):
                    return self._send(scripted, {"codeRetour": 500, "libelle": "scripted error"})
                if self.path == "/oauth/token":
                    return self._send(*fake.token(parse_qs(raw.decode())))
                if scripted == "expire" or headers.get("authorization", "").removeprefix("Bearer ") not in fake.tokens:
                    return self._send(401, {"error": "invalid_token"})
                account = base64.b64encode(f"{fake.login}:{fake.password}".encode()).decode()
                if headers.get("cpro-account") != account:
                    return self._send(401, {"codeRetour": 401, "libelle": "cpro-account invalide"})
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._send(400, {"codeRetour": 400, "libelle": "JSON invalide"})
                return self._send(200, fake.answer(self.path, body))

        self.serve(Handler)

    @property
    def url(self) -> str:
        return self.base_url

    def _now(self) -> str:
        """Chorus Pro's times: Paris local time, to the minute, without an offset."""
        now = self.now() if self.now else datetime.now().astimezone()
        return now.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%dT%H:%M")

    # -- the contract --------------------------------------------------------------------------
    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        ok = {"codeRetour": 0, "libelle": "GCU_MSG_01_000"}
        if path == "/cpro/structures/v1/rechercher":
            siret = ((body.get("structure") or {}).get("identifiantStructure") or "")
            s = self.structures.get(siret)
            return {**ok, "listeStructures": [{"idStructureCPP": s.id, "designationStructure": s.name}] if s else []}
        if path == "/cpro/structures/v1/consulter":
            s = next((x for x in self.structures.values() if x.id == body.get("idStructureCPP")), None)
            if s is None:
                return {"codeRetour": 20002, "libelle": "GCU_MSG_06_001 structure inconnue"}
            return {**ok, "parametres": {"codeServiceDoitEtreRenseigne": s.service_code_required,
                                         "numeroEJDoitEtreRenseigne": s.engagement_required}}
        if path == "/cpro/structures/v1/rechercher/services":
            s = next((x for x in self.structures.values() if x.id == body.get("idStructure")), None)
            return {**ok, "listeServices": [{"codeService": c, "libelleService": c, "estActif": a, "idService": i}
                                            for i, (c, a) in enumerate((s.services if s else {}).items())]}
        if path == "/cpro/factures/v1/deposer/flux":
            return self._deposit(body)
        if path == "/cpro/factures/v1/rechercher/fournisseur":
            return self._search(body)
        return {"codeRetour": 404, "libelle": f"service inconnu {path}"}

    def _deposit(self, body: dict[str, Any]) -> dict[str, Any]:
        from facteur.formats.reader import read_document

        if body.get("syntaxeFlux") != "IN_DP_E2_CII_FACTURX":
            return {"codeRetour": 20003, "libelle": f"syntaxe {body.get('syntaxeFlux')} non attendue"}
        pdf = base64.b64decode(body.get("fichierFlux") or "")
        if len(pdf) > 10 * 1024 * 1024:
            return {"codeRetour": 20001, "libelle": "GDP_MSG_11.022 fichier trop volumineux"}
        try:
            inv = read_document(pdf).invoice
        except Exception:  # noqa: BLE001 - what Chorus answers for a flow it cannot read
            return {"codeRetour": 20004, "libelle": "flux illisible : pas de Factur-X"}
        with self.lock:
            flow = f"CPP{len(self.deposits) + 1:022d}"
            d = Deposit(flow, 900000 + len(self.deposits), inv.number, body.get("nomFichier", ""), pdf,
                        str(inv.amount_due), changed_at=self._now())
            d.history.append(("DEPOSEE", d.changed_at))
            self.deposits.append(d)
        return {"codeRetour": 0, "libelle": "GCU_MSG_01_000", "numeroFluxDepot": flow,
                "dateDepot": d.changed_at[:10], "syntaxeFlux": "IN_DP_E2_CII_FACTURX"}

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        since, until = body.get("periodeDateHeureEtatCourantDu", ""), body.get("periodeDateHeureEtatCourantAu", "~")
        paging = body.get("rechercheFactureParFournisseur") or {}
        page, size = int(paging.get("pageResultatDemandee", 1)), int(paging.get("nbResultatsParPage", 100))
        with self.lock:
            found = [d for d in self.deposits if since <= d.changed_at <= until]
        pages = max(1, -(-len(found) // size))
        chunk = found[(page - 1) * size: page * size]
        return {"codeRetour": 0, "libelle": "GCU_MSG_01_000",
                "listeFactures": [{"identifiantFactureCPP": d.invoice_id, "numeroFacture": d.number, "statut": d.status,
                                   "dateHeureEtatCourant": d.changed_at, "montantTTC": d.amount,
                                   "numeroFluxDepot": d.flow, "commentaireEtatCourant": d.comment} for d in chunk],
                "parametresRetour": {"pageCourante": page, "pages": pages, "nbResultatsParPage": size, "total": len(found)}}

    # -- the buyer's side ------------------------------------------------------------------------
    def advance(self, number: str, status: str, comment: str = "") -> None:
        with self.lock:
            d = next(x for x in self.deposits if x.number == number)
            d.status, d.comment, d.changed_at = status, comment, self._now()
            d.history.append((status, d.changed_at))
