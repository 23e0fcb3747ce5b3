"""Service standards: replaying a period of requests under a draft, and what history supports.

``draft`` reads and checks a draft (policy definitions and calendars),
``replay`` recomputes a period's outcomes under it with the live clock code,
``history`` reads the limits a period actually achieved, ``saved`` keeps
named replays (the worker fills them in).
"""
