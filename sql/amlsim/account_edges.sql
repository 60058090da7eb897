-- Distinct directed edges between accounts (self-transfers dropped), with
-- how often and how much: the graph the cycle features walk.
SELECT
    "sourceNodeId" AS src,
    "targetNodeId" AS dst,
    COUNT(*) AS transfers,
    SUM(value) AS amount
FROM transactions
WHERE "sourceNodeId" <> "targetNodeId"
GROUP BY 1, 2
