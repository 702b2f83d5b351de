"""Image bundles for air-gapped hosts: export, refuse a damaged bundle, import (load into the
engine, install the seccomp profile), with the management command's output."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from webapp.sandboxes import bundle, engine, images

pytestmark = pytest.mark.docker


def _recipe(name):
    return next(r for r in images.recipes()[1] if r.name == name)


def test_export_then_import_restores_the_images(backend, tmp_path):
    dest = tmp_path / "bundle"
    out = StringIO()
    call_command("images", "export", str(dest), "--only", "busybox,alpine", stdout=out)
    assert "exported bungeo/busybox:" in out.getvalue() and "MiB in" in out.getvalue()
    manifest = json.loads((dest / "bundle.json").read_text())
    assert [i["name"] for i in manifest["images"]] == ["busybox", "alpine"]
    assert set(manifest["sha256"]) == {"images.tar.gz", "seccomp-default.json"}
    assert "busybox:1.36" in manifest["images"][0]["tags"]

    client = engine.client()
    ref = _recipe("busybox").image_ref
    client.images.remove(ref, noprune=False)  # as on a host that never built it
    assert not images._exists(client, ref)
    out = StringIO()
    call_command("images", "import", str(dest), stdout=out)
    assert f"imported {ref}" in out.getvalue() and "not used" not in out.getvalue()
    img = client.images.get(ref)
    assert img.labels[images.LABEL_STANDIN] == "true"
    assert img.labels[images.LABEL_RECIPE] == _recipe("busybox").digest()


def test_damaged_or_wrong_bundles_are_refused_before_loading(backend, tmp_path):
    dest = tmp_path / "b"
    bundle.export_bundle(dest, only=["busybox"])
    with open(dest / "images.tar.gz", "ab") as f:
        f.write(b"x")
    with pytest.raises(CommandError, match="damaged"):
        call_command("images", "import", str(dest), stdout=StringIO())
    (dest / "bundle.json").write_text("{\"format\": 99}")
    with pytest.raises(bundle.BundleError, match="format"):
        bundle.import_bundle(dest)
    with pytest.raises(bundle.BundleError, match="not empty"):
        bundle.export_bundle(dest, only=["busybox"])
    with pytest.raises(bundle.BundleError, match="unknown image"):
        bundle.export_bundle(tmp_path / "c", only=["ubuntu"])
