"""Sign-on's pure part: role mapping rules and profiles read from directory attributes."""

import pytest

from tracker.domain.roles import Role
from tracker.domain.signon import MappingError, build_profile, parse_role_map, roles_for


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ()),
        (
            "eduPersonAffiliation:student=requester",
            (("eduPersonAffiliation", "student", Role.REQUESTER, None),),
        ),
        (
            "groups:repairs-techs=technician@repairs;\nmemberOf:cn=heads,ou=groups,dc=x=centre_head@dorm",
            (
                ("groups", "repairs-techs", Role.TECHNICIAN, "repairs"),
                ("memberOf", "cn=heads,ou=groups,dc=x", Role.CENTRE_HEAD, "dorm"),
            ),
        ),
        ("affiliation:*=requester", (("affiliation", "*", Role.REQUESTER, None),)),
    ],
)
def test_role_map_reads_attribute_value_role_and_centre(text, expected):
    rules = parse_role_map(text)
    assert tuple((r.attribute, r.value, r.role, r.centre) for r in rules) == expected


@pytest.mark.parametrize(
    "text, says",
    [
        ("groups=requester", "write attribute:value=role"),
        ("groups:x=boss", "'boss' is not a role"),
        ("groups:x=technician", "technician@CENTRE_CODE"),
        ("groups:x=admin@repairs", "campus-wide"),
    ],
)
def test_role_map_refuses_a_rule_it_cannot_read(text, says):
    with pytest.raises(MappingError, match=says):
        parse_role_map(text)


def test_roles_come_from_every_matching_rule_without_case():
    rules = parse_role_map(
        "groups:Repairs-Techs=technician@repairs; affiliation:student=requester; mail:*=requester"
    )
    attributes = {"GROUPS": ("repairs-techs", "library"), "affiliation": ("staff",)}
    assert roles_for(attributes, rules) == {(Role.TECHNICIAN, "repairs")}
    assert roles_for({"mail": ("a@b",)}, rules) == {(Role.REQUESTER, None)}
    assert roles_for({}, rules) == set()


def test_profile_takes_the_first_known_attribute_of_each_field():
    profile = build_profile(
        " s1 ",
        {
            "cn": "Li Ming",
            "displayName": "李明",
            "studentNumber": 2023001,
            "mail": ["a@campus", "b@campus"],
            "telephoneNumber": "010-1",
            "mobile": "",
            "groups": ["x", None],
        },
    )
    assert (profile.username, profile.display_name, profile.number, profile.email, profile.phone) == (
        "s1",
        "李明",
        "2023001",
        "a@campus",
        "010-1",
    )
    assert profile.attributes["groups"] == ("x",)


def test_profile_without_a_name_says_so():
    assert build_profile("x", {"mail": "x@campus", "cn": "  "}).display_name is None
