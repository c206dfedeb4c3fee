//! A fault-injecting TCP proxy for loopback tests: pass, delay, blackhole (accept and swallow,
//! never forward), reset mid-stream, and refuse — switchable while connections are open.
//! It also counts connections, which is how tests see how many sockets a client holds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Forward every chunk after this delay.
    Delay(Duration),
    /// Keep sockets open but forward nothing, either way (a dead network path).
    Blackhole,
    /// Reset each connection once this many more bytes went client → server (mid-frame).
    ResetAfter(usize),
    /// Reset new connections at once; open ones are unaffected.
    Refuse,
    /// Forward at most this many bytes per second each way (a narrow link: an upload that
    /// takes long enough to be cut in the middle).
    Throttle(usize),
}

#[derive(Debug)]
struct Shared {
    mode: Mutex<Mode>,
    upstream: SocketAddr,
    /// Cancelling it resets every open connection; replaced after each cut.
    cut: Mutex<CancellationToken>,
    active: AtomicUsize,
    max_active: AtomicUsize,
    accepted: AtomicUsize,
}

/// A running proxy; dropping it stops it and resets its connections.
#[derive(Debug)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("proxy bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Pass),
            upstream,
            cut: Mutex::new(CancellationToken::new()),
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        });
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, Arc::clone(&shared), stop.clone()));
        Self { addr, shared, stop }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self
            .shared
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Resets every open connection now.
    pub fn cut(&self) {
        let mut cut = self
            .shared
            .cut
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cut.cancel();
        *cut = CancellationToken::new();
    }

    /// Connections open right now.
    pub fn active(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Most connections ever open at once.
    pub fn max_active(&self) -> usize {
        self.shared.max_active.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// `ws://` URL of the proxy's `/ws`, and `http://` base.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.cut();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        let (client, _) = tokio::select! {
            () = stop.cancelled() => return,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            r = listener.accept() => match r { Ok(pair) => pair, Err(_) => continue },
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let mode = *shared.mode.lock().unwrap_or_else(PoisonError::into_inner);
        if mode == Mode::Refuse {
            let _ = client.set_zero_linger();
            continue;
        }
        let now = shared.active.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_active.fetch_max(now, Ordering::SeqCst);
        let cut = shared
            .cut
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let shared2 = Arc::clone(&shared);
        conns.spawn(async move {
            pipe(client, &shared2, cut).await;
            shared2.active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

fn mode(shared: &Shared) -> Mode {
    *shared.mode.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn pipe(client: TcpStream, shared: &Shared, cut: CancellationToken) {
    // Reset rather than close, always: the peers see a broken connection, as after a fault.
    let _ = client.set_zero_linger();
    let Ok(server) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    let _ = server.set_zero_linger();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Biased: once cut, nothing more is forwarded, even what is already readable.
    tokio::select! {
        biased;
        () = cut.cancelled() => {}
        () = flow(client_read, server_write, shared, true) => {}
        () = flow(server_read, client_write, shared, false) => {}
    }
}

/// One direction. Reading and writing are separate so that `Delay` adds latency to every chunk
/// without limiting throughput (a slow link, not a narrow one).
async fn flow(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, shared: &Shared, upstream: bool) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let read = async move {
        let mut buf = [0u8; 16 * 1024];
        let mut budget: Option<usize> = None;
        loop {
            let Ok(n @ 1..) = from.read(&mut buf).await else {
                return;
            };
            let mut take = n;
            match mode(shared) {
                Mode::Blackhole => continue,
                Mode::ResetAfter(limit) if upstream => {
                    let left = *budget.get_or_insert(limit);
                    take = n.min(left);
                    budget = Some(left - take);
                }
                _ => {}
            }
            if tx
                .send((Instant::now(), buf[..take].to_vec()))
                .await
                .is_err()
                || budget == Some(0)
            {
                return; // budget spent: what was let through is written, then the reset
            }
        }
    };
    let write = async move {
        let mut sent_at = Instant::now();
        while let Some((read_at, bytes)) = rx.recv().await {
            match mode(shared) {
                Mode::Delay(d) => tokio::time::sleep_until(read_at + d).await,
                Mode::Throttle(per_sec) => {
                    let took = Duration::from_secs_f64(bytes.len() as f64 / per_sec.max(1) as f64);
                    sent_at = sent_at.max(Instant::now()) + took;
                    tokio::time::sleep_until(sent_at).await;
                }
                _ => {}
            }
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(read, write);
}
