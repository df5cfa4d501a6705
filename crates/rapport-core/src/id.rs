//! Random, prefixed, URL-safe ids (`lead_3kTMd…`). Never ordered: ordering uses times and
//! the event sequence.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 22 base-62 characters carry 130 bits, more than the 128 random bits drawn.
const ID_CHARS: usize = 22;

/// A new id such as `lead_3kTMd9x…` with 128 random bits.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system has no random source");
    let mut n = u128::from_le_bytes(bytes);
    let mut id = String::with_capacity(prefix.len() + 1 + ID_CHARS);
    id.push_str(prefix);
    id.push('_');
    for _ in 0..ID_CHARS {
        id.push(ALPHABET[(n % 62) as usize] as char);
        n /= 62;
    }
    id
}

/// Whether `id` looks like one of ours with the given prefix (cheap guard before a lookup).
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len() + 1 && id.starts_with(prefix) && id.as_bytes()[prefix.len()] == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_distinct_and_url_safe() {
        let a = new_id("lead");
        let b = new_id("lead");
        assert_ne!(a, b);
        assert!(has_prefix(&a, "lead"));
        assert!(!has_prefix(&a, "cont"));
        assert_eq!(a.len(), "lead_".len() + ID_CHARS);
        assert!(a[5..].bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
