//! The client core's handling of server frames: a real `confab_client::Client` (its actor, link
//! and database) signed in to a stand-in server on loopback that answers `auth` with `ready`,
//! then sends each line of the input as one text frame. Whatever comes, the client must not
//! panic (a panic on any thread aborts: a crash), its actor must keep answering requests, and
//! its event stream must stay open. Closing the connection on nonsense is allowed: the next
//! input waits for it to connect again. A client that stops trying (the server seemed to refuse
//! the login) is replaced by a new one.
#![no_main]

use confab_client::{Client, ClientConfig, ConnState, Event, MemoryTokens};
use confab_protocol::api::TokenPair;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

const READY: &str = r#"{"type":"ready","user":"fuzz","session":"s1","heartbeat_ms":30000,"max_body_bytes":4000,"rate_burst":1000,"rate_per_sec":1000,"max_file_bytes":1000}"#;
const WAIT: Duration = Duration::from_secs(5);

struct Harness {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    dir: tempfile::TempDir,
    client: Option<(Client, mpsc::Receiver<Event>)>,
    /// The open connection: where frames go, and whether the client's side is still open.
    link: Option<(Sink, Arc<AtomicBool>)>,
    probes: u64,
}

fn start_client(listener: &TcpListener, dir: &std::path::Path) -> (Client, mpsc::Receiver<Event>) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let url = format!("http://127.0.0.1:{port}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = ClientConfig::new(url, dir);
    cfg.backoff.initial = Duration::from_millis(1);
    cfg.backoff.max = Duration::from_millis(5);
    let pair = TokenPair {
        access_token: "a".repeat(43).into(),
        refresh_token: "r".repeat(43).into(),
        expires_in: 900,
    };
    Client::start(cfg, Arc::new(MemoryTokens::new(Some(pair))))
        .unwrap_or_else(|e| panic!("client: {e}"))
}

fn harness() -> &'static Mutex<Harness> {
    static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();
    HARNESS.get_or_init(|| {
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
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        Mutex::new(Harness {
            runtime,
            listener,
            dir,
            client: None,
            link: None,
            probes: 0,
        })
    })
}

/// Accepts the client's next connection and signs it in; `None` if it did not come.
async fn accept(listener: &TcpListener) -> Option<(Sink, Arc<AtomicBool>)> {
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .ok()?
        .ok()?;
    let ws = tokio::time::timeout(WAIT, tokio_tungstenite::accept_async(tcp))
        .await
        .ok()?
        .ok()?;
    let (mut sink, mut stream) = ws.split();
    // The first frame is `auth`.
    tokio::time::timeout(WAIT, stream.next())
        .await
        .ok()??
        .ok()?;
    sink.send(Message::text(READY)).await.ok()?;
    let open = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&open);
    // Reading answers the client's pings; whatever it sends is dropped.
    tokio::spawn(async move {
        while let Some(Ok(_)) = stream.next().await {}
        flag.store(false, Ordering::Relaxed);
    });
    Some((sink, open))
}

fuzz_target!(|data: &[u8]| {
    let mut guard = harness().lock().unwrap_or_else(PoisonError::into_inner);
    let h = &mut *guard;
    let Harness {
        runtime,
        listener,
        dir,
        client,
        link,
        probes,
    } = h;
    runtime.block_on(async {
        if client.is_none() {
            *client = Some(start_client(listener, dir.path()));
        }
        if link
            .as_ref()
            .is_none_or(|(_, open)| !open.load(Ordering::Relaxed))
        {
            *link = accept(listener).await;
            if link.is_none() {
                // It stopped trying (a refused login says so): a new client, next time.
                if let Some((c, _)) = client.take() {
                    let _ = tokio::time::timeout(WAIT, c.shutdown()).await;
                }
                return;
            }
        }
        let Some((sink, _)) = link.as_mut() else {
            return;
        };
        *probes += 1;
        let probe = format!("probe-{probes}");
        let frames = data
            .split(|&b| b == b'\n')
            .map(|line| String::from_utf8_lossy(line).into_owned())
            // An error without `ref` reaches the owner as an event: once it is there, the
            // client has handled every frame before it.
            .chain([format!(r#"{{"type":"error","code":"internal","message":"{probe}"}}"#)]);
        for text in frames {
            if sink.send(Message::text(text)).await.is_err() {
                *link = None;
                break;
            }
        }
        let Some((c, events)) = client.as_mut() else {
            return;
        };
        let deadline = tokio::time::sleep(WAIT);
        tokio::pin!(deadline);
        let mut gave_up = false;
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(Event::Error { message, .. }) if message == probe => break,
                    // It dropped the connection over the input: allowed; the next input waits
                    // for the next one.
                    Some(Event::State(ConnState::Reconnecting { .. } | ConnState::Connecting { .. })) => break,
                    Some(Event::State(ConnState::AuthFailed { .. })) => {
                        gave_up = true;
                        break;
                    }
                    Some(_) => {}
                    None => panic!("the client's events ended"),
                },
                () = &mut deadline => panic!("the client handled nothing for {WAIT:?}"),
            }
        }
        // And its actor still answers requests.
        let answer = tokio::time::timeout(WAIT, c.rooms()).await;
        assert!(matches!(answer, Ok(Ok(_))), "the client stopped answering: {answer:?}");
        if gave_up {
            if let Some((c, _)) = client.take() {
                let _ = tokio::time::timeout(WAIT, c.shutdown()).await;
            }
            *link = None;
        }
    });
});
