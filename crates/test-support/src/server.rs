//! A real confab-server on 127.0.0.1:0 with its database in a temporary folder.

use confab_protocol::Secret;
use confab_protocol::api::TokenPair;
use confab_server::Config;
use confab_server::store::Database;
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
    /// Where `GET /metrics` is served (a listener of its own, as `--metrics-listen` makes).
    pub metrics_addr: SocketAddr,
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
        let mut config = Config::new(crate::backend::new_database(dir.path()).await);
        // Most tests register users freely; those of the policies set their own.
        config.registration = confab_server::store::RegistrationPolicy::Open;
        // Other nodes (clones of this config) share the folder, as on a shared disk.
        config.files.dir = Some(dir.path().join("files"));
        tweak(&mut config);
        let server = Self::launch(
            config,
            dir,
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
        if let (Database::Postgres(url), Some(cap)) =
            (&server.config.db, server.config.max_db_bytes)
        {
            crate::backend::cap_postgres_storage(url, cap).await;
        }
        server
    }

    /// Another node on this server's database (PostgreSQL: several nodes share one), on its own
    /// port, with the same configuration.
    pub async fn another_node(&self) -> Self {
        self.another_node_with(|_| {}).await
    }

    /// Another node whose configuration `tweak` may change.
    pub async fn another_node_with(&self, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir =
            std::sync::Arc::new(tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")));
        let at = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
        let mut config = self.config.clone();
        tweak(&mut config);
        Self::launch(config, dir, at).await
    }

    /// The Prometheus text from `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.metrics_addr);
        let resp = self.http.get(&url).send().await;
        let resp = resp.unwrap_or_else(|e| panic!("GET /metrics: {e}"));
        assert!(
            resp.status().is_success(),
            "GET /metrics: {}",
            resp.status()
        );
        resp.text().await.unwrap_or_default()
    }

    /// Waits until `/readyz` says ready (database and, with several nodes, pub/sub reachable).
    pub async fn until_ready(&self) {
        let deadline = tokio::time::Instant::now() + crate::DEADLINE;
        loop {
            let resp = self.http.get(self.http_url("/readyz")).send().await;
            if resp.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never became ready"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn launch(config: Config, dir: std::sync::Arc<TempDir>, at: SocketAddr) -> Self {
        let listener = TcpListener::bind(at)
            .await
            .unwrap_or_else(|e| panic!("bind {at}: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        let metrics = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind metrics: {e}"));
        let metrics_addr = metrics
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(confab_server::run_with_metrics(
            listener,
            Some(metrics),
            config.clone(),
            shutdown.clone(),
        ));
        let http = reqwest::Client::new();
        Self {
            addr,
            metrics_addr,
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

    /// The server's own folder (the SQLite database lives here).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Disables an account as an administrator would, through a second handle on the database
    /// (as `confab-server disable-user` does from another process).
    pub async fn disable_user(&self, user: &str) {
        let (committed, _) = tokio::sync::mpsc::channel(1);
        let (store, closer) = confab_server::store::Store::open(&self.config.db, None, committed)
            .await
            .unwrap_or_else(|e| panic!("open the database: {e}"));
        let found = store.set_disabled(user, true).await;
        assert!(matches!(found, Ok(true)), "disable {user}: {found:?}");
        drop(store);
        let closed = tokio::task::spawn_blocking(move || closer.join()).await;
        closed.unwrap_or_else(|e| panic!("close the database: {e}"));
    }

    /// What `confab-server --db` takes to reach this server's database.
    pub fn db_arg(&self) -> String {
        match &self.config.db {
            Database::Sqlite(path) => path.to_string_lossy().into_owned(),
            Database::Postgres(url) => url.clone(),
        }
    }

    /// Everything the database holds about accounts, as bytes an attacker who copied it would
    /// see: SQLite's files (with the WAL), or PostgreSQL's account tables as text.
    pub async fn stored_account_bytes(&self) -> Vec<u8> {
        match &self.config.db {
            Database::Sqlite(path) => {
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                let db = std::fs::read(path).unwrap_or_default();
                [db, std::fs::read(wal).unwrap_or_default()].concat()
            }
            Database::Postgres(url) => {
                let sql = "SELECT concat_ws(' ', (SELECT string_agg(u::text, ' ') FROM users u),
                    (SELECT string_agg(l::text, ' ') FROM logins l),
                    (SELECT string_agg(t::text, ' ') FROM tokens t))";
                let rows = crate::backend::postgres_query(url, sql).await;
                rows.first()
                    .map(|r| r.get::<_, String>(0).into_bytes())
                    .unwrap_or_default()
            }
        }
    }

    /// POSTs JSON to the API; returns the status and the JSON body (Null if empty).
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        Self::answer(path, self.http.post(self.http_url(path)).json(&body)).await
    }

    /// POSTs JSON with `Authorization: Bearer <token>`; returns the status and the JSON body.
    pub async fn post_as(
        &self,
        token: &Secret,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let request = self.http.post(self.http_url(path));
        Self::answer(path, request.bearer_auth(token.expose()).json(&body)).await
    }

    /// Uploads `bytes` as a file named `name` of type `mime`; the status and the JSON body.
    pub async fn upload(
        &self,
        token: &Secret,
        name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let request = self
            .http
            .post(self.http_url("/api/files"))
            .query(&[("name", name)])
            .bearer_auth(token.expose())
            .header("content-type", mime)
            .body(bytes);
        Self::answer("/api/files", request).await
    }

    /// GETs `path` with the bearer token and optional `Range`; the status, headers and bytes.
    pub async fn download(
        &self,
        token: &Secret,
        path: &str,
        range: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request = self
            .http
            .get(self.http_url(path))
            .bearer_auth(token.expose());
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let resp = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default().to_vec();
        (status, headers, bytes)
    }

    /// Sends a request; the status and the JSON body (Null if empty).
    async fn answer(path: &str, request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let resp = request.send().await;
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
pub fn password(user: &str) -> String {
    format!("password-of-{user}")
}
