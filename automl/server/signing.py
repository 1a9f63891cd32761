"""SigV4: accepted from any credentials unless access keys are configured, then verified as AWS does.

AUTOML_ACCESS_KEYS names the keys: `AKID:SECRET[,AKID2:SECRET2]`, or `file:///path` to a file with one
`AKID:SECRET` per line (`#` comments allowed). The signature is recomputed from the request as received (the
canonical request of AWS's Signature Version 4), for any region and the `sagemaker` signing name, and the
request's X-Amz-Date must be within 15 minutes of this machine's clock.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from automl.errors import field_error
from automl.server.protocol import WireError

ALGORITHM = "AWS4-HMAC-SHA256"
SKEW = dt.timedelta(minutes=15)
AUTHORIZATION = re.compile(r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
                           r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$")


def access_keys(raw: str | None = None) -> dict[str, str]:
    """The configured keys (access key id -> secret); empty when none are configured."""
    raw = (os.environ.get("AUTOML_ACCESS_KEYS", "") if raw is None else raw).strip()
    if not raw:
        return {}
    if raw.startswith("file://"):
        path = Path(raw[len("file://"):]).expanduser()
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise field_error("AUTOML_ACCESS_KEYS", "must name a readable file of AKID:SECRET lines",
                              str(exc)) from None
    else:
        lines = raw.split(",")
    keys = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key_id, sep, secret = line.partition(":")
        if not sep or not key_id.strip() or not secret.strip():
            raise field_error("AUTOML_ACCESS_KEYS", f"entry {number} must be ACCESS_KEY_ID:SECRET", line[:20] + "...")
        keys[key_id.strip()] = secret.strip()
    return keys


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers, as the server received it."""

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


def verify(request: SignedRequest, keys: dict[str, str], now: dt.datetime | None = None) -> str:
    """Raise WireError unless `request` is signed by one of `keys`; return the access key id that signed it."""
    header = request.headers.get("authorization")
    if not header:
        raise WireError("MissingAuthenticationTokenException", "Missing Authentication Token: this server checks "
                        "SigV4 signatures (AUTOML_ACCESS_KEYS is set)", 403)
    match = AUTHORIZATION.match(header)
    if match is None:
        raise WireError("IncompleteSignatureException", f"the Authorization header is not a {ALGORITHM} "
                        "Credential=..., SignedHeaders=..., Signature=... value", 400)
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise WireError("IncompleteSignatureException", "Credential must be AKID/date/region/service/aws4_request")
    key_id, day, region, service, _ = parts
    if key_id not in keys:
        raise WireError("UnrecognizedClientException", "The security token included in the request is invalid: "
                        f"access key {key_id!r} is not one of AUTOML_ACCESS_KEYS", 403)
    stamp = request.headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise WireError("IncompleteSignatureException", f"X-Amz-Date must be YYYYMMDDTHHMMSSZ; got {stamp!r}") from None
    now = now or dt.datetime.now(dt.timezone.utc)
    if abs(now - signed_at) > SKEW:
        raise WireError("InvalidSignatureException", f"Signature expired: {stamp} is more than 15 minutes from this "
                        f"server's time {now:%Y%m%dT%H%M%SZ}", 403)
    if day != stamp[:8]:
        raise WireError("InvalidSignatureException", "the Credential's date is not the day of X-Amz-Date", 403)
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise WireError("InvalidSignatureException", "SignedHeaders must include host", 403)
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, _sha256(canonical_request(request, signed).encode())])
    key = _signing_key(keys[key_id], day, region, service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise WireError("InvalidSignatureException", "The request signature we calculated does not match the "
                        "signature you provided. Check your AWS Secret Access Key and signing method.", 403)
    return key_id


def canonical_request(request: SignedRequest, signed: list[str]) -> str:
    headers = "".join(f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed)
    payload = request.headers.get("x-amz-content-sha256") or _sha256(request.body)
    return "\n".join([request.method, quote(request.raw_path or "/", safe="/~"), _canonical_query(request.raw_query),
                      headers, ";".join(signed), payload])


def _canonical_query(raw: str) -> str:
    pairs = sorted(tuple(p.partition("=")[::2]) for p in raw.split("&") if p)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
