//! Integrity statuses of source files (`sources.integrity`, set by `verify`) and their order, weakest first:
//! `invalid` (or anything unknown) < `unverified` < `validated`.

/// The rank of a status: higher is stronger evidence.
pub fn rank(status: &str) -> u8 {
    match status {
        "validated" => 2,
        "unverified" => 1,
        _ => 0,
    }
}

/// The weakest of some statuses (`unverified` when there are none).
pub fn worst<'a>(statuses: impl IntoIterator<Item = &'a str>) -> &'a str {
    statuses
        .into_iter()
        .min_by_key(|s| rank(s))
        .unwrap_or("unverified")
}

#[cfg(test)]
mod tests {
    #[test]
    fn weakest_wins() {
        assert_eq!(super::worst(["validated", "unverified"]), "unverified");
        assert_eq!(
            super::worst(["validated", "invalid", "unverified"]),
            "invalid"
        );
        assert_eq!(super::worst([]), "unverified");
    }
}
