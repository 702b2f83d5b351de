"""Image bundles for air-gapped classrooms: ``manage.py images export DIR`` on a host that can
build, ``manage.py images import DIR`` on one that cannot.

A bundle is a folder with:

* ``images.tar.gz``: ``docker save`` of the chosen images (gzip; ``docker load`` reads it as is,
  see the Docker CLI reference for ``docker image load``);
* ``seccomp-default.json``: Docker's default seccomp profile that sandboxes are started with
  (normally fetched from Debian's archive, which an offline host cannot reach);
* ``bundle.json``: what is inside (image refs, recipe hashes, public stand-in names) and the
  SHA-256 of the other two files, checked before anything is loaded.

The sandbox image of isolation mode ``rootless`` (``sandbox_rootless`` in ``images/images.yaml``,
recipe name ``sandbox-rootless``) is built only on request (``images build --rootless``). A full
export includes it when it is built and otherwise says so (:data:`MSG_ROOTLESS_NOT_BUILT`): a
classroom host that runs mode ``rootless`` needs it and cannot build it offline.

Because images are tagged by recipe hash (``bungeo/<name>:<hash>``), an imported bundle made by
the same bungeo version satisfies ``images build`` without building anything.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from . import engine, images

BUNDLE_FORMAT = 1
CHUNK = 1 << 20


class BundleError(Exception):
    """A bundle cannot be written or read; ``str(exc)`` says why, for an operator."""


# An export without the rootless sandbox image, because it is not built (operator-facing).
MSG_ROOTLESS_NOT_BUILT = (
    "not included: {ref} (the sandbox image of isolation mode rootless) is not built. A host that "
    "runs BUNGEO_ISOLATION=rootless (or auto on an engine without userns-remap) needs it: run "
    "'manage.py images build --rootless', then export again.\n"
    "포함되지 않음: {ref} (격리 모드 rootless의 샌드박스 이미지)가 빌드되어 있지 않습니다. "
    "BUNGEO_ISOLATION=rootless(또는 userns-remap이 없는 엔진에서 auto)로 운영할 호스트에는 이 이미지가 "
    "필요합니다: 'manage.py images build --rootless'를 실행한 뒤 다시 내보내세요."
)

# An import on a host whose isolation mode is rootless, when the rootless image is still missing.
MSG_ROOTLESS_MISSING_HERE = (
    "this host runs isolation mode rootless but {ref} is not here (the bundle does not hold it): "
    "learners' sandboxes cannot start. Export again on a host where "
    "'manage.py images build --rootless' was run.\n"
    "이 호스트는 격리 모드 rootless로 운영되지만 {ref} 이미지가 없습니다(번들에 들어 있지 않음): "
    "학습자의 샌드박스를 시작할 수 없습니다. 'manage.py images build --rootless'를 실행한 호스트에서 "
    "다시 내보내세요."
)


@dataclass
class BundleReport:
    """What an export or import did: image refs, bytes of the image archive, seconds taken,
    (import) the stand-in names pushed to the mirror and refs not matching current recipes, and
    ``notes``: operator messages (export: :data:`MSG_ROOTLESS_NOT_BUILT` when it applies)."""

    refs: list[str]
    archive_bytes: int
    seconds: float
    pushed: list[str]
    stale: list[str]
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _every_recipe() -> list[images.Recipe]:
    """The sandbox recipe, the stand-ins, and the rootless sandbox recipe last."""
    sandbox, standins = images.recipes()
    return [sandbox, *standins, images.rootless_recipe()]


def _selected(only: list[str] | None) -> list[images.Recipe]:
    every = _every_recipe()
    if not only:
        return every
    unknown = set(only) - {r.name for r in every}
    if unknown:
        raise BundleError(f"unknown image name(s): {', '.join(sorted(unknown))}")
    return [r for r in every if r.name in only]


BUNDLE_FILES = ("bundle.json", "images.tar.gz", "seccomp-default.json")


def _is_manifest(manifest) -> bool:
    """Whether ``manifest`` (parsed bundle.json) has the shape :func:`export_bundle` writes: an
    object with ``format``, ``images`` (objects with string ``name`` and ``ref``) and a
    ``sha256`` string for each of the bundle's other files."""
    if not isinstance(manifest, dict) or "format" not in manifest:
        return False
    entries, sums = manifest.get("images"), manifest.get("sha256")
    return (isinstance(entries, list)
            and all(isinstance(e, dict) and isinstance(e.get("name"), str)
                    and isinstance(e.get("ref"), str) for e in entries)
            and isinstance(sums, dict) and all(isinstance(sums.get(n), str) for n in BUNDLE_FILES[1:]))


