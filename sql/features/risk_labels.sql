-- Risk labels for the demo: one row per customer with a case decided
-- before the run's as_of. A customer is a risk (1) when any of those cases
-- ended in a SAR filed or a true positive, and not a risk (0) when all of
-- them were false positives or needed no action. Customers without a
-- decided case get no row: they are scored, not trained on.
--
-- Only decisions taken before as_of count, so a run never learns from an
-- outcome that was not known at its point in time (and a reproduced run
-- sees the same labels).
SELECT
    c.customer_id,
    MAX(CASE WHEN c.outcome IN ('sar_filed', 'true_positive') THEN 1 ELSE 0 END) AS label
FROM case_outcomes c
CROSS JOIN run_context r
WHERE c.decided_at < r.as_of
GROUP BY c.customer_id
