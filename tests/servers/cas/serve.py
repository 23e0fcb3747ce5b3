"""Start the test CAS server: create its database and service, then serve on 127.0.0.1:<port>.

Run with the .venv here: ``.venv/bin/python serve.py PORT``. Environment:
CAS_DATABASE (SQLite file), CAS_USERS (JSON accounts), CAS_TICKET_VALIDITY (seconds).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402
from django.core.management import call_command  # noqa: E402

django.setup()
call_command("migrate", verbosity=0, interactive=False)

from cas_server.models import ReplaceAttributName, ServicePattern  # noqa: E402

if not ServicePattern.objects.filter(name="desk").exists():
    # The service desk on loopback, any port; every attribute is released; a
    # logout at CAS is posted to the desk's service address (single logout).
    pattern = ServicePattern.objects.create(
        pos=0, name="desk", pattern=r"^http://(127\.0\.0\.1|localhost)(:\d+)?/.*", single_log_out=True
    )
    ReplaceAttributName.objects.create(name="*", service_pattern=pattern)
call_command("runserver", f"127.0.0.1:{sys.argv[1]}", use_reloader=False, use_threading=True, verbosity=0)
