"""Parser models at the edges where events arrive: the state machine's step payloads (the S3
notifications, API Gateway and EventBridge events use Powertools' own models). Raw dicts
never travel inward: a malformed payload fails here, with the field that is wrong."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

INVOICE_ID = r"^inv_[0-9A-Z]{26}$"


class ParkInput(BaseModel):
    """The parked milestone loop: its invoice and the task token that resumes it."""

    model_config = ConfigDict(extra="ignore")

    invoice_id: str = Field(..., pattern=INVOICE_ID)
    token: str = Field(..., min_length=1, max_length=4096)


class StepInput(BaseModel):
    """What the state machine passes to each step (statemachines/invoice.asl.yaml Parameters)."""

    model_config = ConfigDict(extra="ignore")

    invoice_id: str = Field(..., pattern=INVOICE_ID)


class JobInput(BaseModel):
    """What the jobs state machine passes to each batch (statemachines/actions.asl.yaml)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(..., pattern=r"^job_[A-Z2-7]{24}$")


class FailureInput(StepInput):
    """The Catch of the state machine: the error Step Functions caught ({Error, Cause})."""

    error: dict[str, Any] = Field(default_factory=dict)


class SesEventDetail(BaseModel):
    """The `detail` of an SES event delivered by EventBridge (configuration set -> default bus)."""

    model_config = ConfigDict(extra="allow")

    eventType: str | None = None
    mail: dict[str, Any] = Field(default_factory=dict)


class S3ObjectRef(BaseModel):
    key: str = Field(..., min_length=1, max_length=2048)  # URL-encoded, as S3 sends it
    size: int = Field(0, ge=0)
    eTag: str | None = None
    versionId: str | None = None
    sequencer: str | None = None


class S3Bucket(BaseModel):
    name: str


class S3Entity(BaseModel):
    bucket: S3Bucket
    object: S3ObjectRef | None = None


class S3Record(BaseModel):
    eventName: str = ""
    s3: S3Entity


class S3Notification(BaseModel):
    """An S3 event notification: only what intake reads is required (Powertools' S3Model also
    requires fields that some senders leave out, e.g. ownerIdentity on browser POST uploads)."""

    Records: list[S3Record] = Field(default_factory=list)
