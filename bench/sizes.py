"""`make build`: the unzipped size of each built function with its layer, against Lambda's
250 MiB limit (function code and all its layers, unzipped). Exits 1 when one is over."""
from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 250 * 1024 * 1024


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(build_dir: str) -> int:
    root = Path(build_dir)
    layers = {d.name: size(d) for d in root.iterdir() if d.is_dir() and d.name.endswith("Layer")}
    layer_total = sum(layers.values())
    for name, n in sorted(layers.items()):
        print(f"{name:<28} {n / 2**20:8.1f} MiB (layer)")
    worst = 0
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in layers):
        n = size(d)
        total = n + layer_total
        worst = max(worst, total)
        flag = "" if total < LIMIT else "  OVER THE 250 MiB LIMIT"
        print(f"{d.name:<28} {n / 2**20:8.1f} MiB + layer = {total / 2**20:6.1f} MiB{flag}")
    print(f"largest function with its layer: {worst / 2**20:.1f} MiB of {LIMIT / 2**20:.0f} MiB")
    return 0 if worst < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build"))
