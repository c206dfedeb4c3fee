//! People over HTTP: your own profile (`/api/me`) and finding others (`/api/users`), for the
//! "new dm" and "invite" dialogs.

use super::accounts::signed_in;
use super::{ApiResult, parse};
use crate::AppState;
use crate::http_error::HttpError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use confab_protocol::api::{Profile, ProfileUpdate, Users};
use confab_protocol::{ErrorCode, limits};
use serde::Deserialize;
use std::sync::Arc;

/// Most users one search answers with.
const MAX_RESULTS: usize = 20;

pub(super) async fn me(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> ApiResult<Json<Profile>> {
    let user = signed_in(&state, &headers).await?;
    Ok(Json(Profile {
        username: user.username,
        display_name: user.display_name,
    }))
}

pub(super) async fn update_me(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Profile>> {
    let user = signed_in(&state, &headers).await?;
    let update: ProfileUpdate = parse(body)?;
    let name = match update.display_name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(typed) => Some(
            limits::display_name(typed)
                .ok_or_else(|| {
                    HttpError::new(
                        StatusCode::BAD_REQUEST,
                        ErrorCode::BadRequest,
                        format!(
                            "a display name is 1-{} characters without control characters",
                            limits::MAX_DISPLAY_NAME_CHARS
                        ),
                    )
                })?
                .to_owned(),
        ),
    };
    state
        .store
        .set_display_name(&user.username, name.clone())
        .await
        .map_err(|e| HttpError::internal(&e))?;
    Ok(Json(Profile {
        username: user.username,
        display_name: name,
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct Search {
    #[serde(default)]
    q: String,
}

pub(super) async fn search(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(search): Query<Search>,
) -> ApiResult<Json<Users>> {
    signed_in(&state, &headers).await?;
    let prefix: String = search
        .q
        .trim()
        .trim_start_matches('@')
        .chars()
        .take(64)
        .collect();
    let users = state
        .store
        .search_users(&prefix, MAX_RESULTS)
        .await
        .map_err(|e| HttpError::internal(&e))?;
    Ok(Json(Users { users }))
}
