"""An LA's timescales through the gateway: delegation decides who may read and change them."""

from __future__ import annotations

from services.gateway.forwarding import forward
from shared.api import timescales as api

tags = ("timescales",)
path = "/organisations/{la_id}/timescales"
forward("get", path, "The LA's timescale rules, term dates and termly deadline dates (its Virtual School)",
        response=api.TimescalesOut, service="delegation", tags=tags)
forward("put", path, "Change the LA's timescales (VS admin): saved as the next version; 409 if someone saved since "
        "based_on_version", body=api.TimescalesIn, response=api.TimescalesOut, service="delegation", tags=tags)
forward("get", f"{path}/history", "Every version of the LA's timescales, newest first: who, when, what changed, why",
        response=api.TimescalesVersion, many=True, service="delegation", tags=tags)
forward("post", f"{path}/preview", "The deadlines the LA's timescales give for a meeting date and/or a date entered "
        "care, each with the rule that set it", body=api.DeadlinePreviewIn, response=api.DeadlinePreview,
        service="delegation", tags=tags)
