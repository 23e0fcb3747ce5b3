"""Service standards: drafts and publishing of policy versions, benchmarks, and replays of history.

``drafts`` keeps draft policy versions and publishes them from a day,
``benchmarks`` keeps the register of reference values and their links,
``draft`` reads and checks a replay's draft (policy definitions and
calendars), ``replay`` recomputes a period's outcomes under it with the
live clock code, ``history`` reads the limits a period actually achieved,
``saved`` keeps named replays (the worker fills them in).
"""
