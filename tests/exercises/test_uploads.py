"""Uploads: plain files and archives, and every way an archive can be hostile (pure, no Docker)."""
from __future__ import annotations

import io
import tarfile
import time
import zipfile

import pytest
from django.utils import translation

from exercises import services, uploads


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def make_zip(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def make_tar(entries: dict[str, bytes], *, link: str | None = None, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
            tar.addfile(info)
    return buf.getvalue()


COMPOSE = b"services: {}\n"


def test_plain_file_keeps_its_base_name():
    assert uploads.files_from_upload("C:\\Users\\me\\compose.yaml", COMPOSE) == {
        "compose.yaml": COMPOSE}


def test_zip_of_a_folder_drops_the_folder():
    data = make_zip({"a3/compose.yaml": COMPOSE, "a3/notes/readme.txt": b"hi"})
    assert uploads.files_from_upload("a3.zip", data) == {
        "compose.yaml": COMPOSE, "notes/readme.txt": b"hi"}


def test_a_zip_made_by_macos_finder_is_read_without_its_clutter():
    # Finder's "Compress" adds __MACOSX/ (with ._ AppleDouble files) and .DS_Store: before, the
    # second top-level folder kept a1-project/ in the paths and "no Dockerfile at the top" followed.
    data = make_zip({"a1-project/Dockerfile": b"FROM node:18-alpine\n",
                     "a1-project/package.json": b"{}", "a1-project/.DS_Store": b"\0\0\0\1Bud1",
                     "__MACOSX/a1-project/._Dockerfile": b"\0\5\26\7",
                     "__MACOSX/._a1-project": b"\0\5\26\7"})
    assert uploads.files_from_upload("a1-project.zip", data) == {
        "Dockerfile": b"FROM node:18-alpine\n", "package.json": b"{}"}
    tar = make_tar({"a3/compose.yaml": COMPOSE, "a3/._compose.yaml": b"x", "a3/Thumbs.db": b"x"})
    assert uploads.files_from_upload("a3.tar", tar) == {"compose.yaml": COMPOSE}


def test_clutter_is_only_what_an_operating_system_adds():
    assert uploads.is_os_clutter("__MACOSX/x/._y") and uploads.is_os_clutter("src/.DS_Store")
    assert not uploads.is_os_clutter("src/app.js") and not uploads.is_os_clutter(".dockerignore")
    assert not uploads.is_os_clutter("MACOSX/notes.txt")


def test_an_archive_of_clutter_only_is_empty():
    with pytest.raises(uploads.UploadError, match="The archive is empty"):
        uploads.files_from_upload("x.zip", make_zip({"__MACOSX/._a": b"x", ".DS_Store": b"x"}))


def test_tar_gz_is_read():
    data = make_tar({"compose.yaml": COMPOSE}, gz=True)
    assert uploads.files_from_upload("sub.tar.gz", data) == {"compose.yaml": COMPOSE}


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/../../b", "C:/x"])
def test_unsafe_paths_are_refused(name):
    with pytest.raises(uploads.UploadError, match="unsafe path"):
        uploads.files_from_upload("x.zip", make_zip({name: b"x"}))
    with pytest.raises(uploads.UploadError, match="unsafe path"):
        uploads.files_from_upload("x.tar", make_tar({name: b"x"}))


def test_links_are_refused():
    with pytest.raises(uploads.UploadError, match="link or special file"):
        uploads.files_from_upload("x.tar", make_tar({"compose.yaml": COMPOSE}, link="evil"))
    with pytest.raises(uploads.UploadError, match="link or special file"):
        uploads.files_from_upload("x.zip", make_zip({"compose.yaml": COMPOSE}, symlink="evil"))


def test_zip_bomb_stops_at_the_limit_quickly():
    bomb = make_zip({"compose.yaml": COMPOSE, "zeros.bin": b"\0" * 200_000_000})
    assert len(bomb) < 400_000  # small on the wire
    t0 = time.monotonic()
    with pytest.raises(uploads.UploadError, match="zeros.bin is larger than 1 MB once unpacked"):
        uploads.files_from_upload("bomb.zip", bomb)
    assert time.monotonic() - t0 < 2


def test_total_size_is_bounded():
    many = {f"f{i}.txt": b"x" * 900_000 for i in range(7)}
    with pytest.raises(uploads.UploadError, match="unpacks to more than"):
        uploads.files_from_upload("big.zip", make_zip(many))


def test_file_count_is_bounded():
    with pytest.raises(uploads.UploadError, match="more than 200 files. Leave out node_modules"):
        uploads.files_from_upload("many.zip", make_zip({f"f{i}": b"" for i in range(201)}))


def test_broken_archive():
    with pytest.raises(uploads.UploadError, match="cannot be read"):
        uploads.files_from_upload("x.zip", b"PK\x03\x04 not really")


@pytest.mark.django_db
def test_archive_without_the_compose_file_is_refused(student):
    with pytest.raises(services.SubmissionError, match="must contain one of"):
        services.submission_create(user=student, assignment_id="a3", filename="a3.zip",
                                   data=make_zip({"a3/readme.txt": b"hi"}))


@pytest.mark.django_db
def test_archive_submission_is_stored_with_its_files(student, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from unittest import mock

    with mock.patch("exercises.services.submission_enqueue"):
        sub = services.submission_create(
            user=student, assignment_id="a3", filename="a3.zip",
            data=make_zip({"a3/compose.yaml": COMPOSE, "a3/data/seed.txt": b"x"}))
    assert sub.filenames == ["compose.yaml", "data/seed.txt"]
    assert services.submission_files(sub) == {"compose.yaml": COMPOSE, "data/seed.txt": b"x"}


@pytest.mark.django_db
def test_huge_upload_is_refused_before_its_body_is_read(client, student):
    client.force_login(student)
    # A declared 2 GB body: the view must answer from the header alone.
    resp = client.generic("POST", "/assignments/a3/", data=b"x" * 10,
                          content_type="multipart/form-data; boundary=zz",
                          CONTENT_LENGTH=str(2 * 1024**3), HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 302
    page = client.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The file is too large: at most 1 MB." in page  # as the handouts say it, not in bytes


@pytest.mark.parametrize("folder", ["a" * 201, "work/" + "b" * 256, "가" * 90])
def test_a_folder_name_too_long_gets_a_clear_error(folder):
    """A crafted form field (the page's input stops at 200 characters) once gave a server error:
    the file system refused the name (ENAMETOOLONG)."""
    with translation.override("en"):
        with pytest.raises(uploads.UploadError) as err:
            uploads.normalize_folder(folder)
        assert str(err.value) == "The folder name is too long: give at most 200 characters."
    assert uploads.normalize_folder("work/" + "c" * 100) == "work/" + "c" * 100


@pytest.mark.parametrize("name,data,english,korean", [
    ("a.zip", b"this is no zip", "The archive cannot be read: it is not a zip file, or it is damaged.",
     "압축 파일을 읽을 수 없습니다: zip 파일이 아니거나 손상되었습니다."),
    ("a.tar.gz", b"\x1f\x8b this is no gzip",
     "The archive cannot be read: it is not a tar or tar.gz archive, or it is damaged.",
     "압축 파일을 읽을 수 없습니다: tar나 tar.gz 압축 파일이 아니거나 손상되었습니다."),
    ("a.zip", make_zip({}), "The archive is empty: put the files of your submission in it.",
     "압축 파일이 비어 있습니다. 제출할 파일을 넣어 주세요."),
])
def test_an_unreadable_or_empty_archive_is_explained_in_the_learners_language(name, data, english,
                                                                              korean):
    """Python's own English error text ("File is not a zip file") once showed on Korean pages."""
    for lang, want in (("en", english), ("ko", korean)):
        with translation.override(lang), pytest.raises(uploads.UploadError) as err:
            uploads.files_from_upload(name, data)
        assert str(err.value) == want



@pytest.mark.parametrize("n,text", [(1_000_000, "1 MB"), (5_000_000, "5 MB"), (1_500_000, "1.5 MB"),
                                    (900_000, "900 KB"), (1_234, "1.2 KB"), (512, "512 bytes"),
                                    (2_000_000_000, "2 GB")])
def test_sizes_are_said_as_the_handouts_say_them(n, text):
    """QA: "at most 1000000 bytes" where the handout says 1 MB."""
    assert uploads.size_text(n) == text


@pytest.mark.parametrize("path,said", [("a1link", "a1link는 심볼릭 링크"),
                                       ("server.js", "server.js는 심볼릭 링크"),
                                       ("app", "app은 심볼릭 링크")])
def test_korean_folder_messages_take_the_particle_each_name_needs(tmp_path, path, said):
    """QA: "a1link은(는) 심볼릭 링크입니다" where the labs' messages say "a1link는"."""
    from django.utils.translation import override

    (tmp_path / "a3").mkdir()
    (tmp_path / "a3" / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "a3" / path).symlink_to("/etc/passwd")
    with override("ko"), pytest.raises(uploads.UploadError) as exc:
        uploads.files_from_folder(tmp_path, "a3")
    assert said in str(exc.value) and "(는)" not in str(exc.value), str(exc.value)
