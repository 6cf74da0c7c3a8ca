"""Orange's side: the OAuth token endpoint and BotHub's single and bulk capability
look-ups (APIS.md; the bulk shape is the assumed one kept in capability/bothub_bulk.py)."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rcsqualify import bulkwindow
from rcsqualify.emulator.common import error, form, guarded, issue_token, trickle
from rcsqualify.emulator.state import EmulatorState

PARIS = ZoneInfo("Europe/Paris")


async def token(state: EmulatorState, request: Request) -> Response:
    auth = request.headers.get("authorization", "")
    expected = base64.b64encode(
        f"{state.config.client_id}:{state.config.client_secret}".encode()).decode()
    if auth != f"Basic {expected}":
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    data = await form(request)
    if data.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    return issue_token(state, state.tokens)


async def single(state: EmulatorState, request: Request) -> Response:
    number = request.query_params.get("userContact", "")
    early = await guarded(state, request, "bothub", number, state.tokens)
    if early is not None:
        return early
    if not number.startswith("+"):
        return error(400, "userContact must be an E.164 number", "INVALID_ARGUMENT")
    state.asked[f"bothub:{number}"] += 1
    if state.capable(number):
        caps = state.config.capabilities
        body = {"capabilities": caps if caps is not None else [
            "chatBotCommunication", "chat", "fileTransfer"]}
        if state.config.slow_body:
            return trickle(body, state.config.slow_body)
        return JSONResponse(body)
    return error(404, "contact is not RCS capable", "NOT_FOUND")


def window_open(state: EmulatorState) -> bool:
    mode = state.config.bulk_window
    if mode == "always":
        return True
    if mode == "never":
        return False
    return bulkwindow.is_open(datetime.now(PARIS))  # the client's assumed window


async def bulk(state: EmulatorState, request: Request) -> Response:
    early = await guarded(state, request, "bothub", "bulk", state.tokens)
    if early is not None:
        return early
    if not window_open(state):
        return error(405, "Method Not Allowed: bulk capability requests are accepted "
                     "from 22:00 to 07:00 Paris time", "METHOD_NOT_ALLOWED")
    if request.method == "POST":
        try:
            body = await request.json()
            contacts = list(body["userContacts"])
        except (ValueError, KeyError, TypeError):
            return error(400, "body must be {\"userContacts\": [...]}", "INVALID_ARGUMENT")
        if not contacts or len(contacts) > state.config.bulk_max:
            return error(400, f"1 to {state.config.bulk_max} userContacts per job",
                         "INVALID_ARGUMENT")
        new_id = state.config.bulk_job_id or secrets.token_hex(8)
        state.jobs[new_id] = {"contacts": contacts, "polls": 0}
        state.jobs_submitted += 1
        for c in contacts:
            state.asked[f"bulk:{c}"] += 1
        if state.config.bulk_submit_body is not None:
            return JSONResponse(state.config.bulk_submit_body, status_code=202)
        return JSONResponse({"jobId": new_id}, status_code=202)
    job_id = request.query_params.get("jobId", "")
    job = state.jobs.get(job_id)
    if job is None:
        return error(404, "unknown jobId", "NOT_FOUND")
    job["polls"] += 1
    if job["polls"] <= state.config.bulk_polls:
        return JSONResponse({"status": "PENDING"})
    if state.config.bulk_status != "DONE":
        return JSONResponse({"status": state.config.bulk_status})
    results = state.config.bulk_results
    if results is None:
        caps = state.config.capabilities or ["chatBotCommunication", "chat"]
        results = [{"userContact": c, "capabilities": caps if state.capable(c) else []}
                   for c in job["contacts"]]
    return JSONResponse({"status": "DONE", "results": results})
