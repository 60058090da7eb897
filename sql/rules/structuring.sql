-- Rule: structuring.
-- Detects repeated cash deposits kept just under the 10,000 EUR cash
-- reporting threshold: the customer's cash deposits (channel 'cash',
-- direction 'in') of at least structuring_band_low_eur and below 10,000 EUR
-- in the structuring_window_days before as_of. Alerts when there are at
-- least structuring_min_count of them.
--
-- Thresholds read (per segment, from `thresholds`):
--   structuring_window_days   look-back in days (whole days)
--   structuring_band_low_eur  lower edge of the "just under 10,000" band
--   structuring_min_count     deposits in the band that raise an alert
-- Cash-intensive segments (cash businesses bank their takings every few
-- days, often in large amounts) carry a higher count limit than the rest.
--
-- One row per alerted customer: reason, the deposits counted, their total,
-- and the segment's limit. Deterministic: counts, and an exact decimal sum.
WITH params AS (
    -- One row per customer of this run's segmentation, with its segment's
    -- thresholds. Small (one row per customer): the build side of the join.
    SELECT
        s.customer_id,
        t.structuring_min_count AS min_count,
        t.structuring_band_low_eur AS band_low,
        CAST(t.structuring_window_days AS BIGINT) AS window_days,
        r.as_of,
        -- DataFusion cannot multiply an INTERVAL by a column: build it from text.
        r.as_of - CAST(CONCAT(CAST(CAST(t.structuring_window_days AS BIGINT) AS VARCHAR), ' days') AS INTERVAL) AS window_start
    FROM run_context r
    CROSS JOIN thresholds t
    JOIN segments s ON s.segment_id = t.segment_id
),
deposits AS (
    SELECT
        p.customer_id,
        p.min_count,
        p.band_low,
        p.window_days,
        COUNT(*) AS deposits,
        SUM(CAST(tx.amount_eur AS DECIMAL(18, 2))) AS total_eur
    FROM params p
    JOIN transactions tx ON tx.customer_id = p.customer_id
    WHERE tx.channel = 'cash'
      AND tx.direction = 'in'
      AND tx.amount_eur >= p.band_low
      AND tx.amount_eur < 10000
      AND tx.ts >= p.window_start
      AND tx.ts < p.as_of
    GROUP BY p.customer_id, p.min_count, p.band_low, p.window_days
)
SELECT
    d.customer_id,
    CONCAT(
        'cash deposits of ',
        -- thousands separators: DataFusion has no number formatting function
        regexp_replace(CAST(CAST(d.band_low AS BIGINT) AS VARCHAR), '(\d)(\d{3})$', '\1,\2'),
        '-9,999 EUR: ', CAST(d.deposits AS VARCHAR),
        ' in ', CAST(d.window_days AS VARCHAR), ' days, totalling ',
        regexp_replace(regexp_replace(regexp_replace(
            CAST(CAST(ROUND(d.total_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR (segment limit ', CAST(CAST(d.min_count AS BIGINT) AS VARCHAR), ')'
    ) AS reason,
    d.deposits AS near_threshold_deposits,
    CAST(d.total_eur AS DOUBLE) AS near_threshold_volume_eur,
    d.min_count AS segment_limit
FROM deposits d
WHERE d.deposits >= d.min_count
