"""Sends messages into a room at a steady rate from a user of its own, for the desktop bench's
socket → screen figure (run by crates/bench/desktop.mjs). Speaks docs/protocol.md with the
`websockets` package of tests/conformance/requirements.txt.

    burst.py URL ROOM COUNT RATE

Prints one JSON line once every message has come back as a `message` frame: {"ts": {body: ts}},
`ts` being the server's time of storage (Unix ms) that every member's copy carries.
"""

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request

import websockets

USER, PASSWORD = "burst", "burst-password-123"


def post(url, path, body):
    req = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


async def frame(ws, kind, deadline):
    """The next frame of type `kind`, skipping others."""
    while True:
        f = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if f["type"] == kind:
            return f
        if f["type"] == "error":
            raise RuntimeError(f"the server refused: {f}")


async def main(url, room, count, rate):
    try:
        post(url, "/api/register", {"username": USER, "password": PASSWORD})
    except urllib.error.HTTPError as e:
        if e.code != 409:  # an account from an earlier run of the same server is fine
            raise
    token = post(url, "/api/login", {"username": USER, "password": PASSWORD})["access_token"]
    deadline = time.monotonic() + 30 + count / rate
    async with websockets.connect("ws" + url.removeprefix("http") + "/ws", max_size=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await frame(ws, "ready", deadline)
        await ws.send(json.dumps({"type": "join", "room": room, "latest": 0}))
        await frame(ws, "synced", deadline)
        stored = {}

        async def collect():
            while len(stored) < count:
                f = await frame(ws, "message", deadline)
                if f["author"] == USER:
                    stored[f["body"]] = f["ts"]

        collecting = asyncio.create_task(collect())
        start = time.monotonic()
        for i in range(count):
            # Paced to the clock, not by sleeping a fixed step: a late send does not delay the rest.
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            body = f"burst {i}"
            await ws.send(json.dumps({"type": "send", "id": f"burst-{start}-{i}", "room": room, "body": body}))
        await collecting
    print(json.dumps({"ts": stored}))


if __name__ == "__main__":
    url, room, count, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    asyncio.run(main(url, room, count, rate))
