//! The HTTP surface: `/api/*` JSON endpoints, the `/ws` upgrade and the Origin allowlist.
//! Sign-in and tokens are here; [`accounts`] has registration, invites and profiles.

mod accounts;
mod files;
mod people;

use crate::http_error::HttpError;
use crate::metrics::AuthFailure;
use crate::store::RefreshOutcome;
use crate::{AppState, ws};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use confab_protocol::api::{Credentials, RefreshRequest};
use confab_protocol::{ErrorCode, Secret};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tracing::info;

/// Largest request body the API reads.
const MAX_BODY: usize = 16 * 1024;

pub(super) type ApiResult<T> = Result<T, HttpError>;

/// Longest `/readyz` waits for the database.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The metrics listener's one route.
pub(crate) fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<Arc<AppState>>| async move {
                let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
                (
                    [(header::CONTENT_TYPE, content_type)],
                    state.metrics.encode(),
                )
            }),
        )
        .with_state(state)
}

/// All routes, with the Origin check in front of every one.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/register", post(accounts::register))
        .route("/api/invites", post(accounts::create_invite))
        .route("/api/me", get(people::me).patch(people::update_me))
        .route("/api/users", get(people::search))
        .route("/api/login", post(login))
        .route("/api/refresh", post(refresh))
        .route("/api/logout", post(logout))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(ready))
        .route("/ws", get(upgrade))
        .route("/updates/{file}", get(crate::updates::serve))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), deadline))
        // Files have their own body limit and deadline; the layers above are not theirs.
        .merge(files::routes(Arc::clone(&state)))
        .fallback(|| async {
            HttpError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "no such endpoint",
            )
        })
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            check_origin,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            security_headers,
        ))
        .with_state(state)
}

/// Headers every answer carries, refusals included: no MIME sniffing (a JSON error must never be
/// taken for a page), no referrer, no caching of answers that may hold tokens, and, when this
/// server speaks TLS itself, HSTS so that a browser never tries plain http again. A route that
/// set its own value (files' caching) keeps it.
async fn security_headers(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    let mut set = |name, value| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::CACHE_CONTROL, "no-store");
    if state.config.tls.is_some() {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    resp
}

/// A whole API request, body included, must finish in time: a client that sends its headers
/// and then dribbles the body cannot hold a task forever. (The `/ws` handler returns as soon as
/// the upgrade is accepted, so sessions are not affected.)
async fn deadline(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config.limits.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => HttpError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::BadRequest,
            "request took too long",
        )
        .into_response(),
    }
}

/// Browsers always send `Origin` on cross-site requests and WebSocket upgrades; native clients
/// send none. A browser page from an origin not on the allowlist is refused before anything runs.
async fn check_origin(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| {
            state
                .config
                .allowed_origins
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o))
        });
        if !allowed {
            info!(origin = ?origin, path = %req.uri().path(), "refused origin");
            return HttpError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::OriginNotAllowed,
                "origin not allowed",
            )
            .into_response();
        }
    }
    next.run(req).await
}

pub(super) fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "body too large",
            )
        } else {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "unreadable body",
            )
        }
    })?;
    // serde's message may quote a value of the wrong type; it goes back only to the client
    // that sent it, and is never logged.
    serde_json::from_slice(&bytes).map_err(|e| {
        HttpError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("invalid JSON body: {e}"),
        )
    })
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<Secret> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| Secret::new(token.trim()))
}

/// Ready for traffic: the database answers and, with several nodes, the pub/sub link is up.
/// A load balancer sends new connections elsewhere while this says 503.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    // A database that does not answer in time is as good as down for a health check.
    let ping = tokio::time::timeout(READY_WAIT, state.store.ping()).await;
    let database = matches!(ping, Ok(Ok(())));
    let pubsub = state.cluster.as_ref().map(|c| c.is_connected());
    let ok = database && pubsub != Some(false);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ok { "ready" } else { "unavailable" },
        "database": database,
        "pubsub": pubsub,
    });
    (status, Json(body)).into_response()
}

