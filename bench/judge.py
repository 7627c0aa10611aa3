"""The eval judge: how often does a judge model agree with answers labelled by hand?

The labelled set is `homeport.evals.calibration` (`src/homeport/evals/calibration.yaml`: 20
answers, half passing, half near misses), the same one `homeport eval calibrate` uses. Each
judge grades every item with each judge prompt version; printed side by side with two
baselines that need no model: a judge that always passes, and one that passes when the
answer shares at least half the criteria's content words (a lexical judge). Agreement is
the share of items judged as labelled; Cohen's kappa is agreement beyond what the rate of
"pass" verdicts alone would give (0: no better than chance).

    python bench/judge.py [--json results.json] [--no-embedded]
        [--base-url URL --model NAME [--api-key KEY]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# bench/tools.py, beside this file (the script's directory is on the import path)
from tools import EMBEDDED_MODEL, bench_settings, model_of, until_served

from homeport.evals.judge import PROMPTS, Judge, JudgeFailed, Labelled, agreement, calibration_set
from homeport.services.container import build_services

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "to",
        "in",
        "is",
        "are",
        "it",
        "its",
        "as",
        "for",
        "with",
        "this",
        "that",
        "be",
        "by",
        "on",
        "or",
        "at",
        "any",
        "answer",
        "gives",
        "same",
        "information",
        "reference",
    ]
)


def lexical(item: Labelled) -> bool:
    wanted = {w for w in _WORD.findall(item.criteria.lower()) if w not in _STOP}
    found = set(_WORD.findall(item.answer.lower()))
    return bool(wanted) and len(wanted & found) * 2 >= len(wanted)


def scored(
    name: str, items: list[Labelled], verdicts: list[bool | None], ms: list[float]
) -> dict[str, Any]:
    result = agreement([i.label for i in items], verdicts)
    return {
        "judge": name,
        "agreed": result.agreed,
        "total": result.total,
        "agreement": round(result.rate, 3),
        "kappa": round(result.kappa, 3),
        "no_verdict": sum(1 for v in verdicts if v is None),
        "p50_ms": round(statistics.median(ms), 1) if ms else 0.0,
    }


def rule_judge(
    name: str, items: list[Labelled], rule: Callable[[Labelled], bool]
) -> dict[str, Any]:
    return scored(name, items, [rule(i) for i in items], [])


async def model_judge(
    settings: Any, model_name: str, items: list[Labelled]
) -> list[dict[str, Any]]:
    rows = []
    async with build_services(settings) as services:
        model = await model_of(services, model_name)
        await until_served(model)
        for version in PROMPTS:
            judge = Judge(model, version)
            verdicts: list[bool | None] = []
            ms: list[float] = []
            for item in items:
                started = time.perf_counter()
                try:
                    verdict = await judge.judge(
                        question=item.question, answer=item.answer, criteria=item.criteria
                    )
                    verdicts.append(verdict.passed)
                except JudgeFailed:
                    verdicts.append(None)
                ms.append((time.perf_counter() - started) * 1000)
            rows.append(scored(f"{model.id} ({version})", items, verdicts, ms))
    return rows


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    items = calibration_set()
    rows = [
        rule_judge("always pass (baseline)", items, lambda _: True),
        rule_judge("lexical overlap (baseline)", items, lexical),
    ]
    with tempfile.TemporaryDirectory(prefix="hp-bench-judge-") as scratch:
        if args.embedded:
            settings = bench_settings(Path(scratch) / "local", args, embedded=True)
            rows += await model_judge(settings, EMBEDDED_MODEL, items)
        if args.base_url:
            settings = bench_settings(Path(scratch) / "remote", args, embedded=False)
            rows += await model_judge(settings, args.model, items)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-embedded", dest="embedded", action="store_false")
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--api-key")
    args = parser.parse_args()
    rows = asyncio.run(measure(args))
    print("| judge | agreed | agreement | kappa | no verdict | p50 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['judge']} | {r['agreed']}/{r['total']} | {r['agreement']:.2f} "
            f"| {r['kappa']:.2f} | {r['no_verdict']} | {r['p50_ms'] / 1000:.1f} s |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
