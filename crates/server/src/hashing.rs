//! Password hashing on a fixed set of long-lived threads, each with one argon2 memory area that
//! it reuses for every hash, behind a bounded queue.
//!
//! argon2 needs ~19 MiB per hash on purpose. Hashed on the blocking pool, every burst of logins
//! ran on new short-lived threads, each of which left its own allocator arena behind: RSS grew by
//! gigabytes under a flood of logins and stayed there. Here the memory is allocated once per
//! thread, and a full queue is refused at once ([`Error::Busy`]) instead of growing.

use crate::{Error, Result};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use confab_protocol::Secret;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use tokio::sync::oneshot;

/// Largest argon2 memory cost (KiB) a stored hash may ask for: hashes are ours, but a restored or
/// imported database must not make one login allocate gigabytes.
const MAX_M_COST: u32 = 256 * 1024;

enum Job {
    Hash {
        password: Secret,
        reply: oneshot::Sender<Result<String>>,
    },
    Verify {
        password: Secret,
        stored: Option<String>,
        reply: oneshot::Sender<bool>,
    },
}

/// The handle: cheap to clone; the threads end when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    jobs: mpsc::SyncSender<Job>,
}

impl Hasher {
    /// `threads` hashing threads (at least one) and room for `queue` waiting jobs.
    pub(crate) fn start(threads: usize, queue: usize) -> Result<Self> {
        let (jobs, rx) = mpsc::sync_channel(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("confab-hash-{i}"))
                .spawn(move || work(&rx))?;
        }
        Ok(Self { jobs })
    }

    fn submit(&self, job: Job) -> Result<()> {
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => Error::Busy,
            mpsc::TrySendError::Disconnected(_) => {
                Error::Hash("the hashing threads stopped".into())
            }
        })
    }

    /// Hashes a password with argon2id (the crate's default cost) and a random salt, as a PHC
    /// string.
    pub(crate) async fn hash(&self, password: Secret) -> Result<String> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer
            .await
            .map_err(|_| Error::Hash("the hashing thread stopped".into()))?
    }

    /// Checks a password against a stored hash. With no usable hash (unknown user) it still does
    /// the work of one, so the time taken does not say which usernames exist.
    pub(crate) async fn verify(&self, password: Secret, stored: Option<String>) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            stored,
            reply,
        })?;
        answer
            .await
            .map_err(|_| Error::Hash("the hashing thread stopped".into()))
    }
}

fn work(rx: &Mutex<mpsc::Receiver<Job>>) {
    // Allocated by the first hash and kept: an idle server holds none of it.
    let mut memory: Vec<Block> = Vec::new();
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash(&password, &mut memory));
            }
            Job::Verify {
                password,
                stored,
                reply,
            } => {
                let ok = match stored.as_deref().map(|s| verify(&password, s, &mut memory)) {
                    Some(Ok(ok)) => ok,
                    _ => {
                        // Unknown user or unreadable hash: the same work, then no.
                        let _ = hash(&password, &mut memory);
                        false
                    }
                };
                let _ = reply.send(ok);
            }
        }
    }
}

/// Runs argon2 with `params` into `out`, in `memory` (grown if these parameters need more).
fn run(
    argon: &Argon2<'_>,
    params: &Params,
    password: &Secret,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<()> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon
        .hash_password_into_with_memory(
            password.expose().as_bytes(),
            salt,
            out,
            &mut memory[..blocks],
        )
        .map_err(|e| Error::Hash(e.to_string()))
}

fn hash(password: &Secret, memory: &mut Vec<Block>) -> Result<String> {
    let params = Params::DEFAULT;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let mut raw = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut raw)
        .map_err(|e| Error::Hash(e.to_string()))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    run(&argon, &params, password, salt_bytes, &mut out, memory)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| Error::Hash(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| Error::Hash(e.to_string()))?),
    };
    Ok(phc.to_string())
}

fn verify(password: &Secret, stored: &str, memory: &mut Vec<Block>) -> Result<bool> {
    let bad = |e: &dyn std::fmt::Display| Error::Hash(e.to_string());
    let phc = PasswordHash::new(stored).map_err(|e| bad(&e))?;
    let algorithm = Algorithm::try_from(phc.algorithm).map_err(|e| bad(&e))?;
    let version = phc
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| bad(&e))?
        .unwrap_or_default();
    let params = Params::try_from(&phc).map_err(|e| bad(&e))?;
    if params.m_cost() > MAX_M_COST {
        return Err(Error::Hash(
            "the stored hash asks for too much memory".into(),
        ));
    }
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Err(Error::Hash("the stored hash has no salt or output".into()));
    };
    let mut raw = [0u8; 64];
    let salt = salt.decode_b64(&mut raw).map_err(|e| bad(&e))?;
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    run(&argon, &params, password, salt, &mut out, memory)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(|e| bad(&e))? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    fn secret(s: &str) -> Secret {
        Secret::new(s.to_owned())
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_and_verify_both_ways() {
        let hasher = Hasher::start(1, 4).unwrap_or_else(|e| panic!("{e}"));
        let stored = hasher
            .hash(secret("correct horse"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        // The argon2 crate's own verifier agrees: hashes made before this module still work
        // and hashes made here are ordinary ones.
        let parsed = PasswordHash::new(&stored).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let verify = |p: &str, s: Option<String>| hasher.verify(secret(p), s);
        assert!(
            verify("correct horse", Some(stored.clone()))
                .await
                .unwrap_or(false)
        );
        assert!(
            !verify("wrong horse", Some(stored.clone()))
                .await
                .unwrap_or(true)
        );
        assert!(!verify("x", None).await.unwrap_or(true), "no such user");
        assert!(!verify("x", Some("garbage".into())).await.unwrap_or(true));
        // A hash made by the crate's allocating path (the server before this module).
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let old = argon2::PasswordHasher::hash_password(&Argon2::default(), b"old one", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(verify("old one", Some(old)).await.unwrap_or(false));
    }

    #[tokio::test]
    async fn a_full_queue_is_busy_not_a_longer_wait() {
        let hasher = Hasher::start(1, 1).unwrap_or_else(|e| panic!("{e}"));
        let many: Vec<_> = (0..8)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.verify(secret("x"), None).await })
            })
            .collect();
        let mut busy = 0;
        for task in many {
            if matches!(task.await, Ok(Err(Error::Busy))) {
                busy += 1;
            }
        }
        assert!(busy >= 1, "eight at once on a thread with a queue of one");
    }
}
