//! The deterministic data set served by the API resource.
//!
//! Records come from the profile's `api.dataset` template, filled with names chosen from small
//! built-in lists by a seeded PRNG. The PRNG is SplitMix64, written out here rather than taken
//! from `rand`, because `rand` does not promise the same stream across versions and the data
//! (hence snapshots and users' fixtures) must not change under a dependency bump.

use handshake_profile::{DateFormat, Profile};
use serde_json::Value;

/// Seed used when the builder is given none.
pub(crate) const DEFAULT_SEED: u64 = 1;

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Radia",
    "Tim",
    "Frances",
    "John",
    "Katherine",
    "Dennis",
    "Hedy",
    "Linus",
    "Sophie",
    "Niklaus",
    "Jean",
    "Leslie",
    "Annie",
    "Claude",
    "Mary",
    "Vint",
    "Karen",
    "Bjarne",
    "Anita",
    "Guido",
    "Carol",
    "James",
    "Lynn",
    "Robin",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Allen",
    "McCarthy",
    "Johnson",
    "Ritchie",
    "Lamarr",
    "Torvalds",
    "Wilson",
    "Wirth",
    "Sammet",
    "Lamport",
    "Easley",
    "Shannon",
    "Keller",
    "Cerf",
    "Sparck-Jones",
    "Stroustrup",
    "Borg",
    "van Rossum",
    "Shaw",
    "Gosling",
    "Conway",
    "Milner",
];
const COMPANY: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Cyberdyne",
    "Tyrell",
    "Soylent",
    "Vandelay",
    "Wonka",
    "Aperture",
    "Oscorp",
    "Pendant",
    "Monarch",
    "Dunder",
    "Gekko",
];

/// 2024-01-01T00:00:00Z: records are dated from here on, a few hours apart, in id order.
const EPOCH: i64 = 1_704_067_200;

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() % list.len() as u64) as usize]
    }
}

/// The records the API resource serves, in id order: the generated data set, or the
/// profile's static `api.records` when it has none. `count` overrides the data set's size.
pub(crate) fn records(profile: &Profile, seed: u64, count: Option<u32>) -> Vec<Value> {
    let Some(d) = &profile.api.dataset else {
        let n = count.map_or(usize::MAX, |c| c as usize);
        return profile.api.records.iter().take(n).cloned().collect();
    };
    let mut rng = SplitMix64(seed);
    let mut at = EPOCH;
    (0..count.unwrap_or(d.count))
        .map(|i| {
            let first = rng.pick(FIRST);
            let last = rng.pick(LAST);
            let company = rng.pick(COMPANY);
            at += 3600 * 5 + (rng.next() % 3600) as i64;
            let n = (i + 1).to_string();
            let email = format!(
                "{}.{}{n}@{}.example",
                slug(first),
                slug(last),
                slug(company)
            );
            let date = format_date(at, d.date_format);
            let fill = |s: &str| {
                s.replace("{first_name}", first)
                    .replace("{last_name}", last)
                    .replace("{email}", &email)
                    .replace("{company}", company)
                    .replace("{n}", &n)
                    .replace("{date}", &date)
            };
            let mut record = substitute(&d.template, &fill);
            if let Value::Object(map) = &mut record {
                let id = d.first_id.saturating_add(u64::from(i));
                // HubSpot and Zoho write ids as strings.
                let id = if d.id_as_string {
                    Value::String(id.to_string())
                } else {
                    Value::from(id)
                };
                map.insert(d.id_field.clone(), id);
            }
            record
        })
        .collect()
}

/// The field holding a record's id.
pub(crate) fn id_field(profile: &Profile) -> &str {
    profile
        .api
        .dataset
        .as_ref()
        .map_or("id", |d| d.id_field.as_str())
}

/// A record's id as text (ids are numbers in every built-in profile; strings work too).
pub(crate) fn id_of(record: &Value, field: &str) -> Option<String> {
    match record.get(field)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn substitute(v: &Value, fill: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(fill(s)),
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, fill)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, fill)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn format_date(unix: i64, format: DateFormat) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    match format {
        DateFormat::Rfc3339 => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        DateFormat::Sql => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        for p in Profile::builtins() {
            let a = records(&p, 7, None);
            assert_eq!(a, records(&p, 7, None), "{}", p.id);
            assert_ne!(a, records(&p, 8, None), "{}", p.id);
            assert_eq!(a.len() as u32, p.api.dataset.as_ref().unwrap().count);
        }
    }

    #[test]
    fn ids_are_consecutive_and_placeholders_filled() {
        let p = Profile::builtin("insightly").unwrap();
        let r = records(&p, DEFAULT_SEED, Some(3));
        let ids: Vec<_> = r
            .iter()
            .map(|v| v["CONTACT_ID"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [1001, 1002, 1003]);
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            !text.contains('{') || !text.contains("{first_name}"),
            "{text}"
        );
        assert!(
            !text.contains("{date}") && !text.contains("{email}"),
            "{text}"
        );
        // Insightly writes dates SQL-style.
        let date = r[0]["DATE_CREATED_UTC"].as_str().unwrap();
        assert_eq!(date.len(), 19);
        assert_eq!(&date[10..11], " ");
    }

    #[test]
    fn dates_render() {
        assert_eq!(
            format_date(EPOCH, DateFormat::Rfc3339),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            format_date(EPOCH + 86_400 + 3_661, DateFormat::Sql),
            "2024-01-02 01:01:01"
        );
    }
}
