"""What Homeport adds in front of an OpenAI-compatible upstream: latency and throughput.

One run starts the mock upstream (bench/mock_upstream.py) and Homeport (pointed at it as the
provider `openai`, access log, embedded model, embedder and Ollama detection off) as
subprocesses, checks that both answer correctly, then drives them with `wrk`:

- scenarios: chat completions non-streamed and streamed (SSE), at one connection
  (`wrk -t1 -c1`) and at 32 (`wrk -t2 -c32`);
- each scenario is run against the mock directly and through Homeport, interleaved
  (direct, gateway, direct, gateway, ...) `--runs` times; the table shows the median of each
  figure over the runs.

Targets: Homeport adds at most 2 ms at p50 and 10 ms at p99 at one connection, and serves at
least half of the upstream's requests per second at 32 connections. Everything shares the
machine's cores (wrk, the mock and Homeport); the figures are ratios measured side by side.

At one connection the Lua script times every request itself (see LUA_TEMPLATE); the CPU
time Homeport spends per request is read from /proc and reported too.

    python bench/gateway.py [--duration 3] [--runs 3] [--upstream-delay-ms 10]
                            [--json results.json] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
API_KEY = "hp-bench-key-0123456789abcdef0123456789"
MOCK_MODEL = "gpt-mock"
CONTENT_CHUNKS = 20  # what bench/mock_upstream.py streams
TARGET_ADDED_P50_MS = 2.0
TARGET_ADDED_P99_MS = 10.0
TARGET_THROUGHPUT_RATIO = 0.5
WRK_MARK = "WRK_JSON "

# wrk "corrects" its latency histogram for coordinated omission before reporting it: every
# request slower than the mean cycle adds synthetic samples. With a 20-microsecond cycle a
# single 2 ms hiccup adds a hundred samples, so its p99 says little about a fast upstream.
# At one connection the script therefore times each request itself (LuaJIT's ffi and
# CLOCK_MONOTONIC) and reports plain percentiles; with several connections per thread
# requests cannot be paired with responses, and wrk's own (corrected) figures are used.
LUA_TEMPLATE = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(auth)s
wrk.body = [[%(body)s]]
local timed = %(timed)s

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } hp_timespec;
int clock_gettime(int clk_id, hp_timespec *tp);
]]
local ts = ffi.new("hp_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local req, started = nil, 0
hist = {}

function init(args) req = wrk.format() end

if timed then
  function request() started = now_us(); return req end
  function response(status, headers, body)
    local us = math.floor(now_us() - started + 0.5)
    hist[us] = (hist[us] or 0) + 1
  end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

local function merged()
  local counts, keys, n, sum = {}, {}, 0, 0
  for _, t in ipairs(threads) do
    for us, c in pairs(t:get("hist")) do counts[us] = (counts[us] or 0) + c end
  end
  for us, c in pairs(counts) do table.insert(keys, us); n = n + c; sum = sum + us * c end
  table.sort(keys)
  local function percentile(p)
    local rank, seen = math.ceil(p / 100 * n), 0
    for _, us in ipairs(keys) do
      seen = seen + counts[us]
      if seen >= rank then return us end
    end
    return 0
  end
  return n, percentile, keys[#keys] or 0, n > 0 and sum / n or 0
end

function done(summary, latency, requests)
  local e = summary.errors
  local source, pct, max, mean = "wrk-corrected", function(p) return latency:percentile(p) end,
    latency.max, latency.mean
  if timed then
    local n
    n, pct, max, mean = merged()
    source = "per-request"
  end
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"errors":%%d,"non_2xx":%%d,' ..
    '"p50_us":%%.0f,"p90_us":%%.0f,"p99_us":%%.0f,"max_us":%%.0f,"mean_us":%%.1f,' ..
    '"latency_source":"%%s"}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    pct(50), pct(90), pct(99), max, mean, source))
end
"""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    stream: bool
    threads: int
    connections: int


