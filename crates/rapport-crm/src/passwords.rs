//! Argon2id, with a bound on the work: each hash takes tens of milliseconds of a core and
//! about 19 MB, so at most one per two cores runs at a time (on blocking threads, never
//! the async ones), and past [`MAX_WAITING`] waiting hashes a caller is told to come back
//! instead of queueing, so that a login flood cannot take the server's cores or memory.

use std::sync::OnceLock;

use crate::slots::{half_the_cores, Slots};
use crate::{CrmError, CrmResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rapport_core::FieldErrors;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Long passphrases fit; a megabyte does not.
pub const MAX_PASSWORD_CHARS: usize = 1_000;
/// Hashes waiting for a core beyond which a caller is answered 503 at once.
pub const MAX_WAITING: usize = 64;

/// Password checks: one per two cores at a time, 64 waiting at most.
fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| {
        Slots::new(
            half_the_cores(),
            MAX_WAITING,
            "the server is busy checking passwords; try again in a second",
        )
    })
}

/// Whether `password` matches the stored hash; `None` (an unknown user) is checked
/// against a dummy hash, so both answers take as long.
pub async fn verify(stored: Option<String>, password: &str) -> CrmResult<bool> {
    let password = password.to_string();
    slots()
        .run(move || {
            let hash = stored.unwrap_or_else(dummy_hash);
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
}

/// The Argon2id hash of a new password, after checking its length.
pub async fn hash(field: &str, password: &str) -> CrmResult<String> {
    check(field, password)?;
    let password = password.to_string();
    slots().run(move || hash_now(&password)).await?
}

/// A new password's length, as a field error on `field`.
pub fn check(field: &str, password: &str) -> CrmResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(FieldErrors::field(field, format!("at least {MIN_PASSWORD_CHARS} characters")).into());
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(FieldErrors::field(field, format!("at most {MAX_PASSWORD_CHARS} characters")).into());
    }
    Ok(())
}

/// Hashes on the calling thread: for the CLI and a new organization's first admin.
pub(crate) fn hash_now(password: &str) -> CrmResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| CrmError::Unavailable(format!("no random source: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| CrmError::Unavailable(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CrmError::Unavailable(format!("cannot hash the password: {e}")))
}

/// The hash of a random password nobody knows: what an unknown email is checked against.
fn dummy_hash() -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_now(&rapport_core::new_id("none")).unwrap_or_default())
        .clone()
}
