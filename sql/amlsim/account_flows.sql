-- Per account: what goes out (fan-out) and what comes in (fan-in).
WITH outgoing AS (
    SELECT
        "sourceNodeId" AS account,
        COUNT(*) AS out_count,
        SUM(value) AS out_amount,
        AVG(value) AS out_avg,
        MAX(value) AS out_max,
        COUNT(DISTINCT "targetNodeId") AS fan_out,
        COUNT(DISTINCT time) AS out_active_steps,
        MIN(time) AS first_out_step
    FROM transactions
    GROUP BY 1
),
incoming AS (
    SELECT
        "targetNodeId" AS account,
        COUNT(*) AS in_count,
        SUM(value) AS in_amount,
        AVG(value) AS in_avg,
        MAX(value) AS in_max,
        COUNT(DISTINCT "sourceNodeId") AS fan_in,
        COUNT(DISTINCT time) AS in_active_steps,
        MIN(time) AS first_in_step
    FROM transactions
    GROUP BY 1
)
SELECT
    n.nodeid AS account,
    n.init_balance,
    COALESCE(o.out_count, 0) AS out_count,
    COALESCE(o.out_amount, 0) AS out_amount,
    o.out_avg,
    o.out_max,
    COALESCE(o.fan_out, 0) AS fan_out,
    COALESCE(o.out_active_steps, 0) AS out_active_steps,
    o.first_out_step,
    COALESCE(i.in_count, 0) AS in_count,
    COALESCE(i.in_amount, 0) AS in_amount,
    i.in_avg,
    i.in_max,
    COALESCE(i.fan_in, 0) AS fan_in,
    COALESCE(i.in_active_steps, 0) AS in_active_steps,
    i.first_in_step
FROM nodes n
LEFT JOIN outgoing o ON o.account = n.nodeid
LEFT JOIN incoming i ON i.account = n.nodeid
