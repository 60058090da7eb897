//! Column builders for each generated table. A part's rows accumulate here
//! and leave as one RecordBatch per table.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn ts_builder() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema, columns).expect("builders match the schema")
}

pub struct Customers {
    id: StringBuilder,
    onboarded: Date32Builder,
    residence: StringBuilder,
    kind: StringBuilder,
    occupation: StringBuilder,
    kyc: StringBuilder,
    name: StringBuilder,
}

impl Customers {
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, false),
            Field::new("onboarding_date", DataType::Date32, false),
            Field::new("residence_country", DataType::Utf8, false),
            Field::new("customer_type", DataType::Utf8, false),
            Field::new("occupation_or_sector", DataType::Utf8, true),
            Field::new("kyc_risk_rating", DataType::Utf8, true),
            Field::new("full_name", DataType::Utf8, false),
        ]))
    }

    pub fn new() -> Self {
        Customers {
            id: StringBuilder::new(),
            onboarded: Date32Builder::new(),
            residence: StringBuilder::new(),
            kind: StringBuilder::new(),
            occupation: StringBuilder::new(),
            kyc: StringBuilder::new(),
            name: StringBuilder::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        id: &str,
        onboarding_day: i32,
        residence: &str,
        kind: &str,
        occupation: Option<&str>,
        kyc: Option<&str>,
        name: &str,
    ) {
        self.id.append_value(id);
        self.onboarded.append_value(onboarding_day);
        self.residence.append_value(residence);
        self.kind.append_value(kind);
        self.occupation.append_option(occupation);
        self.kyc.append_option(kyc);
        self.name.append_value(name);
    }

    pub fn finish(&mut self) -> RecordBatch {
        batch(
            Self::schema(),
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.onboarded.finish()),
                Arc::new(self.residence.finish()),
                Arc::new(self.kind.finish()),
                Arc::new(self.occupation.finish()),
                Arc::new(self.kyc.finish()),
                Arc::new(self.name.finish()),
            ],
        )
    }
}

/// One transaction as the core banking system books it.
#[derive(Clone)]
pub struct Txn {
    pub id: String,
    pub ts_micros: i64,
    pub amount: f64,
    pub currency: &'static str,
    pub amount_eur: f64,
    pub direction: &'static str,
    pub channel: &'static str,
    pub merchant_category: Option<&'static str>,
    pub counterparty_id: Option<String>,
    pub counterparty_country: Option<&'static str>,
}

pub struct Transactions {
    id: StringBuilder,
    customer: StringBuilder,
    ts: TimestampMicrosecondBuilder,
    amount: Float64Builder,
    currency: StringBuilder,
    amount_eur: Float64Builder,
    direction: StringBuilder,
    channel: StringBuilder,
    category: StringBuilder,
    cp_id: StringBuilder,
    cp_country: StringBuilder,
    cp_name: StringBuilder,
    pub rows: usize,
}

impl Transactions {
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("transaction_id", DataType::Utf8, false),
            Field::new("customer_id", DataType::Utf8, false),
            Field::new("ts", ts_type(), false),
            Field::new("amount", DataType::Float64, false),
            Field::new("currency", DataType::Utf8, false),
            Field::new("amount_eur", DataType::Float64, false),
            Field::new("direction", DataType::Utf8, false),
            Field::new("channel", DataType::Utf8, false),
            Field::new("merchant_category", DataType::Utf8, true),
            Field::new("counterparty_id", DataType::Utf8, true),
            Field::new("counterparty_country", DataType::Utf8, true),
            Field::new("counterparty_name", DataType::Utf8, true),
        ]))
    }

    pub fn new() -> Self {
        Transactions {
            id: StringBuilder::new(),
            customer: StringBuilder::new(),
            ts: ts_builder(),
            amount: Float64Builder::new(),
            currency: StringBuilder::new(),
            amount_eur: Float64Builder::new(),
            direction: StringBuilder::new(),
            channel: StringBuilder::new(),
            category: StringBuilder::new(),
            cp_id: StringBuilder::new(),
            cp_country: StringBuilder::new(),
            cp_name: StringBuilder::new(),
            rows: 0,
        }
    }

    pub fn push(&mut self, customer: &str, t: &Txn, counterparty_name: Option<&str>) {
        self.id.append_value(&t.id);
        self.customer.append_value(customer);
        self.ts.append_value(t.ts_micros);
        self.amount.append_value(t.amount);
        self.currency.append_value(t.currency);
        self.amount_eur.append_value(t.amount_eur);
        self.direction.append_value(t.direction);
        self.channel.append_value(t.channel);
        self.category.append_option(t.merchant_category);
        self.cp_id.append_option(t.counterparty_id.as_deref());
        self.cp_country.append_option(t.counterparty_country);
        self.cp_name.append_option(counterparty_name);
        self.rows += 1;
    }

    pub fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        batch(
            Self::schema(),
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.customer.finish()),
                Arc::new(self.ts.finish()),
                Arc::new(self.amount.finish()),
                Arc::new(self.currency.finish()),
                Arc::new(self.amount_eur.finish()),
                Arc::new(self.direction.finish()),
                Arc::new(self.channel.finish()),
                Arc::new(self.category.finish()),
                Arc::new(self.cp_id.finish()),
                Arc::new(self.cp_country.finish()),
                Arc::new(self.cp_name.finish()),
            ],
        )
    }
}

