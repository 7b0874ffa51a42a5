//! pipit's advertised API version table: the one place that says what pipit serves.
//!
//! Every entry is advertised in ApiVersions (unless its `advertised` flag is off) and
//! nothing else is. `accepted_min` may sit above `min`: librdkafka turns off
//! gzip/snappy/lz4 when Produce is advertised above 0, so Produce is advertised from 0
//! while only v3+ (record batch v2) is accepted; v0–2 get UNSUPPORTED_VERSION. To serve a
//! new API add one row here, a variant to `request::Request`, and its name to
//! tools/gen-request-schemas.py.

use kafka_protocol::messages::ApiKey;

/// InitProducerId (idempotent producers) is served; a switch kept so it can be
/// withdrawn in one place.
pub const ADVERTISE_INIT_PRODUCER_ID: bool = true;

/// One row of the version table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiSupport {
    pub key: ApiKey,
    /// Lowest version advertised in ApiVersions.
    pub min: i16,
    /// Highest version advertised and accepted.
    pub max: i16,
    /// Lowest version actually accepted (>= min).
    pub accepted_min: i16,
    /// Whether the row is advertised (and therefore served).
    pub advertised: bool,
}

const fn row(key: ApiKey, min: i16, max: i16) -> ApiSupport {
    ApiSupport {
        key,
        min,
        max,
        accepted_min: min,
        advertised: true,
    }
}

/// The table, in API key order.
pub const API_TABLE: &[ApiSupport] = &[
    ApiSupport {
        accepted_min: 3,
        ..row(ApiKey::Produce, 0, 9)
    },
    row(ApiKey::Fetch, 4, 12),
    row(ApiKey::ListOffsets, 1, 7),
    row(ApiKey::Metadata, 0, 12),
    row(ApiKey::ApiVersions, 0, 3),
    row(ApiKey::CreateTopics, 2, 7),
    row(ApiKey::DeleteTopics, 1, 6),
    // Always answered with this broker. Also what makes librdkafka ≤2.x turn
    // on LZ4 (its LZ4 feature depends on FindCoordinator v0 being advertised).
    row(ApiKey::FindCoordinator, 0, 4),
    // Idempotent producers (no transactions: a transactional id is refused).
    ApiSupport {
        advertised: ADVERTISE_INIT_PRODUCER_ID,
        ..row(ApiKey::InitProducerId, 0, 4)
    },
    row(ApiKey::DescribeConfigs, 1, 4),
    row(ApiKey::AlterConfigs, 0, 2),
    row(ApiKey::CreatePartitions, 0, 3),
    row(ApiKey::IncrementalAlterConfigs, 0, 1),
    row(ApiKey::DescribeCluster, 0, 1),
];

/// The rows advertised in ApiVersions.
pub fn advertised() -> impl Iterator<Item = &'static ApiSupport> {
    API_TABLE.iter().filter(|r| r.advertised)
}

/// The advertised row for `key`, if pipit serves it.
pub fn lookup(key: ApiKey) -> Option<&'static ApiSupport> {
    advertised().find(|r| r.key == key)
}

/// Whether pipit accepts `key` at `version` (served and within accepted_min..=max).
pub fn accepts(key: ApiKey, version: i16) -> bool {
    lookup(key).is_some_and(|r| r.accepted_min <= version && version <= r.max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::guard::{GuardError, check_request};

    #[test]
    fn produce_is_advertised_from_zero_but_accepted_from_three() {
        let p = lookup(ApiKey::Produce).map(|r| (r.min, r.accepted_min, r.max));
        assert_eq!(p, Some((0, 3, 9)));
        assert!(!accepts(ApiKey::Produce, 2));
        assert!(accepts(ApiKey::Produce, 3));
        assert!(accepts(ApiKey::Produce, 9));
        assert!(!accepts(ApiKey::Produce, 10));
    }

    #[test]
    fn init_producer_id_follows_its_switch() {
        assert!(API_TABLE.iter().any(|r| r.key == ApiKey::InitProducerId));
        assert_eq!(
            lookup(ApiKey::InitProducerId).is_some(),
            ADVERTISE_INIT_PRODUCER_ID
        );
        assert!(!accepts(ApiKey::JoinGroup, 0));
    }

    #[test]
    fn every_row_is_within_what_the_codec_and_guard_know() {
        for r in API_TABLE {
            let codec = r.key.valid_versions();
            // Versions below the codec's minimum are only advertised, never decoded.
            assert!(
                r.accepted_min >= codec.min && r.max <= codec.max,
                "{:?}",
                r.key
            );
            assert!(
                r.min <= r.accepted_min && r.accepted_min <= r.max,
                "{:?}",
                r.key
            );
            for v in [r.accepted_min, r.max] {
                let res = check_request(r.key as i16, v, &[]);
                let unknown = matches!(res, Err(GuardError::UnknownApi { .. }));
                let unsupported = matches!(res, Err(GuardError::UnsupportedVersion { .. }));
                assert!(!unknown && !unsupported, "{:?} v{v}: {res:?}", r.key);
            }
        }
    }
}
