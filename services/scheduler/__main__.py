"""``python -m services.scheduler``."""

from shared.runtime.service import main

from .service import wire
from .settings import SchedulerSettings

if __name__ == "__main__":
    main("scheduler", SchedulerSettings, wire)
