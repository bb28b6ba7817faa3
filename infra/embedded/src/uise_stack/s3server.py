"""moto's S3 server with authentication: the embedded stack's object storage.

`python -m moto.server` answers anyone: whoever reaches its port lists, reads, writes and deletes
the schools' documents and the broker's log, and its `/moto-api` endpoints reset the data or
switch authentication off. This launcher serves moto's S3 application (S3 only, no other AWS
service) behind a gate, so that:

- every request is signed (AWS Signature V4, in the Authorization header or a presigned URL's
  query) by an access key this process knows; anonymous, SigV2, unknown-key, wrong-signature,
  stale (more than 15 minutes off) and expired-link requests are refused with S3's error codes;
- a declared payload hash (`x-amz-content-sha256`) must match the body, so a captured request
  cannot carry other bytes;
- `/moto-api/...` (reset, reset-auth, seed, dashboard) is refused, and so is an
  `x-moto-account-id` header (the account is the access key's);
- moto's own IAM check is on from the first request (INITIAL_NO_AUTH_ACTION_COUNT=0): each
  principal is an IAM user whose inline policy allows S3 on its own buckets only, so the services
  cannot touch the broker's log and the broker cannot read documents.

The principals come from a credentials file (JSON, mode 0600) that the stack writes with fresh
random keys for each run (`new_principals`, `write_credentials`); run standalone without one, the
launcher makes one. It binds a loopback address only: this is plain HTTP for one machine.

    python -m uise_stack.s3server --host 127.0.0.1 --port 9000 --credentials-file var/s3-credentials.json
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import ipaddress
import json
import logging
import os
import re
import secrets
import string
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

log = logging.getLogger("uise_stack.s3server")

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account: every principal lives in it
MAX_SKEW = timedelta(minutes=15)  # as S3: a signed request older or newer than this is refused
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # S3's own ceiling for X-Amz-Expires
DEFAULT_MAX_BODY = 256 * 1024 * 1024
AMZ_DATE = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                  "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AUTH_PART = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")
_KEY_ALPHABET = string.ascii_uppercase + string.digits


# --- principals and the credentials file ---------------------------------------------------------


@dataclass(frozen=True)
class S3Principal:
    """One IAM user of the embedded S3: its key pair and the buckets its policy allows."""

    name: str
    access_key: str
    secret_key: str
    buckets: tuple[str, ...] = field(default_factory=tuple)

    def policy(self) -> dict[str, Any]:
        resources = [arn for b in self.buckets for arn in (f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*")]
        return {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": resources}]}


def new_principal(name: str, buckets: Iterable[str]) -> S3Principal:
    """Fresh random keys from the OS's CSPRNG (moto's own key generator is a seedable PRNG)."""
    access_key = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    return S3Principal(name, access_key, secrets.token_urlsafe(30), tuple(buckets))


def new_principals(buckets_by_principal: dict[str, Iterable[str]]) -> dict[str, S3Principal]:
    return {name: new_principal(name, buckets) for name, buckets in buckets_by_principal.items()}


def write_credentials(path: Path, principals: dict[str, S3Principal]) -> None:
    """Write the principals (secrets included) readable by this user only: created 0600 and
    renamed into place, so the secret is never in a file others can read, even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {p.name: {"access_key": p.access_key, "secret_key": p.secret_key, "buckets": list(p.buckets)}
            for p in principals.values()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data, indent=2) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_credentials(path: Path) -> dict[str, S3Principal]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected an object of principals")
    out = {}
    for name, p in data.items():
        try:
            out[name] = S3Principal(name, str(p["access_key"]), str(p["secret_key"]),
                                    tuple(str(b) for b in p.get("buckets", ())))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: principal {name!r} needs access_key and secret_key") from exc
    return out


# --- the gate -----------------------------------------------------------------------------------


