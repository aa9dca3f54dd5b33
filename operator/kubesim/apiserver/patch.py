"""The three patch types the API server accepts: JSON merge (RFC 7386), JSON patch (RFC 6902) and
strategic merge patch with the merge keys of the kinds we serve."""

from __future__ import annotations

import copy
from typing import Any

from kubesim.errors import ApiError, bad_request


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# ---- JSON patch -------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"json patch: path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise ApiError(422, f"json patch: path {path!r} does not exist", "Invalid")
    return cur, parts[-1]


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for part in _pointer(path):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise ApiError(422, f"json patch: path {path!r} does not exist", "Invalid")
    return cur


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise ApiError(422, f"json patch: index {last!r} out of range at {path!r}", "Invalid")
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, f"json patch: cannot add at {path!r}", "Invalid")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        parent.pop(int(last))
    elif isinstance(parent, dict) and last in parent:
        del parent[last]
    else:
        raise ApiError(422, f"json patch: path {path!r} does not exist", "Invalid")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"json patch: malformed operation {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            doc = _add(_remove(doc, path), path, copy.deepcopy(op.get("value"))) if _pointer(path) else op["value"]
        elif kind == "move":
            value = _get(doc, op["from"])
            doc = _add(_remove(doc, op["from"]), path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, f"json patch: test operation failed at {path!r}", "Invalid")
        else:
            raise bad_request(f"json patch: unknown op {kind!r}")
    return doc


# ---- strategic merge patch ----------------------------------------------------------------------

# field name -> merge key for lists of objects merged by key.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "secrets": "name",
    "ports": "port",  # containers' ports use containerPort, decided by content below
}
# Lists of scalars merged as sets.
SET_LISTS = {"finalizers"}


def _ports_key(items: list[Any]) -> str:
    return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    return _smp_map(copy.deepcopy(target) if isinstance(target, dict) else {}, patch)


def _smp_map(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key == "$retainKeys" or key == "$patch":
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            target[field] = [v for v in target.get(field) or [] if v not in (value or [])]
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            cur = target.get(key)
            res = _smp_map(cur if isinstance(cur, dict) else {}, value)
            target[key] = res
        elif isinstance(value, list):
            target[key] = _smp_list(key, target.get(key), value)
        else:
            target[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):  # every key not named is cleared (e.g. rollingUpdate when type: Recreate)
        target = {k: v for k, v in target.items() if k in retain}
    return target


def _smp_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    current = current if isinstance(current, list) else []
    if field in SET_LISTS:
        known = [(current.index(v) if v in current else None, v) for v in dict.fromkeys(patch)]
        return _interleave(known, [(n, v) for n, v in enumerate(current) if v not in patch])
    key = MERGE_KEYS.get(field)
    if key == "port":
        key = _ports_key(patch + current)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [i for i in patch if i.get("$patch") != "replace"]

    def position(item: Any) -> int | None:
        return next(
            (n for n, cur in enumerate(current) if isinstance(cur, dict) and cur.get(key) == item.get(key)), None
        )

    patched: list[tuple[int | None, Any]] = []  # (index in the server's list, or None when new), in patch order
    mentioned: set[int] = set()
    for item in patch:
        idx = position(item)
        if idx is not None:
            mentioned.add(idx)
        if item.get("$patch") == "delete":
            continue
        if idx is None:
            patched.append((None, {k: v for k, v in item.items() if not k.startswith("$")}))
        else:
            patched.append((idx, _smp_map(current[idx], item)))
    server_only = [(n, cur) for n, cur in enumerate(current) if n not in mentioned]
    return _interleave(patched, server_only)


def _interleave(patched: list[tuple[int | None, Any]], server_only: list[tuple[int, Any]]) -> list[Any]:
    """The real server's order for a merged list: the patch's items keep the patch's order, the
    server's other items keep theirs; a new item goes before the next server item, a known one
    where its index in the server's list puts it (seen on kube-apiserver 1.37)."""
    out: list[Any] = []
    i = j = 0
    while i < len(patched) and j < len(server_only):
        index, item = patched[i]
        if index is None or index < server_only[j][0]:
            out.append(item)
            i += 1
        else:
            out.append(server_only[j][1])
            j += 1
    out += [item for _, item in patched[i:]]
    out += [item for _, item in server_only[j:]]
    return out
