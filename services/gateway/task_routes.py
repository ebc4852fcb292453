"""Delegation tasks through the gateway: delegation decides who sees and acts on each task, and asks pep
whether the caller may see the PEP."""

from __future__ import annotations

from services.gateway.forwarding import forward
from shared.api import caseload
from shared.api import tasks as api

tags = ("tasks",)
forward("post", "/peps/{pep_id}/delegations", "Delegate sections of a PEP to the DT of the child's setting, due by "
        "a date (the Virtual School or the child's social worker)", body=api.DelegationIn, response=api.Task,
        status=201, service="delegation", tags=tags)
forward("get", "/peps/{pep_id}/tasks", "A PEP's tasks, newest first", response=api.Task, many=True,
        service="delegation", tags=tags)
forward("get", "/peps/{pep_id}/deadlines", "A PEP's deadlines by the LA's timescales, each with the rule that set "
        "it", response=api.PepDeadlines, service="delegation", tags=tags)
forward("get", "/tasks", "My tray (query: tray = current | retracted | submitted | sent; sort = due | -due | "
        "updated) with the counts of every tray", response=api.TaskList, service="delegation", tags=tags)
forward("get", "/tasks/{task_id}", "A task with its history", response=api.Task, service="delegation", tags=tags)
forward("post", "/tasks/{task_id}/retract", "Take a delegated task back, saying why", body=api.RetractIn,
        response=api.Task, service="delegation", tags=tags)
forward("get", "/caseload", "My caseload trackers: Overdue, No PEP date, Upcoming, with counts, the children in one "
        "(query: category, la_id, setting_id, social_worker_id) and, for the Virtual School, counts by setting and by "
        "social worker", response=caseload.Caseload, service="delegation", tags=tags)
forward("get", "/organisations/{la_id}/tray-settings", "How long retracted and submitted tasks stay in the trays "
        "(the LA's Virtual School)", response=api.TraySettings, service="delegation", tags=tags)
forward("put", "/organisations/{la_id}/tray-settings", "Change it (the LA's VS admin; 1 to 365 days)",
        body=api.TraySettings, response=api.TraySettings, service="delegation", tags=tags)
