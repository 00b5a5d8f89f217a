"""The scenario engine: what the invoice's state machine does between sending and payment.

`plan` reads the facts (the invoice, its timeline, the customer's scenario) and asks the pure
planner (reminders/planner.py) what is due now and when to wake up next; `act` executes what is
due, each action once (its delivery records, then one `scenario_step` event keyed by the
action: a retry or a second wake-up never repeats it). Without a scenario of the supplier's,
each customer's `milestones` settings make one: "downloaded within N hours, else remind those who
have not opened it, every M hours, up to K times".

Actions: courtesy_reminder, reminder, remind_not_opened, ask_validator (to the recipients of
the roles named, on their channels), formal_notice (a PDF letter with interest and indemnity,
kept with the invoice's documents, attached), fallback_channel (the invoice again, to the
fallback of each recipient whose channel did not deliver), alert (to the supplier), hand_off
(the case, with its documents, to the collection agency; dunning stops there)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from .. import clock
from ..adapters.aws_errors import classify
from ..context import Context
from ..delivery.email import compose
from ..errors import PermanentError
from ..model.directory import Agency, Channel, Customer, Milestones, Recipient, Role, Supplier
from ..model.invoice import Invoice
from ..model.lifecycle import EventKind, Status
from ..model.scenario import AppliesTo, MilestoneRule, Scenario, Step, for_customer
from ..observability import count
from ..reminders.interest import RateTable
from ..reminders.planner import PARIS, Action, Happening, OpenInvoice, plan_next, schedule, start_of_day
from ..tracking.store import Event, InvoiceRecord, apply_event
from .dispatch import MESSAGE_CHANNELS, DispatchPlan, PlannedDelivery, deliver, plan_dispatch, settle
from .outbound import Message, due_date, invoice_summary, post_signed, safe_name, send, send_raw

# Timeline events -> what the planner calls them.
CONFIRMING = frozenset({"email", "http", "cxml", "edi"})  # channels whose own receipt is the delivery
HAPPENS = {EventKind.SENT: "sent", EventKind.DELIVERED: "delivered", EventKind.DOWNLOADED: "downloaded",
           EventKind.APPROVED: "approved", EventKind.PARTIALLY_APPROVED: "approved", EventKind.DISPUTED: "disputed",
           EventKind.SUSPENDED: "suspended", EventKind.COMPLETED: "completed", EventKind.RESOLVED: "resolved",
           EventKind.REFUSED: "refused", EventKind.PLATFORM_REJECTED: "refused", EventKind.PAID: "paid",
           EventKind.PARTIALLY_PAID: "partially_paid", EventKind.HANDED_OFF: "handed_off", EventKind.PAUSED: "paused",
           EventKind.RESUMED: "resumed", EventKind.CANCELLED: "cancelled"}
MAIL_KIND = {"courtesy_reminder": "courtesy", "reminder": "overdue", "remind_not_opened": "not_opened",
             "ask_validator": "validate", "formal_notice": "notice", "fallback_channel": "invoice", "send": "invoice"}
EVENT_OF = {"formal_notice": EventKind.FORMAL_NOTICE, "fallback_channel": EventKind.SENT, "alert": EventKind.ALERTED,
            "hand_off": EventKind.HANDED_OFF, "send": EventKind.SENT}
STEP = "scenario:"
# The events that start an execution of the invoice's path: its current one began at the latest.
STARTS_EXECUTION = {EventKind.RECEIVED, EventKind.RELEASED, EventKind.CORRECTED, EventKind.RETRIED, EventKind.CONTINUED}
GROUPABLE = {"courtesy_reminder", "reminder"}  # what a customer preferring statements gets grouped


@lru_cache(maxsize=1)
def rates() -> RateTable:
    return RateTable.ecb()


def default_scenario(m: Milestones) -> Scenario:
    """The customer's `milestones` settings as a scenario (when the supplier has none)."""
    rules = [MilestoneRule(expect="downloaded", within=timedelta(hours=m.download_within_hours),
                           otherwise=["remind_not_opened"], repeat=m.max_download_reminders,
                           every=timedelta(hours=m.remind_every_hours))] if m.max_download_reminders else []
    return Scenario(name="milestones", applies_to=AppliesTo(default=True), milestones=rules,
                    pause_on=["disputed", "suspended"], stop_on=["paid", "refused", "cancelled"])


