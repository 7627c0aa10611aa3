"""A finished eval run, written for CI (JUnit XML), for people (HTML) and for a terminal.

Every writer takes runs as the server returns them (`GET /api/v1/evals/{id}`), so the CLI
can report on any run it can fetch and nothing here knows how runs are stored. Answers are
model output, hence untrusted: the XML writer drops characters XML 1.0 cannot carry (a
stray control character would make the whole report unparseable), and the HTML template
escapes everything it is given.

`verdict` is the one definition of "this run passes the gate"; the JUnit failures, the HTML
summary and the terminal's last line all agree with it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from rich.console import Console
from rich.table import Table
from rich.text import Text

from homeport.evals.stats import Counts, cmh, wilson

Run = Mapping[str, Any]

# Everything outside XML 1.0's Char production; HTML treats the same characters as errors.
_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def verdict(head: Run, *, threshold: float, baseline: Run | None = None) -> tuple[bool, str]:
    """Whether `head` passes the gate, and the one-line reason.

    A run that did not succeed fails: a broken or cancelled run proves nothing. Otherwise it
    fails below `threshold` or when its comparison says it is significantly worse.
    """
    status = head.get("status")
    if status == "failed":
        return False, f"the run failed: {head.get('error') or 'no reason given'}"
    if status != "succeeded":
        return False, f"the run did not finish (status {status})"
    rate = _summary_counts(head).rate
    reasons = []
    if rate < threshold:
        reasons.append(f"pass rate {rate:.2f} < threshold {threshold:.2f}")
    comparison = head.get("comparison")
    if comparison and comparison.get("worse"):
        name = _version_name(baseline) if baseline else _baseline_name(head)
        reasons.append(f"significantly worse than {name} ({_worst_p(comparison)})")
    if reasons:
        return False, "; ".join(reasons)
    return True, f"pass rate {rate:.2f} ≥ threshold {threshold:.2f}"


@dataclass(frozen=True, slots=True)
class _Row:
    """One case as every writer shows it: head's counts, base's, and the comparison's view."""

    name: str
    head: Counts | None
    base: Counts | None
    p_adjusted: float | None
    regressed: bool

    @property
    def difference(self) -> float | None:
        if self.head is None or self.base is None:
            return None
        return self.head.rate - self.base.rate


def _rows(head: Run, baseline: Run | None) -> list[_Row]:
    """Head's cases in order, then cases only the base has.

    Base counts come from the baseline run when given, else from the comparison, which
    carries them too.
    """
    compared = {case["name"]: case for case in _comparison_cases(head)}
    head_counts = _case_counts(head)
    if baseline is not None:
        base_counts = _case_counts(baseline)
    else:
        base_counts = {
            name: Counts(case["base_passed"], case["base_total"]) for name, case in compared.items()
        }
    names = list(head_counts) + [name for name in base_counts if name not in head_counts]
    return [
        _Row(
            name=name,
            head=head_counts.get(name),
            base=base_counts.get(name),
            p_adjusted=compared[name]["p_adjusted"] if name in compared else None,
            regressed=_regressed(compared.get(name)),
        )
        for name in names
    ]


def _regressed(case: Mapping[str, Any] | None) -> bool:
    return bool(case and case.get("significant") and case.get("difference", 0) < 0)


# --- JUnit XML ---------------------------------------------------------------------------


