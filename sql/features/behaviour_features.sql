-- Per customer, from the behavioural log: how often and how long they bank
-- online, on how many devices (and how many are new in the last 30 days, the
-- account-takeover signal), from how many countries, and the security events
-- (password resets, new beneficiaries).
WITH device_first_seen AS (
    SELECT customer_id, device_id, MIN(started_at) AS first_seen
    FROM sessions
    GROUP BY customer_id, device_id
),
new_devices AS (
    SELECT d.customer_id, SUM(CASE WHEN d.first_seen >= r.as_of - INTERVAL '30 days' THEN 1 ELSE 0 END) AS new_devices_30d
    FROM device_first_seen d
    CROSS JOIN run_context r
    GROUP BY d.customer_id
),
event_kinds AS (
    SELECT
        e.customer_id,
        COUNT(DISTINCT e.event_type) AS distinct_event_types,
        SUM(CASE WHEN e.event_type = 'password_reset' THEN 1 ELSE 0 END) AS password_resets,
        SUM(CASE WHEN e.event_type = 'beneficiary_added' THEN 1 ELSE 0 END) AS beneficiaries_added,
        SUM(CASE WHEN e.event_type = 'api_call' THEN 1 ELSE 0 END) AS api_calls
    FROM events e
    CROSS JOIN run_context r
    WHERE e.ts < r.as_of
      AND e.ts >= r.as_of - INTERVAL '365 days'
    GROUP BY e.customer_id
)
SELECT
    s.customer_id,
    COUNT(*) AS session_count,
    AVG(s.duration_s) AS avg_session_duration_s,
    AVG(CAST(s.events AS DOUBLE)) AS events_per_session,
    COUNT(DISTINCT s.device_id) AS distinct_devices,
    CAST(COUNT(DISTINCT s.device_id) AS DOUBLE) / COUNT(*) AS new_device_rate,
    MAX(n.new_devices_30d) AS new_devices_30d,
    COUNT(DISTINCT s.ip_country) AS distinct_ip_countries,
    CAST(SUM(s.abroad) AS DOUBLE) / COUNT(*) AS abroad_session_share,
    MAX(k.distinct_event_types) AS distinct_event_types,
    MAX(k.password_resets) AS password_resets,
    MAX(k.beneficiaries_added) AS beneficiaries_added,
    MAX(k.api_calls) AS api_calls
FROM sessions s
JOIN new_devices n ON n.customer_id = s.customer_id
JOIN event_kinds k ON k.customer_id = s.customer_id
GROUP BY s.customer_id
