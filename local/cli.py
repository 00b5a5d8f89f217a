"""`facteur-local`: the embedded runtime's own entry point (never part of the Lambda layer).

    facteur-local demo [--out demo-out]      the whole job on template.yaml, on moto, in ~30 s
    facteur-local up [--faults FILE]         keep the stack and its API running for manual use
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEMO_DIRECTORY = "config/demo-directory.yaml"


def _demo(args) -> int:
    from .demo import run

    return run(Path(args.out))


def _local_up(args) -> int:
    import signal
    import threading

    from .runtime import LocalRuntime

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out = Path(args.out)
    with LocalRuntime(out_dir=out, api_port=args.api_port, moto_port=args.aws_port,
                      log_file=out / "logs" / "lambda.jsonl") as rt:
        partners = None
        if args.directory == DEMO_DIRECTORY and not args.no_partners:
            from .demo import live_partners

            # the demo's partners on loopback, in the directory: webhook receivers, Chorus Pro, a PA,
            # a cXML network, the EDI partner behind the template's AS2 connector
            partners = live_partners(rt, out)
            counts: dict[str, object] = {"suppliers": 1, "customers": "the demo's, with live partners"}
        else:
            counts = dict(rt.load_directory(Path(args.directory))) if args.directory else {}
        if args.faults:
            rt.faults.load(args.faults)
        o = rt.outputs
        print(f"""Facteur local stack is up (template.yaml on moto; virtual clock at {rt.now():%Y-%m-%d %H:%M} UTC).
  API              {rt.api_url}   (Authorization: Bearer <supplier API key>)
  AWS endpoint     {rt.endpoint}   (export AWS_ENDPOINT_URL={rt.endpoint} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=eu-west-3)
  drop invoices    aws s3 cp FILE s3://{o['InboundBucketName']}/in/<supplier id>/
  directory        {counts or 'empty (use --directory FILE)'}
  e-mails          {out / 'mail'} (.eml), GET {rt.api_url.rsplit('/', 1)[0]}/_local/mail
  clock            GET /_local/clock, POST /_local/advance?by=3d
  faults           POST /_local/faults {{"target": "sesv2:SendEmail", "error": "TooManyRequestsException", "times": 6}}""",
              flush=True)
        if partners is not None:
            receiver, chorus, pa, hotels_api, ariba = partners
            print(f"""  partners         webhooks {receiver.url} and {hotels_api.url}; Chorus Pro {chorus.url}; PA (AFNOR) {pa.url};
                   cXML network {ariba.url}; EDI partner behind AS2 connector {o.get('EdiConnectorId')} ({out / 'edi'})""",
                  flush=True)
        print("Ctrl-C stops.", flush=True)
        try:
            rt.serve_forever(stop)
        finally:
            for p in partners or ():
                p.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facteur-local", description="Facteur on the embedded runtime (no AWS account)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the whole job locally on the embedded runtime (no AWS account)")
    p.add_argument("--out", default="demo-out", help="output folder (rebuilt on each run)")
    p.set_defaults(func=_demo)
    p = sub.add_parser("up", help="keep the local stack and its API running for manual use")
    p.add_argument("--api-port", type=int, default=3000)
    p.add_argument("--aws-port", type=int, default=5000, help="port of the local AWS endpoint (moto)")
    p.add_argument("--directory", default=DEMO_DIRECTORY, help="directory YAML to load ('' for none)")
    p.add_argument("--no-partners", action="store_true", help="with the demo directory: no loopback partners "
                                                                "(webhook receivers, Chorus Pro, PA, cXML network)")
    p.add_argument("--out", default="local-out", help="where e-mails and logs go")
    p.add_argument("--faults", help="JSON file: a list of faults to arm at start (see POST /_local/faults)")
    p.set_defaults(func=_local_up)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
