"""A small layer over the Anthropic Messages API (the `anthropic` SDK) that never pays twice.

    key = claude.api_key()                 # ANTHROPIC_API_KEY only; MissingKeyError (one line) if unset
    client = claude.make_client(key, max_retries=6, timeout_s=300)
    cache = claude.Cache(Path("data/claude_cache"))
    requests = [claude.Request(model="claude-sonnet-4-5", max_tokens=512, system="...",
                               messages=[{"role": "user", "content": "..."}])]
    result = claude.run(client, requests, cache, concurrency=4)
    for req in requests:
        if req.key in result.answers:
            text = claude.reply_text(result.answers[req.key])
    usage = claude.Usage.of(result.answers.values())     # tokens of every answer, cached or not
    usage.cost_usd(claude.Prices(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30))

- Retries are the SDK's own: `max_retries` and `timeout` go to anthropic.Anthropic, which retries 408,
  409, 429 (waiting what retry-after / retry-after-ms says), 5xx, timeouts and connection errors with
  exponential backoff. There is no retry loop here.
- The cache is one JSON file per request, named by the sha256 of (model, system, messages, max_tokens
  and any other request params): what decides the answer, and nothing else (not the key, retries,
  timeout or concurrency). Each file is written atomically (temp file + rename) as soon as its answer
  arrives, so a crash, Ctrl-C or kill -9 leaves only whole answers, and the next run sends only the
  requests without one. A request that failed is never cached.
- The key is read from ANTHROPIC_API_KEY only and passed to the SDK explicitly (so the SDK consults
  no other credential source). `api_key()` registers it with a redaction guard: every log record,
  uncaught traceback, cache file and message made by `describe()` has it replaced by [REDACTED].
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import threading
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from ftlab.io import NO_SPACE, write_text

ENV_KEY = "ANTHROPIC_API_KEY"
REDACTED = "[REDACTED]"


class ClaudeError(Exception):
    """A problem with the API or the cache, as one line that never contains the key."""


class MissingKeyError(ClaudeError):
    pass


# ---------------------------------------------------------------------------------------------------
# The key and the redaction guard

_SECRETS: list[str] = []


def redact(text: str) -> str:
    """`text` with every registered secret replaced by [REDACTED]."""
    for secret in _SECRETS:
        text = text.replace(secret, REDACTED)
    return text


def protect(secret: str) -> None:
    """Register `secret` with the guard: from now on it is redacted from log records (any logger,
    the SDK's and httpx2's included) and from uncaught tracebacks, and by redact()."""
    # Very short values would redact ordinary text; a real key is ~100 characters.
    if len(secret) < 8 or secret in _SECRETS:
        return
    if not _SECRETS:
        _install_guards()
    _SECRETS.append(secret)


def _install_guards() -> None:
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args, **kwargs):
        record = make_record(*args, **kwargs)
        # Render the message now, redacted, so no handler or formatter ever sees the raw arguments;
        # the traceback text is rendered too (formatters reuse a set exc_text).
        try:
            record.msg, record.args = redact(record.getMessage()), None
        except Exception:  # a malformed call: logging reports it when a handler formats the record
            record.msg = redact(str(record.msg))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    logging.setLogRecordFactory(redacting_record)
    previous_hook = sys.excepthook

    def redacting_hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt) or isinstance(value, OSError) and value.errno in NO_SPACE:
            return previous_hook(kind, value, tb)  # Ctrl-C as usual; disk full: ftlab.io's one line
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))

    sys.excepthook = redacting_hook


def api_key() -> str:
    """The key from ANTHROPIC_API_KEY (the only source), registered with the redaction guard."""
    key = os.environ.get(ENV_KEY, "").strip()
    if not key:
        raise MissingKeyError(f"{ENV_KEY} is not set: export your Anthropic API key "
                              "(it is read from this variable only)")
    protect(key)
    return key


def make_client(key: str, *, max_retries: int, timeout_s: float, base_url: Optional[str] = None):
    """An anthropic.Anthropic client with the SDK's own retries and timeout. `base_url` None means the
    SDK's default, which honours ANTHROPIC_BASE_URL (a proxy, or a local fake server in tests)."""
    import anthropic  # here, not at the top: the template backend never needs the SDK

    protect(key)
    return anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=max_retries, timeout=timeout_s)


