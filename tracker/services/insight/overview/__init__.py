"""The one-screen overview of the dashboards: figures with their change, the standards grid, what to act on."""