def scenario_for(supplier: Supplier, customer: Customer) -> Scenario:
    if customer.scenario and customer.scenario in supplier.scenarios:
        chosen = supplier.scenarios[customer.scenario]
    else:
        chosen = for_customer(supplier.scenarios, customer.id, customer.group) or default_scenario(customer.milestones)
        if chosen.name == "milestones" and any(r.fallback for r in customer.recipients):
            # a recipient with a fallback: a bounce (or no delivery within the hour) sends it there and
            # tells the supplier, as the standard scenario's first rule does
            rule = MilestoneRule(expect="delivered", within=timedelta(hours=1), otherwise=["fallback_channel", "alert"])
            chosen = chosen.model_copy(update={"milestones": [rule, *chosen.milestones]})
    # The roles the distribution rules serve once the invoice is approved (205): a step of the path
    later = sorted({role.value for rule in customer.distribution if rule.when == "approved" for role in rule.roles})
    if later:
        chosen = chosen.model_copy(update={"steps": [*chosen.steps, Step(at="approved+0h", action="send", to=later)]})
    return chosen


def happenings(timeline: list[Event]) -> list[Happening]:
    """What the planner reads. `delivered` is the invoice's: when every recipient it was sent to on
    issue has it (a quick e-mail does not hide a webhook, an EDI partner or a platform that never
    confirmed: "delivered within 1h" is missed, and its fallback runs). A platform's delivery (203,
    made available by the buyer's platform) is a business step, not the channel's receipt: not waited for."""
    out = []
    sent = {e.recipient_id for e in timeline if e.kind is EventKind.SENT and e.recipient_id
            and (e.detail or {}).get("purpose") == "initial" and (e.detail or {}).get("channel") in CONFIRMING}
    reached: dict[str, datetime] = {}
    for e in timeline:
        if e.kind is EventKind.DELIVERED and e.recipient_id:
            reached.setdefault(e.recipient_id, e.at)
    if reached and all(r in reached for r in sent):  # platforms (PA, Chorus Pro) deliver on the buyer's side: not waited for
        out.append(Happening(at=max(reached[r] for r in sent) if sent else min(reached.values()), kind="delivered"))
    for e in timeline:
        kind = HAPPENS.get(e.kind)
        if kind is None or kind == "delivered":
            continue
        amount = Decimal(e.detail["amount"]) if kind in ("paid", "partially_paid") and e.detail.get("amount") else None
        out.append(Happening(at=e.at, kind=kind, amount=amount))
    return out


def done(timeline: list[Event]) -> set[str]:
    return {e.id[len(STEP):] for e in timeline if e.id and e.id.startswith(STEP)}


def open_invoice(rec: InvoiceRecord, inv: Invoice, customer: Customer) -> OpenInvoice:
    return OpenInvoice(id=rec.invoice_id, number=inv.number, customer=customer.id, issue_date=inv.issue_date,
                       due_date=due_date(inv, customer), amount_due=inv.amount_due, currency=inv.currency,
                       contractual_rate=customer.contractual_rate)


# --- planning -----------------------------------------------------------------------------

