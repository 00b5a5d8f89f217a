"""The embedded default: Facteur's own template.yaml running on moto in this process.

    with LocalRuntime(out_dir=Path("demo-out")) as rt:
        rt.load_directory(Path("config/demo-directory.yaml"))
        rt.drop("acme", Path("invoice.xml"))         # S3 put -> notification -> ingest -> state machine
        rt.settle()                                  # run until every execution waits on the clock
        rt.advance(timedelta(days=3))                # Wait states, retries and schedules fire

What runs here is what runs on AWS: the resources created from template.yaml by the local
deployer, the handlers loaded from each function's CodeUri, the state machine's ASL executed by
moto's interpreter. The pieces moto lacks are the adapters of local/patches.py, the SES outbox
and relay (local/mail.py), the API Gateway (local/gateway.py) and the scheduler below, which
fires EventBridge schedules as the virtual clock passes them.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import requests

from . import faults as fault_injection
from .as2 import As2Outbox, As2Relay, install_as2
from .deployer import ACCOUNT, Deployer
from .faults import Faults
from .gateway import LocalApiGateway
from .mail import Outbox, Relay, install_outbox
from .patches import (
    FunctionRegistry,
    VirtualClock,
    check_patch_points,
    install_clock,
    install_events,
    install_fast_transactions,
    install_lambda,
)
from .schedule import Schedule
from .wakeups import OneTimeSchedules

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-west-3"
DEFAULT_START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


class NotSettled(RuntimeError):
    pass


def parse_duration(text: str) -> timedelta:
    """'3d', '12h', '30m', '45s' or plain seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhms]?)\s*", text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 3d, 12h, 30m)")
    n = float(m.group(1))
    return timedelta(seconds=n * {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}[m.group(2)])


@dataclass
class ScheduledRule:
    name: str
    arn: str
    schedule: Schedule
    targets: list[dict]
    next_at: datetime
    fired: int = 0


