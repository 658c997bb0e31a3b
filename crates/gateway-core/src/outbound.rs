//! Outbound connections: plain TCP, or TLS verified against a configurable trust
//! store, for every crate that calls out (HTTP backends, AWS service endpoints, the
//! Lambda Invoke API, JSON Web Key Sets).
//!
//! [`TlsClient`] holds the trust store: the operating system's certificates, extra
//! PEM certificate authorities (a private CA, a test CA), or both. It is cheap to
//! clone and meant to be built once per gateway and shared. [`connect`] opens one
//! connection to an authority, wrapping it in TLS for `https`; the HTTP protocol
//! above it is the caller's (this module offers ALPN `http/1.1` only).
//!
//! [`CertificateCheck::SkipAuthority`] is AWS's `tlsConfig.insecureSkipVerification`:
//! a certificate that no trusted authority issued (self-signed, or from a private
//! authority) is accepted, but the chain must still be well formed, within its
//! validity dates and issued for the host name.
//!
//! Feature `test-tls` adds the `testing` module: a throwaway certificate authority and TLS
//! test servers.

use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use http::uri::Authority;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

#[cfg(feature = "test-tls")]
pub mod testing;

/// A trust store that cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate file could not be read.
    #[error("cannot read certificate file `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// PEM text holds no certificate, or one that cannot be parsed.
    #[error("{origin}: {reason}")]
    Certificate {
        /// Where the text came from (a file name, or `PEM text`).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The TLS library refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// How a server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CertificateCheck {
    /// The chain must lead to a trusted authority, be within its dates and name
    /// the host.
    #[default]
    Full,
    /// AWS's `insecureSkipVerification`: the chain may lead to any authority,
    /// including none (a self-signed certificate), but must still be within its
    /// dates and name the host.
    SkipAuthority,
}

/// The client side of outbound TLS: trusted authorities and the two certificate
/// checks built from them. Cloning shares it.
#[derive(Clone)]
pub struct TlsClient {
    full: TlsConnector,
    skip_authority: TlsConnector,
    authorities: usize,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("authorities", &self.authorities)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// A builder, starting from the operating system's trust store.
    #[must_use]
    pub fn builder() -> TlsClientBuilder {
        TlsClientBuilder {
            roots: RootCertStore::empty(),
            system: true,
        }
    }

