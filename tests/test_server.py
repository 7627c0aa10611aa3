"""The server as an operator sees it: health, readiness, metrics, logs, shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from homeport.testing import FakeOpenAI, Reply
from tests.conftest import ADMIN_KEY, free_port

pytestmark = pytest.mark.anyio


async def test_health_and_readiness_need_no_key(client: httpx.AsyncClient) -> None:
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://homeport")
    health = await anonymous.get("/healthz")
    assert health.json()["status"] == "ok"
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_metrics_count_requests_and_tokens_per_model(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    await client.post("/api/v1/providers", json={"name": "up", "base_url": fake_openai.base_url})  # type: ignore[attr-defined]
    fake_openai.enqueue("one two three")
    body = {"model": "up/fake-chat", "messages": [{"role": "user", "content": "count to three"}]}
    assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
    text = (await client.get("/metrics")).text
    assert 'homeport_tokens_total{kind="completion",model="fake-chat",provider="up"} 3.0' in text
    labels = 'model="fake-chat",operation="chat",outcome="ok",provider="up"'
    assert f"homeport_inference_requests_total{{{labels}}} 1.0" in text
    assert 'route="/v1/chat/completions",status="200"' in text


def _serve(tmp_path: Path, port: int, **env: str) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "HOMEPORT_DATA_DIR": str(tmp_path / "data"),
        "HOMEPORT_PORT": str(port),
        "HOMEPORT_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "HOMEPORT_EMBEDDED_MODEL": "false",
        "HOMEPORT_OLLAMA_AUTODETECT": "false",
        "HOMEPORT_LOG_FORMAT": "json",
        "HOMEPORT_DEMO_APPS": "false",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "homeport", "serve"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not become ready")


@pytest.mark.slow
def test_shutdown_finishes_streams_in_flight_and_logs_json(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    port = free_port()
    process = _serve(tmp_path, port, HOMEPORT_OPENAI_BASE_URL=fake_openai.base_url)  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        fake_openai.enqueue(Reply(text=" ".join(f"w{i}" for i in range(30)), token_delay=0.05))
        body = {
            "model": "openai/fake-chat",
            "messages": [{"role": "user", "content": "go"}],
            "stream": True,
        }
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.stream(
            "POST", url + "/v1/chat/completions", json=body, headers=headers
        ) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data:")
            process.send_signal(signal.SIGTERM)
            rest = list(lines)
        assert "data: [DONE]" in rest
        text = "".join(
            c["choices"][0]["delta"].get("content", "")
            for line in rest
            if line.startswith("data: {")
            for c in [json.loads(line[6:])]
            if c.get("choices")
        )
        assert text.endswith("w29")
        # uvicorn re-raises the signal once shutdown is done, so supervisors see SIGTERM.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stdout is not None
    with process.stdout:
        output = process.stdout.read()
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(r.get("route") == "/v1/chat/completions" and r.get("status") == 200 for r in records)
    assert ADMIN_KEY not in output
