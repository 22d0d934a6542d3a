"""gcbench.weights: manifest, search order, hash checks, downloads, errors, and ``gcbench weights``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gcbench import weights
from gcbench.cli import main
from gcbench.core.errors import ConfigError, UnknownNameError, WeightsError

NIQE_SHA = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def custom_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A manifest file with one entry for a small file made here; returns (name, source file, url)."""
    source = tmp_path / "src" / "tiny-weights.bin"
    source.parent.mkdir()
    source.write_bytes(os.urandom(4096))
    manifest = tmp_path / "extra.toml"
    manifest.write_text(
        "[tiny-test]\n"
        f'filename = "tiny-weights.bin"\nsha256 = "{_sha(source)}"\nsize = 4096\n'
        f'url = "{source.as_uri()}"\nlicense = "CC0"\nused_by = ["nothing"]\ncaches = ["torch-hub"]\n'
    )
    monkeypatch.setenv("GCBENCH_WEIGHTS_MANIFEST", str(manifest))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    weights.reload()
    yield "tiny-test", source
    weights.reload()


def test_builtin_manifest_is_complete() -> None:
    from gcbench.codecs.gan.neuralcompression import register_msillm_weights

    register_msillm_weights(1, "msillm")  # an entry whose upstream publishes no hash
    names = [e.name for e in weights.entries()]
    assert {"alexnet-imagenet", "vgg16-imagenet", "inception-fid", "niqe-pristine"} <= set(names)
    for e in weights.entries():
        assert e.filename and e.license and e.used_by and e.url, e
        # an upstream that publishes no hash (MS-ILLM) is allowed only with a note saying so
        assert (e.sha256 and len(e.sha256) >= 8) or (e.sha256 is None and "hash" in e.note.lower()), e
        # torchvision / torch-fidelity publish the hash prefix in the file name; the manifest agrees
        if e.hash_is_prefix:
            assert e.sha256 in e.filename


def test_shipped_niqe_model_is_the_resolved_file(niqe_params_file: Path) -> None:
    path = weights.resolve("niqe-pristine")
    assert path.parent == weights.SHIPPED_DIR
    assert _sha(path) == NIQE_SHA == _sha(niqe_params_file)
    assert weights.get("niqe-pristine").size == path.stat().st_size


def test_search_order_user_dir_then_library_cache(custom_entry, tmp_path: Path, monkeypatch) -> None:
    name, source = custom_entry
    hub = tmp_path / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / source.name).write_bytes(source.read_bytes())
    assert weights.resolve(name) == hub / source.name  # found in torch hub's cache
    user = tmp_path / "mine"
    user.mkdir()
    (user / source.name).write_bytes(source.read_bytes())
    monkeypatch.setenv("GCBENCH_WEIGHTS", os.pathsep.join([str(tmp_path / "empty"), str(user)]))
    assert weights.resolve(name) == user / source.name  # $GCBENCH_WEIGHTS comes first
    assert weights.status(name).state == "found"


def test_missing_file_offline_names_file_url_and_folder(custom_entry, tmp_path: Path, monkeypatch) -> None:
    name, source = custom_entry
    with pytest.raises(WeightsError) as exc:
        weights.resolve(name)
    msg = str(exc.value)
    assert "tiny-weights.bin" in msg and source.as_uri() in msg and "GCBENCH_OFFLINE" in msg
    assert str(weights.download_dir()) in msg
    monkeypatch.setenv("GCBENCH_WEIGHTS", str(tmp_path / "put-here"))
    with pytest.raises(WeightsError, match="put-here"):
        weights.resolve(name)
    assert weights.status(name).state == "missing"


def test_real_trunk_missing_offline() -> None:
    with pytest.raises(WeightsError) as exc:
        weights.resolve("alexnet-imagenet")
    msg = str(exc.value)
    assert "alexnet-owt-7be5be79.pth" in msg
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in msg
    assert str(weights.download_dir()) in msg


def test_wrong_hash_is_refused_with_expected_and_actual(custom_entry, tmp_path: Path, monkeypatch) -> None:
    name, source = custom_entry
    user = tmp_path / "mine"
    user.mkdir()
    bad = user / source.name
    bad.write_bytes(b"not the weights")
    monkeypatch.setenv("GCBENCH_WEIGHTS", str(user))
    with pytest.raises(WeightsError) as exc:
        weights.resolve(name)
    msg = str(exc.value)
    assert _sha(source) in msg and _sha(bad) in msg and "wrong hash" in msg
    assert weights.status(name).state == "bad-hash"


