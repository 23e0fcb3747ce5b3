#!/bin/bash
# docs/import.md, "The floor".
# Floor: PostgreSQL's own time to COPY the rows the Boston import wrote (tickets, events, SLA clocks)
# from files (no Python) into empty copies of the three tables with all their indexes (LIKE ... INCLUDING ALL;
# foreign keys are not copied, so those checks are left out).
set -e
P="psql -q -h 127.0.0.1 -U postgres -d ${1:?usage: boston_copy_floor.sh DATABASE (one the Boston import has just filled)}"
mkdir -p ${TMPDIR:-/tmp}/boston_copy_floor
for t in tickets ticket_events ticket_slas; do
  $P -c "\copy $t to ${TMPDIR:-/tmp}/boston_copy_floor/$t.copy"
  $P -c "DROP TABLE IF EXISTS f_$t; CREATE TABLE f_$t (LIKE $t INCLUDING ALL)"
  echo "$t: $(wc -l < ${TMPDIR:-/tmp}/boston_copy_floor/$t.copy) rows, $(du -h ${TMPDIR:-/tmp}/boston_copy_floor/$t.copy | cut -f1)"
done
cat /proc/loadavg
/usr/bin/time -f "all three in one transaction: wall %e s" $P <<SQL
\timing on
BEGIN;
\copy f_tickets from ${TMPDIR:-/tmp}/boston_copy_floor/tickets.copy
\copy f_ticket_events from ${TMPDIR:-/tmp}/boston_copy_floor/ticket_events.copy
\copy f_ticket_slas from ${TMPDIR:-/tmp}/boston_copy_floor/ticket_slas.copy
COMMIT;
SQL
cat /proc/loadavg
for t in tickets ticket_events ticket_slas; do $P -c "DROP TABLE f_$t"; done
rm -rf ${TMPDIR:-/tmp}/boston_copy_floor
