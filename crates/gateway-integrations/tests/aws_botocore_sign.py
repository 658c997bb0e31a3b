#!/usr/bin/env python3
"""Signs one request with botocore's SigV4 signer at a fixed time.

The Rust tests use it as the reference their signatures must equal. It reads a JSON
object on standard input:

    {"method": "POST", "url": "http://host:port/path?query",
     "headers": [["name", "value"], ...], "body_base64": "...",
     "access_key": "...", "secret_key": "...", "token": null or "...",
     "service": "lambda", "region": "us-east-1", "amz_date": "20231114T221320Z"}

and prints {"authorization": ..., "canonical_request": ..., "headers": [[name, value]...]}
with the headers botocore's request holds after signing. `amz_date` freezes botocore's
clock, so the signature is computed for the same instant as the one it is compared
with. S3 is signed with `S3SigV4Auth`, every other service with `SigV4Auth`, as
botocore chooses.
"""

import base64
import datetime
import json
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"


def frozen_clock(instant):
    """Makes botocore's signer read `instant` as the current time."""
    # botocore >= 1.33 reads the time through `get_current_datetime`; older
    # releases call `datetime.datetime.utcnow()` directly.
    if hasattr(botocore.auth, "get_current_datetime"):
        return mock.patch.object(
            botocore.auth, "get_current_datetime", lambda *args, **kwargs: instant
        )

    class FrozenDateTime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return instant

    return mock.patch.object(botocore.auth.datetime, "datetime", FrozenDateTime)


def main():
    spec = json.load(sys.stdin)
    instant = datetime.datetime.strptime(spec["amz_date"], SIGV4_TIMESTAMP)
    request = AWSRequest(
        method=spec["method"],
        url=spec["url"],
        data=base64.b64decode(spec["body_base64"]),
    )
    # HTTPHeaders appends on assignment, so repeated headers stay repeated.
    for name, value in spec["headers"]:
        request.headers[name] = value
    credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("token"))
    signer_class = botocore.auth.S3SigV4Auth if spec["service"] == "s3" else botocore.auth.SigV4Auth
    signer = signer_class(credentials, spec["service"], spec["region"])
    with frozen_clock(instant):
        signer.add_auth(request)
    if request.headers["X-Amz-Date"] != spec["amz_date"]:
        sys.exit(
            f"botocore signed at {request.headers['X-Amz-Date']}, not {spec['amz_date']}: "
            "freezing its clock failed"
        )
    json.dump(
        {
            "authorization": request.headers["Authorization"],
            "canonical_request": signer.canonical_request(request),
            "headers": [[name, value] for name, value in request.headers.items()],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
