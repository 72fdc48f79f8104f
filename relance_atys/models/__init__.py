from . import res_company
from . import res_config_settings
from . import relance_level
from . import res_partner
from . import account_move
from . import sale_order
from . import relance_run
from . import relance_service
