"""Nothing beyond the contract can reach the browser, for every operation the gateway forwards (issue 19).

The gateway passes a service's JSON on unread. What keeps an internal column out is the owning service's
`shared.web.serves`, which sends `adapter.dump_json(adapter.validate_python(result))` for the operation's response
model: only the model's declared fields come out of that, provided

1. every forwarded operation is served through `serves` (tests/shared/test_catalogue.py), and `serves` refuses a
   response a handler made itself for an operation that declares JSON (tests/shared/test_passed_through.py);
2. no model in a forwarded operation's response keeps fields it does not declare (`extra="allow"`), and none
   serialises itself its own way: asserted here, for every model reachable from every such response;
3. a field typed `Any` can carry anything: the few there are hold what people wrote (answers, a template, a
   recorded change), and are listed here with why, so a new one is a decision, not an accident.

The fuzz run (tests/system/test_zy_fuzz.py) checks each answer against the OpenAPI document besides."""

from __future__ import annotations

import typing

from pydantic import BaseModel

import services.gateway.app  # noqa: F401  # binds the gateway's own handlers into OWN
from services.gateway.bound import OWN
from services.gateway.forwarding import handler_for
from shared.api.operations import Operation, catalogue

FORWARDED_JSON = [op for op in catalogue().values()
                  if op.service != "gateway" and op.id not in OWN and op.response is not None]
# Fields whose value is whatever a person entered or a template declares, by the contract.
FREE_FORM = {
    "Change.from_value": "a child's record before a change a person made (the record's history)",
    "Change.to_value": "the same, after",
    "SectionOut.answers": "what people wrote in a PEP section, checked against its template when saved",
    "Difference.before": "an answer in the earlier of two compared versions of a section",
    "Difference.after": "the same answer in the later one",
    "TemplateOut.body": "the declarative PEP template, as an LA's administrator edited it",
}


def models_in(annotation: object, seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """Every pydantic model an annotation names, at any depth (lists, unions, dict values, a model's own
    fields, a model that contains itself)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in seen:
            seen.add(annotation)
            for field in annotation.model_fields.values():
                models_in(field.annotation, seen)
        return seen
    for argument in typing.get_args(annotation):
        models_in(argument, seen)
    return seen


def names_any(annotation: object) -> bool:
    """An `Any` the field's own type holds (not one inside another model, which is that model's field)."""
    if annotation is typing.Any or annotation in (object, dict, list):
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False
    return any(names_any(argument) for argument in typing.get_args(annotation))


def response_models(op: Operation) -> set[type[BaseModel]]:
    return models_in(op.response, set())


def test_the_gateway_forwards_most_of_the_catalogue_as_json() -> None:
    assert len(FORWARDED_JSON) >= 90
    assert all(handler_for(op).__qualname__.startswith("_forward") for op in FORWARDED_JSON)


def test_no_model_in_a_forwarded_answer_keeps_fields_it_does_not_declare() -> None:
    keeping = sorted({f"{op.id}: {model.__name__}" for op in FORWARDED_JSON for model in response_models(op)
                      if model.model_config.get("extra") == "allow"})
    assert keeping == []


def test_no_model_in_a_forwarded_answer_serialises_itself_its_own_way() -> None:
    """A model_serializer or field serializer could write anything."""
    own_way = sorted({f"{op.id}: {model.__name__}" for op in FORWARDED_JSON for model in response_models(op)
                      if model.__pydantic_decorators__.model_serializers
                      or model.__pydantic_decorators__.field_serializers})
    assert own_way == []


def test_the_only_free_form_fields_are_what_people_wrote() -> None:
    free = {f"{model.__name__}.{name}" for op in FORWARDED_JSON for model in response_models(op)
            for name, field in model.model_fields.items() if names_any(field.annotation)}
    assert free == set(FREE_FORM)
