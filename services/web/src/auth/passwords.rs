//! Password hashing (argon2id, OWASP parameters) on the blocking pool with a bound on
//! concurrent hashes, a dummy verification for unknown accounts, rehash when parameters change,
//! and the strength check for new passwords (zxcvbn).

use std::sync::{Arc, LazyLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Longer input is refused before hashing, so nobody makes us hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 256;

fn argon2() -> Argon2<'static> {
    // OWASP: argon2id, m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password, verified against when the account does not exist, so the
/// answer takes as long as for a real account.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"no account has this password", &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// What a verification found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Right password; `Some` carries a new hash when the stored one used older parameters.
    Yes {
        rehashed: Option<String>,
    },
    No,
}

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Passwords {
    /// At most `concurrency` hashes run at once; the rest wait (a sign-in flood cannot starve
    /// the executor or exhaust memory).
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_owned();
        self.blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|_| PasswordError::Hashing)
        })
        .await
    }

    /// Checks `password` against `stored`; with no stored hash (no such account, or no
    /// password yet) a dummy hash is checked so the time taken reveals nothing.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verified, PasswordError> {
        let password = password.to_owned();
        let known = stored.is_some();
        let stored = stored.map_or_else(|| DUMMY_HASH.clone(), str::to_owned);
        self.blocking(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Ok(Verified::No);
            };
            if password.chars().count() > MAX_PASSWORD_CHARS
                || argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_err()
                || !known
            {
                return Ok(Verified::No);
            }
            let current = argon2();
            let wanted = current.params();
            let outdated = parsed.algorithm != Algorithm::Argon2id.ident()
                || Params::try_from(&parsed).ok().is_none_or(|stored| {
                    (stored.m_cost(), stored.t_cost(), stored.p_cost())
                        != (wanted.m_cost(), wanted.t_cost(), wanted.p_cost())
                });
            let rehashed = if outdated {
                let salt = SaltString::generate(&mut OsRng);
                current
                    .hash_password(password.as_bytes(), &salt)
                    .ok()
                    .map(|hash| hash.to_string())
            } else {
                None
            };
            Ok(Verified::Yes { rehashed })
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Hashing)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| PasswordError::Hashing)?
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed")]
    Hashing,
}

/// Checks a new password: length bounds, and zxcvbn's estimate (score 3 of 4 at least),
/// penalising the person's own name and email. The message says what to do.
pub fn check_new_password(
    password: &str,
    min_chars: usize,
    personal: &[&str],
) -> Result<(), String> {
    let length = password.chars().count();
    if length < min_chars {
        return Err(format!("must be at least {min_chars} characters long"));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(format!(
            "must be at most {MAX_PASSWORD_CHARS} characters long"
        ));
    }
    let estimate = zxcvbn::zxcvbn(password, personal);
    if u8::from(estimate.score()) < 3 {
        let advice = estimate
            .feedback()
            .and_then(|feedback| feedback.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it would be easy to guess".to_owned());
        return Err(format!(
            "is too weak: {advice}. Use a longer phrase of unrelated words"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let passwords = Passwords::new(2);
        let hash = passwords
            .hash("correct horse battery staple")
            .await
            .expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            passwords
                .verify("correct horse battery staple", Some(&hash))
                .await
                .expect("verify"),
            Verified::Yes { rehashed: None }
        );
        assert_eq!(
            passwords
                .verify("wrong", Some(&hash))
                .await
                .expect("verify"),
            Verified::No
        );
        assert_eq!(
            passwords.verify("anything", None).await.expect("verify"),
            Verified::No
        );
    }

    #[tokio::test]
    async fn a_hash_with_old_parameters_is_rehashed_on_sign_in() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).expect("params"),
        );
        let salt = SaltString::generate(&mut OsRng);
        let old = weak
            .hash_password(b"a long enough old password", &salt)
            .expect("hash")
            .to_string();
        let verified = Passwords::new(1)
            .verify("a long enough old password", Some(&old))
            .await
            .expect("verify");
        let Verified::Yes {
            rehashed: Some(new),
        } = verified
        else {
            panic!("expected a rehash, got {verified:?}")
        };
        assert!(new.contains("m=19456,t=2,p=1"));
    }

    #[test]
    fn weak_short_and_personal_passwords_are_refused() {
        assert!(
            check_new_password("short", 10, &[])
                .expect_err("refused")
                .contains("at least 10")
        );
        assert!(
            check_new_password("password123", 10, &[])
                .expect_err("refused")
                .contains("too weak")
        );
        assert!(check_new_password("janedoe@example.com1", 10, &["janedoe@example.com"]).is_err());
        assert!(
            check_new_password(&"x".repeat(300), 10, &[])
                .expect_err("refused")
                .contains("at most")
        );
        assert!(check_new_password("maple violin orbit cascade", 10, &[]).is_ok());
    }
}
