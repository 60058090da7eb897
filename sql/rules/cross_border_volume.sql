-- Rule: cross_border_volume.
-- Detects customers moving far more money across borders than their peers:
-- the customer's cross-border exposure in the xb_window_days before as_of
-- is in the top of their own segment (at or above the segment's
-- xb_percentile, over every customer of the segment, zeros included)
-- and at least xb_min_volume_eur.
-- Exposure = volume (both directions) with counterparties in another
-- country than the customer's residence, with volume to or from FATF
-- high-risk jurisdictions (`high_risk_jurisdictions`, domestic ones too)
-- weighted by xb_high_risk_weight (2 = a high-risk euro counts twice).
-- Rows without a counterparty country are not counted (unknown, not abroad).
--
-- Thresholds read (per segment, from `thresholds`):
--   xb_window_days       look-back in days (whole days)
--   xb_percentile        rank within the segment that alerts, 0-1 (0.95 = top 5%)
--   xb_min_volume_eur    absolute floor on the exposure
--   xb_high_risk_weight  weight of high-risk-jurisdiction volume (>= 1)
--
-- The percentile is exact and deterministic: CUME_DIST() over the segment
-- (the share of the segment with an exposure at or below the customer's;
-- ties share it), not approx_percentile_cont (t-digest, not exact) or
-- percentile_cont (exact, but its percentile must be a literal, so it
-- cannot be a per-segment threshold). CUME_DIST, not PERCENT_RANK: the top
-- customer of a segment is at 1 even alone in it (PERCENT_RANK gives a
-- segment of one 0, so an outlier k-means isolates could never fire) and
-- customers tied at the top are all at 1. Exposure is weighted per row
-- from exact decimal sums, so the ranking does not depend on row order.
WITH params AS (
    SELECT
        s.customer_id,
        s.segment_id,
        c.residence_country,
        t.xb_percentile AS pctl,
        t.xb_min_volume_eur AS floor_eur,
        t.xb_high_risk_weight AS hr_weight,
        CAST(t.xb_window_days AS BIGINT) AS window_days,
        r.as_of,
        r.as_of - CAST(CONCAT(CAST(CAST(t.xb_window_days AS BIGINT) AS VARCHAR), ' days') AS INTERVAL) AS window_start
    FROM run_context r
    CROSS JOIN thresholds t
    JOIN segments s ON s.segment_id = t.segment_id
    JOIN customers c ON c.customer_id = s.customer_id
),
windowed AS (
    SELECT p.customer_id, p.residence_country, tx.amount_eur, tx.counterparty_country
    FROM params p
    JOIN transactions tx ON tx.customer_id = p.customer_id
    WHERE tx.ts >= p.window_start
      AND tx.ts < p.as_of
      AND tx.counterparty_country IS NOT NULL
),
flagged AS (
    SELECT
        w.customer_id,
        CAST(w.amount_eur AS DECIMAL(18, 2)) AS amount_eur,
        CASE WHEN w.counterparty_country <> w.residence_country THEN 1 ELSE 0 END AS abroad,
        CASE WHEN h.country_code IS NOT NULL THEN 1 ELSE 0 END AS high_risk
    -- the small reference table on the left: DataFusion builds joins from the left
    FROM (SELECT DISTINCT country_code FROM high_risk_jurisdictions) h
    RIGHT JOIN windowed w ON w.counterparty_country = h.country_code
),
volumes AS (
    SELECT
        customer_id,
        SUM(CASE WHEN abroad = 1 THEN amount_eur ELSE 0 END) AS abroad_eur,
        SUM(CASE WHEN high_risk = 1 THEN amount_eur ELSE 0 END) AS high_risk_eur
    FROM flagged
    WHERE abroad = 1 OR high_risk = 1
    GROUP BY customer_id
),
exposure AS (
    -- Every customer of the segment, zeros included: the percentile is of
    -- the whole peer group, not only of those who sent money abroad.
    SELECT
        p.customer_id,
        p.segment_id,
        p.pctl,
        p.floor_eur,
        p.hr_weight,
        p.window_days,
        CAST(COALESCE(v.abroad_eur, 0) AS DOUBLE) AS abroad_eur,
        CAST(COALESCE(v.high_risk_eur, 0) AS DOUBLE) AS high_risk_eur,
        CAST(COALESCE(v.abroad_eur, 0) AS DOUBLE)
            + (p.hr_weight - 1.0) * CAST(COALESCE(v.high_risk_eur, 0) AS DOUBLE) AS exposure_eur
    FROM params p
    LEFT JOIN volumes v ON v.customer_id = p.customer_id
),
ranked AS (
    SELECT
        e.*,
        CUME_DIST() OVER (PARTITION BY e.segment_id ORDER BY e.exposure_eur) AS pct_rank,
        COUNT(*) OVER (PARTITION BY e.segment_id) AS segment_size
    FROM exposure e
),
cutoffs AS (
    SELECT
        r.*,
        -- the segment's value at its percentile: the smallest exposure at or above it
        MIN(CASE WHEN r.pct_rank >= r.pctl THEN r.exposure_eur END) OVER (PARTITION BY r.segment_id) AS segment_cutoff_eur
    FROM ranked r
)
SELECT
    c.customer_id,
    CONCAT(
        'cross-border exposure ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(c.exposure_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR in ', CAST(c.window_days AS VARCHAR), ' days (abroad ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(c.abroad_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR; high-risk jurisdictions ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(c.high_risk_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR, weighted x', regexp_replace(CAST(ROUND(c.hr_weight, 2) AS VARCHAR), '\.0$', ''),
        '): at or above the segment''s P', regexp_replace(CAST(ROUND(c.pctl * 100, 1) AS VARCHAR), '\.0$', ''), ' of ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(c.segment_cutoff_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR (', CAST(c.segment_size AS VARCHAR), ' customers; floor ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(c.floor_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR)'
    ) AS reason,
    c.exposure_eur,
    c.abroad_eur AS cross_border_volume_eur,
    c.high_risk_eur AS high_risk_volume_eur,
    c.pct_rank AS segment_cume_dist,
    c.segment_cutoff_eur
FROM cutoffs c
WHERE c.pct_rank >= c.pctl
  AND c.exposure_eur >= c.floor_eur
  AND c.exposure_eur > 0
