-- Risk labels for the demo: one row per customer with a case decided
-- before the run's as_of. A customer is a risk (1) when any of those cases
-- ended in a SAR filed or a true positive, and not a risk (0) when all of
-- them were false positives or needed no action. Customers without a
-- decided case get no row: they are scored, not trained on.
--
-- Decisions come from the case-management export (`case_outcomes`) and
-- from analysts' dispositions posted to `seglake serve` (`feedback`, the
-- lake's own table, which every run registers; empty until serve writes).
--
-- Only decisions taken before as_of count, so a run never learns from an
-- outcome that was not known at its point in time (and a reproduced run
-- sees the same labels).
WITH decisions AS (
    SELECT customer_id, outcome, decided_at AS decided
    FROM case_outcomes
    UNION ALL
    SELECT customer_id, outcome, occurred_at AS decided
    FROM feedback
    WHERE kind = 'disposition'
)
SELECT
    d.customer_id,
    MAX(CASE WHEN d.outcome IN ('sar_filed', 'true_positive') THEN 1 ELSE 0 END) AS label
FROM decisions d
CROSS JOIN run_context r
WHERE d.decided < r.as_of
GROUP BY d.customer_id
