/// The profiles shipped with handshake, as `(id, TOML text)`, embedded from
/// `fixtures/providers/` so that binaries work from any directory.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "capsule",
        include_str!("../../../fixtures/providers/capsule.toml"),
    ),
    (
        "connectwise",
        include_str!("../../../fixtures/providers/connectwise.toml"),
    ),
    (
        "agilecrm",
        include_str!("../../../fixtures/providers/agilecrm.toml"),
    ),
    (
        "redtail",
        include_str!("../../../fixtures/providers/redtail.toml"),
    ),
    (
        "insightly",
        include_str!("../../../fixtures/providers/insightly.toml"),
    ),
    (
        "salesforce",
        include_str!("../../../fixtures/providers/salesforce.toml"),
    ),
    (
        "dynamics",
        include_str!("../../../fixtures/providers/dynamics.toml"),
    ),
    (
        "hubspot",
        include_str!("../../../fixtures/providers/hubspot.toml"),
    ),
    (
        "pipedrive",
        include_str!("../../../fixtures/providers/pipedrive.toml"),
    ),
    (
        "zoho",
        include_str!("../../../fixtures/providers/zoho.toml"),
    ),
];

/// Ids of the built-in profiles, in listing order.
pub fn builtin_ids() -> Vec<&'static str> {
    BUILTIN.iter().map(|(id, _)| *id).collect()
}
