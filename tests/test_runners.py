"""Runners and the scheduler with real runner processes on loopback and the fake engine:
placement, eviction, pinning, queueing, failover and reconnection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from homeport.testing.proxy import ForwardProxy
from tests.conftest import ADMIN_KEY, LiveServer, free_port, make_settings
from tests.runner_support import (
    GIB,
    RunnerProcess,
    admin,
    chat,
    decisions,
    instances,
    put_model,
    wait_for,
)

pytestmark = pytest.mark.slow


def start_server(tmp_path: Path, port: int | None = None, **overrides: Any) -> LiveServer:
    values: dict[str, Any] = {
        "port": port or free_port(),
        "runner_heartbeat_seconds": 0.5,
        "runner_missed_heartbeats": 3,
        "scheduler_queue_timeout": 5.0,
        **overrides,
    }
    return LiveServer(make_settings(tmp_path, **values)).start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path)
    yield live
    live.stop()


@pytest.fixture
def runners(server: LiveServer, tmp_path: Path) -> Iterator[list[RunnerProcess]]:
    started = [RunnerProcess(server, name, tmp_path).start() for name in ("ra", "rb", "rc")]
    yield started
    for runner in started:
        runner.stop()


def stream_in_thread(
    server: LiveServer, model: str, events: list[str], first_token: threading.Event
) -> threading.Thread:
    """Stream a chat answer, recording each SSE line; set `first_token` at the first one."""

    def run() -> None:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "tell me a long story"}],
            "stream": True,
        }
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.stream(
            "POST", server.url + "/v1/chat/completions", json=body, headers=headers, timeout=60
        ) as response:
            events.append(f"status {response.status_code}")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(line[6:])
                    first_token.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_runner_reports_its_hardware_and_engines(
    server: LiveServer, runners: list[RunnerProcess]
) -> None:
    info = runners[0].info()
    assert info is not None
    assert info["capacity"] == 10 * GIB
    assert info["engines"] == {"fake": "1.0"}
    assert info["cpu_count"] >= 1 and info["memory_total"] > 0 and info["hostname"]
    assert info["gpus"] == []  # no GPU on this machine; NVML reports none
    with admin(server) as http:
        listed = {r["name"] for r in http.get("/api/v1/runners").json()}
        tokens = {t["name"]: t for t in http.get("/api/v1/runner-tokens").json()}
    assert {"ra", "rb", "rc", "local"} <= listed
    assert tokens["ra"]["connected"] and tokens["ra"]["token"] is None


def test_the_scripted_scenario(server: LiveServer, runners: list[RunnerProcess]) -> None:
    """Load models, fill memory, a new model evicts the least recently used idle instance, a
    runner dies mid-stream, requests move elsewhere, the runner comes back."""
    for name in ("m1", "m2", "m3", "m4"):
        put_model(server, name, memory="8Gi", options={"token_delay": 0.05})

    # Three models spread over three runners (spread: the most free memory wins).
    placed = {}
    for name in ("m1", "m2", "m3"):
        answer = chat(server, f"local/{name}", f"question for {name}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == f"echo: question for {name}"
        placed[name] = instances(server, name)[0]["runner"]
    assert sorted(placed.values()) == ["ra", "rb", "rc"]

    # Memory is full; m4 evicts the least recently used idle instance: m1's.
    chat(server, "local/m2")
    chat(server, "local/m3")
    answer = chat(server, "local/m4")
    assert answer.status_code == 200, answer.text
    assert instances(server, "m1") == []
    assert instances(server, "m4")[0]["runner"] == placed["m1"]
    evictions = [d for d in decisions(server) if d["action"] == "evict"]
    assert evictions[0]["model"] == "m1" and "m4" in evictions[0]["detail"]

    # Never oversubscribed.
    with admin(server) as http:
        for runner in http.get("/api/v1/runners").json():
            assert runner["used"] <= runner["capacity"], runner

    # The runner serving m2 dies mid-stream: the stream ends with an error, no hang.
    victim = next(r for r in runners if r.name == placed["m2"])
    put_model(server, "m2", memory="8Gi", options={"token_delay": 0.05, "tokens": 400})
    events: list[str] = []
    first = threading.Event()
    thread = stream_in_thread(server, "local/m2", events, first)
    assert first.wait(20), events
    victim.kill()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the stream hung after its runner died"
    assert events[0] == "status 200"
    assert any('"error"' in e and "disconnected" in e for e in events), events[-3:]
    wait_for(lambda: victim.info() is None, what="the dead runner to be dropped")

    # The next request for m2 is placed on a runner still alive (evicting an idle instance).
    answer = chat(server, "local/m2")
    assert answer.status_code == 200, answer.text
    assert instances(server, "m2")[0]["runner"] != victim.name

    # The runner comes back with the same token, and is used again.
    victim.start()
    assert victim.info()["instances"] == []  # type: ignore[index]
    answer = chat(server, "local/m1")
    assert answer.status_code == 200, answer.text
    assert instances(server, "m1")[0]["runner"] == victim.name


def test_binpack_fills_one_runner_before_the_next(tmp_path: Path) -> None:
    server = start_server(tmp_path, scheduler_strategy="binpack")
    started = [RunnerProcess(server, n, tmp_path).start() for n in ("big", "small")]
    started[1].stop()
    started[1] = RunnerProcess(server, "tiny", tmp_path, memory="6Gi").start()
    try:
        for name in ("p1", "p2"):
            put_model(server, name, memory="3Gi")
            assert chat(server, f"local/{name}").status_code == 200
        # Tightest fit: both on the 6Gi runner, leaving the 10Gi one empty.
        assert {i["runner"] for i in instances(server)} - {"local"} == {"tiny"}
    finally:
        for runner in started:
            runner.stop()
        server.stop()


def test_a_pinned_model_stays_warm_and_is_never_evicted(server: LiveServer, tmp_path: Path) -> None:
    only = RunnerProcess(server, "solo", tmp_path, memory="10Gi").start()
    try:
        put_model(server, "pinned", memory="6Gi", min_instances=1)
        wait_for(
            lambda: [i for i in instances(server, "pinned") if i["state"] == "ready"],
            what="the pinned model to load without a request",
        )
        put_model(server, "other", memory="6Gi")
        refused = chat(server, "local/other")
        assert refused.status_code == 503, refused.text
        assert "busy with other models" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"]
        assert instances(server, "pinned")[0]["state"] == "ready"

        # Unpinned, it is evictable like any idle instance.
        with admin(server) as http:
            pinned = http.post("/api/v1/models/pinned/pin", json={"min_instances": 0})
            assert pinned.status_code == 200 and pinned.json()["min_instances"] == 0
        assert chat(server, "local/other").status_code == 200
        assert instances(server, "pinned") == []
    finally:
        only.stop()


def test_a_busy_model_queues_and_times_out_with_retry_after(tmp_path: Path) -> None:
    server = start_server(tmp_path, scheduler_queue_timeout=1.0, scheduler_queue_limit=1)
    only = RunnerProcess(server, "solo", tmp_path).start()
    try:
        put_model(server, "slow", options={"token_delay": 0.5, "tokens": 8}, concurrency=1)
        assert chat(server, "local/slow", "warm up", max_tokens=1).status_code == 200
        results: dict[str, httpx.Response] = {}

        def call(label: str) -> None:
            results[label] = chat(server, "local/slow", label)

        threads = [threading.Thread(target=call, args=(label,)) for label in ("a", "b", "c")]
        for thread in threads:
            thread.start()
            time.sleep(0.1)
        for thread in threads:
            thread.join(timeout=30)
        statuses = sorted(r.status_code for r in results.values())
        # One is served; one waits in the queue (limit 1) and times out; one finds it full.
        assert statuses == [200, 503, 503], {k: r.text for k, r in results.items()}
        messages = " ".join(
            r.json()["error"]["message"] for r in results.values() if r.status_code == 503
        )
        assert "queue is full" in messages and "did not become available" in messages
        assert all(r.headers.get("retry-after") for r in results.values() if r.status_code == 503)
    finally:
        only.stop()
        server.stop()


def test_a_request_not_yet_streaming_is_retried_on_another_runner(
    server: LiveServer, tmp_path: Path
) -> None:
    first = RunnerProcess(server, "first", tmp_path).start()
    put_model(server, "late", options={"token_delay": 1.5, "tokens": 2})
    assert chat(server, "local/late", max_tokens=1).status_code == 200
    assert instances(server, "late")[0]["runner"] == "first"
    second = RunnerProcess(server, "second", tmp_path).start()
    try:
        result: dict[str, httpx.Response] = {}
        thread = threading.Thread(target=lambda: result.update(r=chat(server, "local/late")))
        thread.start()
        wait_for(lambda: instances(server, "late")[0]["active"] == 1, what="the request to start")
        first.kill()  # before its first token (1.5 s away)
        thread.join(timeout=40)
        answer = result["r"]
        assert answer.status_code == 200, answer.text
        assert instances(server, "late")[0]["runner"] == "second"
        assert any(d["action"] == "retry" for d in decisions(server, model="late"))
    finally:
        second.stop()


def test_a_silent_runner_is_dropped_after_missed_heartbeats(
    server: LiveServer, tmp_path: Path
) -> None:
    quiet = RunnerProcess(server, "quiet", tmp_path).start()
    try:
        quiet.pause()  # the connection stays open, but nothing comes through it
        wait_for(lambda: quiet.info() is None, timeout=15, what="the silent runner to be dropped")
        drops = [d for d in decisions(server) if d["action"] == "drop" and d["runner"] == "quiet"]
        assert "no heartbeat" in drops[0]["detail"]
        quiet.resume()
        quiet.wait_connected()  # it notices, reconnects, and registers again
    finally:
        quiet.stop()


def test_a_restarted_control_plane_learns_its_runners_and_their_instances_again(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = start_server(tmp_path, port=port)
    runner = RunnerProcess(server, "steady", tmp_path).start()
    try:
        put_model(server, "kept", options={"load_seconds": 1.0})
        assert chat(server, "local/kept").status_code == 200
        loaded = instances(server, "kept")[0]
        server.stop()
        server = start_server(tmp_path, port=port)
        runner.wait_connected()
        again = wait_for(lambda: instances(server, "kept"), what="the instance to be re-learned")
        assert again[0]["id"] == loaded["id"] and again[0]["state"] == "ready"
        assert chat(server, "local/kept").status_code == 200
        assert not [d for d in decisions(server, model="kept") if d["action"] == "load"]
    finally:
        runner.stop()
        server.stop()


def test_runner_tokens_are_for_runners_only(server: LiveServer, tmp_path: Path) -> None:
    runner = RunnerProcess(server, "tok", tmp_path).start()
    try:
        # A runner token cannot call the user API.
        refused = httpx.get(
            server.url + "/v1/models", headers={"Authorization": f"Bearer {runner.token}"}
        )
        assert refused.status_code == 401
        # A user's key cannot connect as a runner.
        impostor = RunnerProcess(server, "impostor", tmp_path, token=ADMIN_KEY).start(wait=False)
        assert impostor.process is not None and impostor.process.wait(timeout=30) == 1
        assert "refused the runner token" in impostor.output()
        # Revoking the token disconnects the runner, and it cannot come back.
        with admin(server) as http:
            assert http.delete("/api/v1/runner-tokens/tok").status_code == 204
        assert runner.process is not None and runner.process.wait(timeout=30) == 1
        assert runner.info() is None
        # The name may be given a new token; the old one stays dead.
        with admin(server) as http:
            again = http.post("/api/v1/runner-tokens", json={"name": "tok"})
            assert again.status_code == 201, again.text
            assert again.json()["token"] != runner.token
            twice = http.post("/api/v1/runner-tokens", json={"name": "tok"})
            assert twice.status_code == 409
    finally:
        runner.stop()


def test_a_model_that_fails_to_load_reports_why(server: LiveServer, tmp_path: Path) -> None:
    runner = RunnerProcess(server, "flaky", tmp_path).start()
    try:
        put_model(server, "broken", options={"fail_load": "weights are corrupt"})
        answer = chat(server, "local/broken")
        assert answer.status_code == 503, answer.text
        assert "weights are corrupt" in answer.json()["error"]["message"]
        assert any(d["action"] == "load_failed" for d in decisions(server, model="broken"))
    finally:
        runner.stop()


def test_admins_prewarm_and_unload_instances(server: LiveServer, tmp_path: Path) -> None:
    runner = RunnerProcess(server, "ops", tmp_path).start()
    try:
        put_model(server, "warmable", options={"load_seconds": 0.4})
        with admin(server) as http:
            # The model's id under /v1 names it as well as its catalogue name.
            warmed = http.post(
                "/api/v1/instances", json={"model": "local/warmable", "runner": "ops"}
            )
            assert warmed.status_code == 202, warmed.text
            assert warmed.json()["state"] == "loading"
            instance = warmed.json()["id"]
            wait_for(lambda: instances(server, "warmable")[0]["state"] == "ready", what="load")
            assert http.delete(f"/api/v1/instances/{instance}").status_code == 204
            assert instances(server, "warmable") == []
            missing = http.delete(f"/api/v1/instances/{instance}")
            assert missing.status_code == 404
            assert http.get("/api/v1/models/warmable").json()["id"] == "local/warmable"
    finally:
        runner.stop()


@pytest.mark.integration
def test_the_real_llama_cpp_engine_through_a_runner_process(
    server: LiveServer, tmp_path: Path
) -> None:
    runner = RunnerProcess(server, "cpu-box", tmp_path, memory="2Gi", engines=("llama_cpp",))
    runner.start()
    try:
        assert "llama_cpp" in runner.info()["engines"]  # type: ignore[index]
        put_model(
            server,
            "gemma-remote",
            engine="llama_cpp",
            type="base",
            memory="600Mi",
            context_length=2048,
            runners=["cpu-box"],  # not the co-located runner, which has llama.cpp too
            options={"threads": 2},
        )
        answer = chat(server, "local/gemma-remote", "What is the capital of France?")
        assert answer.status_code == 200, answer.text
        assert "Paris" in answer.json()["choices"][0]["message"]["content"]
        (instance,) = instances(server, "gemma-remote")
        assert instance["runner"] == "cpu-box" and instance["memory_bytes"] >= 600 * 1024**2
    finally:
        runner.stop()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_a_runner_dials_out_over_tls_through_an_http_proxy(tmp_path: Path) -> None:
    """A runner behind a proxy: wss:// to an https control plane, tunnelled with CONNECT."""
    tls = self_signed_certificate(tmp_path)
    settings = make_settings(tmp_path, port=free_port(), runner_heartbeat_seconds=0.5)
    server = LiveServer(settings, tls=tls).start()
    proxy = ForwardProxy().start()
    environment = {"HTTPS_PROXY": proxy.url, "NO_PROXY": "", "SSL_CERT_FILE": str(tls[0])}
    runner = RunnerProcess(server, "behind-nat", tmp_path, env=environment)
    try:
        runner.start()
        assert proxy.targets == [f"CONNECT 127.0.0.1:{settings.port}"]
        assert "through http://127.0.0.1" in runner.output()
        put_model(server, "tunnelled", runners=["behind-nat"])
        answer = chat(server, "local/tunnelled", "through the tunnel")
        assert answer.json()["choices"][0]["message"]["content"] == "echo: through the tunnel"
    finally:
        runner.stop()
        proxy.stop()
        server.stop()


def test_a_runner_refuses_a_control_plane_it_cannot_verify(tmp_path: Path) -> None:
    tls = self_signed_certificate(tmp_path)
    server = LiveServer(make_settings(tmp_path, port=free_port()), tls=tls).start()
    runner = RunnerProcess(server, "careful", tmp_path, env={"SSL_CERT_FILE": "/nonexistent"})
    try:
        runner.start(wait=False)
        wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in runner.output(), what="a TLS refusal")
        assert runner.info() is None
    finally:
        runner.stop()
        server.stop()
