"""Late-payment interest and the recovery indemnity (French Code de commerce, L441-10).

By default the rate is the European Central Bank's main refinancing operations rate in force on
1 January (for days late in January-June) or on 1 July (July-December), plus 10 points; a
contractual rate replaces it. Simple interest: for each day late, from the day after the due date
up to and including the day of the computation, the amount still due that day x rate / 365,
summed and rounded once to the cent. The fixed recovery indemnity is 40 EUR, once per invoice.

The ECB table ships as data (`ecb_rates.csv`: `from,rate_percent`, each row the rate in force
from that date, as published by the ECB up to the rate of 11 June 2025); a newer or other table
is given with `--rates FILE` in the same format. After its last row, the last rate stays in force."""
from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..errors import InvalidInput

INDEMNITY = Decimal("40.00")
MARGIN = Decimal("10")
ECB_TABLE = Path(__file__).with_name("ecb_rates.csv")


@dataclass(frozen=True)
class RateTable:
    rows: tuple[tuple[date, Decimal], ...]  # (in force from, percent), sorted

    @classmethod
    def parse(cls, text: str, *, what: str = "the rates file") -> RateTable:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or not {"from", "rate_percent"} <= set(reader.fieldnames):
            raise InvalidInput(f"{what} needs the header from,rate_percent", code="invalid_rates")
        rows = []
        for n, row in enumerate(reader, start=2):
            try:
                rows.append((date.fromisoformat(row["from"].strip()), Decimal(row["rate_percent"].strip())))
            except (ValueError, ArithmeticError, AttributeError) as exc:
                raise InvalidInput(f"{what}, line {n}: a date (YYYY-MM-DD) and a rate in percent are expected",
                                   code="invalid_rates") from exc
        if not rows:
            raise InvalidInput(f"{what} has no rate", code="invalid_rates")
        return cls(tuple(sorted(rows)))

    @classmethod
    def ecb(cls) -> RateTable:
        return cls.parse(ECB_TABLE.read_text(encoding="utf-8"), what=str(ECB_TABLE.name))

    def in_force(self, day: date) -> Decimal:
        i = bisect_right([d for d, _ in self.rows], day)
        if i == 0:
            raise InvalidInput(f"no rate in force on {day} (the table starts {self.rows[0][0]})", code="invalid_rates")
        return self.rows[i - 1][1]

    def statutory(self, day: date) -> Decimal:
        """The default late-payment rate for a day late: the ECB rate in force on 1 January or 1 July
        of its half-year, plus 10 points."""
        reference = date(day.year, 1 if day.month <= 6 else 7, 1)
        return self.in_force(reference) + MARGIN


def late_interest(amount_due: Decimal, due: date, on: date, rates: RateTable, *,
                  payments: Sequence[tuple[date, Decimal]] = (), contractual_rate: Decimal | None = None) -> Decimal:
    """Interest owed on `on` for an invoice of `amount_due` due on `due`, payments (date, amount)
    reducing the amount from the day they are made."""
    total = Decimal(0)
    day = due + timedelta(days=1)
    while day <= on:
        owed = amount_due - sum((a for d, a in payments if d <= day), Decimal(0))
        if owed > 0:
            rate = contractual_rate if contractual_rate is not None else rates.statutory(day)
            total += owed * rate / Decimal(100) / Decimal(365)
        day += timedelta(days=1)
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
