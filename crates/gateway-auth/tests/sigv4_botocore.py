#!/usr/bin/env python3
"""Signs one request with botocore, as the AWS CLI and boto3 sign for execute-api.

The IAM authorization tests send what this prints to a real server and expect it
to be accepted. It reads a JSON object on standard input:

    {"method": "GET", "url": "http://127.0.0.1:PORT/path?query",
     "headers": [["name", "value"], ...], "body_base64": "...",
     "access_key": "...", "secret_key": "...", "token": null or "...",
     "region": "us-east-1", "amz_date": "20250301T120000Z",
     "mode": "header" or "presign", "expires": 300,
     "unsigned_payload": false}

and prints {"url": ..., "headers": [[name, value], ...]}: the URL to request (a
presigned URL carries the signature in its query) and the headers botocore's
request holds after signing. `amz_date` freezes botocore's clock so the signature
is made for the instant the server's clock is set to.
"""

import base64
import datetime
import json
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TIMESTAMP = "%Y%m%dT%H%M%SZ"


def frozen_clock(instant):
    """Makes botocore read `instant` as the current time."""
    # botocore >= 1.33 reads the time through `get_current_datetime`; older
    # releases call `datetime.datetime.utcnow()`.
    if hasattr(botocore.auth, "get_current_datetime"):
        return mock.patch.object(
            botocore.auth, "get_current_datetime", lambda *args, **kwargs: instant
        )

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return instant

    return mock.patch.object(botocore.auth.datetime, "datetime", Frozen)


def main():
    spec = json.load(sys.stdin)
    instant = datetime.datetime.strptime(spec["amz_date"], TIMESTAMP)
    request = AWSRequest(
        method=spec["method"],
        url=spec["url"],
        data=base64.b64decode(spec.get("body_base64", "")),
    )
    for name, value in spec.get("headers", []):
        request.headers[name] = value
    if spec.get("unsigned_payload"):
        # What botocore does for operations that turn payload signing off.
        request.context["payload_signing_enabled"] = False
    credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("token"))
    if spec.get("mode", "header") == "presign":
        signer = botocore.auth.SigV4QueryAuth(
            credentials, "execute-api", spec["region"], expires=spec.get("expires", 300)
        )
    else:
        signer = botocore.auth.SigV4Auth(credentials, "execute-api", spec["region"])
    with frozen_clock(instant):
        signer.add_auth(request)
    json.dump(
        {
            "url": request.url,
            "headers": [[name, value] for name, value in request.headers.items()],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
