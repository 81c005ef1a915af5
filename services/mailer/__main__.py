"""``python -m services.mailer``: run the mailer alone."""

from services.mailer.service import wire
from services.mailer.settings import MailerSettings
from shared.runtime.service import main

if __name__ == "__main__":
    main("mailer", MailerSettings, wire)
