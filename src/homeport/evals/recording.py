"""Fixed API responses from a recorded run: what the live APIs answered while the tests ran
once, written into the app file as each test's `api_responses`.

The responses a run recorded are taken from each case's first passing sample (else its first
one): one entry per distinct call, its arguments as `when`. A test that declares responses
already keeps them unless they are to be replaced. Recorded bodies are the APIs' real data:
review them before committing the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from homeport.apps.cases import case_name
from homeport.evals.appfile import app_file


def recorded_responses(run: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each case's recorded API responses, by case name."""
    by_case: dict[str, list[dict[str, Any]]] = {}
    ordered = sorted(run.get("results") or [], key=lambda r: (not r["passed"], r["sample"]))
    for result in ordered:
        if result["case"] not in by_case:
            by_case[result["case"]] = _responses(result["steps"])
    return by_case


def _responses(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for step in steps:
        for call in step.get("api_calls") or []:
            response = call.get("response")
            if response is None:
                continue
            entry: dict[str, Any] = {"operation": call["operation"], "api": call["api"]}
            if call.get("arguments"):
                entry["when"] = call["arguments"]
            if response["status"] != 200:
                entry["status"] = response["status"]
            entry["body"] = response["body"]
            if entry not in entries:
                entries.append(entry)
    return entries


def declare_responses(
    path: Path, recorded: Mapping[str, list[dict[str, Any]]], *, replace: bool = False
) -> list[str]:
    """Write the recorded responses into the app file's tests (named as the run names its
    cases); the names of the tests given responses."""
    changed = []
    with app_file(path) as document:
        assistants = document.assistants()
        several = sum(1 for a in assistants if a.get("tests")) > 1
        for index, assistant in enumerate(assistants):
            for test in assistant.get("tests") or []:
                label = str(assistant.get("id") or assistant.get("name") or index)
                name = case_name(label, str(test.get("name")), several=several)
                found = recorded.get(name)
                if found and (replace or not test.get("api_responses")):
                    test["api_responses"] = found
                    changed.append(name)
    return changed
