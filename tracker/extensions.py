"""Flask extensions, created unbound; ``create_app`` binds them."""

from functools import cached_property

from babel import support
from flask_babel import Babel as _Babel
from flask_babel import Domain, get_locale
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints: Alembic can alter them later, also on SQLite (batch mode).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login = LoginManager()
csrf = CSRFProtect()


class _CatalogueDomain(Domain):
    """Find a catalogue by the locale's full name or by language_TERRITORY.

    Babel reads "zh_CN" as zh_Hans_CN, a folder name gettext cannot match
    with tracker/translations/zh_CN/: without this the Chinese pages show
    the English messages.
    """

    def get_translations(self):
        from flask_babel import _get_current_context

        ctx = _get_current_context()
        if ctx is None:
            return support.NullTranslations()
        locale = getattr(ctx, "babel_locale", None) or get_locale()
        # A page asks for its catalogue some two hundred times: kept on the request for its locale
        # (``force_locale`` sets another, so a mail in another language finds its own).
        kept = getattr(ctx, "tracker_translations", None)
        if kept is not None and kept[0] is locale and kept[1] is self:
            return kept[2]
        ctx.tracker_translations = (locale, self, self._catalogue(ctx, locale))
        return ctx.tracker_translations[2]

    def _catalogue(self, ctx, locale):
        cache = self.get_translations_cache(ctx)
        key = (str(locale), self.domain[0])
        if key not in cache:
            names = [str(locale)]
            if locale.territory:
                names.append(f"{locale.language}_{locale.territory}")
            translations = support.Translations()
            for dirname in self.translation_directories:
                catalogue = support.Translations.load(dirname, names, self.domain[0])
                translations.merge(catalogue)
                # merge() leaves out the plural rule (as Flask-Babel notes).
                if hasattr(catalogue, "plural"):
                    translations.plural = catalogue.plural
            cache[key] = translations
        return cache[key]


class Babel(_Babel):
    @cached_property
    def domain_instance(self):
        return _CatalogueDomain(domain=self.domain)


babel = Babel()
# Limits are set on the API blueprint and the login view (tracker.ratelimit);
# nothing else is limited. Headers: X-RateLimit-* and Retry-After.
# A limit must never take the service down: when the storage (Redis) is
# unreachable the limiter counts in this process's memory, logs a warning and
# goes back to the storage once it answers again; any other storage error is
# logged and the request goes through (swallow_errors).
limiter = Limiter(
    key_func=get_remote_address, headers_enabled=True, in_memory_fallback_enabled=True, swallow_errors=True
)
