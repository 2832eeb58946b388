//! Where things sit inside a hashbrown table, for prefetch hints: the control bytes, and the
//! control byte and bucket a probe starts at. The one place that knows hashbrown's layout.
//!
//! hashbrown lays a table out as one block: `buckets` elements, padded to the control bytes'
//! alignment, then the control bytes. Bucket `i` sits just below them, at `ctrl - (i + 1) *
//! size_of::<T>()`, and a probe for `hash` starts at position `hash & (buckets - 1)`, reading a
//! group of `GROUP_WIDTH` control bytes. The addresses are hints, never dereferenced: should the
//! layout change, a wrong hint costs one wasted load, and `tests::addresses_match_the_table`
//! fails.

/// hashbrown's control group width (the SIMD group it probes at once): SSE2 on x86-64, one
/// `u64` word elsewhere.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub const GROUP_WIDTH: usize = 16;
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
pub const GROUP_WIDTH: usize = 8;

/// The control bytes of a table of `buckets` buckets of `T` whose block starts at `block`.
#[inline]
pub fn ctrl_from_block<T>(block: usize, buckets: usize) -> *const u8 {
    let align = std::mem::align_of::<T>().max(GROUP_WIDTH);
    let offset = (buckets * std::mem::size_of::<T>()).next_multiple_of(align);
    (block as *const u8).wrapping_add(offset)
}

/// The control bytes of a table, from one of its occupied buckets and that bucket's index.
#[inline]
pub fn ctrl_from_bucket<T>(bucket: &T, index: usize) -> *const u8 {
    std::ptr::from_ref(bucket)
        .cast::<u8>()
        .wrapping_add((index + 1) * std::mem::size_of::<T>())
}

/// The control byte and the bucket a probe for `hash` starts at, in a table of `buckets`
/// buckets of `T` (a power of two) whose control bytes are at `ctrl`.
#[inline]
pub fn probe_start<T>(ctrl: *const u8, buckets: usize, hash: u64) -> (*const u8, *const u8) {
    let pos = (hash as usize) & (buckets - 1);
    (
        ctrl.wrapping_add(pos),
        ctrl.wrapping_sub((pos + 1) * std::mem::size_of::<T>()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element of a growing table sits where `ctrl_from_bucket` and `probe_start` say,
    /// and every occupied bucket names the same control bytes.
    #[test]
    fn addresses_match_the_table() {
        let mut table = hashbrown::HashTable::new();
        let hash = |v: &u32| u64::from(*v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for n in 0..5000u32 {
            table.insert_unique(hash(&n), n, hash);
            if n % 97 != 0 && table.len() != table.capacity() {
                continue;
            }
            let first = table.iter_buckets().next().unwrap();
            let ctrl = ctrl_from_bucket(table.get_bucket(first).unwrap(), first);
            for at in table.iter_buckets() {
                let bucket = table.get_bucket(at).unwrap();
                assert_eq!(ctrl_from_bucket(bucket, at), ctrl);
                // The hash whose probe starts exactly at `at` names this bucket.
                let (ctrl_at, bucket_at) = probe_start::<u32>(ctrl, table.num_buckets(), at as u64);
                assert_eq!(bucket_at, std::ptr::from_ref(bucket).cast::<u8>());
                assert_eq!(ctrl_at, ctrl.wrapping_add(at));
            }
        }
    }
}
