"""Scorecards of technicians and contractors, honest satisfaction, follow-up rules (issue 18).

- ``summary``: the technicians' daily summary rows, computed for marked days
  by ``stats.refresh`` (as ``daily_stats``).
- ``cards``: a scorecard for a period, read from that summary, with role scoping.
- ``contractors``: outside companies and their technicians.
- ``honesty``: rated and confirmed shares (automatic closures counted apart).
- ``rules``: follow-up sample shares per centre and category, and coverage.
"""
