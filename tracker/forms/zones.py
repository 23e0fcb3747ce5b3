"""Time zone choices people can find: the campus zone, then common ones, then all, with readable labels.

About 550 IANA names sorted from "Africa/Abidjan" hid the one a campus in
China wants (issue 15.11). The choices put the campus zone (TRACKER_TIMEZONE)
first, then COMMON_ZONES, each as "city · UTC offset · name", the city in the
reader's language (CLDR, through Babel); then every other zone in an
<optgroup>, by name. static/js/zone_search.js adds a search box above such a
select. The value is still checked on the server (``KnownZone``).
"""

from datetime import datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from tracker.services.requests import importer

# Where the campus's sources and partners most often are; the campus zone goes before them.
COMMON_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Australia/Sydney",
    "UTC",
)


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Return the IANA names the forms offer, sorted (read once: the list scans the zone files)."""
    return tuple(importer.zone_names())


@lru_cache(maxsize=4)
def _cities(locale: str) -> dict[str, str]:
    """Return each zone's city in ``locale``, where CLDR names one (about a second for all: once per language)."""
    cities = {}
    for zone in zone_names():
        city = get_timezone_location(zone, locale=locale, return_city=True)
        # Without a name of its own CLDR echoes the zone ("Argentina/Buenos Aires", "GMT+8"): say nothing.
        if city and "/" not in city and not zone.startswith("Etc/") and city != zone:
            cities[zone] = city
    return cities


@cache
def _zone_info(zone: str) -> ZoneInfo:
    # ZoneInfo keeps only the last few zones: the whole list would read ~550 files per page.
    return ZoneInfo(zone)


def utc_offset(zone: str, now: datetime) -> str:
    """Return the zone's offset at ``now`` as "UTC+08:00" (summer time included)."""
    minutes = round(now.astimezone(_zone_info(zone)).utcoffset().total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_label(zone: str, *, locale: str, now: datetime, city_first: bool = False) -> str:
    """Return a readable label: "Shanghai · UTC+08:00 · Asia/Shanghai", or name first for the long list."""
    if zone == "UTC":
        return _("Coordinated Universal Time · UTC")
    city = _cities(locale).get(zone)
    offset = utc_offset(zone, now)
    if city_first and city:
        return f"{city} · {offset} · {zone}"
    if city and zone.endswith(city.replace(" ", "_")):
        city = None  # "Europe/Berlin · Berlin" says it twice
    return " · ".join(part for part in (zone, city, offset) if part)


def zone_choices(*, campus: str, locale: str, now: datetime, blank: str | None = None) -> list[SelectChoice]:
    """Return SelectField choices: ``blank`` (value ""), the campus zone, common zones, then all others."""
    names = zone_names()
    campus = campus if campus in names else None
    first = [campus] if campus else []
    common = [zone for zone in COMMON_ZONES if zone in names and zone != campus]
    shown = set(first) | set(common)
    choices = [SelectChoice(value="", label=blank)] if blank is not None else []
    groups = (
        (_("Campus time zone"), first, True),
        (_("Common time zones"), common, True),
        (_("All time zones"), [zone for zone in names if zone not in shown], False),
    )
    for group, zones, city_first in groups:
        choices.extend(
            SelectChoice(value=zone, label=zone_label(zone, locale=locale, now=now, city_first=city_first),
                         optgroup=group)
            for zone in zones
        )
    return choices


class KnownZone:
    """Refuse a value that is no IANA time zone of the list (the select's choices are not trusted)."""

    message = _l("Unknown time zone “%(zone)s”: choose one from the list.")

    def __call__(self, form, field):
        value = field.data or ""
        if value and value not in zone_names():
            raise ValidationError(self.message % {"zone": value[:64]})