def export_bundle(dest: Path, *, only: list[str] | None = None) -> BundleReport:
    """Write a bundle of the built images (all, or the recipe names in ``only``, e.g.
    ``["busybox", "sandbox-rootless"]``) into ``dest`` (created; must be empty or absent).
    Without ``only``, the rootless sandbox image is included when built, else left out with a
    note in the report's ``notes``. Raises :class:`BundleError` when a chosen image (any named in
    ``only``, every other one otherwise) is not built."""
    from .docker_backend import _seccomp_default_path, seccomp_profile

    t0 = time.monotonic()
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise BundleError(f"{dest} is a file: export writes a folder (give a new folder's path)")
    if dest.exists() and any(dest.iterdir()):
        raise BundleError(f"{dest} is not empty")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleError(f"cannot create the folder {dest}: {exc.strerror}") from exc
    client = engine.client(timeout=600)
    rootless = images.rootless_recipe()
    chosen, notes = [], []
    for r in _selected(only):
        if not images._exists(client, r.image_ref):
            if r.name == rootless.name and not only:
                notes.append(MSG_ROOTLESS_NOT_BUILT.format(ref=r.image_ref))
                continue
            build = "images build --rootless" if r.name == rootless.name else "images build"
            raise BundleError(f"{r.image_ref} is not built: run 'manage.py {build}' first")
        chosen.append(r)
    refs = [r.image_ref for r in chosen]
    archive = dest / "images.tar.gz"
    # The docker CLI saves several images into one archive with shared layers stored once
    # (docker-py's get_image takes one image only).
    proc = subprocess.Popen(["docker", "--host", settings.BUNGEO_SANDBOX_ENGINE_URL, "save", *refs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with gzip.open(archive, "wb", compresslevel=3) as out:
        while chunk := proc.stdout.read(CHUNK):
            out.write(chunk)
    if proc.wait() != 0:
        raise BundleError(f"docker save failed: {proc.stderr.read().decode(errors='replace')[-500:]}")
    seccomp_profile()  # make sure the profile is on disk
    shutil.copyfile(_seccomp_default_path(), dest / "seccomp-default.json")
    manifest = {
        "format": BUNDLE_FORMAT,
        "created": int(time.time()),
        "images": [{"name": r.name, "ref": r.image_ref, "recipe_hash": r.digest(),
                    "standin": r.standin, "tags": list(r.tags)} for r in chosen],
        "sha256": {"images.tar.gz": _sha256(archive),
                   "seccomp-default.json": _sha256(dest / "seccomp-default.json")},
    }
    (dest / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return BundleReport(refs, archive.stat().st_size, time.monotonic() - t0, [], [], notes)


def import_bundle(src: Path, *, push: bool = True) -> BundleReport:
    """Check and load a bundle written by :func:`export_bundle` into the sandbox engine, install
    its seccomp profile, and push its stand-ins to the classroom mirror. Raises
    :class:`BundleError` on a missing file, a checksum mismatch or a format it does not know;
    nothing is loaded then."""
    from .docker_backend import _seccomp_default_path

    t0 = time.monotonic()
    src = Path(src)
    if not src.is_dir():
        raise BundleError(f"{src} is not a bundle folder: 'images import' takes the folder that "
                          f"'images export' wrote ({', '.join(BUNDLE_FILES)})")
    try:
        manifest = json.loads((src / "bundle.json").read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{src / 'bundle.json'}: {exc}") from exc
    if not _is_manifest(manifest):
        raise BundleError(f"{src / 'bundle.json'} is not a bungeo bundle manifest")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"bundle format {manifest.get('format')!r} is not {BUNDLE_FORMAT}")
    for name in BUNDLE_FILES[1:]:
        path = src / name
        if not path.is_file():
            raise BundleError(f"{name} is missing from the bundle")
        if _sha256(path) != manifest["sha256"][name]:
            raise BundleError(f"{name} is damaged (SHA-256 does not match bundle.json)")
    client = engine.client(timeout=1200)
    with open(src / "images.tar.gz", "rb") as f:
        for line in client.api.load_image(f):
            if "error" in line:
                raise BundleError(f"docker load failed: {line['error']}")
    profile = json.loads((src / "seccomp-default.json").read_text())
    target = _seccomp_default_path()
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(profile))
    current = {r.name: r for r in _every_recipe()}
    refs, pushed, stale = [], [], []
    for entry in manifest["images"]:
        refs.append(entry["ref"])
        r = current.get(entry["name"])
        if r is None or r.image_ref != entry["ref"]:
            stale.append(entry["ref"])  # made by another bungeo version: loaded, not used
            continue
        if push and r.standin:
            pushed += images.push_standin(r, client)
    notes = []
    rootless = images.rootless_recipe()
    if not images._exists(client, rootless.image_ref) and _active_mode(client) == "rootless":
        notes.append(MSG_ROOTLESS_MISSING_HERE.format(ref=rootless.image_ref))
    size = (src / "images.tar.gz").stat().st_size
    return BundleReport(refs, size, time.monotonic() - t0, pushed, stale, notes)


def _active_mode(client) -> str | None:
    """The isolation mode sandboxes of this host get, or None when the setting is refused."""
    from django.core.exceptions import ImproperlyConfigured

    from . import isolation

    try:
        return isolation.resolve(client.info())
    except ImproperlyConfigured:
        return None
