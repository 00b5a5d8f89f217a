"""`facteur`: the project's command line (installed into .venv)."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC
from pathlib import Path


def _customer_from(directory: str, customer_id: str):
    """A customer from a directory YAML file (the same format `facteur directory load` takes)."""
    import yaml

    from .model.directory import Customer

    doc = yaml.safe_load(Path(directory).read_text(encoding="utf-8")) or {}
    for s in doc.get("suppliers", []):
        for c in s.get("customers", []):
            if c.get("id") == customer_id:
                return Customer.model_validate(c)
    print(f"customer {customer_id} is not in {directory}", file=sys.stderr)
    raise SystemExit(2)


def _raw_check(data: bytes, exc, fr: bool | None):
    """An XML invoice too incomplete for the model (no number, no date...) is still checked with
    the official rules as it is, so that they name what is missing. None when that cannot be done."""
    if exc.code != "incomplete_invoice" or not data.lstrip().startswith(b"<"):
        return None
    from .controls.official import check
    from .formats import xmlsafe
    from .formats.detect import Kind, xml_kind

    if xml_kind(xmlsafe.parse(data, what="the XML")) not in (Kind.CII, Kind.UBL_INVOICE, Kind.UBL_CREDIT_NOTE):
        return None
    checked = check(data, fr=fr)
    return checked if checked.blocking else None


def _inputs(names: list[str]) -> list[str]:
    """Files as given; a directory stands for the invoice-like files under it (sorted)."""
    out = []
    for name in names:
        p = Path(name)
        if p.is_dir():
            out += [str(f) for f in sorted(p.rglob("*")) if f.is_file() and not f.name.startswith(".")]
        else:
            out.append(name)
    return out


def _check(args) -> int:
    from .controls.customer import check_customer
    from .controls.document import check_read
    from .errors import RejectedInput
    from .formats.reader import read_document

    fr = True if args.fr else None  # None: BR-FR for French sellers
    worst = 0
    report = []
    counts = {"conformant": 0, "not conformant": 0, "unreadable": 0}
    for name in _inputs(args.files):
        data = b""
        try:
            data = Path(name).read_bytes()
            got = read_document(data, filename=name)
        except (OSError, RejectedInput) as exc:
            raw = _raw_check(data, exc, fr) if isinstance(exc, RejectedInput) else None
            if raw is None:
                msg = exc.message if isinstance(exc, RejectedInput) else str(exc)
                report.append({"file": name, "readable": False, "reason": msg})
                counts["unreadable"] += 1
                print(f"{name}: cannot be read: {msg}") if not args.json else None
                worst = 2
                continue
            checked, read = raw, None
        else:
            checked, read = check_read(got, fr=fr), got
        findings = checked.blocking
        if args.customer and read is not None:
            findings += [f for f in check_customer(read.invoice, _customer_from(args.directory, args.customer)) if f.blocking]
        report.append({"file": name, "readable": True, "conformant": not findings, "rule_sets": checked.summary(),
                       "findings": [f.model_dump(mode="json", exclude_none=True) for f in findings]})
        counts["not conformant" if findings else "conformant"] += 1
        if not args.json:
            rules = ", ".join(sorted({f"{f.rule} ({f.source})" for f in findings}))
            applied = " + ".join(r.id for r in checked.rule_sets)
            print(f"{name}: {'conformant' if not findings else 'NOT conformant: ' + rules} [{applied}]")
        if findings:
            worst = max(worst, 1)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif len(report) > 1:
        print(f"{len(report)} files: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return worst


SUFFIX = {"facturx": ".pdf", "cii": ".cii.xml", "ubl": ".ubl.xml", "edifact": ".edi", "chorus": ".chorus.json"}


def convert_one(data: bytes, name: str, to: str, profile: str | None = None, chorus_user: int | None = None,
                fr: bool = False):
    """Read one input and write it `to` a format: a `conversion.Output` (bytes, the official
    verdict of what it declares, the loss report), or raises RejectedInput."""
    from .conversion import convert
    from .errors import RejectedInput
    from .formats import chorus
    from .formats.reader import read_document
    from .formats.unread import unread

    read = read_document(data, filename=name)
    inv = read.invoice
    if to in ("ubl", "edifact", "chorus") and not inv.billed_lines:
        raise RejectedInput(f"{to} needs invoice lines (BR-16); this {inv.profile.upper()} invoice has none",
                            code="needs_lines")
    if to == "chorus" and chorus_user is None:
        raise RejectedInput("--chorus-user (the Chorus Pro technical user id) is required for --to chorus",
                            code="chorus_user_missing")
    not_read = unread(read.xml, read.syntax, inv) if read.xml is not None else []
    out = convert(inv, "facturx" if to == "chorus" else to, profile=profile, supplier_pdf=read.pdf, fr=fr, not_read=not_read)
    if to == "chorus":
        assert chorus_user is not None
        out.data = json.dumps(chorus.deposit_payload(out.data, Path(name).stem + ".pdf", chorus_user), indent=2).encode()
        out.format = "chorus"
    return out


def output_name(src: Path, out_dir: Path, suffix: str, taken: set[Path]) -> Path:
    """The output of `src`: its whole name less its last extension (dots inside names are kept:
    `XRechnung.UBL.01.xml` -> `XRechnung.UBL.01.cii.xml`), made distinct when two inputs of one
    run would share it (`-2`, `-3`...): an output never overwrites another of the same run."""
    stem = src.name[: -len(src.suffix)] if src.suffix else src.name
    target = out_dir / (stem + suffix)
    n = 2
    while target.resolve() in taken:
        target = out_dir / f"{stem}-{n}{suffix}"
        n += 1
    taken.add(target.resolve())
    return target


def _convert(args) -> int:
    from .errors import RejectedInput

    if args.output and len(args.files) > 1:
        print("-o names one output: use --out-dir for several inputs", file=sys.stderr)
        return 2
    worst = 0
    taken: set[Path] = set()
    for name in args.files:
        src = Path(name)
        target = Path(args.output) if args.output else output_name(src, Path(args.out_dir or "."), SUFFIX[args.to], taken)
        if target.resolve() == src.resolve():
            print(f"{name}: refusing to overwrite the input", file=sys.stderr)
            worst = 2
            continue
        try:
            out = convert_one(src.read_bytes(), src.name, args.to, args.profile, args.chorus_user, fr=args.fr)
        except (OSError, RejectedInput) as exc:
            print(f"{name}: cannot be converted: {exc.message if isinstance(exc, RejectedInput) else exc}", file=sys.stderr)
            worst = 2
            continue
        lossy = out.lost and args.lossless
        if lossy:
            print(f"{name}: NOT written (--lossless): {args.to} cannot carry " + "; ".join(out.lost), file=sys.stderr)
            worst = max(worst, 1)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(out.data)
        findings = out.blocking
        if findings:
            print(f"{name} -> {target}: written but NOT conformant: {', '.join(sorted({f'{f.rule} ({f.source})' for f in findings}))}")
            worst = max(worst, 1)
        else:
            print(f"{name} -> {target}")
        for item in out.lost:
            print(f"  not carried: {item}")
        if out.notes.get("peppol", "claimed") != "claimed":
            print(f"  declared EN 16931, not Peppol BIS 3: refused by {', '.join(out.notes['peppol']['refused_by'])}")
    return worst


def _cdar_read(args) -> int:
    from .controls.official import check
    from .errors import RejectedInput
    from .formats import cdar

    worst, report = 0, []
    for name in _inputs(args.files):
        try:
            data = Path(name).read_bytes()
            msg = cdar.read(data)
        except (OSError, RejectedInput) as exc:
            reason = exc.message if isinstance(exc, RejectedInput) else str(exc)
            report.append({"file": name, "readable": False, "reason": reason})
            print(f"{name}: cannot be read: {reason}") if not args.json else None
            worst = 2
            continue
        findings = check(data).blocking
        worst = max(worst, 1 if findings else 0)
        entry = {"file": name, "readable": True, "valid": not findings, "source": msg.source,
                 "message": msg.model_dump(mode="json", exclude_none=True),
                 "findings": [f.model_dump(mode="json", exclude_none=True) for f in findings]}
        report.append(entry)
        if not args.json:
            for st in msg.statuses:
                label = st.label or ""
                extra = "".join(f" {k}={v}" for k, v in (("reason_code", st.reason_code), ("reason", st.reason),
                                                          ("amount", st.amount)) if v is not None)
                print(f"{name}: invoice {st.invoice_number} of {st.invoice_date or '?'}: {st.code} {label} "
                      f"(message {msg.type_code}, from the {msg.source or '?'}){extra}")
            if findings:
                print(f"{name}: NOT valid: " + ", ".join(sorted({f'{f.rule} ({f.source})' for f in findings})))
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return worst


def _cdar_write(args) -> int:
    from datetime import datetime
    from decimal import Decimal, InvalidOperation

    from .controls.official import check
    from .errors import RejectedInput
    from .formats import cdar
    from .formats.reader import read_document
    from .model.lifecycle import LIFECYCLE

    if args.code not in LIFECYCLE:
        print(f"{args.code} is not a lifecycle status (200-213)", file=sys.stderr)
        return 2
    rule = LIFECYCLE[args.code]
    if "reason" in rule.needs and not (args.reason or args.reason_code):
        print(f"{args.code} ({rule.label_fr}) needs --reason-code and --reason", file=sys.stderr)
        return 2
    try:
        amount = Decimal(args.amount) if args.amount is not None else None
        inv = read_document(Path(args.invoice).read_bytes(), filename=args.invoice).invoice
    except (OSError, RejectedInput, InvalidOperation) as exc:
        print(f"{args.invoice}: {exc.message if isinstance(exc, RejectedInput) else exc}", file=sys.stderr)
        return 2
    if "amount" in rule.needs and amount is None:
        amount = inv.amount_due
    now = datetime.now(UTC)
    msg = cdar.message_for(inv, args.code, reason_code=args.reason_code, reason=args.reason, amount=amount, at=now,
                           message_id=args.id or f"CDV-{inv.number}-{args.code}-{now.strftime('%Y%m%d%H%M%S')}")
    data = cdar.write(msg)
    findings = check(data).blocking
    (Path(args.output).write_bytes(data) if args.output else sys.stdout.write(data.decode("utf-8")))
    for f in findings:
        print(f"NOT valid: {f.rule} ({f.source}): {f.message[:300]}", file=sys.stderr)
    return 1 if findings else 0


def _scenario_simulate(args) -> int:
    """Every action a scenario would take on the given invoices and events, up to a date."""
    from datetime import date, datetime, time
    from decimal import Decimal, InvalidOperation

    from .errors import FacteurError
    from .model.scenario import for_customer, load
    from .reminders.interest import RateTable
    from .reminders.planner import KINDS, PARIS, Happening, OpenInvoice, schedule

    def fail(msg: str) -> int:
        print(msg, file=sys.stderr)
        return 2

    try:
        scenarios = load(Path(args.scenario).read_text(encoding="utf-8"))
        rates = RateTable.parse(Path(args.rates).read_text(encoding="utf-8"), what=args.rates) if args.rates else RateTable.ecb()
        until = date.fromisoformat(args.until)
        rows = json.loads(Path(args.invoices).read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            return fail(f"{args.invoices}: a JSON list of invoices is expected")
        invoices = [OpenInvoice(id=str(r["id"]), number=str(r.get("number", r["id"])), customer=str(r["customer"]),
                                issue_date=date.fromisoformat(r["issue_date"]), due_date=date.fromisoformat(r["due_date"]),
                                amount_due=Decimal(str(r["amount_due"])), currency=r.get("currency", "EUR")) for r in rows]
        events: dict[str, list[Happening]] = {}
        for n, line in enumerate(Path(args.events).read_text(encoding="utf-8").splitlines(), start=1) if args.events else []:
            if not line.strip():
                continue
            ev = json.loads(line)
            if ev.get("kind") not in KINDS:
                return fail(f"{args.events}, line {n}: kind {ev.get('kind')!r} is not one of {', '.join(sorted(KINDS))}")
            at = ev["at"]
            when = (datetime.fromisoformat(at) if "T" in at else datetime.combine(date.fromisoformat(at), time(0), tzinfo=PARIS))
            if when.tzinfo is None:
                return fail(f"{args.events}, line {n}: 'at' {at} needs a time zone (or give a date only)")
            amount = Decimal(str(ev["amount"])) if ev.get("amount") is not None else None
            events.setdefault(str(ev["invoice"]), []).append(Happening(at=when, kind=ev["kind"], amount=amount))
    except FacteurError as exc:
        return fail(exc.message)
    except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as exc:
        return fail(f"cannot simulate: {type(exc).__name__}: {exc}")
    actions = []
    for inv in invoices:
        scenario = for_customer(scenarios, inv.customer)
        if scenario is None:
            print(f"{inv.id}: no scenario applies to customer {inv.customer}", file=sys.stderr)
            continue
        happened = events.get(inv.id, []) + (events.get(inv.number, []) if inv.number != inv.id else [])
        actions += [a for a in schedule(inv, happened, scenario, rates) if a.at.astimezone(PARIS).date() <= until]
    actions.sort(key=lambda a: (a.at, a.invoice))
    if args.json:
        print(json.dumps([a.public() for a in actions], indent=2, ensure_ascii=False))
        return 0
    for a in actions:
        p = a.public()
        money = f"due {p['amount_due']}" + (f", interest {p['interest']}, indemnity {p['indemnity']}" if a.action in ("formal_notice", "hand_off") else "")
        later = " (held by a pause, run on resumption)" if a.deferred else ""
        print(f"{p['date']}  {a.invoice:<14} {a.action:<18} to {', '.join(a.to):<18} by {a.channel:<6} {money}  [{a.rule}]{later}")
    print(f"{len(actions)} action(s) for {len(invoices)} invoice(s) up to {until.isoformat()}")
    return 0


def _scenario_backtest(args) -> int:
    """Replay the supplier's real timelines (through its API) with a scenario: what it would have
    sent, and days to pay for invoices reminded and not."""
    from datetime import date as date_
    from datetime import datetime, time, timedelta
    from decimal import Decimal

    from .errors import InvalidInput
    from .model.scenario import load
    from .reminders import backtest
    from .reminders.interest import RateTable
    from .reminders.planner import PARIS, OpenInvoice

    try:
        scenarios = load(Path(args.scenario).read_text(encoding="utf-8"))
        rates = RateTable.parse(Path(args.rates).read_text(encoding="utf-8"), what=args.rates) if args.rates else RateTable.ecb()
    except InvalidInput as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if args.name and args.name not in scenarios:
        print(f"no scenario '{args.name}' in {args.scenario} ({', '.join(scenarios)})", file=sys.stderr)
        return 2
    scenario = scenarios[args.name] if args.name else next(iter(scenarios.values()))
    since = date_.fromisoformat(args.since)
    until = datetime.combine(date_.fromisoformat(args.until), time(23, 59), tzinfo=PARIS) if args.until \
        else datetime.now(PARIS)
    url, http = _api(args)
    records, cursor = [], None
    while True:
        page = http.get(f"{url}/invoices", params={"limit": 500, **({"cursor": cursor} if cursor else {})}, timeout=60)
        if page.status_code != 200:
            print(f"GET /invoices: HTTP {page.status_code} {page.text[:300]}", file=sys.stderr)
            return 2
        body = page.json()
        records += body["invoices"]
        cursor = body.get("cursor")
        if not cursor:
            break
    replays = []
    for r in records:
        if not r.get("issue_date") or date_.fromisoformat(r["issue_date"]) < since or r.get("amount_due") is None:
            continue
        events = http.get(f"{url}/invoices/{r['invoice_id']}/timeline", timeout=60).json()["events"]
        if not any(e["kind"] == "sent" for e in events):
            continue  # never left (held, rejected...): nothing to remind
        issued = date_.fromisoformat(r["issue_date"])
        inv = OpenInvoice(id=r["invoice_id"], number=r.get("number") or r["invoice_id"], customer=r.get("customer_id") or "",
                          issue_date=issued, due_date=date_.fromisoformat(r["due_date"]) if r.get("due_date")
                          else issued + timedelta(days=30), amount_due=Decimal(r["amount_due"]), currency=r.get("currency") or "EUR")
        replays.append(backtest.from_timeline(inv, events))
    report = backtest.run(replays, scenario, rates, until)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"scenario '{report['scenario']}' replayed on {report['invoices']} invoice(s) issued since {since} "
          f"({report['paid']} paid, {report['open']} open), up to {until.date()}")
    print("would have sent: " + (", ".join(f"{k} x{v}" for k, v in report["would_send"].items()) or "nothing")
          + f" (on {report['invoices_with_actions']} invoice(s))")
    for group in ("reminded", "not_reminded", "all"):
        st = report["days_to_pay"][group]
        line = f"mean {st['mean_days_to_pay']} d, median {st['median_days_to_pay']} d" if st["invoices"] else "-"
        print(f"days to pay, {group.replace('_', ' ')}: {st['invoices']} paid invoice(s): {line}")
    return 0


def _schema(args) -> int:
    from .model.schema import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return 0


def _directory_load(args) -> int:
    """Load a directory YAML into a deployed stage's DirectoryTable (AWS credentials from the environment)."""
    import boto3

    from .routing.directory import DirectoryStore, load_yaml

    table = args.table or f"facteur-directory-{args.stage}"
    counts = load_yaml(DirectoryStore(table, boto3.client("dynamodb")), Path(args.file).read_text(encoding="utf-8"))
    print(f"{table}: {counts['suppliers']} supplier(s), {counts['customers']} customer(s) loaded")
    return 0


