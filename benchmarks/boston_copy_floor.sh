#!/bin/bash
# docs/import.md, "The floor" and "The floor with the keys (2026-12-08)".
# Floor: PostgreSQL's own time to COPY the rows the Boston import wrote (tickets, events, SLA clocks)
# from files (no Python):
#   1. into empty copies of the three tables with all their indexes (LIKE ... INCLUDING ALL;
#      foreign keys are not copied, so those checks are left out);
#   2. with --keys, then into the three tables themselves, emptied first: every index, and every
#      foreign key checked row by row as an import's rows are (tickets 6, events 2, SLA clocks 3).
# The database is a scratch one (benchmarks/import_ab.py --keep): step 2 empties its tickets.
set -e
KEYS=0
if [ "$1" = "--keys" ]; then KEYS=1; shift; fi
P="psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d ${1:?usage: boston_copy_floor.sh [--keys] DATABASE (one the Boston import has just filled)}"
D=${TMPDIR:-/tmp}/boston_copy_floor
mkdir -p $D
for t in tickets ticket_events ticket_slas; do
  $P -c "\copy $t to $D/$t.copy"
  $P -c "DROP TABLE IF EXISTS f_$t; CREATE TABLE f_$t (LIKE $t INCLUDING ALL)"
  echo "$t: $(wc -l < $D/$t.copy) rows, $(du -h $D/$t.copy | cut -f1)"
done
# copy_in PREFIX WHAT: the three files into PREFIXtickets, PREFIXticket_events, PREFIXticket_slas, one transaction.
copy_in() {
  cat /proc/loadavg
  /usr/bin/time -f "all three in one transaction, $2: wall %e s" $P <<SQL
\timing on
BEGIN;
\copy ${1}tickets from $D/tickets.copy
\copy ${1}ticket_events from $D/ticket_events.copy
\copy ${1}ticket_slas from $D/ticket_slas.copy
COMMIT;
SQL
  cat /proc/loadavg
}
copy_in f_ "no keys"
for t in tickets ticket_events ticket_slas; do $P -c "DROP TABLE f_$t"; done
if [ $KEYS = 1 ]; then
  # Everything that points at the tickets goes too (notifications, marks are not keyed to them).
  $P -c "TRUNCATE tickets CASCADE" -c "VACUUM ANALYZE tickets, ticket_events, ticket_slas"
  copy_in "" "into the tables, keys checked"
fi
rm -rf $D
