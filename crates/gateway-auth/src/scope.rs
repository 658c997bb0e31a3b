//! Where a request belongs: the region, account, API and stage that make up its
//! method ARN (`arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/{METHOD}/{path}`).

use std::sync::Arc;

use gateway_core::RequestContext;
use http::Request;

/// The deployment facts of a method ARN.
///
/// Inside the gateway, the API id, account and stage come from the request's
/// [`RequestContext`]; a layer used alone in front of another service takes them
/// from here. The region always comes from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiScope {
    /// The region (`us-east-1`).
    pub region: Arc<str>,
    /// The account owning the API (twelve digits).
    pub account_id: Arc<str>,
    /// The API id.
    pub api_id: Arc<str>,
    /// The stage name.
    pub stage: Arc<str>,
}

impl Default for ApiScope {
    fn default() -> Self {
        Self::new("us-east-1", "123456789012", "local", "$default")
    }
}

impl ApiScope {
    /// A scope for an API deployed to `stage`.
    pub fn new(
        region: impl Into<Arc<str>>,
        account_id: impl Into<Arc<str>>,
        api_id: impl Into<Arc<str>>,
        stage: impl Into<Arc<str>>,
    ) -> Self {
        Self {
            region: region.into(),
            account_id: account_id.into(),
            api_id: api_id.into(),
            stage: stage.into(),
        }
    }

    /// The method ARN of `req`: the request's own method and its path below the
    /// stage, with the API, account and stage of its [`RequestContext`] when it has
    /// one and of this scope otherwise.
    #[must_use]
    pub fn method_arn<B>(&self, req: &Request<B>) -> String {
        let path = req.uri().path();
        match req.extensions().get::<RequestContext>() {
            Some(ctx) => format_method_arn(
                &self.region,
                nonempty(&ctx.account_id).unwrap_or(&self.account_id),
                nonempty(&ctx.api_id).unwrap_or(&self.api_id),
                nonempty(&ctx.stage).unwrap_or(&self.stage),
                req.method().as_str(),
                ctx.route_path(path),
            ),
            None => format_method_arn(
                &self.region,
                &self.account_id,
                &self.api_id,
                &self.stage,
                req.method().as_str(),
                path,
            ),
        }
    }

    /// The API's ARN prefix, `arn:aws:execute-api:{region}:{account}:{api-id}`.
    #[must_use]
    pub fn api_arn(&self) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{}",
            self.region, self.account_id, self.api_id
        )
    }
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{method}/{path}` with the
/// path's leading `/` dropped (`/` itself gives an empty last segment, as AWS's do).
#[must_use]
pub fn format_method_arn(
    region: &str,
    account: &str,
    api: &str,
    stage: &str,
    method: &str,
    path: &str,
) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut arn = String::with_capacity(
        40 + region.len() + account.len() + api.len() + stage.len() + method.len() + path.len(),
    );
    arn.push_str("arn:aws:execute-api:");
    for part in [
        region, ":", account, ":", api, "/", stage, "/", method, "/", path,
    ] {
        arn.push_str(part);
    }
    arn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_use_the_context_when_there_is_one() {
        let scope = ApiScope::new("eu-west-1", "111122223333", "standalone", "prod");
        let req = Request::get("/pets/7").body(()).unwrap_or_default();
        assert_eq!(
            scope.method_arn(&req),
            "arn:aws:execute-api:eu-west-1:111122223333:standalone/prod/GET/pets/7"
        );
        let mut req = Request::post("/test/pets").body(()).unwrap_or_default();
        req.extensions_mut().insert(RequestContext {
            api_id: "abc123".into(),
            account_id: "444455556666".into(),
            stage: "test".into(),
            ..RequestContext::default()
        });
        assert_eq!(
            scope.method_arn(&req),
            "arn:aws:execute-api:eu-west-1:444455556666:abc123/test/POST/pets"
        );
        let req = Request::get("/").body(()).unwrap_or_default();
        assert!(scope.method_arn(&req).ends_with("standalone/prod/GET/"));
    }
}
