"""kubesim's image registry: what a container `image` reference means on this machine.

There is no container runtime here, so an "image" is a recipe for running a local process: directories
put first on PATH, environment baked into the image, a default working directory and optionally an
ENTRYPOINT/CMD pair. The registry is a YAML file (`kubesim serve --images FILE`):

    images:
      - image: shop:*                 # exact reference, or a glob over the whole reference
        path: [shop/bin]              # relative paths are resolved against this file's folder
        hostPython: true              # kubesim's own Python environment first on PATH
        pythonPath: [shop]            # directories put on PYTHONPATH
        env: {SHOP_MODE: demo}
        workingDir: shop
        entrypoint: [python, -m, shop]
        cmd: []

The ReleaseGuard runner images (`ghcr.io/releaseguard/releaseguard:<any tag>`, `releaseguard:dev`) are
always known: they are the Python environment kubesim itself runs in.
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BUILTIN_PATTERNS: tuple[str, ...] = ("ghcr.io/releaseguard/releaseguard:*", "releaseguard:dev")


class ImageRegistryError(ValueError):
    """The registry file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Image:
    """How to run a container of this image as a local process."""

    pattern: str
    path: tuple[Path, ...] = ()
    python_path: tuple[Path, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: Path | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None

    def argv(self, command: list[str] | None, args: list[str] | None) -> list[str]:
        """The process argv, the way a container runtime combines ENTRYPOINT/CMD with command/args."""
        if command:
            return [*command, *(args or [])]
        entrypoint = list(self.entrypoint or ())
        if args:
            return [*entrypoint, *args]
        return [*entrypoint, *(self.cmd or ())]


def _python_env_bin() -> Path:
    return Path(sys.executable).parent


def _python_env_image(pattern: str) -> Image:
    return Image(pattern=pattern, path=(_python_env_bin(),))


@dataclass
class ImageRegistry:
    images: list[Image] = field(default_factory=list)
    source: Path | None = None

    @classmethod
    def load(cls, path: Path | None) -> ImageRegistry:
        """The built-in images plus, when `path` is given, the images declared in that YAML file."""
        registry = cls(images=[_python_env_image(p) for p in BUILTIN_PATTERNS], source=path)
        if path is None:
            return registry
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ImageRegistryError(f"{path}: cannot read the image registry: {exc}") from exc
        entries = document.get("images", []) if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ImageRegistryError(f"{path}: expected a mapping with a list under 'images'")
        declared = [_parse_entry(path, i, entry) for i, entry in enumerate(entries)]
        for included in _strings(path, "include", document.get("include", [])):
            declared += cls.load(path.parent / included).images[: -len(BUILTIN_PATTERNS) or None]
        # Declared entries win over the built-ins, so a file can redefine releaseguard:dev.
        registry.images = declared + registry.images
        return registry

    def resolve(self, image: str) -> Image | None:
        """The first entry whose pattern matches `image` exactly or as a glob, else None."""
        for candidate in self.images:
            if candidate.pattern == image:
                return candidate
        for candidate in self.images:
            if fnmatch.fnmatchcase(image, candidate.pattern):
                return candidate
        return None

    def how_to_declare(self, image: str) -> str:
        where = (
            f"the image registry {self.source}" if self.source else "an image registry (kubesim serve --images FILE)"
        )
        return (
            f"image {image!r} is not available in kubesim: declare it in {where}, e.g. "
            f"'images: [{{image: {image!r}, path: [bin], entrypoint: [python, app.py]}}]'"
        )


def _strings(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImageRegistryError(f"{path}: {where}: expected a list of strings")
    return tuple(value)


def _parse_entry(path: Path, index: int, entry: Any) -> Image:
    where = f"images[{index}]"
    if not isinstance(entry, dict):
        raise ImageRegistryError(f"{path}: {where}: expected a mapping")
    known = {"image", "path", "hostPython", "pythonPath", "env", "workingDir", "entrypoint", "cmd"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ImageRegistryError(f"{path}: {where}: unknown field(s) {', '.join(unknown)}; expected {sorted(known)}")
    pattern = entry.get("image")
    if not isinstance(pattern, str) or not pattern:
        raise ImageRegistryError(f"{path}: {where}.image: expected a non-empty image reference")
    base = path.parent.resolve()
    dirs = tuple(base / p for p in _strings(path, f"{where}.path", entry.get("path", [])))
    host_python = entry.get("hostPython", False)
    if not isinstance(host_python, bool):
        raise ImageRegistryError(f"{path}: {where}.hostPython: expected true or false")
    if host_python:
        dirs = (_python_env_bin(), *dirs)
    python_path = tuple(base / p for p in _strings(path, f"{where}.pythonPath", entry.get("pythonPath", [])))
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
        raise ImageRegistryError(f"{path}: {where}.env: expected a mapping of variable names to values")
    working_dir = entry.get("workingDir")
    if working_dir is not None and not isinstance(working_dir, str):
        raise ImageRegistryError(f"{path}: {where}.workingDir: expected a string")
    return Image(
        pattern=pattern,
        path=dirs,
        python_path=python_path,
        env=tuple((k, "" if v is None else str(v)) for k, v in env.items()),
        working_dir=base / working_dir if working_dir else None,
        entrypoint=_strings(path, f"{where}.entrypoint", entry["entrypoint"]) if "entrypoint" in entry else None,
        cmd=_strings(path, f"{where}.cmd", entry["cmd"]) if "cmd" in entry else None,
    )
