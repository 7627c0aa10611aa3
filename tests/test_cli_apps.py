"""Apps as code from the command line: apply files (and the examples), typos with their
line, dry-run diffs, history and rollback, and apps answering through the OpenAI SDK."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from homeport.testing import FakeOpenAI
from tests.conftest import (
    ADMIN_KEY,
    LiveServer,
    free_port,
    live_server,
    make_settings,
    run_homeport,
)
from tests.test_tools import HR, SERVICE_TOKEN, USER_TOKENS, Api

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parent.parent / "examples" / "apps"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(models=["fake-chat"])
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, upstream: FakeOpenAI) -> Iterator[LiveServer]:
    live = live_server(
        tmp_path_factory.mktemp("apps"),
        openai_base_url=upstream.base_url,  # type: ignore[attr-defined]
    )
    yield live
    live.stop()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_example_applies_and_applying_again_changes_nothing(
    server: LiveServer, tmp_path: Path
) -> None:
    ok(run_homeport(server, tmp_path, "secret", "set", "HR_API_TOKEN", "--value", "t0ken"))
    first = ok(run_homeport(server, tmp_path, "apply", "-f", str(EXAMPLES)))
    assert "aiapp/marvin created (v1)" in first
    assert "aiapp/brekka-guide created (v1)" in first and "aiapp/hr-jobs created (v1)" in first
    again = ok(run_homeport(server, tmp_path, "apply", "-f", str(EXAMPLES)))
    assert again.count("unchanged") == 3, again
    listed = ok(run_homeport(server, tmp_path, "app", "list"))
    assert "app/marvin" in listed and "Brekka tour guide" in listed
    # The guide's knowledge file was read from beside its YAML and indexed.
    assert "brekka-guide-brekka" in ok(run_homeport(server, tmp_path, "knowledge", "list"))
    # Secrets stay placeholders in what the server shows.
    inspected = ok(run_homeport(server, tmp_path, "app", "inspect", "hr-jobs"))
    assert "${HR_API_TOKEN}" in inspected and "t0ken" not in inspected


def test_a_typo_is_refused_with_its_line_and_the_key_it_meant(
    server: LiveServer, tmp_path: Path
) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(
        "apiVersion: app.aispec.org/v1alpha1\nkind: AIApp\nmetadata:\n  name: typo\n"
        "spec:\n  assistants:\n    - system_promt: hi\n      temprature: 2\n"
    )
    result = run_homeport(server, tmp_path, "apply", "-f", str(path))
    assert result.returncode != 0
    assert (
        f"{path}:7:7: assistants[0].system_promt: unknown key; did you mean 'system_prompt'?"
        in (result.stderr)
    ), result.stderr
    assert "8:7: assistants[0].temprature" in result.stderr  # every problem, at once
    assert "typo" not in ok(run_homeport(server, tmp_path, "app", "list"))


def test_dry_run_history_diff_rollback_and_round_trip(server: LiveServer, tmp_path: Path) -> None:
    app = tmp_path / "deep.yaml"
    shutil.copy(EXAMPLES / "marvin.yaml", app)
    text = app.read_text().replace("name: marvin\n", "name: deep-thought\n", 1)
    app.write_text(text)
    ok(run_homeport(server, tmp_path, "apply", "-f", str(app)))
    app.write_text(text.replace("temperature: 0.7", "temperature: 0.2"))
    dry = ok(run_homeport(server, tmp_path, "apply", "-f", str(app), "--dry-run"))
    assert (
        "updated (dry run)" in dry
        and "-    temperature: 0.7" in dry
        and "+    temperature: 0.2" in dry
    )
    ok(run_homeport(server, tmp_path, "apply", "-f", str(app), "--version-label", "cooler"))
    history = ok(run_homeport(server, tmp_path, "app", "history", "deep-thought"))
    assert "* v2" in history and "cooler" in history
    diff = ok(run_homeport(server, tmp_path, "app", "diff", "deep-thought", "1", "2"))
    assert "+    temperature: 0.2" in diff
    rolled = ok(run_homeport(server, tmp_path, "app", "rollback", "deep-thought", "--to", "1"))
    assert "now v3" in rolled
    printed = tmp_path / "printed.yaml"
    printed.write_text(ok(run_homeport(server, tmp_path, "app", "inspect", "deep-thought")))
    assert "unchanged" in ok(run_homeport(server, tmp_path, "apply", "-f", str(printed)))
    schema = ok(run_homeport(server, tmp_path, "app", "schema"))
    assert '"system_prompt"' in schema


def test_an_app_answers_through_the_openai_sdk_with_its_prompt(
    server: LiveServer, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    ok(run_homeport(server, tmp_path, "apply", "-f", str(EXAMPLES / "marvin.yaml")))
    upstream.enqueue("I think you ought to know I'm feeling very depressed.")
    sdk = openai.OpenAI(base_url=server.url + "/v1", api_key=ADMIN_KEY, max_retries=0)
    answer = sdk.chat.completions.create(
        model="app/marvin", messages=[{"role": "user", "content": "How are you?"}]
    )
    assert answer.model.startswith("app/marvin@")
    assert "depressed" in (answer.choices[0].message.content or "")
    system = upstream.requests[-1].json["messages"][0]
    assert system["role"] == "system" and "Paranoid Android" in system["content"]


@pytest.mark.integration
def test_marvin_answers_with_the_embedded_model(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, port=free_port(), embedded_model=True)
    server = LiveServer(settings).start()
    try:
        ok(run_homeport(server, tmp_path, "apply", "-f", str(EXAMPLES / "marvin.yaml")))
        history = ok(run_homeport(server, tmp_path, "app", "history", "marvin"))
        assert "v1" in history
        sdk = openai.OpenAI(base_url=server.url + "/v1", api_key=ADMIN_KEY, max_retries=0)
        answer = sdk.chat.completions.create(
            model="app/marvin",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=40,
            temperature=0,
        )
        assert answer.choices[0].message.content
        extension = (answer.model_extra or {})["homeport"]
        assert extension["app"] == "marvin" and extension["model"] == "local/gemma-3-270m"
    finally:
        server.stop()


def test_an_app_in_the_flat_helix_form_applies_from_stdin(
    server: LiveServer, tmp_path: Path
) -> None:
    flat = "name: Echo\nassistants:\n  - system_prompt: Repeat the question.\n"
    result = run_homeport(server, tmp_path, "apply", "-f", "-", stdin=flat)
    assert ok(result) == "aiapp/echo created (v1)\n"
    assert "app/echo" in ok(run_homeport(server, tmp_path, "app", "list"))


def test_the_hr_example_calls_its_api_once_an_admin_allows_the_host(
    server: LiveServer, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    hr = Api(HR.create_app(SERVICE_TOKEN, user_tokens=USER_TOKENS))
    try:
        folder = tmp_path / "apps"
        shutil.copytree(EXAMPLES, folder)
        app_file = folder / "hr-jobs.yaml"
        text = app_file.read_text().replace("http://127.0.0.1:8081", hr.url)
        app_file.write_text(
            text.replace(
                "    - name: jobs\n",
                "    - name: jobs\n      model: openai/fake-chat\n      api_strategy: pipeline\n",
                1,
            )
        )
        ok(
            run_homeport(
                server, tmp_path, "secret", "set", "HR_API_TOKEN", "--value", SERVICE_TOKEN
            )
        )
        ok(run_homeport(server, tmp_path, "apply", "-f", str(app_file)))
        question = "What vacancies are open in Bristol?"

        upstream.enqueue('{"tool": "listJobs"}')
        upstream.enqueue('{"location": "Bristol"}')
        upstream.enqueue("Sorry, I could not reach the HR system.")
        ok(run_homeport(server, tmp_path, "chat", "-m", "app/hr-jobs", question))
        assert hr.received == []  # 127.0.0.1 is private: refused until an admin allows it

        host = hr.url.removeprefix("http://")
        assert host in ok(run_homeport(server, tmp_path, "settings", "outbound-allow", "add", host))
        upstream.enqueue('{"tool": "listJobs"}')
        upstream.enqueue('{"location": "Bristol"}')
        upstream.enqueue("A data engineer and a freight sales manager.")
        answer = ok(run_homeport(server, tmp_path, "chat", "-m", "app/hr-jobs", question))
        assert "data engineer" in answer
        assert hr.received == [("GET", "/jobs?location=Bristol", f"Bearer {SERVICE_TOKEN}")]

        calls = ok(run_homeport(server, tmp_path, "app", "calls", "hr-jobs"))
        assert "jobs.listJobs" in calls and "200" in calls and "not allowed" in calls
        ok(run_homeport(server, tmp_path, "settings", "outbound-allow", "remove", host))
    finally:
        hr.server.stop()
