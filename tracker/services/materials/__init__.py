"""Materials (耗材) and paid repairs (有偿维修): docs/materials.md.

- ``catalogue``: a centre's materials, stock-in, the stock ledger.
- ``stock``: what a job used, taken from stock when the job is resolved.
- ``quotes``: chargeable requests, quotes, the requester's consent, charges.
- ``figures``: materials and charges per request, centre and period.
"""