def plan(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, supplier: Supplier,
         timeline: list[Event] | None = None) -> dict[str, Any]:
    """{outcome: paid | closed | act | wait, wait_seconds}: where the invoice's path stands."""
    now = clock.now()
    if rec.status is Status.PAID:
        return {"outcome": "paid", "wait_seconds": 1}
    if rec.status is Status.REFUSED:  # 210 by the buyer or 213 by a platform: a corrected invoice starts its own path
        _record(ctx, rec.invoice_id, EventKind.CLOSED, {"reason": "refused: the lifecycle of this invoice ended"}, "milestone:closed")
        return {"outcome": "closed", "wait_seconds": 1}
    if rec.status is Status.CLOSED:  # cancelled by a credit note (or closed meanwhile): nothing more to follow
        return {"outcome": "closed", "wait_seconds": 1}
    due = due_date(inv, customer)
    # An invoice sent late (or back-dated) is followed from its arrival, not closed before anyone could act
    horizon = start_of_day(max(due, rec.created_at.astimezone(PARIS).date())
                           + timedelta(days=customer.milestones.horizon_days_after_due))
    if now >= horizon:
        _record(ctx, rec.invoice_id, EventKind.CLOSED, {"reason": "tracking horizon passed without payment"}, "milestone:closed")
        return {"outcome": "closed", "wait_seconds": 1}
    overdue_from = start_of_day(due + timedelta(days=1))
    if now >= overdue_from:
        _record(ctx, rec.invoice_id, EventKind.OVERDUE, {"due_date": due.isoformat()}, "milestone:overdue")
    timeline = timeline if timeline is not None else ctx.store.timeline(rec.invoice_id)
    actions, nxt = plan_next(open_invoice(rec, inv, customer), happenings(timeline), scenario_for(supplier, customer),
                             now, rates(), done(timeline))
    retry_at = min((d.next_attempt_at for d in _deferred(ctx, rec.invoice_id) if d.next_attempt_at), default=None)
    if actions or (retry_at is not None and retry_at <= now):
        return {"outcome": "act", "wait_seconds": 1}
    if retry_at is not None:
        nxt = min(nxt, retry_at) if nxt else retry_at
    # Nothing due: park until the next planned action, the day it becomes overdue, or a safety
    # re-check; the events that change the plan (payment, dispute, resolution...) wake it sooner.
    wake = [t for t in (nxt, horizon, now + timedelta(hours=customer.milestones.payment_check_every_hours),
                        overdue_from if now < overdue_from else None) if t is not None]
    at = min(wake)
    # Rounded up: waking a fraction of a second early would miss the action being waited for.
    seconds = max(1, -int(-(at - now).total_seconds() // 1))
    from .intake import save_description

    save_description(ctx, rec.invoice_id, lambda r: setattr(r, "next_due_at", at))
    return {"outcome": "wait", "wait_seconds": seconds}


def _record(ctx: Context, invoice_id: str, kind: EventKind, detail: dict[str, Any], event_id: str,
            mutate=None) -> None:
    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=clock.now(), detail=detail, id=event_id),
                mutate=mutate)


# --- acting -------------------------------------------------------------------------------

def continuation(ctx: Context, invoice_id: str, planned: dict[str, Any]) -> dict[str, Any]:
    """A waiting execution older than `continue_after_days` (330: Step Functions' Standard
    executions last a year) hands the invoice to a new one, named after it (-c1, -c2...), which
    goes straight back to the milestone loop; this one ends (outcome `continued`). Its age is read
    from the timeline (the event that started it). Run twice, it starts the same execution once."""
    if planned.get("outcome") != "wait":
        return planned
    limit = timedelta(days=ctx.settings.continue_after_days)
    if clock.now() - ctx.store.get(invoice_id).created_at < limit:
        return planned  # younger than the limit: so is its execution (no timeline read)
    timeline = ctx.store.timeline(invoice_id)
    started = max((e.at for e in timeline if e.kind in STARTS_EXECUTION), default=None)
    if started is None or clock.now() - started < limit:
        return planned
    name = f"{invoice_id}-c{1 + sum(1 for e in timeline if e.kind is EventKind.CONTINUED)}"
    sfn = ctx.client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=ctx.settings.require("state_machine_arn"), name=name, input=json.dumps(
            {"invoice_id": invoice_id, "resume": True}))
    except sfn.exceptions.ExecutionAlreadyExists:
        pass  # started by an earlier run of this step
    except ClientError as exc:
        raise classify(exc, "StartExecution") from exc
    _record(ctx, invoice_id, EventKind.CONTINUED, {"execution": name, "after_days": (clock.now() - started).days},
            f"continued:{name}")
    return {"outcome": "continued", "wait_seconds": 1}


