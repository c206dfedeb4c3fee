//! The naive limit: a bare tokio broadcast loop. Every text frame a client sends goes to every
//! connection through a broadcast channel; each connection's writer sends (and flushes) one
//! frame at a time — one write syscall per frame per connection. No auth, no storage.

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

pub(crate) async fn serve() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    #[allow(clippy::print_stdout)]
    {
        println!("listening on {port}");
    }
    let (tx, _) = broadcast::channel::<Message>(4096);
    loop {
        let (tcp, _) = listener.accept().await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            let mut rx = tx.subscribe();
            let writer = tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(msg) => {
                            if sink.send(msg).await.is_err() {
                                break;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
            while let Some(Ok(msg)) = stream.next().await {
                if msg.is_text() {
                    let _ = tx.send(msg);
                }
            }
            writer.abort();
        });
    }
}