def test_verify_file_full_and_prefix(tmp_path: Path) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    digest = _sha(f)
    assert weights.verify_file(f, digest) == f
    assert weights.verify_file(f, digest[:8].upper()) == f  # a published prefix, any case
    assert weights.verify_file(f, None) == f
    with pytest.raises(WeightsError, match=f"expected SHA-256 prefix 00000000, actual {digest}"):
        weights.verify_file(f, "00000000")
    with pytest.raises(WeightsError, match="no such file"):
        weights.verify_file(tmp_path / "absent.bin", digest)


def test_download_checks_hash_and_is_atomic(custom_entry, monkeypatch) -> None:
    name, source = custom_entry
    monkeypatch.setenv("GCBENCH_OFFLINE", "0")
    path = weights.resolve(name)  # the real download code, from a file:// URL
    assert path == weights.download_dir() / source.name and _sha(path) == _sha(source)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".part-")]
    # a download whose bytes do not match is not kept
    path.unlink()
    source.write_bytes(b"changed upstream")
    with pytest.raises(WeightsError, match="wrong hash"):
        weights.resolve(name)
    assert not list(weights.download_dir().iterdir())


def test_download_failure_is_a_weights_error(custom_entry, monkeypatch) -> None:
    name, source = custom_entry
    monkeypatch.setenv("GCBENCH_OFFLINE", "0")
    source.unlink()
    with pytest.raises(WeightsError, match="download failed"):
        weights.resolve(name)


def test_register_and_unknown_names(tmp_path: Path, monkeypatch) -> None:
    entry = weights.WeightFile("plugin-file", "p.bin", "ab" * 32, 10, None, "MIT", ("my-metric",))
    weights.register(entry)
    try:
        assert weights.get("plugin-file") is entry
        with pytest.raises(ConfigError, match="already"):
            weights.register(entry)
        monkeypatch.setenv("GCBENCH_OFFLINE", "0")
        with pytest.raises(WeightsError, match="no download URL"):
            weights.resolve("plugin-file")
    finally:
        weights.unregister("plugin-file")
    with pytest.raises(UnknownNameError, match="alexnet-imagenet"):
        weights.get("alexnet-imagnet")
    with pytest.raises(ConfigError):
        weights.WeightFile("x", "a/b.pth", None, None, None, "MIT", ("m",))
    with pytest.raises(ConfigError):
        weights.WeightFile("x", "b.pth", "xyz", None, None, "MIT", ("m",))


def test_manifest_errors(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[niqe-pristine]\nfilename = "x.npz"\nlicense = "MIT"\nused_by = ["niqe"]\n')
    monkeypatch.setenv("GCBENCH_WEIGHTS_MANIFEST", str(bad))
    weights.reload()
    try:
        with pytest.raises(ConfigError, match="defined twice"):
            weights.entries()
        bad.write_text('[other]\nfilename = "x.npz"\nlicense = "MIT"\nused_by = ["x"]\nsha = "ab"\n')
        weights.reload()
        with pytest.raises(ConfigError, match="unknown keys"):
            weights.entries()
    finally:
        monkeypatch.delenv("GCBENCH_WEIGHTS_MANIFEST")
        weights.reload()


def test_override_identity(tmp_path: Path) -> None:
    f = tmp_path / "standin.pth"
    f.write_bytes(b"random weights")
    ov = weights.describe_override(f, "inception-fid")
    assert weights.identity_of("inception-fid", ov) == f"override:{_sha(f)}"
    assert weights.identity_of("inception-fid") == "inception-fid:6726825d"
    assert "unverified" in ov.label and "inception-fid" in ov.label
    with pytest.raises(WeightsError, match="no such file"):
        weights.describe_override(tmp_path / "none.pth", "inception-fid")


def test_cli_lists_status_and_installs(custom_entry, tmp_path: Path, capsys, monkeypatch) -> None:
    name, source = custom_entry
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    lines = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert "| missing |" in lines["alexnet-imagenet"] and "| missing |" in lines["inception-fid"]
    assert "| found |" in lines["niqe-pristine"] and "| missing |" in lines[name]
    monkeypatch.setenv("GCBENCH_WEIGHTS", str(tmp_path / "installed"))
    assert main(["weights", "--install", name, str(source)]) == 0
    assert (tmp_path / "installed" / source.name).read_bytes() == source.read_bytes()
    assert "| found |" in capsys.readouterr().out
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"x")
    assert main(["weights", "--install", name, str(wrong)]) == 2
    assert "wrong hash" in capsys.readouterr().err


def test_weights_command_does_not_import_torch() -> None:
    code = ("import sys; from gcbench.cli import main; main(['weights']); "
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("NO-TORCH")
