//! A self-hosted AWS API Gateway, assembled from the gateway crates.
//!
//! This crate is the facade: it reads a configuration file ([`config`]), loads each
//! API's OpenAPI document, keeps deployments and stages ([`gateway`]), compiles every
//! stage into a tree of services ([`compile`], with the throttling of [`throttle`]), and serves them ([`server`],
//! [`pipeline`]) with an admin listener beside ([`admin`]). The `gateway` binary is a
//! thin command line over it; applications can embed it too:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (gateway, _report) = gateway::Gateway::from_config_file("gateway.yaml".as_ref())?;
//! let server = gateway::server::serve(&gateway, "127.0.0.1:0".parse()?, None).await?;
//! println!("listening on {}", server.addr);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod compile;
pub mod config;
pub mod gateway;
pub mod pipeline;
pub mod server;
pub mod throttle;

pub use crate::config::Config;
pub use crate::gateway::{Error, Gateway, GatewayBuilder, LoadReport};
pub use crate::pipeline::GatewayService;