def _deferred(ctx: Context, invoice_id: str):
    """Deliveries waiting for a deferred retry: the invoice itself (`initial`) and scenario messages (`sc-...`)."""
    from ..tracking.deliveries import DeliveryStore

    store = DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb"))
    return [d for d in store.deferred(invoice_id) if d.purpose == "initial" or d.purpose.startswith("sc-")]


def redeliver(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, supplier: Supplier) -> None:
    """Again to the receivers that were down, when their deferred retry is due: the invoice itself,
    or the scenario message they missed (rebuilt from the same action: same purpose, same figures)."""
    now = clock.now()
    by_id = {r.id: r for r in customer.recipients}
    due = [d for d in _deferred(ctx, rec.invoice_id) if d.next_attempt_at and d.next_attempt_at <= now]
    initial = [by_id[d.recipient_id] for d in due if d.purpose == "initial" and d.recipient_id in by_id]
    if initial:
        plan = DispatchPlan([PlannedDelivery(r, r.channel) for r in initial])
        settle(deliver(ctx, rec.invoice_id, plan, "initial", lambda r: send(ctx, rec, inv, customer, r, purpose="initial")),
               plan, require_one=False)
    messages = [d for d in due if d.purpose.startswith("sc-")]
    if not messages:
        return
    timeline = ctx.store.timeline(rec.invoice_id)
    every = {_purpose(a): a for a in schedule(open_invoice(rec, inv, customer), happenings(timeline),
                                              scenario_for(supplier, customer), rates())}
    for d in messages:
        action = every.get(d.purpose)
        if action is None:  # the scenario changed since: this message is no longer one of its actions
            _give_up(ctx, d, "the scenario no longer has this action")
            continue
        _dispatch_action(ctx, rec, inv, customer, supplier, action, timeline, {}, {}, only={d.recipient_id})


def _give_up(ctx: Context, d, why: str) -> None:
    from ..tracking.deliveries import Claim, DeliveryStore

    store = DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb"))
    claim, current = store.claim(d.invoice_id, d.purpose, d.recipient_id, d.channel)
    if claim is Claim.GO:
        store.refuse(current, why, retryable=False)


def act(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, supplier: Supplier) -> dict[str, Any]:
    """Deliver again what was deferred and is due, execute every action due now (each once), then
    plan what comes next."""
    redeliver(ctx, rec, inv, customer, supplier)
    timeline = ctx.store.timeline(rec.invoice_id)
    actions, _ = plan_next(open_invoice(rec, inv, customer), happenings(timeline), scenario_for(supplier, customer),
                           clock.now(), rates(), done(timeline))
    for action in actions:
        execute(ctx, rec, inv, customer, supplier, action, timeline)
        count(f"Scenario_{action.action}")
    rec = ctx.store.get(rec.invoice_id)
    return plan(ctx, rec, inv, customer, supplier)


def _purpose(action: Action) -> str:
    return "sc-" + re.sub(r"[^a-z0-9]+", "-", action.key.lower()).strip("-")[:120]


def figures(action: Action) -> dict[str, Decimal]:
    return {"outstanding": action.amount_due, "interest": action.interest, "indemnity": action.indemnity,
            "claimed": action.amount_due + action.interest + action.indemnity}


