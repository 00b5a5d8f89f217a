"""The three adapters moto needs to run Facteur's own template locally (see
shared/docs/LOCAL_RUNTIME.md). They replace private moto functions, so moto is pinned and
`check_patch_points()` fails loudly (tests/contract) if an upgrade moves them.

1. Lambda in-process: moto's Docker runner is replaced by a call of the function's own handler
   (CodeUri + Handler from template.yaml), each CodeUri loaded under its own module name.
2. Virtual clock: Wait states, Timestamp waits and Retry back-off sleep on virtual time.
3. EventBridge rule -> Lambda targets (moto does not implement that target type).
4. SES v2 outbox (local/mail.py): moto drops EmailTags and the configuration set.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .faults import Faults, LambdaCrash, handler_scope
from .meter import CURRENT as METER_SUBJECT
from .meter import METER

PATCH_POINTS = [
    ("moto.awslambda.models", "LambdaFunction", "_invoke_lambda"),
    ("moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function", "WaitFunction", "_wait_interval"),
    ("moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp", "Timestamp", "_get_wait_seconds"),
    ("moto.stepfunctions.parser.asl.component.common.retry.retrier_decl", None, "time"),
    ("moto.events.models", "Rule", "send_to_targets"),
    ("moto.sesv2.responses", "SESV2Response", "send_email"),
    ("moto.stepfunctions.parser.asl.component.state.exec.execute_state", "ExecutionState", "_evaluate_with_timeout"),
    ("moto.stepfunctions.parser.asl.eval.callback.callback", "CallbackEndpoint", "wait"),
    ("moto.dynamodb.models", "DynamoDBBackend", "transact_write_items"),
    ("moto.dynamodb.models", None, "copy"),
]


def check_patch_points() -> None:
    for module, cls, attr in PATCH_POINTS:
        mod = importlib.import_module(module)
        owner = getattr(mod, cls) if cls else mod
        if not hasattr(owner, attr):
            raise RuntimeError(f"moto moved {module}.{cls or ''}.{attr}: the local runtime must be updated")


def replace(owner: Any, attr: str, new: Any, original: Any = None) -> None:
    """Patch `owner.attr` (a private moto function listed in PATCH_POINTS); `original` is kept on
    the replacement so that installing twice wraps the original, never a previous patch."""
    if original is not None:
        new.__wrapped_by_facteur__ = original
    setattr(owner, attr, new)


# --- 1. Lambda in-process ---------------------------------------------------------------

class FunctionRegistry:
    """function name -> (code dir, handler) from the deployed template."""

    def __init__(self, root: Path):
        self.root = root
        self.functions: dict[str, tuple[Path, str]] = {}
        self._modules: dict[str, object] = {}
        self._lock = threading.Lock()
        self.inflight = 0
        self.invocations: list[tuple[str, bool]] = []
        self.crashes: list[str] = []  # injected runtime crashes (local/faults.py)
        self.envs: dict[str, dict[str, str]] = {}  # function name -> its Environment.Variables

    def register(self, name: str, code_dir: Path, handler: str, env: dict[str, str] | None = None) -> None:
        self.functions[name] = (code_dir, handler)
        self.envs[name] = {k: str(v) for k, v in (env or {}).items()}

    def resolve(self, name: str):
        code_dir, handler = self.functions[name]
        mod_name, func = handler.rsplit(".", 1)
        key = f"facteur_fn_{code_dir.name}_{mod_name}"
        with self._lock:
            if key not in self._modules:
                spec = importlib.util.spec_from_file_location(key, code_dir / f"{mod_name}.py")
                if spec is None or spec.loader is None:
                    raise RuntimeError(f"cannot load {code_dir / mod_name}.py")
                module = importlib.util.module_from_spec(spec)
                sys.modules[key] = module
                spec.loader.exec_module(module)
                self._modules[key] = module
        return getattr(self._modules[key], func)


class _Context:
    def __init__(self, fn):
        self.function_name = fn.function_name
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = fn.memory_size
        self.aws_request_id = str(uuid.uuid4())
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{fn.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


REGISTRY: FunctionRegistry | None = None


def install_lambda(registry: FunctionRegistry, faults: Faults | None = None) -> None:
    from moto.awslambda.models import LambdaFunction

    from facteur.observability import logger
    from facteur.settings import FUNCTION_ENV

    global REGISTRY
    REGISTRY = registry
    faults = faults or Faults()

    def _crash(name: str, message: str):
        registry.crashes.append(name)
        logger.error("lambda runtime crashed (injected)", extra={"function": name, "crash": message})
        return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}), True, message

    def _invoke_lambda(self, event=None):
        payload = json.loads(event) if isinstance(event, (str, bytes)) and event else (event or {})
        name = self.function_name
        with registry._lock:
            registry.inflight += 1
        try:
            if faults.take(f"function:{name}", "before"):
                return _crash(name, "RequestId: local Error: Runtime exited before the handler ran (injected)")
            handler = registry.resolve(name)
            token = FUNCTION_ENV.set(registry.envs.get(name, {}))  # this function's variables, this thread only
            subject = METER.subject_of(name, payload)
            metered = METER_SUBJECT.set(subject)  # what its AWS calls are billed to (local/meter.py)
            started = time.perf_counter()
            try:
                with handler_scope():
                    result = handler(payload, _Context(self))
            finally:
                METER.invocation(subject, int(getattr(self, "memory_size", 128) or 128), time.perf_counter() - started,
                                 function=name)
                METER_SUBJECT.reset(metered)
                FUNCTION_ENV.reset(token)
            if faults.take(f"function:{name}", "after_side_effect"):
                return _crash(name, "RequestId: local Error: Runtime exited after the handler's side effects (injected)")
            registry.invocations.append((name, True))
            return json.dumps(result, default=str), False, ""
        except LambdaCrash as crash:
            return _crash(name, str(crash))
        except Exception as exc:  # noqa: BLE001 - the Lambda error contract: any error becomes errorType/errorMessage
            registry.invocations.append((name, False))
            tb = traceback.format_exc()
            # What the Lambda runtime writes to CloudWatch for an unhandled error
            logger.error("handler raised", extra={"function": name, "error_type": type(exc).__name__,
                                                  "stack": tb.splitlines()[-6:]})
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": tb.splitlines()[-8:]}), True, tb
        finally:
            with registry._lock:
                registry.inflight -= 1

    replace(LambdaFunction, "_invoke_lambda", _invoke_lambda)


# --- 2. Virtual clock -------------------------------------------------------------------

class VirtualClock:
    """Virtual now = real now + offset. Sleepers register their deadline so the runtime can
    jump straight to the next one."""

    def __init__(self, start: datetime | None = None):
        import time

        self._time = time
        self.offset = (start.timestamp() - time.time()) if start else 0.0
        self.cv = threading.Condition()
        self.deadlines: dict[int, float] = {}
        self.conditions: dict[int, Any] = {}  # each sleeper's "still sleeping?" (False: woken, not yet running)

    def now(self) -> float:
        return self._time.time() + self.offset

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def utcnow_naive(self) -> datetime:
        return self.now_dt().replace(tzinfo=None)

    def set(self, ts: float) -> None:
        with self.cv:
            if ts > self.now():
                self.offset += ts - self.now()
            self.cv.notify_all()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + seconds)

    def next_deadline(self) -> float | None:
        with self.cv:
            return min(self.deadlines.values()) if self.deadlines else None

    def sleep(self, seconds: float, still_running=lambda: True) -> None:
        deadline = self.now() + seconds
        token = id(threading.current_thread()) ^ id(object())
        with self.cv:
            self.deadlines[token] = deadline
            self.conditions[token] = still_running
            try:
                while self.now() < deadline and still_running():
                    self.cv.wait(timeout=0.2)
            finally:
                self.deadlines.pop(token, None)
                self.conditions.pop(token, None)

    @property
    def sleepers(self) -> int:
        with self.cv:
            return len(self.deadlines)

    def waiting(self) -> tuple[int, int]:
        """(sleepers, sleepers due but not running yet: their deadline passed, or what they wait
        for came (a task token handed back) and their thread has not taken it yet)."""
        with self.cv:
            now = self.now()
            return len(self.deadlines), sum(1 for t, d in self.deadlines.items()
                                            if d <= now or not self.conditions.get(t, lambda: True)())


def install_clock(clock: VirtualClock) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function

    def _wait_interval(self, env, wait_seconds):
        if wait_seconds > 0:
            clock.sleep(wait_seconds, still_running=env.is_running)

    replace(wait_function.WaitFunction, "_wait_interval", _wait_interval)
    original = getattr(timestamp.Timestamp._get_wait_seconds, "__wrapped_by_facteur__",
                       timestamp.Timestamp._get_wait_seconds)

    def _get_wait_seconds(self, env):
        self.string.eval(env=env)
        value = env.stack.pop()
        ts = self._from_timestamp_string(timestamp=value)
        if ts is None:
            env.stack.append(value)
            return original(self, env)
        # moto compares a UTC timestamp with naive local now(); compare UTC with UTC.
        return int((ts - clock.utcnow_naive()).total_seconds())

    replace(timestamp.Timestamp, "_get_wait_seconds", _get_wait_seconds, original)

    class _Time:
        sleep = staticmethod(lambda s: clock.sleep(s))

    replace(retrier_decl, "time", _Time)

    _install_callback_timeouts(clock)

    import facteur.clock

    facteur.clock.set_provider(clock.now_dt)


def _install_callback_timeouts(clock: VirtualClock) -> None:
    """A `.waitForTaskToken` task's TimeoutSeconds(Path) runs on the virtual clock, like a Wait
    state: the parked milestone loop times out at its planned check when the clock gets there, or
    wakes as soon as SendTaskSuccess arrives. Other tasks keep moto's own (real-time) timeout."""
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.eval.callback import callback

    original = getattr(execute_state.ExecutionState._evaluate_with_timeout, "__wrapped_by_facteur__",
                       execute_state.ExecutionState._evaluate_with_timeout)

    def _evaluate_with_timeout(self, env):
        resource = getattr(self, "resource", None)
        if getattr(resource, "condition", None) != ResourceCondition.WaitForTaskToken:
            return original(self, env)
        self.timeout.eval(env=env)
        env.stack.pop()  # TimeoutSeconds: enforced by the token's wait on the virtual clock (below)
        frame = env.open_frame()
        frame.states.reset(input_value=env.states.get_input())
        for _ in range(10):  # another thread may be changing a dict of moto's being copied: copy again
            try:
                frame.stack = copy.deepcopy(env.stack)
                break
            except RuntimeError:
                time.sleep(0.005)
        else:
            frame.stack = copy.deepcopy(env.stack)
        outputs: list = []
        errors: list = [None]
        done = threading.Event()

        def _exec_and_notify():
            try:
                self._eval_execution(frame)
                outputs.extend(frame.stack)
            except Exception as ex:  # noqa: BLE001 - handed to the interpreter below, as moto does
                errors.append(ex)
            done.set()
            with clock.cv:
                clock.cv.notify_all()

        threading.Thread(target=_exec_and_notify, daemon=True).start()
        # Not a sleeper of the clock while its Lambda runs (the runtime would take the execution for
        # parked before the step has even started): the task is parked, on the virtual clock, by the
        # token's wait (CallbackEndpoint.wait below), which raises States.Timeout when its time comes.
        while not done.wait(0.05) and env.is_running():
            pass
        frame.set_ended()
        env.close_frame(frame)
        error = errors.pop()
        if error:
            raise error
        if not done.is_set():
            raise execute_state.EvalTimeoutError()
        output = outputs.pop()
        env.stack.append(output)
        # what moto's own method does next: result, assignments, selector, result path
        if not self._is_language_query_jsonpath():
            env.states.set_result(output)
        if self.assign_decl:
            self.assign_decl.eval(env=env)
        if self.result_selector:
            self.result_selector.eval(env=env)
        if self.result_path:
            self.result_path.eval(env)
        else:
            env.states.reset(input_value=env.stack.pop())

    replace(execute_state.ExecutionState, "_evaluate_with_timeout", _evaluate_with_timeout, original)

    original_wait = getattr(callback.CallbackEndpoint.wait, "__wrapped_by_facteur__", callback.CallbackEndpoint.wait)

    def wait(self, timeout=None):
        if timeout is None:
            return original_wait(self, timeout)
        clock.sleep(timeout, still_running=lambda: not self._notify_event.is_set())
        return self._outcome

    replace(callback.CallbackEndpoint, "wait", wait, original_wait)

    original_notify = getattr(callback.CallbackEndpoint.notify, "__wrapped_by_facteur__", callback.CallbackEndpoint.notify)

    def notify(self, outcome):
        original_notify(self, outcome)
        with clock.cv:  # a sleeping waiter sees the token's outcome at once, not at its next poll
            clock.cv.notify_all()

    replace(callback.CallbackEndpoint, "notify", notify, original_notify)


