"""Invoice lifecycle: Facteur's own milestones, the projected status, and the French reform
statuses (DGFiP external specifications v3.2, CDAR ProcessConditionCode 200-213) they map to."""
from __future__ import annotations

from enum import Enum


class FrenchStatus(int, Enum):
    """Lifecycle statuses of the French reform (CDAR ProcessConditionCode)."""

    DEPOSEE = 200  # deposited and checked (mandatory)
    EMISE = 201  # issued by the platform
    RECUE = 202  # received by the platform
    MISE_A_DISPOSITION = 203  # made available
    PRISE_EN_CHARGE = 204  # taken in charge by the buyer
    APPROUVEE = 205
    APPROUVEE_PARTIELLEMENT = 206
    EN_LITIGE = 207  # disputed
    SUSPENDUE = 208  # supporting document requested
    COMPLETEE = 209  # document provided by the supplier
    REFUSEE = 210  # refused with a reason (mandatory)
    PAIEMENT_TRANSMIS = 211
    ENCAISSEE = 212  # cashed (mandatory)
    REJETEE = 213  # rejected by a platform (mandatory)


class EventKind(str, Enum):
    """What can happen to an invoice; each is an entry of its append-only timeline."""

    RECEIVED = "received"  # a file or request arrived and its original was kept
    REJECTED = "rejected"  # unreadable / not an invoice: reason recorded, original kept
    DUPLICATE = "duplicate"  # same supplier and invoice number as an earlier invoice
    HELD = "held"  # failed the controls: reasons recorded, not sent
    RELEASED = "released"  # a held invoice released by the supplier, with a reason
    DEPOSITED = "deposited"  # passed the controls (200)
    CORRECTED = "corrected"  # the supplier uploaded a corrected file or patched fields of a held invoice
    CONVERTED = "converted"  # output documents produced
    SENT = "sent"  # handed to a channel for one recipient (201)
    DELIVERED = "delivered"  # the channel confirmed delivery, e.g. SES Delivery (203)
    BOUNCED = "bounced"  # the channel could not deliver
    DOWNLOADED = "downloaded"  # a recipient opened its signed link (Facteur's milestone, not the buyer's 204)
    REMINDED = "reminded"  # "not yet downloaded" reminder sent
    APPROVED = "approved"  # 205
    PARTIALLY_APPROVED = "partially_approved"  # 206
    DISPUTED = "disputed"  # 207
    SUSPENDED = "suspended"  # 208
    COMPLETED = "completed"  # 209
    REFUSED = "refused"  # 210
    PAYMENT_SENT = "payment_sent"  # 211
    PAID = "paid"  # 212
    PLATFORM_REJECTED = "platform_rejected"  # 213
    OVERDUE = "overdue"  # due date passed, unpaid
    CLOSED = "closed"  # tracking horizon passed without payment
    FAILED = "failed"  # the pipeline failed on a non-retryable error
    LINK_REVOKED = "link_revoked"  # the supplier voided a recipient's download links
    PARTIALLY_PAID = "partially_paid"  # a payment for part of the amount due (the rest stays open)
    RETRIED = "retried"  # the supplier asked a failed invoice to run its path again
    REDRIVEN = "redriven"  # the sweep started the path of an invoice stuck in `received`
    PLATFORM_STATUS = "platform_status"  # 200-203 reported by a platform (the PA's word, not Facteur's milestones)
    TAKEN_IN_CHARGE = "taken_in_charge"  # 204: the buyer took the invoice in charge
    RESOLVED = "resolved"  # the supplier says a dispute (207) or suspension (208) is settled: the scenario resumes
    FORMAL_NOTICE = "formal_notice"  # a formal notice to pay (mise en demeure) sent to a recipient
    HANDED_OFF = "handed_off"  # the invoice was handed to a collection agency: Facteur's dunning stops
    ALERTED = "alerted"  # the supplier was alerted (a milestone missed after every planned action)
    SCENARIO_STEP = "scenario_step"  # one action of the customer's scenario done (what, to whom, amounts)
    CORRECTS = "corrects"  # this invoice corrects (or cancels, a credit note) an earlier one of the supplier (BG-3)
    SUPERSEDED = "superseded"  # a later invoice or credit note corrects this one (linked both ways)
    CANCELLED = "cancelled"  # a credit note cancelled this invoice in full: its path ends
    AGENCY_UPDATE = "agency_update"  # the collection agency reported on the case (a note, the case given back)
    CONTINUED = "continued"  # its execution neared a year: a new one (-c1, -c2...) follows the invoice from here
    PAUSED = "paused"  # the supplier paused the scenario of this invoice (mass action): no reminder until resumed
    RESUMED = "resumed"  # the supplier resumed it: what fell due meanwhile runs now
    STATUS_REPORTED = "status_reported"  # a status the seller set (209, 212) sent to its platform as a CDAR message


