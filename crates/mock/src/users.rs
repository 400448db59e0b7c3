//! The mock's user accounts: their names, and each user's own data set.
//!
//! User 0 (the first name) is the account auto-approve signs in as and the one the CRM's
//! native credentials belong to; its data set is the one generated from the builder's seed.
//! User `i > 0` gets a data set generated from `seed + i`, with ids moved out of the first
//! user's range (numeric ids `+ i * 1_000_000`, string ids suffixed `-<name>`), so names and
//! ids differ between users and no id is shared.

use handshake_profile::Profile;
use serde_json::Value;

use crate::dataset;
use crate::types::MockError;

/// The accounts a mock holds when the builder names none.
pub(crate) const DEFAULT_USERS: [&str; 2] = ["alice", "bob"];
/// Most accounts one mock holds (each has a data set in memory).
pub(crate) const MAX_USERS: usize = 16;
/// Longest account name.
pub(crate) const MAX_NAME_LEN: usize = 64;
/// How far apart the numeric ids of two consecutive users are: more than the largest data
/// set ([`handshake_profile::MAX_DATASET_COUNT`]), so ranges never overlap.
pub(crate) const ID_OFFSET: u64 = 1_000_000;

/// Checks account names: 1 to [`MAX_USERS`] of them, distinct, each 1 to [`MAX_NAME_LEN`]
/// characters of `[A-Za-z0-9._-]`.
pub(crate) fn validate(names: &[String]) -> Result<(), MockError> {
    if names.is_empty() {
        return Err(MockError::Config("at least one user is required".into()));
    }
    if names.len() > MAX_USERS {
        return Err(MockError::Config(format!(
            "at most {MAX_USERS} users, got {}",
            names.len()
        )));
    }
    for (i, name) in names.iter().enumerate() {
        let shown: String = name.chars().take(MAX_NAME_LEN).collect();
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(MockError::Config(format!(
                "user name {shown:?} must be 1 to {MAX_NAME_LEN} characters"
            )));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(MockError::Config(format!(
                "user name {shown:?} may contain only A-Z, a-z, 0-9, '.', '_' and '-'"
            )));
        }
        if names[..i].contains(name) {
            return Err(MockError::Config(format!(
                "user name {shown:?} is given twice"
            )));
        }
    }
    Ok(())
}

/// The data set of user `index` (named `name`): user 0's is [`dataset::records`] as is;
/// others' come from `seed + index`, with ids moved (see the module docs). A profile's fixed
/// `api.records` get the same id transformation, and keep their other fields.
pub(crate) fn records_of_user(
    profile: &Profile,
    seed: u64,
    count: Option<u32>,
    index: usize,
    name: &str,
) -> Vec<Value> {
    let mut records = dataset::records(profile, seed.wrapping_add(index as u64), count);
    if index == 0 {
        return records;
    }
    let field = dataset::id_field(profile);
    let offset = ID_OFFSET.saturating_mul(index as u64);
    for record in &mut records {
        let Some(id) = record.get_mut(field) else {
            continue;
        };
        *id = match &*id {
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Value::from(u.saturating_add(offset)),
                (None, Some(i)) => Value::from(i.saturating_add(offset as i64)),
                _ => continue,
            },
            Value::String(s) => Value::String(format!("{s}-{name}")),
            _ => continue,
        };
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_are_checked() {
        assert!(validate(&names(&DEFAULT_USERS)).is_ok());
        assert!(validate(&names(&["a.b_c-D9"])).is_ok());
        for bad in [
            names(&[]),
            names(&[""]),
            names(&["al ice"]),
            names(&["alice", "alice"]),
            names(&["é"]),
            vec!["x".repeat(MAX_NAME_LEN + 1)],
            (0..=MAX_USERS).map(|i| format!("u{i}")).collect(),
        ] {
            let err = validate(&bad).unwrap_err().to_string();
            assert!(err.starts_with("configuration: "), "{err}");
        }
    }

    #[test]
    fn every_user_has_other_names_and_ids() {
        for p in Profile::builtins() {
            let field = dataset::id_field(&p);
            let alice = records_of_user(&p, 1, None, 0, "alice");
            let bob = records_of_user(&p, 1, None, 1, "bob");
            let carol = records_of_user(&p, 1, None, 2, "carol");
            assert_eq!(alice, dataset::records(&p, 1, None), "{}", p.id);
            assert_eq!(alice.len(), bob.len());
            let ids = |v: &[Value]| -> Vec<String> {
                v.iter()
                    .map(|r| dataset::id_of(r, field).unwrap())
                    .collect()
            };
            let (a, b, c) = (ids(&alice), ids(&bob), ids(&carol));
            assert!(
                a.iter().all(|id| !b.contains(id) && !c.contains(id)),
                "{}",
                p.id
            );
            assert!(b.iter().all(|id| !c.contains(id)), "{}", p.id);
            let first = |v: &[Value]| {
                let mut r = v[0].clone();
                r.as_object_mut().unwrap().remove(field);
                r
            };
            assert_ne!(first(&alice), first(&bob), "{}: names must differ", p.id);
        }
    }

    #[test]
    fn fixed_records_get_distinct_ids_too() {
        let mut p = Profile::builtin("capsule").unwrap();
        p.api.dataset = None;
        p.api.records = vec![
            serde_json::json!({"id": 7, "name": "Ada"}),
            serde_json::json!({"id": "x7", "name": "Grace"}),
            serde_json::json!({"name": "no id"}),
        ];
        let bob = records_of_user(&p, 1, None, 1, "bob");
        assert_eq!(bob[0], serde_json::json!({"id": 1_000_007, "name": "Ada"}));
        assert_eq!(bob[1], serde_json::json!({"id": "x7-bob", "name": "Grace"}));
        assert_eq!(bob[2], serde_json::json!({"name": "no id"}));
        assert_eq!(records_of_user(&p, 1, None, 0, "alice"), p.api.records);
    }
}
