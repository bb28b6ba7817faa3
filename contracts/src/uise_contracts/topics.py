"""Every topic UISE publishes: name, version, model, partitions, key, cleanup policy, producers
and consumers. The stack creates topics from this table; AsyncAPI is generated from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from uise_contracts import events as e

SUBMISSION_PARTITIONS = 3  # raise with replicas; ordering is per participant (the key)


@dataclass(frozen=True, eq=False)  # identity: each topic is one object in TOPICS
class Topic:
    entity: str
    event: str
    version: int
    model: type[BaseModel]
    key: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = SUBMISSION_PARTITIONS
    cleanup: Literal["delete", "compact"] = "delete"
    description: str = ""
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"uise.{self.entity}.{self.event}.v{self.version}"

    @property
    def ce_type(self) -> str:
        return f"kz.edu.uise.{self.entity}.{self.event}.v{self.version}"

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


TOPICS: tuple[Topic, ...] = (
    Topic("participant", "upserted", 1, e.ParticipantUpserted, "participant_id",
          ("registry",), ("identity", "intake", "signature", "validation", "routing", "deadline", "reporting"),
          partitions=1, cleanup="compact",
          description="Latest state of each participant of the hierarchy (clause 4)."),
    Topic("formlist", "approved", 1, e.FormListApproved, "year",
          ("registry",), ("intake", "signature", "validation", "routing", "deadline", "reporting"),
          partitions=1, cleanup="compact",
          description="The list of forms approved by order of the Minister for a year (clauses 6, 7)."),
    Topic("submission", "received", 1, e.SubmissionReceived, "participant_id",
          ("intake",), ("signature", "deadline"),
          description="A document and its signature stored and receipted by intake (clause 10)."),
    Topic("submission", "signature-checked", 1, e.SignatureChecked, "participant_id",
          ("signature",), ("validation", "routing", "intake"),
          description="Outcome of the CMS signature and signer-authority check (clause 8)."),
    Topic("submission", "validated", 1, e.SubmissionValidated, "participant_id",
          ("validation",), ("routing", "intake"),
          description="Outcome of parsing the document and running its form's rules (clause 11)."),
    Topic("submission", "queried", 1, e.SubmissionQueried, "participant_id",
          ("validation",), ("intake",),
          description="Queries found: the submission waits for the submitter's written explanations (clause 11)."),
    Topic("submission", "explained", 1, e.SubmissionExplained, "participant_id",
          ("intake",), ("validation",),
          description="The submitter's explanations of a queried submission's queries, given after upload."),
    Topic("submission", "accepted", 1, e.SubmissionAccepted, "participant_id",
          ("routing",), ("deadline", "reporting", "intake", "validation"),
          description="Final state: filed in the recipient's inbox (clause 9)."),
    Topic("submission", "returned", 1, e.SubmissionReturned, "participant_id",
          ("routing",), ("deadline", "reporting", "intake", "validation"),
          description="The recipient sent an accepted submission back for correction, with its comment (clause 9)."),
    Topic("submission", "rejected", 1, e.SubmissionRejected, "participant_id",
          ("routing",), ("intake",),
          description="Final state: refused, with the stage and a stable reason code."),
    Topic("submission", "processing-failed", 1, e.SubmissionProcessingFailed, "participant_id",
          ("intake", "signature", "validation", "routing", "deadline", "reporting"), ("intake",),
          description="A service dead-lettered an event about a submission (a deterministic failure, or past the "
                      "retry cap): intake rejects the submission (PROCESSING_FAILED) unless it is final."),
    Topic("submission", "timeliness-recorded", 1, e.TimelinessRecorded, "participant_id",
          ("deadline",), ("intake",),
          description="Delivery time compared with the effective deadline (clauses 10, 11)."),
    Topic("submission", "aggregated", 1, e.SubmissionAggregated, "participant_id",
          ("reporting",), ("intake",),
          description="The submission's figures are included in its recipient's consolidation (clause 13)."),
    Topic("consolidation", "due", 1, e.ConsolidationDue, "node_id",
          ("deadline",), ("reporting", "intake", "routing"),
          description="A node must consolidate its subordinates' data and submit up (clause 9)."),
    Topic("consolidation", "ready", 1, e.ConsolidationReady, "node_id",
          ("reporting",), ("routing", "external"),
          description="A node's consolidated document (XLSX, JSON) is built for its head to sign and submit up."),
    Topic("inforequest", "issued", 1, e.InfoRequestIssued, "to_participant_id",
          ("routing",), ("intake", "signature", "validation", "deadline", "reporting"),
          description="An additional information request sent down the hierarchy (clause 12)."),
    Topic("deadline", "reminder", 1, e.DeadlineReminder, "participant_id",
          ("deadline",), ("reporting",),
          description="A participant's deadline is near and nothing was delivered yet."),
    Topic("deadline", "changed", 1, e.DeadlineChanged, "form_code",
          ("deadline",), ("external",),
          description="An effective deadline published or moved, with the old and new time and the reason (clause 11)."),
    Topic("deadline", "violation", 1, e.DeadlineViolation, "participant_id",
          ("deadline",), ("reporting", "routing"),
          description="`late` or `missing` submission (clause 11)."),
    Topic("report", "published", 1, e.ReportPublished, "node_id",
          ("reporting",), ("external",),
          # kept for good: one small event per report version, and an integrator replays from the start
          extra_config={"retention.ms": "-1"},
          description="One version of a node's report, with signed links to its JSON, XLSX and PDF documents "
                      "(clauses 13, 14); kept for good, so a consumer can replay from the beginning."),
    Topic("session", "started", 1, e.SessionStarted, "subject",
          ("identity",), ("audit",),
          description="A person signed in with the EDS, or a machine client took a token (section 10)."),
    Topic("session", "ended", 1, e.SessionEnded, "subject",
          ("identity",), ("identity", "audit"),
          description="A session signed out or revoked; its tokens are refused from then on."),
)

_BY_MODEL = {t.model: t for t in TOPICS}
BY_NAME = {t.name: t for t in TOPICS}


def topic_for(model: type[BaseModel] | BaseModel) -> Topic:
    """The one topic an event model is published on."""
    cls = model if isinstance(model, type) else type(model)
    return _BY_MODEL[cls]
