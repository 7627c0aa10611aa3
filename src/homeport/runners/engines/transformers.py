"""Hugging Face transformers: any model in HF format, on a CUDA GPU when there is one.

The fallback engine: slower than vLLM or llama.cpp, but it runs what `from_pretrained`
loads. torch and transformers are imported on first use (`pip install 'homeport[transformers]'`).
Options (a Model's `options`):

    device              "cuda", "cuda:1", "cpu", ... (default: cuda when available, else cpu)
    dtype               "bfloat16", "float16", "float32" (default: bfloat16 on GPUs, else float32)
    trust_remote_code   run the model repository's own Python code (default false)

Each instance does its torch work on one worker thread of its own: loading, embedding, and
`model.generate`, whose text comes back through an `AsyncTextIteratorStreamer`. (CUDA work
is many times slower in a thread's first generation than later on, so no thread is made per
request.) A consumer that stops reading stops the generation at the next token. One request
runs at a time per instance. Embedding models are mean-pooled and L2-normalised.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, TypeVar

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    CompletionRequest,
    EmbeddingResult,
    SamplingParams,
    Usage,
)
from homeport.domain.runners import ModelSpec
from homeport.errors import (
    ContextLengthExceeded,
    InvalidRequest,
    ServiceUnavailable,
    UnsupportedFeature,
    UpstreamError,
)
from homeport.runners.engines.base import (
    EngineBase,
    Progress,
    base_model_prompt,
    with_default_max_tokens,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_CONTEXT_LENGTH = 2048
LOAD_ERRORS = (ImportError, OSError, ValueError, RuntimeError, KeyError, TypeError)


def version() -> str | None:
    """transformers' version when it and torch are installed (found without importing them:
    importing torch takes seconds)."""
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        return package_version("transformers")
    except PackageNotFoundError:
        return None


def create(spec: ModelSpec) -> TransformersEngine:
    return TransformersEngine(spec)


class TransformersEngine(EngineBase):
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self._options: dict[str, Any] = spec.options
        self._model: Any = None
        self._tokenizer: Any = None
        self._device = "cpu"
        self._memory = 0
        self._lock = asyncio.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._running: _Generation | None = None

    @property
    def memory_bytes(self) -> int:
        return self._memory

    async def load(self, progress: Progress) -> None:
        if not self.spec.weights:
            raise ServiceUnavailable(
                f"cannot load '{self.spec.name}': transformers needs `weights`"
            )
        try:
            await self._load(self.spec.weights, progress)
        except LOAD_ERRORS as exc:
            await self.unload()
            raise ServiceUnavailable(
                f"cannot load '{self.spec.name}' with transformers: {exc}"
            ) from exc

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        if self.spec.kind == "embedding":
            return super().chat_stream(request)
        if request.tools:
            raise UnsupportedFeature(
                f"model '{self.spec.name}' (transformers engine) does not call tools",
                param="tools",
            )
        template = getattr(self._tokenizer, "chat_template", None)
        if self.spec.kind == "chat" and template:
            return self._generate(self._chat_prompt(request), request.params, templated=True)
        prompt, params = base_model_prompt(self.spec, request)
        return self._generate(prompt, params, templated=False)

    def complete_stream(self, request: CompletionRequest) -> AsyncIterator[ChatDelta]:
        if self.spec.kind == "embedding":
            return super().complete_stream(request)
        params = with_default_max_tokens(request.params)
        return self._generate(request.prompt, params, templated=False)

    async def embed(self, texts: list[str], *, input_type: str | None) -> EmbeddingResult:
        if self.spec.kind != "embedding":
            return await super().embed(texts, input_type=input_type)
        model, tokenizer = self._require()
        embed = partial(_embed, model, tokenizer, device=self._device, limit=self._context_length())
        async with self._lock:
            vectors, tokens = await self._on_worker(embed, texts)
        return EmbeddingResult(vectors, Usage(prompt_tokens=tokens))

    async def unload(self) -> None:
        if self._running is not None:
            self._running.cancel.set()
        self._model = self._tokenizer = None
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        gc.collect()
        if self._device.startswith("cuda"):
            await asyncio.to_thread(_torch().cuda.empty_cache)

    # -- loading -------------------------------------------------------------------------

    async def _load(self, source: str, progress: Progress) -> None:
        trust = bool(self._options.get("trust_remote_code"))
        progress(f"loading the tokenizer of {self.spec.name}", 0.0)
        self._tokenizer = await self._on_worker(partial(_load_tokenizer, trust=trust), source)
        self._device = str(self._options.get("device") or await self._on_worker(_best_device))
        on_gpu = self._device.startswith("cuda")
        dtype = str(self._options.get("dtype") or ("bfloat16" if on_gpu else "float32"))
        progress(f"loading the weights of {self.spec.name} in {dtype}", 0.2)
        embedding = self.spec.kind == "embedding"
        load = partial(_load_weights, dtype=dtype, embedding=embedding, trust=trust)
        model = await self._on_worker(load, source)
        progress(f"moving {self.spec.name} to {self._device}", 0.7)
        self._memory = await self._on_worker(_to_device, model, self._device)
        self._model = model
        progress(f"loaded {self.spec.name} on {self._device}", 1.0)

    def _worker(self) -> ThreadPoolExecutor:
        """The instance's one thread for torch: loading, generating and embedding run on it."""
        if self._executor is None:
            name = f"homeport-transformers-{self.spec.name}"
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        return self._executor

    async def _on_worker(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker(), function, *args)

    def _require(self) -> tuple[Any, Any]:
        if self._model is None or self._tokenizer is None:
            raise ServiceUnavailable(f"model '{self.spec.name}' is not loaded", retry_after=5)
        return self._model, self._tokenizer

    def _context_length(self) -> int:
        config = getattr(self._model, "config", None)
        known = getattr(config, "max_position_embeddings", None)
        return int(self.spec.context_length or known or DEFAULT_CONTEXT_LENGTH)

    # -- generating ----------------------------------------------------------------------

    def _chat_prompt(self, request: ChatRequest) -> str:
        from jinja2 import TemplateError

        messages = [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text}
            for m in request.messages
        ]
        try:
            prompt = self._tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except TemplateError as exc:
            raise InvalidRequest(
                f"model '{self.spec.name}' cannot read this conversation: {exc}", param="messages"
            ) from exc
        return str(prompt)

    async def _generate(
        self, prompt: str, params: SamplingParams, *, templated: bool
    ) -> AsyncIterator[ChatDelta]:
        model, tokenizer = self._require()
        async with self._lock:
            inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=not templated)
            run = _Generation(model, tokenizer, inputs.to(self._device))
            room = self._context_length() - run.prompt_tokens
            if room <= 0:
                raise ContextLengthExceeded(
                    f"the prompt has {run.prompt_tokens} tokens; "
                    f"model '{self.spec.name}' reads at most {self._context_length()}"
                )
            limit = min(params.max_tokens or room, room)
            self._running = run
            run.start(self._worker(), limit=limit, sampling=_sampling(params), seed=params.seed)
            try:
                async for delta in _stream(run, params.stop, limit=limit):
                    yield delta
            finally:
                await run.stop()
                self._running = None


