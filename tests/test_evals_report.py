"""Eval reports: JUnit XML that CI accepts, a safe self-contained HTML page, a terminal table."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]
from rich.console import Console

from homeport.evals.report import html_report, junit_xml, terminal_summary, verdict
from homeport.evals.stats import Counts, compare

THRESHOLD = 0.8
HOSTILE = "Sure! <script>alert(1)</script> Tom & Jerry\x07 done"


def _run(
    version: int,
    outcomes: dict[str, list[bool]],
    *,
    status: str = "succeeded",
    error: str | None = None,
    answer: str = "Please send your order number.",
    baseline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A run as `GET /api/v1/evals/{id}` returns it: one step per sample, 100 ms each."""
    cases: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for name, passes in outcomes.items():
        cases.append({"name": name, "passed": sum(passes), "total": len(passes)})
        for sample, passed in enumerate(passes):
            check = {
                "type": "contains",
                "name": "contains 'order number'",
                "passed": passed,
                "detail": "found" if passed else "missing 'order number'",
                "score": None,
            }
            step = {
                "prompt": f"{name}: how do I get a refund?",
                "answer": answer if not passed else "Please send your order number.",
                "latency_ms": 100.0,
                "prompt_tokens": 120,
                "completion_tokens": 30,
                "error": None,
                "assertions": [check],
            }
            results.append({"case": name, "sample": sample, "passed": passed, "steps": [step]})
    total_passed = sum(int(case["passed"]) for case in cases)
    total = sum(int(case["total"]) for case in cases)
    run: dict[str, Any] = {
        "id": f"evr_v{version}",
        "app": "support",
        "version": version,
        "draft": False,
        "label": f"support.yaml (v{version})",
        "model": "local/gemma-3-270m",
        "judge_model": "local/gemma-3-270m",
        "judge_prompt": "judge-v1",
        "samples": max((len(p) for p in outcomes.values()), default=0),
        "status": status,
        "error": error,
        "total": total,
        "done": total,
        "created_at": "2026-11-26T12:00:00Z",
        "finished_at": "2026-11-26T12:01:00Z",
        "baseline": None,
        "summary": {
            "passed": total_passed,
            "total": total,
            "pass_rate": total_passed / total if total else 0.0,
        },
        "cases": cases,
        "results": results,
        "comparison": None,
    }
    if baseline is not None:
        run["baseline"] = baseline["id"]
        run["comparison"] = compare(_counts(baseline), _counts(run)).to_dict()
    return run


def _counts(run: dict[str, Any]) -> dict[str, Counts]:
    return {case["name"]: Counts(case["passed"], case["total"]) for case in run["cases"]}


def _outcomes(passed: int, total: int = 10) -> list[bool]:
    return [i < passed for i in range(total)]


@pytest.fixture
def base() -> dict[str, Any]:
    return _run(3, {"refund": _outcomes(10), "shipping": _outcomes(9), "tone": _outcomes(7)})


@pytest.fixture
def regressed(base: dict[str, Any]) -> dict[str, Any]:
    """refund broke (10/10 -> 0/10), tone stayed below the threshold, shipping is fine."""
    outcomes = {"refund": _outcomes(0), "shipping": _outcomes(9), "tone": _outcomes(7)}
    return _run(4, outcomes, answer=HOSTILE, baseline=base)


@pytest.fixture
def failed() -> dict[str, Any]:
    run = _run(5, {"refund": [], "shipping": []}, status="failed")
    run["error"] = "the model server is unreachable"
    return run


def _validate(xml: str) -> None:
    schema = etree.XMLSchema(etree.parse(Path(__file__).parent / "data" / "junit.xsd"))
    document = etree.fromstring(xml.encode())
    assert schema.validate(document), schema.error_log


# --- JUnit -------------------------------------------------------------------------------


def test_junit_is_valid_for_every_kind_of_run(
    base: dict[str, Any], regressed: dict[str, Any], failed: dict[str, Any]
) -> None:
    cancelled = _run(6, {"refund": _outcomes(2, 3)}, status="cancelled")
    _validate(junit_xml([base, regressed, failed, cancelled], threshold=THRESHOLD))


