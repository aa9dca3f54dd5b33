"""A validating admission webhook on 127.0.0.1 that fails a share of one user's writes, so that the
real kube-apiserver (with `failurePolicy: Fail`) answers that user 500 Internal Error.

    with FaultWebhook(pki, workdir, user="system:serviceaccount:ns:sa", rate=0.05) as hook:
        kubectl apply -f - <<< hook.configuration()
        ... hook.failed counts the writes it failed ...

Its serving certificate is issued by the control plane's CA (kubesim.real.certs). `rate` can be
changed at any time; 0 lets everything through.
"""

from __future__ import annotations

import base64
import json
import random
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubesim.real.certs import Pki, issue_serving

NAME = "faults.kubesim.test"


class FaultWebhook:
    def __init__(self, pki: Pki, workdir: Path, *, user: str, rate: float = 0.0, seed: int = 11) -> None:
        self.pki = pki
        self.user = user
        self.rate = rate
        self.random = random.Random(seed)
        self.seen = 0  # the user's writes the webhook was asked about
        self.failed = 0  # of them, answered 500
        self._lock = threading.Lock()
        pair = issue_serving(pki, workdir, "fault-webhook")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(pair.cert), str(pair.key))
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                review: dict[str, Any] = json.loads(body)
                request = review.get("request") or {}
                if hook.decide(request):
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "response": {"uid": request.get("uid", ""), "allowed": True},
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="fault-webhook", daemon=True)
        self._thread.start()

    def decide(self, request: dict[str, Any]) -> bool:
        """Whether to fail this admission request (only the user's, at `rate`)."""
        if (request.get("userInfo") or {}).get("username") != self.user:
            return False
        with self._lock:
            self.seen += 1
            fail = self.random.random() < self.rate
            self.failed += fail
        return fail

    def configuration(self) -> dict[str, Any]:
        """The ValidatingWebhookConfiguration: every create and update by `user` goes through the hook."""
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": NAME},
            "webhooks": [
                {
                    "name": NAME,
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 2,
                    "clientConfig": {
                        "url": f"https://127.0.0.1:{self.port}/validate",
                        "caBundle": base64.b64encode(self.pki.ca.cert.read_bytes()).decode(),
                    },
                    "rules": [
                        {
                            "apiGroups": ["*"],
                            "apiVersions": ["*"],
                            "resources": ["*/*"],
                            "operations": ["CREATE", "UPDATE"],
                            "scope": "*",
                        }
                    ],
                    "matchConditions": [
                        {"name": "the-user", "expression": f"request.userInfo.username == {json.dumps(self.user)}"}
                    ],
                }
            ],
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)

    def __enter__(self) -> FaultWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