def junit_xml(runs: Sequence[Run], *, threshold: float) -> str:
    """JUnit XML for CI: one suite per run, one test case per eval case.

    A case fails when its pass rate is under `threshold` or the comparison marks it
    significantly worse; every case errors when the run itself failed. The case's samples
    are in its `<system-out>`, so a CI page shows why without opening the HTML report.
    """
    root = ET.Element("testsuites", name="homeport evals")
    totals = dict.fromkeys(("tests", "failures", "errors"), 0)
    time = 0.0
    for run in runs:
        suite = _suite(run, threshold)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        time += float(suite.get("time", "0"))
    root.attrib.update({key: str(value) for key, value in totals.items()})
    root.set("time", f"{time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _suite(run: Run, threshold: float) -> ET.Element:
    suite = ET.Element("testsuite", name=_clean(f"{run.get('app')}@v{run.get('version')}"))
    properties = ET.SubElement(suite, "properties")
    for name, value in _suite_properties(run, threshold):
        ET.SubElement(properties, "property", name=name, value=_clean(str(value)))
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    case_time = 0.0
    for case in _junit_cases(run, threshold):
        suite.append(case)
        counts["tests"] += 1
        for kind, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            counts[key] += case.find(kind) is not None
        case_time += float(case.get("time", "0"))
    suite.attrib.update({key: str(value) for key, value in counts.items()})
    suite.set("time", f"{_duration(run) or case_time:.3f}")
    if timestamp := _utc(run.get("created_at")):
        suite.set("timestamp", timestamp.strftime("%Y-%m-%dT%H:%M:%S"))
    suite.set("id", _clean(str(run.get("id", ""))))
    return suite


def _suite_properties(run: Run, threshold: float) -> Iterable[tuple[str, object]]:
    summary = _summary_counts(run)
    low, high = wilson(summary.passed, summary.total)
    yield from (("pass_rate", f"{summary.rate:.4f}"), ("ci_low", f"{low:.4f}"))
    yield from (("ci_high", f"{high:.4f}"), ("threshold", threshold))
    for key in ("samples", "status", "model", "judge_model", "judge_prompt", "label", "error"):
        if run.get(key) is not None:
            yield key, run[key]
    comparison = run.get("comparison")
    if comparison:
        yield "baseline", _baseline_name(run)
        yield "comparison_p_value", comparison["overall"]["p_value"]
        yield "comparison_worse", str(comparison["worse"]).lower()


def _junit_cases(run: Run, threshold: float) -> Iterable[ET.Element]:
    app = _clean(str(run.get("app", "")))
    results = _results_by_case(run)
    compared = {case["name"]: case for case in _comparison_cases(run)}
    cases = list(_case_counts(run).items())
    if not cases and run.get("status") == "failed":
        # A run that broke before listing its cases must still turn CI red.
        cases = [("run", Counts(0, 0))]
    for name, counts in cases:
        samples = results.get(name, [])
        element = ET.Element("testcase", classname=app, name=_clean(name))
        element.set("time", f"{_latency_ms(samples) / 1000:.3f}")
        problem = _case_problem(run, counts, compared.get(name), threshold)
        if problem is not None:
            ET.SubElement(element, problem[0], message=_clean(problem[1]), type=problem[2])
        ET.SubElement(element, "system-out").text = _clean(_sample_log(counts, samples))
        yield element


def _case_problem(
    run: Run, counts: Counts, compared: Mapping[str, Any] | None, threshold: float
) -> tuple[str, str, str] | None:
    """(element, message, type) for a case that did not pass, else None."""
    status = run.get("status")
    if status == "failed":
        return ("error", f"the run failed: {run.get('error') or 'no reason given'}", "run")
    if status != "succeeded":
        return ("skipped", f"the run did not finish (status {status})", "unfinished")
    reasons = []
    if counts.rate < threshold:
        reasons.append(
            f"pass rate {counts.rate:.2f} < threshold {threshold:.2f}"
            f" ({counts.passed}/{counts.total} samples passed)"
        )
    if compared is not None and _regressed(compared):
        reasons.append(
            f"significantly worse than {_baseline_name(run)}:"
            f" {compared['base_passed']}/{compared['base_total']} passed before,"
            f" p={compared['p_adjusted']:.2g} (Holm-adjusted)"
        )
    if not reasons:
        return None
    return ("failure", "; ".join(reasons), "regression" if len(reasons) > 1 else "eval")


def _sample_log(counts: Counts, samples: Sequence[Mapping[str, Any]]) -> str:
    low, high = wilson(counts.passed, counts.total)
    lines = [
        f"{counts.passed}/{counts.total} samples passed, pass rate {counts.rate:.2f}"
        f" (95% CI {low:.2f}-{high:.2f})"
    ]
    for sample in samples:
        outcome = "passed" if sample.get("passed") else "failed"
        lines.append(f"sample {sample.get('sample')}: {outcome}")
        for number, step in enumerate(sample.get("steps", []), start=1):
            if step.get("error"):
                lines.append(f"  step {number} error: {step['error']}")
            for check in step.get("assertions", []):
                if not check.get("passed"):
                    lines.append(f"  step {number} {check.get('name')}: {check.get('detail')}")
    return "\n".join(lines) + "\n"


# --- HTML --------------------------------------------------------------------------------


def html_report(head: Run, baseline: Run | None = None, *, threshold: float) -> str:
    """One self-contained HTML file: summary, chart, case table and the failing samples.

    No scripts and no external resources, so it can be attached to a CI run or mailed and
    still open offline. Model output goes through Jinja's autoescaping, never around it.
    """
    rows = _rows(head, baseline)
    passed, reason = verdict(head, threshold=threshold, baseline=baseline)
    compared = bool(head.get("comparison")) or baseline is not None
    base_label = _version_name(baseline) if baseline else _baseline_name(head)
    return _template().render(
        run=_html_run(head),
        head_label=_version_name(head),
        base_label=base_label if compared else None,
        summary=_html_summary(head),
        comparison=_html_comparison(head, rows),
        gate={"passed": passed, "reason": _clean(reason)},
        threshold=f"{threshold:.0%}",
        chart=_chart(rows, _version_name(head), base_label if compared else None),
        rows=[_html_row(row) for row in rows],
        failures=_html_failures(head),
    )


def _html_run(run: Run) -> dict[str, str]:
    keys = ("id", "app", "label", "model", "judge_model", "judge_prompt", "samples", "status")
    info = {key: _clean(str(run[key])) for key in keys if run.get(key) is not None}
    info["error"] = _clean(str(run.get("error") or ""))
    info["finished_at"] = _clean(str(run.get("finished_at") or run.get("created_at") or ""))
    return info


def _html_summary(run: Run) -> dict[str, str]:
    counts = _summary_counts(run)
    low, high = wilson(counts.passed, counts.total)
    return {"rate": _pct(counts.rate), "ci": _span(low, high), "counts": _n(counts)}


def _html_comparison(head: Run, rows: Sequence[_Row]) -> dict[str, str] | None:
    comparison = head.get("comparison")
    if not comparison:
        return None
    overall = comparison["overall"]
    if comparison["worse"]:
        outcome, kind = "significantly worse", "bad"
    elif _significantly_better(rows, comparison["alpha"]):
        outcome, kind = "significantly better", "good"
    else:
        outcome, kind = "no significant difference", "neutral"
    return {
        "difference": f"{overall['difference'] * 100:+.1f} points",
        "p_value": f"{overall['p_value']:.2g}",
        "alpha": f"{comparison['alpha']:g}",
        "verdict": outcome,
        "kind": kind,
        "only_base": ", ".join(_clean(n) for n in comparison.get("only_base", [])),
        "only_head": ", ".join(_clean(n) for n in comparison.get("only_head", [])),
    }


def _significantly_better(rows: Sequence[_Row], alpha: float) -> bool:
    """The comparison only tests "worse"; the same test with the roles swapped tests "better"."""
    strata = [(row.head, row.base) for row in rows if row.head and row.base]
    return cmh(strata) < alpha


def _html_row(row: _Row) -> dict[str, str | bool]:
    cells: dict[str, str | bool] = {"name": _clean(row.name), "regressed": row.regressed}
    for side, counts in (("head", row.head), ("base", row.base)):
        if counts is None or counts.total == 0:
            cells |= {side: "—", f"{side}_ci": "", f"{side}_counts": "not run"}
            continue
        low, high = wilson(counts.passed, counts.total)
        cells |= {side: _pct(counts.rate), f"{side}_counts": _n(counts)}
        cells[f"{side}_ci"] = _span(low, high)
    difference = row.difference
    cells["difference"] = "—" if difference is None else f"{difference * 100:+.0f}"
    cells["p"] = "—" if row.p_adjusted is None else f"{row.p_adjusted:.2g}"
    return cells


def _html_failures(run: Run) -> list[dict[str, Any]]:
    """Per case, the samples that failed, with everything needed to see why."""
    cases = []
    for name, samples in _results_by_case(run).items():
        failed = [sample for sample in samples if not sample.get("passed")]
        if failed:
            cases.append({"name": _clean(name), "samples": [_html_sample(s) for s in failed]})
    return cases


def _html_sample(sample: Mapping[str, Any]) -> dict[str, Any]:
    steps = [
        {
            "prompt": _clean(str(step.get("prompt") or "")),
            "answer": _clean(str(step.get("answer") or "")),
            "error": _clean(str(step.get("error") or "")),
            "latency": f"{float(step.get('latency_ms') or 0):.0f} ms",
            "assertions": [
                {
                    "name": _clean(str(check.get("name") or check.get("type") or "")),
                    "passed": bool(check.get("passed")),
                    "detail": _clean(str(check.get("detail") or "")),
                    "score": "" if check.get("score") is None else f"{check['score']:g}",
                }
                for check in step.get("assertions", [])
            ],
        }
        for step in sample.get("steps", [])
    ]
    return {"sample": sample.get("sample"), "steps": steps}


_BAR, _GAP, _GROUP_GAP, _LEFT, _TOP, _PLOT, _BOTTOM = 28, 4, 56, 44, 40, 200, 48
_LABEL = 16  # characters of a case's name under its bars


def _chart(rows: Sequence[_Row], head_label: str, base_label: str | None) -> dict[str, Any]:
    """Geometry for the grouped bar chart, computed here so the template only draws."""
    sides = [("base", base_label), ("head", head_label)] if base_label else [("head", head_label)]
    group = len(sides) * _BAR + (len(sides) - 1) * _GAP + _GROUP_GAP
    width = max(480, _LEFT + len(rows) * group + 12)

    def y(rate: float) -> float:
        return _TOP + (1 - rate) * _PLOT

    bars, labels, described = [], [], []
    for index, row in enumerate(rows):
        x0 = _LEFT + _GROUP_GAP / 2 + index * group
        for offset, (side, label) in enumerate(sides):
            counts = row.head if side == "head" else row.base
            if counts is None or counts.total == 0:
                continue
            low, high = wilson(counts.passed, counts.total)
            x = x0 + offset * (_BAR + _GAP)
            title = f"{row.name}, {label}: {_pct(counts.rate)} (95% CI {_span(low, high)})"
            bars.append(
                {"side": side, "x": x, "y": y(counts.rate), "w": _BAR,
                 "h": counts.rate * _PLOT, "cx": x + _BAR / 2, "y_low": y(low),
                 "y_high": y(high), "title": _clean(title)}
            )  # fmt: skip
            described.append(f"{row.name} {label} {_pct(counts.rate)}")
        short = row.name if len(row.name) <= _LABEL else row.name[: _LABEL - 1] + "…"
        labels.append({"x": x0 + (group - _GROUP_GAP) / 2, "text": _clean(short)})
    return {
        "width": width, "height": _TOP + _PLOT + _BOTTOM, "left": _LEFT, "right": width - 12,
        "bottom": _TOP + _PLOT, "label_y": _TOP + _PLOT + 18, "bars": bars, "labels": labels,
        "ticks": [{"y": y(t / 100), "text": f"{t}%"} for t in (0, 25, 50, 75, 100)],
        "legend": [{"side": side, "label": label} for side, label in sides],
        "desc": _clean("Pass rate per case: " + "; ".join(described) + "."),
    }  # fmt: skip


@cache
def _template() -> jinja2.Template:
    """`report.html.j2`, beside this module; autoescaped: answers are untrusted."""
    text = resources.files("homeport.evals").joinpath("report.html.j2").read_text()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(text)


# --- terminal ----------------------------------------------------------------------------


def terminal_summary(
    head: Run, baseline: Run | None, *, threshold: float, console: Console
) -> None:
    """A table of cases, a summary line and the gate's verdict, for `homeport evals run`."""
    rows = _rows(head, baseline)
    compared = bool(head.get("comparison")) or baseline is not None
    base_label = _version_name(baseline) if baseline else _baseline_name(head)
    table = Table(title=f"{head.get('app')} {_version_name(head)}", title_justify="left")
    for column in ("Case", "Passed", "Pass rate", "95% CI"):
        table.add_column(column, justify="left" if column == "Case" else "right")
    if compared:
        for column in (base_label, "Δ", "p (adj.)"):
            table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*_terminal_cells(row, compared), style="bold red" if row.regressed else None)
    console.print(table)
    counts = _summary_counts(head)
    low, high = wilson(counts.passed, counts.total)
    line = f"{_n(counts)}: pass rate {_pct(counts.rate)} (95% CI {_span(low, high)})"
    comparison = head.get("comparison")
    if comparison:
        overall = comparison["overall"]
        line += (
            f"; vs {base_label} {overall['difference'] * 100:+.1f} points,"
            f" p={overall['p_value']:.2g}"
        )
    console.print(Text(_clean(line)))
    passed, reason = verdict(head, threshold=threshold, baseline=baseline)
    label = Text("PASS " if passed else "FAIL ", style="bold green" if passed else "bold red")
    console.print(label + Text(_clean(reason)))


