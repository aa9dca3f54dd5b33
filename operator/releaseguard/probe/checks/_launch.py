"""The launcher of a check in the target's image: `python -c LAUNCHER SCRIPT SHA256 CONFIGMAP run CHECK_JSON
[TERMINATION_LOG]` runs the check script SCRIPT (mounted from CONFIGMAP) only when its SHA-256 is SHA256.

The operator puts this file's code (without this docstring) and the digest of the script it generated in the
probe pod's command, which nobody can change once the Job exists; the ConfigMap can be replaced by anyone who
may delete and create ConfigMaps in the namespace. So the file is read once and hashed, and those same bytes
run as `__main__` with the argv `python SCRIPT run ...` would give; neither the working directory nor the
script's folder (the ConfigMap's other keys) is on sys.path. Any other content, or none, runs nothing: the
check is reported Error (never Failed: an Error never rolls back) naming the ConfigMap, on stdout alone (the
kubelet's fallback message) and in the termination log. Stdlib only, Python 3.8+, like the script
(tests/checks/test_script_integrity.py).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if sys.path[:1] == [""]:  # -c put the working directory first on sys.path; `python SCRIPT` does not
        del sys.path[0]
    import hashlib
    import json
    import os

    path, want, configmap, rest = argv[0], argv[1], argv[2], argv[3:]
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        got = hashlib.sha256(source).hexdigest()
        why = f"its sha256 is {got[:16]}..., expected {want[:16]}..."
    except OSError as exc:
        source, got, why = b"", "", f"cannot read {path}: {exc.strerror or exc}"
    if got == want:
        sys.argv = [path, *rest]
        exec(compile(source, path, "exec", dont_inherit=True), {"__name__": "__main__", "__file__": path})
        return 0
    try:
        name = str(json.loads(rest[1])["name"])
    except Exception:
        name = "?"
    message = (
        f"the check script mounted from ConfigMap {configmap} is not the one the operator generated ({why}); "
        "nothing of it was run: delete that ConfigMap, the operator creates its own for the next run"
    )
    check = {"name": name, "result": "Error", "message": message}
    report = {"apiVersion": "releaseguard.io/v1alpha1", "kind": "ProbeReport", "verdict": "Error", "message": message}
    text = json.dumps({**report, "summary": {"total": 1, "error": 1}, "checks": [check]})
    print(text)
    if len(rest) > 2 and os.path.isdir(os.path.dirname(rest[2]) or "."):
        try:
            with open(rest[2], "w", encoding="utf-8") as log:
                log.write(text)
        except OSError:
            pass
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
