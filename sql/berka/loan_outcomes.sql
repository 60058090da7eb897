-- The bank's outcome for each account with a loan: the loan's status code
-- as the bank records it (at most one loan per account).
--   A  contract finished, no problems        B  contract finished, loan not paid
--   C  running contract, OK so far           D  running contract, client in debt
-- The job's [outcomes] section maps these codes to seglake's outcomes (B and
-- D, the bad loans, are the confirmed outcome), so segment profiles show the
-- share of each segment's accounts with a bad loan.
-- decided_at is when the status was known: a finished contract's end (grant
-- date plus its duration in months), and for a running one the end of the
-- data (the statuses are the bank's snapshot at 1998-12-31).
SELECT
    l.account_id,
    l.status AS outcome,
    CASE
        WHEN l.status IN ('A', 'B')
            THEN CAST(l.date + CAST(CONCAT(CAST(l.duration AS VARCHAR), ' months') AS INTERVAL) AS DATE)
        ELSE DATE '1998-12-31'
    END AS decided_at
FROM loans l
