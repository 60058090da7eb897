//! Screening throughput: N counterparty names (the synthetic bank's
//! generator, with its planted near-matches and look-alikes) against the
//! full OFAC SDN list (individuals and entities, aliases included), on all
//! threads. Prints one JSON line: names per second, peak memory, hits, the
//! precision and recall on the planted names, and how many brute-force
//! matches the blocking index lost on a sample.
//!
//! For the Python peer (benches/screening_peer.py, run beside it by
//! benches/screening_compare.sh) it writes the first PEER_NAMES normalised
//! names, every listed name form and its own hits on them, so the peer
//! matches the same strings and the two hit sets can be compared.
//!
//! Usage: screening SDN_PARQUET OUT_DIR [NAMES] [PEER_NAMES]

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Instant;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use seglake_datagen::names::{COUNTERPARTY_RARITY, PartyKind, name_of};
use seglake_screening::align::align;
use seglake_screening::jaro::jaro_winkler;
use seglake_screening::{
    EntryType, ListFormat, NormalizedName, ScreeningIndex, normalize, screen_all,
};

#[path = "peak_rss.rs"]
mod peak_rss;
use peak_rss::peak_rss_kib;

const THRESHOLD: f64 = 0.9;
const BRUTE_FORCE_SAMPLE: usize = 2_000;

fn read_list(path: &str) -> seglake_screening::SanctionsList {
    let file = std::fs::File::open(path).expect("the SDN Parquet file");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    ListFormat::OfacSdn.read("sdn", &batches).unwrap()
}

/// Counterparty `i`: a person or a company, as the generator names it.
fn counterparty(i: usize) -> (String, Option<i64>, bool) {
    let (kind, id) = if i % 3 == 0 {
        (PartyKind::Company, format!("S{i:09}"))
    } else {
        (PartyKind::Person, format!("F{i:09}"))
    };
    let (name, planted) = name_of(42, &id, kind, COUNTERPARTY_RARITY);
    (name, planted.and_then(|p| p.entry), planted.is_some())
}

fn brute_force(index: &ScreeningIndex, query: &NormalizedName) -> BTreeSet<usize> {
    let q: Vec<usize> = query.tokens.iter().map(String::len).collect();
    let mut found = BTreeSet::new();
    for form in index.forms() {
        let l: Vec<usize> = form.tokens.iter().map(|t| index.token(*t).len()).collect();
        let a = align(&q, &l, |i, j| {
            jaro_winkler(
                query.tokens[i].as_bytes(),
                index.token(form.tokens[j]).as_bytes(),
            )
        });
        if a.score >= THRESHOLD {
            found.insert(form.entry as usize);
        }
    }
    found
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sdn = &args[1];
    let out = std::path::Path::new(&args[2]);
    let n: usize = args.get(3).map_or(1_000_000, |s| s.parse().unwrap());
    let peer_n: usize = args.get(4).map_or(20_000, |s| s.parse().unwrap());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let list = read_list(sdn);
    let people: Vec<_> = (0..n).map(counterparty).collect();

    let start = Instant::now();
    let index = ScreeningIndex::new(&list, &[EntryType::Individual, EntryType::Entity]);
    let queries: Vec<NormalizedName> = people.iter().map(|(name, _, _)| normalize(name)).collect();
    let hits = screen_all(&index, &queries, THRESHOLD, threads);
    let seconds = start.elapsed().as_secs_f64();
    // The peer's names alone, timed the same way (fewer repeated names to
    // reuse results for than in the whole set).
    let sample = peer_n.min(n);
    let start = Instant::now();
    let sample_queries: Vec<NormalizedName> = people[..sample]
        .iter()
        .map(|(name, _, _)| normalize(name))
        .collect();
    let sample_hits = screen_all(&index, &sample_queries, THRESHOLD, threads);
    let sample_seconds = start.elapsed().as_secs_f64();
    assert_eq!(sample_hits[..], hits[..sample]);

    let (mut tp, mut fp, mut planted_near, mut found_near) = (0, 0, 0, 0);
    let mut ordinary_hits = 0;
    for ((_, entry, planted), matches) in people.iter().zip(&hits) {
        let ids: Vec<i64> = matches
            .iter()
            .map(|m| index.entries()[m.entry].id)
            .collect();
        if let Some(entry) = entry {
            planted_near += 1;
            found_near += ids.contains(entry) as usize;
        }
        // On the planted names (near-matches and look-alikes): a hit is
        // right only on the entry the name was made from.
        for id in &ids {
            match (planted, *entry == Some(*id)) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, _) => ordinary_hits += 1,
            }
        }
    }
    let lost: usize = (0..BRUTE_FORCE_SAMPLE.min(n))
        .map(|i| {
            let blocked: BTreeSet<usize> = hits[i].iter().map(|m| m.entry).collect();
            brute_force(&index, &queries[i])
                .difference(&blocked)
                .count()
        })
        .sum();
    write_peer_inputs(out, &index, &queries[..peer_n.min(n)], &hits);
    println!(
        "{}",
        serde_json::json!({
            "tool": "seglake",
            "names": n,
            "threads": threads,
            "list_forms": index.forms().len(),
            "seconds": seconds,
            "names_per_s": n as f64 / seconds,
            "peer_sample_names": sample,
            "peer_sample_names_per_s": sample as f64 / sample_seconds,
            "peak_mib": peak_rss_kib() as f64 / 1024.0,
            "hits": hits.iter().map(Vec::len).sum::<usize>(),
            "planted_near_matches": planted_near,
            "recall": found_near as f64 / planted_near.max(1) as f64,
            "precision": tp as f64 / (tp + fp).max(1) as f64,
            "hits_on_ordinary_names": ordinary_hits,
            "brute_force_sample": BRUTE_FORCE_SAMPLE.min(n),
            "lost_by_blocking": lost,
        })
    );
}

/// queries.tsv (index, tokens), forms.tsv (entry, tokens) and
/// seglake_hits.tsv (query index, entry, score) for the peer.
fn write_peer_inputs(
    out: &std::path::Path,
    index: &ScreeningIndex,
    queries: &[NormalizedName],
    hits: &[Vec<seglake_screening::Match>],
) {
    std::fs::create_dir_all(out).unwrap();
    let mut q = std::io::BufWriter::new(std::fs::File::create(out.join("queries.tsv")).unwrap());
    for (i, query) in queries.iter().enumerate() {
        writeln!(q, "{i}\t{}", query.text()).unwrap();
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("forms.tsv")).unwrap());
    for form in index.forms() {
        let tokens: Vec<&str> = form.tokens.iter().map(|t| index.token(*t)).collect();
        writeln!(f, "{}\t{}", form.entry, tokens.join(" ")).unwrap();
    }
    let mut h =
        std::io::BufWriter::new(std::fs::File::create(out.join("seglake_hits.tsv")).unwrap());
    for (i, matches) in hits.iter().take(queries.len()).enumerate() {
        for m in matches {
            writeln!(h, "{i}\t{}\t{:.17e}", m.entry, m.score).unwrap();
        }
    }
}
