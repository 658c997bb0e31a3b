//! What a request tells policies: its source address, trusted VPC headers, user
//! agent and referer.

use std::net::IpAddr;

use gateway_core::RequestContext;
use gateway_core::context::ClientAddr;
use http::Request;
use http::header::{HeaderName, REFERER, USER_AGENT};

use super::{PolicyRequest, Principal, SECURE_TRANSPORT};

/// Request headers a trusted front proxy sets with the caller's VPC and VPC
/// endpoint ids, the `aws:SourceVpc` and `aws:SourceVpce` of resource policies.
/// Without them those keys are absent from every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkHeaders {
    /// The header naming the VPC (`aws:SourceVpc`).
    pub vpc: Option<HeaderName>,
    /// The header naming the VPC endpoint (`aws:SourceVpce`).
    pub vpce: Option<HeaderName>,
}

/// The facts of a request that condition keys test, read once per request.
pub(crate) struct RequestFacts {
    source_ip: Option<IpAddr>,
    vpc: Option<String>,
    vpce: Option<String>,
    user_agent: Option<String>,
    referer: Option<String>,
}

impl RequestFacts {
    pub(crate) fn of<B>(req: &Request<B>, network: &NetworkHeaders) -> Self {
        let header = |name: Option<&HeaderName>| {
            name.and_then(|name| req.headers().get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let source_ip = req
            .extensions()
            .get::<RequestContext>()
            .and_then(|ctx| ctx.identity.source_ip.parse().ok())
            .or_else(|| req.extensions().get::<ClientAddr>().map(|a| a.0.ip()));
        Self {
            source_ip,
            vpc: header(network.vpc.as_ref()),
            vpce: header(network.vpce.as_ref()),
            user_agent: header(Some(&USER_AGENT)),
            referer: header(Some(&REFERER)),
        }
    }

    pub(crate) fn request<'a>(
        &'a self,
        method_arn: &'a str,
        principal: Principal<'a>,
    ) -> PolicyRequest<'a> {
        let mut request = PolicyRequest::invoke(method_arn)
            .principal(principal)
            .source_ip(self.source_ip)
            .vpc(self.vpc.as_deref(), self.vpce.as_deref());
        request.user_agent = self.user_agent.as_deref();
        request.referer = self.referer.as_deref();
        request.secure_transport = SECURE_TRANSPORT;
        request
    }
}
