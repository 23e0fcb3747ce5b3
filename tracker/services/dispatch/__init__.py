"""Round-the-clock dispatch: duty rosters, suggested technicians, automatic dispatch (docs/dispatch.md).

``roster`` keeps shifts and answers "who is on duty now"; ``suggest`` ranks
a centre's technicians for a request; ``auto`` assigns a new request to the
best technician on duty as it is filed, and keeps the centres' settings.
"""
