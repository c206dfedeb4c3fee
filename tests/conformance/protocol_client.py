#!/usr/bin/env python3
"""Independent conformance test for a Confab server.

Written from docs/protocol.md alone (no server source was read). It starts the
server binary (env CONFAB_SERVER_BIN, default target/debug/confab-server) in a
temp dir, drives it over HTTP and WebSocket, restarts it once, and reports each
check as PASS/FAIL, ending with one line `N passed, M failed`.

Requires: Python 3.11, websockets==13.1 (see requirements.txt).
"""
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import websockets
from websockets.exceptions import ConnectionClosed

TIMEOUT = 10.0  # every wait has this deadline
ROOM = "general"
PASSWORD = "correct horse battery"


class CheckError(Exception):
    pass


def ensure(cond, msg):
    if not cond:
        raise CheckError(msg)


# ---------------------------------------------------------------- server process
class Server:
    def __init__(self, binary, workdir):
        self.binary, self.workdir = binary, workdir
        self.db = os.path.join(workdir, "confab.db")
        self.proc, self.port, self.starts = None, None, 0

    def start(self):
        self.starts += 1
        self.log_path = os.path.join(self.workdir, f"server-{self.starts}.log")
        log = open(self.log_path, "wb")
        env = dict(os.environ, NO_COLOR="1")
        self.proc = subprocess.Popen(
            [self.binary, "--listen", "127.0.0.1:0", "--db", self.db, "--registration", "open"],
            stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                text = re.sub(r"\x1b\[[0-9;]*m", "", f.read().decode("utf-8", "replace"))
            for line in text.splitlines():
                m = re.search(r"addr=\"?127\.0\.0\.1:(\d+)", line)
                if "listening" in line and m:
                    self.port = int(m.group(1))
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early ({self.proc.returncode}):\n{text}")
            time.sleep(0.05)
        raise RuntimeError("server did not log a 'listening ... addr=' line in time")

    def stop(self):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"


def http_json(server, method, path, body=None, token=None):
    """Returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    return status, (json.loads(raw) if raw else None)


async def login(server, user):
    status, body = await asyncio.to_thread(
        http_json, server, "POST", "/api/login", {"username": user, "password": PASSWORD})
    ensure(status == 200, f"login {user}: HTTP {status} {body}")
    ensure(isinstance(body, dict), f"login {user}: body not an object: {body}")
    for k in ("access_token", "refresh_token"):
        ensure(isinstance(body.get(k), str) and body[k], f"login {user}: bad {k}: {body}")
    ei = body.get("expires_in")
    ensure(isinstance(ei, int) and not isinstance(ei, bool) and ei > 0,
           f"login {user}: bad expires_in: {body}")
    return body


# ---------------------------------------------------------------- websocket client
class Client:
    """One WebSocket connection; a reader task stores every frame in self.frames."""

    def __init__(self, name, sink=None):
        self.name, self.sink = name, sink  # sink: list collecting `message` frames
        self.frames, self.closed = [], False
        self.close_code = self.close_reason = None
        self._event = asyncio.Event()

    async def connect(self, server, token):
        self.ws = await asyncio.wait_for(
            websockets.connect(f"ws://127.0.0.1:{server.port}/ws"), TIMEOUT)
        self._task = asyncio.create_task(self._reader())
        await self.send({"type": "auth", "token": token})

    async def ready(self):
        f = await self.wait_for(lambda f: f.get("type") == "ready", what="ready")
        for k in ("user", "session", "heartbeat_ms", "max_body_bytes"):
            ensure(k in f, f"{self.name}: ready lacks {k}: {f}")
        ensure(f["user"] == self.name, f"{self.name}: ready.user is {f['user']!r}")
        return f

    async def _reader(self):
        try:
            async for raw in self.ws:
                try:
                    f = json.loads(raw)
                except (ValueError, TypeError):
                    f = {"type": "<non-json>", "raw": raw}
                self.frames.append(f)
                if self.sink is not None and f.get("type") == "message":
                    self.sink.append(f)
                self._event.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self.close_code, self.close_reason = self.ws.close_code, self.ws.close_reason
            self._event.set()

    async def send(self, frame):
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def mark(self):
        return len(self.frames)

    async def wait_for(self, pred, start=0, timeout=TIMEOUT, what="frame"):
        """First frame at index >= start matching pred, or CheckError on deadline/close."""
        loop = asyncio.get_running_loop()
        deadline, i = loop.time() + timeout, start
        while True:
            while i < len(self.frames):
                f = self.frames[i]
                i += 1
                if pred(f):
                    return f
            if self.closed:
                raise CheckError(f"{self.name}: closed ({self.close_code} {self.close_reason!r})"
                                 f" while waiting for {what}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise CheckError(f"{self.name}: timeout waiting for {what}")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_closed(self, timeout=TIMEOUT):
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            raise CheckError(f"{self.name}: connection not closed within {timeout}s")
        return self.close_code, self.close_reason

    async def join(self, room, after=None):
        """join; returns (joined frame, replayed messages, final synced frame)."""
        start = self.mark()
        frame = {"type": "join", "room": room}
        if after is not None:
            frame["after"] = after
        await self.send(frame)
        joined = await self.wait_for(lambda f: f.get("type") == "joined" and f.get("room") == room,
                                     start, what=f"joined {room}")
        synced = await self.wait_for(
            lambda f: f.get("type") == "synced" and f.get("room") == room and f.get("more") is False,
            start, what=f"synced(more=false) {room}")
        end = self.frames.index(synced, start)
        replay = [f for f in self.frames[start:end]
                  if f.get("type") == "message" and f.get("room") == room]
        return joined, replay, synced

    async def send_msg(self, room, body, msg_id=None):
        """send; waits for the ack; returns it."""
        msg_id = msg_id or str(uuid.uuid4())
        start = self.mark()
        await self.send({"type": "send", "id": msg_id, "room": room, "body": body})
        return await self.wait_for(lambda f: f.get("type") == "ack" and f.get("id") == msg_id,
                                   start, what=f"ack {msg_id}")

    async def expect_error(self, raw, code, ref=None):
        start = self.mark()
        await self.send(raw)
        f = await self.wait_for(lambda f: f.get("type") == "error", start,
                                what=f"error {code} for {str(raw)[:60]}")
        ensure(f.get("code") == code, f"expected error {code}, got {f}")
        ensure(isinstance(f.get("message"), str), f"error frame lacks message: {f}")
        if ref is not None:
            ensure(f.get("ref") == ref, f"error {code}: ref {f.get('ref')!r} != {ref!r}")

    async def close(self):
        await self.ws.close()
        await self.wait_closed()


def msg_for(msg_id):
    return lambda f: f.get("type") == "message" and f.get("id") == msg_id


# ---------------------------------------------------------------- the checks
class Run:
    def __init__(self, server):
        self.server = server
        self.tokens, self.alice, self.bob = {}, None, None
        self.bob_log = []      # every `message` bob received, across all his connections
        self.sent = []         # (id, seq) for every distinct message alice stored
        self.bob_last = 0

    async def check1_register_login(self):
        for user in ("alice", "bob"):
            status, body = await asyncio.to_thread(
                http_json, self.server, "POST", "/api/register",
                {"username": user, "password": PASSWORD})
            ensure(status == 201 and body == {"username": user},
                   f"register {user}: HTTP {status} {body}")
            self.tokens[user] = await login(self.server, user)

    async def check2_ws_ready(self):
        self.alice, self.bob = Client("alice"), Client("bob", self.bob_log)
        for c in (self.alice, self.bob):
            await c.connect(self.server, self.tokens[c.name]["access_token"])
            await c.ready()

    async def check3_join_and_send(self):
        for c in (self.alice, self.bob):
            joined, replay, synced = await c.join(ROOM)
            ensure(joined.get("last_seq") == 0 and replay == [],
                   f"{c.name}: fresh room not empty: {joined} {replay}")
        start_a, start_b = self.alice.mark(), self.bob.mark()
        ids = [f"c3-{uuid.uuid4()}" for _ in range(3)]
        for i, mid in enumerate(ids):
            await self.alice.send({"type": "send", "id": mid, "room": ROOM, "body": f"hello {i}"})
        acks = []
        for i, mid in enumerate(ids):
            ack = await self.alice.wait_for(lambda f: f.get("type") == "ack" and f.get("id") == mid,
                                            start_a, what=f"ack {mid}")
            ma = await self.alice.wait_for(msg_for(mid), start_a, what=f"alice message {mid}")
            mb = await self.bob.wait_for(msg_for(mid), start_b, what=f"bob message {mid}")
            ensure(ack["room"] == ROOM and ack["seq"] == ma["seq"] == mb["seq"],
                   f"seq mismatch: ack={ack} alice={ma} bob={mb}")
            ensure(mb["author"] == "alice" and mb["body"] == f"hello {i}" and isinstance(mb["ts"], int),
                   f"bad message fields: {mb}")
            acks.append(ack)
        seqs = [a["seq"] for a in acks]
        ensure(seqs == [1, 2, 3], f"seqs of first 3 messages: {seqs}")
        ack_order = [f["id"] for f in self.alice.frames[start_a:] if f.get("type") == "ack"]
        ensure(ack_order == ids, f"acks not in send order: {ack_order}")
        self.sent += [(mid, s) for mid, s in zip(ids, seqs)]

    async def check4_idempotent_resend(self):
        ensure(len(self.sent) >= 3, "needs check 3")
        mid, seq = self.sent[1]
        start_b = self.bob.mark()
        ack = await self.alice.send_msg(ROOM, "hello 1", mid)
        ensure(ack["seq"] == seq, f"resend ack seq {ack['seq']} != original {seq}")
        marker = f"c4-marker-{uuid.uuid4()}"
        mack = await self.alice.send_msg(ROOM, "marker", marker)
        ensure(mack["seq"] == seq + 2, f"marker seq {mack['seq']}, expected {seq + 2} (no new seq used)")
        self.sent.append((marker, mack["seq"]))
        await self.bob.wait_for(msg_for(marker), start_b, what="marker")
        before = [f for f in self.bob.frames[start_b:] if f.get("type") == "message"]
        ensure([f["id"] for f in before] == [marker],
               f"bob got extra messages before marker: {[(f['id'], f['seq']) for f in before]}")

    async def check5_restart_resume(self):
        ensure(self.bob_log, "needs earlier checks")
        self.bob_last = max(f["seq"] for f in self.bob_log)
        await self.bob.close()
        missed = []
        for i in range(2):
            mid = f"c5-missed-{i}-{uuid.uuid4()}"
            ack = await self.alice.send_msg(ROOM, f"missed {i}", mid)
            missed.append((mid, ack["seq"]))
        self.sent += missed
        alice_last = missed[-1][1]
        # restart: alice must see close 1001
        await asyncio.to_thread(self.server.proc.send_signal, signal.SIGTERM)
        code, reason = await self.alice.wait_closed()
        rc = await asyncio.to_thread(self.server.proc.wait, TIMEOUT)
        print(f"  info: alice close on shutdown: code={code} reason={reason!r}; server exit={rc}")
        ensure(code == 1001, f"alice close code on shutdown {code}, expected 1001")
        await asyncio.to_thread(self.server.start)
        for user in ("alice", "bob"):
            self.tokens[user] = await login(self.server, user)
        self.alice, self.bob = Client("alice"), Client("bob", self.bob_log)
        for c in (self.alice, self.bob):
            await c.connect(self.server, self.tokens[c.name]["access_token"])
            await c.ready()
        await self.alice.join(ROOM, after=alice_last)
        joined, replay, synced = await self.bob.join(ROOM, after=self.bob_last)
        ensure(joined["last_seq"] == alice_last, f"joined.last_seq {joined['last_seq']} != {alice_last}")
        got = [(f["id"], f["seq"]) for f in replay]
        ensure(got == missed, f"replay {got}, expected {missed}")
        ensure(synced["up_to"] == alice_last, f"synced.up_to {synced['up_to']} != {alice_last}")
        start_b = self.bob.mark()
        mid = f"c5-live-{uuid.uuid4()}"
        ack = await self.alice.send_msg(ROOM, "live after restart", mid)
        self.sent.append((mid, ack["seq"]))
        m = await self.bob.wait_for(msg_for(mid), start_b, what="live message after restart")
        ensure(m["seq"] == alice_last + 1, f"live seq {m['seq']}, expected {alice_last + 1}")
        # Duplicates are caught by check 6: its final marker comes after any late copy.

    async def check7_errors(self):
        a = self.alice
        ensure(a and not a.closed, "needs a live alice connection")
        await a.expect_error("this is not json{", "invalid_json")
        await a.expect_error("[1, 2, 3]", "invalid_json")
        await a.expect_error({"type": "frobnicate", "room": ROOM}, "unknown_type")
        await a.expect_error({"type": "join"}, "bad_frame")
        await a.expect_error({"type": "auth", "token": "x"}, "bad_frame")
        await a.expect_error({"type": "join", "room": "Not A Room!"}, "bad_room")
        nj = f"c7-nj-{uuid.uuid4()}"
        await a.expect_error({"type": "send", "id": nj, "room": "random", "body": "x"}, "not_joined", nj)
        blank = f"c7-blank-{uuid.uuid4()}"
        await a.expect_error({"type": "send", "id": blank, "room": ROOM, "body": "   "},
                             "empty_body", blank)
        await a.join("other")
        reused = self.sent[0][0]
        await a.expect_error({"type": "send", "id": reused, "room": "other", "body": "x"},
                             "bad_id", reused)
        await a.expect_error({"type": "send", "id": "", "room": ROOM, "body": "x"}, "bad_id")
        # still usable
        ack = await a.send_msg(ROOM, "still alive after errors")
        self.sent.append((ack["id"], ack["seq"]))
        ensure(ack["seq"] == self.sent[-2][1] + 1, f"seq after errors {ack['seq']} (a failed frame stored?)")

    async def check8_garbage_token(self):
        c = Client("mallory")
        await c.connect(self.server, "garbage-" + uuid.uuid4().hex)
        code, reason = await c.wait_closed()
        ensure(not any(f.get("type") == "ready" for f in c.frames), f"got ready: {c.frames}")
        ensure(code == 4001, f"close code {code} {reason!r}, expected 4001")

    async def check6_bob_exactly_once(self):
        ensure(self.bob and not self.bob.closed, "needs a live bob connection")
        marker = f"c6-final-{uuid.uuid4()}"
        start_b = self.bob.mark()
        ack = await self.alice.send_msg(ROOM, "final marker", marker)
        self.sent.append((marker, ack["seq"]))
        await self.bob.wait_for(msg_for(marker), start_b, what="final marker")
        seqs = [f["seq"] for f in self.bob_log if f["room"] == ROOM]
        ensure(seqs == list(range(1, ack["seq"] + 1)),
               f"bob's seqs are not exactly 1..{ack['seq']}: {seqs}")
        by_seq = {f["seq"]: f["id"] for f in self.bob_log}
        ensure(all(by_seq.get(s) == mid for mid, s in self.sent),
               f"bob's id/seq pairs differ from alice's acks: {by_seq} vs {self.sent}")

    async def check9_conversations(self):
        """A private room, an invitation, a mention, an outsider refused, a dm, read state and a
        kick, as docs/protocol.md "Conversations" describes them."""
        status, _ = await asyncio.to_thread(
            http_json, self.server, "POST", "/api/register", {"username": "carol", "password": PASSWORD})
        ensure(status == 201, f"register carol: HTTP {status}")
        carol_tokens = await login(self.server, "carol")
        a, b, c = Client("alice"), Client("bob"), Client("carol")
        for cl, tok in ((a, self.tokens["alice"]), (b, self.tokens["bob"]), (c, carol_tokens)):
            await cl.connect(self.server, tok["access_token"])
            await cl.ready()
        room = "conf-ops"
        start = a.mark()
        await a.send({"type": "create", "room": room, "visibility": "private"})
        await a.wait_for(lambda f: f.get("type") == "synced" and f.get("room") == room, start, what="create")
        start_b = b.mark()
        await a.send({"type": "invite", "room": room, "user": "bob"})
        await a.wait_for(lambda f: f.get("type") == "invited" and f.get("user") == "bob", start, what="invited")
        added = await b.wait_for(lambda f: f.get("type") == "room_added", start_b, what="room_added")
        ensure(added == {"type": "room_added", "room": room, "visibility": "private", "by": "alice"},
               f"room_added: {added}")
        _, replay, _ = await b.join(room)
        ensure(replay == [], "a member entry is no message")
        ensure(any(f.get("type") == "member" and f.get("action") == "invited" and f.get("seq") == 1
                   for f in b.frames[start_b:]), "the invitation is the room's seq 1")
        start_b = b.mark()
        await a.send_msg(room, "for @Bob only")
        got = await b.wait_for(lambda f: f.get("type") == "message" and f.get("room") == room, start_b,
                               what="bob's message")
        ensure(got.get("mentions") == ["bob"], f"mentions: {got}")
        for frame in ({"type": "join", "room": room}, {"type": "history", "room": room},
                      {"type": "members", "room": room}):
            await c.expect_error(frame, "forbidden")
        await c.expect_error({"type": "send", "id": "c9-x", "room": room, "body": "x"}, "forbidden", ref="c9-x")
        await c.expect_error({"type": "create", "room": room, "visibility": "public"}, "room_exists")
        start = b.mark()
        await b.send({"type": "rooms"})
        rooms = await b.wait_for(lambda f: f.get("type") == "rooms", start, what="rooms")
        ops = [r for r in rooms["rooms"] if r["room"] == room]
        ensure(ops and ops[0]["unread"] == 1 and ops[0]["mentions"] == 1 and ops[0]["role"] == "member",
               f"bob's room list: {rooms}")
        await b.send({"type": "read", "room": room, "seq": ops[0]["last_seq"]})
        read = await b.wait_for(lambda f: f.get("type") == "read", start, what="read")
        ensure(read == {"type": "read", "room": room, "seq": 2}, f"read: {read}")
        names = []
        for cl, users in ((a, ["bob"]), (b, ["ALICE"])):
            start = cl.mark()
            await cl.send({"type": "dm", "users": users})
            dm = await cl.wait_for(lambda f: f.get("type") == "dm", start, what="dm")
            ensure(dm["users"] == ["alice", "bob"], f"dm users: {dm}")
            names.append(dm["room"])
        ensure(names[0] == names[1], f"the same users, the same dm: {names}")
        start_b = b.mark()
        await a.send({"type": "kick", "room": room, "user": "bob"})
        await b.wait_for(lambda f: f.get("type") == "room_removed" and f.get("room") == room, start_b,
                         what="room_removed")
        await a.send_msg(room, "after the kick")
        marker = f"c9-{uuid.uuid4()}"
        await a.send_msg(names[0], "marker", marker)
        await b.wait_for(msg_for(marker), start_b, what="the dm marker")
        leaked = [f for f in b.frames[start_b:] if f.get("type") == "message" and f.get("room") == room]
        ensure(leaked == [], f"bob got messages of {room} after the kick: {leaked}")
        for cl in (a, b, c):
            await cl.close()


async def main():
    binary = os.environ.get("CONFAB_SERVER_BIN", "target/debug/confab-server")
    results = []
    with tempfile.TemporaryDirectory(prefix="confab-conf-") as tmp:
        server = Server(os.path.abspath(binary), tmp)
        try:
            server.start()
        except Exception as e:
            print(f"FAIL  server start: {e}")
            print("0 passed, 1 failed")
            return 1
        run = Run(server)
        checks = [
            ("1 register and login", run.check1_register_login),
            ("2 websocket auth -> ready", run.check2_ws_ready),
            ("3 join, send 3, message+ack", run.check3_join_and_send),
            ("4 resend same id is idempotent", run.check4_idempotent_resend),
            ("5 restart (1001) and resume with after", run.check5_restart_resume),
            ("7 documented error codes", run.check7_errors),
            ("8 garbage token -> 4001", run.check8_garbage_token),
            ("9 private rooms, dms, read state, kick", run.check9_conversations),
            ("6 bob saw every message exactly once", run.check6_bob_exactly_once),
        ]
        try:
            for name, fn in checks:
                try:
                    await asyncio.wait_for(fn(), 60)
                    results.append(True)
                    print(f"PASS  {name}")
                except Exception as e:  # noqa: BLE001 - report any failure as FAIL
                    results.append(False)
                    print(f"FAIL  {name}: {type(e).__name__}: {e}")
        finally:
            for c in (run.alice, run.bob):
                if c and not c.closed:
                    try:
                        await asyncio.wait_for(c.ws.close(), 2)
                    except Exception:  # noqa: BLE001
                        pass
            server.stop()
    passed, failed = results.count(True), results.count(False)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
