"""vLLM: one `vllm serve` process per instance, spoken to through its OpenAI API.

The process listens on 127.0.0.1 on a free port, in its own process group (so its engine
workers go with it), behind a random API key. Its log is read line by line: logged at debug,
parsed for load progress and for the memory the weights took. Options (a Model's `options`):

    executable               the `vllm` command (default: `vllm` on PATH)
    args                     more `vllm serve` arguments, a list of strings
    gpu_memory_utilization   the fraction of each GPU vLLM preallocates (default: derived
                             from the model's memory_bytes and the GPUs' memory)
    tensor_parallel_size     GPUs one instance spans (`--tensor-parallel-size`)
    env                      environment variables for the process (CUDA_VISIBLE_DEVICES, ...)
    load_timeout             seconds to wait for /health (default 900)
    stop_timeout             seconds between SIGTERM and SIGKILL on unload (default 10)
    read_timeout             seconds a request may wait for its next bytes (default 600)
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import aiohttp

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    CompletionRequest,
    EmbeddingResult,
)
from homeport.domain.runners import GIB, Gpu, ModelSpec
from homeport.errors import ServiceUnavailable
from homeport.providers.base import ProviderSpec
from homeport.providers.http import create_http_session
from homeport.providers.openai_compat import OpenAICompatProvider
from homeport.runners.engines.base import (
    EngineBase,
    Progress,
    base_model_prompt,
    with_default_max_tokens,
)
from homeport.runners.hardware import detect_gpus

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_LOAD_TIMEOUT = 900.0
DEFAULT_STOP_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 600.0
VERSION_TIMEOUT = 20.0
HEALTH_INTERVAL = 0.2
LOG_TAIL_LINES = 30
MAX_UTILIZATION = 0.95
HEALTH_TIMEOUT = aiohttp.ClientTimeout(total=2)

_SHARDS = re.compile(r"Loading \w+ checkpoint shards:\s*(\d+)% Completed \| (\d+)/(\d+)")
_WEIGHTS = re.compile(r"(?:Model loading|Loading model weights) took ([\d.]+) ?(GiB|GB)")
_MILESTONES = (
    ("Starting to load model", "loading weights", 0.05),
    ("Available KV cache memory", "allocating the KV cache", 0.75),
    ("Capturing CUDA graph", "capturing CUDA graphs", 0.8),
    ("Application startup complete", "starting the API server", 0.95),
)


def version() -> str | None:
    executable = shutil.which("vllm")
    if executable is None:
        return None
    try:
        done = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("%s --version failed: %s", executable, exc)
        return None
    lines = done.stdout.strip().splitlines()
    return lines[-1].strip() if lines else None


def create(spec: ModelSpec) -> VllmEngine:
    return VllmEngine(spec)


# -- what to run ---------------------------------------------------------------------------


def executable(spec: ModelSpec) -> str:
    given = spec.options.get("executable")
    found = shutil.which(str(given)) if given else shutil.which("vllm")
    if found is None:
        raise ServiceUnavailable(
            f"cannot load '{spec.name}': the vllm command {given or 'vllm'!r} is not installed"
        )
    return found


def tensor_parallel_size(spec: ModelSpec) -> int:
    return max(1, int(spec.options.get("tensor_parallel_size") or 1))


def instance_gpus(spec: ModelSpec, gpus: Sequence[Gpu]) -> list[Gpu]:
    """The GPUs an instance runs on: those CUDA_VISIBLE_DEVICES in `env` names, else all."""
    env = spec.options.get("env") or {}
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        wanted = [name.strip() for name in str(visible).split(",") if name.strip()]
        gpus = [g for name in wanted for g in gpus if name in (str(g.index), g.uuid)]
    return list(gpus[: tensor_parallel_size(spec)])


def memory_utilization(spec: ModelSpec, gpus: Sequence[Gpu]) -> float | None:
    """The fraction of each GPU vLLM may take: from options, else from memory_bytes."""
    given = spec.options.get("gpu_memory_utilization")
    if given is not None:
        return float(given)
    if not spec.memory_bytes or not gpus:
        return None
    share = spec.memory_bytes / tensor_parallel_size(spec)
    fraction = math.ceil(1000 * share / min(g.memory_total for g in gpus)) / 1000
    if fraction > MAX_UTILIZATION:
        log.warning(
            "model '%s' declares more memory than its GPUs have; vLLM gets %.0f%% of each",
            spec.name,
            100 * MAX_UTILIZATION,
        )
    return min(fraction, MAX_UTILIZATION)


def serve_command(
    spec: ModelSpec, *, executable: str, port: int, utilization: float | None
) -> list[str]:
    if not spec.weights:
        raise ServiceUnavailable(f"cannot load '{spec.name}': vLLM needs `weights`")
    command = [executable, "serve", spec.weights, "--host", HOST, "--port", str(port)]
    command += ["--served-model-name", spec.name]
    if spec.context_length:
        command += ["--max-model-len", str(spec.context_length)]
    if utilization is not None:
        command += ["--gpu-memory-utilization", f"{utilization:.3f}"]
    if "tensor_parallel_size" in spec.options:
        command += ["--tensor-parallel-size", str(tensor_parallel_size(spec))]
    return command + [str(arg) for arg in spec.options.get("args") or []]


# -- reading its log -------------------------------------------------------------------------


def load_progress(line: str) -> tuple[str, float] | None:
    """What a vLLM log line says about loading: a message and a fraction, or None."""
    if shards := _SHARDS.search(line):
        percent, done, total = (int(group) for group in shards.groups())
        return f"loading weights: shard {done}/{total}", 0.1 + 0.6 * percent / 100
    if weights := _WEIGHTS.search(line):
        return f"weights loaded ({weights.group(1)} {weights.group(2)})", 0.7
    for marker, message, fraction in _MILESTONES:
        if marker in line:
            return message, fraction
    return None


def weights_bytes(line: str) -> int | None:
    """The memory one worker's weights took, from "Model loading took 14.99 GiB ..."."""
    found = _WEIGHTS.search(line)
    if found is None:
        return None
    unit = GIB if found.group(2) == "GiB" else 1000**3
    return int(float(found.group(1)) * unit)


