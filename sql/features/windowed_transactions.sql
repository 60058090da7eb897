-- Transactions in the 365 days before the run's as_of, each flagged for a
-- counterparty in a high-risk jurisdiction (FATF lists, see reference/) and
-- for falling in the last 30 days (the "recent" window of the trend features).
-- run_context.as_of is the run's point in time: views never call now(), so a
-- run can be reproduced.
-- Join order matters to DataFusion, which builds hash and nested-loop joins
-- from their left input and cannot know the sizes of a CSV file or a
-- deduplicated feed: the one-row run_context and the small reference table
-- are on the left, so the feed streams through instead of being held.
SELECT
    t.customer_id,
    t.ts,
    -- Money as an exact decimal: sums of decimals do not depend on the order
    -- rows arrive in, so features are bit-identical whatever the partitioning.
    CAST(t.amount_eur AS DECIMAL(18, 2)) AS amount_eur,
    t.direction,
    t.channel,
    t.merchant_category,
    t.counterparty_id,
    t.counterparty_country,
    t.high_risk_counterparty,
    CASE WHEN t.ts >= r.as_of - INTERVAL '30 days' THEN 1 ELSE 0 END AS in_last_30d
FROM run_context r
CROSS JOIN (
    SELECT
        tx.*,
        CASE WHEN h.country_code IS NOT NULL THEN 1 ELSE 0 END AS high_risk_counterparty
    FROM high_risk_jurisdictions h
    RIGHT JOIN transactions tx ON tx.counterparty_country = h.country_code
) t
WHERE t.ts < r.as_of
  AND t.ts >= r.as_of - INTERVAL '365 days'
