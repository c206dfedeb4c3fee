//! A throw-away certificate for `localhost`, for TLS tests.

use confab_server::TlsFiles;
use tempfile::TempDir;

/// A self-signed certificate for `localhost`, written as PEM files.
#[derive(Debug)]
pub struct TestCert {
    /// The certificate in PEM, for a client to trust.
    pub pem: String,
    /// The certificate in DER, for a rustls root store.
    pub der: Vec<u8>,
    /// The files for the server's config.
    pub files: TlsFiles,
    _dir: TempDir,
}

impl TestCert {
    pub fn localhost() -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        std::fs::write(&files.cert, cert.cert.pem()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&files.key, cert.key_pair.serialize_pem()).unwrap_or_else(|e| panic!("{e}"));
        Self {
            pem: cert.cert.pem(),
            der: cert.cert.der().to_vec(),
            files,
            _dir: dir,
        }
    }
}
