-- The feature table: one row per customer known at as_of. Customers with no
-- transactions or sessions in the window get zero counts; ratios that have
-- no denominator stay NULL (missing, imputed later by the model), never
-- NaN or infinite. Money, summed exactly as decimals, is published as DOUBLE
-- (the conversion of an exact sum is itself deterministic).
SELECT
    c.customer_id,
    c.customer_type,
    c.residence_country,
    c.kyc_risk_rating,
    CAST((EXTRACT(EPOCH FROM r.as_of) - EXTRACT(EPOCH FROM CAST(c.onboarding_date AS TIMESTAMP))) / 86400 AS BIGINT) AS tenure_days,
    CASE WHEN hr.country_code IS NOT NULL THEN 1 ELSE 0 END AS resident_in_high_risk,

    COALESCE(t.txn_count, 0) AS txn_count,
    CAST(COALESCE(t.txn_volume_eur, 0) AS DOUBLE) AS txn_volume_eur,
    t.txn_avg_eur,
    CAST(t.txn_max_eur AS DOUBLE) AS txn_max_eur,
    COALESCE(t.card_count, 0) AS card_count,
    CAST(COALESCE(t.card_volume_eur, 0) AS DOUBLE) AS card_volume_eur,
    COALESCE(t.wire_count, 0) AS wire_count,
    CAST(COALESCE(t.wire_volume_eur, 0) AS DOUBLE) AS wire_volume_eur,
    COALESCE(t.ach_count, 0) AS ach_count,
    CAST(COALESCE(t.ach_volume_eur, 0) AS DOUBLE) AS ach_volume_eur,
    COALESCE(t.cash_count, 0) AS cash_count,
    CAST(COALESCE(t.cash_volume_eur, 0) AS DOUBLE) AS cash_volume_eur,
    COALESCE(t.crypto_count, 0) AS crypto_count,
    CAST(COALESCE(t.crypto_volume_eur, 0) AS DOUBLE) AS crypto_volume_eur,
    CAST(COALESCE(t.gambling_volume_eur, 0) AS DOUBLE) AS gambling_volume_eur,
    CAST(COALESCE(t.travel_volume_eur, 0) AS DOUBLE) AS travel_volume_eur,
    t.cash_share,
    COALESCE(t.near_threshold_cash_count, 0) AS near_threshold_cash_count,
    CAST(COALESCE(t.inflow_eur, 0) AS DOUBLE) AS inflow_eur,
    CAST(COALESCE(t.outflow_eur, 0) AS DOUBLE) AS outflow_eur,
    t.in_out_ratio,
    COALESCE(t.txn_count_30d, 0) AS txn_count_30d,
    t.txn_trend_30d,
    CAST(COALESCE(t.volume_30d_eur, 0) AS DOUBLE) AS volume_30d_eur,
    COALESCE(t.high_risk_txn_count, 0) AS high_risk_txn_count,
    COALESCE(t.high_risk_txn_share, 0) AS high_risk_txn_share,
    CAST(COALESCE(t.high_risk_volume_eur, 0) AS DOUBLE) AS high_risk_volume_eur,
    COALESCE(t.high_risk_counterparties, 0) AS high_risk_counterparties,
    COALESCE(t.fan_in, 0) AS fan_in,
    COALESCE(t.fan_out, 0) AS fan_out,

    COALESCE(b.session_count, 0) AS session_count,
    b.avg_session_duration_s,
    b.events_per_session,
    COALESCE(b.distinct_devices, 0) AS distinct_devices,
    b.new_device_rate,
    COALESCE(b.new_devices_30d, 0) AS new_devices_30d,
    COALESCE(b.distinct_ip_countries, 0) AS distinct_ip_countries,
    b.abroad_session_share,
    COALESCE(b.distinct_event_types, 0) AS distinct_event_types,
    COALESCE(b.password_resets, 0) AS password_resets,
    COALESCE(b.beneficiaries_added, 0) AS beneficiaries_added,
    COALESCE(b.api_calls, 0) AS api_calls,

    COALESCE(s.sanctioned_counterparties, 0) AS sanctioned_counterparties,
    COALESCE(s.sanctioned_counterparty_txn_count, 0) AS sanctioned_counterparty_txn_count,
    CAST(COALESCE(s.sanctioned_counterparty_volume_eur, 0) AS DOUBLE) AS sanctioned_counterparty_volume_eur,
    COALESCE(s.sanctions_programmes, 0) AS sanctions_programmes,
    COALESCE(s.name_hit_score, 0) AS name_hit_score,
    COALESCE(s.sanctioned_jurisdiction_txn_count, 0) AS sanctioned_jurisdiction_txn_count
FROM run_context r  -- one row, on the left: joins build from the left input
CROSS JOIN customers c
LEFT JOIN high_risk_jurisdictions hr ON hr.country_code = c.residence_country
LEFT JOIN transaction_features t ON t.customer_id = c.customer_id
LEFT JOIN behaviour_features b ON b.customer_id = c.customer_id
LEFT JOIN screening_features s ON s.customer_id = c.customer_id
WHERE c.onboarding_date < CAST(r.as_of AS DATE)
