-- Rule: dormant_then_burst.
-- Detects accounts that were (nearly) silent for a long stretch and then
-- moved a burst of money: at most dormancy_max_volume_eur moved (in and
-- out) during the dormancy_days that ended 60 days before as_of, and at
-- least burst_min_volume_eur moved in the last 30 days. The 30 days
-- between the two are a grace period: a burst that began up to 60 days ago
-- does not break the dormancy. Only accounts opened before the dormant
-- stretch began (a new account is not a dormant one).
--
-- Thresholds read (per segment, from `thresholds`):
--   dormancy_days            length of the quiet stretch, days (whole days)
--   dormancy_max_volume_eur  most money moved in it that still counts as dormant
--   burst_min_volume_eur     money moved in the last 30 days that alerts
WITH params AS (
    SELECT
        s.customer_id,
        CAST(t.dormancy_days AS BIGINT) AS dormancy_days,
        t.dormancy_max_volume_eur AS quiet_max,
        t.burst_min_volume_eur AS burst_min,
        r.as_of,
        r.as_of - INTERVAL '30 days' AS burst_start,
        r.as_of - INTERVAL '60 days' AS quiet_end,
        r.as_of - INTERVAL '60 days'
            - CAST(CONCAT(CAST(CAST(t.dormancy_days AS BIGINT) AS VARCHAR), ' days') AS INTERVAL) AS quiet_start,
        c.onboarding_date
    FROM run_context r
    CROSS JOIN thresholds t
    JOIN segments s ON s.segment_id = t.segment_id
    JOIN customers c ON c.customer_id = s.customer_id
),
eligible AS (
    SELECT * FROM params WHERE onboarding_date <= CAST(quiet_start AS DATE)
),
activity AS (
    SELECT
        p.customer_id,
        p.dormancy_days,
        p.quiet_max,
        p.burst_min,
        SUM(CASE WHEN tx.ts < p.quiet_end THEN 1 ELSE 0 END) AS quiet_txns,
        SUM(CASE WHEN tx.ts < p.quiet_end THEN CAST(tx.amount_eur AS DECIMAL(18, 2)) ELSE 0 END) AS quiet_eur,
        SUM(CASE WHEN tx.ts >= p.burst_start THEN 1 ELSE 0 END) AS burst_txns,
        SUM(CASE WHEN tx.ts >= p.burst_start THEN CAST(tx.amount_eur AS DECIMAL(18, 2)) ELSE 0 END) AS burst_eur
    FROM eligible p
    JOIN transactions tx ON tx.customer_id = p.customer_id
    WHERE tx.ts >= p.quiet_start
      AND tx.ts < p.as_of
    GROUP BY p.customer_id, p.dormancy_days, p.quiet_max, p.burst_min
)
SELECT
    a.customer_id,
    CONCAT(
        'dormant: ', CAST(a.quiet_txns AS VARCHAR), ' transaction(s), ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(a.quiet_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR in the ', CAST(a.dormancy_days AS VARCHAR), ' days to 60 days ago (segment max ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(a.quiet_max) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR); then ', CAST(a.burst_txns AS VARCHAR), ' transaction(s), ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(a.burst_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR in the last 30 days (segment limit ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(a.burst_min) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR)'
    ) AS reason,
    CAST(a.quiet_eur AS DOUBLE) AS dormant_volume_eur,
    a.quiet_txns AS dormant_txns,
    CAST(a.burst_eur AS DOUBLE) AS burst_volume_eur,
    a.burst_txns
FROM activity a
WHERE a.quiet_eur <= a.quiet_max
  AND a.burst_eur >= a.burst_min
