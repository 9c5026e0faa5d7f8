"""A WSGI layer in front of moto: the call log, injected throttling, the admin API, and services
moto lacks entirely (ds-data), which extensions register as handlers. Authorizers (iam_auth.py) may refuse a
call before any handler or moto sees it.

Admin API (JSON):
  GET    /lab-api/calls    every call answered since the last reset (throttled: true for injected throttling,
                           denied: true for a call an IAM user's policies do not allow, iam_auth.py)
  DELETE /lab-api/calls    reset the call log
  GET    /lab-api/faults   the injected faults;  POST merges a JSON object;  DELETE clears them
  GET    /lab-api/knobs    the delays;  POST merges a JSON object, e.g. {"join_seconds": 20}
  GET    /lab-api/endpoints  every endpoint name of a cluster or instance with a server: its address and port
"""

import collections
import io
import json
import re
import threading
import uuid
from urllib.parse import parse_qs

import botocore.session

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/([^/?]+)")


class Request:
    """What a handler gets: the parsed parts of one AWS request."""

    def __init__(self, environ, body, service, operation):
        self.environ = environ
        self.method = environ["REQUEST_METHOD"]
        self.path = environ.get("PATH_INFO", "/")
        self.query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        self.headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        self.body = body
        self.service = service
        self.operation = operation

    def json(self):
        return json.loads(self.body or b"{}")


def json_response(status, payload, headers=None):
    body = json.dumps(payload, default=str).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