SCENARIOS = (
    Scenario("non-stream c1", stream=False, threads=1, connections=1),
    Scenario("non-stream c32", stream=False, threads=2, connections=32),
    Scenario("stream c1", stream=True, threads=1, connections=1),
    Scenario("stream c32", stream=True, threads=2, connections=32),
)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a load goes: the mock itself, or Homeport in front of it."""

    name: str
    base_url: str
    model: str
    api_key: str | None = None
    pid: int | None = None  # the server process, whose CPU time is measured

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/v1/chat/completions"

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


@dataclass(frozen=True, slots=True)
class WrkRun:
    requests: int
    duration_us: int
    errors: int
    non_2xx: int
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    mean_us: float
    latency_source: str
    server_cpu_us: float | None = None  # CPU time of the server under test, per request

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6)


@dataclass(slots=True)
class Figures:
    """The runs of one scenario against one target, and their medians."""

    runs: list[WrkRun] = field(default_factory=list)

    def median(self, pick: Callable[[WrkRun], float]) -> float:
        return statistics.median(pick(run) for run in self.runs)

    @property
    def p50_ms(self) -> float:
        return self.median(lambda r: r.p50_us) / 1000

    @property
    def p99_ms(self) -> float:
        return self.median(lambda r: r.p99_us) / 1000

    @property
    def rps(self) -> float:
        return self.median(lambda r: r.rps)

    @property
    def cpu_us(self) -> float | None:
        if any(r.server_cpu_us is None for r in self.runs):
            return None
        return self.median(lambda r: r.server_cpu_us or 0.0)

    def summary(self) -> dict[str, Any]:
        return {
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "rps": round(self.rps, 1),
            "server_cpu_us_per_request": None if self.cpu_us is None else round(self.cpu_us, 1),
            "requests": sum(r.requests for r in self.runs),
            "errors": sum(r.errors + r.non_2xx for r in self.runs),
            "runs": [{**asdict(r), "rps": round(r.rps, 1)} for r in self.runs],
        }


# -- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def subprocess_running(
    name: str, command: list[str], *, env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` in its own process group; always stop it (TERM, then KILL)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop_process(name, process)


def stop_process(name: str, process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
            process.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop on {sig.name}", file=sys.stderr)


def mock_command(port: int, delay_ms: float) -> list[str]:
    script = str(HERE / "mock_upstream.py")
    return [sys.executable, script, "--port", str(port), "--delay-ms", f"{delay_ms:g}"]


def homeport_env(*, port: int, mock_port: int, data_dir: Path) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("HOMEPORT_")}
    return {
        **inherited,
        "HOMEPORT_HOST": "127.0.0.1",
        "HOMEPORT_PORT": str(port),
        "HOMEPORT_DATA_DIR": str(data_dir),
        "HOMEPORT_BOOTSTRAP_API_KEY": API_KEY,
        "HOMEPORT_OPENAI_BASE_URL": f"http://127.0.0.1:{mock_port}/v1",
        "HOMEPORT_OPENAI_API_KEY": "mock-key",
        "HOMEPORT_ACCESS_LOG": "false",
        "HOMEPORT_DEMO_APPS": "false",
        "HOMEPORT_EMBEDDED_MODEL": "false",
        "HOMEPORT_EMBEDDER": "false",
        "HOMEPORT_OLLAMA_AUTODETECT": "false",
        "HOMEPORT_LOG_LEVEL": "WARNING",
    }


# -- readiness and correctness ----------------------------------------------------------


def http_json(url: str, *, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def wait_until(
    what: str, ready: Callable[[], bool], *, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if ready():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} was not ready within 60 s:\n{log.read_text()[-3000:]}")


def serves_model(target: Target) -> bool:
    models = http_json(f"{target.base_url}/v1/models", headers=target.headers())
    return any(m.get("id") == target.model for m in models.get("data", []))


def homeport_ready(target: Target) -> bool:
    return bool(http_json(f"{target.base_url}/readyz").get("ready")) and serves_model(target)


def request_body(model: str, *, stream: bool) -> str:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 32,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, separators=(",", ":"))


def check_answers(target: Target) -> None:
    """One real request of each kind, so a benchmark never measures fast failures."""
    for stream in (False, True):
        data = request_body(target.model, stream=stream).encode()
        request = urllib.request.Request(target.chat_url, data=data, headers=target.headers())
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
        if stream:
            check_stream(target.name, text)
        elif "Hello from the mock upstream." not in text:
            raise SystemExit(f"{target.name}: unexpected chat answer: {text[:500]}")


def check_stream(name: str, text: str) -> None:
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    contents = [
        c["choices"][0]["delta"].get("content")
        for c in map(json.loads, events[:-1])
        if c.get("choices")
    ]
    if events[-1:] != ["[DONE]"] or sum(1 for c in contents if c) != CONTENT_CHUNKS:
        raise SystemExit(f"{name}: unexpected stream: {text[:500]}")


# -- load -------------------------------------------------------------------------------


def lua_script(target: Target, scenario: Scenario, *, directory: Path) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {target.api_key}"' if target.api_key else ""
    values = {
        "auth": auth,
        "body": request_body(target.model, stream=scenario.stream),
        "timed": "true" if scenario.connections == scenario.threads else "false",
        "mark": WRK_MARK,
    }
    path = directory / f"{target.name}-{scenario.name.replace(' ', '-')}.lua"
    path.write_text(LUA_TEMPLATE % values)
    return path


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(target: Target, script: Path, scenario: Scenario, *, seconds: float) -> WrkRun:
    """One wrk run, plus the CPU time the target's server spent per request."""
    cpu_before = cpu_seconds(target.pid)
    run = wrk(target.chat_url, script, scenario, seconds=seconds)
    cpu_after = cpu_seconds(target.pid)
    if cpu_before is None or cpu_after is None or not run.requests:
        return run
    return replace(run, server_cpu_us=(cpu_after - cpu_before) / run.requests * 1e6)


