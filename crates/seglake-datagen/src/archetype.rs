use std::fmt;

/// The kinds of customer the generator plants. Each behaves in a way AML and
/// fraud teams recognise, so segments and risk scores can be checked against
/// the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Archetype {
    /// Monthly salary in, card spending and bills out.
    SalaryEarner,
    /// Many invoices in and suppliers out, by ACH and wire.
    SmallBusiness,
    /// Frequent large cash deposits, often just under the reporting
    /// threshold, then wires out.
    CashIntensiveBusiness,
    /// Wires to and from abroad, a large share with high-risk jurisdictions.
    CrossBorderHeavy,
    /// Almost silent for most of the year, then a burst of large transfers.
    DormantThenBurst,
    /// Many small payments in from many counterparties, quickly passed on
    /// to a few (fan-in / fan-out), often via crypto exchanges.
    MuleLike,
    /// An ordinary customer until the account is taken over: password reset,
    /// new devices and foreign IPs, a new beneficiary, then large wires out.
    AccountTakeover,
}

impl Archetype {
    pub const ALL: [Archetype; 7] = [
        Archetype::SalaryEarner,
        Archetype::SmallBusiness,
        Archetype::CashIntensiveBusiness,
        Archetype::CrossBorderHeavy,
        Archetype::DormantThenBurst,
        Archetype::MuleLike,
        Archetype::AccountTakeover,
    ];

    /// Share of the customer base, roughly as a retail bank sees it (the
    /// suspicious kinds are over-represented so a small sample has some).
    pub fn share(self) -> f64 {
        match self {
            Archetype::SalaryEarner => 0.52,
            Archetype::SmallBusiness => 0.15,
            Archetype::CashIntensiveBusiness => 0.07,
            Archetype::CrossBorderHeavy => 0.08,
            Archetype::DormantThenBurst => 0.08,
            Archetype::MuleLike => 0.05,
            Archetype::AccountTakeover => 0.05,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Archetype::SalaryEarner => "salary_earner",
            Archetype::SmallBusiness => "small_business",
            Archetype::CashIntensiveBusiness => "cash_intensive_business",
            Archetype::CrossBorderHeavy => "cross_border_heavy",
            Archetype::DormantThenBurst => "dormant_then_burst",
            Archetype::MuleLike => "mule_like",
            Archetype::AccountTakeover => "account_takeover",
        }
    }

    pub fn is_business(self) -> bool {
        matches!(
            self,
            Archetype::SmallBusiness | Archetype::CashIntensiveBusiness
        )
    }

    /// Chance that monitoring raised an alert on such a customer during the
    /// year, and the chance that an alert was confirmed (SAR or true positive).
    pub fn alert_rates(self) -> (f64, f64) {
        match self {
            Archetype::SalaryEarner => (0.01, 0.05),
            Archetype::SmallBusiness => (0.03, 0.10),
            Archetype::CashIntensiveBusiness => (0.25, 0.45),
            Archetype::CrossBorderHeavy => (0.20, 0.40),
            Archetype::DormantThenBurst => (0.15, 0.35),
            Archetype::MuleLike => (0.45, 0.80),
            Archetype::AccountTakeover => (0.35, 0.75),
        }
    }
}

impl fmt::Display for Archetype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_one() {
        let total: f64 = Archetype::ALL.iter().map(|a| a.share()).sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
    }
}
