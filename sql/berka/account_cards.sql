-- Per account: the payment cards issued to its owner or authorised users
-- (card joins to account through disp), and the best of them
-- (gold > classic > junior). Only cards issued before as_of count, and for
-- an account with a loan only cards issued before the loan was granted: a
-- bank issues or withholds cards knowing how a loan is going, so a later
-- card would carry the label.
SELECT
    d.account_id,
    COUNT(*) AS cards,
    CASE MAX(CASE c.type WHEN 'gold' THEN 3 WHEN 'classic' THEN 2 WHEN 'junior' THEN 1 ELSE 0 END)
        WHEN 3 THEN 'gold' WHEN 2 THEN 'classic' WHEN 1 THEN 'junior' ELSE 'other'
    END AS card_type
FROM run_context r
CROSS JOIN cards c
JOIN dispositions d ON d.disp_id = c.disp_id
LEFT JOIN loans l ON l.account_id = d.account_id
WHERE c.issued < CAST(r.as_of AS DATE)
  AND (l.date IS NULL OR c.issued < l.date)
GROUP BY d.account_id
