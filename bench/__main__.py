"""`make bench`: Facteur's convert+check against the bare libraries doing the same work, in one run.

For a 1-line, a 20-line and a 200-line invoice:
  Facteur: canonical model -> CII (our writer) -> XSD + EN 16931/Factur-X schematron (check_xml)
           -> Factur-X PDF/A-3 from the supplier's PDF (facturx.generate) -> UBL -> XSD + schematron.
  bare:    the same CII and UBL bytes -> lxml XMLSchema.validate + saxonche transform with the same
           compiled stylesheets -> facturx.generate_from_binary on the same PDF.
Timings are the median of several runs after a warm-up (stylesheets compiled once on both sides).
Also reported: each function's handler import time (fresh interpreter) and the layer's installed size.
The last line is `ratio R` = Facteur time / bare time (goal R <= 1.5). Never run by the test suite.
"""
from __future__ import annotations

import importlib.metadata as md
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))


def invoice(n_lines: int):
    sys.path.insert(0, str(ROOT / "demo"))
    from make_inbox import invoice as make

    return make(f"BENCH-{n_lines}", "boulangerie-martin",
                [(f"Article {i} - prestation de maintenance", str(1 + i % 5), f"{Decimal(10 + i % 90)}.50") for i in range(n_lines)])


def median_time(fn, repeat: int = REPEAT) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    from facturx import generate_from_binary
    from lxml import etree

    from facteur.controls import official
    from facteur.controls.official import check_xml
    from facteur.formats import cii, facturx, ubl
    from facteur.formats.render import render_pdf

    print(f"Facteur bench — convert + check, median of {REPEAT} runs (python {sys.version.split()[0]})")
    print(f"{'invoice':>10} {'facteur ms':>11} {'bare ms':>9} {'ratio':>6}")
    total_f = total_b = 0.0
    cii_xsd, ubl_xsd = official.xsd("facturx-en16931-xsd"), official.xsd("ubl-invoice-xsd")
    proc, _ = official._processor()
    cii_sch, ubl_sch = official.stylesheet("facturx-en16931"), official.stylesheet("en16931-ubl")
    for n in (1, 20, 200):
        inv = invoice(n)
        supplier_pdf = render_pdf(inv)  # the supplier's readable PDF, given to both sides

        def facteur_path(inv=inv, supplier_pdf=supplier_pdf):
            xml = cii.write(inv, profile="en16931")
            assert not [f for f in check_xml(xml, in_pdf=True, fr=False) if f.blocking]
            facturx.generate(inv, profile="en16931", pdf=supplier_pdf, xml=xml)
            u = ubl.write(inv)
            assert not [f for f in check_xml(u, fr=False) if f.blocking]

        cii_bytes, ubl_bytes = cii.write(inv, profile="en16931"), ubl.write(inv)

        def bare_path(inv=inv, supplier_pdf=supplier_pdf, cii_bytes=cii_bytes, ubl_bytes=ubl_bytes):
            for data, schema, sheet in ((cii_bytes, cii_xsd, cii_sch), (ubl_bytes, ubl_xsd, ubl_sch)):
                assert schema.validate(etree.fromstring(data))
                node = proc.parse_xml(xml_text=data.decode("utf-8"))
                sheet.transform_to_string(xdm_node=node)
                if data is cii_bytes:
                    generate_from_binary(supplier_pdf, data, flavor="factur-x", level="en16931", check_xsd=False,
                                         pdf_metadata={"author": inv.seller.name, "keywords": "Factur-X", "title": inv.number,
                                                       "subject": inv.number}, lang="fr")

        tf, tb = median_time(facteur_path), median_time(bare_path)
        total_f += tf
        total_b += tb
        print(f"{n:>6} line{'s' if n > 1 else ' '} {tf * 1000:>11.1f} {tb * 1000:>9.1f} {tf / tb:>6.2f}")

    sizes = []
    for n in (1, 20, 200):
        inv = invoice(n)
        sizes.append(f"{n} line{'s' if n > 1 else ''} {len(facturx.generate(inv, profile='en16931', pdf=render_pdf(inv))) / 1024:.0f} KB")
    print("Factur-X size (the supplier's readable PDF + XML + XMP + sRGB profile, fonts subset): " + ", ".join(sizes))
    from facteur.conversion import lost_in

    inv = invoice(20)
    ubl_bytes = ubl.write(inv)
    t_loss = median_time(lambda: lost_in(inv, ubl_bytes))
    print(f"loss report (read the output back, compare field by field), 20 lines: {t_loss * 1000:.1f} ms per output")

    print("handler import time (fresh interpreter, includes the layer):")
    for fn_dir in sorted((ROOT / "functions").iterdir()):
        if not (fn_dir / "app.py").exists():
            continue
        code = (f"import sys,time; sys.path.insert(0, {str(fn_dir)!r}); t=time.perf_counter(); import app; "
                "print(round((time.perf_counter()-t)*1000))")
        env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "facteur", "AWS_DEFAULT_REGION": "eu-west-3"}
        ms = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=fn_dir)
        print(f"  {fn_dir.name:<11} {ms.stdout.strip() or 'error: ' + ms.stderr.strip()[-200:]} ms")

    print(f"layer size (installed, unzipped): {layer_size() / 1e6:.1f} MB of Lambda's 250 MB")
    # each handler's cold and warm time on the local runtime (the demo inbox, then a week)
    subprocess.run([sys.executable, "-m", "bench.handlers"], cwd=ROOT, check=True)
    for n in (2000, 100_000):  # the daily sweep reads what is due, whatever the number of open invoices (~3 min)
        subprocess.run([sys.executable, "-m", "bench.sweep", str(n)], cwd=ROOT, check=True)
    # what each invoice path costs on AWS, measured by the local runtime (about 90 s)
    subprocess.run([sys.executable, "-m", "bench.cost", os.environ.get("BENCH_COST_INVOICES", "5")], cwd=ROOT, check=True)
    print(f"ratio {total_f / total_b:.2f}")
    return 0


def layer_size() -> int:
    """Installed size of the layer: the facteur package plus its requirements (boto3 excluded:
    the Lambda runtime provides it), with their dependencies."""
    reqs = [line.split("==")[0].strip() for line in (ROOT / "layers/common/requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    seen: set[str] = set()
    todo = list(reqs)
    size = sum(p.stat().st_size for p in (ROOT / "layers/common/facteur").rglob("*.py"))
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen or name in ("boto3", "botocore", "s3transfer"):
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        size += sum(p.stat().st_size for p in (Path(str(f.locate())) for f in dist.files or []) if p.exists())
        for r in dist.requires or []:
            if "extra ==" not in r:
                todo.append(r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0].split("~")[0].strip())
    return size


if __name__ == "__main__":
    sys.exit(main())
