"""What the deployment checks share: docker-compose.yml read as compose reads it, without Docker,
and the names of the services."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# The UISE services, each a Kafka principal (listed here, not taken from the generator, so the
# checks do not share its mistakes).
SERVICES = ("registry", "identity", "intake", "signature", "validation", "routing", "deadline",
            "reporting")

_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Ref:
    """One ${NAME...} in a compose value: `op` is '', '-', ':-', '?' or ':?'."""

    name: str
    op: str
    default: str

    @property
    def required(self) -> bool:
        return self.op in ("?", ":?")


@dataclass
class ComposeFile:
    data: dict

    @property
    def services(self) -> dict[str, dict]:
        return self.data["services"]

    def env(self, service: str) -> dict[str, str]:
        env = self.services[service].get("environment") or {}
        if isinstance(env, list):
            return dict(str(item).partition("=")[::2] for item in env)
        return {str(k): "" if v is None else str(v) for k, v in env.items()}

    @staticmethod
    def refs(value: str) -> list[Ref]:
        out = []
        for m in _REF.finditer(value):
            if m.group(0) == "$$":
                continue
            name = m.group(1) or m.group(4)
            out.append(Ref(name, m.group(2) or "", m.group(3) or ""))
        return out

    def only_ref(self, value: str) -> Ref:
        """The variable a value is made of, asserting the value is nothing else."""
        refs = self.refs(value)
        assert len(refs) == 1 and value == f"${{{refs[0].name}{refs[0].op}{refs[0].default}}}", (
            f"{value!r} is not a single variable"
        )
        return refs[0]

    def services_referencing(self, variable: str) -> set[str]:
        return {
            name for name in self.services
            if any(r.name == variable for v in self.env(name).values() for r in self.refs(v))
        }

    def depends_on(self, service: str) -> dict[str, str]:
        deps = self.services[service].get("depends_on") or {}
        if isinstance(deps, list):
            return {d: "service_started" for d in deps}
        return {n: (spec or {}).get("condition", "service_started") for n, spec in deps.items()}

    def binds(self, service: str) -> dict[str, tuple[Path, list[str]]]:
        """Bind mounts of the repository: container path -> (host path, options)."""
        out = {}
        for v in self.services[service].get("volumes") or []:
            parts = str(v).split(":")
            if len(parts) >= 2 and parts[0].startswith("."):
                out[parts[1]] = ((ROOT / parts[0]).resolve(), parts[2:])
        return out

    def command(self, service: str, key: str = "command") -> list[str]:
        value = self.services[service].get(key) or []
        return value if isinstance(value, list) else str(value).split()

    def is_built(self, service: str) -> bool:
        return "build" in self.services[service]


@pytest.fixture(scope="session")
def compose_file() -> ComposeFile:
    return ComposeFile(yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8")))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking `uise_service` runs once per UISE service."""
    if "uise_service" in metafunc.fixturenames:
        metafunc.parametrize("uise_service", SERVICES)


@pytest.fixture(scope="session")
def uise_services() -> tuple[str, ...]:
    return SERVICES
