//! A fault-injecting TCP proxy for loopback tests: pass, delay, blackhole (accept and swallow,
//! never forward), reset mid-stream, and refuse — switchable while connections are open.
//! It also counts connections, which is how tests see how many sockets a client holds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
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
}

#[derive(Debug)]
struct Shared {
    mode: Mutex<Mode>,
    upstream: Mutex<SocketAddr>,
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
            upstream: Mutex::new(upstream),
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

    /// Points new connections at another server address (e.g. after a restart).
    pub fn set_upstream(&self, addr: SocketAddr) {
        *self
            .shared
            .upstream
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = addr;
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

async fn pipe(mut client: TcpStream, shared: &Shared, cut: CancellationToken) {
    let upstream = *shared
        .upstream
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        let _ = client.set_zero_linger();
        return;
    };
    let (mut up, mut down) = ([0u8; 16 * 1024], [0u8; 16 * 1024]);
    let mut budget: Option<usize> = None;
    loop {
        tokio::select! {
            () = cut.cancelled() => break,
            r = client.read(&mut up) => {
                let Ok(n @ 1..) = r else { break };
                match mode(shared) {
                    Mode::Blackhole => continue,
                    Mode::Delay(d) => tokio::time::sleep(d).await,
                    Mode::ResetAfter(limit) => {
                        let left = *budget.get_or_insert(limit);
                        if n >= left {
                            let _ = server.write_all(&up[..left]).await;
                            break;
                        }
                        budget = Some(left - n);
                    }
                    Mode::Pass | Mode::Refuse => {}
                }
                if server.write_all(&up[..n]).await.is_err() { break }
            }
            r = server.read(&mut down) => {
                let Ok(n @ 1..) = r else { break };
                match mode(shared) {
                    Mode::Blackhole => continue,
                    Mode::Delay(d) => tokio::time::sleep(d).await,
                    _ => {}
                }
                if client.write_all(&down[..n]).await.is_err() { break }
            }
        }
    }
    // Reset rather than close: the peers see a broken connection, as after a network fault.
    let _ = client.set_zero_linger();
    let _ = server.set_zero_linger();
}
