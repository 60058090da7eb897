-- Transactions in the 365 days before the run's as_of, each flagged for a
-- counterparty in a high-risk jurisdiction (FATF lists, see reference/) and
-- for falling in the last 30 days (the "recent" window of the trend features).
-- run_context.as_of is the run's point in time: views never call now(), so a
-- run can be reproduced.
-- The small reference table is the left side of the join on purpose: hash
-- joins build their table from the left input, and the planner cannot know
-- the sizes of a CSV file and a deduplicated feed to swap them itself.
SELECT
    t.customer_id,
    t.ts,
    t.amount_eur,
    t.direction,
    t.channel,
    t.merchant_category,
    t.counterparty_id,
    t.counterparty_country,
    CASE WHEN h.country_code IS NOT NULL THEN 1 ELSE 0 END AS high_risk_counterparty,
    CASE WHEN t.ts >= r.as_of - INTERVAL '30 days' THEN 1 ELSE 0 END AS in_last_30d
FROM high_risk_jurisdictions h
RIGHT JOIN transactions t ON t.counterparty_country = h.country_code
CROSS JOIN run_context r
WHERE t.ts < r.as_of
  AND t.ts >= r.as_of - INTERVAL '365 days'
