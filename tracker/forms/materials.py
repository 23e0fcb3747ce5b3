"""Forms of the materials catalogue, stock-in and paid repairs' quotes.

Amounts and quantities are plain text fields: the services read them
(domain/money.py) and refuse what they cannot read exactly, in the
reader's language.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from tracker.forms import OnceForm
from tracker.services.materials.catalogue import CODE_MAX, NAME_MAX, NOTE_MAX, UNIT_MAX
from tracker.services.materials.quotes import NOTE_MAX as QUOTE_NOTE_MAX


class MaterialForm(OnceForm):
    code = StringField(_l("Code"), validators=[Length(max=CODE_MAX)])
    name_zh = StringField(_l("Name in Chinese"), validators=[Optional(), Length(max=NAME_MAX)])
    name_en = StringField(_l("Name in English"), validators=[Optional(), Length(max=NAME_MAX)])
    unit = StringField(_l("Unit"), validators=[Length(max=UNIT_MAX)])
    unit_cost = StringField(_l("Unit cost (yuan)"), validators=[Length(max=40)])
    low_stock_threshold = StringField(_l("Low-stock threshold"), validators=[Length(max=20)], default="0")
    is_active = BooleanField(_l("In use"), default=True)


class StockInForm(OnceForm):
    quantity = StringField(_l("Quantity received"), validators=[Length(max=20)])
    note = StringField(_l("Note (supplier, delivery note)"), validators=[Optional(), Length(max=NOTE_MAX)])


class QuoteForm(OnceForm):
    labour = StringField(_l("Labour (yuan)"), validators=[Optional(), Length(max=40)])
    materials = StringField(_l("Materials (yuan)"), validators=[Optional(), Length(max=40)])
    note = TextAreaField(_l("What the quote covers"), validators=[Optional(), Length(max=QUOTE_NOTE_MAX)])


class AnswerForm(FlaskForm):
    """Accept, decline or withdraw: the button says which."""