pub struct Events {
    customer: StringBuilder,
    ts: TimestampMicrosecondBuilder,
    kind: StringBuilder,
    device: StringBuilder,
    ip_country: StringBuilder,
    session: StringBuilder,
    duration: Float64Builder,
    pub rows: usize,
}

impl Events {
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, false),
            Field::new("ts", ts_type(), false),
            Field::new("event_type", DataType::Utf8, false),
            Field::new("device_id", DataType::Utf8, false),
            Field::new("ip_country", DataType::Utf8, true),
            Field::new("session_id", DataType::Utf8, false),
            Field::new("duration_s", DataType::Float64, true),
        ]))
    }

    pub fn new() -> Self {
        Events {
            customer: StringBuilder::new(),
            ts: ts_builder(),
            kind: StringBuilder::new(),
            device: StringBuilder::new(),
            ip_country: StringBuilder::new(),
            session: StringBuilder::new(),
            duration: Float64Builder::new(),
            rows: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        customer: &str,
        ts_micros: i64,
        kind: &str,
        device: &str,
        ip_country: Option<&str>,
        session: &str,
        duration: Option<f64>,
    ) {
        self.customer.append_value(customer);
        self.ts.append_value(ts_micros);
        self.kind.append_value(kind);
        self.device.append_value(device);
        self.ip_country.append_option(ip_country);
        self.session.append_value(session);
        self.duration.append_option(duration);
        self.rows += 1;
    }

    pub fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        batch(
            Self::schema(),
            vec![
                Arc::new(self.customer.finish()),
                Arc::new(self.ts.finish()),
                Arc::new(self.kind.finish()),
                Arc::new(self.device.finish()),
                Arc::new(self.ip_country.finish()),
                Arc::new(self.session.finish()),
                Arc::new(self.duration.finish()),
            ],
        )
    }
}

pub struct Cases {
    case_id: StringBuilder,
    customer: StringBuilder,
    alert_date: Date32Builder,
    outcome: StringBuilder,
    decided_at: TimestampMicrosecondBuilder,
}

impl Cases {
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("case_id", DataType::Utf8, false),
            Field::new("customer_id", DataType::Utf8, false),
            Field::new("alert_date", DataType::Date32, false),
            Field::new("outcome", DataType::Utf8, false),
            Field::new("decided_at", ts_type(), false),
        ]))
    }

    pub fn new() -> Self {
        Cases {
            case_id: StringBuilder::new(),
            customer: StringBuilder::new(),
            alert_date: Date32Builder::new(),
            outcome: StringBuilder::new(),
            decided_at: ts_builder(),
        }
    }

    pub fn push(
        &mut self,
        case_id: &str,
        customer: &str,
        alert_day: i32,
        outcome: &str,
        decided: i64,
    ) {
        self.case_id.append_value(case_id);
        self.customer.append_value(customer);
        self.alert_date.append_value(alert_day);
        self.outcome.append_value(outcome);
        self.decided_at.append_value(decided);
    }

    pub fn finish(&mut self) -> RecordBatch {
        batch(
            Self::schema(),
            vec![
                Arc::new(self.case_id.finish()),
                Arc::new(self.customer.finish()),
                Arc::new(self.alert_date.finish()),
                Arc::new(self.outcome.finish()),
                Arc::new(self.decided_at.finish()),
            ],
        )
    }
}

pub fn ground_truth_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("archetype", DataType::Utf8, false),
    ]))
}

/// The planted names of one part: near-matches of SDN entries and
/// look-alikes, for measuring screening (never read by jobs).
#[derive(Default)]
pub struct ScreeningTruth {
    rows: std::collections::BTreeMap<(&'static str, String), &'static crate::names::Planted>,
}

impl ScreeningTruth {
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("party", DataType::Utf8, false),
            Field::new("party_id", DataType::Utf8, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("sdn_entry_id", DataType::Int64, true),
            Field::new("variant", DataType::Utf8, false),
        ]))
    }

    pub fn push(&mut self, party: &'static str, id: &str, planted: &'static crate::names::Planted) {
        self.rows.entry((party, id.to_string())).or_insert(planted);
    }

    pub fn finish(&mut self) -> RecordBatch {
        let rows = std::mem::take(&mut self.rows);
        let mut party = StringBuilder::new();
        let mut id = StringBuilder::new();
        let mut name = StringBuilder::new();
        let mut entry = arrow::array::Int64Builder::new();
        let mut variant = StringBuilder::new();
        for ((p, i), planted) in rows {
            party.append_value(p);
            id.append_value(i);
            name.append_value(planted.name);
            entry.append_option(planted.entry);
            variant.append_value(planted.variant);
        }
        batch(
            Self::schema(),
            vec![
                Arc::new(party.finish()),
                Arc::new(id.finish()),
                Arc::new(name.finish()),
                Arc::new(entry.finish()),
                Arc::new(variant.finish()),
            ],
        )
    }
}
