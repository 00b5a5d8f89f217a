"""Reminder and dunning scenarios: data, per customer or group, validated with clear errors.

A scenario file is YAML: `{name: scenario}`; each scenario says which customers it applies to,
the milestones expected of each invoice (an outcome within a delay, actions when it is missed),
the steps relative to the issue or due date or to a milestone (`due-5d`, `due+15d`, `issue+2d`,
`downloaded+3d`), and what pauses (207 disputed, 208 suspended) or stops it (paid, refused,
cancelled). The example of the issue "Milestones, reminder scenarios and collection" is accepted
exactly as written (tests/fixtures/scenarios/standard.yaml)."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator, model_validator

from ..errors import InvalidInput

ACTIONS = {"courtesy_reminder", "reminder", "formal_notice", "hand_off", "statement", "remind_not_opened",
           "ask_validator", "fallback_channel", "alert", "send"}
ROLES = {"payer", "validator", "central_purchasing", "paying_office", "collection_agency", "copy", "other", "supplier"}
EXPECTABLE = {"sent", "delivered", "downloaded", "approved", "paid"}
ANCHORS = {"issue", "due"} | EXPECTABLE
PAUSES = {"disputed", "suspended"}
STOPS = {"paid", "refused", "cancelled"}
_DURATION = re.compile(r"^(\d{1,4})([hdw])$")
_AT = re.compile(r"^([a-z]+)([+-])(\d{1,4})([hdw])$")
UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def _only(values: list[str], allowed: set[str], what: str) -> list[str]:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"{what} {', '.join(unknown)}; one of {', '.join(sorted(allowed))}")
    return values


def delay_text(td: timedelta) -> str:
    """The scenario's own notation (48h, 10d): what `duration` reads back."""
    hours = int(td.total_seconds() // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


def duration(text: str) -> timedelta:
    m = _DURATION.match(str(text).strip())
    if not m:
        raise ValueError(f"'{text}' is not a delay: a whole number and h, d or w (1h, 48h, 10d, 2w)")
    return int(m.group(1)) * UNITS[m.group(2)]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AppliesTo(_M):
    default: bool = False
    group: str | None = None
    customers: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> AppliesTo:
        if not (self.default or self.group or self.customers):
            raise ValueError("applies_to names customers, a group or default: true")
        return self


class MilestoneRule(_M):
    """`expect` within `within` of the sending, else run the `else` actions at the deadline; with
    `repeat: 3, every: 72h` the actions run again 72 h later while the outcome is still missing
    (up to 3 times in all)."""

    expect: str
    within: timedelta
    otherwise: list[str] = Field(default_factory=list, alias="else")
    repeat: int = Field(1, ge=1, le=20)
    every: timedelta | None = None

    @field_validator("within", "every", mode="before")
    @classmethod
    def _delay(cls, v: Any) -> timedelta | None:
        return v if v is None or isinstance(v, timedelta) else duration(v)

    @field_serializer("within", "every")
    def _as_text(self, v: timedelta | None) -> str | None:
        return None if v is None else delay_text(v)

    @model_validator(mode="after")
    def _repeated(self) -> MilestoneRule:
        if self.repeat > 1 and not self.every:
            raise ValueError("a repeated milestone says how often: every: 72h")
        return self

    @field_validator("expect")
    @classmethod
    def _expectable(cls, v: str) -> str:
        if v not in EXPECTABLE:
            raise ValueError(f"'{v}' cannot be expected; one of {', '.join(sorted(EXPECTABLE))}")
        return v

    @field_validator("otherwise")
    @classmethod
    def _actions(cls, v: list[str]) -> list[str]:
        return _only(v, ACTIONS, "unknown action(s)")


class Step(_M):
    at: str  # anchor, sign, amount, unit: due-5d, issue+2d, downloaded+3d
    action: str
    to: list[str] = Field(default_factory=list)
    agency: str | None = None

    @field_validator("at")
    @classmethod
    def _anchor(cls, v: str) -> str:
        m = _AT.match(str(v).strip())
        if not m or m.group(1) not in ANCHORS:
            raise ValueError(f"'{v}' is not a step date: an anchor ({', '.join(sorted(ANCHORS))}), + or -, "
                             "then a delay (due-5d, due+15d, downloaded+3d)")
        return v.strip()

    @field_validator("action")
    @classmethod
    def _action(cls, v: str) -> str:
        if v not in ACTIONS:
            raise ValueError(f"unknown action '{v}'; known: {', '.join(sorted(ACTIONS))}")
        return v

    @field_validator("to")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        return _only(v, ROLES, "unknown role(s)")

    @model_validator(mode="after")
    def _addressed(self) -> Step:
        if self.action == "hand_off" and not self.agency:
            raise ValueError("a hand_off names its agency")
        if self.action != "hand_off" and not self.to:
            raise ValueError(f"'{self.action}' names who receives it: to: [payer, ...]")
        return self

    @property
    def anchor(self) -> str:
        return _AT.match(self.at).group(1)  # type: ignore[union-attr]

    @property
    def offset(self) -> timedelta:
        m = _AT.match(self.at)
        assert m is not None
        delta = int(m.group(3)) * UNITS[m.group(4)]
        return delta if m.group(2) == "+" else -delta


class Scenario(_M):
    name: str = ""
    version: int = 1
    applies_to: AppliesTo
    milestones: list[MilestoneRule] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    pause_on: list[str] = Field(default_factory=list)
    stop_on: list[str] = Field(default_factory=lambda: ["paid"])

    @field_validator("pause_on")
    @classmethod
    def _pauses(cls, v: list[str]) -> list[str]:
        return _only(v, PAUSES, "cannot pause on")

    @field_validator("stop_on")
    @classmethod
    def _stops(cls, v: list[str]) -> list[str]:
        return _only(v, STOPS, "cannot stop on")


def load(text: str) -> dict[str, Scenario]:
    """Every scenario of a YAML document, validated; InvalidInput names the scenario and the field."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the scenario file is not valid YAML: {exc}", code="invalid_scenario") from exc
    if not isinstance(doc, dict) or not doc:
        raise InvalidInput("a scenario file maps scenario names to scenarios", code="invalid_scenario")
    out = {}
    for name, body in doc.items():
        if not isinstance(body, dict):
            raise InvalidInput(f"scenario '{name}': a mapping is expected", code="invalid_scenario")
        try:
            out[str(name)] = Scenario.model_validate({**body, "name": str(name)})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InvalidInput(f"scenario '{name}', {where}: {err['msg'].removeprefix('Value error, ')}",
                               code="invalid_scenario") from exc
    return out


def for_customer(scenarios: dict[str, Scenario], customer: str, group: str | None = None) -> Scenario | None:
    """The scenario that applies: one naming the customer, else its group's, else the default."""
    named = [s for s in scenarios.values() if customer in s.applies_to.customers]
    grouped = [s for s in scenarios.values() if group and s.applies_to.group == group]
    default = [s for s in scenarios.values() if s.applies_to.default]
    for found in (named, grouped, default):
        if found:
            return found[0]
    return None
