"""`homeport eval` against a real server: the example app's tests sampled, reports written,
a deliberate prompt regression caught by `--compare` with a failing exit code, and the
unchanged version passing. The app's model is the instruction-following demo model; the
end-to-end run with the embedded model as both app model and judge is last."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
import yaml
from aiohttp import web

from homeport.evals.judge import calibration_set
from homeport.testing import FakeOpenAI
from homeport.testing.instructed import instructed_model
from homeport.testing.servers import BackgroundServer
from tests.conftest import (
    ADMIN_KEY,
    LiveServer,
    free_port,
    live_server,
    make_settings,
    run_homeport,
)

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).parent.parent / "examples" / "evals" / "support.yaml"
REFUND_RULE = "Send us your order number and we refund you within 14 days of receiving the item."


@pytest.fixture(scope="module")
def demo_model() -> Iterator[FakeOpenAI]:
    fake = instructed_model()
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, demo_model: FakeOpenAI
) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("evals"))
    response = httpx.post(
        f"{live.url}/api/v1/providers",
        json={"name": "demo", "base_url": demo_model.base_url},  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 201, response.text
    yield live
    live.stop()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git work tree with the example app committed."""
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copy(EXAMPLE, work / "support.yaml")
    for args in (
        ["init", "-q", "-b", "main"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "add", "support.yaml"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "support app"],
    ):
        subprocess.run(["git", "-C", str(work), *args], check=True, capture_output=True)
    return work