def execute(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, supplier: Supplier, action: Action,
             timeline: list[Event]) -> None:
    detail: dict[str, Any] = {"action": action.action, "rule": action.rule, "to": list(action.to),
                              "amount_due": str(action.amount_due)}
    if action.deferred:
        detail["deferred"] = "its date passed during a pause: run on resumption"
    if action.interest or action.indemnity:
        detail.update(interest=str(action.interest), indemnity=str(action.indemnity))
    documents: dict[str, str] = {}
    if action.action == "statement" or (action.action in GROUPABLE and customer.grouped_reminders):
        # one statement of account for the customer (reminders/statements.py), not a mail per invoice
        from ..reminders.statements import mark_due

        mark_due(ctx, rec.supplier_id, customer.id, action.at.astimezone(PARIS).date())
        detail["grouped"] = "statement of account"
        _record(ctx, rec.invoice_id, EventKind.SCENARIO_STEP, detail, STEP + action.key)
        return
    out, out_plan = _dispatch_action(ctx, rec, inv, customer, supplier, action, timeline, detail, documents)
    detail.update(sent_to=out.sent)
    if out.deferred:
        detail["deferred_to"] = out.deferred  # a receiver down: retried by the path for 24 h
    if out.failed or out_plan.unreachable:
        detail["not_sent"] = [f"{rid}: {why}" for rid, why in [*out.failed, *out_plan.unreachable]][:20]
    if documents:
        detail["documents"] = documents
    _record(ctx, rec.invoice_id, EventKind.SCENARIO_STEP, detail, STEP + action.key,
            mutate=(lambda r: r.documents.update(documents)) if documents else None)


def _dispatch_action(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, supplier: Supplier,
                     action: Action, timeline: list[Event], detail: dict[str, Any], documents: dict[str, str],
                     only: set[str] | None = None):
    """Send what `action` sends, to its recipients (to `only` these when given: a deferred retry)."""
    purpose = _purpose(action)
    if action.action == "alert":
        out_plan = DispatchPlan([PlannedDelivery(_supplier_desk(ctx, supplier), Channel.EMAIL)])
        sender = lambda r: _send_alert(ctx, rec, inv, customer, supplier, r, action, timeline, purpose)
    elif action.action == "hand_off":
        agency = next((a for a in supplier.agencies if a.id == action.to[0]), None)
        if agency is None:  # the directory refuses such a scenario; an agency removed since is a permanent error
            raise PermanentError(f"the collection agency '{action.to[0]}' is not in the supplier's directory")
        case_key, case = _case(ctx, rec, inv, customer, supplier, action, timeline)
        documents["collection_case"] = case_key
        detail["agency"] = agency.id
        out_plan = DispatchPlan([PlannedDelivery(_agency_desk(agency), agency.channel)])
        sender = lambda r: _send_case(ctx, rec, inv, supplier, agency, r, case, purpose)
    else:
        out_plan = _recipients(customer, action, timeline, inv)
        extra: tuple[tuple[str, str, bytes], ...] = ()
        if action.action == "formal_notice":
            pdf = _notice_pdf(ctx, inv, customer, supplier, action)
            documents["formal_notice"] = ctx.documents.put(
                f"notices/{rec.supplier_id}/{rec.invoice_id}/{purpose}.pdf", pdf, "application/pdf")
            extra = ((f"mise-en-demeure-{safe_name(inv.number)}.pdf", "application/pdf", pdf),)
        message = Message(kind=MAIL_KIND[action.action], figures=figures(action), extra_attachments=extra)
        sender = lambda r: send(ctx, rec, inv, customer, r, purpose=purpose, message=message)
    if only is not None:
        out_plan = DispatchPlan([p for p in out_plan.deliveries if p.recipient.id in only])
    out = deliver(ctx, rec.invoice_id, out_plan, purpose, sender, event_kind=EVENT_OF.get(action.action, EventKind.REMINDED),
                  detail={k: v for k, v in {"action": action.action, "rule": action.rule, "amount_due": str(action.amount_due),
                                            **detail}.items() if k != "to"})
    settle(out, out_plan, require_one=False)  # an action nobody could receive is recorded, not a failure
    return out, out_plan


