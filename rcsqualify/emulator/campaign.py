"""The emulator's ``campaign`` mode: "send" a list and answer its delivery events
(issue #28 item 5), so ``rcsqualify learn`` is tested end to end.

``POST /_emulator/campaign`` with ``{"numbers": ["+336…", …], "service": "bothub" |
"rbm", "shape": "generic" | "rbm" | "maap", "switch_off": 0.1}``:

1. first a seeded share ``switch_off`` of the numbers the emulator holds reachable turn
   not RCS (users switch RCS off, change phones): the emulator's truth changes, and
   every later look-up, single, bulk or batch, answers the new truth;
2. then every number is "sent" one message, and the answer is the delivery events in
   the shape of the built-in outcome profile ``shape``, from the (new) hidden truth:
   reachable numbers get DELIVERED (and some READ, some a second DELIVERED: duplicates),
   the others the platform's refusal (RBM's 404 NOT_FOUND on send, the MaaP's 404,
   generic ``not_rcs``). RBM events come as Google delivers them: a share wrapped in a
   Pub/Sub push (base64 ``message.data``), with IS_TYPING noise that teaches nothing.

No quota is spent (a campaign is not a capability look-up), ``asked`` is untouched. The
body is NDJSON (``generic``: CSV ``number,outcome,time``); events are dated within a
millisecond after the request arrived: a campaign is sent after the check that made its
list, so what it teaches is newer than every look-up of that check.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rcsqualify.emulator import google
from rcsqualify.emulator.state import EmulatorState

SHAPES = ("generic", "rbm", "maap")
SERVICES = ("bothub", "rbm")
#: at most this many numbers per campaign request
MAX_NUMBERS = 2_000_000


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def switch_off(state: EmulatorState, numbers: list[str], share: float,
               service: str) -> list[str]:
    """Turn a seeded ``share`` of the reachable ``numbers`` not RCS; which ones."""
    turned = []
    for n in numbers:
        if _reachable(state, n, service) and state.draw("switch", n) < share:
            state.config.numbers[n] = {**state.config.numbers.get(n, {}), "capable": False}
            turned.append(n)
    return turned


def _reachable(state: EmulatorState, number: str, service: str) -> bool:
    return google.reachable(state, number) if service == "rbm" else state.capable(number)


def events(state: EmulatorState, numbers: list[str], shape: str, service: str,
           now: float) -> str:
    """The delivery events of one message to each number, in ``shape``."""
    lines: list[str] = ["number,outcome,time"] if shape == "generic" else []
    agent = state.config.rbm_agent
    for i, n in enumerate(numbers):
        t = now + 1e-3 * i / max(len(numbers), 1)
        mid = f"msg-{i}"
        ok = _reachable(state, n, service)
        draw = state.draw("campaign", n)
        if shape == "generic":
            lines.append(f"{n},{'delivered' if ok else 'not_rcs'},{_iso(t)}")
            if ok and draw < 0.3:
                lines.append(f"{n},READ,{_iso(t + 1e-4)}")
            continue
        out: list[dict[str, Any]] = []
        if shape == "rbm":
            if ok:
                out.append({"senderPhoneNumber": n, "eventType": "DELIVERED",
                            "eventId": f"ev-{i}", "messageId": mid, "sendTime": _iso(t),
                            "agentId": agent})
                if draw < 0.3:
                    out.append({**out[0], "eventType": "READ", "eventId": f"ev-{i}-r",
                                "sendTime": _iso(t + 1e-4)})
                if draw > 0.9:
                    out.append({**out[0], "eventType": "IS_TYPING", "eventId": f"ev-{i}-t",
                                "sendTime": _iso(t + 2e-4)})
                if 0.5 < draw < 0.6:
                    out.append(dict(out[0]))  # a webhook retried: a duplicate
            else:
                out.append({"phoneNumber": n, "time": _iso(t), "error": {
                    "code": 404, "message": "Requested entity was not found.",
                    "status": "NOT_FOUND"}})
            out = [_pubsub(e, t) if state.draw("pubsub", n, k) < 0.5 else e
                   for k, e in enumerate(out)]
        else:  # maap
            contact = {"userContact": n}
            if ok:
                out.append({"event": "messageStatus", "messageContact": contact,
                            "RCSMessage": {"msgId": mid, "status": "delivered",
                                           "timestamp": _iso(t)}})
                if draw < 0.3:
                    out.append({"event": "messageStatus", "messageContact": contact,
                                "RCSMessage": {"msgId": mid, "status": "displayed",
                                               "timestamp": _iso(t + 1e-4)}})
            else:
                out.append({"messageContact": contact, "httpStatus": 404,
                            "timestamp": _iso(t), "error": {
                                "code": 404, "message": "Contact is not RCS enabled"}})
        lines += [json.dumps(e) for e in out]
    return "\n".join(lines) + "\n"


def _pubsub(event: dict[str, Any], t: float) -> dict[str, Any]:
    """A Google Pub/Sub push of ``event`` (what an RBM agent's push endpoint receives)."""
    data = base64.b64encode(json.dumps(event).encode()).decode()
    return {"message": {"data": data, "messageId": f"ps-{int(t * 1000)}",
                        "publishTime": _iso(t + 1e-4), "attributes": {}},
            "subscription": "projects/rbm-emulator/subscriptions/rbm-agent"}


async def campaign(state: EmulatorState, request: Request) -> Response:
    try:
        body = await request.json()
        numbers = [str(n) for n in body["numbers"]]
        shape = str(body.get("shape", "generic"))
        service = str(body.get("service", "bothub"))
        share = float(body.get("switch_off", 0.0))
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected {numbers: [...], shape, service, "
                             "switch_off}"}, status_code=400)
    if shape not in SHAPES or service not in SERVICES or not 0 <= share <= 1 \
            or len(numbers) > MAX_NUMBERS:
        return JSONResponse({"error": f"shape in {SHAPES}, service in {SERVICES}, "
                             "switch_off in [0, 1]"}, status_code=400)
    turned = switch_off(state, numbers, share, service)
    text = events(state, numbers, shape, service, time.time())
    return Response(text.encode(), media_type="application/x-ndjson",
                    headers={"X-Switched-Off": str(len(turned))})
