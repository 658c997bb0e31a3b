//! A throwaway certificate authority and a TLS listener, for tests that need real
//! `https` servers on loopback (feature `test-tls`).
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use gateway_core::outbound::testing::{TestCa, TlsListener};
//!
//! let ca = TestCa::new()?;
//! let listener = TlsListener::bind(&ca.issue(&["localhost", "127.0.0.1"])?).await?;
//! let client = ca.client()?; // trusts this authority only
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::{TlsClient, TlsError};

/// A certificate could not be generated.
#[derive(Debug, thiserror::Error)]
#[error("test certificate: {0}")]
pub struct CertError(#[from] rcgen::Error);

/// A certificate authority made for one test.
#[derive(Debug)]
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server's certificate chain and private key.
#[derive(Debug)]
pub struct ServerCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl TestCa {
    /// A new authority with a fresh key.
    ///
    /// # Errors
    ///
    /// When key generation or signing fails.
    pub fn new() -> Result<Self, CertError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        // A name of its own, so that two authorities of one test never collide.
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        params.distinguished_name.push(
            DnType::CommonName,
            format!("gateway test authority {}-{serial}", std::process::id()),
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Self { issuer })
    }

    /// The authority's certificate as PEM text.
    #[must_use]
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A client that trusts this authority and nothing else.
    ///
    /// # Errors
    ///
    /// When the TLS library refuses the configuration.
    pub fn client(&self) -> Result<TlsClient, TlsError> {
        TlsClient::builder()
            .system_roots(false)
            .add_pem(self.pem().as_bytes())?
            .build()
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid now.
    ///
    /// # Errors
    ///
    /// When a name is invalid or signing fails.
    pub fn issue(&self, names: &[&str]) -> Result<ServerCert, CertError> {
        self.issue_with(names, |_| {})
    }

    /// A server certificate for `names` that expired in 2001.
    ///
    /// # Errors
    ///
    /// When a name is invalid or signing fails.
    pub fn issue_expired(&self, names: &[&str]) -> Result<ServerCert, CertError> {
        self.issue_with(names, |params| {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        })
    }

    fn issue_with(
        &self,
        names: &[&str],
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Result<ServerCert, CertError> {
        let mut params = leaf_params(names)?;
        edit(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ServerCert {
            chain: vec![cert.der().clone(), self.issuer.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }
}

impl ServerCert {
    /// A self-signed certificate for `names`: no authority issued it.
    ///
    /// # Errors
    ///
    /// When a name is invalid or signing fails.
    pub fn self_signed(names: &[&str]) -> Result<Self, CertError> {
        let key = KeyPair::generate()?;
        let cert = leaf_params(names)?.self_signed(&key)?;
        Ok(Self {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// A rustls server configuration presenting this certificate, offering ALPN
    /// `http/1.1`.
    ///
    /// # Errors
    ///
    /// When the TLS library refuses the certificate or key.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn leaf_params(names: &[&str]) -> Result<CertificateParams, rcgen::Error> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "gateway test server");
    params.is_ca = IsCa::ExplicitNoCa;
    Ok(params)
}

/// A TLS listener on `127.0.0.1:0` that counts completed handshakes.
pub struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: Arc<AtomicUsize>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("listener", &self.listener)
            .field("handshakes", &self.handshakes)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Listens on a free loopback port, presenting `cert`.
    ///
    /// # Errors
    ///
    /// When binding fails or the certificate is refused.
    pub async fn bind(cert: &ServerCert) -> io::Result<Self> {
        let config = cert.server_config().map_err(io::Error::other)?;
        Ok(Self {
            listener: TcpListener::bind("127.0.0.1:0").await?,
            acceptor: TlsAcceptor::from(config),
            handshakes: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// When the socket has no address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A counter of completed handshakes, readable after the listener moved into a
    /// server task.
    #[must_use]
    pub fn handshakes(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.handshakes)
    }

    /// The next TCP connection, not yet through its handshake.
    ///
    /// # Errors
    ///
    /// When accepting fails.
    pub async fn accept_tcp(&self) -> io::Result<TcpStream> {
        Ok(self.listener.accept().await?.0)
    }

    /// Runs the server side of the handshake on a connection from
    /// [`accept_tcp`](Self::accept_tcp); spawn it so that a client that fails its
    /// handshake does not hold up the next one.
    pub fn handshake(
        &self,
        stream: TcpStream,
    ) -> impl Future<Output = io::Result<TlsStream<TcpStream>>> + Send + 'static {
        let accept = self.acceptor.accept(stream);
        let handshakes = Arc::clone(&self.handshakes);
        async move {
            let stream = accept.await?;
            handshakes.fetch_add(1, Ordering::SeqCst);
            Ok(stream)
        }
    }
}
