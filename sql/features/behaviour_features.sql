-- Per customer, from the behavioural log: how often and how long they bank
-- online, on how many devices (and how many are new in the last 30 days, the
-- account-takeover signal), from how many countries, and the security events
-- (password resets, new beneficiaries).
-- Distinct counts are taken over DISTINCT sub-selects rather than with
-- COUNT(DISTINCT ...) next to other aggregates, which DataFusion evaluates
-- with a hash set per group (slow, and memory-hungry at a million customers).
WITH devices AS (
    SELECT
        d.customer_id,
        COUNT(*) AS distinct_devices,
        SUM(CASE WHEN d.first_seen >= r.as_of - INTERVAL '30 days' THEN 1 ELSE 0 END) AS new_devices_30d
    FROM run_context r
    CROSS JOIN (
        SELECT customer_id, device_id, MIN(started_at) AS first_seen
        FROM sessions
        GROUP BY customer_id, device_id
    ) d
    GROUP BY d.customer_id
),
ip_countries AS (
    SELECT customer_id, COUNT(*) AS distinct_ip_countries
    FROM (SELECT DISTINCT customer_id, ip_country FROM sessions WHERE ip_country IS NOT NULL) c
    GROUP BY customer_id
),
windowed_events AS (
    SELECT e.customer_id, e.event_type
    FROM run_context r  -- one row, on the left: joins build from the left input
    CROSS JOIN events e
    WHERE e.ts < r.as_of
      AND e.ts >= r.as_of - INTERVAL '365 days'
),
event_kinds AS (
    SELECT
        customer_id,
        SUM(CASE WHEN event_type = 'password_reset' THEN 1 ELSE 0 END) AS password_resets,
        SUM(CASE WHEN event_type = 'beneficiary_added' THEN 1 ELSE 0 END) AS beneficiaries_added,
        SUM(CASE WHEN event_type = 'api_call' THEN 1 ELSE 0 END) AS api_calls
    FROM windowed_events
    GROUP BY customer_id
),
event_types AS (
    SELECT customer_id, COUNT(*) AS distinct_event_types
    FROM (SELECT DISTINCT customer_id, event_type FROM windowed_events) t
    GROUP BY customer_id
),
session_stats AS (
    SELECT
        customer_id,
        COUNT(*) AS session_count,
        CAST(SUM(duration_s) AS DOUBLE) / NULLIF(COUNT(duration_s), 0) AS avg_session_duration_s,
        AVG(CAST(events AS DOUBLE)) AS events_per_session,
        CAST(SUM(abroad) AS DOUBLE) / COUNT(*) AS abroad_session_share
    FROM sessions
    GROUP BY customer_id
)
-- Every CTE above has one row per customer, so these joins stay small.
SELECT
    s.customer_id,
    s.session_count,
    s.avg_session_duration_s,
    s.events_per_session,
    d.distinct_devices,
    CAST(d.distinct_devices AS DOUBLE) / s.session_count AS new_device_rate,
    d.new_devices_30d,
    COALESCE(c.distinct_ip_countries, 0) AS distinct_ip_countries,
    s.abroad_session_share,
    t.distinct_event_types,
    k.password_resets,
    k.beneficiaries_added,
    k.api_calls
FROM session_stats s
JOIN devices d ON d.customer_id = s.customer_id
LEFT JOIN ip_countries c ON c.customer_id = s.customer_id
JOIN event_kinds k ON k.customer_id = s.customer_id
JOIN event_types t ON t.customer_id = s.customer_id
