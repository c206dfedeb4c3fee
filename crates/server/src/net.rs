//! Transport: the accept loop, TLS, handshake deadlines and HTTP/1.1 with upgrades.
//!
//! Every connection must finish its TLS handshake and send a complete request head within
//! `handshake_timeout`, so a peer that connects and dribbles (or sends nothing) cannot hold a
//! socket. Neither axum nor tokio-tungstenite has such a deadline, hence this loop instead of
//! `axum::serve`.

use crate::AppState;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use tracing::{Instrument, debug, warn};

/// Accepts connections until shutdown; each connection runs on its own tracked task.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    state: Arc<AppState>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(
        state.config.limits.max_connections.max(1),
    ));
    loop {
        let accepted = tokio::select! {
            () = state.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors or similar: back off a little instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Over the connection cap: close at once rather than let every socket share the pain.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            warn!(%peer, "connection limit reached; refusing");
            continue;
        };
        // One address may not take every slot. Closing at accept costs it nothing to retry,
        // but nothing of ours either: no TLS, no parse, no task.
        let limits = &state.config.limits;
        let ip = peer.ip().to_canonical();
        let per_ip = if !limits.counts_per_address(ip) {
            None
        } else {
            match state.ip_seats.take(ip) {
                Some(seat) => Some(seat),
                None => {
                    debug!(%peer, "connection limit per address reached; refusing");
                    continue;
                }
            }
        };
        let _ = tcp.set_nodelay(true);
        let (tls, router, st) = (tls.clone(), router.clone(), Arc::clone(&state));
        let span = tracing::debug_span!("conn", %peer);
        let conn = async move {
            let _counted = st.metrics.connection();
            handle(tcp, peer, tls, router, st).await;
            drop((slot, per_ip));
        };
        state.tracker.spawn(conn.instrument(span));
    }
}

async fn handle(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: Router,
    state: Arc<AppState>,
) {
    let deadline = state.config.limits.handshake_timeout;
    match tls {
        Some(acceptor) => match timeout(deadline, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => serve_http(stream, peer, router, state).await,
            Ok(Err(e)) => debug!(error = %e, "TLS handshake failed"),
            Err(_) => debug!("TLS handshake timed out"),
        },
        None => {
            // hyper's header timeout starts with the first byte; a silent peer is cut here.
            match timeout(deadline, tcp.readable()).await {
                Ok(Ok(())) => serve_http(tcp, peer, router, state).await,
                _ => debug!("no request in time"),
            }
        }
    }
}

async fn serve_http<S>(io: S, peer: SocketAddr, router: Router, state: Arc<AppState>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = &state.config.limits;
    // Handlers that throttle by address read it as axum's `ConnectInfo`.
    let router = tower::ServiceExt::map_request(
        router,
        move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        },
    );
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout)
        .max_buf_size(16 * 1024)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(router))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res { debug!(error = %e, "connection ended with an error") }
        }
        () = state.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = timeout(limits.shutdown_grace, conn).await;
        }
    }
}
