-- Rule: high_band_jump.
-- Detects customers whose model risk band is 'high' in this run and was
-- not 'high' in the last published segmentation (`previous_segments`),
-- and whose calibrated risk score is at least the segment's
-- band_jump_min_risk_score. Only customers present in both runs are
-- considered; on a first run (`previous_segments` empty) it alerts on nobody.
-- The 'high' band is per segment (each segment's riskiest share, see
-- [risk] in the job), so in a low-risk segment 'high' can mean a modest
-- score: the floor keeps those jumps out of the alert queue.
--
-- Thresholds read (per segment of this run, from `thresholds`):
--   band_jump_min_risk_score  minimum calibrated risk score (0 = every jump)
SELECT
    s.customer_id,
    CONCAT(
        'risk band rose to high (score ', CAST(ROUND(s.risk_score, 3) AS VARCHAR),
        ') from ', COALESCE(p.risk_band, 'no band'),
        ' (score ', COALESCE(CAST(ROUND(p.risk_score, 3) AS VARCHAR), 'none'),
        ') in the previous segmentation (segment floor ',
        regexp_replace(CAST(ROUND(t.band_jump_min_risk_score, 3) AS VARCHAR), '\.0$', ''), ')'
    ) AS reason,
    s.risk_score,
    p.risk_score AS previous_risk_score,
    s.risk_score - p.risk_score AS risk_score_change
FROM previous_segments p
JOIN segments s ON s.customer_id = p.customer_id
JOIN thresholds t ON t.segment_id = s.segment_id
WHERE s.risk_band = 'high'
  AND COALESCE(p.risk_band, '') <> 'high'
  AND s.risk_score >= t.band_jump_min_risk_score
