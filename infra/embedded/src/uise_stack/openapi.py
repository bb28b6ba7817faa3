"""Generate each service's OpenAPI document into docs/openapi/, and check it has not drifted."""

from __future__ import annotations

import importlib
import json
import tempfile
from pathlib import Path

from uise_common.settings import Settings
from uise_stack.config import SERVICES

OPENAPI_DIR = Path(__file__).resolve().parents[4] / "docs" / "openapi"


def build(service: str) -> dict:
    from uise_common.service import ServiceRuntime

    spec = importlib.import_module(f"uise_{service}.entrypoint").SPEC
    with tempfile.TemporaryDirectory() as tmp:
        runtime = ServiceRuntime(spec, Settings(service_name=service, data_dir=Path(tmp)))
        doc = runtime.app().openapi()
        runtime.engine.dispose()
    return doc


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def expected() -> dict[Path, str]:
    return {OPENAPI_DIR / f"{s}.json": render(build(s)) for s in SERVICES}


def drift() -> list[str]:
    return [str(p) for p, text in expected().items() if not p.exists() or p.read_text() != text]


def generate() -> list[Path]:
    OPENAPI_DIR.mkdir(parents=True, exist_ok=True)
    files = expected()
    for path, text in files.items():
        path.write_text(text)
    return list(files)