def test_the_schema_rejects_what_ci_would_reject() -> None:
    with pytest.raises(AssertionError):
        _validate('<testsuites><testsuite name="x" tests="many"/></testsuites>')


def test_junit_counts_match_the_runs(
    base: dict[str, Any], regressed: dict[str, Any], failed: dict[str, Any]
) -> None:
    root = ET.fromstring(junit_xml([regressed, failed], threshold=THRESHOLD))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "2", "2")
    head, broken = root.findall("testsuite")
    assert head.get("name") == "support@v4"
    assert (head.get("tests"), head.get("failures"), head.get("errors")) == ("3", "2", "0")
    assert head.get("skipped") == "0"
    assert head.get("timestamp") == "2026-11-26T12:00:00"
    assert head.get("time") == "60.000"
    assert broken.get("name") == "support@v5"
    assert (broken.get("tests"), broken.get("errors"), broken.get("failures")) == ("2", "2", "0")
    cases = {case.get("name"): case for case in head.iter("testcase")}
    assert list(cases) == ["refund", "shipping", "tone"]
    assert {case.get("classname") for case in cases.values()} == {"support"}
    assert cases["refund"].get("time") == "1.000"  # ten samples of 100 ms


def test_junit_fails_regressed_and_below_threshold_cases(regressed: dict[str, Any]) -> None:
    root = ET.fromstring(junit_xml([regressed], threshold=THRESHOLD))
    cases = {case.get("name"): case for case in root.iter("testcase")}
    refund = cases["refund"].find("failure")
    assert refund is not None
    assert "pass rate 0.00 < threshold 0.80" in refund.get("message", "")
    assert "significantly worse than evr_v3" in refund.get("message", "")
    tone = cases["tone"].find("failure")
    assert tone is not None
    assert tone.get("message", "").startswith("pass rate 0.70 < threshold 0.80")
    assert "worse" not in tone.get("message", "")
    assert cases["shipping"].find("failure") is None


def test_junit_regression_fails_even_above_the_threshold(base: dict[str, Any]) -> None:
    head = _run(4, {"refund": _outcomes(0), "shipping": _outcomes(9), "tone": _outcomes(7)})
    head["comparison"] = compare(_counts(base), _counts(head)).to_dict()
    root = ET.fromstring(junit_xml([head], threshold=0.0))
    failing = [
        case.get("name") for case in root.iter("testcase") if case.find("failure") is not None
    ]
    assert failing == ["refund"]


def test_junit_errors_every_case_of_a_failed_run(failed: dict[str, Any]) -> None:
    root = ET.fromstring(junit_xml([failed], threshold=THRESHOLD))
    errors = [case.find("error") for case in root.iter("testcase")]
    assert len(errors) == 2
    assert all(
        e is not None and "model server is unreachable" in e.get("message", "") for e in errors
    )


def test_junit_a_run_that_failed_before_listing_cases_still_fails_ci() -> None:
    broken = _run(7, {}, status="failed", error="the app spec does not parse")
    root = ET.fromstring(junit_xml([broken], threshold=THRESHOLD))
    assert root.get("errors") == "1"


def test_junit_properties_and_sample_log(regressed: dict[str, Any]) -> None:
    xml = junit_xml([regressed], threshold=THRESHOLD)
    root = ET.fromstring(xml)
    properties = {p.get("name"): p.get("value", "") for p in root.iter("property")}
    assert properties["pass_rate"] == "0.5333"  # 16 of 30
    assert float(properties["ci_low"]) < 0.5333 < float(properties["ci_high"])
    assert properties["samples"] == "10"
    assert properties["comparison_worse"] == "true"
    refund = next(case for case in root.iter("testcase") if case.get("name") == "refund")
    log = refund.findtext("system-out") or ""
    assert "0/10 samples passed" in log
    assert "sample 3: failed" in log
    assert "contains 'order number': missing 'order number'" in log
    assert "\x07" not in xml


