-- Per customer, over the 365 days before as_of (the last 30 of them for the
-- trend), from the per-day state of daily_transactions and
-- daily_counterparties. as_of is a day boundary here: the state is per
-- day, so a window starts and ends at midnight UTC.
WITH days AS (
    SELECT
        d.*,
        CASE WHEN d.day >= CAST(r.as_of AS DATE) - INTERVAL '30 days' THEN 1 ELSE 0 END AS in_last_30d
    FROM run_context r  -- one row, on the left: joins build from the left input
    CROSS JOIN daily_transactions d
    WHERE d.day < CAST(r.as_of AS DATE)
      AND d.day >= CAST(r.as_of AS DATE) - INTERVAL '365 days'
),
counterparties AS (
    SELECT DISTINCT c.customer_id, c.direction, c.counterparty_id, c.high_risk_counterparty
    FROM run_context r
    CROSS JOIN daily_counterparties c
    WHERE c.day < CAST(r.as_of AS DATE)
      AND c.day >= CAST(r.as_of AS DATE) - INTERVAL '365 days'
),
fan AS (
    SELECT
        customer_id,
        COUNT(DISTINCT CASE WHEN direction = 'in' THEN counterparty_id END) AS fan_in,
        COUNT(DISTINCT CASE WHEN direction = 'out' THEN counterparty_id END) AS fan_out,
        COUNT(DISTINCT CASE WHEN high_risk_counterparty = 1 THEN counterparty_id END) AS high_risk_counterparties
    FROM counterparties
    GROUP BY customer_id
)
SELECT
    t.customer_id,
    t.txn_count,
    t.txn_volume_eur,
    CAST(t.txn_volume_eur AS DOUBLE) / t.txn_count AS txn_avg_eur,
    t.txn_max_eur,
    t.card_count,
    t.card_volume_eur,
    t.wire_count,
    t.wire_volume_eur,
    t.cash_count,
    t.cash_volume_eur,
    t.crypto_volume_eur,
    t.gambling_volume_eur,
    CAST(t.cash_volume_eur AS DOUBLE) / NULLIF(CAST(t.txn_volume_eur AS DOUBLE), 0) AS cash_share,
    t.near_threshold_cash_count,
    t.inflow_eur,
    t.outflow_eur,
    CAST(t.inflow_eur AS DOUBLE) / NULLIF(CAST(t.outflow_eur AS DOUBLE), 0) AS in_out_ratio,
    t.txn_count_30d,
    CAST(t.txn_count_30d AS DOUBLE)
        / NULLIF(CAST(t.txn_count - t.txn_count_30d AS DOUBLE) * 30.0 / 335.0, 0) AS txn_trend_30d,
    t.high_risk_txn_count,
    CAST(t.high_risk_txn_count AS DOUBLE) / t.txn_count AS high_risk_txn_share,
    t.high_risk_volume_eur,
    COALESCE(f.fan_in, 0) AS fan_in,
    COALESCE(f.fan_out, 0) AS fan_out,
    COALESCE(f.high_risk_counterparties, 0) AS high_risk_counterparties
FROM (
    SELECT
        customer_id,
        SUM(txn_count) AS txn_count,
        SUM(txn_volume_eur) AS txn_volume_eur,
        MAX(txn_max_eur) AS txn_max_eur,
        SUM(card_count) AS card_count,
        SUM(card_volume_eur) AS card_volume_eur,
        SUM(wire_count) AS wire_count,
        SUM(wire_volume_eur) AS wire_volume_eur,
        SUM(cash_count) AS cash_count,
        SUM(cash_volume_eur) AS cash_volume_eur,
        SUM(crypto_volume_eur) AS crypto_volume_eur,
        SUM(gambling_volume_eur) AS gambling_volume_eur,
        SUM(near_threshold_cash_count) AS near_threshold_cash_count,
        SUM(inflow_eur) AS inflow_eur,
        SUM(outflow_eur) AS outflow_eur,
        SUM(CASE WHEN in_last_30d = 1 THEN txn_count ELSE 0 END) AS txn_count_30d,
        SUM(high_risk_txn_count) AS high_risk_txn_count,
        SUM(high_risk_volume_eur) AS high_risk_volume_eur
    FROM days
    GROUP BY customer_id
) t
LEFT JOIN fan f ON f.customer_id = t.customer_id
