"""The Chorus Pro client against its loopback fake (local/chorus.py), which answers as the documented
PISTE contract does, errors included: the token cached and renewed once on a 401, every call
checked for `codeRetour`, throttling and 5xx retryable, business refusals and bad credentials
permanent with Chorus Pro's own label; the structure's rules; a deposit; the sweep's paging."""
from __future__ import annotations

from pathlib import Path

import pytest

from facteur.delivery import oauth
from facteur.delivery.chorus_pro import ChorusPro, Credentials
from facteur.errors import PermanentError, RetryableError
from facteur.model.directory import ChorusConfig
from facteur_local.chorus import ChorusFake, Structure

ROOT = Path(__file__).resolve().parents[2]
SIRET = "21690000100018"


@pytest.fixture
def fake():
    f = ChorusFake(structures={SIRET: Structure(SIRET, 4242, "Mairie de Lyon", service_code_required=True,
                                                engagement_required=False, services={"SERV-TECH": True, "OLD": False})})
    oauth._TOKENS.clear()
    yield f
    f.stop()


def make(fake: ChorusFake, secret: str | None = None) -> ChorusPro:
    config = ChorusConfig(secret_id="facteur/chorus/atelier-dupont", token_url=f"{fake.url}/oauth/token",
                          api_base=f"{fake.url}/cpro")
    return ChorusPro(config, Credentials("chorus-client", secret or fake.client_secret, fake.login, fake.password, 12345))


def test_the_structure_rules_and_a_deposit(fake):
    cp = make(fake)
    rules = cp.structure_rules(SIRET)
    assert (rules.id_structure, rules.service_code_required, rules.engagement_required) == (4242, True, False)
    assert rules.active_services == frozenset({"SERV-TECH"})
    pdf = (ROOT / "demo" / "inbox" / "FA-2026-1201.pdf").read_bytes()
    flow = cp.deposit(pdf, "F-1")
    assert flow.startswith("CPP") and fake.deposits[0].filename == "F-1.pdf"
    dep = [r for r in fake.requests if r["path"].endswith("deposer/flux")][0]
    assert '"syntaxeFlux": "IN_DP_E2_CII_FACTURX"' in dep["body"] and dep["headers"]["cpro-account"]
    # one token for all these calls
    assert sum(1 for r in fake.requests if r["path"] == "/oauth/token") == 1


def test_an_expired_token_is_renewed_once(fake):
    cp = make(fake)
    cp.structure_rules(SIRET)
    fake.script = ["expire"]
    assert cp.structure_rules(SIRET).id_structure == 4242
    assert sum(1 for r in fake.requests if r["path"] == "/oauth/token") == 2


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retryable(fake, status):
    cp = make(fake)
    cp.structure_rules(SIRET)
    fake.script = [status]
    with pytest.raises(RetryableError) as exc:
        cp.structure_rules(SIRET)
    assert exc.value.code == f"chorus_http_{status}"


def test_refusals_are_permanent_with_chorus_pros_label(fake):
    with pytest.raises(PermanentError) as exc:
        make(fake, secret="wrong").structure_rules(SIRET)
    assert exc.value.code == "chorus_auth"
    cp = make(fake)
    with pytest.raises(PermanentError) as exc:
        cp.structure_rules("00000000000000")
    assert "knows no structure" in exc.value.message
    with pytest.raises(PermanentError) as exc:  # a flow that is not a Factur-X: codeRetour 20004 and its label
        cp.deposit(b"%PDF-1.4 not an invoice", "x.pdf")
    assert exc.value.code == "chorus_20004" and "illisible" in exc.value.message


def test_the_sweep_reads_every_page(fake):
    cp = make(fake)
    pdf = (ROOT / "demo" / "inbox" / "FA-2026-1201.pdf").read_bytes()
    for _ in range(3):
        cp.deposit(pdf, "F.pdf")
    fake.advance(fake.deposits[0].number, "MISE_A_DISPOSITION")
    import facteur.delivery.chorus_pro as mod

    calls = []
    original = ChorusPro.call

    def spy(self, path, body):
        calls.append(body.get("rechercheFactureParFournisseur"))
        body = {**body, "rechercheFactureParFournisseur": {**body["rechercheFactureParFournisseur"], "nbResultatsParPage": 2}} \
            if "rechercheFactureParFournisseur" in body else body
        return original(self, path, body)

    mod.ChorusPro.call = spy  # type: ignore[method-assign]
    try:
        found = cp.invoices_changed("2000-01-01T00:00", "2999-01-01T00:00")
    finally:
        mod.ChorusPro.call = original  # type: ignore[method-assign]
    assert len(found) == 3 and len(calls) == 2  # two pages of two
