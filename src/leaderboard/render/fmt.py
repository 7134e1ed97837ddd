"""One way to print a number on the whole site (tables, cards, the compare page's script does the same): round half
away from zero on the value's decimal digits as stated (a paper's 27.65 % is 0.2765, printed 0.277 everywhere,
although the float 0.27649999999999997 that 27.65 / 100 gives would print 0.276 with Python's or JavaScript's own
rounding). site/assets/compare.js has the same rule (fmt)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

DASH = "–"


def fmt(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals; None or a non-finite value is a dash."""
    if x is None or not math.isfinite(x):
        return DASH
    d = Decimal(f"{float(x):.12g}").quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{d:f}"
    return text[1:] if text.startswith("-") and not d else text  # no "-0.000"


def pct(x: float | None, digits: int = 0) -> str:
    """A fraction as a percentage: 0.5 -> '50%'."""
    return DASH if x is None or not math.isfinite(x) else fmt(100 * x, digits) + "%"
