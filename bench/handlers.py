"""Cold and warm time of each handler, on template.yaml on the local runtime: the demo supplier's
inbox (PDF, CII, UBL, JSON; 13 inputs) goes through the whole path one file at a time (handlers
running together in one process would share its GIL and inflate each other's times), then the
virtual clock runs a week (reminders, sweeps). For each function that ran: its invocations, the first one (cold: the
handler's imports and first-time work, such as compiling the official rules' XSLT; Lambda's own
runtime start comes on top), the median and 95th percentile of the others (warm), its memory and
the GB-s it would be billed per invocation. Measured in process on this machine.

    python -m bench.handlers"""
from __future__ import annotations

import statistics
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    import logging

    from facteur_local.meter import METER
    from facteur_local.runtime import LocalRuntime

    logging.getLogger("moto").setLevel(logging.CRITICAL)  # its interpreter logs each parked wait's timeout as an error

    inbox = ROOT / "demo" / "inbox"
    with tempfile.TemporaryDirectory() as tmp, LocalRuntime(out_dir=Path(tmp), log_file=Path(tmp) / "lambda.jsonl") as rt:
        rt.load_directory(ROOT / "config" / "demo-directory.yaml")
        for f in sorted(inbox.iterdir()):  # one at a time: in-process handlers running together share one GIL
            rt.drop("atelier-dupont", f)
            rt.settle()
        rt.advance(timedelta(days=7))
        memory = {name: int(getattr(fn, "memory_size", 128) or 128) for name, fn in _functions(rt).items()}
        rows = []
        for name, times in sorted(METER.durations.items()):
            warm = sorted(times[1:])
            p95 = warm[min(len(warm) - 1, int(len(warm) * 0.95))] if warm else None
            mb = memory.get(name, 0)
            rows.append((name.removeprefix("facteur-").removesuffix("-dev"), len(times), times[0],
                         statistics.median(warm) if warm else None, p95, mb,
                         mb / 1024 * statistics.median(warm) if warm else None))
    print("handler              calls   cold s   warm p50 s  warm p95 s   memory MB  warm GB-s/call")
    for name, n, cold, p50, p95, mb, gbs in rows:
        fmt = lambda v, w=10: f"{v:{w}.3f}" if v is not None else " " * (w - 1) + "-"
        print(f"{name:20} {n:5d} {cold:8.3f} {fmt(p50, 12)} {fmt(p95, 11)} {mb:11d} {fmt(gbs, 15)}")
    return 0


def _functions(rt) -> dict:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends["123456789012"]["eu-west-3"]
    return {fn.function_name: fn for fn in backend.list_functions()}


if __name__ == "__main__":
    raise SystemExit(main())