class LabMiddleware:
    def __init__(self, app, lab):
        self.app = app
        self.lab = lab
        self.handlers = {}  # signing name -> callable(Request) -> (status, headers, body)
        self.fault_checks = {}  # fault key -> callable(value) -> None or a problem
        self.authorizers = []  # callable(Request) -> None to let the call through, or the refusal (iam_auth.py)
        self._models = {}
        self._session = botocore.session.get_session()
        # Calls seen per service while throttled: the throttle fault answers exactly its share of them.
        self._throttle_counts = collections.Counter()
        self._throttle_lock = threading.Lock()

    def register(self, service, handler):
        self.handlers[service] = handler

    def authorize(self, authorizer):
        """authorizer(Request) -> None, or (status, headers, body) answering the call instead of the service."""
        self.authorizers.append(authorizer)

    def validate_fault(self, key, check):
        """check(value) -> None, or why the value cannot be: POST /lab-api/faults then answers 400."""
        self.fault_checks[key] = check

    # --- identification ---------------------------------------------------------------

    def _model(self, service):
        if service not in self._models:
            try:
                self._models[service] = self._session.get_service_model(service)
            except Exception:  # an unknown signing name: leave it to moto
                self._models[service] = None
        return self._models[service]

    def identify(self, environ, body):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        match = _CREDENTIAL_SCOPE.search(auth)
        if not match:
            return None, None
        service = match.group(1)
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return service, target.rsplit(".", 1)[-1]
        path = environ.get("PATH_INFO", "/")
        rpc = _RPC_V2_PATH.match(path)
        if rpc:
            return service, rpc.group(1)
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            action = parse_qs(body.decode(errors="replace")).get("Action")
            if action:
                return service, action[-1]
        action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
        if action:
            return service, action[-1]
        return service, self._rest_operation(service, environ["REQUEST_METHOD"], path)

    def _rest_operation(self, service, method, path):
        model = self._model(service)
        if model is None:
            return "Unknown"
        for name in model.operation_names:
            http = model.operation_model(name).http
            uri = http.get("requestUri", "/").split("?", 1)[0]
            pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(uri)) + "/?$"
            if http.get("method") == method and re.match(pattern, path):
                return name
        return "Unknown"

    # --- errors in each protocol's shape ----------------------------------------------

    def error(self, service, code, message, status=400):
        model = self._model(service)
        protocol = model.protocol if model else "json"
        request_id = str(uuid.uuid4())
        if protocol == "ec2":
            body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                    f"<RequestID>{request_id}</RequestID></Response>")
            return status, {"Content-Type": "text/xml"}, body.encode()
        if protocol == "query":
            body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
                    f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
            return status, {"Content-Type": "text/xml"}, body.encode()
        headers = {"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id,
                   "Content-Type": "application/x-amz-json-1.1"}
        return status, headers, json.dumps({"__type": code, "message": message, "Message": message}).encode()

    def throttling_error(self, service):
        model = self._model(service)
        protocol = model.protocol if model else "json"
        if protocol == "ec2":
            return self.error(service, "RequestLimitExceeded", "Request limit exceeded.", 503)
        if protocol == "query":
            return self.error(service, "Throttling", "Rate exceeded", 400)
        return self.error(service, "ThrottlingException", "Rate exceeded", 429 if protocol == "rest-json" else 400)

    # --- WSGI -------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path.startswith("/lab-api/"):
            return self._send(start_response, *self.admin(environ, path))
        if path.startswith("/moto-api/"):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        service, operation = self.identify(environ, body)
        if service is None:
            return self.app(environ, start_response)
        if self._throttled(service):
            result = self.throttling_error(service)
            self.lab.calls.record(service, operation, result[0], throttled=True)
            return self._send(start_response, *result)
        refused = self._refused(Request(environ, body, service, operation))
        if refused:
            self.lab.calls.record(service, operation, refused[0], denied=True)
            return self._send(start_response, *refused)
        handler = self.handlers.get(service)
        if handler is not None:
            try:
                result = handler(Request(environ, body, service, operation))
            except LabAPIError as exc:
                result = self.error(service, exc.code, exc.message, exc.status)
            self.lab.calls.record(service, operation, result[0])
            return self._send(start_response, *result)
        statuses = []

        def recording_start_response(status, headers, exc_info=None):
            statuses.append(int(status.split()[0]))
            return start_response(status, headers, exc_info)

        response = self.app(environ, recording_start_response)
        self.lab.calls.record(service, operation, statuses[0] if statuses else 0)
        return response

    def _refused(self, request):
        """The first authorizer's refusal, or None (iam_auth.py refuses what an IAM user's policies do not allow)."""
        for check in self.authorizers:
            answer = check(request)
            if answer:
                return answer
        return None

    def _throttled(self, service):
        """The fault's share of the service's calls, spread evenly (at 30%: the 4th, 7th, 10th ...), not drawn at
        random: a service a run calls a handful of times is throttled every time, not by chance."""
        percent = float((self.lab.faults.get("throttle") or {}).get(service, 0) or 0)
        if not percent:
            return False
        with self._throttle_lock:
            seen = self._throttle_counts[service]
            self._throttle_counts[service] = seen + 1
        return int((seen + 1) * percent // 100) > int(seen * percent // 100)

    @staticmethod
    def _send(start_response, status, headers, body):
        reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
                  429: "Too Many Requests",
                  500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Status")
        start_response(f"{status} {reason}", list(headers.items()) + [("Content-Length", str(len(body)))])
        return [body]

    def admin(self, environ, path):
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        if path == "/lab-api/calls":
            if method == "DELETE":
                self.lab.calls.reset()
            return json_response(200, {"calls": self.lab.calls.snapshot()})
        if path == "/lab-api/faults":
            if method == "DELETE":
                self.lab.faults.reset()
            elif method == "POST":
                refused = [p for p in (self.fault_checks[k](v) for k, v in payload.items() if k in self.fault_checks) if p]
                if refused:
                    return json_response(400, {"error": "; ".join(refused)})
                self.lab.faults.update(payload)
            return json_response(200, self.lab.faults.snapshot())
        if path == "/lab-api/knobs":
            if method == "POST":
                unknown = set(payload) - set(self.lab.knobs)
                if unknown:
                    return json_response(400, {"error": f"unknown knobs {sorted(unknown)}; known: {sorted(self.lab.knobs)}"})
                self.lab.knobs.update({k: float(v) for k, v in payload.items()})
            return json_response(200, self.lab.knobs)
        if path == "/lab-api/endpoints" and method == "GET":
            from . import rds

            return json_response(200, {"endpoints": rds.endpoints()})
        return json_response(404, {"error": f"no such lab API: {path}"})


class LabAPIError(Exception):
    """Raised by handlers to answer with an AWS error of the service's protocol."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