class LocalRuntime:
    def __init__(self, root: Path = ROOT, *, stage: str = "dev", start: datetime = DEFAULT_START,
                 out_dir: Path | None = None, api_port: int = 0, moto_port: int = 0,
                 mail_from: str = "factures@facteur.example", log_file: Path | None = None):
        self.root = root
        self.stage = stage
        self.start_at = start
        self.out_dir = out_dir
        self.api_port = api_port
        self.moto_port = moto_port
        self.mail_from = mail_from
        self.log_file = log_file
        self.clock = VirtualClock(start)
        self.registry = FunctionRegistry(root)
        self.faults = Faults()
        self.outbox = Outbox(self.clock.now_dt)
        self.as2 = As2Outbox(self.clock.now_dt)
        self.schedules: list[ScheduledRule] = []
        self.fired: list[tuple[str, datetime, bool]] = []
        self.one_time = OneTimeSchedules(ACCOUNT, REGION)  # EventBridge Scheduler's at() schedules
        self._saved_env: dict[str, str] | None = None
        self._log_stream: Any = None
        self._previous_stream: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._machines: list[str] | None = None
        self.started = False

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> LocalRuntime:
        from moto.server import ThreadedMotoServer

        check_patch_points()
        self._saved_env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(k, None)
        os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                           "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
                           "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_EC2_METADATA_DISABLED": "true",
                           # EMF metrics are printed to stdout by Powertools: locally they would
                           # interleave with the demo's output (CloudWatch reads them on AWS)
                           "POWERTOOLS_METRICS_DISABLED": "true"})
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        os.environ["MOTO_PORT"] = str(port)  # moto's Step Functions interpreter calls Lambda here
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=30).raise_for_status()
        requests.post(f"{self.endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}},
                      timeout=30).raise_for_status()

        install_lambda(self.registry, self.faults)
        fault_injection.install(self.faults)
        install_clock(self.clock)
        install_events()
        install_fast_transactions()
        install_outbox(self.outbox)
        install_as2(self.as2)
        import facteur.context

        facteur.context.reset_context()
        self._redirect_logs()

        # The API is bound before the deploy: the download links carry its URL.
        self.gateway = LocalApiGateway(stage=self.stage, region=REGION, account=ACCOUNT, port=self.api_port,
                                       now_epoch_ms=lambda: int(self.clock.now() * 1000), control=self.control).start()
        self.deployer = Deployer(self.root, REGION, parameters={
            "Stage": self.stage, "PublicApiUrl": self.gateway.url, "MailFrom": self.mail_from,
            # one EDI trading partner, played by the AS2 relay (local/as2.py)
            "EdiPartnerAs2Url": "http://127.0.0.1:4080/as2", "EdiLocalProfileId": "p-00000000000000001",
            "EdiPartnerProfileId": "p-00000000000000002",
        }).deploy(self.root / "template.yaml")
        self._wire_functions()
        from . import meter

        meter.METER.__init__()  # type: ignore[misc]  # counts start at the deployment
        meter.install(self.client)
        if len(self.deployer.apis) != 1:
            raise RuntimeError(f"the local runtime serves one API, the template has {len(self.deployer.apis)}")
        (api,) = self.deployer.apis.values()
        if api["stage"] != self.stage:
            raise RuntimeError(f"API stage {api['stage']} != {self.stage}")
        self.gateway.mount(api["id"], api["body"], self.client("lambda"))
        self.verify_sender(self.mail_from)
        self.relay = Relay(self.outbox, self.client("events"), self.out_dir / "mail" if self.out_dir else None,
                           self.deployer.ses_event_types, REGION, ACCOUNT)
        self.as2_relay = As2Relay(self.as2, self.client("events"), self.client("s3"),
                                  self.out_dir / "edi" if self.out_dir else None, REGION, ACCOUNT)
        now = self.clock.now_dt()
        for name, rule in sorted(self.deployer.schedules.items()):
            if rule["enabled"]:
                for t in rule["targets"]:
                    if ":lambda:" not in t["Arn"]:
                        raise RuntimeError(f"schedule {name}: only Lambda targets are supported locally ({t['Arn']})")
                sched = Schedule(rule["expression"])
                self.schedules.append(ScheduledRule(name, rule["arn"], sched, rule["targets"], sched.next_after(now, now)))
        self.started = True
        return self

    def _wire_functions(self) -> None:
        # Each function runs with its own Environment.Variables (set per invocation in a context
        # variable, see facteur.settings); what all of them share goes to os.environ too, for
        # the libraries that read it at import (POWERTOOLS_SERVICE_NAME...).
        envs = [{k: str(v) for k, v in f["env"].items()} for f in self.deployer.functions.values()]
        common = {k: v for k, v in envs[0].items() if all(e.get(k) == v for e in envs[1:])} if envs else {}
        for logical, f in self.deployer.functions.items():
            self.registry.register(f["name"], f["code_dir"], f["handler"], f["env"])
            self.faults.aliases[logical] = f["name"]
        os.environ.update(common)

    def _redirect_logs(self) -> None:
        if not self.log_file:
            return
        from facteur.observability import logger

        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_stream = self.log_file.open("a", encoding="utf-8")
        handler: Any = logger.registered_handler
        with handler.lock:  # not setStream(): it flushes the old stream, which may be closed by now
            self._previous_stream, handler.stream = handler.stream, self._log_stream

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        sfn = self.client("stepfunctions")
        for arn in self._state_machines():  # parked executions hold threads: end them
            for ex in self._executions(arn, "RUNNING"):
                sfn.stop_execution(executionArn=ex["executionArn"], cause="local runtime stopped")
        self.gateway.stop()
        self.server.stop()
        import facteur.clock
        import facteur.context

        facteur.clock.set_provider(None)
        facteur.context.reset_context()
        if self._log_stream:
            from facteur.observability import logger

            handler: Any = logger.registered_handler
            with handler.lock:
                handler.stream = self._previous_stream
            self._log_stream.close()
        if self._saved_env is not None:
            os.environ.clear()
            os.environ.update(self._saved_env)

    # -- access ---------------------------------------------------------------------------

    def client(self, service: str):
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.session.Session().client(service, region_name=REGION,
                                                                        endpoint_url=self.endpoint)
            return self._clients[service]

    @property
    def api_url(self) -> str:
        return self.gateway.url

    @property
    def outputs(self) -> dict[str, str]:
        return self.deployer.outputs

    def now(self) -> datetime:
        return self.clock.now_dt()

    def verify_sender(self, address: str) -> None:
        """The local equivalent of verifying an SES identity (moto refuses unverified senders)."""
        self.client("ses").verify_domain_identity(Domain=address.rsplit("@", 1)[-1])

    def load_directory(self, source: Path | str) -> dict[str, int]:
        """Load suppliers, customers and API keys into the directory table (as `facteur directory load`)."""
        import yaml

        from facteur.routing.directory import DirectoryStore, load_yaml

        text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
        for s in (yaml.safe_load(text) or {}).get("suppliers", []):
            if s.get("mail_from"):
                self.verify_sender(s["mail_from"])
        return load_yaml(DirectoryStore(self.outputs["DirectoryTableName"], self.client("dynamodb")), text)

    def drop(self, supplier_id: str, data: bytes | Path, name: str | None = None) -> str:
        """A billing system drops a file into the inbound bucket, under in/{supplier}/."""
        if isinstance(data, Path):
            name, data = name or data.name, data.read_bytes()
        key = f"in/{supplier_id}/{name}"
        self.client("s3").put_object(Bucket=self.outputs["InboundBucketName"], Key=key, Body=data)
        return key

    # -- time -----------------------------------------------------------------------------

    def _state_machines(self) -> list[str]:
        if self._machines is None:  # fixed by the deployment
            self._machines = [m["stateMachineArn"] for m in self.client("stepfunctions").list_state_machines()["stateMachines"]]
        return self._machines

    def _executions(self, arn: str, status: str | None = None) -> list[dict]:
        sfn = self.client("stepfunctions")
        kwargs: dict[str, Any] = {"stateMachineArn": arn, "maxResults": 1000}
        if status:
            kwargs["statusFilter"] = status
        out = []
        while True:
            page = sfn.list_executions(**kwargs)
            out += page["executions"]
            if not page.get("nextToken"):
                return out
            kwargs["nextToken"] = page["nextToken"]

    def executions(self, status: str | None = None) -> list[dict]:
        return [e for arn in self._state_machines() for e in self._executions(arn, status)]

    def settle(self, timeout: float = 300.0) -> None:
        """Run until nothing moves without the clock: no handler running, every running
        execution asleep on a future deadline, the outbox relayed."""
        limit = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < limit:
            if (self.outbox.pending or self.as2.pending) and self.registry.inflight == 0:
                # Relayed once the sending handler has returned (and recorded 'sent'/'reminded'):
                # SES delivers seconds after accepting a message, an AS2 partner answers its MDN, never before.
                self.relay.pump()
                self.as2_relay.pump()
                quiet = 0
                continue
            sleepers, due = self.clock.waiting()
            running = len(self.executions("RUNNING"))
            busy = self.registry.inflight > 0 or due > 0 or running > sleepers
            quiet = 0 if busy else quiet + 1
            if quiet >= 3:
                return
            time.sleep(0.02)
        raise NotSettled(f"still busy after {timeout:.0f}s: {self.registry.inflight} handler(s) running, "
                         f"{len(self.executions('RUNNING'))} execution(s) running")

    def advance(self, delta: timedelta) -> None:
        self.advance_to(self.clock.now_dt() + delta)

    def advance_to(self, target: datetime) -> None:
        """Move the virtual clock to `target`, stopping at every Wait deadline and schedule on
        the way so that each fires at its own virtual time, in order."""
        while True:
            self.settle()
            candidates = [t for t in [self.clock.next_deadline()] if t is not None]
            candidates += [r.next_at.timestamp() for r in self.schedules]
            one_time = self.one_time.next_at()
            if one_time is not None:
                candidates.append(max(one_time.timestamp(), self.clock.now()))
            nxt = min(candidates) if candidates else None
            if nxt is None or nxt > target.timestamp():
                self.clock.set(target.timestamp())
                self.settle()
                return
            self.clock.set(nxt)
            self._fire_schedules()

    def serve_forever(self, stop: threading.Event, tick: float = 0.5) -> None:
        """`facteur local up`: virtual time runs at real speed (Wait states wake on their own);
        relay mail and fire schedules as they come due, until `stop` is set."""
        while not stop.wait(tick):
            self.relay.pump()
            one_time = self.one_time.next_at()
            if any(r.next_at <= self.clock.now_dt() for r in self.schedules) or (one_time and one_time <= self.clock.now_dt()):
                self._fire_schedules(settle=False)

    def control(self, method: str, path: str, query: dict[str, str], body: Any = None) -> tuple[int, dict]:
        """The local-only control routes (`/_local/...` on the API port): clock, outbox, faults."""
        if path == "/_local/faults":
            if method == "POST":
                specs = body if isinstance(body, list) else [body]
                return 201, {"armed": [self.faults.arm(s).public() for s in specs]}
            if method == "DELETE":
                self.faults.clear()
                return 200, self.faults.public()
            return 200, self.faults.public()
        if path == "/_local/clock" and method == "GET":
            return 200, {"now": self.clock.now_dt().isoformat(), "next_deadline": self.clock.next_deadline(),
                         "schedules": {r.name: r.next_at.isoformat() for r in self.schedules}}
        if path == "/_local/advance" and method == "POST":
            self.advance(parse_duration(query.get("by", "0")))
            return 200, {"now": self.clock.now_dt().isoformat()}
        if path == "/_local/mail" and method == "GET":
            return 200, {"mails": [{"message_id": m.message_id, "sent_at": m.sent_at.isoformat(), "to": m.to,
                                    "subject": m.subject, "links": m.links(), "events": m.events,
                                    "file": str(m.path) if m.path else None} for m in self.outbox.mails]}
        return 404, {"message": f"no local control route {method} {path}"}

    @staticmethod
    def _side_effects() -> int:
        """How many calls the handlers made that set something going outside them (metered)."""
        from .meter import METER

        return sum(n for u in list(METER.usage.values()) for op, n in list(u.calls.items())
                   if op.startswith(("stepfunctions.", "sesv2.", "ses.", "lambda.")))

    def _fire_schedules(self, settle: bool = True) -> None:
        now = self.clock.now_dt()
        if self.one_time.fire(now, self.client) and settle:  # the milestone loops' wake-ups (EventBridge Scheduler)
            self.settle()
        lam = self.client("lambda")
        for rule in self.schedules:
            while rule.next_at <= now:
                at = rule.next_at
                event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                         "source": "aws.events", "account": ACCOUNT, "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "region": REGION, "resources": [rule.arn], "detail": {}}
                before = self._side_effects()
                for target in rule.targets:
                    payload = target.get("Input") or json.dumps(event)
                    res = lam.invoke(FunctionName=target["Arn"], InvocationType="RequestResponse", Payload=payload.encode())
                    self.fired.append((rule.name, at, "FunctionError" not in res))
                rule.fired += 1
                rule.next_at = rule.schedule.next_after(at)
                # The invocation has returned: only what it set going (an execution started or woken,
                # a mail to relay) needs settling; a pass that found nothing to do needs none.
                if settle and (self._side_effects() != before or self.outbox.pending or self.as2.pending):
                    self.settle()
