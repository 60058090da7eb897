-- The feature table: one row per account (key `account_id`, as text).
SELECT
    CAST(f.account AS VARCHAR) AS account_id,
    f.init_balance,
    f.out_count,
    f.out_amount,
    f.out_avg,
    f.out_max,
    f.fan_out,
    f.out_active_steps,
    f.first_out_step,
    f.in_count,
    f.in_amount,
    f.in_avg,
    f.in_max,
    f.fan_in,
    f.in_active_steps,
    f.first_in_step,
    -- Pass-through behaviour: money in close to money out.
    CASE WHEN f.out_amount > 0 THEN f.in_amount / f.out_amount END AS in_out_ratio,
    c.cycles_2,
    c.cycles_3
FROM account_flows f
JOIN account_cycles c ON c.account = f.account
