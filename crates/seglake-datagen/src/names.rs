//! Names of customers and counterparties, with a few planted near-matches
//! of real OFAC SDN entries (snapshot 2024-05-03) and look-alikes that are
//! not on the list, so screening can be measured.
//!
//! A name is a pure function of the seed and the id (a hash, not the
//! generator's random stream), so adding names changed no other value the
//! generator writes, and a counterparty has one name wherever it appears.
//! About one counterparty in 1,000 and one customer in 2,000 carries a
//! planted near-match, as many again a look-alike; `screening_truth` lists
//! each with the SDN entry it was made from.

/// A planted name: how it was made from an SDN entry, or a look-alike.
pub struct Planted {
    pub name: &'static str,
    /// The SDN `ent_num` it was made from; `None` for a look-alike.
    pub entry: Option<i64>,
    pub variant: &'static str,
}

const fn near(entry: i64, variant: &'static str, name: &'static str) -> Planted {
    Planted {
        name,
        entry: Some(entry),
        variant,
    }
}

const fn look_alike(name: &'static str) -> Planted {
    Planted {
        name,
        entry: None,
        variant: "look_alike",
    }
}

/// Near-matches of individuals on the list (transliterated, in Cyrillic,
/// reordered, without middle names, misspelt).
pub const NEAR_INDIVIDUALS: &[Planted] = &[
    near(8279, "cyrillic", "Виктор Бут"),
    near(8279, "transliteration", "Victor Bout"),
    near(8279, "reordered", "Bout Viktor Anatolyevich"),
    near(12735, "transliteration", "Bashar al-Asad"),
    near(12735, "short_form", "Bashar Assad"),
    near(26945, "transliteration", "Ali Hosseini Khamenei"),
    near(26945, "short_form", "Ali Khamenei"),
    near(16669, "cyrillic", "Аркадий Ротенберг"),
    near(16669, "typo", "Arkady Rotenburg"),
    near(24283, "short_form", "Oleg Deripaska"),
    near(24283, "homoglyph", "Оleg Deripaskа"),
    near(21171, "transliteration", "Evgeny Prigozhin"),
    near(21171, "typo", "Yevgeniy Prigojin"),
    near(23343, "cyrillic", "Рамзан Кадыров"),
    near(23343, "typo", "Ramzan Kadyrow"),
    near(6861, "accents", "Joaquín Guzmán Loera"),
    near(6861, "short_form", "Joaquin Guzman"),
    near(20157, "reordered", "Jong Un Kim"),
    near(2686, "transliteration", "Hassan Nasrallah"),
    near(26950, "transliteration", "Mohammed Javad Zarif"),
    near(10481, "transliteration", "Qassem Soleimani"),
    near(16692, "cyrillic", "Игорь Сечин"),
    near(16666, "transliteration", "Gennadiy Timchenko"),
    near(35283, "typo", "Alisher Usmanow"),
    near(22790, "reordered", "Nicolas Maduro Moros"),
    near(6707, "short_form", "Rafael Caro-Quintero"),
    near(7226, "accents", "Ismael Zambada García"),
];

/// Near-matches of entities on the list.
pub const NEAR_ENTITIES: &[Planted] = &[
    near(18299, "legal_form", "Rosneft Trading SA"),
    near(18299, "typo", "Rosneft Tradng S.A."),
    near(34741, "legal_form", "Sovcomflot JSC"),
    near(12927, "legal_form", "Mahan Air Ltd"),
    near(306, "legal_form", "Banco Nacional de Cuba S.A."),
    near(10391, "typo", "Islamic Revolutionary Guards Corps"),
    near(34644, "legal_form", "Alrosa PJSC"),
    near(17013, "reordered", "PJSC VTB Bank"),
    near(16911, "legal_form", "Concern Kalashnikov JSC"),
];

/// Names that share a surname, a given name or a root with an entry but
/// are not on the list (none scores 1 against any entry of the snapshot:
/// `seglake-screening`'s `planted_names` test). Some are hard on purpose ("Igor Sechkin",
/// "Arkady Rosenberg"): any fuzzy screening flags them.
pub const LOOK_ALIKES: &[Planted] = &[
    look_alike("Marie Bout"),
    look_alike("Viktor Butenko"),
    look_alike("Arkady Rosenberg"),
    look_alike("Olga Deripasko"),
    look_alike("Ramon Kadir"),
    look_alike("Hassan Nasser"),
    look_alike("Joaquin Guerrero"),
    look_alike("Igor Sechkin"),
    look_alike("Rosen Trading SA"),
    look_alike("Mahan Travel Agency"),
    look_alike("Banco Nacional de Panama"),
    look_alike("Islamic Relief Worldwide"),
];

const FIRST_NAMES: &[&str] = &[
    "Anna",
    "Lukas",
    "Sophie",
    "Jan",
    "Marie",
    "Thomas",
    "Elena",
    "Pieter",
    "Lucia",
    "Marco",
    "Katarzyna",
    "Tomasz",
    "Ines",
    "Jonas",
    "Camille",
    "Louis",
    "Sara",
    "David",
    "Eva",
    "Martin",
    "Julia",
    "Pablo",
    "Clara",
    "Mateo",
    "Ingrid",
    "Lars",
    "Chloe",
    "Hugo",
    "Nina",
    "Felix",
    "Emma",
    "Noah",
    "Lea",
    "Paul",
    "Hannah",
    "Luca",
    "Alice",
    "Oskar",
    "Irene",
    "Sven",
    "Agnieszka",
    "Piotr",
    "Giulia",
    "Andrea",
    "Francesca",
    "Miguel",
    "Carmen",
    "Joost",
    "Femke",
    "Aoife",
    "Sean",
    "Mehmet",
    "Ayse",
    "Fatima",
    "Omar",
    "Priya",
    "Rahul",
    "Mei",
    "Wei",
    "Olena",
];

