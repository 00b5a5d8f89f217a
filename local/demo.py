"""`facteur demo`: the main job, end to end, on the embedded runtime.

The demo supplier's billing system drops files into the inbound bucket and posts one invoice to
the API; Facteur reads, checks, converts and e-mails them; the virtual clock then runs five
weeks: recipients open their signed links (through the local API), one customer misses the
download deadline and gets a reminder, one address bounces, the supplier reports payments.
Everything lands in the output folder: produced documents, e-mails (.eml), downloads,
originals, timeline.json and the summary. Exit 0 when every expected outcome happened.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from .runtime import DEFAULT_START, ROOT, LocalRuntime

PARIS = ZoneInfo("Europe/Paris")

SUPPLIER = "atelier-dupont"
API_KEY = "demo-key-atelier-dupont"
INBOX = ROOT / "demo" / "inbox"
DIRECTORY = ROOT / "config" / "demo-directory.yaml"
MARKER = ".facteur-demo"
# Milestones each story must show on its timeline.
EXPECTED_MILESTONES = {
    "FA-2026-1201": ["deposited", "converted", "sent", "delivered", "downloaded", "paid"],
    "FA-2026-1202": ["deposited", "converted", "sent", "delivered", "reminded", "downloaded", "overdue", "paid"],
    # Groupe Hexa's old archive address bounces: an hour later its fallback has the invoice, the supplier an alert
    "FA-2026-1203": ["deposited", "converted", "sent", "bounced", "scenario_step", "alerted", "downloaded", "taken_in_charge",
                     "approved", "paid"],
    "FA-2026-1204": ["deposited", "converted", "sent", "delivered", "downloaded", "paid"],
    "FA-2026-1205": ["held"],
    # Café Lumière follows the supplier's `standard` scenario (config/demo-directory.yaml)
    "FA-2026-1206": ["deposited", "converted", "sent", "delivered", "downloaded", "scenario_step", "reminded", "disputed",
                     "resolved", "partially_paid", "formal_notice", "handed_off", "paid"],
}
EXPECTED_MILESTONES["FA-2026-1209"] = ["deposited", "converted", "sent", "platform_status", "delivered", "payment_sent", "paid"]
# Hôtels du Rhône (PA, e-mail and webhook): 1210 refused by the buyer (210 by CDAR), corrected by 1211
EXPECTED_MILESTONES["FA-2026-1210"] = ["deposited", "sent", "delivered", "platform_status", "refused", "superseded"]
EXPECTED_MILESTONES["FA-2026-1211"] = ["corrects", "deposited", "sent", "delivered", "platform_status", "approved", "paid",
                                       "status_reported"]
# The scenario actions FA-2026-1206 must have had, in order (each once).
EXPECTED_ACTIONS = ["ask_validator", "courtesy_reminder", "reminder", "reminder", "formal_notice", "hand_off"]

# What must have happened by the end (invoice number or file name -> final status).
EXPECTED = {"FA-2026-1201": "paid", "FA-2026-1202": "paid", "FA-2026-1203": "paid", "FA-2026-1204": "paid",
            "FA-2026-1205": "held", "FA-2026-1206": "paid", "FA-2026-1207": "paid", "FA-2026-1208": "paid",
            "FA-2026-1209": "paid", "FA-2026-1210": "refused", "FA-2026-1211": "paid",
            "FA-2026-1202-export2.xml": "duplicate", "export-truncated.xml": "rejected"}


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)


class Demo:
    def __init__(self, out: Path, rt: LocalRuntime, chorus=None, pa=None):
        self.out, self.rt, self.chorus, self.pa = out, rt, chorus, pa
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {API_KEY}"
        self.report = Report()
        self.wall = time.monotonic()
        self.digest_shown = False
        self.channels = ""

    # -- output ----------------------------------------------------------------------------
    def say(self, msg: str, at: datetime | None = None) -> None:
        when = (at or self.rt.now()).astimezone(PARIS)
        print(f"  [{when:%a %d %b %H:%M} Paris | {time.monotonic() - self.wall:5.1f}s] {msg}", flush=True)

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return self.http.request(method, f"{self.rt.api_url}{path}", timeout=120, **kw)

    def invoices(self) -> dict[str, dict]:
        """Every invoice of the supplier, through the API (GET /invoices), keyed by number or file."""
        out, cursor = {}, None
        while True:
            page = self.api("GET", "/invoices", params={"limit": 50, **({"cursor": cursor} if cursor else {})}).json()
            for inv in page["invoices"]:
                key = inv["original_name"] if inv["status"] in ("duplicate", "rejected") else inv["number"]
                out[key] = inv
            cursor = page.get("cursor")
            if not cursor:
                return out

    # -- the story -------------------------------------------------------------------------
    def intake(self) -> None:
        for name in ["FA-2026-1201.pdf", "FA-2026-1202.xml", "FA-2026-1203.ubl.xml", "FA-2026-1205.ubl.xml",
                     "FA-2026-1206.xml", "FA-2026-1207.json", "FA-2026-1208.json", "FA-2026-1209.json",
                     "FA-2026-1210.xml", "export-truncated.xml"]:
            self.rt.drop(SUPPLIER, INBOX / name)
            self.say(f"billing system dropped s3://…/in/{SUPPLIER}/{name}")
        body = (INBOX / "FA-2026-1204.json").read_bytes()
        headers = {"Content-Type": "application/json", "Idempotency-Key": "erp-export-1204", "X-Filename": "FA-2026-1204.json"}
        first = self.api("POST", "/invoices", data=body, headers=headers)
        again = self.api("POST", "/invoices", data=body, headers=headers)
        self.say(f"ERP posted FA-2026-1204.json to POST /invoices: HTTP {first.status_code} {first.json()}")
        self.say(f"ERP retried with the same Idempotency-Key: HTTP {again.status_code}, same invoice "
                 f"{again.json().get('invoice_id') == first.json().get('invoice_id')}")
        self.report.expect(first.status_code == 202 and again.status_code == 200
                           and again.json().get("invoice_id") == first.json().get("invoice_id"), "API idempotent replay")
        self.rt.settle()
        self.rt.drop(SUPPLIER, INBOX / "FA-2026-1202-export2.xml")
        self.say("billing system dropped FA-2026-1202-export2.xml (the same invoice, exported twice)")
        self.rt.settle()
        invs = self.invoices()
        for key, inv in sorted(invs.items()):
            why = f" - {inv['reason']}" if inv.get("reason") else ""
            if inv["status"] == "held":
                why = " - " + "; ".join(f"{f['rule']}: {f['message']}" for f in inv["findings"] if f["severity"] == "error")
            self.say(f"{key:28} -> {inv['status']}{why}")
        self.say(f"{len(self.rt.outbox.mails)} e-mails sent; SES events: "
                 f"{sum(len(m.events) for m in self.rt.outbox.mails)} ({', '.join(sorted({e for m in self.rt.outbox.mails for e in m.events}))})")

    def open_link(self, number: str, address: str) -> None:
        """A recipient clicks the last link it received for this invoice (through the local API)."""
        inv = self.invoices()[number]
        mails = [m for m in self.rt.outbox.mails if m.tags.get("invoice_id") == inv["invoice_id"] and address in m.to]
        if not mails:
            self.report.expect(False, f"no e-mail to {address} for {number}")
            return
        link = mails[-1].links()[0]
        hop = requests.get(link, allow_redirects=False, timeout=60)
        self.report.expect(hop.status_code == 302, f"{number}: download link answered {hop.status_code}")
        if hop.status_code != 302:
            return
        pdf = requests.get(hop.headers["Location"], timeout=60)
        target = self.out / "downloads" / f"{number}-{address.split('@')[0]}.pdf"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pdf.content)
        self.say(f"{address} opened the signed link of {number}: 302 -> presigned S3 URL -> "
                 f"{len(pdf.content)} bytes ({target.relative_to(self.out)})")

    def pay(self, number: str, reference: str) -> None:
        inv = self.invoices()[number]
        res = self.api("POST", f"/invoices/{inv['invoice_id']}/events",
                       json={"kind": "paid", "amount": inv["amount_due"], "reference": reference})
        self.report.expect(res.status_code == 200, f"{number}: payment report answered {res.status_code}")
        self.say(f"supplier reported {number} paid ({inv['amount_due']} {inv['currency']}, {reference}): "
                 f"HTTP {res.status_code}, status {res.json().get('status')}")

    def forward_status(self, number: str, source_file: str, code: int) -> None:
        """The supplier's platform forwards a status the buyer set, as the CDAR message it received."""
        from facteur.formats import cdar
        from facteur.formats.reader import read_document

        inv = self.invoices()[number]
        invoice = read_document((INBOX / source_file).read_bytes()).invoice
        msg = cdar.message_for(invoice, code, at=self.rt.now(), message_id=f"CDV-{number}-{code}")
        data = cdar.write(msg)
        target = self.out / "lifecycle" / f"{number}-{code}.xml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        res = self.api("POST", f"/invoices/{inv['invoice_id']}/lifecycle", data=data, headers={"Content-Type": "application/xml"})
        self.report.expect(res.status_code == 200, f"{number}: lifecycle {code} answered {res.status_code} {res.text[:200]}")
        self.say(f"the platform forwarded the buyer's {code} ({msg.statuses[0].label}) for {number} as CDAR "
                 f"({target.relative_to(self.out)}): HTTP {res.status_code}, status {res.json().get('status')}")

    def report_event(self, number: str, body: dict, what: str, path: str = "events") -> None:
        """The supplier reports an event (or forwards a lifecycle status); what it sets off is shown."""
        inv = self.invoices()[number]
        before = len(self.rt.outbox.mails)
        res = self.api("POST", f"/invoices/{inv['invoice_id']}/{path}", json=body)
        self.report.expect(res.status_code == 200, f"{number}: {what} answered {res.status_code} {res.text[:200]}")
        self.say(f"{what} for {number}: HTTP {res.status_code}, status {res.json().get('status')}")
        self.rt.settle()
        self.mails_since(before)

    def lifecycle(self, number: str, body: dict, what: str) -> None:
        self.report_event(number, body, what, path="lifecycle")

    def mails_since(self, before: int) -> None:
        for m in self.rt.outbox.mails[before:]:
            if m.tags.get("purpose", "").startswith("digest-"):  # the supplier's daily digest: said once
                if not self.digest_shown:
                    self.say(f"mail to {', '.join(m.to)}: {m.subject} (the daily worklist digest, every morning "
                             "while something needs a person)", at=m.sent_at)
                    self.digest_shown = True
                continue
            files = [name for name, _ in m.attachments()]
            self.say(f"mail to {', '.join(m.to)}: {m.subject} [{', '.join(m.events)}]"
                     + (f" + {', '.join(files)}" if files else ""), at=m.sent_at)

    def mass_remind(self) -> None:
        """The supplier reminds every overdue invoice of one customer at once, with the CLI (a job
        run by the jobs state machine, followed with a progress bar)."""
        from facteur.cli import main as facteur

        args = ["actions", "run", "remind", "--customer", "brasserie-du-port", "--overdue", "--api", self.rt.api_url,
                "--key", API_KEY, "--reason", "relance groupée du 3 janvier", "--poll", "0.2"]
        self.say("$ facteur actions run remind --customer brasserie-du-port --overdue --dry-run")
        self.report.expect(facteur([*args, "--dry-run"]) == 0, "facteur actions --dry-run failed")
        before = len(self.rt.outbox.mails)
        self.say("$ facteur actions run remind --customer brasserie-du-port --overdue")
        code = facteur(args)
        self.report.expect(code == 0, f"facteur actions run answered {code}")
        self.rt.settle()
        self.mails_since(before)
        self.report.expect(len(self.rt.outbox.mails) - before == 1, "the mass reminder should reach FA-2026-1207 only")

    def chorus_status(self, number: str, status: str) -> None:
        """The public buyer's side of Chorus Pro moves the invoice; the next sweep records it."""
        self.chorus.advance(number, status)
        self.say(f"Chorus Pro: {number} is now {status} (the 6-hourly sweep follows)")

    def pa_status(self, number: str, code: int, **kw) -> None:
        """The buyer's side of the French network answers through the PA, which rings Facteur's webhook:
        the supplier's sweep fetches the CDAR flow at once (the 6-hourly pass would find it otherwise)."""
        from facteur.model.lifecycle import LIFECYCLE

        self.pa.respond(number, code, **kw)
        why = f": {kw.get('reason_code')} {kw.get('reason')}" if kw.get("reason") else ""
        self.rt.settle()
        self.say(f"PA: {number} {code} ({LIFECYCLE[code].label_fr}){why} - a CDAR flow; the PA's webhook rang, "
                 f"status now {self.invoices()[number]['status']}")

    def worklist(self) -> None:
        res = self.api("GET", "/worklist")
        self.report.expect(res.status_code == 200, f"GET /worklist answered {res.status_code}")
        items = res.json().get("items", [])
        (self.out / "worklist.json").write_text(json.dumps(res.json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.say(f"GET /worklist: {len(items)} invoice(s) need a person")
        for item in items:
            self.say(f"    {item.get('number') or item.get('original_name')}: {item.get('status')} - {str(item.get('why'))[:110]}")

    def until(self, when: datetime, note: str) -> None:
        before = len(self.rt.outbox.mails)
        self.rt.advance_to(when)
        self.mails_since(before)
        self.say(note)

    def story(self) -> None:
        t0 = self.rt.now()
        self.until(t0 + timedelta(hours=3), "3 hours later")
        self.open_link("FA-2026-1201", "compta@boulangerie-martin.example")
        self.open_link("FA-2026-1206", "compta@cafe-lumiere.example")
        self.open_link("FA-2026-1207", "compta@brasserie-du-port.example")
        self.open_link("FA-2026-1208", "compta@brasserie-du-port.example")
        self.until(t0 + timedelta(hours=5), "5 hours later")
        deposit = next((d for d in self.chorus.deposits if d.number == "FA-2026-1209"), None)
        self.report.expect(deposit is not None, "FA-2026-1209 was not deposited on Chorus Pro")
        if deposit:
            self.say(f"FA-2026-1209 deposited on Chorus Pro: flow {deposit.flow} (IN_DP_E2_CII_FACTURX, {len(deposit.pdf)} bytes)")
        self.open_link("FA-2026-1203", "achats@groupe-hexa.example")
        self.open_link("FA-2026-1204", "compta@boulangerie-martin.example")
        self.until(t0 + timedelta(days=2, hours=1), "Nordwind has not opened FA-2026-1202 within 48 h")
        reminders = [m for m in self.rt.outbox.mails if m.subject.startswith(("Reminder", "Rappel"))]
        self.report.expect(len(reminders) >= 1, "a 'not yet downloaded' reminder for FA-2026-1202")
        self.until(t0 + timedelta(days=2, hours=4), "3 hours after the reminder")
        self.open_link("FA-2026-1202", "ap@nordwind.example")
        self.pa_status("FA-2026-1210", 202)
        self.pa_status("FA-2026-1210", 203)
        self.until(t0 + timedelta(days=3), "day 3")
        self.chorus_status("FA-2026-1209", "MISE_A_DISPOSITION")
        self.pa_status("FA-2026-1210", 210, reason_code="CMD_ERR", reason="Numéro de commande erroné : HR-PO-7781 attendu")
        self.until(t0 + timedelta(days=4, hours=2), "day 4: FA-2026-1210's path has ended with the refusal")
        self.rt.drop(SUPPLIER, INBOX / "FA-2026-1211.xml")
        self.say(f"billing system dropped s3://…/in/{SUPPLIER}/FA-2026-1211.xml (corrects FA-2026-1210: BG-3, order HR-PO-7781)")
        self.rt.settle()
        self.open_link("FA-2026-1211", "compta@hotels-du-rhone.example")
        self.pa_status("FA-2026-1211", 202)
        self.pa_status("FA-2026-1211", 203)
        self.until(t0 + timedelta(days=6), "day 6")
        self.forward_status("FA-2026-1203", "FA-2026-1203.ubl.xml", 204)
        self.pa_status("FA-2026-1211", 205)
        self.until(t0 + timedelta(days=8), "day 8")
        self.forward_status("FA-2026-1203", "FA-2026-1203.ubl.xml", 205)
        self.until(t0 + timedelta(days=12), "day 12")
        self.pay("FA-2026-1201", "VIR-SEPA-20261213-0091")
        self.until(t0 + timedelta(days=20), "day 20")
        self.pay("FA-2026-1204", "VIR-SEPA-20261221-0133")
        self.chorus_status("FA-2026-1209", "MISE_EN_PAIEMENT")
        self.until(t0 + timedelta(days=22), "day 22")
        self.pay("FA-2026-1209", "DGFIP-VIR-2026-998877")
        self.pay("FA-2026-1211", "VIR-HR-2026-4410")
        self.rt.settle()
        sent = [st for st in self.pa.received_statuses() if st[0] == "FA-2026-1211"]
        self.report.expect(sent == [("FA-2026-1211", 212)], f"FA-2026-1211: statuses sent to the PA {sent}, expected 212 once")
        self.say(f"Facteur sent the seller's 212 (Encaissée) for FA-2026-1211 to the PA as CDAR: {sent}")
        self.until(t0 + timedelta(days=28), "day 28: Café Lumière had its courtesy reminder on 26 Dec (due-5d)")
        self.lifecycle("FA-2026-1206", {"code": 207, "source": "buyer", "reason_code": "ART_ERR",
                                        "reason": "Meules du moulin non remplacées"}, "Café Lumière disputes (207)")
        self.until(t0 + timedelta(days=30), "day 30: the scenario is paused while FA-2026-1206 is disputed")
        self.worklist()
        self.until(t0 + timedelta(days=33), "day 33: FA-2026-1202 was due on 31 Dec; FA-2026-1206's due+1d reminder waits")
        self.pay("FA-2026-1202", "SWIFT-NW-0107-5521")
        self.mass_remind()
        self.report_event("FA-2026-1206", {"kind": "resolved", "reason": "meules remplacées le 2 janvier"},
                          "the supplier reports the dispute settled")
        self.until(t0 + timedelta(days=36), "day 36")
        self.pay("FA-2026-1207", "VIR-BP-0106-1")
        self.pay("FA-2026-1208", "VIR-BP-0106-2")
        self.until(t0 + timedelta(days=40), "day 40: FA-2026-1206's second reminder went on 8 Jan (due+8d)")
        self.pay("FA-2026-1203", "VIR-SEPA-20270110-0007")
        self.report_event("FA-2026-1206", {"kind": "paid", "amount": "300.00", "reference": "VIR-CL-0111"},
                          "Café Lumière pays 300.00 of 720.00")
        self.until(t0 + timedelta(days=46), "day 46: formal notice on 15 Jan (due+15d), interest on what is left")
        self.until(t0 + timedelta(days=61), "day 61: handed to Recouvreur Sud on 30 Jan (due+30d): dunning stops")
        self.until(t0 + timedelta(days=69), "day 69")
        self.report_event("FA-2026-1206", {"kind": "paid", "reference": "RECOUVREUR-SUD-2027-014"},
                          "Recouvreur Sud collected the rest")
        limit = t0 + timedelta(days=90)
        while self.rt.executions("RUNNING") and self.rt.now() < limit:
            self.rt.advance(timedelta(days=1))
        running = len(self.rt.executions("RUNNING"))
        self.say(f"every invoice's state machine has ended ({running} still running)")
        self.report.expect(running == 0, f"{running} state machine execution(s) still running")

    # -- results ---------------------------------------------------------------------------
    def collect(self) -> list[dict]:
        from facteur.controls.official import check_xml
        from facteur.controls.pdfa import check_facturx_pdf
        from facteur.formats.reader import read_document

        s3 = self.rt.client("s3")
        docs_bucket, rows, timeline = self.rt.outputs["DocumentsBucketName"], [], {}
        for key, inv in sorted(self.invoices().items()):
            events = self.api("GET", f"/invoices/{inv['invoice_id']}/timeline").json()["events"]
            timeline[key] = {"invoice_id": inv["invoice_id"], "number": inv.get("number"), "source": inv["source"],
                             "input": inv["original_name"], "input_kind": inv.get("input_kind"),
                             "customer": inv.get("customer_id"), "status": inv["status"],
                             "milestones": [{k: e[k] for k in ("at", "kind", "lifecycle_code", "recipient_id", "actor", "detail")
                                             if k in e} for e in events],
                             "recipients": _by_recipient(events),
                             "lifecycle": [{"code": e["lifecycle_code"], "at": e["at"], "by": e.get("actor")}
                                           for e in events if e.get("lifecycle_code")]}
            original = s3.get_object(Bucket=docs_bucket, Key=inv["original_key"])["Body"].read()
            (self.out / "originals").mkdir(parents=True, exist_ok=True)
            (self.out / "originals" / f"{inv['invoice_id']}-{inv['original_name']}").write_bytes(original)
            checks = []
            for fmt, doc_key in sorted(inv.get("documents", {}).items()):
                data = s3.get_object(Bucket=docs_bucket, Key=doc_key)["Body"].read()
                name = doc_key.rsplit("/", 1)[-1]
                if fmt not in ("facturx", "ubl", "cii", "edifact"):  # formal notice, collection case
                    name = f"{inv.get('number') or inv['invoice_id']}-{fmt}.{name.rsplit('.', 1)[-1]}"
                target = self.out / "documents" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                if fmt == "facturx":
                    read = read_document(data)
                    blocking = check_facturx_pdf(data, expected_profile=read.invoice.profile)
                    blocking += [f for f in check_xml(read.xml or b"", in_pdf=True) if f.blocking]
                elif fmt in ("ubl", "cii"):  # each checked with the rule sets it declares
                    blocking = [f for f in check_xml(data) if f.blocking]
                else:  # a formal notice, a collection case: kept with the invoice, not an invoice format
                    continue
                checks.append(f"{fmt}:{'ok' if not blocking else 'FAIL ' + ','.join(sorted({f.rule for f in blocking}))}")
                self.report.expect(not blocking, f"{target.name} fails official rules")
            kinds = [e["kind"] for e in events]
            rows.append({"key": key, "input": f"{inv['source']}:{inv.get('input_kind') or '?'}",
                         "customer": inv.get("customer_id") or "-", "status": inv["status"],
                         "path": " > ".join(f"{e['kind']}{'(' + str(e['lifecycle_code']) + ')' if e.get('lifecycle_code') else ''}"
                                            for e in events if e["kind"] not in ("received",)),
                         "reminders": kinds.count("scenario_step"), "documents": " ".join(checks) or "-"})
            missing = [k for k in EXPECTED_MILESTONES.get(key, []) if k not in kinds]
            self.report.expect(not missing, f"{key}: milestones missing from the timeline: {missing}")
            if key == "FA-2026-1206":
                actions = [e["detail"]["action"] for e in events if e["kind"] == "scenario_step"]
                self.report.expect(actions == EXPECTED_ACTIONS, f"{key}: scenario actions {actions}, expected {EXPECTED_ACTIONS}")
            if key in ("FA-2026-1207", "FA-2026-1208"):
                statements = [e for e in events if e["kind"] == "reminded" and e["detail"]["purpose"].startswith("statement-")]
                self.report.expect(len(statements) >= 2, f"{key}: on {len(statements)} statement(s) of account, expected 2 or more")
            want = EXPECTED.get(key)
            self.report.expect(want is None or inv["status"] == want, f"{key}: status {inv['status']}, expected {want}")
        self.report.expect(set(EXPECTED) <= set(timeline), f"missing invoices: {sorted(set(EXPECTED) - set(timeline))}")
        (self.out / "timeline.json").write_text(json.dumps(timeline, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.channels = channel_table(timeline)
        return rows

    def cost(self) -> dict:
        """demo-out/cost.json: what each invoice's path would be billed on AWS (eu-west-3 list
        prices), measured by the runtime (local/meter.py), and what the shared work cost."""
        from .meter import METER, PRICES_FILE, count_transitions, load_prices

        count_transitions(self.rt.client("stepfunctions"), self.rt.executions())
        prices = load_prices()
        invoices = {k: v for k, v in self.invoices().items() if v["status"] not in ("duplicate", "rejected")}
        paths = {}
        for key, inv in sorted(invoices.items()):
            events = self.api("GET", f"/invoices/{inv['invoice_id']}/timeline").json()["events"]
            paid = next((e["at"] for e in events if e["kind"] == "paid"), None)
            day = (datetime.fromisoformat(paid) - DEFAULT_START).days if paid else None
            paths[key] = {"status": inv["status"], "paid_day": day, "mails": sum(1 for m in self.rt.outbox.mails
                                                                                 if m.tags.get("invoice_id") == inv["invoice_id"]),
                          "actions": sum(1 for e in events if e["kind"] == "scenario_step"),
                          **METER.usage[inv["invoice_id"]].public(prices)}
        shared = {s: u.public(prices) for s, u in sorted(METER.usage.items()) if not s.startswith("inv_")}
        total = METER.total()
        out = {"prices": str(PRICES_FILE.relative_to(ROOT)), "invoices": len(invoices),
               "per_invoice": paths, "shared": shared,
               "demo_total_usd": round(total.dollars(prices)["total"], 6),
               "note": "per_invoice: the invoice's own executions, handlers and API calls, in $ per 1,000 invoices "
                       "taking the same path; shared: intake of S3 drops, schedules and jobs (fn:<function>)"}
        (self.out / "cost.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        return out

    def summary(self, rows: list[dict]) -> str:
        cols = [("key", "invoice / file"), ("input", "input"), ("customer", "customer"), ("status", "status"),
                ("reminders", "actions"), ("documents", "documents (official rules)")]
        widths = {c: max(len(h), *(len(str(r[c])) for r in rows)) for c, h in cols}
        line = "  ".join(h.ljust(widths[c]) for c, h in cols)
        out = [line, "-" * len(line)]
        for r in rows:
            out.append("  ".join(str(r[c]).ljust(widths[c]) for c, _ in cols))
            out.append("    " + r["path"])
        return "\n".join(out)


def _by_recipient(events: list[dict]) -> dict[str, dict]:
    """Each recipient's own milestones (sent, delivered, downloaded, bounced, reminded...) on its channel."""
    out: dict[str, dict] = {}
    for e in events:
        rid = e.get("recipient_id")
        if not rid:
            continue
        r = out.setdefault(rid, {"channel": (e.get("detail") or {}).get("channel"), "milestones": []})
        r["channel"] = r["channel"] or (e.get("detail") or {}).get("channel")
        r["milestones"].append({"kind": e["kind"], "at": e["at"]})
    return out


def channel_table(timeline: dict[str, dict]) -> str:
    """Channel x milestone: how many recipients reached each milestone, per channel."""
    kinds = ["sent", "delivered", "downloaded", "bounced", "reminded", "status_reported"]
    counts: dict[str, dict[str, int]] = {}
    for inv in timeline.values():
        for r in inv.get("recipients", {}).values():
            row = counts.setdefault(r["channel"] or "?", dict.fromkeys(kinds, 0))
            for k in {m["kind"] for m in r["milestones"]} & set(kinds):
                row[k] += 1
    head = "channel      " + "  ".join(f"{k:>15}" for k in kinds)
    return "\n".join([head] + [f"{ch:12} " + "  ".join(f"{row[k]:>15}" for k in kinds) for ch, row in sorted(counts.items())])


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise SystemExit(f"{out} exists and was not made by the demo: choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by `facteur demo`; deleted and rebuilt on each run\n")


HEXA_SECRET_ID = "facteur/webhooks/atelier-dupont/groupe-hexa-api"
CHORUS_SECRET_ID = "facteur/chorus/atelier-dupont"
PA_SECRET_ID = "facteur/pa/atelier-dupont"
HOTELS_SECRET_ID = "facteur/webhooks/atelier-dupont/hotels-du-rhone-api"
HOTELS_SIREN = "443061841"
ARIBA_SECRET_ID = "facteur/cxml/atelier-dupont/groupe-hexa-ariba"
CXML_DTD = ROOT / "tests" / "fixtures" / "external" / "cxml" / "InvoiceDetail-1.2.037.dtd"
MAIRIE_SIRET = "21690000100018"


def live_partners(rt, out: Path):
    """The demo directory, plus what only exists while the demo runs: Groupe Hexa's purchasing
    API (a webhook receiver signed with its own secret, answering 503 twice before taking the
    push) and Chorus Pro on loopback for the Mairie de Lyon (a public buyer: service code required)."""
    import base64
    import secrets

    from .chorus import ChorusFake, Structure
    from .pa import Line, PaFake
    from .procurement import CxmlNetwork
    from .webhooks import WebhookReceiver

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    receiver = WebhookReceiver(secret=secret, script=[503, 503])
    rt.client("secretsmanager").create_secret(Name=HEXA_SECRET_ID, SecretString=secret)
    chorus = ChorusFake(structures={MAIRIE_SIRET: Structure(MAIRIE_SIRET, 26900, "Mairie de Lyon", service_code_required=True,
                                                            services={"SERV-TECH": True, "SERV-ECOLES": True})},
                        now=rt.now)
    rt.client("secretsmanager").create_secret(Name=CHORUS_SECRET_ID, SecretString=json.dumps({
        "client_id": chorus.client_id, "client_secret": chorus.client_secret, "login": chorus.login,
        "password": chorus.password, "user_id": 12345}))
    pa = PaFake(lines={HOTELS_SIREN: Line(HOTELS_SIREN, HOTELS_SIREN, "Hôtels du Rhône SA")}, now=rt.now)
    rt.client("secretsmanager").create_secret(Name=PA_SECRET_ID, SecretString=json.dumps({
        "client_id": pa.client_id, "client_secret": pa.client_secret}))
    hotels_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    hotels_api = WebhookReceiver(secret=hotels_secret, script=[503] * 5)
    ariba = CxmlNetwork(shared_secret=secrets.token_urlsafe(18), buyers={"AN02000004471"}, dtd=CXML_DTD)
    rt.client("secretsmanager").create_secret(Name=ARIBA_SECRET_ID, SecretString=ariba.shared_secret)
    rt.client("secretsmanager").create_secret(Name=HOTELS_SECRET_ID, SecretString=hotels_secret)
    extra = out / "logs" / "directory-live.yaml"
    extra.parent.mkdir(parents=True, exist_ok=True)
    text = DIRECTORY.read_text(encoding="utf-8")
    anchor = "          - {id: hx-achats, name: Achats centraux, role: central_purchasing, email: achats@groupe-hexa.example}"
    keys = "    api_keys: [demo-key-atelier-dupont]   # local demo only; real keys are generated per supplier"
    assert anchor in text and keys in text, "the demo directory changed: update the live directory's anchors"
    text = text.replace(anchor, anchor + "\n"
                        f"          - {{id: hx-api, name: API achats, role: validator, channel: http, endpoint: \"{receiver.url}/invoices\", "
                        f"secret_id: {HEXA_SECRET_ID}}}\n"
                        f"          - {{id: hx-ariba, name: Groupe Hexa (Ariba Network), role: copy, channel: cxml, "
                        f"endpoint: \"{ariba.url}\", secret_id: {ARIBA_SECRET_ID}, "
                        "cxml: {from_identity: AN01000000731, to_identity: AN02000004471}}")
    nordwind = "          - {id: nw-ap, name: Accounts Payable, role: payer, email: ap@nordwind.example, language: en}"
    assert nordwind in text, "the demo directory changed: update the live directory's anchors"
    text = text.replace(nordwind, nordwind + "\n"  # the template's AS2 connector, deployed locally with its partner
                        f"          - {{id: nw-edi, name: Nordwind EDI (AS2), role: payer, channel: edi, "
                        f"endpoint: \"{rt.outputs['EdiConnectorId']}\"}}")
    text = text.replace(keys, keys + "\n"
                        f"    chorus: {{secret_id: {CHORUS_SECRET_ID}, token_url: \"{chorus.url}/oauth/token\", "
                        f"api_base: \"{chorus.url}/cpro\"}}\n"
                        f"    pa: {{name: PA Exemple, secret_id: {PA_SECRET_ID}, token_url: \"{pa.url}/token\", "
                        f"flow_api: \"{pa.url}/flow-service\", directory_api: \"{pa.url}/directory-service\"}}")
    text += f"""      - id: mairie-de-lyon
        name: Mairie de Lyon
        siren: "216900001"
        vat_id: FR56216900001
        public_sector: true               # BT-10 (the service code) required
        formats: [facturx]
        recipients:
          - {{id: ml-chorus, name: Mairie de Lyon (Chorus Pro), role: paying_office, channel: chorus_pro,
             endpoint: "{MAIRIE_SIRET}"}}
      - id: hotels-du-rhone               # three roles on three channels: e-mail, its API, the French network
        name: Hôtels du Rhône SA
        siren: "{HOTELS_SIREN}"
        vat_id: FR64443061841
        formats: [facturx]
        recipients:
          - {{id: hr-compta, name: Comptabilité fournisseurs, role: payer, email: compta@hotels-du-rhone.example}}
          - {{id: hr-api, name: Portail achats (API), role: validator, channel: http, endpoint: "{hotels_api.url}/invoices",
             secret_id: {HOTELS_SECRET_ID}}}
          - {{id: hr-pa, name: Hôtels du Rhône (réseau PA), role: paying_office, channel: pa}}
"""
    extra.write_text(text, encoding="utf-8")
    rt.load_directory(extra)
    return receiver, chorus, pa, hotels_api, ariba


def _keep_pa(folder: Path, pa) -> None:
    """demo-out/pa/: every request made to the PA, and every flow both ways (invoices, CDAR messages)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, r in enumerate(pa.requests, start=1):
        name = r["path"].split("?")[0].strip("/").replace("/", "-").replace(":", "_")
        (folder / f"{n:03d}-{r['method']}-{name}.json").write_text(json.dumps(
            {"method": r["method"], "path": r["path"], "request-id": r["headers"].get("request-id"),
             "body": r["body"] if not r["body"].startswith("--") else "<multipart: flowInfo + file, saved as the flow>"},
            indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for f in pa.flows:
        ext = "xml" if f.info["flowSyntax"] == "CDAR" else "pdf"
        (folder / f"{f.info['flowDirection'].lower()}-{f.id}-{f.info['name'].rsplit('.', 1)[0]}.{ext}").write_bytes(f.data)
        (folder / f"{f.info['flowDirection'].lower()}-{f.id}.json").write_text(json.dumps(f.info, indent=2) + "\n")
    pa.stop()


def run(out: Path) -> int:
    out = out.resolve()
    _prepare(out)
    wall = time.monotonic()
    print("Facteur demo — the whole path on the embedded runtime (moto, virtual clock); no AWS account needed")
    print("1/5 deploying template.yaml onto the local runtime", flush=True)
    with LocalRuntime(out_dir=out, start=DEFAULT_START, log_file=out / "logs" / "lambda.jsonl") as rt:
        d = rt.deployer
        print(f"    {len(d.template['Resources'])} resources: {len(d.functions)} functions, state machine "
              f"{rt.outputs['StateMachineArn'].rsplit(':', 1)[-1]}, API {rt.api_url}, "
              f"{len(rt.schedules)} schedules ({', '.join(r.schedule.expression for r in rt.schedules)})")
        for limit in d.local_limits:
            print(f"    local limit: {limit}")
        counts = rt.load_directory(DIRECTORY)
        print(f"    directory loaded: {counts['suppliers']} supplier, {counts['customers']} customers", flush=True)
        receiver, chorus, pa, hotels_api, ariba = live_partners(rt, out)
        print(f"    Groupe Hexa's purchasing API (a webhook receiver on {receiver.url}) answers 503 twice before 200; "
              f"Chorus Pro (PISTE) on {chorus.url} for the Mairie de Lyon; a PA (AFNOR flow and directory APIs) on "
              f"{pa.url} and the Hôtels du Rhône's API ({hotels_api.url}, 503 five times before 200); Groupe Hexa's "
              f"Ariba-like cXML network on {ariba.url}; Nordwind's EDI partner behind the template's AS2 connector "
              f"{rt.outputs['EdiConnectorId']}", flush=True)
        demo = Demo(out, rt, chorus, pa)
        print("2/5 intake: S3 drops and an API post", flush=True)
        demo.intake()
        print("3/5 ten virtual weeks: downloads, reminders, a dispute, a refusal through the PA and its correction, "
              "a formal notice, a hand-off, payments", flush=True)
        demo.story()
        print("4/5 collecting documents, e-mails and timelines; checking every produced document", flush=True)
        rows = demo.collect()
        cost = demo.cost()
        failed = [name for name, ok in rt.registry.invocations if not ok]
        # no handler failed: the API's two 503s deferred its delivery (retried by the path 1 and 5 min later)
        demo.report.expect(failed == [], f"failed Lambda invocations: {failed}")
        fired: dict[str, int] = {}
        for name, _, ok in rt.fired:
            fired[name] = fired.get(name, 0) + 1
            demo.report.expect(ok, f"scheduled {name} failed")
        received = receiver.accepted()
        demo.report.expect(len(received) >= 1 and all(r.valid for r in received), "Groupe Hexa's API received no signed webhook")
        demo.report.expect(len({r.headers["webhook-id"] for r in receiver.requests}) == len(received),
                           "a webhook delivery was taken twice")
        issued = sorted(r.json["data"].get("number", "") for r in hotels_api.accepted() if r.json["type"] == "invoice.issued")
        demo.report.expect(issued == ["FA-2026-1210", "FA-2026-1211"] and all(r.valid for r in hotels_api.accepted())
                           and sum(1 for r in hotels_api.requests if r.status == 503) == 5,
                           f"the Hôtels du Rhône's API took the invoices {issued}, expected 1210 (after five 503s) and "
                           "1211, each once")
        (out / "webhooks").mkdir(exist_ok=True)
        for who, rec in (("groupe-hexa", receiver), ("hotels-du-rhone", hotels_api)):
            for n, r in enumerate(rec.requests, start=1):
                (out / "webhooks" / f"{who}-{n:02d}-{r.status}.json").write_text(
                    json.dumps({"status": r.status, "signature_valid": r.valid, "headers": r.headers, "body": r.json},
                               indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            rec.stop()
        _keep_pa(out / "pa", pa)
        taken = sorted({r.invoice_id for r in ariba.requests if r.status == 200})
        demo.report.expect(taken == ["FA-2026-1203"], f"the Ariba network took {taken}, expected FA-2026-1203")
        (out / "cxml").mkdir(exist_ok=True)
        for n, r in enumerate(ariba.requests, start=1):
            (out / "cxml" / f"{n:02d}-{r.invoice_id}-{r.status}.xml").write_bytes(r.body)
        ariba.stop()
        edi = [(t.key.rsplit("/", 1)[-1], t.outcome) for t in rt.as2.transfers]
        demo.report.expect(edi == [("FA-2026-1202.edi", "processed")], f"EDI transfers {edi}, expected FA-2026-1202 once")
        (out / "chorus").mkdir(exist_ok=True)
        for n, r in enumerate(chorus.requests, start=1):
            body = r["body"]
            if "fichierFlux" in body:  # the flow itself is kept as the PDF beside
                body = json.dumps({**json.loads(body), "fichierFlux": "<base64 of the Factur-X, saved beside>"})
            (out / "chorus" / f"{n:02d}{r['path'].replace('/', '-')}.json").write_text(
                json.dumps({"path": r["path"], "body": json.loads(body) if body.startswith("{") else body},
                           indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for d in chorus.deposits:
            (out / "chorus" / f"{d.flow}-{d.filename}").write_bytes(d.pdf)
        chorus.stop()
        table = demo.summary(rows)
        mails = len(rt.outbox.mails)
        schedules = ", ".join(f"{k.split('-', 1)[-1]} x{v}" for k, v in sorted(fired.items()))
        stats = (f"{len(rt.registry.invocations)} Lambda invocations, {mails} e-mails, {len(received)} webhook(s) taken "
                 f"by Groupe Hexa (after {len(receiver.requests) - len(received)} 503s, retried 1 and 5 min later), "
                 f"{len(hotels_api.accepted())} by the Hôtels du Rhône (after 5 503s: 1, 5, 15, 60 min, 3 h), "
                 f"{len(pa.flows)} PA flows, schedules fired: {schedules}, "
                 f"{len(rt.one_time.fired)} milestone wake-ups (EventBridge Scheduler one-time schedules); "
                 f"virtual {rt.now() - DEFAULT_START} in {time.monotonic() - wall:.0f}s of wall time")
    print("5/5 summary")
    print(table)
    print("channel x milestone (recipients reaching it; timeline.json has each recipient's and the lifecycle codes apart)")
    print(demo.channels)
    for key, c in cost["per_invoice"].items():
        print(f"cost {key}: {c['status']}{' day ' + str(c['paid_day']) if c['paid_day'] is not None else ''}, "
              f"{c['transitions']:g} transitions, {c['lambda_invocations']:g} invocations, "
              f"{c['ddb_write_units'] + c['ddb_index_write_units']:g} write units, {c['ses_messages']:g} e-mails: "
              f"${c['usd_per_1000']['total']:.2f} per 1,000 invoices (cost.json)")
    print(stats)
    (out / "summary.txt").write_text(table + "\n\n" + demo.channels + "\n\n" + stats + "\n", encoding="utf-8")
    print(f"Output in {out}: documents/, mail/ (.eml), webhooks/, chorus/, pa/, cxml/, edi/ (INVOIC + MDN), lifecycle/, downloads/, originals/, "
          "timeline.json, worklist.json, cost.json, summary.txt, logs/")
    if demo.report.problems:
        print("DEMO FAILED:", file=sys.stderr)
        for p in demo.report.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("demo OK: every expected outcome happened")
    return 0