async def log_lines(stream: asyncio.StreamReader) -> AsyncIterator[str]:
    """A process's output split at newlines and at the carriage returns of progress bars."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending = ""
    while chunk := await stream.read(65536):
        pending += decoder.decode(chunk)
        *lines, pending = re.split(r"\r\n|\r|\n", pending)
        for line in lines:
            if line.strip():
                yield line.rstrip()
    if pending.strip():
        yield pending.rstrip()


# -- the engine ------------------------------------------------------------------------------


class VllmEngine(EngineBase):
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self._options: dict[str, Any] = spec.options
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._progress: Progress | None = None
        self._given_bytes = 0
        self._weights_bytes = 0
        self._http: aiohttp.ClientSession | None = None
        self._api: OpenAICompatProvider | None = None
        self.url = ""

    @property
    def memory_bytes(self) -> int:
        """The most of: the declared memory, what vLLM was given, what its weights took."""
        weights = self._weights_bytes * tensor_parallel_size(self.spec)
        return max(self.spec.memory_bytes, self._given_bytes, weights)

    async def load(self, progress: Progress) -> None:
        progress(f"starting vLLM for {self.spec.name}", 0.0)
        api_key = secrets.token_urlsafe(24)
        command = await self._command()
        self._progress = progress
        self._http = http = self._session()
        try:
            await self._start(command, api_key=api_key)
            await self._wait_until_healthy(http)
        except BaseException:
            await self.unload()
            raise
        finally:
            self._progress = None
        self._api = self._client(http, api_key)
        progress(f"loaded {self.spec.name}", 1.0)

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        if self.spec.kind == "embedding":
            return super().chat_stream(request)
        if self.spec.kind == "base":
            prompt, params = base_model_prompt(self.spec, request)
            completion = CompletionRequest(model=self.spec.name, prompt=prompt, params=params)
            return _usage_on_last(self._require().complete_stream(self.spec.info(), completion))
        return _usage_on_last(self._require().chat_stream(self.spec.info(), request))

    def complete_stream(self, request: CompletionRequest) -> AsyncIterator[ChatDelta]:
        if self.spec.kind == "embedding":
            return super().complete_stream(request)
        capped = replace(request, params=with_default_max_tokens(request.params))
        return _usage_on_last(self._require().complete_stream(self.spec.info(), capped))

    async def embed(self, texts: list[str], *, input_type: str | None) -> EmbeddingResult:
        if self.spec.kind != "embedding":
            return await super().embed(texts, input_type=input_type)
        return await self._require().embed(self.spec.info(), texts, input_type=input_type)

    async def unload(self) -> None:
        self._api = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self._stop()

    # -- the process ---------------------------------------------------------------------

    async def _command(self) -> list[str]:
        command = executable(self.spec)
        gpus = instance_gpus(self.spec, await asyncio.to_thread(detect_gpus))
        utilization = memory_utilization(self.spec, gpus)
        if utilization is not None and gpus:
            each = int(utilization * min(g.memory_total for g in gpus))
            self._given_bytes = each * tensor_parallel_size(self.spec)
        port = _free_port()
        self.url = f"http://{HOST}:{port}"
        return serve_command(self.spec, executable=command, port=port, utilization=utilization)

    async def _start(self, command: list[str], *, api_key: str) -> None:
        env = {**os.environ, **_strings(self._options.get("env")), "VLLM_API_KEY": api_key}
        log.info("starting %s", " ".join(command))
        try:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        except OSError as exc:
            raise ServiceUnavailable(f"cannot start vLLM for '{self.spec.name}': {exc}") from exc
        assert self._process.stdout is not None
        self._reader = asyncio.create_task(self._read_log(self._process.stdout))

    async def _read_log(self, stream: asyncio.StreamReader) -> None:
        async for line in log_lines(stream):
            log.debug("vllm[%s] %s", self.spec.name, line)
            self._tail.append(line)
            self._weights_bytes = weights_bytes(line) or self._weights_bytes
            step = load_progress(line)
            if step is not None and self._progress is not None:
                self._progress(*step)

    async def _wait_until_healthy(self, http: aiohttp.ClientSession) -> None:
        assert self._process is not None
        timeout = float(self._options.get("load_timeout") or DEFAULT_LOAD_TIMEOUT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        exited = asyncio.create_task(self._process.wait())
        try:
            while not await self._healthy(http):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise self._load_failure(f"did not become ready in {timeout:g} s")
                await asyncio.wait({exited}, timeout=min(HEALTH_INTERVAL, remaining))
                if exited.done():
                    await self._drain_log()
                    raise self._load_failure(f"exited with code {exited.result()}")
        finally:
            exited.cancel()

    async def _healthy(self, http: aiohttp.ClientSession) -> bool:
        try:
            async with http.get(self.url + "/health", timeout=HEALTH_TIMEOUT) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    def _load_failure(self, what: str) -> ServiceUnavailable:
        tail = "\n".join(self._tail) or "(no output)"
        return ServiceUnavailable(f"vLLM for '{self.spec.name}' {what}; its last lines:\n{tail}")

    async def _drain_log(self) -> None:
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=2)

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            timeout = float(self._options.get("stop_timeout") or DEFAULT_STOP_TIMEOUT)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                log.warning("vLLM for '%s' ignored SIGTERM; killing it", self.spec.name)
        _signal_group(process.pid, signal.SIGKILL)
        await process.wait()
        await self._drain_log()
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        log.info("vLLM for '%s' stopped (exit code %s)", self.spec.name, process.returncode)

    # -- the API -------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        read_timeout = float(self._options.get("read_timeout") or DEFAULT_READ_TIMEOUT)
        return create_http_session(connect_timeout=10, read_timeout=read_timeout)

    def _client(self, http: aiohttp.ClientSession, api_key: str) -> OpenAICompatProvider:
        spec = ProviderSpec(
            name=f"vllm:{self.spec.name}",
            base_url=self.url + "/v1",
            api_key=api_key,
            models_allowed=None,
            options={},
        )
        return OpenAICompatProvider(spec, http=http)

    def _require(self) -> OpenAICompatProvider:
        if self._api is None:
            raise ServiceUnavailable(f"model '{self.spec.name}' is not loaded", retry_after=5)
        return self._api


async def _usage_on_last(stream: AsyncIterator[ChatDelta]) -> AsyncIterator[ChatDelta]:
    """vLLM sends usage after the finishing chunk; one last delta carries both."""
    final: ChatDelta | None = None
    try:
        async for delta in stream:
            if final is not None and delta.usage and not delta.content:
                final = replace(final, usage=delta.usage)
            elif delta.finish_reason is not None:
                final = delta
            else:
                yield delta
    finally:
        aclose: Callable[[], Awaitable[None]] | None = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    if final is not None:
        yield final


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _strings(value: Any) -> dict[str, str]:
    return {str(key): str(item) for key, item in dict(value or {}).items()}