# The lifecycle code an event carries. Facteur's own milestones (deposited = passed its checks, sent,
# delivered by a channel, downloaded) carry none: 200-203 are a platform's word and arrive as
# PLATFORM_STATUS events with their code in the detail (see LIFECYCLE below).
FRENCH_CODE: dict[EventKind, FrenchStatus] = {
    EventKind.TAKEN_IN_CHARGE: FrenchStatus.PRISE_EN_CHARGE,
    EventKind.APPROVED: FrenchStatus.APPROUVEE,
    EventKind.PARTIALLY_APPROVED: FrenchStatus.APPROUVEE_PARTIELLEMENT,
    EventKind.DISPUTED: FrenchStatus.EN_LITIGE,
    EventKind.SUSPENDED: FrenchStatus.SUSPENDUE,
    EventKind.COMPLETED: FrenchStatus.COMPLETEE,
    EventKind.REFUSED: FrenchStatus.REFUSEE,
    EventKind.PAYMENT_SENT: FrenchStatus.PAIEMENT_TRANSMIS,
    EventKind.PAID: FrenchStatus.ENCAISSEE,
    EventKind.PLATFORM_REJECTED: FrenchStatus.REJETEE,
}


class Status(str, Enum):
    """The projected status of an invoice (what the supplier sees in lists)."""

    RECEIVED = "received"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    HELD = "held"
    DEPOSITED = "deposited"
    SENT = "sent"
    DELIVERED = "delivered"
    DOWNLOADED = "downloaded"
    APPROVED = "approved"
    DISPUTED = "disputed"
    SUSPENDED = "suspended"
    REFUSED = "refused"
    PAYMENT_SENT = "payment_sent"
    PAID = "paid"
    CLOSED = "closed"
    FAILED = "failed"


# The status an event moves the invoice to (events absent here leave the status unchanged:
# bounced, reminded, overdue, converted are facts on the timeline, not states).
EVENT_STATUS: dict[EventKind, Status] = {
    EventKind.RECEIVED: Status.RECEIVED,
    EventKind.REJECTED: Status.REJECTED,
    EventKind.DUPLICATE: Status.DUPLICATE,
    EventKind.HELD: Status.HELD,
    EventKind.RELEASED: Status.RECEIVED,
    EventKind.CORRECTED: Status.RECEIVED,
    EventKind.DEPOSITED: Status.DEPOSITED,
    EventKind.SENT: Status.SENT,
    EventKind.DELIVERED: Status.DELIVERED,
    EventKind.DOWNLOADED: Status.DOWNLOADED,
    EventKind.APPROVED: Status.APPROVED,
    EventKind.PARTIALLY_APPROVED: Status.APPROVED,
    EventKind.DISPUTED: Status.DISPUTED,
    EventKind.SUSPENDED: Status.SUSPENDED,
    EventKind.COMPLETED: Status.DOWNLOADED,
    EventKind.RESOLVED: Status.DOWNLOADED,
    EventKind.REFUSED: Status.REFUSED,
    EventKind.PAYMENT_SENT: Status.PAYMENT_SENT,
    EventKind.PAID: Status.PAID,
    EventKind.PLATFORM_REJECTED: Status.REFUSED,
    EventKind.CLOSED: Status.CLOSED,
    EventKind.CANCELLED: Status.CLOSED,
    EventKind.FAILED: Status.FAILED,
    EventKind.RETRIED: Status.RECEIVED,
}

TERMINAL = frozenset({Status.REJECTED, Status.DUPLICATE, Status.PAID, Status.CLOSED, Status.REFUSED})

# Allowed transitions of the projected status. Progress statuses only move forward: a late
# "delivered" after "downloaded" is kept on the timeline but does not move the status back.
_PROGRESS = [Status.DEPOSITED, Status.SENT, Status.DELIVERED, Status.DOWNLOADED, Status.APPROVED,
             Status.PAYMENT_SENT]
