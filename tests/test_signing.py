"""SigV4 verification against requests signed by botocore itself."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from automl.errors import ValidationException
from automl.server.protocol import WireError
from automl.server.signing import SignedRequest, access_keys, verify

KEYS = {"AKIDONE": "secret-one"}


def signed(url: str, body: bytes, secret: str = "secret-one", key_id: str = "AKIDONE") -> SignedRequest:
    request = AWSRequest(method="POST", url=url, data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListAutoMLJobs"})
    SigV4Auth(Credentials(key_id, secret), "sagemaker", "eu-west-1").add_auth(request)
    parts = urlsplit(url)
    headers = {k.lower(): v for k, v in request.headers.items()} | {"host": parts.netloc}
    return SignedRequest("POST", parts.path, parts.query, headers, body)


def test_a_botocore_signature_verifies_and_any_change_breaks_it():
    request = signed("http://127.0.0.1:8080/endpoints/my-ep/invocations?x=1&a=b", b"1,2,3\n")
    assert verify(request, KEYS) == "AKIDONE"
    with pytest.raises(WireError) as caught:
        verify(SignedRequest(request.method, request.raw_path, request.raw_query, request.headers, b"1,2,4\n"), KEYS)
    assert (caught.value.code, caught.value.status) == ("InvalidSignatureException", 403)
    with pytest.raises(WireError) as caught:
        verify(signed("http://127.0.0.1:8080/", b"{}", secret="wrong"), KEYS)
    assert caught.value.code == "InvalidSignatureException"
    with pytest.raises(WireError) as caught:
        verify(signed("http://127.0.0.1:8080/", b"{}", key_id="AKIDOTHER"), KEYS)
    assert caught.value.code == "UnrecognizedClientException"


def test_an_old_signature_is_expired():
    request = signed("http://127.0.0.1:8080/", b"{}")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=16)
    with pytest.raises(WireError) as caught:
        verify(request, KEYS, now=later)
    assert caught.value.message.startswith("Signature expired: ")


def test_access_keys_from_the_setting_or_a_file(tmp_path):
    assert access_keys("") == {}
    assert access_keys("A:x, B:y") == {"A": "x", "B": "y"}
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nAKID1:s1\n\nAKID2:s2\n")
    assert access_keys(f"file://{keys}") == {"AKID1": "s1", "AKID2": "s2"}
    with pytest.raises(ValidationException) as caught:
        access_keys("AKIDONLY")
    assert caught.value.message.startswith("AUTOML_ACCESS_KEYS: entry 1 must be ACCESS_KEY_ID:SECRET")