class Refused(Exception):
    """A request the gate refuses, with S3's status and error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_REASONS = {400: "Bad Request", 403: "Forbidden", 413: "Payload Too Large"}


def _parse_amz_date(value: str, what: str) -> datetime:
    try:
        return datetime.strptime(value, AMZ_DATE).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise Refused(403, "AccessDenied", f"{what} is not a date like 20260115T093000Z") from None


def _header(environ: dict[str, Any], name: str) -> str | None:
    lname = name.lower()
    if lname == "content-type":
        return environ.get("CONTENT_TYPE")
    if lname == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + lname.upper().replace("-", "_"))


def _raw_path(environ: dict[str, Any]) -> str:
    """The path as the client sent (and signed) it, before percent-decoding."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    parts = urlsplit(raw)
    path = parts.path if parts.scheme else raw.split("?", 1)[0]
    return path or "/"


class AuthGate:
    """WSGI middleware in front of moto's S3 app: see the module docstring for what it refuses."""

    def __init__(self, app: Callable, principals: dict[str, S3Principal], *,
                 max_body: int = DEFAULT_MAX_BODY, now: Callable[[], datetime] | None = None) -> None:
        self.app = app
        self.keys = {p.access_key: p for p in principals.values()}
        self.max_body = max_body
        self.now = now or (lambda: datetime.now(UTC))

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        try:
            self.admit(environ)
        except Refused as r:
            log.warning("refused %s %s: %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                        r.code, r.message)
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{r.code}</Code><Message>{escape(r.message)}</Message></Error>").encode()
            start_response(f"{r.status} {_REASONS.get(r.status, 'Error')}",
                           [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
            return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []
        return self.app(environ, start_response)

    def admit(self, environ: dict[str, Any]) -> None:
        """Return when the request may reach moto (perhaps rewritten); raise Refused otherwise."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api") or path == "/favicon.ico":
            raise Refused(403, "AccessDenied", "moto's control API is not served here")
        if "HTTP_X_MOTO_ACCOUNT_ID" in environ:
            raise Refused(403, "AccessDenied", "x-moto-account-id is not accepted: the account is the key's")
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if any(k in ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Algorithm") for k, _ in query):
            self.admit_presigned(environ, query)
            return
        auth = environ.get("HTTP_AUTHORIZATION")
        if not auth:
            raise Refused(403, "AccessDenied", "anonymous access is not allowed: sign the request (SigV4)")
        self.admit_signed(environ, auth)

    # -- Authorization header ----------------------------------------------------------------

    def admit_signed(self, environ: dict[str, Any], auth: str) -> None:
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise Refused(400, "InvalidRequest", "only AWS Signature Version 4 (AWS4-HMAC-SHA256) is accepted")
        parts = dict(_AUTH_PART.findall(auth))
        if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
            raise Refused(400, "AuthorizationHeaderMalformed", "expected Credential, SignedHeaders and Signature")
        principal, region = self._principal(parts["Credential"])
        amz_date = _header(environ, "x-amz-date")
        if not amz_date:
            raise Refused(403, "AccessDenied", "x-amz-date is required")
        signed_at = _parse_amz_date(amz_date, "x-amz-date")
        if abs(self.now() - signed_at) > MAX_SKEW:
            raise Refused(403, "RequestTimeTooSkewed", "the request's time differs from the server's by more than 15 minutes")
        signed_headers = parts["SignedHeaders"].split(";")
        if "host" not in signed_headers:
            raise Refused(400, "AuthorizationHeaderMalformed", "the host header must be signed")
        body = self._read_body(environ)
        declared = _header(environ, "x-amz-content-sha256")
        if declared is not None and declared != UNSIGNED_PAYLOAD:
            if not _HEX64.fullmatch(declared):
                # streaming (aws-chunked) payloads sign each chunk; nothing here sends them
                raise Refused(400, "InvalidRequest", f"x-amz-content-sha256 {declared!r} is not supported")
            if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), declared):
                raise Refused(400, "XAmzContentSHA256Mismatch", "the body does not hash to x-amz-content-sha256")
        query = environ.get("QUERY_STRING", "")
        url = _raw_path(environ) + (f"?{query}" if query else "")
        expected = _signature(principal, region, environ["REQUEST_METHOD"], url, amz_date,
                              {h: _header(environ, h) or "" for h in signed_headers}, body, presigned=False)
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise Refused(403, "SignatureDoesNotMatch", "the signature does not match the request and key")

    # -- presigned URL -----------------------------------------------------------------------

    def admit_presigned(self, environ: dict[str, Any], query: list[tuple[str, str]]) -> None:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            raise Refused(403, "AccessDenied", "presigned URLs are accepted for GET and HEAD only")
        if environ.get("HTTP_AUTHORIZATION"):
            raise Refused(400, "InvalidArgument", "a request is signed in the header or the query, not both")
        params = dict(query)
        missing = [p for p in PRESIGN_PARAMS[:-1] if p not in params]
        if missing or params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
            raise Refused(400, "AuthorizationQueryParametersError",
                          f"a presigned URL needs AWS4-HMAC-SHA256 and {', '.join(missing) or 'its parameters'}")
        principal, region = self._principal(params["X-Amz-Credential"])
        signed_at = _parse_amz_date(params["X-Amz-Date"], "X-Amz-Date")
        try:
            expires = int(params["X-Amz-Expires"])
        except ValueError:
            raise Refused(400, "AuthorizationQueryParametersError", "X-Amz-Expires is not a number") from None
        if not 1 <= expires <= MAX_PRESIGN_SECONDS:
            raise Refused(400, "AuthorizationQueryParametersError", f"X-Amz-Expires must be 1..{MAX_PRESIGN_SECONDS}")
        now = self.now()
        if signed_at - now > MAX_SKEW:
            raise Refused(403, "AccessDenied", "the link is dated in the future")
        if now > signed_at + timedelta(seconds=expires):
            raise Refused(403, "AccessDenied", "Request has expired")
        signed_headers = params["X-Amz-SignedHeaders"].split(";")
        # The canonical query is the raw one minus the signature, as the client encoded it.
        raw_query = environ.get("QUERY_STRING", "")
        unsigned = "&".join(p for p in raw_query.split("&") if not p.startswith("X-Amz-Signature="))
        expected = _signature(principal, region, environ["REQUEST_METHOD"], f"{_raw_path(environ)}?{unsigned}",
                              params["X-Amz-Date"], {h: _header(environ, h) or "" for h in signed_headers},
                              b"", presigned=True)
        if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
            raise Refused(403, "SignatureDoesNotMatch", "the signature does not match the link and key")
        self._resign_for_moto(environ, principal, region, raw_query)

    def _resign_for_moto(self, environ: dict[str, Any], principal: S3Principal, region: str, raw_query: str) -> None:
        """moto checks only header signatures: hand it the verified link's request signed in the
        header with the same key, so its IAM policy check judges the link's signer."""
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        rest = "&".join(p for p in raw_query.split("&") if p and p.split("=", 1)[0] not in PRESIGN_PARAMS)
        path = _raw_path(environ)
        host = environ.get("HTTP_HOST", "")
        req = AWSRequest(method=environ["REQUEST_METHOD"], url=f"http://{host}{path}" + (f"?{rest}" if rest else ""),
                         headers={"host": host})
        S3SigV4Auth(Credentials(principal.access_key, principal.secret_key), "s3", region).add_auth(req)
        environ["QUERY_STRING"] = rest
        environ["RAW_URI"] = environ["REQUEST_URI"] = path + (f"?{rest}" if rest else "")
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
            environ["HTTP_" + name.upper().replace("-", "_")] = req.headers[name]

    # -- shared ------------------------------------------------------------------------------

    def _principal(self, credential: str) -> tuple[S3Principal, str]:
        scope = credential.split("/")
        if len(scope) != 5 or scope[3] != "s3" or scope[4] != "aws4_request":
            raise Refused(400, "AuthorizationHeaderMalformed", "the credential scope must be <key>/<date>/<region>/s3/aws4_request")
        principal = self.keys.get(scope[0])
        if principal is None:
            raise Refused(403, "InvalidAccessKeyId", "the access key is not known here")
        return principal, scope[2]

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise Refused(400, "InvalidRequest", "Content-Length is not a number") from None
        if length > self.max_body:
            raise Refused(413, "EntityTooLarge", f"bodies above {self.max_body} bytes are not accepted")
        stream = environ["wsgi.input"]
        if length:
            body = stream.read(length)
        elif environ.get("wsgi.input_terminated"):  # chunked: read to its end, within the cap
            body = stream.read(self.max_body + 1)
            if len(body) > self.max_body:
                raise Refused(413, "EntityTooLarge", f"bodies above {self.max_body} bytes are not accepted")
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return body


def _signature(principal: S3Principal, region: str, method: str, url: str, amz_date: str,
               headers: dict[str, str], body: bytes, *, presigned: bool) -> str:
    """The SigV4 signature S3 expects for this request, computed by botocore's S3 signers (the
    canonicalisation moto itself checks with: raw path, raw query pairs sorted, signed headers)."""
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = Credentials(principal.access_key, principal.secret_key)
    auth = (S3SigV4QueryAuth if presigned else S3SigV4Auth)(credentials, "s3", region)
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    req.context["timestamp"] = amz_date
    canonical = auth.canonical_request(req)
    return auth.signature(auth.string_to_sign(req, canonical), req)


# --- moto ---------------------------------------------------------------------------------------


def moto_s3_app(principals: dict[str, S3Principal]) -> Callable:
    """moto's S3 application with IAM checks from the first request, the principals created as
    IAM users with their policies, and their buckets created."""
    # Read by moto.settings at import; set on the module too in case moto was imported already.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    from moto import settings
    from moto.iam.models import iam_backends
    from moto.moto_server.werkzeug_app import create_backend_app
    from moto.s3.models import s3_backends

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    iam = iam_backends[ACCOUNT_ID]["aws"]
    s3 = s3_backends[ACCOUNT_ID]["aws"]
    for p in principals.values():
        iam.create_user(REGION, p.name)
        iam.put_user_policy(p.name, "buckets", json.dumps(p.policy()))
        key = iam.create_access_key(p.name)
        # moto makes its own key pair; ours replaces it (the key is indexed by its id).
        del iam.access_keys[key.physical_resource_id]
        key.access_key_id, key.secret_access_key = p.access_key, p.secret_key
        iam.access_keys[key.physical_resource_id] = key
        for bucket in p.buckets:
            if bucket not in s3.buckets:
                s3.create_bucket(bucket, REGION)
    return create_backend_app("s3")


def serve(host: str, port: int, principals: dict[str, S3Principal], max_body: int = DEFAULT_MAX_BODY,
          access_log: bool = False) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    class Handler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # Refusals and errors only (every request with --access-log): the broker's log lives
            # here, and a line per request cost this server a sixth of its time under load.
            if not access_log and str(code).isdigit() and int(code) < 400:
                return
            # The query is left out: a presigned URL's signature is a working link until it expires.
            self.log("info", '"%s %s" %s %s', self.command, self.path.split("?", 1)[0], code, size)

    app = AuthGate(moto_s3_app(principals), principals, max_body=max_body)
    server = make_server(host, port, app, threaded=True, request_handler=Handler)
    log.info("S3 on http://%s:%d for %s", host, port, ", ".join(sorted(principals)))
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uise_stack.s3server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--credentials-file", type=Path, required=True,
                        help="principals JSON (mode 0600); made with one principal when missing")
    parser.add_argument("--bucket", action="append", default=[],
                        help="with a new credentials file: the buckets its one principal may use")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY)
    parser.add_argument("--access-log", action="store_true", help="log every request, not only refusals and errors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            parser.error(f"--host {args.host}: only a loopback address is allowed (plain HTTP, one machine)")
    except ValueError:
        parser.error(f"--host {args.host}: give an IP address such as 127.0.0.1")
    path: Path = args.credentials_file
    if path.exists():
        if path.stat().st_mode & 0o077:
            parser.error(f"{path}: readable by others (mode {path.stat().st_mode & 0o777:o}); chmod 600 it")
        principals = read_credentials(path)
    else:
        principals = new_principals({"uise": args.bucket})
        write_credentials(path, principals)
    serve(args.host, args.port, principals, args.max_body_bytes, args.access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