/// The peer's address, which the connection loop puts on every request (a router driven some
/// other way has none, and is then not throttled by address).
pub(super) struct Peer(pub(super) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        // An IPv4 peer of a dual-stack listener comes as ::ffff:a.b.c.d; it is a.b.c.d.
        Ok(Self(peer.map(|ConnectInfo(addr)| addr.ip().to_canonical())))
    }
}

async fn login(
    State(state): State<Arc<AppState>>,
    Peer(ip): Peer,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let creds: Credentials = parse(body)?;
    // Before any hashing: a guesser, or a flood that exists to burn argon2 time, is refused here
    // at no cost.
    let name = Some(creds.username.as_str());
    state
        .sign_ins
        .admit(name, ip)
        .map_err(HttpError::throttled)?;
    let user = state
        .store
        .find_user(&creds.username)
        .await
        .map_err(|e| HttpError::internal(&e))?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = match state.auth.verify_password(creds.password, stored).await {
        Ok(ok) => ok,
        Err(e) => {
            // Not judged (busy, most likely): no guess was made, so it costs no try.
            state.sign_ins.give_back(&creds.username, ip);
            return Err(HttpError::internal(&e));
        }
    };
    let user = match user {
        Some(user) if ok => {
            state.sign_ins.give_back(&creds.username, ip);
            user
        }
        _ => {
            state.metrics.auth_failed(AuthFailure::Password);
            return Err(HttpError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                "wrong username or password",
            ));
        }
    };
    if user.disabled {
        state.metrics.auth_failed(AuthFailure::Disabled);
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this account is disabled",
        ));
    }
    let pair = state
        .auth
        .login(user.id)
        .await
        .map_err(|e| HttpError::internal(&e))?;
    info!(user = %user.username, "logged in");
    Ok(Json(pair).into_response())
}

async fn refresh(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let req: RefreshRequest = parse(body)?;
    let (outcome, pair) = state
        .auth
        .refresh(&req.refresh_token)
        .await
        .map_err(|e| HttpError::internal(&e))?;
    if outcome != RefreshOutcome::Rotated {
        state.metrics.auth_failed(AuthFailure::Refresh);
    }
    match (outcome, pair) {
        (RefreshOutcome::Rotated, Some(pair)) => Ok(Json(pair).into_response()),
        (RefreshOutcome::Reused, _) => {
            info!("refresh token reused; login revoked");
            Err(HttpError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::TokenReused,
                "this refresh token was already used; sign in again",
            ))
        }
        (RefreshOutcome::Forbidden, _) => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this account is disabled",
        )),
        _ => Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "the refresh token is invalid or expired; sign in again",
        )),
    }
}

/// Revokes a login, named by its access token (`Authorization: Bearer`) or by its refresh token
/// (`{"refresh_token"}` in the body). The refresh token matters: a client that has been connected
/// longer than the access token lives holds only an expired one, and signing out must still end
/// the login rather than leave its refresh token valid for weeks.
async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let refresh = match body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => None,
        body => Some(parse::<RefreshRequest>(body)?.refresh_token),
    };
    let access = bearer(&headers);
    if access.is_none() && refresh.is_none() {
        return Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "send Authorization: Bearer <access token> or {\"refresh_token\"}",
        ));
    }
    let mut revoked = false;
    for token in [access, refresh].into_iter().flatten() {
        revoked |= state
            .auth
            .logout(&token)
            .await
            .map_err(|e| HttpError::internal(&e))?;
    }
    match revoked {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "the token is invalid or expired",
        )),
    }
}

async fn upgrade(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let limits = &state.config.limits;
    // Each WebSocket holds a slot for its whole life (the accept loop's slot ends at upgrade).
    let Ok(slot) = Arc::clone(&state.ws_slots).try_acquire_owned() else {
        let retry = confab_protocol::close::retry_hint(5000);
        return HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Busy,
            format!("too many connections; {retry}"),
        )
        .into_response();
    };
    let token = bearer(&headers);
    let tracker = state.tracker.clone();
    upgrade
        .read_buffer_size(limits.read_buffer_bytes)
        .max_message_size(limits.max_frame_bytes)
        .max_frame_size(limits.max_frame_bytes)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                ws::serve(socket, state, token).await;
                drop(slot);
            })
        })
}
