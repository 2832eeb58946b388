//! Glob matching with Redis's `stringmatchlen` syntax: `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
//!
//! Iterative with one backtrack point (the last `*`), so a crafted pattern costs at most
//! O(pattern × subject) steps, never exponential time (CVE-2022-36021).
//!
//! Redis 7.2.6+ also caps the nesting of `*`: its matcher recurses once per `*` that still has
//! pattern after it, and a recursion deeper than [`MAX_STAR_NESTING`] is "no match"
//! (CVE-2024-31228). Every match passes each such `*` in order, so a pattern with more of them
//! than that never matches a non-empty subject; we count them as we meet them and answer the same.

/// The deepest `*` nesting Redis's `stringmatchlen` follows before giving up on a match.
pub const MAX_STAR_NESTING: usize = 1000;

pub fn glob_match(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    // Backtracking returns to just after the latest `*`, so each `*` group is met once.
    let mut nesting = 0usize;
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while s < subject.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    nesting += 1;
                    if nesting > MAX_STAR_NESTING {
                        return false;
                    }
                    star = Some((p, s));
                    continue;
                }
                b'?' => {
                    p += 1;
                    s += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = match_class(pattern, p, subject[s], nocase) {
                        if matched {
                            p = next;
                            s += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if eq(pattern[p + 1], subject[s]) {
                        p += 2;
                        s += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, subject[s]) {
                        p += 1;
                        s += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, ss)) => {
                p = sp;
                s = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Matches `c` against the class starting at `pattern[start] == b'['`. Returns whether it
/// matched and the index just past the class. An unterminated class runs to the end of the
/// pattern, as in Redis.
fn match_class(pattern: &[u8], start: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let mut p = start + 1;
    let negate = p < pattern.len() && pattern[p] == b'^';
    if negate {
        p += 1;
    }
    let fold = |x: u8| if nocase { x.to_ascii_lowercase() } else { x };
    let c = fold(c);
    let mut matched = false;
    loop {
        if p >= pattern.len() {
            // Redis treats a missing ']' as the end of the class; step back onto the last byte.
            break;
        }
        match pattern[p] {
            b']' => {
                p += 1;
                return Some((matched != negate, p));
            }
            b'\\' if p + 1 < pattern.len() => {
                if fold(pattern[p + 1]) == c {
                    matched = true;
                }
                p += 2;
            }
            lo if p + 2 < pattern.len() && pattern[p + 1] == b'-' => {
                // Redis compares plain (signed) `char`s here: bytes >= 0x80 sort below 'a',
                // so `[a-\xff]` is the range -1..=97 and matches neither 'b' nor 0xe9.
                let signed = |x: u8| fold(x) as i8;
                let (lo, hi) = (signed(lo), signed(pattern[p + 2]));
                let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
                if (lo..=hi).contains(&(c as i8)) {
                    matched = true;
                }
                p += 3;
            }
            x => {
                if fold(x) == c {
                    matched = true;
                }
                p += 1;
            }
        }
    }
    Some((matched != negate, p))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn star_nesting_is_capped_as_in_redis() {
        // 1000 `*a` groups: the deepest nesting Redis follows, still a match.
        let at_limit = b"*a".repeat(super::MAX_STAR_NESTING);
        assert!(glob_match(&at_limit, &b"a".repeat(1000), false));
        assert!(glob_match(
            &[at_limit.as_slice(), b"*"].concat(),
            b"aaaa".repeat(250).as_slice(),
            false
        ));
        // One more non-trailing `*` and Redis gives up: no match, though the glob would match.
        let over = b"*a".repeat(super::MAX_STAR_NESTING + 1);
        assert!(!glob_match(&over, &b"a".repeat(1001), false));
        // Escaped and bracketed stars are literals, not nesting.
        let literal = b"\\*[*]".repeat(1001);
        assert!(glob_match(&literal, &b"**".repeat(1001), false));
        // The case: `*?` 50,000 times against a 50,000-byte key.
        assert!(!glob_match(
            &b"*?".repeat(50_000),
            &b"x".repeat(50_000),
            false
        ));
    }

    #[test]
    fn basics() {
        assert!(glob_match(b"session:*", b"session:abc", false));
        assert!(!glob_match(b"session:*", b"sess", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(glob_match(b"*", b"", false));
        assert!(glob_match(b"a*b*c", b"axxbyyc", false));
        assert!(!glob_match(b"a*b*c", b"axxbyy", false));
        assert!(glob_match(b"HELLO", b"hello", true));
    }

    #[test]
    fn ranges_compare_signed_chars_like_redis() {
        assert!(!glob_match(b"[a-\xff]", b"b", false));
        assert!(!glob_match(b"[a-\xff]", b"\xe9", false));
        assert!(glob_match(b"[\xe0-\xf0]", b"\xe9", false));
        assert!(!glob_match(b"[\x01-\xf0]", b"b", false));
        assert!(glob_match(b"[^a-\xff]", b"b", false));
        assert!(glob_match(b"[A-C]", b"b", true));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pattern = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let subject = vec![b'a'; 10_000];
        assert!(!glob_match(pattern, &subject, false));
    }
}
