"""Accounts, roles and who may open which page."""
