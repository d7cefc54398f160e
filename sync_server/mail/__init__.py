"""The team mailbox (issue 17): IMAP in (fetch, intake, loops, bounces) and SMTP out."""
