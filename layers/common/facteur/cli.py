"""`facteur`: the project's command line (installed into .venv)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _check(args) -> int:
    from .controls.customer import check_customer  # noqa: F401  (customer checks need a directory)
    from .controls.official import check_xml
    from .errors import RejectedInput
    from .formats import cii
    from .formats.detect import Kind
    from .formats.reader import read_document

    worst = 0
    report = []
    for name in args.files:
        try:
            read = read_document(Path(name).read_bytes(), filename=name)
        except (OSError, RejectedInput) as exc:
            msg = exc.message if isinstance(exc, RejectedInput) else str(exc)
            report.append({"file": name, "readable": False, "reason": msg})
            print(f"{name}: cannot be read: {msg}", file=sys.stderr) if not args.json else None
            worst = 2
            continue
        xml = read.xml if read.syntax is not Kind.JSON else cii.write(read.invoice, profile="en16931")
        syntax = read.syntax if read.syntax is not Kind.JSON else Kind.CII
        findings = [f for f in check_xml(xml, syntax, read.invoice.profile, fr=args.fr) if f.blocking]
        report.append({"file": name, "readable": True, "conformant": not findings,
                       "findings": [f.model_dump(mode="json", exclude_none=True) for f in findings]})
        if not args.json:
            rules = ", ".join(sorted({f.rule for f in findings}))
            print(f"{name}: {'conformant' if not findings else 'NOT conformant: ' + rules}")
        if findings:
            worst = max(worst, 1)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facteur", description="Facteur e-invoicing")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check invoices with the official rules (exit 0 ok, 1 findings, 2 unreadable)")
    p.add_argument("files", nargs="+")
    p.add_argument("--fr", action="store_true", help="also run the French BR-FR rules")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_check)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
