"""Sign-on settings that cannot work are refused when the app starts, naming the variable and the fix."""

import pytest

from tracker import create_app
from tracker.config import ConfigError, Environment, load


@pytest.mark.parametrize(
    "settings, says",
    [
        (
            {"SIGNON_CAS_URL": "cas.campus.edu.cn/cas"},
            "TRACKER_CAS_URL='cas.campus.edu.cn/cas' is not a web address",
        ),
        ({"SIGNON_CAS_URL": "https://cas/x?y=1"}, "no query"),
        ({"SIGNON_CAS_URL": "https://cas.campus", "SIGNON_CAS_VERSION": "4"}, "TRACKER_CAS_VERSION='4'"),
        ({"SIGNON_OIDC_ISSUER": "https://id.campus"}, "TRACKER_OIDC_CLIENT_ID is not"),
        (
            {
                "SIGNON_OIDC_ISSUER": "https://id.campus",
                "SIGNON_OIDC_CLIENT_ID": "d",
                "SIGNON_OIDC_SCOPE": "profile",
            },
            "must contain openid",
        ),
        ({"SIGNON_LDAP_URL": "http://ldap.campus"}, "is not an LDAP address"),
        ({"SIGNON_LDAP_URL": "ldap://ldap.campus"}, "also set TRACKER_LDAP_USER_DN"),
        (
            {"SIGNON_LDAP_URL": "ldap://ldap.campus", "SIGNON_LDAP_USER_DN": "uid=x,dc=c"},
            "must contain {username}",
        ),
        ({"SIGNON_ROLES": "groups:techs=technician"}, "TRACKER_SIGNON_ROLES: 'groups:techs=technician'"),
        ({"SIGNON_UNMAPPED": "maybe"}, "TRACKER_SIGNON_UNMAPPED='maybe'"),
        ({"SIGNON_TIMEOUT_SECONDS": "0"}, "TRACKER_SIGNON_TIMEOUT_SECONDS='0'"),
        (
            {"TRACKER_PRODUCTION": True, "SIGNON_CAS_URL": "http://cas.campus.edu.cn/cas"},
            "must be reached over https",
        ),
    ],
)
def test_unusable_sign_on_settings_refuse_to_start(app_config, settings, says):
    with pytest.raises(ConfigError) as refused:
        create_app({**app_config, **settings})
    assert says in str(refused.value)


def test_sign_on_settings_come_from_the_environment(tmp_path):
    config = load(
        Environment(
            {
                "TRACKER_INSTANCE_PATH": str(tmp_path),
                "TRACKER_CAS_URL": "https://cas.campus/cas",
                "TRACKER_SIGNON_ROLES": "affiliation:student=requester",
            }
        )
    )
    assert config["SIGNON_CAS_URL"] == "https://cas.campus/cas"
    assert config["SIGNON_ROLES"] == "affiliation:student=requester"
    assert config["SIGNON_OIDC_ISSUER"] is None


def test_loopback_provider_over_http_is_allowed_in_production(app_config):
    app = create_app(
        {**app_config, "TRACKER_PRODUCTION": True, "SIGNON_CAS_URL": "http://127.0.0.1:8443/cas/"}
    )
    assert app.extensions["signon"].cas_url == "http://127.0.0.1:8443/cas"
    assert app.extensions["signon"].enabled == ("cas",)
