-- The feature table: one row per customer onboarded before as_of, with the
-- transaction features of the last 365 days (zeros for customers without
-- transactions; ratios without a denominator stay NULL, imputed later by
-- the model). Exact decimal sums are published as DOUBLE.
SELECT
    c.customer_id,
    c.customer_type,
    c.kyc_risk_rating,
    CAST((EXTRACT(EPOCH FROM r.as_of) - EXTRACT(EPOCH FROM CAST(c.onboarding_date AS TIMESTAMP))) / 86400 AS BIGINT) AS tenure_days,
    COALESCE(t.txn_count, 0) AS txn_count,
    CAST(COALESCE(t.txn_volume_eur, 0) AS DOUBLE) AS txn_volume_eur,
    t.txn_avg_eur,
    CAST(t.txn_max_eur AS DOUBLE) AS txn_max_eur,
    COALESCE(t.card_count, 0) AS card_count,
    CAST(COALESCE(t.card_volume_eur, 0) AS DOUBLE) AS card_volume_eur,
    COALESCE(t.wire_count, 0) AS wire_count,
    CAST(COALESCE(t.wire_volume_eur, 0) AS DOUBLE) AS wire_volume_eur,
    COALESCE(t.cash_count, 0) AS cash_count,
    CAST(COALESCE(t.cash_volume_eur, 0) AS DOUBLE) AS cash_volume_eur,
    CAST(COALESCE(t.crypto_volume_eur, 0) AS DOUBLE) AS crypto_volume_eur,
    CAST(COALESCE(t.gambling_volume_eur, 0) AS DOUBLE) AS gambling_volume_eur,
    t.cash_share,
    COALESCE(t.near_threshold_cash_count, 0) AS near_threshold_cash_count,
    CAST(COALESCE(t.inflow_eur, 0) AS DOUBLE) AS inflow_eur,
    CAST(COALESCE(t.outflow_eur, 0) AS DOUBLE) AS outflow_eur,
    t.in_out_ratio,
    COALESCE(t.txn_count_30d, 0) AS txn_count_30d,
    t.txn_trend_30d,
    COALESCE(t.high_risk_txn_count, 0) AS high_risk_txn_count,
    COALESCE(t.high_risk_txn_share, 0) AS high_risk_txn_share,
    CAST(COALESCE(t.high_risk_volume_eur, 0) AS DOUBLE) AS high_risk_volume_eur,
    COALESCE(t.fan_in, 0) AS fan_in,
    COALESCE(t.fan_out, 0) AS fan_out,
    COALESCE(t.high_risk_counterparties, 0) AS high_risk_counterparties
FROM run_context r  -- one row, on the left: joins build from the left input
CROSS JOIN customers c
LEFT JOIN transaction_features t ON t.customer_id = c.customer_id
WHERE c.onboarding_date < CAST(r.as_of AS DATE)