    /// The operating system's trust store, loaded once per process on first use.
    ///
    /// Certificates the system store holds but that cannot be parsed are skipped
    /// with a warning; a system without a store gives a client that trusts no one
    /// (every `https` connection then fails with an unknown-issuer error).
    ///
    /// # Errors
    ///
    /// When the TLS library refuses the configuration.
    pub fn system() -> Result<Self, TlsError> {
        static SYSTEM: OnceLock<Result<TlsClient, String>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                let mut roots = RootCertStore::empty();
                add_system_roots(&mut roots);
                Self::from_roots(roots).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|reason| TlsError::Config(rustls::Error::General(reason)))
    }

    fn from_roots(roots: RootCertStore) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let authorities = roots.len();
        let roots = Arc::new(roots);
        let full = client_config(&provider)?.with_root_certificates(Arc::clone(&roots));
        let any = AnyAuthority {
            strict: WebPkiServerVerifier::builder_with_provider(
                Arc::clone(&roots),
                Arc::clone(&provider),
            )
            .build()
            .ok(),
            provider: Arc::clone(&provider),
        };
        let skip_authority = client_config(&provider)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(any));
        Ok(Self {
            full: connector(full),
            skip_authority: connector(skip_authority),
            authorities,
        })
    }

    /// How many certificate authorities are trusted.
    #[must_use]
    pub fn authorities(&self) -> usize {
        self.authorities
    }

    /// Runs the TLS handshake over `stream` with `server_name`, checking the
    /// server's certificate as `check` says.
    ///
    /// # Errors
    ///
    /// When the handshake fails, the certificate among other reasons; the error's
    /// text says why (`invalid peer certificate: UnknownIssuer`, ...).
    pub async fn handshake(
        &self,
        stream: TcpStream,
        server_name: &str,
        check: CertificateCheck,
    ) -> io::Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{server_name}` is not a valid TLS server name"),
            )
        })?;
        let connector = match check {
            CertificateCheck::Full => &self.full,
            CertificateCheck::SkipAuthority => &self.skip_authority,
        };
        connector.connect(name, stream).await
    }
}

/// A configuration builder on `provider` with safe protocol versions.
fn client_config(
    provider: &Arc<CryptoProvider>,
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, TlsError> {
    Ok(ClientConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()?)
}

/// The connector for a configuration without client certificates, offering ALPN
/// `http/1.1`.
fn connector(
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
) -> TlsConnector {
    let mut config = builder.with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// Builds a trust store beyond (or instead of) the system's.
#[derive(Debug)]
pub struct TlsClientBuilder {
    roots: RootCertStore,
    system: bool,
}

impl TlsClientBuilder {
    /// Whether the operating system's trust store is included (default `true`).
    #[must_use]
    pub fn system_roots(mut self, include: bool) -> Self {
        self.system = include;
        self
    }

    /// Trusts every certificate in `pem` (PEM text, one or more `CERTIFICATE`
    /// blocks).
    ///
    /// # Errors
    ///
    /// When the text holds no certificate or one that cannot be parsed.
    pub fn add_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        self.add(pem, "PEM text")?;
        Ok(self)
    }

    /// Trusts every certificate in the PEM file at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, or holds no certificate or a bad one.
    pub fn add_pem_file(mut self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.add(&pem, &path.display().to_string())?;
        Ok(self)
    }

    fn add(&mut self, pem: &[u8], origin: &str) -> Result<(), TlsError> {
        let bad = |reason: String| TlsError::Certificate {
            origin: origin.to_owned(),
            reason,
        };
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| bad(format!("invalid PEM: {e}")))?;
            self.roots
                .add(cert)
                .map_err(|e| bad(format!("invalid certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no CERTIFICATE block found".to_owned()));
        }
        Ok(())
    }

    /// The client.
    ///
    /// # Errors
    ///
    /// When the TLS library refuses the configuration.
    pub fn build(mut self) -> Result<TlsClient, TlsError> {
        if self.system {
            add_system_roots(&mut self.roots);
        }
        TlsClient::from_roots(self.roots)
    }
}

fn add_system_roots(roots: &mut RootCertStore) {
    let loaded = rustls_native_certs::load_native_certs();
    for err in &loaded.errors {
        tracing::warn!(error = %err, "a system certificate could not be loaded");
    }
    let (_, ignored) = roots.add_parsable_certificates(loaded.certs);
    if ignored > 0 {
        tracing::warn!(
            ignored,
            "system certificates that could not be parsed were skipped"
        );
    }
    if roots.is_empty() {
        tracing::warn!("the system trust store is empty: https connections will be refused");
    }
}

/// `insecureSkipVerification`: a chain trusted by the store passes as usual; any
/// other passes when it verifies against the top certificate it presents itself,
/// which keeps the date, name and signature checks.
#[derive(Debug)]
struct AnyAuthority {
    strict: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyAuthority {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(strict) = &self.strict {
            match strict.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                // An authority the store does not hold, or one that shares a
                // trusted authority's name but not its key.
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                    | rustls::CertificateError::BadSignature,
                )) => {}
                other => return other,
            }
        }
        let top = intermediates.last().unwrap_or(end_entity);
        let mut roots = RootCertStore::empty();
        roots.add(top.clone().into_owned())?;
        let presented = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&self.provider),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        presented.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Whether a connection is plain or TLS, and how TLS is checked.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plain TCP (`http`).
    Plain,
    /// TLS (`https`).
    Tls {
        /// The trust store.
        client: TlsClient,
        /// How the certificate is checked.
        check: CertificateCheck,
        /// The name the certificate must carry and SNI announces, when it is not
        /// the authority's host (`tlsConfig.serverNameToVerify`).
        server_name: Option<String>,
    },
}

impl Transport {
    /// The port an authority without one uses: 443 for TLS, else 80.
    #[must_use]
    pub fn default_port(&self) -> u16 {
        match self {
            Self::Plain => 80,
            Self::Tls { .. } => 443,
        }
    }

    /// Whether this is TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. })
    }
}

/// Why [`connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No TCP connection (DNS, refused, unreachable).
    #[error("cannot connect to {authority}: {source}")]
    Tcp {
        /// The authority.
        authority: String,
        /// The cause.
        source: io::Error,
    },
    /// The TLS handshake failed (the certificate, among other reasons).
    #[error("TLS handshake with {authority} failed: {source}")]
    Tls {
        /// The authority.
        authority: String,
        /// The cause.
        source: io::Error,
    },
}

/// Opens a connection to `authority` (its port, else the transport's default)
/// with `TCP_NODELAY` set, and runs the TLS handshake when the transport says so.
///
/// # Errors
///
/// When the TCP connection or the TLS handshake fails.
pub async fn connect(authority: &Authority, transport: &Transport) -> Result<Stream, ConnectError> {
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = authority
        .port_u16()
        .unwrap_or_else(|| transport.default_port());
    let tcp_error = |source| ConnectError::Tcp {
        authority: authority.to_string(),
        source,
    };
    let stream = TcpStream::connect((host, port)).await.map_err(tcp_error)?;
    stream.set_nodelay(true).map_err(tcp_error)?;
    match transport {
        Transport::Plain => Ok(Stream::Plain(stream)),
        Transport::Tls {
            client,
            check,
            server_name,
        } => {
            let name = server_name.as_deref().unwrap_or(host);
            let tls = client
                .handshake(stream, name, *check)
                .await
                .map_err(|source| ConnectError::Tls {
                    authority: authority.to_string(),
                    source,
                })?;
            Ok(Stream::Tls(Box::new(tls)))
        }
    }
}

/// A connection [`connect`] opened.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
