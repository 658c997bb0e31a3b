//! The example served on a real socket: HTTP requests reach the `lambda_http`
//! handler through AWS_PROXY routes of a REST API and of an HTTP API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use bytes::Bytes;
use gateway_core::model::ApiProtocol;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use lambda_http_example::{Api, Gateway, functions};
use tokio::net::TcpStream;

/// Sends one HTTP/1.1 request over a fresh connection.
async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: &str,
) -> (StatusCode, http::HeaderMap, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("user-agent", "example-test/1.0")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    drop(sender);
    let _ = driver.await;
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn start(protocol: ApiProtocol) -> Gateway {
    let api = Api::greeter(protocol, &functions()).unwrap();
    Gateway::start("127.0.0.1:0".parse().unwrap(), api)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rest_api_reaches_the_handler() {
    let gateway = start(ApiProtocol::Rest).await;
    let (status, headers, body) =
        send(gateway.addr, Method::GET, "/prod/hello/you?greeting=Hi", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"message": "Hi, you!", "method": "GET"})
    );

    let (status, _, body) = send(gateway.addr, Method::POST, "/prod/hello/there", "{}").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"],
        "Hello, there!"
    );

    // No such route: the gateway answers, as API Gateway does, without invoking.
    let (status, headers, body) = send(gateway.addr, Method::GET, "/prod/bye", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        headers["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    assert_eq!(body, r#"{"message":"Missing Authentication Token"}"#);
}

#[tokio::test]
async fn an_http_api_reaches_the_same_handler() {
    let gateway = start(ApiProtocol::Http).await;
    let (status, _, body) =
        send(gateway.addr, Method::GET, "/hello/world?greeting=Howdy", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"message": "Howdy, world!", "method": "GET"})
    );
    let (status, _, _) = send(gateway.addr, Method::DELETE, "/hello/world", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
