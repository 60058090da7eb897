-- Risk labels: one row per customer with a case decided before the run's
-- as_of. 1 when any of those cases ended in a SAR filed or a true positive,
-- 0 when all were false positives or needed no action. Customers without a
-- decided case are scored, not trained on.
SELECT
    o.customer_id,
    MAX(CASE WHEN o.outcome IN ('sar_filed', 'true_positive') THEN 1 ELSE 0 END) AS label
FROM run_context r
CROSS JOIN case_outcomes o
WHERE o.decided_at < r.as_of
GROUP BY o.customer_id
