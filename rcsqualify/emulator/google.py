"""Google's side: the service-account token endpoint, RBM per-number capabilities and
``users:batchGet`` (APIS.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rcsqualify.emulator.common import error, form, guarded, issue_token
from rcsqualify.emulator.state import FEATURES, EmulatorState


async def token(state: EmulatorState, request: Request) -> Response:
    data = await form(request)
    if data.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not \
            data.get("assertion"):
        return JSONResponse({"error": "invalid_grant"}, status_code=400)
    return issue_token(state, state.rbm_tokens)


def agent_error(state: EmulatorState, agent: str | None) -> Response | None:
    if not agent:
        return error(403, "Error looking up the RBM agent (ID: null)", "PERMISSION_DENIED")
    if agent != state.config.rbm_agent:
        return error(403, f"Error looking up the RBM agent (ID: {agent})",
                     "PERMISSION_DENIED")
    return None


def reachable(state: EmulatorState, number: str) -> bool:
    return state.capable(number) and (state.mccmnc(number) or "") in \
        state.config.rbm_launched_mccmnc


async def capabilities(state: EmulatorState, request: Request) -> Response:
    number = request.path_params["phone"]
    early = await guarded(state, request, "rbm", number, state.rbm_tokens)
    if early is not None:
        return early
    bad = agent_error(state, request.query_params.get("agentId"))
    if bad is not None:
        return bad
    if not request.query_params.get("requestId"):
        return error(400, "requestId is required", "INVALID_ARGUMENT")
    state.request_ids[request.query_params["requestId"]] += 1
    state.asked[f"rbm:{number}"] += 1
    if reachable(state, number):
        return JSONResponse({"features": FEATURES})
    return error(404, "Requested entity was not found.", "NOT_FOUND")


async def batch_get(state: EmulatorState, request: Request) -> Response:
    early = await guarded(state, request, "rbm", "batch", state.rbm_tokens)
    if early is not None:
        return early
    try:
        body = await request.json()
        users = list(body["users"])
    except (ValueError, KeyError, TypeError):
        return error(400, "body must be {\"users\": [...], \"agentId\": ...}",
                     "INVALID_ARGUMENT")
    bad = agent_error(state, body.get("agentId"))
    if bad is not None:
        return bad
    if len(users) > 10_000 or len(set(users)) != len(users):
        return error(400, "up to 10,000 unique users", "INVALID_ARGUMENT")
    state.batch_sizes.append(len(users))
    for u in users:
        state.asked[f"batch:{u}"] += 1
    listed = [u for u in users if reachable(state, u)]
    # the reference: random-sample counts are 0 below 500 numbers
    sample = [u for u in users if state.sampled(u)] if len(users) >= 500 else []
    return JSONResponse({
        "reachableUsers": listed,
        "totalRandomSampleUserCount": len(sample),
        "reachableRandomSampleUserCount": sum(1 for u in sample if state.capable(u)),
    })