# --- 3. EventBridge rule -> Lambda -------------------------------------------------------

def install_events() -> None:
    from moto.awslambda.models import lambda_backends
    from moto.events.models import Rule
    from moto.utilities.arns import parse_arn

    original = getattr(Rule.send_to_targets, "__wrapped_by_facteur__", Rule.send_to_targets)

    def send_to_targets(self, original_event, transform_input: bool = True):
        # A scheduled rule (no pattern) matches no event: its targets run on the schedule only.
        if self.scheduled_expression and not self.event_pattern.get_pattern():
            return
        if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
            return
        others = []
        for target in self.targets:
            arn = parse_arn(target["Arn"])
            if arn.service == "lambda":
                backend = lambda_backends[arn.account][arn.region]
                fn = backend.get_function(target["Arn"])
                fn.invoke(json.dumps(original_event, default=str), {}, {})
            else:
                others.append(target)
        if others:
            saved, self.targets = self.targets, others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    replace(Rule, "send_to_targets", send_to_targets, original)


# --- 7. DynamoDB transactions without a copy of the whole table ------------------------------
# moto backs up every table a TransactWriteItems touches with copy.deepcopy, once per item of
# the transaction, to roll back on a cancelled one: O(table size) per transaction (1.3 s at 3,000
# items, hours for the 100,000-invoice sweep bench). This keeps moto's transaction logic and backs
# up only the items the transaction names, restoring them when it is cancelled.

