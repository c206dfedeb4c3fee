//! The server's HTTP API: register, login, refresh, logout, profiles; files go through
//! [`Api::send_with`] (see `files::transfer`).

use crate::servers::Servers;
use crate::{Error, Result};
use confab_protocol::api::{
    ApiError, Credentials, Profile, ProfileUpdate, RefreshRequest, TokenPair, Users,
};
use confab_protocol::{ErrorCode, Secret};
use std::time::Duration;
use url::Url;

/// An HTTP client bound to one deployment: one server, or several nodes tried in turn.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    servers: Servers,
}

impl Api {
    /// `base` is the server's `http(s)://host:port`. `extra_root` (PEM) is trusted besides the
    /// public roots, for self-hosted servers with their own certificate authority.
    pub fn new(base: Url, extra_root: Option<&[u8]>) -> Result<Self> {
        Self::with_servers(Servers::new(base, &[]), extra_root)
    }

    /// A client that moves to the next of `servers` when the current one cannot be reached.
    pub fn with_servers(servers: Servers, extra_root: Option<&[u8]>) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("confab/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = extra_root {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| Error::BadCertificate(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| Error::Network(e.to_string()))?;
        Ok(Self { http, servers })
    }

    async fn post<B: serde::Serialize>(
        &self,
        path: &str,
        body: Option<&B>,
        bearer: Option<&Secret>,
    ) -> Result<reqwest::Response> {
        self.request(reqwest::Method::POST, path, body, bearer)
            .await
    }

    async fn request<B: serde::Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        bearer: Option<&Secret>,
    ) -> Result<reqwest::Response> {
        self.send_with(method, path, bearer, |req| match body {
            Some(body) => req.json(body),
            None => req,
        })
        .await
    }

    /// A request whose body and answer are not JSON (files): `build` adds the body and any
    /// headers. Failures come back as for every call: [`Error::Api`] with the server's code.
    pub(crate) async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&Secret>,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let base = self.servers.current();
        let url = base
            .join(path)
            .map_err(|e| Error::BadServerUrl(e.to_string()))?;
        let mut req = build(self.http.request(method, url));
        if let Some(token) = bearer {
            req = req.bearer_auth(token.expose());
        }
        // reqwest's errors name the URL, which never holds a secret here.
        let resp = req.send().await.map_err(|e| {
            // Unreachable (not an answer, however bad): the next attempt tries the next node.
            self.servers.failed(&base);
            Error::Network(e.without_url().to_string())
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let err: ApiError = resp.json().await.unwrap_or(ApiError {
            code: if status >= 500 {
                ErrorCode::Internal
            } else {
                ErrorCode::Unknown
            },
            message: format!("the server answered HTTP {status}"),
        });
        Err(Error::Api {
            status,
            code: err.code,
            message: err.message,
        })
    }

    /// Creates an account; `invite` is the code a server with invite-only registration asks for.
    pub async fn register(
        &self,
        username: &str,
        password: &Secret,
        invite: Option<&Secret>,
    ) -> Result<()> {
        let body = Credentials {
            username: username.to_owned(),
            password: password.clone(),
            invite: invite.cloned(),
        };
        self.post("/api/register", Some(&body), None)
            .await
            .map(drop)
    }

    pub async fn login(&self, username: &str, password: &Secret) -> Result<TokenPair> {
        let body = Credentials {
            username: username.to_owned(),
            password: password.clone(),
            invite: None,
        };
        let resp = self.post("/api/login", Some(&body), None).await?;
        resp.json()
            .await
            .map_err(|e| Error::Network(e.without_url().to_string()))
    }

    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenPair> {
        let body = RefreshRequest {
            refresh_token: refresh_token.clone(),
        };
        let resp = self.post("/api/refresh", Some(&body), None).await?;
        resp.json()
            .await
            .map_err(|e| Error::Network(e.without_url().to_string()))
    }

    /// Revokes the login. The refresh token goes in the body because the access token may have
    /// expired while the client stayed connected; the server takes either.
    pub async fn logout(&self, pair: &TokenPair) -> Result<()> {
        let body = RefreshRequest {
            refresh_token: pair.refresh_token.clone(),
        };
        self.post("/api/logout", Some(&body), Some(&pair.access_token))
            .await
            .map(drop)
    }

    /// The signed-in user's profile.
    pub async fn me(&self, access_token: &Secret) -> Result<Profile> {
        let resp = self
            .request::<()>(reqwest::Method::GET, "/api/me", None, Some(access_token))
            .await?;
        json(resp).await
    }

    /// Sets (`None`: clears) the signed-in user's display name.
    pub async fn set_display_name(
        &self,
        access_token: &Secret,
        display_name: Option<String>,
    ) -> Result<Profile> {
        let body = ProfileUpdate { display_name };
        let resp = self
            .request(
                reqwest::Method::PATCH,
                "/api/me",
                Some(&body),
                Some(access_token),
            )
            .await?;
        json(resp).await
    }

    /// Users whose name or display name starts with `prefix`.
    pub async fn search_users(&self, access_token: &Secret, prefix: &str) -> Result<Vec<Profile>> {
        let mut path = String::from("/api/users?");
        path.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", prefix)
                .finish(),
        );
        let resp = self
            .request::<()>(reqwest::Method::GET, &path, None, Some(access_token))
            .await?;
        Ok(json::<Users>(resp).await?.users)
    }

    /// The WebSocket URL of the server in use: `ws(s)://host:port/ws`.
    pub fn ws_url(&self) -> Result<Url> {
        ws_url(&self.servers.current())
    }
}

/// A server's WebSocket URL: `http(s)://host:port` → `ws(s)://host:port/ws`.
pub fn ws_url(base: &Url) -> Result<Url> {
    let mut url = base
        .join("/ws")
        .map_err(|e| Error::BadServerUrl(e.to_string()))?;
    let scheme = if base.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    url.set_scheme(scheme)
        .map_err(|()| Error::BadServerUrl(base.to_string()))?;
    Ok(url)
}

async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    resp.json()
        .await
        .map_err(|e| Error::Network(e.without_url().to_string()))
}
