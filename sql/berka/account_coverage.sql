-- How long each account was observed in the transaction feed: from the
-- later of the feed's first day and the account's opening, to the earliest
-- of the feed's end, the run's as_of and the loan's grant date (the same
-- cut as account_history). Months observed turn counts and volumes into
-- monthly rates. Accounts opened after the feed ends (or after their cut)
-- get no row: the bank has no statements for them in this window.
WITH coverage AS (
    SELECT MIN(date) AS feed_start, MAX(date) + INTERVAL '1 day' AS feed_end
    FROM transactions
),
bounds AS (
    SELECT
        a.account_id,
        GREATEST(c.feed_start, a.date) AS observed_from,
        LEAST(c.feed_end, CAST(r.as_of AS DATE), COALESCE(l.date, c.feed_end)) AS observed_to
    FROM run_context r
    CROSS JOIN coverage c
    CROSS JOIN accounts a
    LEFT JOIN loans l ON l.account_id = a.account_id
)
SELECT
    account_id,
    observed_from,
    observed_to,
    -- Average month length of the Gregorian calendar.
    CAST(CAST(observed_to AS INT) - CAST(observed_from AS INT) AS DOUBLE) / 30.436875 AS months_observed
FROM bounds
WHERE observed_to > observed_from
