//! Accounts over HTTP: registration under the server's policy, and invite codes.

use super::{ApiResult, Peer, bearer, parse};
use crate::AppState;
use crate::auth::{new_invite_code, token_hash};
use crate::http_error::HttpError;
use crate::store::{
    AccessCheck, Admission, NewAccount, NewInvite, Registered, RegistrationPolicy, UserRecord,
    now_ms,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use confab_protocol::api::{Credentials, InviteCode, InviteRequest, Registered as RegisteredBody};
use confab_protocol::{ErrorCode, limits};
use std::sync::Arc;
use tracing::info;

/// Most accounts one invite code may create.
const MAX_INVITE_USES: u32 = 1000;
/// Longest an invite code may live: a year.
const MAX_INVITE_SECS: u64 = 365 * 24 * 3600;

pub(super) async fn register(
    State(state): State<Arc<AppState>>,
    Peer(ip): Peer,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let creds: Credentials = parse(body)?;
    // Every registration costs a hash (and an account): each one is charged to the address.
    state
        .sign_ins
        .admit(None, ip)
        .map_err(HttpError::throttled)?;
    if !limits::valid_new_username(&creds.username)
        || !limits::valid_password(creds.password.expose())
    {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidCredentialsFormat,
            "usernames are 1-32 of A-Z a-z 0-9 _ - ., begin and end with a letter or digit; \
             passwords need at least 8 characters",
        ));
    }
    let policy = state.config.registration;
    // Nothing can be created: answer before spending an argon2 hash on it.
    if policy == RegistrationPolicy::Closed {
        return Err(refusal(Registered::Closed));
    }
    let password_hash = state
        .auth
        .hash_password(creds.password)
        .await
        .map_err(|e| HttpError::internal(&e))?;
    let account = NewAccount {
        username: creds.username.clone(),
        password_hash,
        admission: Admission::Register {
            policy,
            invite: creds.invite.as_ref().map(token_hash),
        },
    };
    let outcome = state
        .store
        .register(account)
        .await
        .map_err(|e| HttpError::internal(&e))?;
    if let Registered::Created { admin } = outcome {
        info!(user = %creds.username, admin, "registered");
        let body = RegisteredBody {
            username: creds.username,
        };
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    Err(refusal(outcome))
}

/// The answer to a registration that created nothing.
fn refusal(outcome: Registered) -> HttpError {
    let (status, code, message) = match outcome {
        Registered::Taken => (
            StatusCode::CONFLICT,
            ErrorCode::UsernameTaken,
            "that username is taken, or too like one that is (aIice beside alice)",
        ),
        Registered::InviteRequired => (
            StatusCode::FORBIDDEN,
            ErrorCode::InviteRequired,
            "this server needs a valid invite code to register; ask an administrator",
        ),
        Registered::Closed | Registered::Created { .. } => (
            StatusCode::FORBIDDEN,
            ErrorCode::RegistrationClosed,
            "this server takes no registrations; an administrator creates accounts",
        ),
    };
    HttpError::new(status, code, message)
}

/// `POST /api/invites`, for server administrators.
pub(super) async fn create_invite(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let user = signed_in(&state, &headers).await?;
    if !user.admin {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only server administrators create invite codes",
        ));
    }
    let req: InviteRequest = parse(body)?;
    if !(1..=MAX_INVITE_USES).contains(&req.uses)
        || !(1..=MAX_INVITE_SECS).contains(&req.expires_in)
    {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("uses must be 1-{MAX_INVITE_USES} and expires_in 1-{MAX_INVITE_SECS} seconds"),
        ));
    }
    let code = new_invite_code();
    let expires_ms = now_ms() + req.expires_in * 1000;
    let invite = NewInvite {
        hash: token_hash(&code),
        created_by: Some(user.id),
        uses: req.uses,
        expires_ms,
    };
    state
        .store
        .create_invite(invite)
        .await
        .map_err(|e| HttpError::internal(&e))?;
    info!(by = %user.username, uses = req.uses, "invite created");
    let body = InviteCode {
        code,
        uses: req.uses,
        expires_ms,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The account behind the request's bearer token.
pub(super) async fn signed_in(state: &AppState, headers: &HeaderMap) -> ApiResult<UserRecord> {
    let invalid = || {
        HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "send Authorization: Bearer <a valid access token>",
        )
    };
    let token = bearer(headers).ok_or_else(invalid)?;
    let check = state
        .auth
        .check(&token)
        .await
        .map_err(|e| HttpError::internal(&e))?;
    let username = match check {
        AccessCheck::Valid { username, .. } => username,
        AccessCheck::Invalid => return Err(invalid()),
        AccessCheck::Forbidden => {
            return Err(HttpError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "this account is disabled",
            ));
        }
    };
    state
        .store
        .find_user(&username)
        .await
        .map_err(|e| HttpError::internal(&e))?
        .ok_or_else(invalid)
}
