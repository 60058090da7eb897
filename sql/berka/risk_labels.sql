-- Risk labels: one row per account with a loan whose status was known
-- before the run's as_of (loan_outcomes.decided_at). label = 1 for a bad
-- loan (B: finished and not paid; D: running, client in debt), 0 for a
-- good one (A: finished without problems; C: running, OK so far).
-- Accounts without a loan get no row: they are scored, not trained on.
SELECT
    o.account_id,
    CASE WHEN o.outcome IN ('B', 'D') THEN 1 ELSE 0 END AS label
FROM run_context r
CROSS JOIN loan_outcomes o
WHERE o.decided_at < CAST(r.as_of AS DATE)
