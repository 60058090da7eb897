-- Rule: new_device_beneficiary_wire.
-- Detects the account-takeover pattern: a beneficiary added (event
-- 'beneficiary_added') in the ndbw_lookback_days before as_of, with a
-- device first seen by the bank at most ndbw_new_device_days before the
-- addition, followed within ndbw_window_hours by outgoing transfers
-- (channel 'wire' or 'crypto_exchange', direction 'out') to counterparties
-- the customer had never paid before the addition, totalling at least
-- ndbw_min_transfer_eur. A device's first sighting is its first event in
-- the whole `events` history before as_of.
--
-- Thresholds read (per segment, from `thresholds`):
--   ndbw_lookback_days     look-back for the beneficiary addition, days
--   ndbw_new_device_days   how recent a device's first sighting must be, days
--   ndbw_window_hours      time from the addition to the transfers, hours
--   ndbw_min_transfer_eur  total of those transfers that alerts
WITH params AS (
    SELECT
        s.customer_id,
        t.ndbw_min_transfer_eur AS min_eur,
        CAST(t.ndbw_window_hours AS BIGINT) AS window_hours,
        CAST(t.ndbw_new_device_days AS BIGINT) AS device_days,
        r.as_of,
        r.as_of - CAST(CONCAT(CAST(CAST(t.ndbw_lookback_days AS BIGINT) AS VARCHAR), ' days') AS INTERVAL) AS lookback_start,
        CAST(CONCAT(CAST(CAST(t.ndbw_new_device_days AS BIGINT) AS VARCHAR), ' days') AS INTERVAL) AS device_age,
        CAST(CONCAT(CAST(CAST(t.ndbw_window_hours AS BIGINT) AS VARCHAR), ' hours') AS INTERVAL) AS transfer_window
    FROM run_context r
    CROSS JOIN thresholds t
    JOIN segments s ON s.segment_id = t.segment_id
),
additions AS (
    -- DISTINCT: two additions in the same instant are one episode
    SELECT DISTINCT p.*, e.ts AS added_at
    FROM params p
    JOIN events e ON e.customer_id = p.customer_id
    WHERE e.event_type = 'beneficiary_added'
      AND e.ts >= p.lookback_start
      AND e.ts < p.as_of
),
devices AS (
    -- first sighting of each device of the customers who added a beneficiary
    SELECT e.customer_id, e.device_id, MIN(e.ts) AS first_seen
    FROM (SELECT DISTINCT customer_id, as_of FROM additions) a
    JOIN events e ON e.customer_id = a.customer_id
    WHERE e.ts < a.as_of
      AND e.device_id IS NOT NULL
    GROUP BY e.customer_id, e.device_id
),
new_device_additions AS (
    SELECT
        a.customer_id, a.added_at, a.min_eur, a.window_hours, a.device_days,
        a.as_of, a.transfer_window,
        MAX(d.first_seen) AS newest_device_seen,
        COUNT(*) AS new_devices
    FROM additions a
    JOIN devices d ON d.customer_id = a.customer_id
    WHERE d.first_seen <= a.added_at
      AND d.first_seen >= a.added_at - a.device_age
    GROUP BY a.customer_id, a.added_at, a.min_eur, a.window_hours, a.device_days, a.as_of, a.transfer_window
),
transfers AS (
    SELECT
        n.customer_id, n.added_at, n.min_eur, n.window_hours, n.device_days, n.newest_device_seen, n.new_devices,
        tx.transaction_id, tx.amount_eur, tx.counterparty_id
    FROM new_device_additions n
    JOIN transactions tx ON tx.customer_id = n.customer_id
    WHERE tx.direction = 'out'
      AND tx.channel IN ('wire', 'crypto_exchange')
      AND tx.ts >= n.added_at
      AND tx.ts <= n.added_at + n.transfer_window
      AND tx.ts < n.as_of
),
paid_before AS (
    -- counterparties the customer had paid before the addition
    SELECT DISTINCT t.customer_id, t.added_at, t.counterparty_id
    FROM (SELECT DISTINCT customer_id, added_at, counterparty_id FROM transfers) t
    JOIN transactions tx ON tx.customer_id = t.customer_id AND tx.counterparty_id = t.counterparty_id
    WHERE tx.direction = 'out'
      AND tx.ts < t.added_at
),
episodes AS (
    SELECT
        t.customer_id, t.added_at, t.min_eur, t.window_hours, t.device_days, t.newest_device_seen, t.new_devices,
        COUNT(*) AS transfers,
        SUM(CAST(t.amount_eur AS DECIMAL(18, 2))) AS total_eur,
        MAX(t.amount_eur) AS largest_eur,
        COUNT(DISTINCT t.counterparty_id) AS counterparties
    FROM transfers t
    LEFT JOIN paid_before b
      ON b.customer_id = t.customer_id AND b.added_at = t.added_at AND b.counterparty_id = t.counterparty_id
    WHERE b.customer_id IS NULL
    GROUP BY t.customer_id, t.added_at, t.min_eur, t.window_hours, t.device_days, t.newest_device_seen, t.new_devices
),
alerting AS (
    -- one row per customer: the largest qualifying episode (earliest on a
    -- tie; added_at is unique per customer, so the order is total)
    SELECT *,
           ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY total_eur DESC, added_at) AS rn,
           COUNT(*) OVER (PARTITION BY customer_id) AS episodes
    FROM episodes
    WHERE total_eur >= min_eur
)
SELECT
    a.customer_id,
    CONCAT(
        'beneficiary added ', to_char(a.added_at, '%Y-%m-%d %H:%M'), ' UTC with ',
        CAST(a.new_devices AS VARCHAR), ' device(s) new in the ', CAST(a.device_days AS VARCHAR),
        ' days before (newest first seen ',
        CAST(CAST(ROUND((EXTRACT(EPOCH FROM a.added_at) - EXTRACT(EPOCH FROM a.newest_device_seen)) / 3600) AS BIGINT) AS VARCHAR),
        ' h before); then ', CAST(a.transfers AS VARCHAR), ' outgoing transfer(s) of ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(a.total_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR (largest ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(a.largest_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR) to ', CAST(a.counterparties AS VARCHAR), ' new counterparty(ies) within ',
        CAST(a.window_hours AS VARCHAR), ' h (segment limit ',
        regexp_replace(regexp_replace(regexp_replace(CAST(CAST(ROUND(a.min_eur) AS BIGINT) AS VARCHAR),
            '(\d)(\d{3})$', '\1,\2'), '(\d)(\d{3}),', '\1,\2,'), '(\d)(\d{3}),', '\1,\2,'),
        ' EUR)'
    ) AS reason,
    CAST(a.total_eur AS DOUBLE) AS transfer_volume_eur,
    a.transfers,
    a.largest_eur,
    a.episodes
FROM alerting a
WHERE a.rn = 1
