"""The load generator of bench/load_bench.py: signed-in virtual users over HTTP/1.1 on loopback.

Written on asyncio streams (no HTTP library: httpx is not in the environment, and a client
this small costs the shared CPU least). One connection per virtual user, kept alive when the
server keeps it (werkzeug does; gunicorn's sync workers close after each response, so the user
reconnects). Cookies are kept per user; redirects are not followed (a POST is timed alone).

Two ways to drive: closed loop (``rate=0``: each user sends its next request as soon as the
last one is answered -- the throughput limit) or open loop (``rate=R``: requests are issued at
R per second, Poisson arrivals, to whichever user is free -- latency at a given load).
Latency is measured from sending the request to the last byte of the response.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyotp

CSRF = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')
HINT = re.compile(rb'<small class="field-error">([^<]+)<|class="flash flash-error"[^>]*>([^<]+)<')
TIMEOUT = 60.0


class HttpError(Exception):
    """The connection failed or the response could not be read."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Client:
    """One user agent: a connection (re-opened when the server closes it) and a cookie jar."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        body = urllib.parse.urlencode(form).encode() if form is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "User-Agent: wellbeing-load-bench", "Accept-Encoding: identity"]  # fmt: skip
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if form is not None:
            lines += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(body)}",
            ]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        reused = self._writer is not None
        try:
            return await asyncio.wait_for(self._exchange(raw), TIMEOUT)
        except (OSError, ValueError, asyncio.IncompleteReadError, HttpError) as exc:
            await self.close()
            if not reused:
                raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        except TimeoutError:
            await self.close()
            raise HttpError(f"no answer within {TIMEOUT:.0f} s") from None
        # The server closed a kept-alive connection before reading the request: once more.
        try:
            return await asyncio.wait_for(self._exchange(raw), TIMEOUT)
        except (OSError, ValueError, asyncio.IncompleteReadError, HttpError, TimeoutError) as exc:
            await self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, raw: bytes) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None  # noqa: S101 (opened above)
        self._writer.write(raw)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HttpError(f"bad status line {status_line!r}")
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" not in line:
                continue
            key, value = line.split(":", 1)
            key, value = key.strip().lower(), value.strip()
            if key == "set-cookie":
                self._cookie(value)
            headers[key] = value
        if "content-length" in headers:
            body = await self._reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self._reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close" or status_line.startswith("HTTP/1.0"):
            await self.close()
        return Response(int(parts[1]), headers, body)

    async def _chunked(self) -> bytes:
        assert self._reader is not None  # noqa: S101 (reading a response)
        out = bytearray()
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return bytes(out)
            out += await self._reader.readexactly(size)
            await self._reader.readexactly(2)

    def _cookie(self, value: str) -> None:
        pair, *attributes = value.split(";")
        name, _, content = pair.strip().partition("=")
        gone = any(a.strip().lower() in {"max-age=0", "max-age=-1"} or
                   a.strip().lower().startswith("expires=thu, 01 jan 1970") for a in attributes)  # fmt: skip
        if gone or not content:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = content

    async def csrf_from(self, path: str) -> str:
        page = await self.request("GET", path)
        match = CSRF.search(page.body)
        if page.status != 200 or match is None:
            raise HttpError(f"GET {path}: {page.status}, no CSRF token")
        self.csrf = match.group(1).decode()
        return self.csrf

    async def sign_in(self, username: str, password: str, totp_secret: str) -> None:
        """Password, then the TOTP code (the next step's when this one was already used)."""
        token = await self.csrf_from("/login")
        answer = await self.request(
            "POST", "/login", {"username": username, "password": password, "csrf_token": token}
        )
        if answer.status != 302 or "/login/totp" not in answer.headers.get("location", ""):
            raise HttpError(f"sign-in of {username}: password step answered {answer.status}")
        totp = pyotp.TOTP(totp_secret)
        for attempt in range(4):  # this step's code, else the next one's (drift window), else wait
            if attempt == 2:
                await asyncio.sleep(totp.interval - time.time() % totp.interval + 0.5)
            code = totp.at(time.time() + totp.interval * (attempt % 2))
            token = await self.csrf_from("/login/totp")
            answer = await self.request("POST", "/login/totp", {"code": code, "csrf_token": token})
            if answer.status == 302:
                await self.csrf_from("/")  # the signed-in session's token, for the forms
                return
        raise HttpError(f"sign-in of {username}: the TOTP step was refused")


# --------------------------------------------------------------------------- the mix


@dataclass
class Call:
    method: str
    path: str
    form: dict[str, str] | None = None
    expect: tuple[int, ...] = (200,)


@dataclass
class VirtualUser:
    username: str
    role: str
    client: Client
    targets: dict[str, list[Any]]
    actions: list[tuple[str, float]] = field(default_factory=list)
    asked: set[str] = field(default_factory=set)  # the actions it has done
    dry: list[str] = field(default_factory=list)  # actions dropped: nothing left to act on


Action = Callable[[VirtualUser, random.Random], Call | None]


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)  # the first few errors, to say what failed
    dry: dict[str, int] = field(default_factory=dict)  # action -> users who ran out of targets
    started: float = 0.0
    ended: float = 0.0

    def add(self, action: str, seconds: float, error: str | None) -> None:
        self.latencies.setdefault(action, []).append(seconds)
        if error is not None:
            self.errors[action] = self.errors.get(action, 0) + 1
            if len(self.samples) < 10:
                self.samples.append(f"{action}: {error}")

    def summary(self) -> dict[str, Any]:
        from .common import percentile

        elapsed = max(self.ended - self.started, 1e-9)
        total = sum(map(len, self.latencies.values()))
        pages = {}
        for action, values in sorted(self.latencies.items()):
            pages[action] = {
                "requests": len(values), "per_s": round(len(values) / elapsed, 1),
                "errors": self.errors.get(action, 0),
                **{f"p{q}_ms": round(percentile(values, q / 100) * 1000, 1) for q in (50, 95, 99)},
            }  # fmt: skip
        return {"seconds": round(elapsed, 1), "requests": total, "per_s": round(total / elapsed, 1),
                "errors": sum(self.errors.values()), "error_samples": self.samples,
                "ran_dry": self.dry, "pages": pages}  # fmt: skip


