"""Administration: centres, categories and places, accounts, API tokens, logins."""
