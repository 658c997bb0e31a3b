//! Outbound TLS against real TLS servers on loopback, with certificates made per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::Ordering;

use gateway_core::outbound::testing::{ServerCert, TestCa, TlsListener};
use gateway_core::outbound::{
    CertificateCheck, ConnectError, TlsClient, TlsError, Transport, connect,
};
use http::uri::Authority;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn tls(client: TlsClient, check: CertificateCheck, server_name: Option<&str>) -> Transport {
    Transport::Tls {
        client,
        check,
        server_name: server_name.map(str::to_owned),
    }
}

/// Connects through `transport` to a listener presenting `cert`, and echoes one
/// message when the handshake succeeds.
async fn exchange(cert: &ServerCert, transport: &Transport) -> Result<(), ConnectError> {
    let listener = TlsListener::bind(cert).await.unwrap();
    let authority: Authority = listener.local_addr().unwrap().to_string().parse().unwrap();
    let handshakes = listener.handshakes();
    let server = tokio::spawn(async move {
        let tcp = listener.accept_tcp().await.unwrap();
        let Ok(mut tls) = listener.handshake(tcp).await else {
            return;
        };
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).await.unwrap();
        tls.write_all(&buf).await.unwrap();
        tls.shutdown().await.unwrap();
    });
    let result = connect(&authority, transport).await;
    let outcome = match result {
        Ok(mut stream) => {
            stream.write_all(b"hello").await.unwrap();
            let mut back = Vec::new();
            stream.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, b"hello");
            assert_eq!(handshakes.load(Ordering::SeqCst), 1);
            Ok(())
        }
        Err(err) => Err(err),
    };
    server.await.unwrap();
    outcome
}

fn tls_reason(err: ConnectError) -> String {
    match err {
        ConnectError::Tls { source, .. } => source.to_string(),
        other => panic!("expected a TLS failure, got {other}"),
    }
}

#[tokio::test]
async fn a_certificate_from_a_trusted_authority_passes() {
    let ca = TestCa::new().unwrap();
    let cert = ca.issue(&["localhost", "127.0.0.1"]).unwrap();
    exchange(
        &cert,
        &tls(ca.client().unwrap(), CertificateCheck::Full, None),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unknown_authority_is_refused_unless_skipped() {
    let ca = TestCa::new().unwrap();
    let other = TestCa::new().unwrap();
    let cert = ca.issue(&["127.0.0.1"]).unwrap();
    let err = exchange(
        &cert,
        &tls(other.client().unwrap(), CertificateCheck::Full, None),
    )
    .await
    .unwrap_err();
    assert!(tls_reason(err).contains("UnknownIssuer"));
    // insecureSkipVerification accepts a private authority's certificate.
    exchange(
        &cert,
        &tls(
            other.client().unwrap(),
            CertificateCheck::SkipAuthority,
            None,
        ),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn skipping_the_authority_accepts_self_signed_but_still_checks_the_name() {
    let cert = ServerCert::self_signed(&["127.0.0.1"]).unwrap();
    let client = TestCa::new().unwrap().client().unwrap();
    let err = exchange(&cert, &tls(client.clone(), CertificateCheck::Full, None))
        .await
        .unwrap_err();
    assert!(tls_reason(err).contains("UnknownIssuer"));
    exchange(
        &cert,
        &tls(client.clone(), CertificateCheck::SkipAuthority, None),
    )
    .await
    .unwrap();

    let wrong_name = ServerCert::self_signed(&["elsewhere.example"]).unwrap();
    let err = exchange(
        &wrong_name,
        &tls(client, CertificateCheck::SkipAuthority, None),
    )
    .await
    .unwrap_err();
    assert!(
        tls_reason(err).contains("not valid for name"),
        "name check kept"
    );
}

#[tokio::test]
async fn expired_certificates_fail_either_way() {
    let ca = TestCa::new().unwrap();
    let cert = ca.issue_expired(&["127.0.0.1"]).unwrap();
    for check in [CertificateCheck::Full, CertificateCheck::SkipAuthority] {
        let err = exchange(&cert, &tls(ca.client().unwrap(), check, None))
            .await
            .unwrap_err();
        assert!(tls_reason(err).contains("expired"), "{check:?}");
    }
}

#[tokio::test]
async fn a_server_name_to_verify_replaces_the_host() {
    let ca = TestCa::new().unwrap();
    let cert = ca.issue(&["backend.internal"]).unwrap();
    let err = exchange(
        &cert,
        &tls(ca.client().unwrap(), CertificateCheck::Full, None),
    )
    .await
    .unwrap_err();
    assert!(tls_reason(err).contains("not valid for name"));
    exchange(
        &cert,
        &tls(
            ca.client().unwrap(),
            CertificateCheck::Full,
            Some("backend.internal"),
        ),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn plain_connections_and_refused_ports() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let authority: Authority = addr.to_string().parse().unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"plain").await.unwrap();
    });
    let mut stream = connect(&authority, &Transport::Plain).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "plain");
    server.await.unwrap();

    // The port is free again: nothing listens there.
    match connect(&authority, &Transport::Plain).await {
        Err(ConnectError::Tcp { authority: a, .. }) => assert_eq!(a, addr.to_string()),
        other => panic!("expected a TCP failure, got {other:?}"),
    }
}

#[test]
fn bad_trust_material_is_reported_with_its_origin() {
    let err = TlsClient::builder()
        .add_pem(b"not a certificate")
        .unwrap_err();
    assert!(
        matches!(&err, TlsError::Certificate { origin, .. } if origin == "PEM text"),
        "{err}"
    );
    let err = TlsClient::builder()
        .add_pem_file("/nonexistent/ca.pem")
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");

    let ca = TestCa::new().unwrap();
    let dir = std::env::temp_dir().join(format!("gateway-core-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ca.pem");
    std::fs::write(&file, ca.pem()).unwrap();
    let client = TlsClient::builder()
        .system_roots(false)
        .add_pem_file(&file)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(client.authorities(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
