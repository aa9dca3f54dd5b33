"""Hand-written Prometheus counters (text exposition format 0.0.4)."""

from __future__ import annotations

import threading
from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._errors = 0

    def observe(self, path: str, code: int) -> None:
        with self._lock:
            self._requests[(path, code)] += 1
            if code >= 500:
                self._errors += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP shop_http_requests_total HTTP requests served, by path and status code.",
                "# TYPE shop_http_requests_total counter",
            ]
            for (path, code), count in sorted(self._requests.items()):
                lines.append(f'shop_http_requests_total{{path="{path}",code="{code}"}} {count}')
            lines += [
                "# HELP shop_http_errors_total HTTP requests answered with a 5xx status.",
                "# TYPE shop_http_errors_total counter",
                f"shop_http_errors_total {self._errors}",
            ]
        return "\n".join(lines) + "\n"
