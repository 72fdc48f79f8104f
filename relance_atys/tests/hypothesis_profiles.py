"""Hypothesis settings: in CI (``CI`` set, as .ci/run and CI services do) the same
examples at every run, so that a red build is reproduced by running it again."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")
