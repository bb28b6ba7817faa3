"""Generate the committed AsyncAPI document and JSON Schemas from the models.

    uise-contracts generate   # rewrite contracts/asyncapi.json and contracts/schemas/
    uise-contracts check      # exit 1 if the committed files drifted from the models
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from uise_contracts.topics import TOPICS, Topic

CONTRACTS_DIR = Path(__file__).resolve().parents[2]
ASYNCAPI_PATH = CONTRACTS_DIR / "asyncapi.json"
SCHEMAS_DIR = CONTRACTS_DIR / "schemas"

CE_HEADERS_SCHEMA = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "ce_subject"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Event id; consumers deduplicate on it"},
        "ce_type": {"type": "string"},
        "ce_source": {"type": "string", "description": "urn:uise:<service>"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "The entity the event is about"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
    },
}


def schema_for(topic: Topic) -> dict:
    schema = topic.model.model_json_schema()
    schema["$id"] = f"urn:uise:schema:{topic.name}"
    return schema


def build_schemas() -> dict[str, dict]:
    return {f"{t.name}.json": schema_for(t) for t in TOPICS}


def build_asyncapi() -> dict:
    channels, operations, messages = {}, {}, {}
    for t in TOPICS:
        msg_id = t.model.__name__
        messages[msg_id] = {
            "name": msg_id,
            "title": t.ce_type,
            "contentType": "application/json",
            "headers": CE_HEADERS_SCHEMA,
            "payload": {"$ref": f"schemas/{t.name}.json"},
            "bindings": {"kafka": {"key": {"type": "string", "description": f"event.{t.key}"}}},
        }
        channels[t.name] = {
            "address": t.name,
            "description": t.description,
            "messages": {msg_id: {"$ref": f"#/components/messages/{msg_id}"}},
            "bindings": {
                "kafka": {
                    "topic": t.name,
                    "partitions": t.partitions,
                    "topicConfiguration": {"cleanup.policy": [t.cleanup],
                                           **({"retention.ms": int(t.extra_config["retention.ms"])}
                                              if "retention.ms" in t.extra_config else {})},
                }
            },
            "x-producers": list(t.producers),
            "x-consumers": list(t.consumers),
            "x-dead-letter-topic": t.dlq,
        }
        operations[f"publish_{t.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{t.name}"},
            "x-services": list(t.producers),
        }
        operations[f"consume_{t.name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{t.name}"},
            "x-services": list(t.consumers),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "UISE events",
            "version": "1",
            "description": "Events of the Unified Information System of Education of Kazakhstan. "
            "CloudEvents 1.0 in Kafka binary mode; the body is the model's JSON.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def expected_files() -> dict[Path, str]:
    files = {ASYNCAPI_PATH: render(build_asyncapi())}
    for name, schema in build_schemas().items():
        files[SCHEMAS_DIR / name] = render(schema)
    return files


def drift() -> list[str]:
    """Paths whose committed text differs from what the models generate, or that are stale."""
    files = expected_files()
    out = [str(p) for p, text in files.items() if not p.exists() or p.read_text() != text]
    if SCHEMAS_DIR.exists():
        out += [str(p) for p in SCHEMAS_DIR.glob("*.json") if p not in files]
    return out


def main(argv: list[str] | None = None) -> int:
    cmd = (argv if argv is not None else sys.argv[1:]) or ["generate"]
    if cmd[0] == "check":
        stale = drift()
        for p in stale:
            print(f"drifted: {p}")
        return 1 if stale else 0
    SCHEMAS_DIR.mkdir(exist_ok=True)
    for p in SCHEMAS_DIR.glob("*.json"):
        p.unlink()
    for path, text in expected_files().items():
        path.write_text(text)
    print(f"wrote {ASYNCAPI_PATH} and {len(TOPICS)} schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