_BUYER_STATES = {Status.APPROVED, Status.DISPUTED, Status.SUSPENDED, Status.REFUSED, Status.PAYMENT_SENT}

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.REJECTED, Status.DUPLICATE, Status.HELD, Status.DEPOSITED, Status.FAILED}),
    Status.HELD: frozenset({Status.RECEIVED, Status.HELD, Status.DEPOSITED, Status.FAILED, Status.CLOSED}),
    Status.FAILED: frozenset({Status.RECEIVED, Status.HELD, Status.DEPOSITED, Status.SENT, Status.FAILED, Status.CLOSED}),
    Status.DISPUTED: frozenset({Status.DISPUTED, Status.SUSPENDED, Status.APPROVED, Status.REFUSED, Status.PAYMENT_SENT,
                                Status.PAID, Status.CLOSED, Status.DOWNLOADED}),
    Status.SUSPENDED: frozenset({Status.DOWNLOADED, Status.DISPUTED, Status.APPROVED, Status.REFUSED, Status.PAYMENT_SENT,
                                 Status.PAID, Status.CLOSED}),
}
for i, s in enumerate(_PROGRESS):
    ALLOWED[s] = frozenset(_PROGRESS[i + 1:]) | _BUYER_STATES | {Status.PAID, Status.CLOSED, Status.FAILED}


def next_status(current: Status | None, event: EventKind) -> Status | None:
    """The status after `event`, or None when the event leaves the status as it is."""
    target = EVENT_STATUS.get(event)
    if target is None:
        return None
    if current is None:
        return target
    if current is Status.CLOSED and target is Status.PAID:
        return Status.PAID  # a payment after the tracking horizon still counts
    if current in TERMINAL:
        return None
    if target in ALLOWED.get(current, frozenset()):
        return target
    return None


# --- What a supplier (or its ERP) may report, and when ------------------------------------
# One table: the reported event -> the statuses it may be reported in. Anything else is
# refused with the reason (a payment on a held or rejected invoice, an approval after payment...).
_DELIVERED = frozenset({Status.SENT, Status.DELIVERED, Status.DOWNLOADED})
_WITH_BUYER = _DELIVERED | {Status.APPROVED, Status.DISPUTED, Status.SUSPENDED}
REPORTABLE: dict[EventKind, frozenset[Status]] = {
    EventKind.APPROVED: _WITH_BUYER,  # 205
    EventKind.PARTIALLY_APPROVED: _WITH_BUYER,  # 206
    EventKind.DISPUTED: _WITH_BUYER,  # 207
    EventKind.SUSPENDED: _WITH_BUYER,  # 208
    EventKind.COMPLETED: frozenset({Status.SUSPENDED, Status.DISPUTED}),  # 209: the requested document was provided
    EventKind.RESOLVED: frozenset({Status.SUSPENDED, Status.DISPUTED}),  # settled with the buyer (no lifecycle code)
    EventKind.REFUSED: _WITH_BUYER,  # 210 (reason required)
    EventKind.PAYMENT_SENT: _WITH_BUYER | {Status.PAYMENT_SENT, Status.CLOSED},  # 211
    EventKind.PAID: _WITH_BUYER | {Status.PAYMENT_SENT, Status.CLOSED},  # 212 (a partial payment keeps the status)
}
REASON_REQUIRED = frozenset({EventKind.REFUSED, EventKind.DISPUTED, EventKind.SUSPENDED})


def report_refusal(status: Status, kind: EventKind) -> str | None:
    """Why `kind` cannot be reported on an invoice in `status` (None: it can)."""
    allowed = REPORTABLE.get(kind)
    if allowed is None:
        return f"'{kind.value}' cannot be reported through the API"
    if status is Status.PAID and kind in (EventKind.PAID, EventKind.PAYMENT_SENT):
        return "this invoice is already paid"
    if status not in allowed:
        return f"'{kind.value}' cannot be reported on an invoice that is {status.value}"
    return None


# --- The French lifecycle (statuses 200-213): who may set each, and after what ----------------
# One table (DGFiP external specifications; ../shared/docs/PRODUCT.md): a status's issuers, what it
# must carry, the statuses it may follow, and its effect on the path (pause, resume, end).
# The BR-FR-CDV Schematron checks a CDAR message's form; this table checks its sense.

class Source(str, Enum):
    PLATFORM = "platform"  # a plateforme agréée (PA), Chorus Pro, the PPF
    BUYER = "buyer"
    SELLER = "seller"  # the supplier (Facteur's user)


PLATFORM, BUYER, SELLER = Source.PLATFORM, Source.BUYER, Source.SELLER
_BEFORE_BUYER = frozenset({200, 201, 202, 203, 204})
_BUYER_STEPS = frozenset({204, 205, 206, 207, 208, 209})


class LifecycleRule:
    __slots__ = ("code", "label_fr", "label_en", "issuers", "mandatory", "needs", "after", "effect", "kind")

    def __init__(self, code: int, label_fr: str, label_en: str, issuers: set[Source], kind: EventKind, *,
                 mandatory: bool = False, needs: frozenset[str] = frozenset(), after: frozenset[int] | None = None,
                 effect: str | None = None) -> None:
        self.code, self.label_fr, self.label_en, self.kind = code, label_fr, label_en, kind
        self.issuers, self.mandatory, self.needs = frozenset(issuers), mandatory, needs
        self.after = after  # the statuses the last one must be among (None: any, or none yet)
        self.effect = effect  # "pause", "resume", "end"


