-- The feature table: one row per account (key `account_id`, the bank's
-- integer id) that was open before as_of. What a KYC analyst reads off an
-- account file:
--   * the account: age at as_of, statement frequency, authorised users
--     besides the owner (DISPONENT), payment cards, and whether the owner
--     lives outside the district of the account's branch;
--   * its branch's district (district.A1..A16): unemployment 1995 and 1996
--     and its change, crimes per 1,000 inhabitants 1995 and 1996, average
--     salary, share of urban inhabitants, entrepreneurs per 1,000;
--   * standing orders by purpose (standing_orders);
--   * behaviour in the transaction feed before the loan cut, as monthly
--     rates and shares (account_history, transaction_features).
-- Text columns are attributes for the analyst (statement_frequency,
-- card_type, region): published with the features, not used by k-means or
-- the booster, which take numeric columns.
-- Accounts without statements in the window (opened after the feed ends,
-- or with a loan granted before their first statement) have NULL behaviour
-- features and has_history = 0: missing, not zero; the models impute or
-- route them. Counts without a denominator stay NULL, never NaN.
SELECT
    a.account_id,
    CASE a.frequency
        WHEN 'POPLATEK MESICNE' THEN 'monthly'
        WHEN 'POPLATEK TYDNE' THEN 'weekly'
        WHEN 'POPLATEK PO OBRATU' THEN 'after_transaction'
        ELSE 'unknown'
    END AS statement_frequency,
    COALESCE(k.card_type, 'none') AS card_type,
    di."A3" AS region,

    CAST(CAST(r.as_of AS DATE) AS INT) - CAST(a.date AS INT) AS account_age_days,
    COALESCE(u.disponents, 0) AS disponents,
    COALESCE(k.cards, 0) AS cards,
    CASE WHEN ow.district_id <> a.district_id THEN 1 ELSE 0 END AS owner_out_of_district,

    di."A12" AS unemployment_1995,
    di."A13" AS unemployment_1996,
    di."A13" - di."A12" AS unemployment_change,
    CAST(di."A15" AS DOUBLE) * 1000 / NULLIF(di."A4", 0) AS crimes_per_1000_1995,
    CAST(di."A16" AS DOUBLE) * 1000 / NULLIF(di."A4", 0) AS crimes_per_1000_1996,
    di."A11" AS district_average_salary,
    di."A10" AS district_urban_ratio,
    di."A14" AS district_entrepreneurs_per_1000,

    COALESCE(o.order_count, 0) AS order_count,
    COALESCE(o.order_amount, 0) AS order_amount,
    COALESCE(o.household_order_amount, 0) AS household_order_amount,
    COALESCE(o.insurance_order_amount, 0) AS insurance_order_amount,
    COALESCE(o.leasing_order_amount, 0) AS leasing_order_amount,
    COALESCE(o.unstated_order_amount, 0) AS unstated_order_amount,
    COALESCE(o.order_partner_banks, 0) AS order_partner_banks,

    CASE WHEN t.account_id IS NULL THEN 0 ELSE 1 END AS has_history,
    cv.months_observed,
    t.txn_count / cv.months_observed AS txn_per_month,
    t.credit_volume / cv.months_observed AS credit_volume_per_month,
    t.debit_volume / cv.months_observed AS debit_volume_per_month,
    t.credit_volume / NULLIF(t.debit_volume, 0) AS credit_debit_ratio,
    t.txn_max,
    t.cash_withdrawal_volume / NULLIF(t.debit_volume, 0) AS cash_withdrawal_share,
    t.cash_withdrawal_count / cv.months_observed AS cash_withdrawals_per_month,
    t.cash_deposit_volume / NULLIF(t.credit_volume, 0) AS cash_deposit_share,
    t.card_withdrawal_count,
    t.remittance_out_volume / NULLIF(t.debit_volume, 0) AS remittance_out_share,
    t.remittance_out_count / cv.months_observed AS remittances_out_per_month,
    t.collection_in_volume / NULLIF(t.credit_volume, 0) AS collection_in_share,
    t.pension_count,
    t.household_payment_count / cv.months_observed AS household_payments_per_month,
    t.household_payment_volume / cv.months_observed AS household_payment_volume_per_month,
    t.insurance_payment_count / cv.months_observed AS insurance_payments_per_month,
    t.partner_banks,
    t.interest_credited / cv.months_observed AS interest_per_month,
    t.penalty_interest_count,
    t.negative_balance_count,
    t.balance_mean,
    t.balance_min,
    t.balance_max,
    t.balance_stddev,
    -- Volatility relative to the level: large swings around a small balance.
    t.balance_stddev / NULLIF(ABS(t.balance_mean), 0) AS balance_cv
FROM run_context r
CROSS JOIN accounts a
LEFT JOIN districts di ON di."A1" = a.district_id
LEFT JOIN (
    SELECT account_id, COUNT(*) AS disponents
    FROM dispositions
    WHERE type = 'DISPONENT'
    GROUP BY account_id
) u ON u.account_id = a.account_id
LEFT JOIN (
    SELECT d.account_id, c.district_id
    FROM dispositions d
    JOIN clients c ON c.client_id = d.client_id
    WHERE d.type = 'OWNER'
) ow ON ow.account_id = a.account_id
LEFT JOIN account_cards k ON k.account_id = a.account_id
LEFT JOIN order_features o ON o.account_id = a.account_id
LEFT JOIN transaction_features t ON t.account_id = a.account_id
LEFT JOIN account_coverage cv ON cv.account_id = a.account_id
WHERE a.date < CAST(r.as_of AS DATE)
