//! Webhooks signed the way Close signs them, so receivers written for Close verify ours.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::http::{post_json, DEFAULT_TIMEOUT};
use crate::{AddressPolicy, DeliveryError};

/// The `user-agent` of every webhook delivery.
pub const WEBHOOK_USER_AGENT: &str = "Rapport-Webhooks/1";

/// The signature of one delivery: lowercase hex of HMAC-SHA256, keyed with the
/// hex-decoded signature key, over the timestamp's bytes followed by the raw body.
pub fn sign(signature_key_hex: &str, timestamp: &str, body: &[u8]) -> Result<String, DeliveryError> {
    let key = hex::decode(signature_key_hex).map_err(|_| DeliveryError::BadSignatureKey)?;
    if key.is_empty() {
        return Err(DeliveryError::BadSignatureKey);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// A new signature key: 32 random bytes, hex-encoded (64 characters), as Close issues.
pub fn new_signature_key() -> String {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the operating system has no random source");
    hex::encode(key)
}

/// POSTs `body` to `url` with `close-sig-timestamp` (`now_unix_seconds`) and
/// `close-sig-hash` ([`sign`]), within [`DEFAULT_TIMEOUT`]. Returns the 2xx status;
/// any other status is [`DeliveryError::Status`].
pub async fn deliver_webhook(
    policy: &AddressPolicy,
    url: &str,
    signature_key_hex: &str,
    body: &[u8],
    now_unix_seconds: i64,
) -> Result<u16, DeliveryError> {
    let timestamp = now_unix_seconds.to_string();
    let signature = sign(signature_key_hex, &timestamp, body)?;
    let headers = [
        ("close-sig-timestamp", timestamp.as_str()),
        ("close-sig-hash", signature.as_str()),
        ("user-agent", WEBHOOK_USER_AGENT),
    ];
    post_json(policy, url, &headers, body, DEFAULT_TIMEOUT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn signature_matches_an_independent_implementation() {
        // Computed with Python's hmac module: hmac.new(bytes.fromhex(KEY),
        // b"1700000000" + body, hashlib.sha256).hexdigest()
        let signature = sign(KEY, "1700000000", br#"{"event":{"id":"ev_1"}}"#).unwrap();
        assert_eq!(
            signature,
            "6e4d4bfcd2117e4ab0ad0d33ba8296f2188cbdd5a6d30cb90d816c6fd468d0f3"
        );
    }

    #[test]
    fn keys_must_be_non_empty_hex() {
        for bad in ["", "abc", "zz", "00 11"] {
            assert!(
                matches!(sign(bad, "1", b"{}"), Err(DeliveryError::BadSignatureKey)),
                "{bad:?}"
            );
        }
        assert_eq!(
            sign(&KEY.to_uppercase(), "1", b"{}").unwrap(),
            sign(KEY, "1", b"{}").unwrap()
        );
    }

    #[test]
    fn new_keys_are_64_hex_characters_and_differ() {
        let (a, b) = (new_signature_key(), new_signature_key());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert!(sign(&a, "1", b"{}").is_ok());
    }
}
