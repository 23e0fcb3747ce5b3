"""Figures: the daily summaries, reports, the overview, the wall display, scorecards, the weekly report, exports."""