const SURNAMES: &[&str] = &[
    "Muller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Dubois",
    "Martin",
    "Bernard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "de Jong",
    "Jansen",
    "de Vries",
    "van Dijk",
    "Bakker",
    "Visser",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Garcia",
    "Fernandez",
    "Gonzalez",
    "Rodriguez",
    "Lopez",
    "Martinez",
    "Nowak",
    "Kowalski",
    "Wisniewski",
    "Wojcik",
    "Kaminski",
    "Novak",
    "Svoboda",
    "Dvorak",
    "Horvath",
    "Nagy",
    "Kovacs",
    "Murphy",
    "Kelly",
    "Byrne",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Andersson",
    "Johansson",
    "Nielsen",
    "Hansen",
    "Larsen",
    "Virtanen",
    "Korhonen",
    "Silva",
    "Santos",
    "Oliveira",
    "Papadopoulos",
    "Yilmaz",
    "Kaya",
    "Demir",
    "Haddad",
    "Mansour",
    "Patel",
    "Sharma",
    "Chen",
    "Wang",
    "Nguyen",
    "Tran",
    "Kovalenko",
    "Shevchenko",
    "Popescu",
    "Ionescu",
];

const COMPANY_WORDS: &[&str] = &[
    "Alpen", "Nordic", "Rhein", "Danube", "Atlas", "Baltic", "Iberia", "Helvetia", "Delta",
    "Orion", "Vega", "Lumen", "Castello", "Meridian", "Polar", "Aurora", "Granite", "Harbor",
    "Linden", "Maple", "Oak", "Silver", "Blue", "Green", "Summit", "Vista", "Crown", "Falcon",
];

const COMPANY_TRADES: &[&str] = &[
    "Logistics",
    "Trading",
    "Foods",
    "Textiles",
    "Construction",
    "Consulting",
    "Motors",
    "Retail",
    "Pharma",
    "Energy",
    "Software",
    "Furniture",
    "Imports",
    "Metals",
    "Print",
    "Travel",
];

const LEGAL_FORMS: &[&str] = &[
    "GmbH",
    "Ltd",
    "B.V.",
    "SARL",
    "S.p.A.",
    "AG",
    "Sp. z o.o.",
    "S.L.",
];

/// A stable 64-bit hash of (seed, id): FNV-1a, then SplitMix64's mixer.
fn hash(seed: u64, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.to_le_bytes().iter().chain(id.as_bytes()) {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

/// Whether a party is a person or a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyKind {
    Person,
    Company,
}

/// The name of party `id`, and the planted name it carries if any. One
/// party in `rarity` gets a near-match, one in `rarity` a look-alike.
pub fn name_of(
    seed: u64,
    id: &str,
    kind: PartyKind,
    rarity: u64,
) -> (String, Option<&'static Planted>) {
    let h = hash(seed, id);
    let near = match kind {
        PartyKind::Person => NEAR_INDIVIDUALS,
        PartyKind::Company => NEAR_ENTITIES,
    };
    let slot = h % rarity;
    let which = h / rarity;
    let planted = match slot {
        0 => Some(&near[(which % near.len() as u64) as usize]),
        1 => Some(&LOOK_ALIKES[(which % LOOK_ALIKES.len() as u64) as usize]),
        _ => None,
    };
    if let Some(p) = planted {
        return (p.name.to_string(), Some(p));
    }
    let (a, b, c) = (h >> 8, h >> 24, h >> 40);
    let name = match kind {
        PartyKind::Person => format!("{} {}", pick(FIRST_NAMES, a), pick(SURNAMES, b)),
        PartyKind::Company => format!(
            "{} {} {}",
            pick(COMPANY_WORDS, a),
            pick(COMPANY_TRADES, b),
            pick(LEGAL_FORMS, c)
        ),
    };
    (name, None)
}

/// Counterparty ids say what the counterparty is: merchants, employers,
/// suppliers, wholesalers and payroll accounts are companies; the rest
/// (landlords, business clients, foreign payees, burst and mule
/// counterparties, beneficiaries) are people.
pub fn counterparty_kind(id: &str) -> PartyKind {
    match id.as_bytes().first() {
        Some(b'M' | b'E' | b'S' | b'W' | b'B') => PartyKind::Company,
        _ if id.starts_with("PAYROLL") => PartyKind::Company,
        _ => PartyKind::Person,
    }
}

/// One counterparty in this many carries a planted near-match (and as
/// many a look-alike).
pub const COUNTERPARTY_RARITY: u64 = 1_000;
/// One customer in this many carries a planted near-match (and as many a
/// look-alike).
pub const CUSTOMER_RARITY: u64 = 2_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_a_function_of_seed_and_id() {
        let a = name_of(42, "F000123", PartyKind::Person, COUNTERPARTY_RARITY);
        let b = name_of(42, "F000123", PartyKind::Person, COUNTERPARTY_RARITY);
        assert_eq!(a.0, b.0);
        let planted = (0..20_000)
            .filter(|i| {
                name_of(
                    42,
                    &format!("Z{i:07}"),
                    PartyKind::Person,
                    COUNTERPARTY_RARITY,
                )
                .1
                .is_some()
            })
            .count();
        assert!((20..=60).contains(&planted), "{planted} planted of 20,000");
    }
}