def wrk(url: str, script: Path, scenario: Scenario, *, seconds: float) -> WrkRun:
    command = [
        "wrk",
        f"-t{scenario.threads}",
        f"-c{scenario.connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in result.stdout.splitlines():
        if line.startswith(WRK_MARK):
            return WrkRun(**json.loads(line[len(WRK_MARK) :]))
    raise SystemExit(f"wrk printed no figures:\n{result.stdout}\n{result.stderr}")


def measure(
    targets: list[Target], *, seconds: float, runs: int, scripts: Path
) -> dict[str, dict[str, Figures]]:
    """Every scenario, the targets interleaved run by run."""
    figures = {s.name: {t.name: Figures() for t in targets} for s in SCENARIOS}
    for scenario in SCENARIOS:
        paths = {t.name: lua_script(t, scenario, directory=scripts) for t in targets}
        for run in range(runs):
            for target in targets:
                result = run_wrk(target, paths[target.name], scenario, seconds=seconds)
                figures[scenario.name][target.name].runs.append(result)
                print(
                    f"  {scenario.name:<15} run {run + 1}/{runs} {target.name:<8} "
                    f"p50 {result.p50_us / 1000:6.2f} ms  p99 {result.p99_us / 1000:6.2f} ms  "
                    f"{result.rps:8.0f} req/s  errors {result.errors + result.non_2xx}",
                    flush=True,
                )
    return figures


def warm_up(targets: list[Target], *, scripts: Path) -> None:
    for target in targets:
        for scenario in (s for s in SCENARIOS if s.connections > 1):
            script = lua_script(target, scenario, directory=scripts)
            run_wrk(target, script, scenario, seconds=1)


# -- report -----------------------------------------------------------------------------


def verdict(scenario: Scenario, direct: Figures, gateway: Figures) -> dict[str, Any]:
    added_p50 = gateway.p50_ms - direct.p50_ms
    added_p99 = gateway.p99_ms - direct.p99_ms
    ratio = gateway.rps / direct.rps
    row: dict[str, Any] = {
        "scenario": scenario.name,
        "stream": scenario.stream,
        "wrk": f"-t{scenario.threads} -c{scenario.connections}",
        "direct": direct.summary(),
        "gateway": gateway.summary(),
        "added_p50_ms": round(added_p50, 3),
        "added_p99_ms": round(added_p99, 3),
        "throughput_ratio": round(ratio, 3),
    }
    if scenario.connections == 1:
        row["target"] = (
            f"added p50 <= {TARGET_ADDED_P50_MS:g} ms, p99 <= {TARGET_ADDED_P99_MS:g} ms"
        )
        row["met"] = added_p50 <= TARGET_ADDED_P50_MS and added_p99 <= TARGET_ADDED_P99_MS
    else:
        row["target"] = f"gateway req/s >= {TARGET_THROUGHPUT_RATIO:.0%} of direct"
        row["met"] = ratio >= TARGET_THROUGHPUT_RATIO
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'scenario':<15} {'direct p50/p99':>15} {'gateway p50/p99':>16} "
        f"{'added p50/p99':>15} {'direct rps':>10} {'gateway rps':>11} {'ratio':>6} "
        f"{'gw CPU/req':>10}  target"
    )
    print("\n" + header + "\n" + "-" * (len(header) + 40))
    for row in rows:
        d, g = row["direct"], row["gateway"]
        cpu = g["server_cpu_us_per_request"]
        print(
            f"{row['scenario']:<15} {d['p50_ms']:6.2f}/{d['p99_ms']:<8.2f} "
            f"{g['p50_ms']:7.2f}/{g['p99_ms']:<8.2f} "
            f"{row['added_p50_ms']:6.2f}/{row['added_p99_ms']:<8.2f} "
            f"{d['rps']:10.0f} {g['rps']:11.0f} {row['throughput_ratio']:6.0%} "
            f"{'-' if cpu is None else f'{cpu:.0f} us':>10}  "
            f"{row['target']}: {'MET' if row['met'] else 'MISSED'}"
        )
    print(
        "(latencies in ms, each figure the median of the runs; at c1 every request is timed, "
        "at c32 they are wrk's coordinated-omission-corrected percentiles; gw CPU/req is "
        "Homeport's CPU time per request)"
    )


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def report(
    figures: dict[str, dict[str, Figures]], *, args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows = [verdict(s, figures[s.name]["direct"], figures[s.name]["gateway"]) for s in SCENARIOS]
    print_table(rows)
    if args.json:
        result = {
            "benchmark": "gateway",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "settings": {
                "duration_s": args.duration,
                "runs": args.runs,
                "upstream_delay_ms": args.upstream_delay_ms,
            },
            "scenarios": rows,
        }
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"results written to {args.json}")
    return rows


