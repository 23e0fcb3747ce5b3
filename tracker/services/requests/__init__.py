"""Requests: filing and their life, attachments, closing, escalations, queues, QR intake, the catalogue read side, imports."""