def test_the_example_passes_and_writes_every_report(
    server: LiveServer, tmp_path: Path, repo: Path
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()

    done = run_homeport(
        server,
        tmp_path,
        "eval",
        "-f",
        str(repo / "support.yaml"),
        "--samples",
        "4",
        "--junit",
        str(reports / "eval.xml"),
        "--html",
        str(reports / "eval.html"),
        "--json",
        str(reports / "eval.json"),
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout and "refund asks for the order number" in done.stdout
    assert "12/12" in done.stderr  # the progress bar's last state
    suite = ElementTree.parse(reports / "eval.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "0"
    html = (reports / "eval.html").read_text()
    assert "<svg" in html and "refund asks for the order number" in html
    runs = json.loads((reports / "eval.json").read_text())["runs"]
    assert runs[0]["summary"]["passed"] == 12 and runs[0]["label"].startswith("support.yaml (git ")
    listed = run_homeport(server, tmp_path, "eval", "list", "support")
    assert runs[0]["id"] in listed.stdout
    shown = run_homeport(server, tmp_path, "eval", "show", runs[0]["id"], "--json")
    assert json.loads(shown.stdout)["results"][0]["steps"][0]["answer"]


def test_a_prompt_regression_fails_compare_and_the_unchanged_version_passes(
    server: LiveServer, tmp_path: Path, repo: Path
) -> None:
    app_file = repo / "support.yaml"
    committed = app_file.read_text()
    app_file.write_text(committed.replace(REFUND_RULE, "Refunds are possible."))

    regressed = run_homeport(
        server, tmp_path, "eval", "-f", str(app_file), "--compare", "main", "--samples", "10",
        "--threshold", "0.5", "--junit", str(tmp_path / "regressed.xml"),
    )  # fmt: skip

    assert regressed.returncode == 1, regressed.stdout + regressed.stderr
    assert "FAIL" in regressed.stdout and "significantly worse" in regressed.stdout
    assert "refund asks for the order number" in regressed.stdout
    failures = ElementTree.parse(tmp_path / "regressed.xml").getroot().iter("failure")
    assert any("significantly worse" in (f.get("message") or "") for f in failures)

    app_file.write_text(committed)
    unchanged = run_homeport(
        server, tmp_path, "eval", "-f", str(app_file), "--compare", "main", "--samples", "10"
    )

    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "PASS" in unchanged.stdout
    history = run_homeport(server, tmp_path, "app", "history", "support")
    assert "draft" in history.stdout


def test_a_pass_rate_below_the_threshold_fails(
    server: LiveServer, tmp_path: Path, repo: Path
) -> None:
    app_file = repo / "support.yaml"
    app_file.write_text(app_file.read_text().replace(REFUND_RULE, "Refunds are possible."))

    lenient = run_homeport(
        server, tmp_path, "eval", "-f", str(app_file), "-n", "2", "--threshold", "0.6"
    )
    strict = run_homeport(
        server, tmp_path, "eval", "-f", str(app_file), "-n", "2", "--threshold", "0.7"
    )

    assert lenient.returncode == 0, lenient.stdout  # 4 of 6 samples pass: 0.67
    assert strict.returncode == 1 and "pass rate 0.67 < threshold 0.70" in strict.stdout


def test_usage_errors_are_clear(server: LiveServer, tmp_path: Path, repo: Path) -> None:
    neither = run_homeport(server, tmp_path, "eval")
    both = run_homeport(server, tmp_path, "eval", "support", "-f", str(repo / "support.yaml"))
    bad_ref = run_homeport(
        server, tmp_path, "eval", "-f", str(repo / "support.yaml"), "--compare", "no-such-ref"
    )
    unknown = run_homeport(server, tmp_path, "eval", "no-such-app")

    assert neither.returncode != 0
    assert both.returncode == 1 and "give an app file" in both.stderr
    assert bad_ref.returncode == 1 and "git archive" in bad_ref.stderr
    assert unknown.returncode == 4 and "no app 'no-such-app'" in unknown.stderr


def test_the_embedded_model_answers_and_judges(tmp_path: Path) -> None:
    app = tmp_path / "capital.yaml"
    app.write_text(
        "apiVersion: app.aispec.org/v1alpha1\nkind: AIApp\nmetadata: {name: capital}\n"
        "spec:\n  assistants:\n    - temperature: 0\n      max_tokens: 24\n      tests:\n"
        "        - name: capital\n          steps:\n"
        "            - prompt: What is the capital of France?\n"
        "              assertions:\n"
        "                - contains: Paris\n"
        "                - type: llm_judge\n"
        "                  rubric: Names Paris as the capital of France.\n"
    )
    server = LiveServer(make_settings(tmp_path, port=free_port(), embedded_model=True)).start()
    try:
        done = run_homeport(
            server, tmp_path, "eval", "-f", str(app), "-n", "1", "--threshold", "0",
            "--json", str(tmp_path / "run.json"),
        )  # fmt: skip
    finally:
        server.stop()

    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads((tmp_path / "run.json").read_text())["runs"][0]
    assert run["judge_model"] == run["model"] == "local/gemma-3-270m"
    contains, judged = run["results"][0]["steps"][0]["assertions"]
    assert contains["passed"] is True, run["results"][0]["steps"][0]["answer"]
    # The 270M judge's verdict may go either way; it must be a verdict, with a score.
    assert judged["type"] == "llm_judge" and judged["score"] in (1, 2, 3, 4, 5)


def test_a_thumbs_down_becomes_a_case_in_the_app_file(
    server: LiveServer, tmp_path: Path, repo: Path
) -> None:
    app_file = repo / "support.yaml"
    assert run_homeport(server, tmp_path, "apply", "-f", str(app_file)).returncode == 0
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers) as api:
        session = api.post("/api/v1/sessions", json={"model": "app/support"}).json()
        turn = api.post(
            f"/api/v1/sessions/{session['id']}/messages",
            json={"content": "Where is my parcel?", "stream": False},
        ).json()
        rated = api.put(
            f"/api/v1/sessions/{session['id']}/messages/{turn['assistant_message']['id']}/feedback",
            json={"rating": "down", "comment": "It should offer the tracking link."},
        )
        assert rated.status_code == 200, rated.text

    printed = run_homeport(server, tmp_path, "eval", "from-feedback", "support")
    added = run_homeport(server, tmp_path, "eval", "from-feedback", "support", "-f", str(app_file))
    again = run_homeport(server, tmp_path, "eval", "from-feedback", "support", "-f", str(app_file))

    assert printed.returncode == 0 and "Where is my parcel?" in printed.stdout
    assert "added 1 case(s)" in added.stdout and "added 0 case(s)" in again.stdout
    text = app_file.read_text()
    assert "# A support assistant with tests" in text  # the file's comments stay
    assert "It should offer the tracking link." in text
    checked = run_homeport(server, tmp_path, "apply", "-f", str(app_file), "--dry-run")
    assert checked.returncode == 0, checked.stderr


def test_calibration_prints_the_judges_agreement(
    server: LiveServer, tmp_path: Path, demo_model: FakeOpenAI
) -> None:
    items = calibration_set()
    # A judge right on every item but the first, which gets no verdict.
    demo_model.enqueue("not JSON")
    for item in items[1:]:
        demo_model.enqueue(json.dumps({"reason": "r", "score": 3, "pass": item.label}))

    done = run_homeport(server, tmp_path, "eval", "calibrate", "--judge-model", "demo/instructed")

    assert done.returncode == 0, done.stderr
    assert f"agreed on {len(items) - 1} of {len(items)} labelled answers" in done.stdout
    assert "Cohen's kappa 0.90; 1 without a verdict" in done.stdout


JOBS = {
    "openapi": "3.0.3",
    "info": {"title": "Jobs", "version": "1"},
    "paths": {
        "/jobs": {
            "get": {
                "operationId": "listJobs",
                "summary": "List open jobs",
                "parameters": [{"name": "location", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "jobs"}},
            }
        }
    },
}


@pytest.fixture
def jobs_api() -> Iterator[str]:
    async def jobs(request: web.Request) -> web.Response:
        found = [{"id": 7, "title": "Harbour Pilot", "location": "Bristol"}]
        where = request.query.get("location", "").casefold()
        return web.json_response([j for j in found if j["location"].casefold() == where])

    app = web.Application()
    app.router.add_get("/jobs", jobs)
    api = BackgroundServer(app).start()
    yield f"http://127.0.0.1:{api.port}"
    api.stop()


def test_recorded_responses_make_an_api_apps_eval_independent_of_the_api(
    server: LiveServer, tmp_path: Path, demo_model: FakeOpenAI, jobs_api: str
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    allowed = httpx.put(
        f"{server.url}/api/v1/settings",
        json={"outbound_allow": [jobs_api.removeprefix("http://")]},
        headers=admin,
    )
    assert allowed.status_code == 200, allowed.text
    app_file = tmp_path / "jobs.yaml"
    app_file.write_text(
        "# Jobs, answered from the HR API\n"
        "apiVersion: app.aispec.org/v1alpha1\nkind: AIApp\nmetadata: {name: jobs}\nspec:\n"
        "  assistants:\n    - model: demo/instructed\n      api_strategy: pipeline\n"
        f"      apis:\n        - name: jobs\n          url: {jobs_api}\n"
        f"          schema: '{json.dumps(JOBS)}'\n"
        "      tests:\n        - name: bristol\n          steps:\n"
        "            - prompt: Which jobs are open in Bristol?\n"
        "              assertions: [{contains: Harbour Pilot}]\n"
    )

    def answers() -> None:  # classify, extract, answer from the data
        demo_model.enqueue(
            json.dumps({"tool": "listJobs"}),
            json.dumps({"location": "Bristol"}),
            "Open in Bristol: Harbour Pilot.",
        )

    answers()
    recorded = run_homeport(server, tmp_path, "eval", "record", "-f", str(app_file))

    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert "bristol: 1 response(s) recorded" in recorded.stdout
    text = app_file.read_text()
    assert text.startswith("# Jobs, answered from the HR API")
    test = yaml.safe_load(text)["spec"]["assistants"][0]["tests"][0]
    assert test["api_responses"] == [
        {
            "operation": "listJobs",
            "api": "jobs",
            "when": {"location": "Bristol"},
            "body": [{"id": 7, "title": "Harbour Pilot", "location": "Bristol"}],
        }
    ]

    httpx.put(f"{server.url}/api/v1/settings", json={"outbound_allow": []}, headers=admin)
    answers()  # the API is out of reach now: the declared response answers
    offline = run_homeport(server, tmp_path, "eval", "-f", str(app_file), "-n", "1", "--json",
                           str(tmp_path / "run.json"))  # fmt: skip

    assert offline.returncode == 0, offline.stdout + offline.stderr
    step = json.loads((tmp_path / "run.json").read_text())["runs"][0]["results"][0]["steps"][0]
    assert step["api_calls"][0]["status"] == 200 and "Harbour Pilot" in step["answer"]
