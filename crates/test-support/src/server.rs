//! A real confab-server on 127.0.0.1:0 with its database in a temporary folder.

use confab_protocol::api::TokenPair;
use confab_server::Config;
use serde_json::json;
use std::net::SocketAddr;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running server. Dropping it cancels the server; [`TestServer::stop`] also waits for it.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub config: Config,
    dir: std::sync::Arc<TempDir>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<confab_server::Result<()>>>,
    http: reqwest::Client,
}

impl TestServer {
    /// A server with default limits.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose config `tweak` may change (the database path is already set).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        crate::init_logs();
        let dir =
            std::sync::Arc::new(tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")));
        let mut config = Config::new(dir.path().join("confab.db"));
        tweak(&mut config);
        Self::launch(
            config,
            dir,
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        )
        .await
    }

    async fn launch(config: Config, dir: std::sync::Arc<TempDir>, at: SocketAddr) -> Self {
        let listener = TcpListener::bind(at)
            .await
            .unwrap_or_else(|e| panic!("bind {at}: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(confab_server::run(
            listener,
            config.clone(),
            shutdown.clone(),
        ));
        let http = reqwest::Client::new();
        Self {
            addr,
            config,
            dir,
            shutdown,
            task: Some(task),
            http,
        }
    }

    /// Stops the server gracefully and waits until it has closed its database.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(crate::DEADLINE, task).await;
            let result = result.unwrap_or_else(|_| panic!("server did not stop in time"));
            result
                .unwrap_or_else(|e| panic!("server task: {e}"))
                .unwrap_or_else(|e| panic!("server: {e}"));
        }
    }

    /// Stops the server and starts a new one on the same address and database.
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        let (config, dir, addr) = (
            self.config.clone(),
            std::sync::Arc::clone(&self.dir),
            self.addr,
        );
        drop(self);
        Self::launch(config, dir, addr).await
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The folder holding the database.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// POSTs JSON to the API; returns the status and the JSON body (Null if empty).
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self.http.post(self.http_url(path)).json(&body).send().await;
        let resp = resp.unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Registers `user` (password `password-of-<user>`), failing the test if it cannot.
    pub async fn register(&self, user: &str) {
        let (status, body) = self
            .post(
                "/api/register",
                json!({"username": user, "password": password(user)}),
            )
            .await;
        assert_eq!(status, 201, "register {user}: {body}");
    }

    /// Logs `user` in and returns the token pair.
    pub async fn login(&self, user: &str) -> TokenPair {
        let (status, body) = self
            .post(
                "/api/login",
                json!({"username": user, "password": password(user)}),
            )
            .await;
        assert_eq!(status, 200, "login {user}: {body}");
        serde_json::from_value(body).unwrap_or_else(|e| panic!("token pair: {e}"))
    }

    /// Registers and logs in a user.
    pub async fn user(&self, user: &str) -> TokenPair {
        self.register(user).await;
        self.login(user).await
    }

    /// Registers and logs in `user` and opens an authenticated connection.
    pub async fn client(&self, user: &str) -> crate::WsClient {
        let tokens = self.user(user).await;
        crate::WsClient::connect_authed(&self.ws_url(), &tokens.access_token).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The password the helpers use for `user`.
pub(crate) fn password(user: &str) -> String {
    format!("password-of-{user}")
}
