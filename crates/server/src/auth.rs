//! Credentials: argon2 password hashes and random bearer tokens stored only as SHA-256 hashes.

use crate::store::{self, AccessCheck, RefreshOutcome, Store, StoredToken, TokenPairHashes};
use crate::{Config, Error, Result};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use confab_protocol::Secret;
use confab_protocol::api::TokenPair;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// 256 random bits, base64url: far beyond guessing, and safe in headers and JSON.
fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// An invite code: 128 random bits, base64url — short enough to paste into a chat, far beyond
/// guessing (and registration is throttled like login).
pub fn new_invite_code() -> Secret {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps instead of a token. Tokens are high-entropy, so a fast hash is enough.
pub fn token_hash(token: &Secret) -> Vec<u8> {
    Sha256::digest(token.expose().as_bytes()).to_vec()
}

/// Password hashing and token issuing, shared by the HTTP handlers and WebSocket sessions.
#[derive(Debug, Clone)]
pub struct Auth {
    store: Store,
    config: Arc<Config>,
    /// argon2 costs ~20 MiB and tens of ms per hash; this caps how many run at once so a burst
    /// of logins cannot take the whole machine.
    hashing: Arc<Semaphore>,
}

/// A freshly minted pair and the hashes to store for it.
struct Minted {
    pair: TokenPair,
    hashes: TokenPairHashes,
}

impl Auth {
    pub fn new(store: Store, config: Arc<Config>) -> Self {
        let permits = config.limits.hash_concurrency.max(1);
        Self {
            store,
            config,
            hashing: Arc::new(Semaphore::new(permits)),
        }
    }

    async fn on_hash_pool<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| Error::StoreClosed)?;
        Ok(tokio::task::spawn_blocking(f).await?)
    }

    /// Hashes a password with argon2id and a random salt.
    pub async fn hash_password(&self, password: Secret) -> Result<String> {
        self.on_hash_pool(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Hash(e.to_string()))
        })
        .await?
    }

    /// Checks a password against a stored hash. With no hash (unknown user) it still does the
    /// work of one, so response time does not reveal which usernames exist.
    pub async fn verify_password(&self, password: Secret, stored: Option<String>) -> Result<bool> {
        self.on_hash_pool(move || {
            let argon = Argon2::default();
            match stored.as_deref().map(PasswordHash::new) {
                Some(Ok(parsed)) => argon
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok(),
                _ => {
                    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                    let _ = argon.hash_password(password.expose().as_bytes(), &salt);
                    false
                }
            }
        })
        .await
    }

    fn mint(&self) -> Minted {
        let now = store::now_ms();
        let stored = |token: &Secret, ttl: std::time::Duration| StoredToken {
            hash: token_hash(token),
            expires_ms: now.saturating_add(ttl.as_millis() as u64),
        };
        let (access, refresh) = (new_token(), new_token());
        Minted {
            hashes: TokenPairHashes {
                access: stored(&access, self.config.access_ttl),
                refresh: stored(&refresh, self.config.refresh_ttl),
            },
            pair: TokenPair {
                access_token: access,
                refresh_token: refresh,
                expires_in: self.config.access_ttl.as_secs(),
            },
        }
    }

    /// Starts a login for an authenticated user.
    pub async fn login(&self, user_id: i64) -> Result<TokenPair> {
        let m = self.mint();
        self.store.start_login(user_id, m.hashes).await?;
        Ok(m.pair)
    }

    /// Exchanges a refresh token for a new pair.
    pub async fn refresh(&self, old: &Secret) -> Result<(RefreshOutcome, Option<TokenPair>)> {
        let m = self.mint();
        let outcome = self.store.refresh(token_hash(old), m.hashes).await?;
        let pair = (outcome == RefreshOutcome::Rotated).then_some(m.pair);
        Ok((outcome, pair))
    }

    /// Checks an access token.
    pub async fn check(&self, token: &Secret) -> Result<AccessCheck> {
        self.store.check_access(token_hash(token)).await
    }

    /// Revokes the login an access token belongs to.
    pub async fn logout(&self, token: &Secret) -> Result<bool> {
        self.store.logout(token_hash(token)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43, "32 bytes in unpadded base64url");
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), a.expose().as_bytes());
    }
}
