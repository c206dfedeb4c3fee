//! The server's frame handling, all frame types: each input goes as one text frame to a real
//! confab-server (in this process, on loopback, SQLite) over an authenticated connection that
//! has joined a room, and must leave the server serving. A panic in any of its tasks aborts
//! (and is a crash); so is a close with 1011 (a fault of ours), or a connection that no longer
//! answers. Closes the protocol allows (1008, 1009, 4000…) just mean a new connection.
#![no_main]

use confab_protocol::ServerFrame;
use confab_test_support::{TestServer, WsClient};
use libfuzzer_sys::fuzz_target;
use std::sync::{Mutex, OnceLock, PoisonError};

struct Harness {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
    token: confab_protocol::Secret,
    ws: Option<WsClient>,
    probes: u64,
}

fn harness() -> &'static Mutex<Harness> {
    static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();
    HARNESS.get_or_init(|| {
        // A panic on any of the server's threads must reach libFuzzer as a crash.
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default(info);
            std::process::abort();
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let (server, token) = runtime.block_on(async {
            let server = TestServer::start_with(|c| {
                // Every input is one frame; flood control is tested elsewhere.
                c.limits.rate_burst = u32::MAX / 2;
                c.limits.rate_per_sec = u32::MAX / 2;
            })
            .await;
            let token = server.user("fuzz").await.access_token;
            (server, token)
        });
        Mutex::new(Harness {
            runtime,
            server,
            token,
            ws: None,
            probes: 0,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut guard = harness().lock().unwrap_or_else(PoisonError::into_inner);
    let h = &mut *guard;
    h.probes += 1;
    let probe = format!(
        r#"{{"type":"search","ref":"probe-{}","query":"probe"}}"#,
        h.probes
    );
    let want = format!("probe-{}", h.probes);
    let Harness {
        runtime,
        server,
        token,
        ws: open,
        ..
    } = h;
    runtime.block_on(async {
        if open.is_none() {
            let mut ws = WsClient::connect_authed(&server.ws_url(), token).await;
            ws.join("general", None).await;
            *open = Some(ws);
        }
        let Some(ws) = open.as_mut() else { return };
        if !ws.try_send_text(text).await || !ws.try_send_text(probe).await {
            *open = None;
            return;
        }
        loop {
            match ws.next_frame().await {
                Ok(ServerFrame::SearchResults { reference, .. }) if reference == want => break,
                Ok(ServerFrame::Error {
                    reference: Some(r), ..
                }) if r == want => break,
                Ok(_) => continue,
                Err(closed) => {
                    assert_ne!(closed.code, 1011, "the server failed: {closed:?}");
                    *open = None;
                    break;
                }
            }
        }
    });
});
