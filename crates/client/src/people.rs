//! Other people and your own profile, over the HTTP API with the login's access token: off the
//! connection actor (a slow server must not hold up messages), refreshing the token once if
//! the server says it expired.

use crate::refresh::Refresher;
use crate::{Error, Result};
use confab_protocol::api::Profile;
use confab_protocol::{ErrorCode, limits};

/// What the owner asks about people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeopleCall {
    /// The signed-in user's profile.
    Me,
    /// Sets (`None`: clears) the signed-in user's display name.
    SetDisplayName(Option<String>),
    /// Users whose name or display name starts with this.
    Search(String),
}

/// The answer: one profile, or the users found.
pub type PeopleAnswer = Vec<Profile>;

/// Checks what the server would refuse, before asking it.
pub(crate) fn check(call: &PeopleCall) -> Result<()> {
    match call {
        PeopleCall::SetDisplayName(Some(name))
            if !name.trim().is_empty() && limits::display_name(name).is_none() =>
        {
            Err(Error::Rejected {
                code: ErrorCode::BadRequest,
                message: format!(
                    "a display name is 1-{} characters without control characters",
                    limits::MAX_DISPLAY_NAME_CHARS
                ),
            })
        }
        _ => Ok(()),
    }
}

/// Makes the call with the login's tokens.
pub(crate) async fn call(refresher: Refresher, call: PeopleCall) -> Result<PeopleAnswer> {
    crate::refresh::with_access(&refresher, |token| once(&refresher, &call, token)).await
}

async fn once(
    refresher: &Refresher,
    call: &PeopleCall,
    token: confab_protocol::Secret,
) -> Result<PeopleAnswer> {
    let (api, token) = (refresher.api(), &token);
    Ok(match call {
        PeopleCall::Me => vec![api.me(token).await?],
        PeopleCall::SetDisplayName(name) => {
            let name = name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            vec![api.set_display_name(token, name.map(str::to_owned)).await?]
        }
        PeopleCall::Search(prefix) => api.search_users(token, prefix).await?,
    })
}
