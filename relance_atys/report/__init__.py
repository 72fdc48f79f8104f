from . import relance_xlsx