class _Generation:
    """One `model.generate` on the engine's worker thread: its text, token count and stop switch."""

    def __init__(self, model: Any, tokenizer: Any, inputs: Any):
        from transformers import AsyncTextIteratorStreamer, StoppingCriteriaList

        self._model = model
        self._inputs = inputs
        pad = tokenizer.pad_token_id
        self._pad = tokenizer.eos_token_id if pad is None else pad
        self.prompt_tokens = int(inputs["input_ids"].shape[-1])
        self.generated = 0
        self.cancel = threading.Event()
        self.error: Exception | None = None
        self.streamer = AsyncTextIteratorStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        self._criteria = StoppingCriteriaList([self])
        self._kwargs: dict[str, Any] = {}
        self._done: asyncio.Future[None] | None = None

    def start(
        self, worker: Executor, *, limit: int, sampling: dict[str, Any], seed: int | None
    ) -> None:
        self._kwargs = {**sampling, "max_new_tokens": limit, "pad_token_id": self._pad}
        if seed is not None:
            _torch().manual_seed(seed)
        self._done = asyncio.get_running_loop().run_in_executor(worker, self._run)

    async def stop(self) -> None:
        self.cancel.set()
        if self._done is not None:
            await self._done

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        """A stopping criterion: counts tokens and stops once `cancel` is set."""
        self.generated = int(input_ids.shape[-1]) - self.prompt_tokens
        torch = _torch()
        return torch.full((input_ids.shape[0],), self.cancel.is_set(), device=input_ids.device)

    def _run(self) -> None:
        try:
            with _torch().inference_mode():
                self._model.generate(
                    **self._inputs,
                    **self._kwargs,
                    streamer=self.streamer,
                    stopping_criteria=self._criteria,
                )
        except Exception as exc:  # raised again in the consumer, see _stream
            self.error = exc
            self.streamer.end()


