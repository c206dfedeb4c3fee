//! The login's tokens while connected: loaded from the store once, refreshed single-flight
//! across every process that shares the login.

use crate::api::Api;
use crate::tokens::blocking;
use crate::{Error, Result, TokenStore};
use confab_protocol::api::TokenPair;
use std::future::Future;
use std::sync::Arc;
use tracing::debug;

pub(crate) struct Refresher {
    api: Api,
    tokens: Arc<dyn TokenStore>,
    /// The newest pair. Kept here so a refresh whose save to the store failed is not undone by
    /// reloading the spent pair (which the server would take as token theft).
    current: Option<TokenPair>,
}

impl Refresher {
    pub(crate) fn new(api: Api, tokens: Arc<dyn TokenStore>) -> Self {
        Self {
            api,
            tokens,
            current: None,
        }
    }

    /// A refresher for work off the actor (an HTTP call for the owner): it starts from the
    /// same pair, and a refresh it makes reaches the actor through the store and its lock.
    pub(crate) fn detached(&self) -> Self {
        Self {
            api: self.api.clone(),
            tokens: Arc::clone(&self.tokens),
            current: self.current.clone(),
        }
    }

    pub(crate) fn api(&self) -> &Api {
        &self.api
    }

    pub(crate) fn remember(&mut self, pair: TokenPair) {
        self.current = Some(pair);
    }

    /// After a refusal: the next attempt reads the store again (a new sign-in may be there).
    pub(crate) fn forget(&mut self) {
        self.current = None;
    }

    /// The pair to authenticate with. The future borrows nothing.
    pub(crate) fn load(&self) -> impl Future<Output = Result<Option<TokenPair>>> + Send + use<> {
        let (current, store) = (self.current.clone(), Arc::clone(&self.tokens));
        async move {
            match current {
                Some(pair) => Ok(Some(pair)),
                None => blocking(move || store.load()).await,
            }
        }
    }

    /// One refresh of `spent`. Other processes may share this login: take the lock, then look
    /// again — if one of them refreshed meanwhile, its pair is in the store and ours is spent.
    /// Returns the new pair, and the error of saving it if that failed (it works regardless).
    pub(crate) fn refresh(
        &self,
        spent: TokenPair,
    ) -> impl Future<Output = Result<(TokenPair, Option<Error>)>> + Send + use<> {
        let (api, store) = (self.api.clone(), Arc::clone(&self.tokens));
        async move {
            let locking = Arc::clone(&store);
            let ours = spent.refresh_token.clone();
            let (lock, theirs) = blocking(move || {
                let Some(path) = locking.refresh_lock() else {
                    return Ok((None, None));
                };
                let file = crate::tokens::open_lock(&path)?;
                file.lock()?;
                let theirs = locking.load()?.filter(|p| p.refresh_token != ours);
                Ok((Some(file), theirs))
            })
            .await?;
            if let Some(theirs) = theirs {
                debug!("another process refreshed the tokens; using its pair");
                return Ok((theirs, None));
            }
            let fresh = api.refresh(&spent.refresh_token).await?;
            let saved = fresh.clone();
            let unsaved = blocking(move || store.save(&saved)).await.err();
            drop(lock);
            debug!("tokens refreshed");
            Ok((fresh, unsaved))
        }
    }
}

/// Runs `call` with the login's access token, refreshing it once if the server says it
/// expired (an owner's HTTP call made while the connection's token aged).
pub(crate) async fn with_access<T, F, Fut>(refresher: &Refresher, call: F) -> Result<T>
where
    F: Fn(confab_protocol::Secret) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let Some(pair) = refresher.load().await? else {
        return Err(Error::NotSignedIn);
    };
    match call(pair.access_token.clone()).await {
        Err(Error::Api {
            code: confab_protocol::ErrorCode::InvalidToken,
            ..
        }) => {
            let (fresh, _) = refresher.refresh(pair).await?;
            call(fresh.access_token).await
        }
        other => other,
    }
}
