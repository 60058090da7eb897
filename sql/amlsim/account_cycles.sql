-- Per account: how many 2-cycles (A -> B -> A) and 3-cycles
-- (A -> B -> C -> A) of distinct accounts it lies on, and how many of its
-- counterparties are also its counterparties' counterparties (triangles
-- regardless of direction are not counted: laundering cycles are directed).
WITH two AS (
    SELECT e1.src AS account, COUNT(*) AS cycles_2
    FROM account_edges e1
    JOIN account_edges e2 ON e2.src = e1.dst AND e2.dst = e1.src
    GROUP BY 1
),
three AS (
    SELECT e1.src AS account, COUNT(*) AS cycles_3
    FROM account_edges e1
    JOIN account_edges e2 ON e2.src = e1.dst
    JOIN account_edges e3 ON e3.src = e2.dst AND e3.dst = e1.src
    WHERE e2.dst <> e1.src
    GROUP BY 1
)
SELECT
    f.account,
    COALESCE(t2.cycles_2, 0) AS cycles_2,
    COALESCE(t3.cycles_3, 0) AS cycles_3
FROM account_flows f
LEFT JOIN two t2 ON t2.account = f.account
LEFT JOIN three t3 ON t3.account = f.account
