//! Opening the WebSocket: TCP, optional TLS (rustls, ring), upgrade with small buffers.

use crate::servers::Servers;
use crate::{Error, Result};
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use url::Url;

/// Any byte stream a WebSocket can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open, not yet authenticated WebSocket.
pub type Ws = WebSocketStream<Box<dyn Io>>;

/// Opens WebSockets to the server in use. A trait so the reconnect logic can be tested on a paused clock
/// without sockets.
pub trait Dial: Send + Sync + 'static {
    fn dial(&self) -> futures_util::future::BoxFuture<'static, Result<Ws>>;
}

/// The real dialer. A server that cannot be reached makes the next attempt go to the next of
/// the deployment's servers.
#[derive(Clone)]
pub struct Dialer {
    servers: Servers,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("servers", &self.servers.all())
            .finish()
    }
}

impl Dialer {
    /// `extra_root` (PEM) is trusted besides the public web roots.
    pub fn new(servers: Servers, extra_root: Option<&[u8]>, timeout: Duration) -> Result<Self> {
        let tls = servers
            .all()
            .iter()
            .any(|u| u.scheme() == "https")
            .then(|| tls_config(extra_root))
            .transpose()?;
        Ok(Self {
            servers,
            tls,
            timeout,
        })
    }

    async fn open(url: Url, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Ws> {
        let tls = tls.filter(|_| url.scheme() == "wss");
        let host = url
            .host_str()
            .ok_or_else(|| Error::BadServerUrl("the address has no host".into()))?
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| Error::Network(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match tls {
            Some(config) => {
                let name = ServerName::try_from(
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_owned(),
                )
                .map_err(|e| Error::BadServerUrl(e.to_string()))?;
                let stream = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Error::Network(format!("TLS: {e}")))?;
                Box::new(stream)
            }
            None => Box::new(tcp),
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            // A history page is capped at 256 KiB of bodies, which JSON escaping can multiply.
            .max_message_size(Some(8 << 20))
            .max_frame_size(Some(8 << 20));
        let (ws, _) = tokio_tungstenite::client_async_with_config(url.as_str(), io, Some(config))
            .await
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok(ws)
    }
}

impl Dial for Dialer {
    fn dial(&self) -> futures_util::future::BoxFuture<'static, Result<Ws>> {
        let (servers, tls, limit) = (self.servers.clone(), self.tls.clone(), self.timeout);
        Box::pin(async move {
            let base = servers.current();
            let url = crate::api::ws_url(&base)?;
            let result = tokio::time::timeout(limit, Self::open(url, tls))
                .await
                .unwrap_or_else(|_| Err(Error::Network("connecting timed out".into())));
            if matches!(result, Err(Error::Network(_))) {
                servers.failed(&base);
            }
            result
        })
    }
}

fn tls_config(extra_root: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_root {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::BadCertificate(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| Error::BadCertificate(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
