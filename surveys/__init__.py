"""Post-purchase NPS surveys (invitations, signed links, the answer page, contact policy): next."""
