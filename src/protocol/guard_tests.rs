//! Unit tests of the guard: each attack named in the brief, plus tagged-field handling.

use super::*;
use crate::protocol::schemas::STRUCTS;

const METADATA: i16 = 3;
const FETCH: i16 = 1;
const PRODUCE: i16 = 0;

fn uvarint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[test]
fn metadata_v1_topics_count_i32_max_is_refused_without_allocating() {
    // The 19-byte DoS frame's body: topics array count 0x7fffffff, no elements.
    let body = [0x7f, 0xff, 0xff, 0xff];
    assert_eq!(
        check_request(METADATA, 1, &body),
        Err(GuardError::ArrayTooLong {
            at: 0,
            count: 0x7fff_ffff,
            min_element: 2,
            remaining: 0
        })
    );
}

#[test]
fn compact_array_count_of_2_pow_31_is_refused() {
    let mut body = Vec::new();
    uvarint((1 << 31) + 1, &mut body); // compact: count + 1
    body.push(1); // allow_auto_topic_creation
    let err = check_request(METADATA, 9, &body);
    assert!(
        matches!(
            err,
            Err(GuardError::ArrayTooLong {
                count: 0x8000_0000,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn string_length_past_the_end_is_refused() {
    let mut body = vec![0, 0, 0, 1]; // one topic
    body.extend_from_slice(&100i16.to_be_bytes());
    body.extend_from_slice(b"ab");
    assert_eq!(
        check_request(METADATA, 1, &body),
        Err(GuardError::LengthPastEnd {
            at: 4,
            len: 100,
            remaining: 2
        })
    );
}

#[test]
fn negative_lengths_are_refused_where_not_nullable() {
    // Topic name is non-nullable before v10.
    let mut body = vec![0, 0, 0, 1];
    body.extend_from_slice(&(-1i16).to_be_bytes());
    assert_eq!(
        check_request(METADATA, 1, &body),
        Err(GuardError::NegativeLength { at: 4, len: -1 })
    );
    // Topics array is nullable from v1 (null = all topics) but not in v0; -2 never.
    assert_eq!(check_request(METADATA, 1, &(-1i32).to_be_bytes()), Ok(()));
    assert_eq!(
        check_request(METADATA, 0, &(-1i32).to_be_bytes()),
        Err(GuardError::NegativeLength { at: 0, len: -1 })
    );
    assert!(matches!(
        check_request(METADATA, 1, &(-2i32).to_be_bytes()),
        Err(GuardError::NegativeLength { len: -2, .. })
    ));
}

#[test]
fn truncated_body_is_refused() {
    // Produce v3: transactional_id null, acks, timeout, then the topics count is cut.
    let body = [0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0];
    assert_eq!(
        check_request(PRODUCE, 3, &body),
        Err(GuardError::Truncated { at: 8 })
    );
    assert_eq!(
        check_request(PRODUCE, 3, &[]),
        Err(GuardError::Truncated { at: 0 })
    );
}

#[test]
fn over_long_varints_are_refused() {
    let six = [0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    assert_eq!(
        check_request(METADATA, 9, &six),
        Err(GuardError::BadVarint { at: 0 })
    );
    // Five bytes whose value exceeds u32::MAX.
    let big = [0xff, 0xff, 0xff, 0xff, 0x7f];
    assert_eq!(
        check_request(METADATA, 9, &big),
        Err(GuardError::BadVarint { at: 0 })
    );
    // Cut short inside a varint.
    assert_eq!(
        check_request(METADATA, 9, &[0x80]),
        Err(GuardError::Truncated { at: 1 })
    );
}

#[test]
fn records_length_is_checked_not_walked() {
    // Produce v3 with one topic "t", one partition whose records claim 1 MiB.
    let mut body = vec![
        0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1,
    ];
    body.extend_from_slice(&[0, 0, 0, 0]); // partition index
    body.extend_from_slice(&(1i32 << 20).to_be_bytes());
    body.extend_from_slice(&[0; 8]);
    assert!(matches!(
        check_request(PRODUCE, 3, &body),
        Err(GuardError::LengthPastEnd { len: 1_048_576, .. })
    ));
    // The same with a truthful length passes: the bytes inside are not parsed here.
    let n = body.len();
    body[n - 12..n - 8].copy_from_slice(&8i32.to_be_bytes());
    assert_eq!(check_request(PRODUCE, 3, &body), Ok(()));
}

/// A Fetch v12 body with no topics; `tags` is the top-level tagged-field section.
fn fetch_v12(tags: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(-1i32).to_be_bytes()); // replica_id
    b.extend_from_slice(&500i32.to_be_bytes()); // max_wait_ms
    b.extend_from_slice(&1i32.to_be_bytes()); // min_bytes
    b.extend_from_slice(&(1i32 << 20).to_be_bytes()); // max_bytes
    b.push(0); // isolation_level
    b.extend_from_slice(&0i32.to_be_bytes()); // session_id
    b.extend_from_slice(&(-1i32).to_be_bytes()); // session_epoch
    b.extend_from_slice(&[1, 1, 1]); // topics, forgotten, rack_id: empty compact
    b.extend_from_slice(tags);
    b
}

#[test]
fn known_tagged_fields_are_walked_and_must_fill_their_size() {
    assert_eq!(check_request(FETCH, 12, &fetch_v12(&[0])), Ok(()));
    // ClusterId (tag 0) = compact string "ab": size 3.
    assert_eq!(
        check_request(FETCH, 12, &fetch_v12(&[1, 0, 3, 3, b'a', b'b'])),
        Ok(())
    );
    // Declared size 4 but the string takes 3: the decoder would desynchronise.
    let short = fetch_v12(&[1, 0, 4, 3, b'a', b'b', 0]);
    assert!(matches!(
        check_request(FETCH, 12, &short),
        Err(GuardError::BadTaggedField { tag: 0, .. })
    ));
    // A string inside the tag that claims more than the tag holds.
    let long = fetch_v12(&[1, 0, 3, 9, b'a', b'b']);
    assert!(matches!(
        check_request(FETCH, 12, &long),
        Err(GuardError::BadTaggedField { tag: 0, .. })
    ));
    // ReplicaState (tag 1) only exists from v15: the decoder would refuse it in v12.
    let early = fetch_v12(&[1, 1, 1, 0]);
    assert!(matches!(
        check_request(FETCH, 12, &early),
        Err(GuardError::BadTaggedField { tag: 1, .. })
    ));
}

#[test]
fn unknown_tagged_fields_are_skipped_by_size() {
    assert_eq!(
        check_request(FETCH, 12, &fetch_v12(&[1, 77, 2, 0xaa, 0xbb])),
        Ok(())
    );
    let past = fetch_v12(&[1, 77, 9, 0xaa]);
    assert!(matches!(
        check_request(FETCH, 12, &past),
        Err(GuardError::LengthPastEnd { len: 9, .. })
    ));
    // A tag count that cannot fit (each tag needs at least 2 bytes).
    let many = fetch_v12(&[0x7f]);
    assert!(matches!(
        check_request(FETCH, 12, &many),
        Err(GuardError::ArrayTooLong { count: 127, .. })
    ));
}

#[test]
fn unknown_api_and_version_are_typed() {
    assert_eq!(
        check_request(11, 0, &[]),
        Err(GuardError::UnknownApi { api_key: 11 })
    );
    assert_eq!(
        check_request(METADATA, 14, &[]),
        Err(GuardError::UnsupportedVersion {
            api_key: METADATA,
            api_version: 14
        })
    );
}

#[test]
fn minimum_struct_size_counts_only_fields_present_in_the_version() {
    // Metadata v1 topic: a name (i16 length) → 2 bytes; v10: topic_id + compact name + tags.
    let w1 = Walker {
        structs: &STRUCTS,
        version: 1,
        flexible: false,
    };
    let w10 = Walker {
        structs: &STRUCTS,
        version: 10,
        flexible: true,
    };
    let topic = STRUCTS
        .iter()
        .position(|s| s.0 == "MetadataRequestTopic")
        .map(|i| i as u16);
    let topic = T::Struct(topic.unwrap_or(u16::MAX));
    assert_eq!(w1.min_size(topic), 2);
    assert_eq!(w10.min_size(topic), 16 + 1 + 1);
}
