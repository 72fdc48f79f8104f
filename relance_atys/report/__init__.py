from . import relance_xlsx
from . import relance_letter
