-- The transactions an analyst may use to describe an account: the account's
-- statement lines (credits, debits, cash, transfers, interest, fees) from the
-- start of the feed to the earliest of
--   * the end of the feed's coverage (the copy in datasets/berka holds only
--     1993-01-01 .. 1994-03-30 of the bank's 1993-1998 statements),
--   * the run's as_of (nothing after the run's point in time), and
--   * the day the account's loan was granted, when it has one.
-- The last cut is the point of this view: the job's risk label is the loan's
-- status, so the features of a loan account describe only what the bank
-- could see when it granted the loan. Repayments, arrears and the penalty
-- interest of a loan in trouble come after that day and would hand the
-- model its answer. Loan repayments (k_symbol UVER) are dropped as well,
-- for the same reason, should a feed ever carry one before its loan date.
--
-- The window is the whole feed, as amlsim's whole-run window: with 15 months
-- of statements there is no room for a "last 12 months" window, and counts
-- and volumes are turned into per-month rates over the months each account
-- was observed (account_coverage), so a short history is not a quiet one.
WITH coverage AS (
    -- The feed's own first day and the day after its last: computed, not
    -- written down, so the full 1993-1998 feed can be dropped in.
    SELECT MIN(date) AS feed_start, MAX(date) + INTERVAL '1 day' AS feed_end
    FROM transactions
)
SELECT
    t.account_id,
    t.date,
    t.type,
    t.operation,
    t.k_symbol,
    t.amount,
    t.balance,
    t.bank
FROM run_context r
CROSS JOIN coverage c
CROSS JOIN transactions t
LEFT JOIN loans l ON l.account_id = t.account_id
WHERE t.date < CAST(r.as_of AS DATE)
  AND t.date < c.feed_end
  AND (l.date IS NULL OR t.date < l.date)
  AND COALESCE(t.k_symbol, '') <> 'UVER'
