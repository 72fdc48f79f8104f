from . import models
from . import wizard
from . import report
from .models import relance_review  # extends the edition wizard: loaded after it
