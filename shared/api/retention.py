"""How long an LA keeps its children's records, as the gateway exposes it (pep owns the rule and the job that
erases records once it has passed). Additive changes only within /api/v1."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_KEEP_UNTIL_AGE = 75  # as care records: until the child's 75th birthday


class RetentionRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_until_age: int = Field(ge=25, le=100, description="The birthday on which a child's records are erased "
                                "(75 unless the LA's VS admin has chosen another, from 25 to 100)")
