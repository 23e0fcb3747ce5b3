"""Services: the only code that changes data. One public call, one transaction."""
