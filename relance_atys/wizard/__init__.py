from . import relance_edition
from . import relance_level_manage
from . import relance_signature
from . import relance_composer
