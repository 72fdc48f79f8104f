from . import relance_xlsx
from . import relance_letter
from . import relance_invoice_pdf
from . import relance_control_list
