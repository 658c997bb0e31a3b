//! Serves the greeter REST API on 127.0.0.1:3000 (or the address in `LISTEN`),
//! answered in process by a `lambda_http` handler.

use std::io::Write;
use std::net::SocketAddr;

use gateway_core::model::ApiProtocol;
use lambda_http_example::{Api, Gateway, functions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let addr: SocketAddr = std::env::var("LISTEN")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;
    let api = Api::greeter(ApiProtocol::Rest, &functions())?;
    let gateway = Gateway::start(addr, api).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "gateway listening on http://{}", gateway.addr)?;
    writeln!(
        out,
        "try: curl 'http://{}/prod/hello/you?greeting=Hi'",
        gateway.addr
    )?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