def _directory_check(args) -> int:
    """Validate a directory YAML whole (scenarios, agencies, fallbacks...) without loading it."""
    from .errors import InvalidInput
    from .routing.directory import parse_yaml

    try:
        parsed = parse_yaml(Path(args.file).read_text(encoding="utf-8"))
    except InvalidInput as exc:
        print(f"{args.file}: {exc.message}", file=sys.stderr)
        return 1
    for sup, _, customers, _ in parsed:
        print(f"{sup.id}: {len(customers)} customer(s), scenarios: {', '.join(sup.scenarios) or 'none'}, "
              f"agencies: {', '.join(a.id for a in sup.agencies) or 'none'}")
    return 0


def _api(args):
    import os

    import requests

    url = (args.api or os.environ.get("FACTEUR_API_URL") or "").rstrip("/")
    key = args.key or os.environ.get("FACTEUR_API_KEY")
    if not url or not key:
        raise SystemExit("give the API URL and key: --api/--key or FACTEUR_API_URL/FACTEUR_API_KEY")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return url, session


def _progress(job: dict, out) -> None:
    total, done = job["total"], job["done"]
    width = 30
    filled = width * done // total if total else width
    counts = " ".join(f"{k} {v}" for k, v in sorted(job["counts"].items()))
    line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {counts}"
    if out.isatty():
        print("\r" + line, end="" if job["status"] == "running" else "\n", file=out, flush=True)
    else:
        print(line, file=out, flush=True)


