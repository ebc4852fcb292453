"""Children's core data through the gateway: pep decides who may see and change each child."""

from __future__ import annotations

from services.gateway.forwarding import forward
from shared.api import children as api
from shared.api import retention

tags = ("children",)
forward("get", "/children", "My children (query: setting_id, q for a name, limit, offset)", response=api.ChildList,
        service="pep", tags=tags)
forward("post", "/children", "Add a child to an LA where I work for the Virtual School", body=api.ChildIn,
        response=api.ChildProfile, status=201, service="pep", tags=tags)
forward("post", "/children/import", "Create or update an LA's children from CSV, matched by social_care_id; a file "
        "with any bad row imports nothing (422 with a report row by row and the columns)", body=api.CsvImport,
        response=api.ImportResult, service="pep", tags=tags)
forward("post", "/children/attendance/import", "Record attendance for an LA's children from CSV; all or nothing",
        body=api.CsvImport, response=api.AttendanceImportResult, service="pep", tags=tags)
forward("get", "/children/{child_id}", "A child's profile: core data, key indicators, who can see it, history",
        response=api.ChildProfile, service="pep", tags=tags)
forward("patch", "/children/{child_id}", "Change a child's core data (409 with the current record if it changed "
        "since your version)", body=api.ChildPatch, response=api.ChildProfile, service="pep", tags=tags)
forward("get", "/children/{child_id}/attendance", "A child's attendance, and this academic year's percentage",
        response=api.AttendanceList, service="pep", tags=tags)
forward("post", "/children/{child_id}/attendance", "Record a period's attendance (the same period again replaces "
        "it)", body=api.AttendanceIn, response=api.Attendance, status=201, service="pep", tags=tags)
forward("get", "/children/{child_id}/siblings", "A child's siblings that I can see", response=api.Sibling,
        many=True, service="pep", tags=tags)
forward("post", "/children/{child_id}/siblings", "Link a sibling of the same LA (a link: nothing is copied)",
        body=api.SiblingLink, response=api.Sibling, many=True, status=201, service="pep", tags=tags)
forward("delete", "/children/{child_id}/siblings/{sibling_id}", "Remove a sibling link", status=204, service="pep",
        tags=tags)
forward("get", "/children/{child_id}/notes", "A child's case notes, newest first (professionals only; carers 403)",
        response=api.Note, many=True, service="pep", tags=tags)
forward("post", "/children/{child_id}/notes", "Add a case note (kept as written: a correction is a new note)",
        body=api.NoteIn, response=api.Note, status=201, service="pep", tags=tags)
forward("get", "/children/{child_id}/activity", "What happened on a child's record that I may know of, newest "
        "first (query: before, limit); says what and who, never the content", response=api.ActivityList,
        service="pep", tags=tags)
forward("get", "/children/{child_id}/access-log", "Who reached this child's record and PEPs, newest first (the "
        "Virtual School only; query: since, until as YYYY-MM-DD, default this month; pep_id; reads_only=true)",
        response=api.AccessLog, service="pep", tags=tags)
# The subject access export (JSON and PDF) gathers every service's part: services/gateway/subject_access.py.
forward("get", "/organisations/{la_id}/retention", "How long the LA keeps a child's records: until which birthday "
        "(75 unless its VS admin chose another; the LA's Virtual School)", response=retention.RetentionRule,
        service="pep", tags=tags)
forward("put", "/organisations/{la_id}/retention", "Change it (the LA's VS admin; 25 to 100). When that birthday "
        "passes, the retention job erases the child's records in every service", body=retention.RetentionRule,
        response=retention.RetentionRule, service="pep", tags=tags)
