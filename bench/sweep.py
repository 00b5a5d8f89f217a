"""The daily sweep at scale: N open invoices of one supplier, 1 % of them due, in the invoices table
as template.yaml defines it (deployed on moto by the local deployer). Prints

    sweep: read R items for D due among N open

R counts the items the sweep's queries return (the sparse GSI3 of due items, page after page, then
each due invoice's own record): items read ~ items due, whatever N. A second pass right after
reads nothing (what was handled moved to the next day). Never run by the test suite.

moto answers each index query by walking the whole table, so the time grows with N here (not on
DynamoDB, where a query reads its partition range): the count of items read is the figure to look
at (3 per due invoice: its index entry, its record when marking it overdue, its record when moving
its next check). `make bench` runs N = 100,000 (the local runtime's transaction patch keeps moto
from copying the table at each write).

    python -m bench.sweep [N]        (default 2000)"""
from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    n = int((argv or sys.argv[1:] or ["2000"])[0])
    os.environ.update(AWS_DEFAULT_REGION="eu-west-3", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    sys.path.insert(0, str(ROOT / "layers" / "common"))
    sys.path.insert(0, str(ROOT))
    from moto import mock_aws

    from facteur_local.patches import install_fast_transactions

    install_fast_transactions()  # moto copies the whole table at each transaction: hours at 100,000 invoices
    with mock_aws():
        return _run(n)


def _run(n: int) -> int:
    import boto3

    from facteur import clock
    from facteur.context import Context
    from facteur.model.directory import Supplier
    from facteur.model.lifecycle import Status
    from facteur.model.records import InvoiceRecord
    from facteur.reminders.sweep import sweep
    from facteur.routing.directory import DirectoryStore
    from facteur.settings import Settings
    from facteur.tracking.store import InvoiceStore, _to_item
    from facteur_local.deployer import Deployer

    deployer = Deployer(ROOT, "eu-west-3")
    deployer.deploy(ROOT / "template.yaml")
    table, directory = deployer.outputs["InvoicesTableName"], deployer.outputs["DirectoryTableName"]
    ddb = boto3.client("dynamodb")
    now = datetime(2027, 1, 5, 6, tzinfo=UTC)
    clock.set_provider(lambda: now)
    DirectoryStore(directory, ddb).put_supplier(Supplier(id="bench-supplier", name="Bench"))
    store = InvoiceStore(table, ddb)
    due_every = 100  # 1 % due
    t0 = time.perf_counter()
    batch = []
    for i in range(n):
        due = i % due_every == 0
        rec = InvoiceRecord(invoice_id=f"inv_{i:07d}", supplier_id="bench-supplier", status=Status.DELIVERED, source="s3",
                            original_key=f"o/{i}", created_at=now - timedelta(days=40), updated_at=now - timedelta(days=40),
                            due_date=(now - timedelta(days=5)).date(),
                            next_due_at=now - timedelta(hours=1) if due else now + timedelta(days=3 + i % 20))
        batch.append({"PutRequest": {"Item": store._ser(_to_item(rec))}})
        if len(batch) == 25:
            ddb.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        ddb.batch_write_item(RequestItems={table: batch})
    loaded = time.perf_counter() - t0

    read = {"n": 0}
    original_query, original_get = store.client.query, store.client.get_item

    def counting_query(**kw):
        res = original_query(**kw)
        read["n"] += len(res.get("Items", []))
        return res

    def counting_get(**kw):
        res = original_get(**kw)
        read["n"] += 1 if "Item" in res else 0
        return res

    ctx = Context(settings=Settings(invoices_table=table, directory_table=directory, inbound_bucket="-", documents_bucket="-"))
    ddb_counting = boto3.client("dynamodb")
    ddb_counting.query, ddb_counting.get_item = counting_query, counting_get
    ctx.__dict__.update(store=InvoiceStore(table, ddb_counting), directory=DirectoryStore(directory, ddb))
    t1 = time.perf_counter()
    first = sweep(ctx)
    swept = time.perf_counter() - t1
    r1 = read["n"]
    read["n"] = 0
    second = sweep(ctx)
    print(f"sweep: read {r1} items for {first['checked']} due among {n} open "
          f"({first['overdue']} marked overdue; {swept:.1f} s on moto, loading {loaded:.0f} s); "
          f"the next pass read {read['n']} for {second['checked']} due")
    clock.set_provider(None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
