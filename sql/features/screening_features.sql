-- Sanctions exposure per customer, from the run's `screening_hits` (every
-- customer and counterparty name screened against the pinned OFAC SDN list,
-- see [screening] in the job) and the comprehensively sanctioned
-- jurisdictions. Customers without exposure have no row here; the feature
-- table gives them zeros. The small tables (hits, countries) are on the left
-- of each join: DataFusion builds its hash table from the left input, and
-- the transactions stream past it.
WITH counterparty_hits AS (
    SELECT party_id AS counterparty_id,
           MIN(programmes) AS programmes
    FROM screening_hits
    WHERE party = 'counterparty'
    GROUP BY party_id
),
exposed AS (
    SELECT t.customer_id, t.counterparty_id, t.amount_eur, h.programmes
    FROM counterparty_hits h
    JOIN windowed_transactions t ON t.counterparty_id = h.counterparty_id
),
counterparty_exposure AS (
    SELECT customer_id,
           COUNT(*) AS sanctioned_counterparty_txn_count,
           SUM(amount_eur) AS sanctioned_counterparty_volume_eur
    FROM exposed
    GROUP BY customer_id
),
distinct_exposure AS (
    SELECT customer_id,
           COUNT(*) AS sanctioned_counterparties
    FROM (SELECT DISTINCT customer_id, counterparty_id FROM exposed) d
    GROUP BY customer_id
),
programme_exposure AS (
    SELECT customer_id,
           COUNT(*) AS sanctions_programmes
    FROM (SELECT DISTINCT customer_id, programmes FROM exposed) p
    GROUP BY customer_id
),
customer_hits AS (
    SELECT party_id AS customer_id, MAX(score) AS name_hit_score
    FROM screening_hits
    WHERE party = 'customer'
    GROUP BY party_id
),
jurisdictions AS (
    SELECT t.customer_id, COUNT(*) AS sanctioned_jurisdiction_txn_count
    FROM (
        SELECT DISTINCT country_code FROM sanctioned_jurisdictions
        WHERE category = 'comprehensive_sanctions'
    ) s
    JOIN windowed_transactions t ON t.counterparty_country = s.country_code
    GROUP BY t.customer_id
),
exposed_customers AS (
    SELECT customer_id FROM counterparty_exposure
    UNION SELECT customer_id FROM customer_hits
    UNION SELECT customer_id FROM jurisdictions
)
SELECT e.customer_id,
       COALESCE(c.sanctioned_counterparty_txn_count, 0) AS sanctioned_counterparty_txn_count,
       COALESCE(c.sanctioned_counterparty_volume_eur, 0) AS sanctioned_counterparty_volume_eur,
       COALESCE(d.sanctioned_counterparties, 0) AS sanctioned_counterparties,
       COALESCE(p.sanctions_programmes, 0) AS sanctions_programmes,
       COALESCE(h.name_hit_score, 0) AS name_hit_score,
       COALESCE(j.sanctioned_jurisdiction_txn_count, 0) AS sanctioned_jurisdiction_txn_count
FROM exposed_customers e
LEFT JOIN counterparty_exposure c ON c.customer_id = e.customer_id
LEFT JOIN distinct_exposure d ON d.customer_id = e.customer_id
LEFT JOIN programme_exposure p ON p.customer_id = e.customer_id
LEFT JOIN customer_hits h ON h.customer_id = e.customer_id
LEFT JOIN jurisdictions j ON j.customer_id = e.customer_id