def _terminal_cells(row: _Row, compared: bool) -> list[Text]:
    name = _clean(row.name) + (" ▼" if row.regressed else "")
    cells = [name, "—", "—", "—"]
    if row.head is not None and row.head.total:
        low, high = wilson(row.head.passed, row.head.total)
        cells[1:] = [_n(row.head), _pct(row.head.rate), _span(low, high)]
    if compared:
        base = "—" if row.base is None or not row.base.total else _pct(row.base.rate)
        difference = row.difference
        cells.append(base)
        cells.append("—" if difference is None else f"{difference * 100:+.0f}")
        cells.append("—" if row.p_adjusted is None else f"{row.p_adjusted:.2g}")
    return [Text(cell) for cell in cells]


# --- reading runs ------------------------------------------------------------------------


def _case_counts(run: Run) -> dict[str, Counts]:
    return {
        str(case["name"]): Counts(int(case.get("passed", 0)), int(case.get("total", 0)))
        for case in run.get("cases") or []
    }


def _summary_counts(run: Run) -> Counts:
    summary = run.get("summary")
    if summary:
        return Counts(int(summary.get("passed", 0)), int(summary.get("total", 0)))
    return sum(_case_counts(run).values(), Counts(0, 0))


def _comparison_cases(run: Run) -> list[Mapping[str, Any]]:
    comparison = run.get("comparison")
    return list(comparison.get("cases", [])) if comparison else []


