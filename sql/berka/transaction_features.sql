-- Per account, from its statement lines before the loan cut
-- (account_history): activity, cash intensity, transfers to other banks,
-- interest and penalty interest, and the balance's level and volatility.
--   * credits are type PRIJEM; debits are VYDAJ and VYBER (the latter, not in
--     the bank's own description, holds cash withdrawals only);
--   * cash withdrawal: operation VYBER; cash deposit: VKLAD; card withdrawal
--     (ATM): VYBER KARTOU; remittance to another bank: PREVOD NA UCET;
--     collection from another bank: PREVOD Z UCTU; old-age pension: DUCHOD;
--   * household (SIPO) and insurance (POJISTNE) debits are standing orders
--     being executed: unlike the order table, they carry a date;
--   * penalty interest (SANKC. UROK) is charged when the balance went
--     negative: the account was overdrawn.
-- Balances are the running balance after each statement line, so their
-- standard deviation is the volatility of what the customer keeps.
-- Amounts are CZK, as in the feed; sums of doubles are exact in seglake
-- (order-independent), so no DECIMAL casts are needed.
SELECT
    h.account_id,
    COUNT(*) AS txn_count,
    SUM(CASE WHEN h.type = 'PRIJEM' THEN 1 ELSE 0 END) AS credit_count,
    SUM(CASE WHEN h.type <> 'PRIJEM' THEN 1 ELSE 0 END) AS debit_count,
    SUM(CASE WHEN h.type = 'PRIJEM' THEN h.amount ELSE 0 END) AS credit_volume,
    SUM(CASE WHEN h.type <> 'PRIJEM' THEN h.amount ELSE 0 END) AS debit_volume,
    MAX(h.amount) AS txn_max,

    SUM(CASE WHEN h.operation = 'VYBER' THEN 1 ELSE 0 END) AS cash_withdrawal_count,
    SUM(CASE WHEN h.operation = 'VYBER' THEN h.amount ELSE 0 END) AS cash_withdrawal_volume,
    SUM(CASE WHEN h.operation = 'VKLAD' THEN 1 ELSE 0 END) AS cash_deposit_count,
    SUM(CASE WHEN h.operation = 'VKLAD' THEN h.amount ELSE 0 END) AS cash_deposit_volume,
    SUM(CASE WHEN h.operation = 'VYBER KARTOU' THEN 1 ELSE 0 END) AS card_withdrawal_count,
    SUM(CASE WHEN h.operation = 'PREVOD NA UCET' THEN 1 ELSE 0 END) AS remittance_out_count,
    SUM(CASE WHEN h.operation = 'PREVOD NA UCET' THEN h.amount ELSE 0 END) AS remittance_out_volume,
    SUM(CASE WHEN h.operation = 'PREVOD Z UCTU' THEN 1 ELSE 0 END) AS collection_in_count,
    SUM(CASE WHEN h.operation = 'PREVOD Z UCTU' THEN h.amount ELSE 0 END) AS collection_in_volume,
    SUM(CASE WHEN h.k_symbol = 'DUCHOD' THEN 1 ELSE 0 END) AS pension_count,
    -- Standing orders as they were executed, dated: household payments
    -- (SIPO) and insurance premiums (POJISTNE) debited in the window.
    SUM(CASE WHEN h.k_symbol = 'SIPO' AND h.type <> 'PRIJEM' THEN 1 ELSE 0 END) AS household_payment_count,
    SUM(CASE WHEN h.k_symbol = 'SIPO' AND h.type <> 'PRIJEM' THEN h.amount ELSE 0 END) AS household_payment_volume,
    SUM(CASE WHEN h.k_symbol = 'POJISTNE' AND h.type <> 'PRIJEM' THEN 1 ELSE 0 END) AS insurance_payment_count,
    -- Different banks money went to or came from (bank codes are unique per
    -- partner bank): a spread of partner banks is a layering indicator.
    COUNT(DISTINCT h.bank) FILTER (WHERE h.bank <> '') AS partner_banks,

    SUM(CASE WHEN h.k_symbol = 'UROK' THEN h.amount ELSE 0 END) AS interest_credited,
    SUM(CASE WHEN h.k_symbol = 'SANKC. UROK' THEN 1 ELSE 0 END) AS penalty_interest_count,
    SUM(CASE WHEN h.balance < 0 THEN 1 ELSE 0 END) AS negative_balance_count,

    AVG(h.balance) AS balance_mean,
    MIN(h.balance) AS balance_min,
    MAX(h.balance) AS balance_max,
    STDDEV_POP(h.balance) AS balance_stddev
FROM account_history h
GROUP BY h.account_id
