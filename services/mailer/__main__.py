"""``python -m services.mailer``: run the mailer alone.

``OTAYORI_PROFILE_TO=<file>`` (benchmarks only) writes a cProfile of the run to that file
when the service stops.
"""

import cProfile
import os

from services.mailer.service import wire
from services.mailer.settings import MailerSettings
from shared.runtime.service import main

if __name__ == "__main__":
    profile_to = os.environ.get("OTAYORI_PROFILE_TO")
    if profile_to:
        with cProfile.Profile() as profiler:
            try:
                main("mailer", MailerSettings, wire)
            finally:
                profiler.dump_stats(profile_to)
    else:
        main("mailer", MailerSettings, wire)
