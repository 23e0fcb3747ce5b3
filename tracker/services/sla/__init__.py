"""SLA clocks and their configuration: the clocks, the sweep, calendars and holidays, service standards and replay."""
