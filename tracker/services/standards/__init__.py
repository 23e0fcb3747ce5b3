"""Service standards: drafts and publishing of policy versions, benchmarks, and replays of history."""
