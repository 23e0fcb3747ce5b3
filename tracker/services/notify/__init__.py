"""Notices: the outbox, its channels (in-app, e-mail) and webhooks."""
