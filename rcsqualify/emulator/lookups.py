"""MNP/HLR look-up services: a generic one, and look-alikes of Twilio Lookup v2 and
hlr-lookups.com at their own paths, with their auth checks and JSON (public docs).

Per number the serving network is the seeded MCC-MNC of ``EmulatorState.mccmnc`` (or the
numbers file's); a numbers-file operator ``unknown`` gets the service's documented
"unknown number" answer and ``error`` its error inside a 200:

- generic ``/mnp/lookup``: JSON 404; ``{"status": 1, "error_text": "Busy"}``;
- Twilio ``/v2/PhoneNumbers/{n}``: ``"valid": false``;
  ``line_type_intelligence.error_code`` 60607;
- hlr-lookups ``/api/v2/hlr-lookup``: ``connectivity_status`` INVALID_MSISDN;
  ``UNDETERMINED``.

Twilio: HTTP Basic (Account SID : auth token), 401 with Twilio's error object (code
20003) otherwise; Line Type Intelligence only with ``Fields=line_type_intelligence``.
hlr-lookups.com: ``X-Digest-Key``, ``X-Digest-Timestamp`` (within ``hlr_max_skew`` s) and
``X-Digest-Signature`` = hex HMAC-SHA256(secret, "/hlr-lookup" + timestamp + "POST" +
body) checked on the raw body, as the service's SDKs sign; 401 ``{"errors": […]}``
otherwise (the service's error body shape is assumed from its SDK examples).
The emulator computes the signature itself (no client code: it must not test the client
against itself).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rcsqualify.emulator.common import error, guarded
from rcsqualify.emulator.state import ERROR, UNKNOWN, EmulatorState

NETWORKS = {"20801": "Orange France", "20802": "Orange France", "20810": "SFR",
            "20815": "Free Mobile", "20820": "Bouygues Telecom"}


async def generic(state: EmulatorState, request: Request) -> Response:
    number = request.query_params.get("msisdn", "")
    early = await guarded(state, request, "mnp", number, None)
    if early is not None:
        return early
    if state.config.mnp_token and request.headers.get(
            "authorization") != f"Bearer {state.config.mnp_token}":
        return error(401, "bad token", "UNAUTHENTICATED")
    state.asked[f"mnp:{number}"] += 1
    if state.config.mnp_body is not None:
        return JSONResponse(state.config.mnp_body)
    code = state.mccmnc(number)
    if code is None or code in ("", UNKNOWN):
        return error(404, "unknown number", "NOT_FOUND")
    if code == ERROR:
        return JSONResponse({"status": 1, "error_text": "Busy"})
    return JSONResponse({"msisdn": number, "mccmnc": code, "ported": code != "20801"})


# -- Twilio Lookup v2 ----------------------------------------------------------------------

def _twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": status}, status_code=status,
                        headers={"WWW-Authenticate": 'Basic realm="Twilio API"'}
                        if status == 401 else None)


def _line_type(code: str | None) -> dict[str, Any]:
    if code == ERROR:
        return {"error_code": 60607, "mobile_country_code": None,
                "mobile_network_code": None, "carrier_name": None, "type": None}
    code = code or ""
    return {"error_code": None, "mobile_country_code": code[:3],
            "mobile_network_code": code[3:], "carrier_name": NETWORKS.get(code, "Unknown"),
            "type": "mobile"}


async def twilio(state: EmulatorState, request: Request) -> Response:
    number = request.path_params["number"]
    early = await guarded(state, request, "mnp", number, None)
    if early is not None:
        return early
    expected = base64.b64encode(
        f"{state.config.twilio_user}:{state.config.twilio_password}".encode()).decode()
    if not hmac.compare_digest(request.headers.get("authorization", ""), f"Basic {expected}"):
        return _twilio_error(401, 20003, "Authenticate")
    state.asked[f"twilio:{number}"] += 1
    if state.config.twilio_body is not None:
        return JSONResponse(state.config.twilio_body)
    fields = request.query_params.get("Fields", "").split(",")
    code = state.mccmnc(number)
    valid = number.startswith("+33") and code not in (None, "", UNKNOWN)
    body: dict[str, Any] = {
        "calling_country_code": "33", "country_code": "FR", "phone_number": number,
        "national_format": "0" + number[3:] if number.startswith("+33") else number,
        "valid": valid,
        "validation_errors": [] if valid else ["INVALID_BUT_POSSIBLE"],
        "caller_name": None, "sim_swap": None, "call_forwarding": None,
        "line_status": None,
        "line_type_intelligence": _line_type(code) if valid and "line_type_intelligence"
        in fields else None,
        "identity_match": None, "reassigned_number": None, "sms_pumping_risk": None,
        "phone_number_quality_score": None, "pre_fill": None,
        "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{number}",
    }
    return JSONResponse(body)


# -- hlr-lookups.com -----------------------------------------------------------------------

def hlr_signature(secret: str, path: str, timestamp: str, method: str, body: bytes) -> str:
    message = path.encode() + timestamp.encode() + method.encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _hlr_refused(message: str) -> JSONResponse:
    return JSONResponse({"errors": [message]}, status_code=401)


async def hlr_lookups(state: EmulatorState, request: Request) -> Response:
    raw = await request.body()
    try:
        number = str(json.loads(raw)["msisdn"])
    except (ValueError, KeyError, TypeError):
        number = ""
    early = await guarded(state, request, "mnp", number, None)
    if early is not None:
        return early
    cfg = state.config
    stamp = request.headers.get("x-digest-timestamp", "")
    if request.headers.get("x-digest-key") != cfg.hlr_key:
        return _hlr_refused("Invalid API key")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > cfg.hlr_max_skew:
        return _hlr_refused("Invalid or expired timestamp")
    expected = hlr_signature(cfg.hlr_secret, "/hlr-lookup", stamp, "POST", raw)
    if not hmac.compare_digest(request.headers.get("x-digest-signature", ""), expected):
        return _hlr_refused("Invalid digest signature")
    if not number:
        return JSONResponse({"errors": ["Invalid value for field 'msisdn'"]},
                            status_code=400)
    state.asked[f"hlr:{number}"] += 1
    if cfg.hlr_body is not None:
        return JSONResponse(cfg.hlr_body)
    code = state.mccmnc(number)
    status = ("INVALID_MSISDN" if code in (None, "", UNKNOWN) else
              "UNDETERMINED" if code == ERROR else "CONNECTED")
    network = code if status == "CONNECTED" else ("20801" if status == "UNDETERMINED"
                                                  else None)
    return JSONResponse({
        "id": secrets.token_hex(6), "msisdn": number, "connectivity_status": status,
        "mccmnc": network, "mcc": network[:3] if network else None,
        "mnc": network[3:] if network else None, "imsi": "***************",
        "msin": "**********", "msc": "************",
        "original_network_name": NETWORKS.get(network or ""),
        "original_country_name": "France", "original_country_code": "FR",
        "original_country_prefix": "+33",
        "is_ported": bool(network and network != "20801"),
        "ported_network_name": None, "ported_country_name": None,
        "ported_country_code": None, "ported_country_prefix": None,
        "is_roaming": False, "roaming_network_name": None, "roaming_country_name": None,
        "roaming_country_code": None, "roaming_country_prefix": None,
        "cost": "0.0100", "timestamp": time.strftime("%Y-%m-%d %H:%M:%S.000+0000",
                                                    time.gmtime()),
        "storage": "SYNC-API-EMULATOR", "route": "IP1", "processing_status": "COMPLETED",
        "error_code": None, "data_source": "LIVE_HLR",
    })