def _recipients(customer: Customer, action: Action, timeline: list[Event], inv: Invoice) -> DispatchPlan:
    plan = _planned(customer, action, timeline, inv)
    if action.action == "fallback_channel":
        return plan
    return _around_hard_bounces(plan, customer, timeline)


def _around_hard_bounces(plan: DispatchPlan, customer: Customer, timeline: list[Event]) -> DispatchPlan:
    """An address that bounced for good (or that SES suppresses) gets no further message: its
    fallback recipient does, or nobody (said why)."""
    hard = {e.recipient_id for e in timeline if e.kind is EventKind.BOUNCED and (e.detail or {}).get("channel") == "email"
            and (e.detail or {}).get("bounce_type") == "Permanent"}
    if not hard:
        return plan
    by_id = {r.id: r for r in customer.recipients}
    out = DispatchPlan(unreachable=list(plan.unreachable))
    for p in plan.deliveries:
        if p.recipient.id not in hard:
            out.deliveries.append(p)
        elif p.recipient.fallback and p.recipient.fallback in by_id and p.recipient.fallback not in hard:
            fb = by_id[p.recipient.fallback].model_copy(update={"fallback_only": False})
            if all(d.recipient.id != fb.id for d in out.deliveries):
                out.deliveries.append(PlannedDelivery(fb, fb.channel))
        else:
            out.unreachable.append((p.recipient.id, "its address bounced for good (or is on SES's suppression list) "
                                                    "and it has no fallback"))
    return out


def _planned(customer: Customer, action: Action, timeline: list[Event], inv: Invoice) -> DispatchPlan:
    opened = frozenset(e.recipient_id or "" for e in timeline if e.kind is EventKind.DOWNLOADED)
    if action.action == "remind_not_opened":  # whoever received it by e-mail or webhook and has not opened it
        return plan_dispatch(customer, skip=opened, channels=MESSAGE_CHANNELS)
    if action.action == "fallback_channel":  # the invoice again, to the fallback of each recipient not delivered
        delivered = {e.recipient_id for e in timeline if e.kind in (EventKind.DELIVERED, EventKind.DOWNLOADED)}
        by_id = {r.id: r for r in customer.recipients}
        sent = {e.recipient_id for e in timeline if e.kind is EventKind.SENT}
        fallbacks = [by_id[r.fallback].model_copy(update={"fallback_only": False}) for r in customer.recipients
                     if r.id in sent and r.id not in delivered and r.fallback and r.fallback not in delivered]
        plan = plan_dispatch(customer.model_copy(update={"recipients": list({r.id: r for r in fallbacks}.values())}))
        missing = [r.id for r in customer.recipients if r.id in sent and r.id not in delivered and not r.fallback]
        plan.unreachable += [(rid, "not delivered and no fallback endpoint") for rid in missing]
        return plan
    roles = frozenset(action.to)
    if action.action == "send":  # the invoice itself, to the roles served once it is approved (any channel)
        return plan_dispatch(customer, roles=roles, inv=inv, stage="approved")
    plan = plan_dispatch(customer, roles=roles, channels=MESSAGE_CHANNELS)
    if not plan.deliveries and not plan.unreachable:
        plan.unreachable.append((",".join(sorted(roles)), "the customer has no recipient with this role"))
    return plan


# --- formal notice ------------------------------------------------------------------------

def _notice_pdf(ctx: Context, inv: Invoice, customer: Customer, supplier: Supplier, action: Action) -> bytes:
    from ..reminders.letters import NoticeFigures, formal_notice_pdf

    today = action.at.astimezone(PARIS).date()
    due = due_date(inv, customer)
    seen: list[Decimal] = []
    if customer.contractual_rate is not None:
        seen.append(customer.contractual_rate)
    else:  # the statutory rate of each half-year the days late fall in
        day = due + timedelta(days=1)
        while day <= today:
            r = rates().statutory(day)
            if r not in seen:
                seen.append(r)
            day += timedelta(days=1)
    figures = NoticeFigures(number=inv.number, issue_date=inv.issue_date, due_date=due, today=today,
                            currency=inv.currency, principal=action.amount_due, interest=action.interest,
                            indemnity=action.indemnity, rates=tuple(seen),
                            contractual=customer.contractual_rate is not None, invoiced=inv.amount_due)
    iban = supplier.iban or inv.payment_account_id
    return formal_notice_pdf(figures, seller=inv.seller, buyer=inv.buyer, lang=customer.language, iban=iban)


