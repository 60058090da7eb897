//! The keys seglake writes into the `commitInfo` of every Delta commit it
//! makes, and reads back in a table's history.

/// Commit metadata keys seglake writes into every Delta commit it makes.
pub const META_RUN_ID: &str = "seglake.run_id";
pub const META_JOB: &str = "seglake.job";
pub const META_VERSION: &str = "seglake.version";
/// On versions written by `seglake erase`: the version this one replaces.
pub const META_REPLACES_VERSION: &str = "seglake.replaces_version";
/// On versions written by `seglake erase`: the erasure's id (never the
/// customer's).
pub const META_ERASURE_ID: &str = "seglake.erasure_id";
