-- One row per customer and day: the day's transaction counts and amounts,
-- per channel, direction and counterparty risk. An incremental view (see
-- [[features.incremental]] in jobs/demo_incremental.toml): a run computes
-- only the days new transaction files fall on and keeps the others in the
-- state table `state_daily_transactions`, so the view reads no
-- run_context and each day comes from that day's rows alone.
-- Money is an exact decimal: a day's sums are then the same bytes whichever
-- run computed them, and so are the window's sums of them.
WITH flagged AS (
    SELECT
        tx.customer_id,
        tx.ts,
        CAST(tx.amount_eur AS DECIMAL(18, 2)) AS amount_eur,
        tx.direction,
        tx.channel,
        tx.merchant_category,
        CASE WHEN h.country_code IS NOT NULL THEN 1 ELSE 0 END AS high_risk_counterparty
    FROM high_risk_jurisdictions h  -- small, on the left: joins build from the left input
    RIGHT JOIN transactions tx ON tx.counterparty_country = h.country_code
)
SELECT
    customer_id,
    CAST(ts AS DATE) AS day,
    COUNT(*) AS txn_count,
    SUM(amount_eur) AS txn_volume_eur,
    MAX(amount_eur) AS txn_max_eur,
    SUM(CASE WHEN channel = 'card' THEN 1 ELSE 0 END) AS card_count,
    SUM(CASE WHEN channel = 'card' THEN amount_eur ELSE 0 END) AS card_volume_eur,
    SUM(CASE WHEN channel = 'wire' THEN 1 ELSE 0 END) AS wire_count,
    SUM(CASE WHEN channel = 'wire' THEN amount_eur ELSE 0 END) AS wire_volume_eur,
    SUM(CASE WHEN channel = 'cash' THEN 1 ELSE 0 END) AS cash_count,
    SUM(CASE WHEN channel = 'cash' THEN amount_eur ELSE 0 END) AS cash_volume_eur,
    SUM(CASE WHEN channel = 'crypto_exchange' THEN amount_eur ELSE 0 END) AS crypto_volume_eur,
    SUM(CASE WHEN merchant_category = 'gambling' THEN amount_eur ELSE 0 END) AS gambling_volume_eur,
    SUM(CASE WHEN channel = 'cash' AND direction = 'in'
             AND amount_eur >= 8000 AND amount_eur < 10000 THEN 1 ELSE 0 END) AS near_threshold_cash_count,
    SUM(CASE WHEN direction = 'in' THEN amount_eur ELSE 0 END) AS inflow_eur,
    SUM(CASE WHEN direction = 'out' THEN amount_eur ELSE 0 END) AS outflow_eur,
    SUM(high_risk_counterparty) AS high_risk_txn_count,
    SUM(CASE WHEN high_risk_counterparty = 1 THEN amount_eur ELSE 0 END) AS high_risk_volume_eur
FROM flagged
GROUP BY customer_id, CAST(ts AS DATE)