# --- alerts to the supplier -----------------------------------------------------------------

def _supplier_desk(ctx: Context, supplier: Supplier) -> Recipient:
    return Recipient(id="supplier", name=supplier.name, role=Role.OTHER,
                     email=str(supplier.alerts_to or supplier.mail_from or ctx.settings.mail_from),
                     language=supplier.language)


ALERT = {"fr": ("[Facteur] Facture {number} ({customer}) : {rule} non atteint",
                "L'étape « {rule} » n'est pas atteinte pour la facture {number} du {date} adressée à {customer} "
                "({amount}). Ce qui s'est passé :\n{history}\n\nFacteur a suivi le scénario « {scenario} » ; "
                "cette facture figure dans votre liste de travail (GET /worklist)."),
         "en": ("[Facteur] Invoice {number} ({customer}): {rule} missed",
                "The milestone \"{rule}\" was missed for invoice {number} dated {date} to {customer} ({amount}). "
                "What happened:\n{history}\n\nFacteur followed the scenario \"{scenario}\"; the invoice is on your "
                "worklist (GET /worklist).")}


def _send_alert(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, supplier: Supplier,
                desk: Recipient, action: Action, timeline: list[Event], purpose: str) -> str:
    lang = supplier.language if supplier.language in ALERT else "fr"
    subject, body = ALERT[lang]
    history = "\n".join(f"- {e.at.astimezone(PARIS):%Y-%m-%d %H:%M} {e.kind.value}"
                        f"{' (' + e.recipient_id + ')' if e.recipient_id else ''}"
                        f"{' - ' + str(e.detail.get('diagnostic') or e.detail.get('error') or '') if e.kind is EventKind.BOUNCED else ''}"
                        for e in timeline if e.kind not in (EventKind.RECEIVED, EventKind.SCENARIO_STEP))
    fields = {"number": inv.number, "customer": customer.name, "rule": action.rule, "date": inv.issue_date.isoformat(),
              "amount": f"{inv.amount_due} {inv.currency}", "history": history[:4000],
              "scenario": scenario_for(supplier, customer).name}
    msg = compose(sender=supplier.mail_from or ctx.settings.mail_from, sender_name="Facteur", to=str(desk.email),
                  to_name=supplier.name, lang=lang, subject=subject.format(**fields), paragraphs=[body.format(**fields)],
                  attachments=[])
    return send_raw(ctx, rec, supplier.mail_from, str(desk.email), msg.as_bytes(), desk.id, purpose)


# --- hand-off to a collection agency --------------------------------------------------------

def _agency_desk(agency: Agency) -> Recipient:
    return Recipient.model_construct(id=f"agency-{agency.id}", name=agency.name, role=Role.COLLECTION_AGENCY,
                                     channel=agency.channel, email=agency.email, endpoint=agency.endpoint,
                                     secret_id=agency.secret_id, language=agency.language, attach_document=True,
                                     fallback=None)