async def one(user: VirtualUser, name: str, call: Call, stats: Stats) -> None:
    started = time.perf_counter()
    error = None
    try:
        answer = await user.client.request(call.method, call.path, call.form)
        if answer.status not in call.expect:
            said = [b"".join(m.groups(b"")) for m in HINT.finditer(answer.body)][:2]  # why, if told
            error = f"{call.method} {call.path.split('?')[0]} answered {answer.status}" + "".join(
                f" [{h.decode(errors='replace').strip()}]" for h in said
            )
    except HttpError as exc:
        error = f"{call.method} {call.path.split('?')[0]}: {exc}"
    stats.add(name, time.perf_counter() - started, error)


def pick(user: VirtualUser, rng: random.Random, actions: dict[str, Action]) -> tuple[str, Call]:
    """The user's next action, at random by weight among those it still has targets for."""
    while True:
        names, weights = zip(*user.actions, strict=True)
        name = rng.choices(names, weights)[0]
        call = actions[name](user, rng)
        if call is not None:
            user.asked.add(name)
            return name, call
        user.actions = [(n, w) for n, w in user.actions if n != name]  # its pool ran dry
        user.dry.append(name)


async def drive(users: list[VirtualUser], actions: dict[str, Action], duration: float,
                rate: float, seed: int = 3, until: Callable[[], bool] | None = None) -> Stats:  # fmt: skip
    """Run the mix for ``duration`` seconds, closed loop (rate 0) or at ``rate`` requests/s;
    then any user who has not yet asked for each of its pages once does so (counted too).
    ``until``: stop sooner, as soon as it returns True (e.g. when a process being measured
    under the load has finished)."""
    stats = Stats(started=time.perf_counter())
    deadline = stats.started + duration
    done = until or (lambda: False)
    rng = random.Random(seed)
    if rate <= 0:

        async def loop(user: VirtualUser) -> None:
            while time.perf_counter() < deadline and not done():
                name, call = pick(user, rng, actions)
                await one(user, name, call, stats)

        await asyncio.gather(*(loop(u) for u in users))
    else:
        free: asyncio.Queue[VirtualUser] = asyncio.Queue()
        for user in users:
            free.put_nowait(user)
        running: set[asyncio.Task[None]] = set()

        async def served(user: VirtualUser, name: str, call: Call) -> None:
            try:
                await one(user, name, call, stats)
            finally:
                free.put_nowait(user)

        next_at = time.perf_counter()
        while not done() and next_at < deadline and time.perf_counter() < deadline:
            # behind: arrivals dropped
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            user = await free.get()  # all busy: the arrival waits (the achieved rate drops)
            name, call = pick(user, rng, actions)
            task = asyncio.create_task(served(user, name, call))
            running.add(task)
            task.add_done_callback(running.discard)
            next_at += rng.expovariate(rate)
        await asyncio.gather(*running)

    async def finish(user: VirtualUser) -> None:  # a short or slowed run: each page once still
        for name in [n for n, _weight in user.actions if n not in user.asked]:
            call = actions[name](user, rng)
            if call is not None:
                user.asked.add(name)
                await one(user, name, call, stats)

    await asyncio.gather(*(finish(u) for u in users))
    stats.ended = time.perf_counter()
    for user in users:
        for name in user.dry:
            stats.dry[name] = stats.dry.get(name, 0) + 1
    return stats
