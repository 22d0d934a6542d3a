"""gcbench datasets download: archives over HTTP (127.0.0.1), verified before extraction, extracted
all at once; archives behind a login placed by the user; file-by-file datasets; gcbench ls datasets."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import smooth_image
from PIL import Image
from range_server import range_server

from gcbench.cli import main
from gcbench.core.errors import DatasetError
from gcbench.data.acquire import download_dataset
from gcbench.data.datasets import load_dataset


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(smooth_image(24, 32, seed=seed)).save(buf, format="PNG")
    return buf.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of dataset manifests on GCBENCH_DATASET_PATH, read by a fresh dataset registry."""
    from gcbench.core.registry import Registry
    from gcbench.data import registry

    folder = tmp_path / "manifests"
    folder.mkdir()
    monkeypatch.setenv("GCBENCH_DATASET_PATH", str(folder))
    monkeypatch.setattr(registry, "datasets", Registry("dataset", populate=registry._populate_datasets))
    monkeypatch.delenv("GCBENCH_OFFLINE")  # these tests download, from 127.0.0.1 only
    return folder


def _archive_table(file: str, url: str, data: bytes | None, **extra: str) -> str:
    lines = ["[[archives]]", f'file = "{file}"']
    if url:
        lines.append(f'url = "{url}"')
    if data is not None:
        lines += [f"size = {len(data)}", f'sha256 = "{_sha(data)}"']
    lines += [f'{k} = {v}' for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def write_manifest(folder: Path, name: str, images: str, count: int, archives: list[str], extra: str = "") -> None:
    (folder / f"{name}.toml").write_text(
        f'name = "{name}"\ndescription = "test set"\nlicense = "test"\nimages = "{images}"\n'
        f"expected_images = {count}\n{extra}\n" + "\n".join(archives))


TAR = {f"./set/a{i}.png": _png(i) for i in range(3)} | {"./other/skipped.png": _png(9)}  # tar's "./" names
ZIP = {f"set/b{i}.png": _png(10 + i) for i in range(2)} | {"README.txt": b"not an image"}


def test_two_archives_downloaded_verified_and_extracted(manifests: Path, tmp_path: Path, capsys) -> None:
    tar, zf = make_tar(TAR), make_zip(ZIP)
    with range_server() as srv:
        srv.files |= {"/a.tar.gz": tar, "/b.zip": zf}
        srv.cut_once.add("/a.tar.gz")  # a flaky network on the way: resumed within the call
        write_manifest(manifests, "toy", "**/*.png", 5, [
            _archive_table("a.tar.gz", srv.url("/a.tar.gz"), tar, into='"tar"', members='["set/*"]'),
            _archive_table("b.zip", srv.url("/b.zip"), zf, into='"zip"')])
        root = tmp_path / "data"
        assert main(["datasets", "download", "toy", "--root", str(root), "--quiet"]) == 0
    assert "toy: 5 images ready at" in capsys.readouterr().out
    ds = load_dataset("toy", root=root / "toy")
    assert [r.name for r in ds.images] == ["tar/set/a0.png", "tar/set/a1.png", "tar/set/a2.png",
                                           "zip/set/b0.png", "zip/set/b1.png"]
    assert (root / "toy" / "tar/set/a1.png").read_bytes() == TAR["./set/a1.png"]
    assert not (root / "toy" / "tar" / "other").exists()  # members outside the patterns stay in the archive
    assert not (root / "downloads" / "a.tar.gz").exists()  # fetched archives go once extracted
    assert download_dataset("toy", root).already_present


def test_found_by_name_in_gcbench_data_and_listed(manifests: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    zf = make_zip(ZIP)
    with range_server() as srv:
        srv.files["/b.zip"] = zf
        write_manifest(manifests, "toy", "set/*.png", 2, [_archive_table("b.zip", srv.url("/b.zip"), zf)])
        assert main(["ls", "datasets", "toy"]) == 0
        assert "not on this machine" in capsys.readouterr().out
        monkeypatch.setenv("GCBENCH_DATA", str(tmp_path / "data"))
        download_dataset("toy", progress=False)
    assert len(load_dataset("toy")) == 2
    assert main(["ls", "datasets", "toy", "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert f"| toy | 2 | 2 | {tmp_path / 'data' / 'toy'} |" in out


def test_wrong_checksum_is_refused_naming_the_archive_and_nothing_is_extracted(manifests: Path, tmp_path: Path) -> None:
    zf = make_zip(ZIP)
    with range_server() as srv:
        srv.files["/b.zip"] = zf
        write_manifest(manifests, "toy", "set/*.png", 2, [
            _archive_table("b.zip", srv.url("/b.zip"), None, size=str(len(zf)), sha256=f'"{_sha(b"other")}"')])
        with pytest.raises(DatasetError, match=r"b\.zip: SHA-256 .* differs from the manifest's"):
            download_dataset("toy", tmp_path / "data", progress=False)
    assert not (tmp_path / "data" / "toy").exists()
    assert list((tmp_path / "data" / "downloads").iterdir()) == []  # the wrong bytes are gone too


def test_an_interrupted_extraction_leaves_nothing_half_written(manifests: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    zf = make_zip(ZIP)
    root = tmp_path / "data"
    real_extract = zipfile.ZipFile.extract
    calls = []

    def failing_extract(self, member, path=None, pwd=None):
        calls.append(member)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C with one file already written
        return real_extract(self, member, path, pwd)

    with range_server() as srv:
        srv.files["/b.zip"] = zf
        write_manifest(manifests, "toy", "set/*.png", 2, [_archive_table("b.zip", srv.url("/b.zip"), zf)])
        monkeypatch.setattr(zipfile.ZipFile, "extract", failing_extract)
        with pytest.raises(KeyboardInterrupt):
            download_dataset("toy", root, progress=False)
        assert sorted(p.name for p in root.iterdir()) == ["downloads"]  # no toy/, no temporary folder
        monkeypatch.setattr(zipfile.ZipFile, "extract", real_extract)
        assert download_dataset("toy", root, progress=False).n_images == 2
        assert len(srv.log) == 1  # the verified archive was kept for the second try, not fetched again


def test_an_incomplete_archive_is_refused_before_the_dataset_appears(manifests: Path, tmp_path: Path) -> None:
    zf = make_zip(ZIP)
    with range_server() as srv:
        srv.files["/b.zip"] = zf
        write_manifest(manifests, "toy", "set/*.png", 3, [_archive_table("b.zip", srv.url("/b.zip"), zf)])
        with pytest.raises(DatasetError, match=r"incomplete \(set/\*\.png: 2 files, expected 3\)"):
            download_dataset("toy", tmp_path / "data", progress=False)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["downloads"]


def test_a_member_escaping_the_folder_is_refused(manifests: Path, tmp_path: Path) -> None:
    zf = make_zip({"set/a.png": _png(1), "../evil.png": _png(2)})
    with range_server() as srv:
        srv.files["/b.zip"] = zf
        write_manifest(manifests, "toy", "set/*.png", 1, [_archive_table("b.zip", srv.url("/b.zip"), zf)])
        with pytest.raises(DatasetError, match=r"'\.\./evil\.png' would be written outside"):
            download_dataset("toy", tmp_path / "data", progress=False)
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "data" / "toy").exists()


CITY = {"leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png": _png(1),
        "leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png": _png(2)}
LABELS = {"gtFine/val/lindau/lindau_000000_000019_gtFine_instanceIds.png": _png(3),
          "gtFine/train/aachen/aachen_000000_000019_gtFine_instanceIds.png": _png(4)}


def test_archives_behind_a_login_are_placed_by_the_user_and_verified(manifests: Path, tmp_path: Path) -> None:
    write_manifest(
        manifests, "city", "leftImg8bit/val/*/*_leftImg8bit.png", 1,
        [_archive_table("left.zip", "", None, members='["leftImg8bit/val/*"]'),
         _archive_table("gt.zip", "", None, members='["gtFine/val/*"]')],
        extra='note = "Register at https://example.org and download left.zip and gt.zip."\n'
              '[expected]\n"gtFine/val/*/*_instanceIds.png" = 1\n')
    root = tmp_path / "data"
    with pytest.raises(DatasetError, match=r"needs left\.zip, gt\.zip.*Register at https://example\.org.*"
                                           rf"Put them in {root / 'downloads'}"):
        download_dataset("city", root, progress=False)
    placed = tmp_path / "mine"
    placed.mkdir()
    (placed / "left.zip").write_bytes(make_zip(CITY))
    (placed / "gt.zip").write_bytes(make_zip({"gtFine/README": b"x"}))  # the wrong archive
    with pytest.raises(DatasetError, match=r"gt\.zip: no member matches gtFine/val/\*"):
        download_dataset("city", root, archives_from=placed, progress=False)
    (placed / "gt.zip").write_bytes(make_zip(LABELS))
    report = download_dataset("city", root, archives_from=placed, progress=False)
    assert report.n_images == 1 and any("left.zip: no published SHA-256" in w for w in report.warnings)
    assert sorted(p.relative_to(root / "city").as_posix() for p in (root / "city").rglob("*.png")) == [
        "gtFine/val/lindau/lindau_000000_000019_gtFine_instanceIds.png",
        "leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png"]  # only the val split
    assert (placed / "left.zip").exists()  # the user's archives are never deleted


def test_a_file_by_file_dataset_downloads_each_file_checked(manifests: Path, tmp_path: Path) -> None:
    files = {"x.png": _png(5), "y.png": _png(6)}
    with range_server() as srv:
        srv.files |= {f"/kodak-like/{k}": v for k, v in files.items()}
        (manifests / "pair.toml").write_text(
            f'name = "pair"\ndownload_url = "{srv.url("/kodak-like/{file}")}"\n[files]\n'
            + "".join(f'"{k}" = "{_sha(v)}"\n' for k, v in files.items()))
        ds = load_dataset("pair")  # not here: fetched into gcbench's cache as a run would
        assert [r.name for r in ds.images] == ["x.png", "y.png"] and "gcbench-cache" in str(ds.root)
        srv.files["/kodak-like/y.png"] = _png(7)  # the server now hands out a different file
        with pytest.raises(DatasetError, match=r"y\.png: SHA-256 .* differs"):
            download_dataset("pair", tmp_path / "data", progress=False)


def test_offline_nothing_is_fetched(manifests: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCBENCH_OFFLINE", "1")
    write_manifest(manifests, "toy", "set/*.png", 2, [_archive_table("b.zip", "http://127.0.0.1:9/b.zip", b"")])
    with pytest.raises(DatasetError, match=r"downloads are off .*b\.zip is not in"):
        download_dataset("toy", tmp_path / "data", progress=False)
    with pytest.raises(DatasetError, match=r"run `gcbench datasets download toy`"):
        load_dataset("toy")
    assert main(["datasets", "download", "cityscapes"]) == 2  # a reader of the user's copy: nothing to fetch
