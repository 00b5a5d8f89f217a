"""What an invoice's path costs on AWS, measured by the local runtime on template.yaml (eu-west-3
list prices, bench/prices-eu-west-3.json; the meter is local/meter.py). Three paths, N invoices
each, in a fresh runtime per path, one recipient by e-mail, the customer's default milestones:

  paid-day-2       sent, opened the same day, paid on day 2;
  paid-day-30      sent, not opened within 48 h -> one "not opened" reminder, opened, paid on day 30;
  unpaid-day-120   sent, opened, never paid: followed until its tracking horizon (due + 90 days).

Per path: state transitions, Lambda invocations and GB-s (GB-s measured on this machine, in
process: an upper bound of Lambda's; a first invoice warms every function up and is reported
apart: a busy stack serves invoices from warm containers), DynamoDB write units (item and index writes) and read units,
S3 requests, SES messages, and $ per 1,000 invoices — the intake API and the download links
included; the scheduled functions (sweep, daily mail, open-data watch) are reported apart, per day.
Last line:

    cost paid-day-2 $A paid-day-30 $B unpaid-day-120 $C per 1000

    python -m bench.cost [N]        (default 10)"""
from __future__ import annotations

import json
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
KEY = "demo-key-atelier-dupont"
ONE_RECIPIENT = """
suppliers:
  - id: atelier-dupont
    name: Atelier Dupont SARL
    siren: "732829320"
    vat_id: FR44732829320
    mail_from: factures@atelier-dupont.example
    api_keys: [demo-key-atelier-dupont]
    customers:
      - id: boulangerie-martin
        name: Boulangerie Martin SAS
        siren: "552100554"
        vat_id: FR96552100554
        formats: [facturx]
        recipients:
          - {id: bm-compta, name: Service comptabilité, role: payer, email: compta@boulangerie-martin.example}
        milestones: {download_within_hours: 48, remind_every_hours: 72, max_download_reminders: 1}
"""
SCHEDULED = ("reminder-sweep", "daily-mail", "enrich", "platform-sweep")


def run_path(path: str, n: int) -> tuple[dict, dict, int]:
    from facteur_local.meter import METER, count_transitions, load_prices
    from facteur_local.runtime import LocalRuntime

    prices = load_prices()
    with tempfile.TemporaryDirectory() as tmp, LocalRuntime(out_dir=Path(tmp), log_file=Path(tmp) / "lambda.jsonl") as rt:
        rt.load_directory(ONE_RECIPIENT)
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {KEY}"
        data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
        ids = []
        for _ in range(n + 1):  # the first one warms the containers up (its cold starts are reported apart)
            data["BT-1"] = f"COST-{uuid.uuid4().hex[:8]}"
            res = http.post(f"{rt.api_url}/invoices", data=json.dumps(data), timeout=60,
                            headers={"Content-Type": "application/json", "Idempotency-Key": data["BT-1"]})
            res.raise_for_status()
            ids.append(res.json()["invoice_id"])
            rt.settle()  # one at a time: handlers running together in one process share its GIL (their GB-s inflate)
        t0 = rt.now()

        def open_links() -> None:
            for iid in ids:
                mails = [m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid]
                requests.get(mails[-1].links()[0], allow_redirects=False, timeout=60).raise_for_status()

        def pay() -> None:
            for iid in ids:
                http.post(f"{rt.api_url}/invoices/{iid}/events", json={"kind": "paid"}, timeout=60).raise_for_status()
                rt.settle()

        if path == "paid-day-30":
            rt.advance_to(t0 + timedelta(hours=50))  # the "not opened" reminder went at 48 h
            open_links()
            rt.advance_to(t0 + timedelta(days=30))
            pay()
        else:
            rt.advance_to(t0 + timedelta(hours=3))
            open_links()
            if path == "paid-day-2":
                rt.advance_to(t0 + timedelta(days=1, hours=20))  # within two days, before the 48 h check
                pay()
            else:
                rt.advance_to(t0 + timedelta(days=125))
        running, failed = rt.executions("RUNNING"), rt.executions("FAILED")
        if failed:
            raise SystemExit(f"{path}: {len(failed)} execution(s) failed: {[e['name'] for e in failed]}")
        count_transitions(rt.client("stepfunctions"), rt.executions())
        days = max(1, (rt.now() - t0).days)
        scheduled = [s for s in METER.usage if s.startswith("fn:") and any(x in s for x in SCHEDULED)]
        warm_up = [ids[0]]
        # the API's functions (intake, authorizer, links, payments) are counted per function: the warm-up's share out
        shared = [s for s in METER.usage if s.startswith("fn:") and s not in scheduled]
        per_path = METER.total([s for s in METER.usage if s not in scheduled + warm_up + shared])
        per_path.add(METER.total(shared).scaled(n / (n + 1)))
        fixed = METER.total(scheduled)
        cold = METER.total(warm_up)
        if running:
            raise SystemExit(f"{path}: {len(running)} execution(s) still running")
        mails = sum(1 for m in rt.outbox.mails if m.tags.get("invoice_id") in ids[1:])
        return (per_path.public(prices, per=n) | {"mails_per_invoice": mails / n,
                                                 "warm_up": cold.public(prices)}, fixed.public(prices, per=days), days)


def main(argv: list[str] | None = None) -> int:
    n = int((argv or sys.argv[1:] or ["10"])[0])
    totals = {}
    print(f"cost per invoice path, {n} invoices each, eu-west-3 list prices (bench/prices-eu-west-3.json)")
    print(f"{'path':<15} {'transitions':>11} {'invocations':>11} {'GB-s':>6} {'WU item':>8} {'WU index':>8} {'RU':>6} "
          f"{'S3':>4} {'e-mails':>7}   $ per 1,000: sfn+scheduler lambda dynamodb s3 ses = total")
    for path in ("paid-day-2", "paid-day-30", "unpaid-day-120"):
        per, fixed, days = run_path(path, n)
        d = per["usd_per_1000"]
        totals[path] = d["total"]
        print(f"{path:<15} {per['transitions']:>11g} {per['lambda_invocations']:>11g} {per['lambda_gb_s']:>6.2f} "
              f"{per['ddb_write_units']:>8g} {per['ddb_index_write_units']:>8g} {per['ddb_read_units']:>6g} "
              f"{per['s3_requests']:>4g} {per['mails_per_invoice']:>7g}   {d['step_functions'] + d['scheduler']:.3f} {d['lambda']:.3f} "
              f"{d['dynamodb']:.3f} {d['s3']:.3f} {d['ses']:.3f} = {d['total']:.3f}")
        print(f"{'':<15} scheduled functions over {days} days: ${fixed['usd_per_1000']['total'] / 1000:.5f} per day "
              f"(whatever the number of invoices); the warm-up invoice (every function's cold start): "
              f"{per['warm_up']['lambda_gb_s']:.2f} GB-s, ${per['warm_up']['usd_per_1000']['total'] / 1000:.5f}")
    print("cost " + " ".join(f"{p} ${v:.2f}" for p, v in totals.items()) + " per 1000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
