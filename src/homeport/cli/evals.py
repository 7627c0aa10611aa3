"""`homeport eval`: run an app's tests on the server named by HOMEPORT_URL, several times
each, and gate on the result.

    homeport eval -f app.yaml --samples 5 --threshold 0.8 --compare main --junit eval.xml
    homeport eval support@3
    homeport eval list support | show RUN | cancel RUN | calibrate | from-feedback support

A spec from a file (or from a git ref, for `--compare`) runs as a draft version: the live app
never changes. Exit codes: 0 the gate passed; 1 it failed (pass rate below the threshold,
significantly worse than the compared version, or the run failed); 3, 4 and 5 as for every
command (refused, not found, server unreachable).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from homeport.cli.client import ApiError, Client
from homeport.cli.output import JsonFlag, handle_errors, print_json, table
from homeport.cli.resources import git_context, is_app, load_resources
from homeport.errors import ValidationFailed
from homeport.evals.feedback import add_cases, cases_from_feedback, cases_yaml
from homeport.evals.judge import DEFAULT_PROMPT, agreement, calibration_set
from homeport.evals.recording import declare_responses, recorded_responses
from homeport.evals.report import html_report, junit_xml, terminal_summary, verdict

POLL_SECONDS = 0.5
_VERSION = re.compile(r"^v?(\d+)$")
_TARGET = re.compile(r"^(?P<app>[a-z0-9][a-z0-9_.-]*)(?:@v?(?P<version>\d+))?$")


class _RunByDefault(TyperGroup):
    """`homeport eval ARGS` is `homeport eval run ARGS` unless ARGS start with a command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault,
    help="Evals: run an app's tests several times each and gate on the pass rate.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


Samples = Annotated[int, typer.Option("--samples", "-n", min=1, max=100, help="Runs per case")]
JudgeModel = Annotated[
    str | None, typer.Option("--judge-model", help="Judges expected_output and llm_judge")
]


@eval_app.command("run")
@handle_errors
def run(
    target: Annotated[
        str | None, typer.Argument(help="An app on the server: NAME or NAME@VERSION")
    ] = None,
    filename: Annotated[
        Path | None, typer.Option("--filename", "-f", help="An app file (runs as a draft)")
    ] = None,
    samples: Samples = 3,
    threshold: Annotated[
        float, typer.Option(min=0, max=1, help="The pass rate below which the eval fails")
    ] = 1.0,
    compare: Annotated[
        str | None,
        typer.Option(help="Compare with a version on the server (3, v3) or a git ref (main)"),
    ] = None,
    judge_model: JudgeModel = None,
    judge_prompt: Annotated[str, typer.Option(help="The judge prompt's version")] = DEFAULT_PROMPT,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the runs as JSON")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML (for CI)")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report")] = None,
) -> None:
    """Run every test case of an app N times and report pass rates with 95% intervals."""
    client = Client.from_settings()
    options = {"samples": samples, "judge_model": judge_model, "judge_prompt": judge_prompt}
    head_body = _head(target, filename)
    base_body = _base(compare, head_body["app"], filename) if compare is not None else None
    if base_body is not None:  # drafted first, so the older spec gets the lower number
        base_body = _drafted(client, base_body)
    head = client.post("/api/v1/evals", {**_drafted(client, head_body), **options})
    base = None
    if base_body is not None:
        base = client.post(
            "/api/v1/evals", {**base_body, **options, "tests_version": head["version"]}
        )
    _wait(client, [r for r in (head, base) if r is not None])
    head = client.get(f"/api/v1/evals/{head['id']}", baseline=base["id"] if base else None)
    if base is not None:
        base = client.get(f"/api/v1/evals/{base['id']}")
    _write_reports(head, base, threshold=threshold, json_path=json_path, junit=junit, html=html)
    terminal_summary(head, base, threshold=threshold, console=_console())
    passed, _ = verdict(head, threshold=threshold, baseline=base)
    if not passed:
        raise typer.Exit(1)


def _console() -> Console:
    """Standard output; 120 columns when it is not a terminal (CI logs), for whole names."""
    return Console() if sys.stdout.isatty() else Console(width=120)


def _head(target: str | None, filename: Path | None) -> dict[str, Any]:
    """What to run: a draft from the file, or a version on the server."""
    if (target is None) == (filename is None):
        raise ValidationFailed("give an app file (-f app.yaml) or an app (NAME[@VERSION])")
    if filename is not None:
        name, spec = _app_file(filename)
        return {"app": name, "spec": spec, **_provenance(filename)}
    match = _TARGET.match(target or "")
    if match is None:
        raise ValidationFailed(f"'{target}' is not NAME or NAME@VERSION")
    version = match["version"]
    return {"app": match["app"], "version": int(version) if version else None}


