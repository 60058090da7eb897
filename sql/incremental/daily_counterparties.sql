-- Who each customer dealt with, per day: one row per customer, day,
-- direction and counterparty. Distinct counts over the whole window cannot
-- be added up from per-day counts (a counterparty paid on two days counts
-- once), so the state keeps the per-day sets and transaction_features
-- counts distinct values over the window's days. Incremental, as
-- daily_transactions.
SELECT DISTINCT
    tx.customer_id,
    CAST(tx.ts AS DATE) AS day,
    tx.direction,
    tx.counterparty_id,
    CASE WHEN h.country_code IS NOT NULL THEN 1 ELSE 0 END AS high_risk_counterparty
FROM high_risk_jurisdictions h
RIGHT JOIN transactions tx ON tx.counterparty_country = h.country_code
WHERE tx.counterparty_id IS NOT NULL
