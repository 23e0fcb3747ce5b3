"""Debian's slapd with a small campus directory: people, a no-name account and groups."""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.servers import cannot_start, free_port, stop, wait_for_port

SLAPD = "/usr/sbin/slapd"
BASE = "dc=campus,dc=test"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "admin-secret"
PASSWORD = "campus-pass-1"

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {dir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{base}"
rootdn "{admin}"
rootpw {admin_password}
directory {dir}/data
access to attrs=userPassword by self read by anonymous auth by * none
access to * by users read by * none
"""

ENTRIES = """\
dn: {base}
objectClass: dcObject
objectClass: organization
o: Campus
dc: campus

dn: ou=people,{base}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{base}
objectClass: organizationalUnit
ou: groups

dn: uid=s2023001,ou=people,{base}
objectClass: inetOrgPerson
uid: s2023001
cn: Li Ming
sn: Li
displayName: 李明
employeeNumber: 2023001
mail: liming@campus.test
mobile: 13800000001
userPassword: {password}

dn: uid=t1001,ou=people,{base}
objectClass: inetOrgPerson
uid: t1001
cn: Wang Fang
sn: Wang
displayName: 王芳
employeeNumber: T1001
mail: wangfang@campus.test
telephoneNumber: 010-6000-1001
userPassword: {password}

dn: uid=v9001,ou=people,{base}
objectClass: inetOrgPerson
uid: v9001
cn: Visiting Scholar
sn: Scholar
userPassword: {password}

dn: uid=nameless,ou=people,{base}
objectClass: account
objectClass: simpleSecurityObject
uid: nameless
userPassword: {password}

dn: cn=students,ou=groups,{base}
objectClass: groupOfNames
cn: students
member: uid=s2023001,ou=people,{base}

dn: cn=repairs-techs,ou=groups,{base}
objectClass: groupOfNames
cn: repairs-techs
member: uid=t1001,ou=people,{base}

"""


@dataclass
class Directory:
    url: str
    base: str = BASE
    admin_dn: str = ADMIN_DN
    admin_password: str = ADMIN_PASSWORD
    password: str = PASSWORD

    def add(self, ldif: str) -> None:
        """Add entries (or apply an LDIF change) as the directory's administrator."""
        subprocess.run(
            ["ldapmodify", "-a", "-x", "-H", self.url, "-D", self.admin_dn, "-w", self.admin_password],
            input=ldif.format(base=self.base, password=self.password),
            text=True,
            check=True,
            capture_output=True,
        )


def start(folder: Path):
    """Start slapd in ``folder``; return (process, Directory). Fails or skips when slapd is missing."""
    if not Path(SLAPD).exists() or not shutil.which("ldapmodify"):
        cannot_start(
            "slapd",
            "Debian's slapd and ldap-utils are not installed: "
            "sudo apt-get install slapd ldap-utils (python3 desk.py test does it as root)",
        )
    (folder / "data").mkdir(parents=True, exist_ok=True)
    conf = folder / "slapd.conf"
    conf.write_text(CONFIG.format(dir=folder, base=BASE, admin=ADMIN_DN, admin_password=ADMIN_PASSWORD))
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    log = folder / "slapd.log"
    # -d 0: stay in the foreground (a child we can stop), logging nothing but errors.
    with log.open("w") as out:  # the child keeps its own copy
        process = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", f"{url}/", "-d", "0"], stdout=out, stderr=subprocess.STDOUT
        )
    wait_for_port(process, port, "slapd", log)
    directory = Directory(url)
    try:
        directory.add(ENTRIES)
    except subprocess.CalledProcessError as error:
        stop(process)
        cannot_start("slapd", f"ldapmodify refused the test entries: {error.stderr}")
    return process, directory
