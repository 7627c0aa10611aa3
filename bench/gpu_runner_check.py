"""GPU check: a runner on a GPU machine, its GPUs through NVML, and generation with the
transformers engine on a randomly initialised Llama-style model, in tokens per second.

Everything is real and in one command: this process runs the control plane (SQLite in a
temporary directory, the API on loopback), starts `homeport runner --engine transformers`
as a subprocess that dials in over the WebSocket, applies a catalogue model, and streams
`/v1/completions` through the scheduler and the runner. For comparison it also loads the
same weights with the transformers engine in this process and generates directly.

The model is random (no weights can be downloaded), sized to be small but not trivial
(about 0.2 B parameters, bfloat16), with no end-of-sequence token so that each generation
runs to `max_tokens`. A token is a generated token as the engine counts it.

    python bench/gpu_runner_check.py [--tokens 256] [--runs 3] [--json out.json]

`--cpu` runs the same steps on the CPU with a 2-layer model, to try the script where there
is no GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from homeport.api.app import create_app
from homeport.domain.chat import CompletionRequest, SamplingParams
from homeport.domain.runners import GIB, ModelSpec, format_memory
from homeport.runners.engines.base import create_engine
from homeport.runners.hardware import detect
from homeport.services.container import Services, build_services
from homeport.settings import Settings
from homeport.testing.tiny_model import write_tiny_model

API_KEY = "hp-gpu-check-0123456789abcdef0123456789"
MODEL = "random-llama"
PROMPT = "The history of the Roman Empire begins"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_random_model(path: Path, *, layers: int, seed: int = 0) -> Path:
    """A random Llama (hidden 1024) with the tiny model's tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    write_tiny_model(path, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=layers,
        num_attention_heads=16,
        num_key_value_heads=8,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.generation_config.eos_token_id = None
    model.save_pretrained(path, safe_serialization=True)
    return path


DEVICE = {"device": "cuda", "dtype": "bfloat16"}


def spec(weights: Path) -> ModelSpec:
    return ModelSpec(
        name=MODEL,
        engine="transformers",
        weights=str(weights),
        kind="base",
        context_length=4096,
        memory_bytes=4 * GIB,
        options=dict(DEVICE),
    )


async def until(check: Any, what: str, seconds: float = 300.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


async def through_runner(
    services: Services, url: str, weights: Path, tokens: int, runs: int
) -> dict[str, Any]:
    admin = await services.users.authenticate(API_KEY)
    await services.runners.put_model(admin, spec(weights))
    body = {
        "model": f"local/{MODEL}",
        "prompt": PROMPT,
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as http:
        started = time.perf_counter()
        first = await _stream(http, body)  # loads the model on the runner
        cold = time.perf_counter() - started
        samples = [await _stream(http, body) for _ in range(runs)]
    instance = next(iter(services.scheduler.instances(MODEL)))
    return {
        "cold_start_s": round(cold, 2),
        "first_run": first,
        "runs": samples,
        "instance_memory": format_memory(instance.memory_bytes),
    }


async def _stream(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, float]:
    started = time.perf_counter()
    first = last = 0.0
    generated = 0
    async with http.stream("POST", "/v1/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0].get("text"):
                last = time.perf_counter() - started
                first = first or last
            if chunk.get("usage"):
                generated = chunk["usage"]["completion_tokens"]
    return _rates(generated, first, last)


def _rates(tokens: int, first: float, last: float) -> dict[str, float]:
    """Tokens per second from the request to the last text: the streamer holds text back
    until a word ends, so first-to-last text says little for a model that writes noise."""
    return {
        "tokens": tokens,
        "first_text_s": round(first, 3),
        "total_s": round(last, 3),
        "tokens_per_s": round(tokens / last if last else 0.0, 1),
    }


async def direct(weights: Path, tokens: int, runs: int) -> list[dict[str, float]]:
    """The same engine and weights in this process, no runner, no HTTP."""
    engine = create_engine(spec(weights))
    await engine.load(lambda message, fraction: None)
    request = CompletionRequest(MODEL, PROMPT, SamplingParams(max_tokens=tokens, temperature=0))
    samples = []
    try:
        for _ in range(runs + 1):
            started = time.perf_counter()
            first = last = 0.0
            generated = 0
            async for delta in engine.complete_stream(request):
                if delta.content:
                    last = time.perf_counter() - started
                    first = first or last
                if delta.usage:
                    generated = delta.usage.completion_tokens
            samples.append(_rates(generated, first, last))
    finally:
        await engine.unload()
    return samples[1:]


async def check(tokens: int, runs: int, workdir: Path, *, cpu: bool) -> dict[str, Any]:
    hardware = detect()
    if not hardware.gpus and not cpu:
        raise SystemExit("no GPU found through NVML (use --cpu to try the script without one)")
    if cpu:
        DEVICE.update(device="cpu", dtype="float32")
    weights = write_random_model(workdir / "model", layers=2 if cpu else 16)
    port = free_port()
    settings = Settings(
        data_dir=workdir / "data",
        port=port,
        embedded_model=False,
        demo_apps=False,
        embedder=False,
        local_runner=False,
        ollama_autodetect=False,
        bootstrap_api_key=API_KEY,
        access_log=False,
        log_level="WARNING",
    )
    async with build_services(settings) as services:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, services=services),
                host="127.0.0.1",
                port=port,
                log_config=None,
            )
        )
        serving = asyncio.create_task(server.serve())
        await until(lambda: server.started, "the control plane")
        admin = await services.users.authenticate(API_KEY)
        _, token = await services.runners.create_token(admin, "gpu")
        environment = {
            **os.environ,
            "HOMEPORT_RUNNER_CONTROL_PLANE": f"http://127.0.0.1:{port}",
            "HOMEPORT_RUNNER_TOKEN": token,
            "HOMEPORT_RUNNER_ENGINES": "transformers",
        }
        runner = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homeport", "runner", env=environment
        )
        try:
            await until(
                lambda: "gpu" in {r.name for r in services.scheduler.runners.values()},
                "the runner to connect",
            )
            registered = next(iter(services.scheduler.runners.values()))
            remote = await through_runner(
                services, f"http://127.0.0.1:{port}", weights, tokens, runs
            )
            gpus_after = next(iter(services.scheduler.runners.values())).hardware.gpus
        finally:
            runner.terminate()
            await runner.wait()
            server.should_exit = True
            await serving
    local = await direct(weights, tokens, runs)
    return {
        "gpus": [
            {
                "name": g.name,
                "memory_total": format_memory(g.memory_total),
                "memory_used_at_register": format_memory(g.memory_used),
            }
            for g in registered.hardware.gpus
        ],
        "gpu_memory_used_after_load": [format_memory(g.memory_used) for g in gpus_after],
        "runner": {"engines": registered.engines, "capacity": format_memory(registered.capacity)},
        "through_runner": remote,
        "direct": local,
    }


def report(results: dict[str, Any]) -> None:
    print(json.dumps(results, indent=2))
    remote = statistics.median(r["tokens_per_s"] for r in results["through_runner"]["runs"])
    local = statistics.median(r["tokens_per_s"] for r in results["direct"])
    gpus = ", ".join(g["name"] + " " + g["memory_total"] for g in results["gpus"]) or "none"
    print(f"GPUs (NVML): {gpus}")
    print(
        f"generation through the runner: {remote:.1f} tokens/s; direct: {local:.1f} tokens/s; "
        f"ratio {remote / local:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cpu", action="store_true", help="run on the CPU, small model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(check(args.tokens, args.runs, Path(tmp), cpu=args.cpu))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
