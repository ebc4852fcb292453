"""The demo world every service seeds its own part of (`python -m services.<name> seed-demo`).

Fixed ids, so each service can refer to the same organisations and people without asking another.
Development only: the password is public.
"""

from __future__ import annotations

import uuid

DEMO_PASSWORD = "demo-pass-2026"


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://epep.invalid/demo/{name}")


LA_ID, OAKFIELD, RIVERSIDE = _id("la"), _id("school/oakfield"), _id("school/riverside")
LA = {"id": LA_ID, "name": "Demo Virtual School"}
# A second council, so every screen can be seen to keep LAs apart.
OTHER_LA_ID, HILLSIDE = _id("la/northshire"), _id("school/hillside")
OTHER_LA = {"id": OTHER_LA_ID, "name": "Northshire Virtual School"}
SCHOOLS = [
    {"id": OAKFIELD, "name": "Oakfield Primary School", "setting_type": "school", "phase": "primary", "urn": "100001"},
    {"id": RIVERSIDE, "name": "Riverside Academy", "setting_type": "academy", "phase": "secondary", "urn": "100002"},
]
OTHER_SCHOOLS = [
    {"id": HILLSIDE, "name": "Hillside School", "setting_type": "school", "phase": "primary", "urn": "200001"},
]

# (key, email, given, family, [(organisation id, role)])
ACCOUNTS: list[tuple[str, str, str, str, list[tuple[uuid.UUID, str]]]] = [
    ("admin", "admin@demo.test", "Amira", "Admin", [(LA_ID, "vs_admin")]),
    ("caseworker", "caseworker@demo.test", "Cal", "Caseworker", [(LA_ID, "vs_caseworker")]),
    ("approver", "approver@demo.test", "Alex", "Approver", [(LA_ID, "vs_approver")]),
    ("sw", "sw@demo.test", "Sam", "Social-Worker", [(LA_ID, "social_worker")]),
    ("iro", "iro@demo.test", "Ira", "Reviewer", [(LA_ID, "iro")]),
    ("dt", "dt@demo.test", "Dana", "Teacher", [(OAKFIELD, "designated_teacher")]),
    ("staff", "staff@demo.test", "Sol", "Staff", [(OAKFIELD, "setting_staff")]),
    ("dt2", "dt2@demo.test", "Rory", "Teacher", [(RIVERSIDE, "designated_teacher")]),
    ("carer", "carer@demo.test", "Cara", "Carer", [(LA_ID, "carer")]),
    ("admin2", "admin@northshire.test", "Nadia", "Northshire", [(OTHER_LA_ID, "vs_admin")]),
    ("dt3", "dt@hillside.test", "Hugo", "Hillside", [(HILLSIDE, "designated_teacher")]),
]
ROLE_WORDS = {"vs_admin": "Virtual School administrator", "vs_caseworker": "Virtual School caseworker",
              "vs_approver": "Virtual School approver", "social_worker": "Social worker",
              "iro": "Independent Reviewing Officer", "designated_teacher": "Designated Teacher",
              "setting_staff": "Setting staff", "carer": "Carer"}


def account_id(key: str) -> uuid.UUID:
    return _id(f"user/{key}")


# Children are the LA's (pep keeps them); made-up names.
CHILDREN = [
    {"id": _id("child/1"), "given_name": "Jordan", "family_name": "Example", "date_of_birth": "2016-04-12",
     "setting_id": OAKFIELD, "year_group": "Year 5"},
    {"id": _id("child/2"), "given_name": "Riley", "family_name": "Sample", "date_of_birth": "2017-09-03",
     "setting_id": OAKFIELD, "year_group": "Year 4"},
    {"id": _id("child/3"), "given_name": "Morgan", "family_name": "Placeholder", "date_of_birth": "2011-01-22",
     "setting_id": RIVERSIDE, "year_group": "Year 10"},
    {"id": _id("child/4"), "given_name": "Casey", "family_name": "Test", "date_of_birth": "2009-06-30",
     "setting_id": RIVERSIDE, "year_group": "Year 12"},
]
