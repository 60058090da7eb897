//! The synthetic bank's planted names against the shipped OFAC SDN
//! snapshot: every near-match finds the entry it was made from at the demo
//! threshold, and no look-alike is literally the name of an entry (a score
//! of 1 would make it a true hit, not a look-alike).

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use seglake_datagen::names::{LOOK_ALIKES, NEAR_ENTITIES, NEAR_INDIVIDUALS};
use seglake_screening::{EntryType, ListFormat, ScreeningIndex, normalize};

fn index() -> ScreeningIndex {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../reference/ofac_sdn.parquet"
    );
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let list = ListFormat::OfacSdn.read("sdn", &batches).unwrap();
    assert_eq!(list.entries.len(), 14_965);
    ScreeningIndex::new(&list, &[EntryType::Individual, EntryType::Entity])
}

#[test]
fn near_matches_find_their_entry_and_look_alikes_are_no_entry() {
    let index = index();
    for planted in NEAR_INDIVIDUALS.iter().chain(NEAR_ENTITIES) {
        let hits = index.screen(&normalize(planted.name), 0.9);
        let ids: Vec<i64> = hits.iter().map(|m| index.entries()[m.entry].id).collect();
        assert!(
            ids.contains(&planted.entry.unwrap()),
            "{} ({}) missed {:?}: {ids:?}",
            planted.name,
            planted.variant,
            planted.entry
        );
    }
    for planted in LOOK_ALIKES {
        let best = index
            .screen(&normalize(planted.name), 0.0)
            .first()
            .map_or(0.0, |m| m.score);
        assert!(best < 1.0, "{} is the name of an entry", planted.name);
    }
}
