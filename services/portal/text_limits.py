"""The most characters each free-text answer on a portal form may have, read from the API models that refuse
more (shared/api), so a form's character count and the service's check cannot disagree. Templates read them as
`limits.<name>` and give them to GOV.UK Frontend's character count."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.api.children import ChildIn, NoteIn
from shared.api.identity import SettingIn
from shared.api.peps import PepAction
from shared.api.qa import ConfirmIn, DecideIn, FundingDecideIn, ReviewDraftIn
from shared.api.tasks import DelegationIn, RetractIn
from shared.api.timescales import TimescalesIn


def max_length(model: type[BaseModel], field: str) -> int:
    """The field's maxLength in the model's JSON schema (a plain string, or one that may be null)."""
    schema: dict[str, Any] = model.model_json_schema()["properties"][field]
    for option in [schema, *schema.get("anyOf", [])]:
        if "maxLength" in option:
            return int(option["maxLength"])
    raise LookupError(f"{model.__name__}.{field} has no maximum length")


LIMITS = {
    "health_notes": max_length(ChildIn, "health_notes"),
    "child_note": max_length(NoteIn, "body"),
    "pep_action_reason": max_length(PepAction, "reason"),
    "qa_feedback": max_length(ReviewDraftIn, "overall_feedback"),
    "qa_return_reason": max_length(DecideIn, "reason"),
    "qa_confirm_note": max_length(ConfirmIn, "note"),
    "funding_reason": max_length(FundingDecideIn, "reason"),
    "delegation_note": max_length(DelegationIn, "note"),
    "retract_reason": max_length(RetractIn, "reason"),
    "timescales_note": max_length(TimescalesIn, "note"),
    "setting_address": max_length(SettingIn, "address"),
}