async def _stream(
    run: _Generation, stops: Sequence[str], *, limit: int
) -> AsyncIterator[ChatDelta]:
    cutter = _StopCutter(stops)
    async for text in run.streamer:
        if piece := cutter.feed(text):
            yield ChatDelta(content=piece)
        if cutter.stopped:
            break
    await run.stop()
    if run.error is not None:
        raise UpstreamError(f"generation failed: {run.error}") from run.error
    if rest := cutter.flush():
        yield ChatDelta(content=rest)
    finish = "length" if run.generated >= limit and not cutter.stopped else "stop"
    usage = Usage(prompt_tokens=run.prompt_tokens, completion_tokens=run.generated)
    yield ChatDelta(finish_reason=finish, usage=usage)


class _StopCutter:
    """Cuts streamed text at the first stop string, holding back what may begin one."""

    def __init__(self, stops: Sequence[str]):
        self._stops = [stop for stop in stops if stop]
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        self._pending += text
        found = [at for stop in self._stops if (at := self._pending.find(stop)) >= 0]
        if found:
            self.stopped = True
            out, self._pending = self._pending[: min(found)], ""
            return out
        cut = len(self._pending) - _stop_prefix_length(self._pending, self._stops)
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return out

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return out


def _stop_prefix_length(text: str, stops: Sequence[str]) -> int:
    """How much of the end of `text` could be the start of a stop string."""
    ends = (n for stop in stops for n in range(1, len(stop)) if text.endswith(stop[:n]))
    return max(ends, default=0)


def _sampling(params: SamplingParams) -> dict[str, Any]:
    """Greedy at temperature 0; the model's own defaults where the request says nothing."""
    if params.temperature is not None and params.temperature <= 0:
        return {"do_sample": False}
    sampling: dict[str, Any] = {}
    if params.temperature is not None:
        sampling |= {"do_sample": True, "temperature": params.temperature}
    if params.top_p is not None:
        sampling |= {"do_sample": True, "top_p": params.top_p}
    return sampling


# -- on worker threads -------------------------------------------------------------------------


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ServiceUnavailable(
            "the transformers engine is not installed: pip install 'homeport[transformers]'"
        ) from exc
    return torch


def _best_device() -> str:
    return "cuda" if _torch().cuda.is_available() else "cpu"


def _load_tokenizer(source: str, *, trust: bool) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_weights(source: str, *, dtype: str, embedding: bool, trust: bool) -> Any:
    import transformers

    torch_dtype = getattr(_torch(), dtype, None)
    if not isinstance(torch_dtype, _torch().dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    loader = transformers.AutoModel if embedding else transformers.AutoModelForCausalLM
    # transformers 4.56 renamed `torch_dtype` to `dtype`.
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    keyword = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    model = loader.from_pretrained(source, trust_remote_code=trust, **{keyword: torch_dtype})
    return model.eval()


def _to_device(model: Any, device: str) -> int:
    """Move the model to its device; what it takes there, in bytes."""
    torch = _torch()
    on_gpu = device.startswith("cuda")
    before = torch.cuda.memory_allocated(device) if on_gpu else 0
    model.to(device)
    used = int(torch.cuda.memory_allocated(device) - before) if on_gpu else 0
    tensors = [*model.parameters(), *model.buffers()]
    return max(used, sum(int(t.numel() * t.element_size()) for t in tensors))


def _embed(
    model: Any, tokenizer: Any, texts: list[str], *, device: str, limit: int
) -> tuple[list[list[float]], int]:
    """Mean-pooled, L2-normalised last hidden states, and the number of tokens read."""
    torch = _torch()
    batch = tokenizer(
        texts, padding=True, truncation=True, max_length=limit, return_tensors="pt"
    ).to(device)
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    vectors = torch.nn.functional.normalize(pooled.float(), p=2, dim=-1)
    return vectors.cpu().tolist(), int(batch["attention_mask"].sum())
