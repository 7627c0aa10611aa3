"""The statistics behind app evals: pass-rate intervals and version comparisons.

Each test case runs several times, so a pass rate is an estimate: `wilson` gives its
interval, which stays inside [0, 1] and behaves at 0/n and n/n where the normal
approximation does not. Comparing two versions, each case is a 2x2 table (version x
passed); `fisher_exact` tests it exactly, since the samples are small, and `holm` keeps the
chance of a false alarm at alpha across many cases. Overall, `cmh` pools the cases without
letting an easy case hide a broken one (a plain pooled test would mix cases of different
difficulty).

Standard library only: the server and the CLI both use this, and neither should need scipy.
Every test here is one-sided where it gates a CI run: the question is only ever "is the new
version worse?".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

Alternative = Literal["two-sided", "less", "greater"]

# scipy's tolerance for "as probable as the observed table" in the two-sided Fisher test.
_FISHER_REL_TOL_DENOMINATOR = 10**14


def wilson(passed: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for `passed` successes out of `total`."""
    if total <= 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    rate = passed / total
    denominator = 1 + z * z / total
    centre = (rate + z * z / (2 * total)) / denominator
    half = z / denominator * math.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total))
    # At 0/n and n/n the bound is exactly 0 or 1; rounding would leave it a hair off.
    low = 0.0 if passed <= 0 else max(0.0, centre - half)
    high = 1.0 if passed >= total else min(1.0, centre + half)
    return (low, high)


def fisher_exact(
    a: int, b: int, c: int, d: int, *, alternative: Alternative = "two-sided"
) -> float:
    """The p-value of Fisher's exact test on [[a, b], [c, d]], as scipy.stats computes it.

    "less" is the chance of an `a` this small or smaller given the margins; "greater" this
    large or larger. Exact integer weights keep it precise at a few thousand samples, where
    ratios of factorials would overflow a float.
    """
    if min(a, b, c, d) < 0:
        raise ValueError("a 2x2 table holds counts, which are never negative")
    row1, row2, col1 = a + b, c + d, a + c
    if 0 in (row1, row2, col1, b + d):
        return 1.0
    low, high = max(0, col1 - row2), min(row1, col1)
    weights = {x: math.comb(row1, x) * math.comb(row2, col1 - x) for x in range(low, high + 1)}
    denominator = math.comb(row1 + row2, col1)
    if alternative == "less":
        numerator = sum(w for x, w in weights.items() if x <= a)
    elif alternative == "greater":
        numerator = sum(w for x, w in weights.items() if x >= a)
    elif alternative == "two-sided":
        limit = weights[a] * (_FISHER_REL_TOL_DENOMINATOR + 1)
        numerator = sum(w for w in weights.values() if w * _FISHER_REL_TOL_DENOMINATOR <= limit)
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    return min(1.0, numerator / denominator)


@dataclass(frozen=True, slots=True)
class Counts:
    """How many of one case's (or one run's) samples passed."""

    passed: int
    total: int

    @property
    def failed(self) -> int:
        return self.total - self.passed

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.passed + other.passed, self.total + other.total)


def cmh(strata: Sequence[tuple[Counts, Counts]]) -> float:
    """One-sided Cochran-Mantel-Haenszel p-value that head passes less often than base.

    Each stratum is (base, head) for one case. A stratum where everything passed, nothing
    passed, or one side has no samples says nothing about the difference and adds nothing.
    The continuity correction (0.5 toward the null) keeps the normal approximation honest
    at the small sample counts evals use.
    """
    observed = expected = variance = 0.0
    for base, head in strata:
        n = base.total + head.total
        passes = base.passed + head.passed
        if n < 2:
            continue
        observed += head.passed
        expected += head.total * passes / n
        variance += base.total * head.total * passes * (n - passes) / (n * n * (n - 1))
    if variance <= 0:
        return 1.0
    z = (observed - expected + 0.5) / math.sqrt(variance)
    return NormalDist().cdf(z)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True, slots=True)
class CaseDifference:
    """One case in both versions: how its pass rate moved, and whether that is noise."""

    name: str
    base: Counts
    head: Counts
    p_value: float
    p_adjusted: float
    significant: bool

    @property
    def difference(self) -> float:
        return self.head.rate - self.base.rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **_counts_dict(self.base, self.head),
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "significant": self.significant,
        }


@dataclass(frozen=True, slots=True)
class Overall:
    """All shared cases pooled; `p_value` is the stratified (CMH) one."""

    base: Counts
    head: Counts
    p_value: float
    significant: bool

    @property
    def difference(self) -> float:
        return self.head.rate - self.base.rate

    def to_dict(self) -> dict[str, Any]:
        return {
            **_counts_dict(self.base, self.head),
            "p_value": self.p_value,
            "significant": self.significant,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """A head version against a base version, case by case and overall."""

    alpha: float
    overall: Overall
    cases: tuple[CaseDifference, ...]
    only_base: tuple[str, ...]
    only_head: tuple[str, ...]

    @property
    def worse(self) -> bool:
        """Whether a CI gate should fail: head is significantly worse overall or on a case."""
        if self.overall.significant and self.overall.difference < 0:
            return True
        return any(case.significant and case.difference < 0 for case in self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "overall": self.overall.to_dict(),
            "cases": [case.to_dict() for case in self.cases],
            "only_base": list(self.only_base),
            "only_head": list(self.only_head),
            "worse": self.worse,
        }


def compare(
    base: Mapping[str, Counts], head: Mapping[str, Counts], *, alpha: float = 0.05
) -> Comparison:
    """Compare two versions over the cases both ran, in head's order.

    Only shared cases count toward the overall figures: a case added or dropped between
    versions has nothing to be compared with.
    """
    names = [name for name in head if name in base]
    raw = [
        fisher_exact(
            head[n].passed, head[n].failed, base[n].passed, base[n].failed, alternative="less"
        )
        for n in names
    ]
    cases = tuple(
        CaseDifference(n, base[n], head[n], p, adjusted, adjusted < alpha)
        for n, p, adjusted in zip(names, raw, holm(raw), strict=True)
    )
    pooled_base = sum((base[n] for n in names), Counts(0, 0))
    pooled_head = sum((head[n] for n in names), Counts(0, 0))
    p_overall = cmh([(base[n], head[n]) for n in names])
    return Comparison(
        alpha=alpha,
        overall=Overall(pooled_base, pooled_head, p_overall, p_overall < alpha),
        cases=cases,
        only_base=tuple(n for n in base if n not in head),
        only_head=tuple(n for n in head if n not in base),
    )


def _counts_dict(base: Counts, head: Counts) -> dict[str, Any]:
    return {
        "base_passed": base.passed,
        "base_total": base.total,
        "head_passed": head.passed,
        "head_total": head.total,
        "difference": round(head.rate - base.rate, 4),
    }
