//! The starter views: one per table that has the key (`GROUP BY` the key:
//! row count, amounts, time span, flags and codes counted), and the
//! feature table, which left-joins them onto the key table.
//!
//! Every view reads time through the one-row `run_context` table
//! (`as_of`), never the clock, so a run can be reproduced; rows after
//! `as_of` are left out, so a back-dated run sees only what was known.

use arrow::datatypes::DataType;

use crate::classify::{Role, classify};
use crate::guess::KeyGuess;
use crate::inspect::{Inventory, Table};
use crate::names::{claim, identifier, literal, quote};

/// A column of a view, as the feature table takes it over.
#[derive(Debug, Clone)]
pub struct Feature {
    pub name: String,
    /// A customer without rows in the table has none of these: 0, not
    /// missing (counts and sums).
    pub zero_if_missing: bool,
}

/// One generated view.
#[derive(Debug, Clone)]
pub struct View {
    pub name: String,
    pub sql: String,
    pub features: Vec<Feature>,
}

/// One output column: its SQL expression and name.
struct Output {
    expr: String,
    feature: Feature,
}

/// The columns of `table` grouped by what the views do with them.
pub struct Columns<'a> {
    pub time: Option<&'a arrow::datatypes::Field>,
    pub roles: Vec<(&'a str, &'a DataType, Role)>,
}

impl<'a> Columns<'a> {
    pub fn of(table: &'a Table) -> Self {
        let roles: Vec<(&str, &DataType, Role)> = table
            .columns
            .iter()
            .map(|c| (c.name.as_str(), &c.data_type, classify(c)))
            .collect();
        // The first date or timestamp is the one rows are dated by.
        let time = roles
            .iter()
            .find(|(_, _, r)| *r == Role::Time)
            .and_then(|(n, _, _)| table.schema.field_with_name(n).ok());
        Columns { time, roles }
    }
}

/// The view over a table that has the key but is not the key table.
pub fn table_view(
    inv: &Inventory,
    index: usize,
    guess: &KeyGuess,
    view: &str,
    taken: &mut Vec<String>,
) -> View {
    let table = &inv.tables[index];
    let key_column = quote(guess.column_in(index).expect("the table has the key"));
    let columns = Columns::of(table);
    let prefix = &table.name;
    let mut outputs = vec![Output {
        expr: "COUNT(*)".into(),
        feature: feature(format!("{prefix}_count"), true, taken),
    }];
    for (name, data_type, role) in &columns.roles {
        outputs.extend(aggregates(prefix, name, data_type, role, taken));
    }
    let mut sql = header(table, &guess.key);
    let select: Vec<String> = outputs
        .iter()
        .map(|o| format!("        {} AS {}", o.expr, o.feature.name))
        .collect();
    let mut features: Vec<Feature> = outputs.into_iter().map(|o| o.feature).collect();
    match columns.time {
        Some(time) => {
            let dated = Dated {
                table,
                time,
                key_column: &key_column,
                key: &guess.key,
                prefix,
            };
            sql.push_str(&dated.sql(&select, &mut features, taken));
        }
        None => sql.push_str(&undated_sql(table, &key_column, &guess.key, &select)),
    }
    View {
        name: view.to_string(),
        sql,
        features,
    }
}

/// A table whose rows are dated by `time`: its view leaves out rows after
/// as_of and adds active days and first and last activity.
struct Dated<'a> {
    table: &'a Table,
    time: &'a arrow::datatypes::Field,
    key_column: &'a str,
    key: &'a str,
    prefix: &'a str,
}

impl Dated<'_> {
    /// The view's SQL from the aggregates in `select`; the three dated
    /// features are added to `features`.
    fn sql(
        &self,
        select: &[String],
        features: &mut Vec<Feature>,
        taken: &mut Vec<String>,
    ) -> String {
        let (table, time, key_column, prefix) =
            (self.table, self.time, self.key_column, self.prefix);
        let t = quote(time.name());
        let (first, last, active) = (
            feature(format!("{prefix}_first_days_ago"), false, taken),
            feature(format!("{prefix}_last_days_ago"), false, taken),
            feature(format!("{prefix}_active_days"), true, taken),
        );
        let sql = format!(
            "-- Rows are dated by `{}`: rows after as_of are left out, and the\n\
             -- first and last are counted in days before as_of.\n\
             WITH dated AS (\n    SELECT t.*\n    FROM run_context r\n    CROSS JOIN {}\n    \
             WHERE {} < {}\n      AND t.{key_column} IS NOT NULL\n),\n\
             per_key AS (\n    SELECT\n        {key_column},\n{},\n        \
             COUNT(DISTINCT CAST({t} AS DATE)) AS {},\n        MIN({t}) AS first_at,\n        \
             MAX({t}) AS last_at\n    FROM dated\n    GROUP BY {key_column}\n)\n\
             SELECT\n    p.{key_column} AS {},\n{},\n    {} AS {},\n    {} AS {}\n\
             FROM run_context r\nCROSS JOIN per_key p\n",
            time.name(),
            from_table(table),
            format!("t.{t}"),
            as_of_for(time.data_type()),
            select.join(",\n"),
            active.name,
            self.key,
            features
                .iter()
                .chain([&active])
                .map(|f| format!("    p.{}", f.name))
                .collect::<Vec<_>>()
                .join(",\n"),
            days_before_as_of("p.first_at", time.data_type()),
            first.name,
            days_before_as_of("p.last_at", time.data_type()),
            last.name,
        );
        features.extend([active, first, last]);
        sql
    }
}