def test_junit_keeps_step_errors() -> None:
    run = _run(4, {"refund": [False]})
    run["results"][0]["steps"][0]["error"] = "timeout after 30 s <\x1b>"
    root = ET.fromstring(junit_xml([run], threshold=THRESHOLD))
    assert "step 1 error: timeout after 30 s <>" in (root.findtext(".//system-out") or "")


# --- HTML --------------------------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}
SVG_EMPTY = {"rect", "line"}


class _StrictParser(HTMLParser):
    """Fails on anything a browser would have to repair: unclosed or misnested elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.svg_bars: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "rect" and "bar" in classes:
            self.svg_bars.extend(c for c in classes if c.startswith("bar-"))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def _parse(html: str) -> _StrictParser:
    parser = _StrictParser()
    parser.feed(html)
    parser.close()
    assert parser.problems == []
    assert parser.stack == []
    return parser


def test_html_escapes_model_output(base: dict[str, Any], regressed: dict[str, Any]) -> None:
    html = html_report(regressed, base, threshold=THRESHOLD)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Tom &amp; Jerry done" in html
    assert "<script" not in html.lower()
    assert "\x07" not in html


def test_html_is_well_formed_and_self_contained(
    base: dict[str, Any], regressed: dict[str, Any], failed: dict[str, Any]
) -> None:
    for html in (
        html_report(regressed, base, threshold=THRESHOLD),
        html_report(regressed, threshold=THRESHOLD),
        html_report(failed, threshold=THRESHOLD),
    ):
        _parse(html)
        assert html.startswith("<!doctype html>")
        assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
        assert not re.search(r"url\(|@import|<link|<iframe|<img", html, re.I)
        assert 'name="viewport"' in html
        assert "prefers-color-scheme: dark" in html


def test_html_chart_has_a_bar_per_case_and_version(
    base: dict[str, Any], regressed: dict[str, Any]
) -> None:
    compared = _parse(html_report(regressed, base, threshold=THRESHOLD))
    assert sorted(compared.svg_bars) == ["bar-base"] * 3 + ["bar-head"] * 3
    # Without the baseline run, the comparison still carries base counts.
    from_comparison = _parse(html_report(regressed, threshold=THRESHOLD))
    assert sorted(from_comparison.svg_bars) == ["bar-base"] * 3 + ["bar-head"] * 3
    alone = _parse(html_report(base, threshold=THRESHOLD))
    assert alone.svg_bars == ["bar-head"] * 3


def test_html_chart_is_accessible(base: dict[str, Any], regressed: dict[str, Any]) -> None:
    html = html_report(regressed, base, threshold=THRESHOLD)
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in svg
    assert "aria-label=" in svg
    assert "<title" in svg
    assert "<desc" in svg
    assert "refund v4 0%" in svg and "refund v3 100%" in svg
    for tick in ("0%", "50%", "100%"):
        assert f">{tick}</text>" in svg


def test_html_states_the_comparison_verdict(
    base: dict[str, Any], regressed: dict[str, Any]
) -> None:
    html = html_report(regressed, base, threshold=THRESHOLD)
    assert "support v4 vs v3" in html
    assert "significantly worse" in html
    assert 'class="regressed"' in html
    assert "pass rate 0.53 &lt; threshold 0.80" in html
    same = _run(4, {"refund": _outcomes(10), "shipping": _outcomes(9), "tone": _outcomes(7)})
    same_html = html_report(_with_comparison(same, base), base, threshold=THRESHOLD)
    assert "no significant difference" in same_html
    assert "significantly worse" not in same_html


def test_html_says_better_when_head_improved() -> None:
    old = _run(3, {"refund": _outcomes(0), "shipping": _outcomes(1)})
    new = _run(4, {"refund": _outcomes(10), "shipping": _outcomes(10)}, baseline=old)
    html = html_report(new, old, threshold=THRESHOLD)
    assert "significantly better" in html
    assert "significantly worse" not in html


def _with_comparison(head: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    head["baseline"] = base["id"]
    head["comparison"] = compare(_counts(base), _counts(head)).to_dict()
    return head


def test_html_lists_failing_samples_with_their_details(regressed: dict[str, Any]) -> None:
    html = html_report(regressed, threshold=THRESHOLD)
    failing = html[html.index("Failing samples") :]
    assert failing.count("<details>") == 3  # refund, shipping and tone each have failures
    assert "refund — 10 failing" in failing
    assert "missing &#39;order number&#39;" in failing
    assert "refund: how do I get a refund?" in failing


def test_html_of_a_failed_run_says_why(failed: dict[str, Any]) -> None:
    html = html_report(failed, threshold=THRESHOLD)
    assert "The run failed: the model server is unreachable" in html


# --- terminal ----------------------------------------------------------------------------


def _render(head: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    console = Console(record=True, width=120)
    terminal_summary(head, baseline, threshold=THRESHOLD, console=console)
    return console.export_text()


def test_terminal_summary_with_comparison(base: dict[str, Any], regressed: dict[str, Any]) -> None:
    text = _render(regressed, base)
    for name in ("refund", "shipping", "tone"):
        assert name in text
    assert "refund ▼" in text
    assert "0/10 passed" in text and "-100" in text
    assert "v3" in text
    assert "FAIL pass rate 0.53 < threshold 0.80; significantly worse than v3" in text


def test_terminal_summary_alone_passes() -> None:
    good = _run(4, {"refund": _outcomes(10), "shipping": _outcomes(8)})
    text = _render(good, None)
    assert "18/20 passed: pass rate 90%" in text
    assert "PASS pass rate 0.90 ≥ threshold 0.80" in text
    assert "p (adj.)" not in text


def test_terminal_summary_of_a_failed_run(failed: dict[str, Any]) -> None:
    text = _render(failed, None)
    assert "refund" in text
    assert "FAIL the run failed: the model server is unreachable" in text


def test_terminal_summary_prints_names_literally() -> None:
    run = _run(4, {"[red]tricky[/red]": _outcomes(10)})
    assert "[red]tricky[/red]" in _render(run, None)


# --- verdict -----------------------------------------------------------------------------


def test_verdict_passes_at_or_above_the_threshold() -> None:
    run = _run(4, {"refund": _outcomes(9), "shipping": _outcomes(9)})
    assert verdict(run, threshold=0.8) == (True, "pass rate 0.90 ≥ threshold 0.80")
    assert verdict(run, threshold=0.9)[0]


def test_verdict_fails_below_the_threshold() -> None:
    run = _run(4, {"refund": _outcomes(6)})
    assert verdict(run, threshold=0.8) == (False, "pass rate 0.60 < threshold 0.80")


def test_verdict_fails_a_significant_regression(
    base: dict[str, Any], regressed: dict[str, Any]
) -> None:
    passed, reason = verdict(regressed, threshold=0.0, baseline=base)
    assert not passed
    p = regressed["comparison"]["overall"]["p_value"]
    assert reason == f"significantly worse than v3 (p={p:.2g})"
    # Without the baseline run at hand, it is named by its id.
    assert "significantly worse than evr_v3" in verdict(regressed, threshold=0.0)[1]


def test_verdict_names_the_case_when_only_a_case_regressed() -> None:
    # Thirty unchanged half-passing cases drown refund's collapse in the pooled test,
    # but refund alone is significant even after Holm's correction.
    unchanged = {f"case{i}": _outcomes(5) for i in range(30)}
    old = _run(3, {"refund": _outcomes(10)} | unchanged)
    new = _with_comparison(_run(4, {"refund": _outcomes(0)} | unchanged), old)
    assert not new["comparison"]["overall"]["significant"]
    p = new["comparison"]["cases"][0]["p_adjusted"]
    assert verdict(new, threshold=0.0, baseline=old) == (
        False,
        f"significantly worse than v3 (refund: p={p:.2g})",
    )


def test_verdict_fails_runs_that_did_not_succeed(failed: dict[str, Any]) -> None:
    assert verdict(failed, threshold=0.0) == (
        False,
        "the run failed: the model server is unreachable",
    )
    cancelled = _run(4, {"refund": _outcomes(10)}, status="cancelled")
    assert verdict(cancelled, threshold=0.0) == (
        False,
        "the run did not finish (status cancelled)",
    )
