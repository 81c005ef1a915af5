"""``python -m services.bounce``: the bounce service."""

from services.bounce.service import wire
from services.bounce.settings import BounceSettings
from shared.runtime.service import main

if __name__ == "__main__":
    main("bounce", BounceSettings, wire)