/// The view of a table without a date or timestamp column.
fn undated_sql(table: &Table, key_column: &str, key: &str, select: &[String]) -> String {
    format!(
        "-- No date or timestamp column: every row counts, whatever the as_of.\n\
         SELECT\n    t.{key_column} AS {},\n{}\nFROM {}\nWHERE t.{key_column} IS NOT NULL\n\
         GROUP BY t.{key_column}\n",
        key,
        select
            .iter()
            .map(|s| s.replacen("        ", "    ", 1))
            .collect::<Vec<_>>()
            .join(",\n"),
        from_table(table),
    )
}

fn header(table: &Table, key: &str) -> String {
    let rows = table
        .rows
        .map(|r| format!(", {} rows", crate::thousands(r)))
        .unwrap_or_default();
    format!(
        "-- One row per {key} from `{}` ({}{rows}).\n\
         -- Proposed by `seglake init`: edit freely.\n",
        table.name, table.path
    )
}

fn from_table(table: &Table) -> String {
    format!("{} t", quote(&table.name))
}

/// The aggregates of one column of a table that is grouped by the key.
fn aggregates(
    prefix: &str,
    column: &str,
    data_type: &DataType,
    role: &Role,
    taken: &mut Vec<String>,
) -> Vec<Output> {
    let c = quote(column);
    let double = format!("CAST({c} AS DOUBLE)");
    let stat = |f: &str, s: &str, zero: bool, taken: &mut Vec<String>| Output {
        expr: format!("{f}({double})"),
        feature: feature(format!("{prefix}_{column}_{s}"), zero, taken),
    };
    match role {
        Role::Amount => vec![
            stat("SUM", "sum", true, taken),
            stat("AVG", "avg", false, taken),
            stat("STDDEV_SAMP", "std", false, taken),
            stat("MAX", "max", false, taken),
        ],
        Role::Balance => vec![
            stat("AVG", "avg", false, taken),
            stat("MIN", "min", false, taken),
            stat("MAX", "max", false, taken),
        ],
        Role::Measure => vec![
            stat("AVG", "avg", false, taken),
            stat("MAX", "max", false, taken),
        ],
        Role::Flag => vec![Output {
            expr: format!(
                "SUM(CASE WHEN {} THEN 1 ELSE 0 END)",
                flag_test(&c, data_type)
            ),
            feature: feature(format!("{prefix}_{column}_count"), true, taken),
        }],
        Role::Category(values) => values
            .iter()
            .map(|v| Output {
                expr: format!("SUM(CASE WHEN {c} = {} THEN 1 ELSE 0 END)", literal(v)),
                feature: feature(
                    format!("{prefix}_{column}_{}_count", value_name(v)),
                    true,
                    taken,
                ),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn flag_test(column: &str, data_type: &DataType) -> String {
    if matches!(data_type, DataType::Boolean) {
        column.to_string()
    } else {
        format!("{column} = 1")
    }
}

/// A code value as part of a column name; `""` and `" "` are values too.
fn value_name(value: &str) -> String {
    if value.is_empty() {
        "empty".into()
    } else if value.trim().is_empty() {
        "blank".into()
    } else {
        identifier(value, "v")
    }
}

fn feature(name: String, zero_if_missing: bool, taken: &mut Vec<String>) -> Feature {
    Feature {
        name: claim(identifier(&name, "f"), taken),
        zero_if_missing,
    }
}

/// `as_of` in the type of a time column, for comparisons.
fn as_of_for(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Date32 | DataType::Date64 => "CAST(r.as_of AS DATE)",
        _ => "r.as_of",
    }
}

/// Days from `expr` (a date or timestamp) to the run's as_of.
fn days_before_as_of(expr: &str, data_type: &DataType) -> String {
    let epoch = match data_type {
        DataType::Date32 | DataType::Date64 => {
            format!("EXTRACT(EPOCH FROM CAST({expr} AS TIMESTAMP))")
        }
        _ => format!("EXTRACT(EPOCH FROM {expr})"),
    };
    format!("CAST((EXTRACT(EPOCH FROM r.as_of) - {epoch}) / 86400 AS DOUBLE)")
}

/// The feature table: the key table's own columns, and every table view
/// left-joined onto it. Without a key table, the customers are every key
/// seen in any view.
pub fn feature_view(
    inv: &Inventory,
    guess: &KeyGuess,
    views: &[View],
    name: &str,
    taken: &mut Vec<String>,
) -> View {
    let key = &guess.key;
    let mut lines = Vec::new();
    let mut features = Vec::new();
    let (from, key_ref, filter) = match guess.key_table {
        Some(index) => {
            let table = &inv.tables[index];
            let column = quote(guess.column_in(index).expect("the key table has the key"));
            lines.push(format!("    k.{column} AS {key}"));
            let (own, filter) = key_table_columns(table, taken);
            for o in own {
                lines.push(format!("    {} AS {}", o.expr, o.feature.name));
                features.push(o.feature);
            }
            (
                format!(
                    "FROM run_context r  -- one row: joins build from their left input\nCROSS JOIN {} k",
                    quote(&table.name)
                ),
                format!("k.{column}"),
                filter,
            )
        }
        None => {
            lines.push(format!("    k.{key}"));
            let union = views
                .iter()
                .map(|v| format!("    SELECT {key} FROM {}", v.name))
                .collect::<Vec<_>>()
                .join("\n    UNION\n");
            (
                format!("FROM run_context r\nCROSS JOIN (\n{union}\n) k"),
                format!("k.{key}"),
                None,
            )
        }
    };
    let mut joins = Vec::new();
    for (i, view) in views.iter().enumerate() {
        let alias = format!("v{}", i + 1);
        joins.push(format!(
            "LEFT JOIN {} {alias} ON {alias}.{key} = {key_ref}",
            view.name
        ));
        for f in &view.features {
            let expr = if f.zero_if_missing {
                format!("COALESCE({alias}.{}, 0)", f.name)
            } else {
                format!("{alias}.{}", f.name)
            };
            lines.push(format!("    {expr} AS {}", f.name));
            features.push(f.clone());
        }
    }
    let mut sql = format!(
        "-- The feature table: one row per {key}. Counts and sums are 0 for a\n\
         -- {key} without rows in a table; averages, spreads, maxima and days\n\
         -- stay NULL (missing: the model imputes them).\n\
         -- Proposed by `seglake init`: edit freely.\n\
         SELECT\n{}\n{from}\n",
        lines.join(",\n")
    );
    for join in joins {
        sql.push_str(&join);
        sql.push('\n');
    }
    if let Some(filter) = filter {
        sql.push_str(&filter);
        sql.push('\n');
    }
    View {
        name: name.to_string(),
        sql,
        features,
    }
}

/// The key table's own columns as features (one row per key already), and
/// the filter that keeps the keys that existed at as_of.
fn key_table_columns(table: &Table, taken: &mut Vec<String>) -> (Vec<Output>, Option<String>) {
    let columns = Columns::of(table);
    let prefix = &table.name;
    let mut out = Vec::new();
    for (name, data_type, role) in &columns.roles {
        let c = format!("k.{}", quote(name));
        let one = |expr: String, suffix: &str, taken: &mut Vec<String>| Output {
            expr,
            feature: feature(format!("{prefix}_{name}{suffix}"), false, taken),
        };
        match role {
            Role::Amount | Role::Balance | Role::Measure => {
                out.push(one(format!("CAST({c} AS DOUBLE)"), "", taken))
            }
            Role::Flag => out.push(one(
                format!("CASE WHEN {} THEN 1 ELSE 0 END", flag_test(&c, data_type)),
                "",
                taken,
            )),
            Role::Category(values) => {
                for v in values {
                    let suffix = format!("_{}", value_name(v));
                    out.push(one(
                        format!("CASE WHEN {c} = {} THEN 1 ELSE 0 END", literal(v)),
                        &suffix,
                        taken,
                    ));
                }
            }
            _ => {}
        }
    }
    let filter = columns.time.map(|time| {
        let c = format!("k.{}", quote(time.name()));
        out.push(Output {
            expr: days_before_as_of(&c, time.data_type()),
            feature: feature(format!("{prefix}_{}_days_ago", time.name()), false, taken),
        });
        // Keys created after as_of did not exist then; a key without a date
        // is kept rather than silently dropped.
        format!("WHERE {c} IS NULL OR {c} < {}", as_of_for(time.data_type()))
    });
    (out, filter)
}
