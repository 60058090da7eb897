-- Per customer, written the natural way: one GROUP BY with counts, sums, a
-- mean, a spread, a maximum, conditional counts and two COUNT(DISTINCT ...).
-- No time window: the generated bank ends at the job's as_of, so a
-- `ts < as_of` filter would drop nothing (tests/fixtures/natural_features
-- has the same shape).
SELECT
    customer_id,
    COUNT(*) AS txn_count,
    SUM(amount_eur) AS volume_eur,
    AVG(amount_eur) AS avg_eur,
    STDDEV_SAMP(amount_eur) AS sd_eur,
    MAX(amount_eur) AS max_eur,
    SUM(CASE WHEN channel = 'cash' THEN 1 ELSE 0 END) AS cash_count,
    SUM(CASE WHEN channel = 'wire' THEN 1 ELSE 0 END) AS wire_count,
    SUM(CASE WHEN channel = 'crypto_exchange' THEN 1 ELSE 0 END) AS crypto_count,
    SUM(CASE WHEN direction = 'in' THEN 1 ELSE 0 END) AS inflow_count,
    SUM(CASE WHEN channel = 'cash' AND direction = 'in'
             AND amount_eur >= 8000 AND amount_eur < 10000 THEN 1 ELSE 0 END) AS near_threshold_cash_count,
    COUNT(DISTINCT counterparty_country) AS countries,
    COUNT(DISTINCT counterparty_id) AS counterparties
FROM transactions
GROUP BY customer_id
