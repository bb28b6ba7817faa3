"""JSON logs, one object a line, carrying the current trace and span ids, with personal data
(IINs, people's names) masked in the message, the extras and the exception (uise_common.privacy)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace

from uise_common.privacy import mask_text, mask_value

_STD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        for k, v in record.__dict__.items():
            if k not in _STD:  # an extra named like a field of the line (a hierarchy "level") keeps both
                out[k if k not in out else f"extra.{k}"] = mask_value(k, v)
        if record.exc_info:
            out["exc"] = mask_text(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = mask_text(record.exc_text)
        if record.stack_info:
            out["stack"] = mask_text(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel("WARNING")
