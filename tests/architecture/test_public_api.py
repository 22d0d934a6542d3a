"""gcbench's curated public API: exactly these names, each documented, each keeping one meaning."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import gcbench

EXPORTED = {
    "Availability", "Codec", "CodecSpec", "Column", "GcbenchError", "Metric", "Registry", "RunConfig",
    "ResultStore", "__version__", "codecs", "datasets", "get_codec", "get_metric", "load_dataset",
    "load_image", "metrics", "per_image", "plot_rd", "run", "summary",
}


def test_exactly_the_curated_names_are_exported() -> None:
    assert set(gcbench.__all__) == EXPORTED
    assert sorted(dir(gcbench)) == sorted(EXPORTED)


def test_every_exported_name_resolves_and_is_documented() -> None:
    for name in sorted(EXPORTED - {"__version__"}):
        obj = getattr(gcbench, name)
        assert inspect.getdoc(obj), f"gcbench.{name} has no docstring"


def test_registries_answer_from_a_fresh_interpreter() -> None:
    """The snippet a newcomer tries first, in a process that imported nothing else."""
    code = (
        "import gcbench\n"
        "codec = gcbench.get_codec('jpeg')\n"
        "assert 'jpeg' in gcbench.codecs.names() and 'jpeg' in gcbench.codecs and len(gcbench.codecs) > 10\n"
        "assert 'psnr' in gcbench.metrics.names() and 'kodak' in gcbench.datasets.names()\n"
        "import gcbench.codecs.spec, gcbench.metrics.base\n"
        "assert 'jpeg' in gcbench.codecs.names() and gcbench.metrics.get('psnr').name == 'psnr'\n"
        "print(type(codec).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "PillowCodec"


def test_public_names_keep_their_meaning_after_every_import_and_a_run(tmp_path: Path, sample_dir: Path) -> None:
    before = {name: getattr(gcbench, name) for name in EXPORTED}
    for module in pkgutil.walk_packages(gcbench.__path__, "gcbench."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    image = sorted(p for p in sample_dir.iterdir() if p.suffix == ".png")[0]
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / image.name).write_bytes(image.read_bytes())
    gcbench.run(gcbench.RunConfig(codecs=["jpeg@50"], metrics=["psnr"], dataset=str(folder), out=tmp_path / "out",
                                  progress=False))
    after = {name: getattr(gcbench, name) for name in EXPORTED}
    changed = [name for name in EXPORTED if after[name] is not before[name]]
    assert not changed, changed


def test_every_public_function_of_the_library_has_a_docstring() -> None:
    """Public = importable from a module without a leading underscore, defined in that module."""
    missing = []
    for info in pkgutil.walk_packages(gcbench.__path__, "gcbench."):
        if info.name.endswith("__main__") or any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != module.__name__:
                continue
            if not inspect.getdoc(obj):
                missing.append(f"{info.name}.{name}")
    assert not missing, f"{len(missing)} public functions without a docstring:\n" + "\n".join(missing)