def describe(error: BaseException) -> str:
    """One redacted line for an exception the SDK raised (or any other)."""
    import anthropic

    if isinstance(error, anthropic.APIStatusError):
        kind = f" {error.type}" if error.type else ""
        text = f"HTTP {error.status_code}{kind}: {error.api_message or error.message}"
    elif isinstance(error, anthropic.APITimeoutError):
        text = "request timed out (after the SDK's retries)"
    elif isinstance(error, anthropic.APIConnectionError):
        cause = f": {error.__cause__}" if error.__cause__ else ""
        text = f"connection error (after the SDK's retries){cause}"
    elif isinstance(error, ClaudeError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    return redact(" ".join(text.split()))


# ---------------------------------------------------------------------------------------------------
# Requests and the cache


@dataclass
class Request:
    """One Messages API call. `params` holds any other keyword of messages.create (e.g.
    stop_sequences); together with model, system, messages and max_tokens it makes the cache key."""

    model: str
    messages: list[dict]
    max_tokens: int
    system: Optional[str] = None
    params: dict = field(default_factory=dict)

    def body(self) -> dict:
        """The keywords for client.messages.create, which are also what the cache key hashes."""
        body = {"model": self.model, "max_tokens": self.max_tokens, "messages": self.messages, **self.params}
        if self.system is not None:
            body["system"] = self.system
        return body

    @property
    def key(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Cache:
    """One JSON file per answered request: ROOT/<sha256>.json = {"key", "request", "response"}."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # Temp files of writes that a kill -9 interrupted: never read, so safe to remove.
        for stale in self.root.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str) -> Optional[dict]:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            # Writes are atomic, so this file was changed by hand: say so rather than pay again silently.
            raise ClaudeError(f"{path}: not a valid cache file; delete it to send that request again") from None
        if not isinstance(record, dict) or record.get("key") != key or "response" not in record:
            raise ClaudeError(f"{path}: not a cache file of this request; delete it to send that request again")
        if not _well_formed(record["response"]):
            raise ClaudeError(f"{path}: its response is damaged (content must be a list of blocks, usage numbers); "
                              "delete it to send that request again")
        return record

    def put(self, key: str, record: dict) -> None:
        write_text(self.path(key), redact(json.dumps(record, ensure_ascii=False, indent=1)) + "\n")

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*.json"))


def _well_formed(response) -> bool:
    """What reply_text, stop_reason and Usage read from a cached response, each of the type they read it as."""
    if not isinstance(response, dict):
        return False
    content, usage = response.get("content", []), response.get("usage") or {}
    return (isinstance(content, list) and all(isinstance(b, dict) and isinstance(b.get("text", ""), str) for b in content)
            and isinstance(usage, dict) and all(v is None or (isinstance(v, int) and not isinstance(v, bool))
                                                for k, v in usage.items() if k in USAGE_COUNTS)
            and isinstance(response.get("stop_reason"), (str, type(None))))


def reply_text(record: dict) -> str:
    """The text of a cached answer (its text blocks joined)."""
    return "".join(b.get("text", "") for b in record["response"].get("content", []) if b.get("type") == "text")


def stop_reason(record: dict) -> Optional[str]:
    return record["response"].get("stop_reason")


# ---------------------------------------------------------------------------------------------------
# Usage and cost


@dataclass
class Prices:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_write: float = 0.0
    cache_read: float = 0.0


USAGE_COUNTS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


@dataclass
class Usage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @classmethod
    def of(cls, records: Iterable[dict]) -> "Usage":
        usage = cls()
        for record in records:
            usage.add(record)
        return usage

    def add(self, record: dict) -> None:
        counts = record["response"].get("usage") or {}
        self.requests += 1
        for f in fields(self):
            if f.name != "requests":
                setattr(self, f.name, getattr(self, f.name) + (counts.get(f.name) or 0))

    def cost_usd(self, prices: Prices) -> float:
        return (self.input_tokens * prices.input + self.output_tokens * prices.output
                + self.cache_creation_input_tokens * prices.cache_write
                + self.cache_read_input_tokens * prices.cache_read) / 1e6

    def metrics(self, prices: Prices, suffix: str = "") -> dict:
        """Flat metrics: each count and cost_usd, their names ending in `suffix`."""
        out = {f"{f.name}{suffix}": getattr(self, f.name) for f in fields(self)}
        out[f"cost_usd{suffix}"] = round(self.cost_usd(prices), 6)
        return out


# ---------------------------------------------------------------------------------------------------
# Running many requests


@dataclass
class Result:
    answers: dict[str, dict]           # request key -> cache record, for every answered request
    cached: int = 0                    # answered from the cache
    sent: Usage = field(default_factory=Usage)  # what this run sent and got an answer for
    errors: list[str] = field(default_factory=list)  # one redacted line per failed request
    interrupted: bool = False          # Ctrl-C
    missing: int = 0                   # requests with no answer (failed, cancelled or interrupted)

    @property
    def complete(self) -> bool:
        return self.missing == 0


def _send(client, cache: Cache, request: Request, stop: threading.Event) -> Optional[dict]:
    import anthropic

    if stop.is_set():  # a worker that picks a request up after a failure or Ctrl-C sends nothing
        return None
    try:
        message = client.messages.create(**request.body())
        if not isinstance(message, anthropic.types.Message):
            # The SDK hands back the raw text of a 200 whose body is not JSON (a proxy's error page).
            raise ClaudeError(f"the API answered HTTP 200 with a body that is not a message: {str(message)[:80]!r}")
    except BaseException:
        stop.set()  # at once, not when the main thread gets to it: no request is sent after a failure
        raise
    record = {"key": request.key, "request": request.body(), "response": message.model_dump(mode="json")}
    cache.put(request.key, record)
    return record


class _InterruptFlag:
    """While it exists, the first SIGINT (Ctrl-C) sets .raised and `stop` instead of raising
    KeyboardInterrupt."""

    def __init__(self, stop: threading.Event):
        self.raised = False
        self.stop = stop
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True
        self.stop.set()

    def restore(self):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _cancel(futures) -> None:
    for f in futures:
        f.cancel()


def run(client, requests: Iterable[Request], cache: Cache, *, concurrency: int,
        progress: Optional[Callable[[int, int], Any]] = None) -> Result:
    """Answers for `requests`: from the cache where it has them, else sent, at most `concurrency` at
    a time, each cached as it arrives. After a request fails (the SDK has already retried it) or on
    Ctrl-C, nothing new is sent; requests in flight finish and are cached. `progress(done, total)` is
    called after each answer sent."""
    unique = {r.key: r for r in requests}
    result = Result(answers={})
    todo = []
    for key, request in unique.items():
        record = cache.get(key)
        if record is None:
            todo.append(request)
        else:
            result.answers[key] = record
    result.cached = len(result.answers)
    if not todo:
        return result
    # Ctrl-C sets a flag instead of raising wherever the main thread happens to be, so the answers
    # in flight are still collected and cached; a second Ctrl-C raises as usual.
    stop = threading.Event()
    interrupt = _InterruptFlag(stop)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="claude")
    pending = {pool.submit(_send, client, cache, r, stop) for r in todo}
    try:
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            if interrupt.raised and not result.interrupted:
                result.interrupted = True
                _cancel(pending)
                print("interrupted: waiting for the requests in flight, so that their answers are cached "
                      "(Ctrl-C again to stop waiting)", file=sys.stderr, flush=True)
            for f in done:
                if f.cancelled() or f.exception() is None and f.result() is None:
                    continue  # not sent
                if f.exception() is None:
                    record = f.result()
                    result.answers[record["key"]] = record
                    result.sent.add(record)
                    if progress:
                        progress(result.sent.requests, len(todo))
                else:
                    result.errors.append(describe(f.exception()))
                    # The SDK has retried it already: what fails now fails for the others too (a refused
                    # key, an API that is down), so send nothing new and let a re-run resume.
                    _cancel(pending)
    finally:
        interrupt.restore()
        pool.shutdown(wait=not pending, cancel_futures=True)  # pending: only when an exception leaves early
    result.missing = len(unique) - len(result.answers)
    return result
