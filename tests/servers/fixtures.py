"""Session fixtures: the three sign-on servers, each started once and stopped after the last test."""

import pytest

from tests.servers import cas_server, oidc_provider, slapd, stop


@pytest.fixture(scope="session")
def ldap_directory(tmp_path_factory):
    process, directory = slapd.start(tmp_path_factory.mktemp("slapd"))
    yield directory
    stop(process)


@pytest.fixture(scope="session")
def cas(tmp_path_factory):
    # Tickets live 3 s here (60 s is django-cas-server's default): the expiry test waits them out.
    process, server = cas_server.start(tmp_path_factory.mktemp("cas"), ticket_validity_seconds=3)
    yield server
    stop(process)


@pytest.fixture(scope="session")
def openid(tmp_path_factory):
    process, provider = oidc_provider.start(tmp_path_factory.mktemp("oidc"))
    yield provider
    stop(process)