# -- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario and target")
    parser.add_argument("--json", help="write the results as JSON to this path")
    parser.add_argument(
        "--upstream-delay-ms",
        type=float,
        default=10.0,
        help="make the mock answer this much later, like a real upstream (default 10; "
        "0 makes an instant mock that only measures CPU per request)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    return parser.parse_args()


def start_everything(stack: ExitStack, workdir: Path, *, delay_ms: float) -> list[Target]:
    """The mock and Homeport, both answering correctly; returns the two targets."""
    mock_port, port = free_port(), free_port()
    direct = Target("direct", f"http://127.0.0.1:{mock_port}", MOCK_MODEL)
    gateway = Target("gateway", f"http://127.0.0.1:{port}", f"openai/{MOCK_MODEL}", API_KEY)
    mock_log, homeport_log = workdir / "mock.log", workdir / "homeport.log"
    mock = stack.enter_context(
        subprocess_running(
            "mock", mock_command(mock_port, delay_ms), env=dict(os.environ), log_path=mock_log
        )
    )
    wait_until("the mock upstream", lambda: serves_model(direct), process=mock, log=mock_log)
    env = homeport_env(port=port, mock_port=mock_port, data_dir=workdir / "data")
    command = [sys.executable, "-m", "homeport", "serve"]
    homeport = stack.enter_context(
        subprocess_running("homeport", command, env=env, log_path=homeport_log)
    )
    wait_until("Homeport", lambda: homeport_ready(gateway), process=homeport, log=homeport_log)
    for target in (direct, gateway):
        check_answers(target)
    return [replace(direct, pid=mock.pid), replace(gateway, pid=homeport.pid)]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu), "
            "or run `make bench-gateway`, which installs it.",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    started = time.monotonic()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-bench-")))
        targets = start_everything(stack, workdir, delay_ms=args.upstream_delay_ms)
        print(f"mock and Homeport ready; {args.runs} runs x {args.duration:g} s per scenario")
        warm_up(targets, scripts=workdir)
        figures = measure(targets, seconds=args.duration, runs=args.runs, scripts=workdir)
    rows = report(figures, args=args)
    print(f"done in {time.monotonic() - started:.0f} s")
    return 1 if args.strict and not all(row["met"] for row in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; subprocesses stopped", file=sys.stderr)
        sys.exit(130)
