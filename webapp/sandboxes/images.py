"""Build the sandbox image and the offline stand-in lab images from Debian packages.

No container registry is reachable in an offline classroom, so every image is made locally:
``mmdebstrap`` (or Debian's ``busybox-static``) makes a root filesystem, ``docker import`` turns it
into a base image, and a small Dockerfile in ``images/`` finishes it. The Debian mirror is read
from the host's own apt sources; no mirror name is written in this repository. A recipe may name a
``customize`` script that mmdebstrap runs inside the new root while the host's network is there
(the node stand-in fills its offline npm cache so); ``docker build`` on the sandbox engine has none.

Every image is cached by a hash of its recipe (its entry in ``images/images.yaml`` plus all files
of its recipe folder): an unchanged recipe is never rebuilt, a changed one gets a new tag.
Stand-ins are then pushed to the classroom registry mirror under each of their tags.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import docker
import yaml
from django.conf import settings
from dockerfile_parse import DockerfileParser

from . import engine

log = logging.getLogger(__name__)

IMAGES_DIR = Path(settings.BASE_DIR) / "images"
LABEL_RECIPE = "org.bungeo.recipe-hash"
LABEL_STANDIN = "org.bungeo.standin"


@dataclass(frozen=True)
class Recipe:
    """One image to build. ``tags`` are the public names of a stand-in (empty for the sandbox)."""

    name: str
    recipe: str
    rootfs: str
    suite: str = "host"
    packages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    standin: bool = True
    # A script in the recipe folder that mmdebstrap runs as a customize hook (new root as $1).
    customize: str | None = None

    @property
    def folder(self) -> Path:
        return IMAGES_DIR / self.recipe

    def digest(self) -> str:
        """12 hex digits of SHA-256 over the recipe entry and every file in its folder."""
        h = hashlib.sha256()
        entry = [self.name, self.rootfs, self.suite, list(self.packages)]
        if self.customize:  # only when set, so that older recipes keep their hash
            entry.append({"customize": self.customize})
        h.update(json.dumps(entry).encode())
        for f in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(self.folder)).encode())
            h.update(f.read_bytes())
        return h.hexdigest()[:12]

    def rootfs_digest(self) -> str:
        """12 hex digits of SHA-256 over what goes into the root filesystem only: the entry and,
        with a customize script, every file of the folder that the image's Dockerfile does not
        take (the script and what it reads: the node stand-in's npm cache list, its fill script
        and the assignments' lock files). The Dockerfile and the files it copies are left out:
        changing those rebuilds the image in seconds on the cached rootfs instead of running
        mmdebstrap again."""
        h = hashlib.sha256()
        h.update(json.dumps(["rootfs", self.name, self.rootfs, self.suite, list(self.packages),
                             self.customize]).encode())
        if self.customize:
            h.update((self.folder / self.customize).read_bytes())
            image_only = self.dockerfile_inputs()
            for f in sorted(p for p in self.folder.rglob("*") if p.is_file()):
                rel = f.relative_to(self.folder).as_posix()
                if rel == self.customize or any(rel == s or rel.startswith(s + "/") for s in image_only):
                    continue
                h.update(rel.encode())
                h.update(f.read_bytes())
        return h.hexdigest()[:12]

    def dockerfile_inputs(self) -> set[str]:
        """``Dockerfile`` and the sources of its COPY and ADD instructions (paths relative to the
        recipe folder, as written; a folder stands for everything under it)."""
        out = {"Dockerfile"}
        dockerfile = self.folder / "Dockerfile"
        if dockerfile.is_file():
            parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.read_bytes()))
            for item in parser.structure:
                if item["instruction"].upper() in ("COPY", "ADD"):
                    words = [w for w in item["value"].split() if not w.startswith("--")]
                    out.update(w.removeprefix("./").rstrip("/") for w in words[:-1])
        return out

    @property
    def image_ref(self) -> str:
        """The local tag of the built image, e.g. ``bungeo/sandbox:3f2a9c0d1e4b``."""
        return f"bungeo/{self.name}:{self.digest()}"


@dataclass
class BuildReport:
    """What :func:`build_all` did: images built, reused from cache, and pushed to the mirror."""

    built: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)


def recipes() -> tuple[Recipe, list[Recipe]]:
    """Parse ``images/images.yaml``: the sandbox recipe and the stand-in recipes."""
    data = yaml.safe_load((IMAGES_DIR / "images.yaml").read_text())
    sb = data["sandbox"]
    sandbox = Recipe(
        name="sandbox", recipe=sb["recipe"], rootfs=sb["rootfs"], suite=sb.get("suite", "host"),
        packages=tuple(sb.get("packages", [])), standin=False,
    )
    standins = [
        Recipe(
            name=s["name"], recipe=s["recipe"], rootfs=s["rootfs"], suite=s.get("suite", "host"),
            packages=tuple(s.get("packages", [])), tags=tuple(s.get("tags", [])),
            customize=s.get("customize"),
        )
        for s in data.get("standins", [])
    ]
    return sandbox, standins


def sandbox_image(mode: str | None = None) -> str:
    """The tag of the sandbox image that the current recipe produces; for isolation mode
    ``rootless``, the tag of :func:`rootless_recipe`'s image."""
    if mode == "rootless":
        return rootless_recipe().image_ref
    return recipes()[0].image_ref


def rootless_recipe() -> Recipe:
    """The sandbox recipe of isolation mode ``rootless`` (``sandbox_rootless`` in
    ``images/images.yaml``): built only when that mode is in use, see :func:`build_rootless`.
    Raises ``KeyError`` when images.yaml has no such entry."""
    data = yaml.safe_load((IMAGES_DIR / "images.yaml").read_text())["sandbox_rootless"]
    return Recipe(name="sandbox-rootless", recipe=data["recipe"], rootfs=data["rootfs"],
                  suite=data.get("suite", "host"), packages=tuple(data.get("packages", [])),
                  standin=False)


def build_rootless(c: docker.DockerClient | None = None) -> bool:
    """Build the rootless-mode sandbox image unless its recipe hash is cached (as :func:`build`).
    Returns True when it built."""
    return build(rootless_recipe(), c or engine.client(timeout=600))


# ------------------------------------------------------------------------------
# Debian sources, read from the host
# ------------------------------------------------------------------------------
def host_apt_sources() -> list[tuple[str, str, list[str]]]:
    """The host's apt sources as ``(uri, suite, components)`` for ``deb`` entries.

    Reads ``/etc/apt/sources.list``, ``*.list`` and deb822 ``*.sources`` files.
    """
    out: list[tuple[str, str, list[str]]] = []
    root = Path("/etc/apt")
    files = [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]
    for f in files:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb":
                out.append((line[1], line[2], line[3:]))
    for f in sorted((root / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", f.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
                continue
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    out.append((uri, suite, fields.get("components", "main").split()))
    return out


def host_codename() -> str:
    """The host's Debian codename (``VERSION_CODENAME`` in /etc/os-release)."""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise RuntimeError("cannot read VERSION_CODENAME from /etc/os-release")


def debian_sources_for(suite: str) -> list[str]:
    """One-line ``deb`` sources for ``suite`` on the host's own Debian mirrors.

    The host's main archive entry (its codename) gives ``suite``; its security entry, if any,
    gives ``suite-security``. Raises ``RuntimeError`` when the host has no Debian source.
    """
    host = host_codename()
    target = host if suite == "host" else suite
    lines: list[str] = []
    for uri, s, _ in host_apt_sources():
        if s == host and not lines:
            lines.append(f"deb {uri} {target} main")
        elif s == f"{host}-security":
            lines.append(f"deb {uri} {target}-security main")
    if not lines:
        raise RuntimeError("no Debian archive found in the host's apt sources")
    return lines


# ------------------------------------------------------------------------------
# Root filesystems
# ------------------------------------------------------------------------------
def _debian_rootfs(r: Recipe, out: Path) -> None:
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is not installed (Debian package mmdebstrap)")
    suite = host_codename() if r.suite == "host" else r.suite
    cmd = ["mmdebstrap", "--variant=minbase", "--quiet",
           "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
           "--dpkgopt=path-include=/usr/share/doc/*/copyright",
           "--dpkgopt=path-exclude=/usr/share/locale/*"]
    if r.packages:
        cmd.append("--include=" + ",".join(r.packages))
    if r.customize:
        hook = r.folder / r.customize
        if not hook.is_file():
            raise RuntimeError(f"customize hook {hook} of {r.name} does not exist")
        cmd.append(f'--customize-hook=sh {shlex.quote(str(hook))} "$1"')
    cmd += [suite, str(out), *debian_sources_for(r.suite)]
    log.info("mmdebstrap %s (%s)", r.name, suite)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"mmdebstrap failed for {r.name}:\n{res.stderr[-3000:]}")


def _busybox_rootfs(r: Recipe, out: Path, work: Path) -> None:
    """A root filesystem of Debian's ``busybox-static`` of the recipe's suite (its files only,
    unpacked by ``mmdebstrap --variant=extract``): the binary, a link per applet, passwd/group.

    Trixie's 1.37 rather than bookworm's 1.35, whose ``wget`` crashes (segmentation fault,
    exit 139, no message) whenever a request fails, such as a name that does not resolve."""
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is not installed (Debian package mmdebstrap)")
    suite = host_codename() if r.suite == "host" else r.suite
    pkg = work / "busybox.tar"
    res = subprocess.run(["mmdebstrap", "--variant=extract", "--include=busybox-static", "--quiet",
                          suite, str(pkg), *debian_sources_for(r.suite)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"mmdebstrap of busybox-static ({suite}) failed:\n{res.stderr[-2000:]}")
    extract = work / "x"
    wanted = {"./usr/bin/busybox", "./bin/busybox", "./usr/share/doc/busybox-static/copyright"}
    with tarfile.open(pkg) as t:  # only those: the rest (device nodes, ...) is not ours to unpack
        t.extractall(extract, members=[m for m in t.getmembers() if m.name in wanted and m.isfile()],
                     filter="data")
    busybox = next((b for b in (extract / "usr/bin/busybox", extract / "bin/busybox")
                    if b.is_file() and not b.is_symlink()), None)
    if busybox is None:
        raise RuntimeError(f"busybox-static ({suite}) holds no busybox binary")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    with tarfile.open(out, "w") as tar:
        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            import io

            tar.addfile(info, io.BytesIO(data))

        for d in ("bin", "etc", "root", "var", "var/log", "usr", "usr/bin", "usr/sbin", "sbin"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        tar.add(busybox, arcname="bin/busybox")
        for a in applets:
            if a != "busybox":
                link = tarfile.TarInfo(f"bin/{a}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        copyright_file = extract / "usr/share/doc/busybox-static/copyright"
        if copyright_file.exists():
            add_file("usr/share/doc/busybox-static/copyright", copyright_file.read_bytes())


def _import(c: docker.DockerClient, tar: Path, ref: str) -> None:
    repo, tag = ref.rsplit(":", 1)
    c.api.import_image(src=str(tar), repository=repo, tag=tag,
                       changes=['CMD ["/bin/sh"]', "ENV PATH=/usr/local/sbin:/usr/local/bin:"
                                "/usr/sbin:/usr/bin:/sbin:/bin"])


def _exists(c: docker.DockerClient, ref: str) -> bool:
    try:
        c.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def build(r: Recipe, c: docker.DockerClient) -> bool:
    """Build ``r`` on the sandbox engine unless its recipe hash is already there.

    Returns True when it built, False when the cache held it. Raises ``RuntimeError`` or
    ``docker.errors.BuildError`` with the failing step's output.
    """
    ref = r.image_ref
    if _exists(c, ref):
        return False
    digest = r.digest()
    base = f"bungeo/rootfs-{r.name}:{r.rootfs_digest()}"
    data_dir = Path(settings.BUNGEO_DATA_DIR) / "build"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not _exists(c, base):
        with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
            tar = Path(tmp) / "rootfs.tar"
            if r.rootfs == "debian":
                _debian_rootfs(r, tar)
            elif r.rootfs == "busybox":
                _busybox_rootfs(r, tar, Path(tmp))
            else:
                raise RuntimeError(f"unknown rootfs kind {r.rootfs!r} for {r.name}")
            _import(c, tar, base)
    labels = {LABEL_RECIPE: digest, "org.bungeo.image": r.name}
    if r.standin:
        labels[LABEL_STANDIN] = "true"
    c.images.build(path=str(r.folder), tag=ref, buildargs={"BASE": base}, labels=labels,
                   rm=True, forcerm=True, pull=False)
    log.info("built %s", ref)
    return True


def _mirror_has(repo: str, tag: str, digest: str) -> bool:
    """True when the mirror serves ``library/repo:tag`` built from recipe ``digest``."""
    url = f"http://{engine.mirror_address()}/v2/library/{repo}/manifests/{tag}"
    req = urllib.request.Request(
        url, headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            manifest = json.load(resp)
        cfg = manifest["config"]["digest"]
        with urllib.request.urlopen(
            f"http://{engine.mirror_address()}/v2/library/{repo}/blobs/{cfg}", timeout=5
        ) as resp:
            config = json.load(resp)
        return (config.get("config", {}).get("Labels") or {}).get(LABEL_RECIPE) == digest
    except Exception:  # noqa: BLE001 - anything but a match means "push it"
        return False


def mirror_serves(ref: str) -> bool:
    """True when the classroom mirror serves image ``ref`` (``node:18-alpine``,
    ``docker.io/library/nginx``; a missing tag means ``latest``). Only Docker Hub's official
    images (``library/``) are mirrored. Used to tell a transient pull failure (retry) from an
    image the classroom does not have (the learner's mistake)."""
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    name = name.removeprefix("docker.io/").removeprefix("index.docker.io/")
    name = name.removeprefix("library/")
    if "/" in name or not name:
        return False
    req = urllib.request.Request(
        f"http://{engine.mirror_address()}/v2/library/{name}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status == 200
    except Exception:  # noqa: BLE001 - anything but an answer means "not served"
        return False


def push_standin(r: Recipe, c: docker.DockerClient) -> list[str]:
    """Push a built stand-in to the mirror under each of its tags; skip tags already there.

    Returns the public names pushed (e.g. ``["nginx:latest"]``).
    """
    pushed = []
    img = c.images.get(r.image_ref)
    mirror = engine.mirror_address()
    for public in r.tags:
        repo, tag = public.split(":", 1)
        if _mirror_has(repo, tag, r.digest()):
            continue
        target = f"{mirror}/library/{repo}"
        img.tag(target, tag)
        for line in c.api.push(target, tag=tag, stream=True, decode=True):
            if "error" in line:
                raise RuntimeError(f"push {public} to the mirror failed: {line['error']}")
        c.images.remove(f"{target}:{tag}", noprune=True)
        pushed.append(public)
    return pushed


def build_all(*, push: bool = True, rootless: bool | None = None) -> BuildReport:
    """Build the sandbox image and every stand-in (cached), then push stand-ins to the mirror.
    The rootless-mode sandbox image is built too when ``rootless`` is True, or when it is None
    and ``BUNGEO_ISOLATION`` is ``rootless`` (the default run builds no extra image)."""
    if rootless is None:
        rootless = settings.BUNGEO_ISOLATION == "rootless"
    from .docker_backend import seccomp_profile

    seccomp_profile()  # fetched from Debian's archive now, not when a learner is waiting
    c = engine.client(timeout=600)
    report = BuildReport()
    sandbox, standins = recipes()
    for r in [sandbox, *standins]:
        (report.built if build(r, c) else report.cached).append(r.image_ref)
        if push and r.standin:
            report.pushed += push_standin(r, c)
    if rootless:
        r = rootless_recipe()
        (report.built if build(r, c) else report.cached).append(r.image_ref)
    return report


def standin_tags() -> list[str]:
    """Every public name served by the mirror's stand-ins (``nginx:latest``, ...)."""
    return [t for r in recipes()[1] for t in r.tags]


@dataclass
class PruneReport:
    """What :func:`prune` did: tags removed, tags kept because a container (a sandbox that has
    not started since the upgrade) still uses them, and bytes of layers freed on the engine."""

    removed: list[str] = field(default_factory=list)
    in_use: list[str] = field(default_factory=list)
    freed_bytes: int = 0


def _all_recipes() -> list[Recipe]:
    sandbox, standins = recipes()
    return [sandbox, *standins, rootless_recipe()]


def stale_tags(c: docker.DockerClient) -> list[str]:
    """Tags of bungeo's own images on the sandbox engine that no current recipe produces: the
    images and root filesystems of earlier recipes (each upgrade or recipe change leaves one
    of each behind, 100-550 MB). Only repositories of known recipes are looked at
    (``bungeo/<name>``, ``bungeo/rootfs-<name>``); tags of the current recipes are never listed."""
    rs = _all_recipes()
    keep = {r.image_ref for r in rs} | {f"bungeo/rootfs-{r.name}:{r.rootfs_digest()}" for r in rs}
    repos = {f"bungeo/{r.name}" for r in rs} | {f"bungeo/rootfs-{r.name}" for r in rs}
    return sorted(tag for img in c.images.list() for tag in img.tags
                  if tag.rsplit(":", 1)[0] in repos and tag not in keep)


def prune(c: docker.DockerClient | None = None) -> PruneReport:
    """Remove :func:`stale_tags` and then every dangling (untagged, unused) image of the sandbox
    engine, which is bungeo's own (build leftovers). A tag whose image a container still uses
    (a stopped sandbox that moves to the new image when it next starts) is kept and listed in
    ``in_use``; run prune again later. Raises ``docker.errors.APIError`` on other engine errors."""
    c = c or engine.client(timeout=600)
    report = PruneReport()
    before = c.df().get("LayersSize") or 0
    for tag in stale_tags(c):
        try:
            c.images.remove(tag)
            report.removed.append(tag)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: "image is being used by stopped container ..."
                raise
            report.in_use.append(tag)
    c.images.prune(filters={"dangling": True})
    report.freed_bytes = max(0, before - (c.df().get("LayersSize") or 0))
    return report

