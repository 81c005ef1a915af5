"""Reading the bounce mailbox over IMAP (aioimaplib)."""
