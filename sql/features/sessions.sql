-- One row per online-banking session in the 365 days before as_of: when it
-- started, how long it lasted, how many events, on which device and from
-- which country, and whether it came from abroad (IP country differs from
-- the customer's country of residence).
SELECT
    e.customer_id,
    e.session_id,
    MIN(e.ts) AS started_at,
    SUM(CAST(e.duration_s AS DECIMAL(18, 3))) AS duration_s,  -- exact: order-independent
    COUNT(*) AS events,
    MIN(e.device_id) AS device_id,
    MIN(e.ip_country) AS ip_country,
    MAX(CASE WHEN e.ip_country <> c.residence_country THEN 1 ELSE 0 END) AS abroad
-- Smaller inputs first: DataFusion builds joins from their left input.
FROM run_context r
CROSS JOIN customers c
JOIN events e ON e.customer_id = c.customer_id
WHERE e.ts < r.as_of
  AND e.ts >= r.as_of - INTERVAL '365 days'
GROUP BY e.customer_id, e.session_id
