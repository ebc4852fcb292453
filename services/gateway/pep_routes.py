"""PEP documents through the gateway: pep decides who may see and change each one."""

from __future__ import annotations

from services.gateway.forwarding import forward
from shared.api import peps as api

tags = ("peps",)
forward("get", "/children/{child_id}/peps", "A child's PEPs", response=api.PepSummary, many=True, service="pep",
        tags=tags)
forward("post", "/children/{child_id}/peps", "Start a PEP, carried forward from the child's last one",
        body=api.PepStart, response=api.PepSummary, status=201, service="pep", tags=tags)
forward("get", "/peps/{pep_id}", "A PEP's task list: sections, owners, status, progress", response=api.PepOverview,
        service="pep", tags=tags)
forward("get", "/peps/{pep_id}/sections/{key}", "A section: its questions and the answers so far",
        response=api.SectionOut, service="pep", tags=tags)
forward("put", "/peps/{pep_id}/sections/{key}", "Save some answers (409 if someone saved since your version)",
        body=api.SectionSave, response=api.SectionOut, service="pep", tags=tags)
forward("post", "/peps/{pep_id}/sections/{key}/complete", "Mark a section complete (its mandatory answers given)",
        response=api.SectionOut, service="pep", tags=tags)
forward("get", "/peps/{pep_id}/missing", "What stops sign-off", response=api.Missing, many=True, service="pep",
        tags=tags)
forward("get", "/peps/{pep_id}/sections/{key}/history", "Every save of a section", response=api.SavedVersion,
        many=True, service="pep", tags=tags)
forward("get", "/peps/{pep_id}/sections/{key}/compare", "Two versions side by side (query: from, to), or two "
        "terms (query: with_pep, another PEP of the same child)",
        response=api.Difference, many=True, service="pep", tags=tags)
for action, words in (("submit", "Submit (all mandatory answers given)"), ("return", "Return for amendment"),
                      ("approve", "Approve"), ("finalise", "Finalise: sign the PEP off"), ("cancel", "Cancel")):
    forward("post", f"/peps/{{pep_id}}/actions/{action}", words, body=api.PepAction, response=api.PepSummary,
            service="pep", tags=tags)

forward("get", "/templates", "PEP templates: the national defaults and my LAs' own", response=api.TemplateSummary,
        many=True, service="pep", tags=("templates",))
forward("get", "/templates/{template_id}", "A template version in full", response=api.TemplateOut, service="pep",
        tags=("templates",))
forward("post", "/organisations/{la_id}/templates", "Copy a template to an LA (VS admin)", body=api.TemplateCopy,
        response=api.TemplateOut, status=201, service="pep", tags=("templates",))
forward("put", "/templates/{template_id}", "Edit an LA's template: saved as its next version", body=api.TemplateEdit,
        response=api.TemplateOut, service="pep", tags=("templates",))
