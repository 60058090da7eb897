-- AMLSim's account-level label: isFraud = 1 for accounts in an injected
-- laundering pattern (fan-in or cycle), 0 otherwise. Every account is
-- labelled; the job holds out a stratified 20% to evaluate on.
SELECT CAST(nodeid AS VARCHAR) AS account_id, CAST("isFraud" AS INT) AS label
FROM nodes