LIFECYCLE: dict[int, LifecycleRule] = {r.code: r for r in [
    # The platform's transmission statuses may arrive in any order (and 200 may not reach Facteur at all).
    LifecycleRule(200, "Déposée", "Deposited", {PLATFORM}, EventKind.PLATFORM_STATUS, mandatory=True),
    LifecycleRule(201, "Émise par la plateforme", "Issued by the platform", {PLATFORM}, EventKind.PLATFORM_STATUS),
    LifecycleRule(202, "Reçue par la plateforme", "Received by the platform", {PLATFORM}, EventKind.PLATFORM_STATUS),
    LifecycleRule(203, "Mise à disposition", "Made available", {PLATFORM}, EventKind.PLATFORM_STATUS),
    LifecycleRule(204, "Prise en charge", "Taken in charge", {BUYER}, EventKind.TAKEN_IN_CHARGE, after=_BEFORE_BUYER),
    LifecycleRule(205, "Approuvée", "Approved", {BUYER}, EventKind.APPROVED, after=_BEFORE_BUYER | _BUYER_STEPS),
    LifecycleRule(206, "Approuvée partiellement", "Partially approved", {BUYER}, EventKind.PARTIALLY_APPROVED,
                  needs=frozenset({"reason", "amount"}), after=_BEFORE_BUYER | _BUYER_STEPS),
    LifecycleRule(207, "En litige", "Disputed", {BUYER}, EventKind.DISPUTED, needs=frozenset({"reason"}),
                  after=_BEFORE_BUYER | _BUYER_STEPS, effect="pause"),
    LifecycleRule(208, "Suspendue", "Suspended", {BUYER}, EventKind.SUSPENDED, needs=frozenset({"reason"}),
                  after=_BEFORE_BUYER | _BUYER_STEPS, effect="pause"),
    LifecycleRule(209, "Complétée", "Completed", {SELLER}, EventKind.COMPLETED, after=frozenset({207, 208}), effect="resume"),
    LifecycleRule(210, "Refusée", "Refused", {BUYER}, EventKind.REFUSED, mandatory=True, needs=frozenset({"reason"}),
                  after=_BEFORE_BUYER | _BUYER_STEPS, effect="end"),
    LifecycleRule(211, "Paiement transmis", "Payment sent", {BUYER}, EventKind.PAYMENT_SENT,
                  after=_BEFORE_BUYER | _BUYER_STEPS | {211}),
    LifecycleRule(212, "Encaissée", "Cashed", {SELLER}, EventKind.PAID, mandatory=True, needs=frozenset({"amount"}),
                  after=_BEFORE_BUYER | _BUYER_STEPS | {211, 212}, effect="end"),
    LifecycleRule(213, "Rejetée", "Rejected by the platform", {PLATFORM}, EventKind.PLATFORM_REJECTED, mandatory=True,
                  needs=frozenset({"reason"}), after=frozenset({200, 201, 202}), effect="end"),
]}
ENDED = frozenset({210, 213})  # after these only a corrected invoice continues (212 ends too, once fully paid)


def lifecycle_refusal(history: list[int], code: int, source: Source, *, reason: str | None, amount: object | None,
                      fully_paid: bool = False) -> str | None:
    """Why status `code` from `source` cannot follow the statuses `history` (oldest first); None: it can."""
    rule = LIFECYCLE.get(code)
    if rule is None:
        return f"{code} is not a lifecycle status (200-213)"
    if source not in rule.issuers:
        who = " or ".join(sorted(s.value for s in rule.issuers))
        return f"{code} ({rule.label_fr}) is set by the {who}, not the {source.value}"
    if "reason" in rule.needs and not (reason or "").strip():
        return f"{code} ({rule.label_fr}) needs a reason"
    if "amount" in rule.needs and amount is None:
        return f"{code} ({rule.label_fr}) needs an amount"
    ended = next((c for c in reversed(history) if c in ENDED), None)
    if ended is not None:
        return f"the invoice was {LIFECYCLE[ended].label_fr.lower()} ({ended}): only a corrected invoice goes on"
    if fully_paid:
        return "the invoice is cashed (212) in full"
    last = history[-1] if history else None
    if rule.after is not None and last is not None and last not in rule.after and last != code:
        return f"{code} ({rule.label_fr}) cannot follow {last} ({LIFECYCLE[last].label_fr})"
    if rule.effect == "resume" and not any(c in (207, 208) for c in history[-1:]):
        return f"{code} ({rule.label_fr}) resumes a disputed (207) or suspended (208) invoice"
    return None