def _actions_run(args) -> int:
    """POST /actions, then follow the job to its end with a progress bar (exit 0 done, 1 some failed)."""
    import time

    url, http = _api(args)
    flt: dict = {}
    if args.status:
        flt["status"] = args.status
    if args.customer:
        flt["customers"] = args.customer
    for name in ("group", "due_before", "due_after", "number_prefix"):
        if getattr(args, name):
            flt[name] = getattr(args, name)
    if args.overdue is not None:
        flt["overdue"] = args.overdue
    if args.invoice:
        flt["invoice_ids"] = args.invoice
    body = {"action": args.action, "filter": flt, "dry_run": args.dry_run,
            **({"agency": args.agency} if args.agency else {}), **({"reason": args.reason} if args.reason else {})}
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    res = http.post(f"{url}/actions", json=body, headers=headers, timeout=120)
    if res.status_code >= 400:
        print(f"HTTP {res.status_code}: {res.text[:500]}", file=sys.stderr)
        return 2
    job = res.json()
    if args.dry_run:
        if args.json:
            print(json.dumps(job, indent=2, ensure_ascii=False))
        else:
            for inv in job["invoices"]:
                print(f"{inv['number'] or inv['invoice_id']:20} {inv['customer_id'] or '-':20} {inv['status']:12} "
                      f"due {inv['due_date'] or '-':10} {inv['outstanding'] or '-':>10}  -> {inv['would']}")
            print(f"{job['matched']} matched, {job['would_act_on']} would get '{job['action']}' (dry run: nothing done)")
        return 0
    print(f"job {job['job_id']}: {args.action} on {job['total']} invoice(s)", file=sys.stderr)
    while True:
        _progress(job, sys.stderr)
        if job["status"] != "running":
            break
        time.sleep(args.poll)
        job = http.get(f"{url}/actions/{job['job_id']}", timeout=60).json()
    job = http.get(f"{url}/actions/{job['job_id']}", timeout=60).json()
    if args.json:
        print(json.dumps(job, indent=2, ensure_ascii=False))
    else:
        for r in job.get("results", []):
            extra = r.get("why") or ", ".join(r.get("sent_to", [])) or r.get("claimed", "")
            print(f"{r['invoice_id']}  {r['outcome']:8} {extra}")
    return 1 if job["counts"].get("failed") else 0