def _case(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, supplier: Supplier, action: Action,
          timeline: list[Event]) -> tuple[str, dict[str, Any]]:
    """The collection case: the debtor, the claim (principal, interest, indemnity), the documents
    and what was tried; kept in the documents bucket and sent to the agency."""
    claim = figures(action)
    documents = ctx.store.get(rec.invoice_id).documents  # with a formal notice made in the same run
    case = {
        "case_id": f"{rec.supplier_id}/{rec.invoice_id}", "handed_off_at": action.at.isoformat(),
        "creditor": {"id": supplier.id, "name": supplier.name, "siren": supplier.siren, "vat_id": supplier.vat_id},
        "debtor": {"customer_id": customer.id, "name": customer.name, "siren": customer.siren or inv.buyer.siren,
                   "vat_id": customer.vat_id or inv.buyer.vat_id,
                   "address": {"line1": inv.buyer.line1, "postcode": inv.buyer.postcode, "city": inv.buyer.city,
                               "country": inv.buyer.country}},
        "invoices": [{**invoice_summary(rec, inv), "principal": str(action.amount_due), "interest": str(action.interest),
                      "indemnity": str(action.indemnity), "total": str(claim["claimed"])}],
        "documents": sorted(k for k in documents if k in ("facturx", "ubl", "formal_notice")),
        "timeline": [{"at": e.at.isoformat(), "kind": e.kind.value,
                      **({"lifecycle_code": e.french_code} if e.french_code else {}),
                      **({"recipient": e.recipient_id} if e.recipient_id else {}),
                      **({"action": e.detail["action"]} if e.kind is EventKind.SCENARIO_STEP else {})} for e in timeline],
    }
    key = ctx.documents.put(f"cases/{rec.supplier_id}/{rec.invoice_id}.json",
                            json.dumps(case, ensure_ascii=False, indent=2).encode(), "application/json")
    return key, case


CASE_MAIL = {"fr": ("Dossier de recouvrement : facture {number} ({debtor}), {total}",
                    "Nous vous confions le recouvrement de la facture {number} due par {debtor} : principal "
                    "{principal}, intérêts {interest}, indemnité {indemnity}, total {total}. Le dossier (JSON) et les "
                    "pièces sont joints ; merci de nous transmettre vos mises à jour par l'API de Facteur."),
             "en": ("Collection case: invoice {number} ({debtor}), {total}",
                    "We hand you the collection of invoice {number} owed by {debtor}: principal {principal}, "
                    "interest {interest}, indemnity {indemnity}, total {total}. The case (JSON) and the documents are "
                    "attached; please send your updates through Facteur's API.")}


def _send_case(ctx: Context, rec: InvoiceRecord, inv: Invoice, supplier: Supplier, agency: Agency, desk: Recipient,
               case: dict[str, Any], purpose: str) -> str:
    body = json.dumps(case, ensure_ascii=False, sort_keys=True).encode()
    if agency.channel is Channel.HTTP:
        return post_signed(ctx, rec.supplier_id, str(agency.endpoint), agency.secret_id, desk.id,
                           json.dumps({"type": "collection.case", "data": case}, ensure_ascii=False, sort_keys=True).encode(),
                           f"msg_{rec.invoice_id}_{purpose}_{desk.id}")
    claim = case["invoices"][0]
    lang = agency.language if agency.language in CASE_MAIL else "fr"
    subject, text = CASE_MAIL[lang]
    fields = {"number": inv.number, "debtor": case["debtor"]["name"], "principal": claim["principal"],
              "interest": claim["interest"], "indemnity": claim["indemnity"], "total": f"{claim['total']} {inv.currency}"}
    attachments = [(f"dossier-{safe_name(inv.number)}.json", "application/json", body)]
    documents = ctx.store.get(rec.invoice_id).documents
    for name in ("facturx", "formal_notice"):
        key = documents.get(name)
        if key:
            attachments.append((f"{safe_name(inv.number)}-{name}.pdf", "application/pdf", ctx.documents.get(key)))
    msg = compose(sender=supplier.mail_from or ctx.settings.mail_from, sender_name=supplier.name, to=str(agency.email),
                  to_name=agency.name, lang=lang, subject=subject.format(**fields), paragraphs=[text.format(**fields)],
                  attachments=attachments, signature=supplier.name)
    return send_raw(ctx, rec, supplier.mail_from, str(agency.email), msg.as_bytes(), desk.id, purpose)

