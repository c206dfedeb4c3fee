//! Credentials: argon2 password hashes and random bearer tokens stored only as SHA-256 hashes.

use crate::hashing::Hasher;
use crate::store::{self, AccessCheck, RefreshOutcome, Store, StoredToken, TokenPairHashes};
use crate::{Config, Result};
use base64::Engine as _;
use confab_protocol::Secret;
use confab_protocol::api::TokenPair;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

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
    /// argon2 costs ~20 MiB and tens of ms per hash: a fixed number of threads run them, each
    /// reusing its memory, so a burst of logins can take neither the machine nor its RAM.
    hasher: Hasher,
}

/// A freshly minted pair and the hashes to store for it.
struct Minted {
    pair: TokenPair,
    hashes: TokenPairHashes,
}

impl Auth {
    /// Starts `limits.hash_concurrency` hashing threads for this server.
    pub fn new(store: Store, config: Arc<Config>) -> Result<Self> {
        let limits = &config.limits;
        let hasher = Hasher::start(limits.hash_concurrency, limits.hash_queue)?;
        Ok(Self {
            store,
            config,
            hasher,
        })
    }

    /// Hashes a password with argon2id and a random salt. [`crate::Error::Busy`] when the
    /// hashing queue is full.
    pub async fn hash_password(&self, password: Secret) -> Result<String> {
        self.hasher.hash(password).await
    }

    /// Checks a password against a stored hash. With no hash (unknown user) it still does the
    /// work of one, so response time does not reveal which usernames exist.
    pub async fn verify_password(&self, password: Secret, stored: Option<String>) -> Result<bool> {
        self.hasher.verify(password, stored).await
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

    /// Revokes the login a live access token or unspent refresh token belongs to.
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