class _TableAwareCopy:
    """Stands for the `copy` module inside moto's DynamoDB models: a Table is not copied."""

    def __getattr__(self, name: str) -> Any:
        import copy

        return getattr(copy, name)

    @staticmethod
    def deepcopy(x: Any, memo: Any = None) -> Any:
        import copy

        from moto.dynamodb.models.table import Table

        return x if isinstance(x, Table) else copy.deepcopy(x, memo)


def install_fast_transactions() -> None:
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = getattr(DynamoDBBackend.transact_write_items, "__wrapped_by_facteur__", DynamoDBBackend.transact_write_items)

    def snapshot(table, attrs: dict) -> tuple:
        h = DynamoType(attrs[table.hash_key_attr])
        if table.range_key_attr:
            r = DynamoType(attrs[table.range_key_attr])
            old = table.items[h].get(r) if h in table.items else None
        else:
            r, old = None, table.items.get(h)
        return table, h, r, copy.deepcopy(old) if old is not None else None

    def restore(snap: tuple) -> None:
        table, h, r, old = snap
        if r is None:
            if old is None:
                table.items.pop(h, None)
            else:
                table.items[h] = old
        elif old is None:
            if h in table.items:
                table.items[h].pop(r, None)
                if not table.items[h]:
                    del table.items[h]
        else:
            table.items[h][r] = old

    def transact_write_items(self, transact_items):
        snaps = []
        for item in transact_items:
            _, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            attrs = op.get("Key") or op.get("Item") or {}
            if table is not None and table.hash_key_attr in attrs and (not table.range_key_attr or table.range_key_attr in attrs):
                snaps.append(snapshot(table, attrs))
        try:
            return original(self, transact_items)
        except Exception:
            for snap in reversed(snaps):
                restore(snap)
            raise

    models.copy = _TableAwareCopy()  # type: ignore[assignment]
    replace(DynamoDBBackend, "transact_write_items", transact_write_items, original)
