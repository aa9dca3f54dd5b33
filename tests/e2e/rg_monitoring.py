"""A real Prometheus and a real Alertmanager (Debian's binaries, from `make system-deps`) as
subprocesses on loopback, configured with short intervals for tests."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from support import eventually, free_port
from system_tools import ALERTMANAGER_WORKDIR, require_tool


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:  # Prometheus says what is wrong with a query in the body
        raise AssertionError(f"{url}: {exc.code} {exc.read().decode(errors='replace')}") from None


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Daemon:
    def __init__(self, argv: list[str], workdir: Path, name: str, ready_url: str, cwd: Path | None = None) -> None:
        self.log_path = workdir / f"{name}.log"
        self.name = name
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd or workdir)
        try:
            eventually(lambda: self._alive() and _ready(ready_url), 30, f"{name} to be ready")
        except BaseException:
            self.stop()
            raise

    def _alive(self) -> bool:
        assert self.proc.poll() is None, f"{self.name} exited {self.proc.returncode}:\n{self.log()[-3000:]}"
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Alertmanager(Daemon):
    def __init__(self, workdir: Path, webhook_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname", "namespace", "releaseverification"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "hook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
        }
        (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
        argv = [
            require_tool("alertmanager"),
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # no gossip: nothing listens beyond this one loopback port
        ]
        # the cached, relocated binary reads its templates from its working directory
        cwd = ALERTMANAGER_WORKDIR if ALERTMANAGER_WORKDIR.is_dir() else workdir
        super().__init__(argv, workdir, "alertmanager", self.url + "/-/ready", cwd=cwd)


class Prometheus(Daemon):
    def __init__(self, workdir: Path, scrape_target: str, rules: Path, alertmanager: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
            "scrape_configs": [{"job_name": "releaseguard", "static_configs": [{"targets": [scrape_target]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        argv = [
            require_tool("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--rules.alert.resend-delay=1s",
        ]
        super().__init__(argv, workdir, "prometheus", self.url + "/-/ready")

    def wait_for_scrape(self, job: str, timeout: float = 30) -> None:
        """Until a scrape of `job` succeeded (Prometheus applies new targets up to 5 s after start)."""
        eventually(lambda: self.query(f'up{{job="{job}"}} == 1'), timeout, f"Prometheus to scrape {job}")

    def query(self, expr: str) -> list[dict[str, Any]]:
        self._alive()
        answer = _get(
            self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{time.time():.3f}"})
        )
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result


def rules_with_short_for(shipped: Path, target: Path, hold: str = "2s") -> Path:
    """The shipped rules, unchanged except every `for:` shortened to `hold` (a test cannot wait minutes)."""
    rules = yaml.safe_load(shipped.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = hold
    target.write_text(yaml.safe_dump(rules, sort_keys=False))
    return target