def _results_by_case(run: Run) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for result in run.get("results") or []:
        grouped.setdefault(str(result.get("case")), []).append(result)
    return grouped


def _latency_ms(samples: Iterable[Mapping[str, Any]]) -> float:
    return sum(
        float(step.get("latency_ms") or 0) for sample in samples for step in sample.get("steps", [])
    )


def _worst_p(comparison: Mapping[str, Any]) -> str:
    """The p-value behind a "worse" comparison: overall if that decided it, else the case's."""
    overall = comparison["overall"]
    if overall.get("significant") and overall.get("difference", 0) < 0:
        return f"p={overall['p_value']:.2g}"
    regressed = [case for case in comparison.get("cases", []) if _regressed(case)]
    if not regressed:
        return f"p={overall['p_value']:.2g}"
    worst = min(regressed, key=lambda case: case["p_adjusted"])
    return f"{_clean(worst['name'])}: p={worst['p_adjusted']:.2g}"


def _version_name(run: Run) -> str:
    return "draft" if run.get("version") is None else f"v{run['version']}"


def _baseline_name(run: Run) -> str:
    """How to name a run's baseline when only the head run is at hand."""
    baseline = run.get("baseline")
    if isinstance(baseline, Mapping):
        return _version_name(baseline)
    return str(baseline) if baseline else "the baseline"


def _duration(run: Run) -> float | None:
    started, finished = _utc(run.get("created_at")), _utc(run.get("finished_at"))
    if started is None or finished is None:
        return None
    return max(0.0, (finished - started).total_seconds())


def _utc(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed


def _span(low: float, high: float) -> str:
    return f"{_pct(low)}\N{EN DASH}{_pct(high)}"


def _pct(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def _n(counts: Counts) -> str:
    return f"{counts.passed}/{counts.total} passed"


def _clean(text: str) -> str:
    """`text` without the characters XML 1.0 (and HTML) cannot carry."""
    return _ILLEGAL.sub("", text)
