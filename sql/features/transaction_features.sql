-- Per customer: volume and count per channel, size, direction, trend,
-- high-risk exposure, cash intensity and counterparty fan-in / fan-out.
-- Distinct counterparties are counted in their own sub-queries rather than
-- with COUNT(DISTINCT ...) in the grouped aggregate, which DataFusion runs
-- far slower (a hash set per group and column).
-- Amounts are summed as exact decimals and divided only afterwards, as
-- DOUBLE: float sums would differ in the last bit with the partitioning.
WITH counterparties AS (
    SELECT DISTINCT customer_id, direction, counterparty_id
    FROM windowed_transactions
    WHERE counterparty_id IS NOT NULL
),
fan AS (
    SELECT
        customer_id,
        SUM(CASE WHEN direction = 'in' THEN 1 ELSE 0 END) AS fan_in,
        SUM(CASE WHEN direction = 'out' THEN 1 ELSE 0 END) AS fan_out
    FROM counterparties
    GROUP BY customer_id
),
high_risk AS (
    SELECT customer_id, COUNT(*) AS high_risk_counterparties
    FROM (
        SELECT DISTINCT customer_id, counterparty_id
        FROM windowed_transactions
        WHERE high_risk_counterparty = 1 AND counterparty_id IS NOT NULL
    ) d
    GROUP BY customer_id
),
totals AS (
SELECT
    customer_id,
    COUNT(*) AS txn_count,
    SUM(amount_eur) AS txn_volume_eur,
    CAST(SUM(amount_eur) AS DOUBLE) / COUNT(*) AS txn_avg_eur,
    MAX(amount_eur) AS txn_max_eur,

    SUM(CASE WHEN channel = 'card' THEN 1 ELSE 0 END) AS card_count,
    SUM(CASE WHEN channel = 'card' THEN amount_eur ELSE 0 END) AS card_volume_eur,
    SUM(CASE WHEN channel = 'wire' THEN 1 ELSE 0 END) AS wire_count,
    SUM(CASE WHEN channel = 'wire' THEN amount_eur ELSE 0 END) AS wire_volume_eur,
    SUM(CASE WHEN channel = 'ach' THEN 1 ELSE 0 END) AS ach_count,
    SUM(CASE WHEN channel = 'ach' THEN amount_eur ELSE 0 END) AS ach_volume_eur,
    SUM(CASE WHEN channel = 'cash' THEN 1 ELSE 0 END) AS cash_count,
    SUM(CASE WHEN channel = 'cash' THEN amount_eur ELSE 0 END) AS cash_volume_eur,
    SUM(CASE WHEN channel = 'crypto_exchange' THEN 1 ELSE 0 END) AS crypto_count,
    SUM(CASE WHEN channel = 'crypto_exchange' THEN amount_eur ELSE 0 END) AS crypto_volume_eur,

    SUM(CASE WHEN merchant_category = 'gambling' THEN amount_eur ELSE 0 END) AS gambling_volume_eur,
    SUM(CASE WHEN merchant_category = 'travel' THEN amount_eur ELSE 0 END) AS travel_volume_eur,

    -- Cash intensity, and cash deposits kept just under the 10,000 reporting
    -- threshold (structuring).
    CAST(SUM(CASE WHEN channel = 'cash' THEN amount_eur ELSE 0 END) AS DOUBLE)
        / NULLIF(CAST(SUM(amount_eur) AS DOUBLE), 0) AS cash_share,
    SUM(CASE WHEN channel = 'cash' AND direction = 'in'
             AND amount_eur >= 8000 AND amount_eur < 10000 THEN 1 ELSE 0 END) AS near_threshold_cash_count,

    SUM(CASE WHEN direction = 'in' THEN amount_eur ELSE 0 END) AS inflow_eur,
    SUM(CASE WHEN direction = 'out' THEN amount_eur ELSE 0 END) AS outflow_eur,
    CAST(SUM(CASE WHEN direction = 'in' THEN amount_eur ELSE 0 END) AS DOUBLE)
        / NULLIF(CAST(SUM(CASE WHEN direction = 'out' THEN amount_eur ELSE 0 END) AS DOUBLE), 0) AS in_out_ratio,

    -- Trend: transactions in the last 30 days against the 30-day average of
    -- the 335 days before them (1.0 = steady, >> 1 = a burst).
    SUM(in_last_30d) AS txn_count_30d,
    CAST(SUM(in_last_30d) AS DOUBLE)
        / NULLIF(CAST(SUM(1 - in_last_30d) AS DOUBLE) * 30.0 / 335.0, 0) AS txn_trend_30d,
    SUM(CASE WHEN in_last_30d = 1 THEN amount_eur ELSE 0 END) AS volume_30d_eur,

    SUM(high_risk_counterparty) AS high_risk_txn_count,
    CAST(SUM(high_risk_counterparty) AS DOUBLE) / COUNT(*) AS high_risk_txn_share,
    SUM(CASE WHEN high_risk_counterparty = 1 THEN amount_eur ELSE 0 END) AS high_risk_volume_eur
FROM windowed_transactions
GROUP BY customer_id
)
SELECT
    t.*,
    COALESCE(h.high_risk_counterparties, 0) AS high_risk_counterparties,
    COALESCE(f.fan_in, 0) AS fan_in,
    COALESCE(f.fan_out, 0) AS fan_out
FROM totals t
LEFT JOIN fan f ON f.customer_id = t.customer_id
LEFT JOIN high_risk h ON h.customer_id = t.customer_id
