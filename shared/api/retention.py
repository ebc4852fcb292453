"""How long an LA keeps its children's records, as the gateway exposes it (pep owns the rule and the job that
erases records once it has passed). An increase applies at once; a reduction only after NOTICE_DAYS and a second
VS admin's confirmation, so one PUT cannot erase every older child within the hour. Additive changes only within
/api/v1."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_KEEP_UNTIL_AGE = 75  # as care records: until the child's 75th birthday


class RetentionRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_until_age: int = Field(ge=25, le=100, description="The birthday on which a child's records are erased "
                                "(75 unless the LA's VS admin has chosen another, from 25 to 100)")


NOTICE_DAYS = 30  # a reduction takes effect this many days after it is proposed, once a second VS admin confirms it


class RetentionConfirm(BaseModel):
    """A second VS admin confirms the pending reduction they were shown (its age, so a newer one is not confirmed
    unseen)."""
    model_config = ConfigDict(extra="forbid")
    keep_until_age: int = Field(ge=25, le=100, description="The pending reduction's age, as shown to the confirmer")


class RetentionReduction(BaseModel):
    """A reduction waiting: it erases nobody until a second VS admin confirms it and `takes_effect_on` has come."""
    keep_until_age: int
    previous_age: int
    proposed_by: uuid.UUID
    proposed_at: datetime
    takes_effect_on: date = Field(description=f"{NOTICE_DAYS} days after it was proposed")
    confirmed_by: uuid.UUID | None = Field(default=None, description="A VS admin other than the proposer")
    confirmed_at: datetime | None = None


class RetentionState(RetentionRule):
    """The age in effect (what the retention job uses) and any reduction waiting for its confirmation or date."""
    model_config = ConfigDict(extra="forbid")
    pending: RetentionReduction | None = None
