"""The PA client (AFNOR XP Z12-013 flow and directory services) against its loopback fake
(local/pa.py), which answers as the Annex A swaggers say, errors included: the token cached and
renewed once on a 401, throttling and 5xx retryable, 4xx permanent with the platform's errorCode,
a submission idempotent by its tracking id, the search's strict `updatedAfter` and cursor paging,
the acknowledgement errors found after upload, the directory lines."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import requests

from facteur.delivery import oauth
from facteur.delivery.afnor import AfnorPlatform, Credentials
from facteur.errors import PermanentError, RetryableError
from facteur.model.directory import PaConfig
from facteur_local.pa import Line, PaFake

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "demo" / "inbox" / "FA-2026-1201.pdf"


@pytest.fixture
def fake():
    f = PaFake(lines={"552100554": Line("552100554", "552100554", "Hôtels du Rhône"),
                      "552100554_COMPTA": Line("552100554_COMPTA", "552100554", "Hôtels du Rhône", enabled=False)})
    oauth._TOKENS.clear()
    yield f
    f.stop()


def meta(pa: AfnorPlatform, flow_id: str) -> dict:
    flow = pa.flow(flow_id)
    assert flow is not None
    return flow


def make(fake: PaFake, secret: str | None = None) -> AfnorPlatform:
    config = PaConfig(name="PA Test", secret_id="facteur/pa/atelier-dupont", token_url=f"{fake.url}/token",
                      flow_api=f"{fake.url}/flow-service", directory_api=f"{fake.url}/directory-service",
                      organization_id="atelier-dupont")
    return AfnorPlatform(config, Credentials(fake.client_id, secret or fake.client_secret))


def test_a_submission_is_multipart_with_its_checksum_and_idempotent_by_tracking_id(fake):
    pa = make(fake)
    data = PDF.read_bytes()
    flow = pa.submit(data, "FA-2026-1201.pdf", syntax="Factur-X", tracking_id="inv_1.abc", profile="CIUS",
                     processing_rule="B2B")
    assert flow["flowId"].startswith("FLOW-") and flow["sha256"] == hashlib.sha256(data).hexdigest()
    post = next(r for r in fake.requests if r["method"] == "POST" and r["path"] == "/flow-service/v1/flows")
    assert post["headers"]["content-type"].startswith("multipart/form-data") and post["headers"]["organization-id"]
    assert post["headers"]["request-id"] and post["headers"]["authorization"].startswith("Bearer ")
    again = pa.submit(data, "FA-2026-1201.pdf", syntax="Factur-X", tracking_id="inv_1.abc")
    assert again["flowId"] == flow["flowId"]  # found by its tracking id: not sent twice
    invoices = [f for f in fake.flows if f.info["flowType"] == "CustomerInvoice"]
    assert len(invoices) == 1 and invoices[0].info["acknowledgement"] == {"status": "Ok"}
    # the platform's 200 (Déposée) comes as a lifecycle flow, found by the sweep key
    found = list(pa.search({"updatedAfter": "2000-01-01T00:00:00Z", "flowType": ["CustomerInvoiceLC"]}))
    assert [f["flowDirection"] for f in found] == ["In"]
    assert b"<ram:ProcessConditionCode>200</ram:ProcessConditionCode>" in pa.flow_file(found[0]["flowId"])
    assert meta(pa, found[0]["flowId"])["flowSyntax"] == "CDAR" and pa.flow("FLOW-nope") is None
    assert sum(1 for r in fake.requests if r["path"] == "/token") == 1  # one token for all these calls


def test_refusals_after_upload_are_the_flows_acknowledgement(fake):
    pa = make(fake)
    token = pa._token()
    data = PDF.read_bytes()
    info = json.dumps({"name": "x.pdf", "flowSyntax": "Factur-X", "sha256": "0" * 64, "trackingId": "t-1"})
    res = requests.post(f"{fake.url}/flow-service/v1/flows", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                        files=[("flowInfo", (None, info, "application/json")), ("file", ("x.pdf", data, "application/pdf"))])
    assert res.status_code == 202
    flow = meta(pa, res.json()["flowId"])
    assert flow["acknowledgement"]["status"] == "Error"
    assert flow["acknowledgement"]["details"][0]["reasonCode"] == "ChecksumMismatch"
    fake.reject_next = "Adresse de facturation inconnue"
    rejected = pa.submit(data, "y.pdf", syntax="Factur-X", tracking_id="t-2")
    assert meta(pa, rejected["flowId"])["acknowledgement"]["details"][0]["reasonMessage"] == "Adresse de facturation inconnue"
    unreadable = pa.submit(b"%PDF-1.4 not an invoice", "z.pdf", syntax="Factur-X", tracking_id="t-3")
    assert meta(pa, unreadable["flowId"])["acknowledgement"]["details"][0]["reasonCode"] == "InvalidSchema"


def test_an_expired_token_is_renewed_once(fake):
    pa = make(fake)
    assert pa.directory_line("552100554") is not None
    fake.script = ["expire"]
    assert pa.directory_line("552100554") is not None
    assert sum(1 for r in fake.requests if r["path"] == "/token") == 2


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retryable(fake, status):
    pa = make(fake)
    fake.script = [status]
    with pytest.raises(RetryableError) as exc:
        pa.directory_line("552100554")
    assert exc.value.code == f"pa_http_{status}"


def test_refusals_are_permanent_with_the_platforms_error_code(fake):
    with pytest.raises(PermanentError) as exc:
        make(fake, secret="wrong").directory_line("552100554")
    assert exc.value.code == "pa_auth"
    pa = make(fake)
    with pytest.raises(PermanentError) as exc:  # the search needs a criterion (400 MISSING_REQUIRED_FIELD)
        list(pa.search({}))
    assert exc.value.code == "pa_http_400" and "MISSING_REQUIRED_FIELD" in exc.value.message
    fake.script = [403]
    with pytest.raises(PermanentError) as exc:
        pa.directory_line("552100554")
    assert exc.value.code == "pa_http_403"


def test_the_search_is_strictly_after_and_reads_every_page(fake):
    pa = make(fake)
    data = PDF.read_bytes()
    for n in range(3):
        pa.submit(data, f"{n}.pdf", syntax="Factur-X", tracking_id=f"t-{n}")
    everything = list(pa.search({"updatedAfter": "2000-01-01T00:00:00Z"}))
    assert len(everything) == 6  # three invoices, three 200 statuses
    import facteur.delivery.afnor as mod

    pages = []
    original = mod.PAGE
    mod.PAGE = 4
    try:
        calls = len(fake.requests)
        assert len(list(pa.search({"updatedAfter": "2000-01-01T00:00:00Z"}))) == 6
        pages = [r for r in fake.requests[calls:] if r["path"].endswith("/search")]
    finally:
        mod.PAGE = original
    assert len(pages) == 2 and '"cursor"' in pages[1]["body"]
    last = everything[-1]["updatedAt"]
    assert list(pa.search({"updatedAfter": last})) == []  # strictly after


def test_the_directory_says_who_receives(fake):
    pa = make(fake)
    line = pa.directory_line("552100554")
    assert line is not None and line.enabled and line.platform_type == "WK" and line.name == "Hôtels du Rhône"
    disabled = pa.directory_line("552100554_COMPTA")
    assert disabled is not None and not disabled.enabled
    assert pa.directory_line("999999999") is None
    assert {x.address for x in pa.lines_for_siren("552100554")} == {"552100554", "552100554_COMPTA"}
    assert pa.lines_for_siren("999999999") == []


def test_a_supplier_reaches_platforms_with_its_own_secrets_only():
    """facteur/pa/<supplier id> or below it: not another supplier's, not one whose id starts the same."""
    from types import SimpleNamespace

    from facteur.pipeline.platforms import own_secret

    class Secrets:
        def get_secret_value(self, SecretId):
            return {"SecretString": "value"}

    ctx = SimpleNamespace(client=lambda name: Secrets())
    assert own_secret(ctx, "acme", "facteur/pa/acme", "pa", "PA") == "value"
    assert own_secret(ctx, "acme", "facteur/cxml/acme/ariba", "cxml", "cXML") == "value"
    for other in ("facteur/pa/acme-other", "facteur/pa/other", "facteur/chorus/acme", "pa/acme"):
        with pytest.raises(PermanentError) as exc:
            own_secret(ctx, "acme", other, "pa", "PA")
        assert exc.value.code == "pa_secret_forbidden"
