//! A small credit union: `members.parquet` (one row per member_no),
//! `payments/year=YYYY/part-0.parquet` (member_no, paid_at, value as a
//! decimal, channel) and `branches.parquet` (no member_no).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use parquet::arrow::ArrowWriter;

pub const MEMBERS: i64 = 300;
/// 2025-06-30T12:00:00Z, the latest payment.
const LAST_PAYMENT_MICROS: i64 = 1_751_284_800_000_000;

pub fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Writes the credit union into `dir`.
pub fn credit_union(dir: &Path) {
    let members: Vec<i64> = (1..=MEMBERS).map(|m| 1000 + m).collect();
    write_parquet(
        &dir.join("members.parquet"),
        vec![
            (
                "member_no",
                Arc::new(Int64Array::from(members.clone())) as ArrayRef,
            ),
            // 2015-01-01 + a few days per member.
            (
                "joined_on",
                Arc::new(Date32Array::from_iter_values(
                    (0..MEMBERS as i32).map(|i| 16_436 + i * 11),
                )),
            ),
            (
                "tier",
                Arc::new(StringArray::from_iter_values(
                    (0..MEMBERS).map(|i| ["basic", "plus", "gold"][(i % 3) as usize]),
                )),
            ),
            (
                "is_staff",
                Arc::new(BooleanArray::from_iter(
                    (0..MEMBERS).map(|i| Some(i % 17 == 0)),
                )),
            ),
            (
                "full_name",
                Arc::new(StringArray::from_iter_values(
                    (0..MEMBERS).map(|i| format!("Member Number {i}")),
                )),
            ),
        ],
    );
    for (part, year) in [(0, 2024), (1, 2025)] {
        let n = 1500;
        let rows = 0..n;
        let payment = |i: i64| part * n + i;
        write_parquet(
            &dir.join(format!("payments/year={year}/part-0.parquet")),
            vec![
                (
                    "payment_ref",
                    Arc::new(Int64Array::from_iter_values(rows.clone().map(payment))) as ArrayRef,
                ),
                (
                    "member_no",
                    Arc::new(Int64Array::from_iter_values(
                        rows.clone()
                            .map(|i| 1001 + (i * 13 + part * 3) % (MEMBERS - 20)),
                    )),
                ),
                (
                    "paid_at",
                    Arc::new(
                        TimestampMicrosecondArray::from_iter_values(rows.clone().map(|i| {
                            LAST_PAYMENT_MICROS - ((1 - part) * n + (n - 1 - i)) * 3_600_000_000 * 5
                        }))
                        .with_timezone("UTC"),
                    ),
                ),
                (
                    "value",
                    Arc::new(
                        Decimal128Array::from_iter_values(
                            rows.clone()
                                .map(|i| i128::from(500 + (i * 7919 + part * 31) % 250_000)),
                        )
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                    ),
                ),
                (
                    "channel",
                    Arc::new(StringArray::from_iter_values(
                        rows.clone()
                            .map(|i| ["card", "transfer", "cash"][(i % 3) as usize]),
                    )),
                ),
            ],
        );
    }
    write_parquet(
        &dir.join("branches.parquet"),
        vec![
            (
                "branch_code",
                Arc::new(StringArray::from(vec!["N1", "S2"])) as ArrayRef,
            ),
            ("city", Arc::new(StringArray::from(vec!["Leeds", "Bath"]))),
        ],
    );
}