def _drafted(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    """A target with a spec, as the draft version made of it (`app`, `version`)."""
    if "spec" not in body:
        return body
    fields = {k: body[k] for k in ("spec", "label", "git") if k in body}
    version = client.post(f"/api/v1/apps/{body['app']}/drafts", fields)
    return {"app": body["app"], "version": version["number"]}


def _base(compare: str, app: str, filename: Path | None) -> dict[str, Any]:
    """The version to compare with: a number on the server, or the file at a git ref."""
    number = _VERSION.match(compare)
    if number:
        return {"app": app, "version": int(number[1])}
    if filename is None:
        raise ValidationFailed(f"--compare {compare}: a git ref needs the app file (-f)")
    with tempfile.TemporaryDirectory() as tmp:
        path = _checkout(filename, compare, Path(tmp))
        name, spec = _app_file(path)
    if name != app:
        raise ValidationFailed(f"at {compare}, {filename} names app '{name}', not '{app}'")
    label = f"{filename.name} at {compare}"
    return {"app": app, "spec": spec, "label": label[:200]}


def _app_file(path: Path) -> tuple[str, dict[str, Any]]:
    resources = [r for r in load_resources([str(path)]) if is_app(r)]
    if len(resources) != 1:
        raise ValidationFailed(f"{path}: expected one app (kind: AIApp), found {len(resources)}")
    return str(resources[0]["metadata"]["name"]), dict(resources[0]["spec"])


def _provenance(path: Path) -> dict[str, Any]:
    git = git_context([str(path)])
    commit = git.get("commit", "")
    label = f"{path.name} (git {commit[:7]})" if commit else path.name
    return {"label": label[:200], **({"git": git} if git else {})}


def _checkout(filename: Path, ref: str, into: Path) -> Path:
    """The app file and the files beside it as they were at `ref` (`git archive`)."""
    where = filename.resolve().parent
    top = _git(where, "rev-parse", "--show-toplevel").decode().strip()
    relative = filename.resolve().relative_to(top)
    archive = _git(Path(top), "archive", "--format=tar", ref)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    found = into / relative
    if not found.is_file():
        raise ValidationFailed(f"{relative} does not exist at {ref}")
    return found


def _git(where: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ValidationFailed(f"git {args[0]} failed: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        raise ValidationFailed(f"git {args[0]}: {message}")
    return done.stdout


def _wait(client: Client, runs: list[dict[str, Any]]) -> None:
    """Follow the runs to the end, a progress bar each (on stderr)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        tasks = {
            r["id"]: progress.add_task(f"{r['app']} v{r['version']}", total=r["total"])
            for r in runs
        }
        pending = set(tasks)
        while pending:
            for run_id in sorted(pending):
                found = client.get(f"/api/v1/evals/{run_id}", results="false")
                progress.update(tasks[run_id], completed=found["done"])
                if found["status"] not in ("queued", "running"):
                    pending.discard(run_id)
            if pending:
                time.sleep(POLL_SECONDS)


def _write_reports(
    head: dict[str, Any],
    base: dict[str, Any] | None,
    *,
    threshold: float,
    json_path: Path | None,
    junit: Path | None,
    html: Path | None,
) -> None:
    runs = [head, *([base] if base else [])]
    if json_path is not None:
        json_path.write_text(json.dumps({"runs": runs, "threshold": threshold}, indent=2) + "\n")
    if junit is not None:
        junit.write_text(junit_xml(runs, threshold=threshold))
    if html is not None:
        html.write_text(html_report(head, base, threshold=threshold))


@eval_app.command("record")
@handle_errors
def record(
    filename: Annotated[Path, typer.Option("--filename", "-f", help="The app file to update")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Also replace responses tests declare already")
    ] = False,
    judge_model: JudgeModel = None,
) -> None:
    """Run each test once against the live APIs and write the responses its calls got into
    the app file, as the test's api_responses (review them: they are the APIs' real data)."""
    client = Client.from_settings()
    name, spec = _app_file(filename)
    if replace:  # the tests must call the live APIs to record them again
        spec = _without_responses(spec)
    target = _drafted(client, {"app": name, "spec": spec, **_provenance(filename)})
    run = client.post(
        "/api/v1/evals", {**target, "samples": 1, "record": True, "judge_model": judge_model}
    )
    _wait(client, [run])
    run = client.get(f"/api/v1/evals/{run['id']}")
    if run["status"] != "succeeded":
        raise ValidationFailed(f"the run {run['id']} {run['status']}: {run.get('error')}")
    recorded = recorded_responses(run)
    changed = declare_responses(filename, recorded, replace=replace)
    for case, responses in recorded.items():
        if case in changed:
            typer.echo(f"{case}: {len(responses)} response(s) recorded")
        elif responses:
            typer.echo(f"{case}: declares responses already (--replace to record them again)")
        else:
            typer.echo(f"{case}: called no API")


def _without_responses(spec: dict[str, Any]) -> dict[str, Any]:
    assistants = [
        {**a, "tests": [{k: v for k, v in t.items() if k != "api_responses"} for t in a["tests"]]}
        if a.get("tests")
        else a
        for a in spec.get("assistants", [])
    ]
    return {**spec, "assistants": assistants}


# -- runs on the server ---------------------------------------------------------------------------


@eval_app.command("list")
@handle_errors
def list_runs(
    app: Annotated[str | None, typer.Argument(help="Only this app's runs")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Eval runs of the apps you may edit, newest first."""
    page = Client.from_settings().get("/api/v1/evals", app=app, limit=limit)
    if as_json:
        print_json(page)
        return
    table(
        [
            (
                r["id"],
                r["app"],
                f"v{r['version']}" + (" (draft)" if r["draft"] else ""),
                r["status"],
                f"{r['done']}/{r['total']}",
                r["label"],
                r["created_at"][:19],
            )
            for r in page["data"]
        ],
        ["id", "app", "version", "status", "done", "label", "created"],
    )


@eval_app.command("show")
@handle_errors
def show(
    run_id: str,
    threshold: Annotated[float, typer.Option(min=0, max=1)] = 1.0,
    baseline: Annotated[str | None, typer.Option(help="Compare with this run")] = None,
    as_json: JsonFlag = False,
) -> None:
    """A run's pass rates (and every answer, with --json)."""
    client = Client.from_settings()
    run = client.get(f"/api/v1/evals/{run_id}", baseline=baseline)
    if as_json:
        print_json(run)
        return
    base = client.get(f"/api/v1/evals/{baseline}", results="false") if baseline else None
    terminal_summary(run, base, threshold=threshold, console=_console())


@eval_app.command("cancel")
@handle_errors
def cancel(run_id: str) -> None:
    """Stop a run after the sample in progress."""
    run = Client.from_settings().post(f"/api/v1/evals/{run_id}/cancel", {})
    typer.echo(f"{run['id']}: {run['status']} ({run['done']}/{run['total']} samples kept)")


@eval_app.command("calibrate")
@handle_errors
def calibrate(judge_model: JudgeModel = None, judge_prompt: str = DEFAULT_PROMPT) -> None:
    """How often the judge agrees with the labelled answers shipped with Homeport."""
    client = Client.from_settings()
    items = calibration_set()
    verdicts: list[bool | None] = []
    model = judge_model
    with Progress(console=Console(stderr=True), transient=True) as progress:
        for item in progress.track(items, description="judging"):
            body = {
                "model": judge_model,
                "prompt": judge_prompt,
                "question": item.question,
                "answer": item.answer,
                "criteria": item.criteria,
            }
            try:
                found = client.post("/api/v1/evals/judge", body)
            except ApiError as exc:  # no verdict (502): counted as disagreeing
                if exc.status != 502:
                    raise
                verdicts.append(None)
                continue
            model = found["model"]
            verdicts.append(bool(found["pass"]))
    result = agreement([i.label for i in items], verdicts)
    missing = sum(1 for v in verdicts if v is None)
    typer.echo(
        f"judge {model} ({judge_prompt}): agreed on {result.agreed} of {result.total} "
        f"labelled answers ({result.rate:.0%}), Cohen's kappa {result.kappa:.2f}"
        + (f"; {missing} without a verdict" if missing else "")
    )


@eval_app.command("from-feedback")
@handle_errors
def from_feedback(
    app: Annotated[str, typer.Argument(help="The app whose rated answers to read")],
    filename: Annotated[
        Path | None, typer.Option("--filename", "-f", help="Add the cases to this app file")
    ] = None,
    rating: Annotated[str, typer.Option(help="Which ratings: down or up")] = "down",
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Turn conversations users rated (thumbs down, by default) into eval cases: printed as
    YAML, or added to the app file's first assistant with -f."""
    page = Client.from_settings().get("/api/v1/feedback", app=app, rating=rating, limit=limit)
    cases = cases_from_feedback(page["data"])
    if filename is None:
        sys.stdout.write(cases_yaml(cases))
        return
    added = add_cases(filename, cases)
    typer.echo(f"{filename}: added {added} case(s), skipped {len(cases) - added} already there")
