from . import hypothesis_profiles  # first: the test modules' settings inherit it
from . import test_access
from . import test_bad_input
from . import test_concurrency
from . import test_edition
from . import test_email
from . import test_engine
from . import test_history
from . import test_invoice_pdf
from . import test_level
from . import test_level_manage
from . import test_scheduled
from . import test_signature
from . import test_signature_engine
from . import test_smtp_e2e
from . import test_tour