def _actions_status(args) -> int:
    url, http = _api(args)
    res = http.get(f"{url}/actions/{args.job_id}", timeout=60)
    print(json.dumps(res.json(), indent=2, ensure_ascii=False))
    return 0 if res.status_code == 200 else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facteur", description="Facteur e-invoicing")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check invoices with the official rules (exit 0 ok, 1 findings, 2 unreadable)")
    p.add_argument("files", nargs="+", help="files or directories")
    p.add_argument("--fr", action="store_true", help="run the French BR-FR rules whatever the seller (default: French sellers)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--customer", help="also check this customer's expectations (PO, service code, formats...)")
    p.add_argument("--directory", default="config/demo-directory.yaml", help="directory YAML holding --customer")
    p.set_defaults(func=_check)
    p = sub.add_parser("convert", help="convert invoices (exit 0 all converted and conformant, 1 not conformant, 2 unreadable)")
    p.add_argument("files", nargs="+")
    p.add_argument("--to", required=True, choices=sorted(SUFFIX))
    p.add_argument("--profile", choices=["minimum", "basicwl", "basic", "en16931", "extended"],
                   help="Factur-X/CII profile (default: the input's)")
    p.add_argument("--chorus-user", type=int, help="Chorus Pro technical user id (idUtilisateurCourant), for --to chorus")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="output file (one input)")
    out.add_argument("--out-dir", help="output folder (outputs named after the inputs)")
    p.add_argument("--fr", action="store_true", help="also check each output with the French BR-FR rules")
    p.add_argument("--lossless", action="store_true", help="write nothing the target cannot carry whole (exit 1 instead)")
    p.set_defaults(func=_convert)
    p = sub.add_parser("cdar", help="French lifecycle messages (CDAR D22B): read and write")
    csub = p.add_subparsers(dest="cdar_command", required=True)
    p = csub.add_parser("read", help="what CDAR messages say, checked with the official XSD and BR-FR-CDV rules "
                                     "(exit 0 valid, 1 not valid, 2 unreadable)")
    p.add_argument("files", nargs="+", help="files or directories")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cdar_read)
    p = csub.add_parser("write", help="the CDAR message of a status about an invoice, checked before it is written")
    p.add_argument("--invoice", required=True, help="the invoice file (Factur-X, CII, UBL, JSON...) the status is about")
    p.add_argument("--code", required=True, type=int, help="the status, 200-213")
    p.add_argument("--reason-code", help="e.g. TX_TVA_ERR (210), JUSTIF_ABS (208)")
    p.add_argument("--reason", help="the reason, in words")
    p.add_argument("--amount", help="206: approved; 211: paid; 212: cashed (default: the amount due)")
    p.add_argument("--id", help="the message's id (default: derived from the invoice, status and time)")
    p.add_argument("-o", "--output", help="output file (default: standard output)")
    p.set_defaults(func=_cdar_write)
    p = sub.add_parser("scenario", help="reminder and dunning scenarios")
    ssub = p.add_subparsers(dest="scenario_command", required=True)
    p = ssub.add_parser("simulate", help="every action a scenario would take on invoices and their events, up to a date")
    p.add_argument("--scenario", required=True, help="scenario YAML")
    p.add_argument("--invoices", required=True, help="JSON list of {id, number, customer, issue_date, due_date, amount_due, currency}")
    p.add_argument("--events", help="JSON lines of {invoice, at, kind, amount?}")
    p.add_argument("--until", required=True, help="YYYY-MM-DD")
    p.add_argument("--rates", help="CSV from,rate_percent: the ECB rate in force from each date (default: the shipped table)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_scenario_simulate)
    p = ssub.add_parser("backtest", help="replay the supplier's real timelines (through its API) with a scenario: what it "
                                          "would have sent, and days to pay for invoices reminded and not")
    p.add_argument("--scenario", required=True, help="scenario YAML")
    p.add_argument("--name", help="which scenario of the file (default: the first)")
    p.add_argument("--since", required=True, help="invoices issued from this date (YYYY-MM-DD)")
    p.add_argument("--until", help="replay up to this date (default: today)")
    p.add_argument("--rates", help="CSV from,rate_percent (default: the shipped ECB table)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--api", help="the API's base URL (default FACTEUR_API_URL)")
    p.add_argument("--key", help="the supplier's API key (default FACTEUR_API_KEY)")
    p.set_defaults(func=_scenario_backtest)
    p = sub.add_parser("schema", help="print the JSON Schema of the JSON invoice (schemas/invoice.schema.json)")
    p.set_defaults(func=_schema)
    p = sub.add_parser("directory", help="the directory of suppliers and customers")
    dsub = p.add_subparsers(dest="directory_command", required=True)
    p = dsub.add_parser("load", help="load a directory YAML (suppliers, API keys, customers, recipients)")
    p.add_argument("file")
    p.add_argument("--stage", default="dev")
    p.add_argument("--table", help="DirectoryTable name (default facteur-directory-<stage>)")
    p.set_defaults(func=_directory_load)
    p = dsub.add_parser("check", help="validate a directory YAML whole (exit 0 valid, 1 with the place of the error)")
    p.add_argument("file")
    p.set_defaults(func=_directory_check)
    p = sub.add_parser("actions", help="mass actions through the API (POST /actions), followed with a progress bar")
    asub = p.add_subparsers(dest="actions_command", required=True)
    p = asub.add_parser("run", help="resend, remind, pause, resume or hand off every invoice matching a filter")
    p.add_argument("action", choices=["resend", "remind", "pause", "resume", "hand_off"])
    p.add_argument("--status", action="append", help="invoice status (repeatable; default: every open status)")
    p.add_argument("--customer", action="append", help="customer id (repeatable)")
    p.add_argument("--group", help="the customers of this group")
    over = p.add_mutually_exclusive_group()
    over.add_argument("--overdue", dest="overdue", action="store_true", default=None)
    over.add_argument("--not-overdue", dest="overdue", action="store_false")
    p.add_argument("--due-before", help="YYYY-MM-DD")
    p.add_argument("--due-after", help="YYYY-MM-DD")
    p.add_argument("--number-prefix")
    p.add_argument("--invoice", action="append", help="invoice id (repeatable)")
    p.add_argument("--agency", help="hand_off: the agency's id")
    p.add_argument("--reason", help="recorded on each invoice's timeline")
    p.add_argument("--dry-run", action="store_true", help="list what each invoice would get; do nothing")
    p.add_argument("--idempotency-key", help="the same key never runs twice (default: the request and the day)")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between progress reads")
    p.add_argument("--json", action="store_true")
    for q in (p, asub.add_parser("status", help="a job's progress and results")):
        q.add_argument("--api", help="the API's base URL (default FACTEUR_API_URL)")
        q.add_argument("--key", help="the supplier's API key (default FACTEUR_API_KEY)")
    p = asub.choices["status"]
    p.add_argument("job_id")
    p.set_defaults(func=_actions_status)
    asub.choices["run"].set_defaults(func=_actions_run)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
