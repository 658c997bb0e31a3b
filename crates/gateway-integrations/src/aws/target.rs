//! AWS integration URIs: `arn:aws:apigateway:{region}:{service}:action/{Action}` and
//! `arn:aws:apigateway:{region}:{service}:path/{path}`.
//!
//! `{service}` may be `{subdomain}.{service}` (`runtime.sagemaker`, `my-bucket.s3`),
//! an action may be followed by `&Name=Value` parameters (as the CDK writes action
//! parameters), and a path by a `?query`. A path may hold `:` (a Lambda function ARN
//! in `path/2015-03-31/functions/arn:aws:lambda:.../invocations`).

use percent_encoding::percent_decode_str;

/// A parsed AWS integration URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsTarget {
    partition: String,
    region: String,
    subdomain: Option<String>,
    service: String,
    api: TargetApi,
}

/// The API part of an [`AwsTarget`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetApi {
    /// `action/{name}`, with the `&Name=Value` parameters that follow it (decoded).
    Action {
        /// The action (`SendMessage`).
        name: String,
        /// The parameters written after it.
        params: Vec<(String, String)>,
    },
    /// `path/{path}`, with its query string's parameters (decoded).
    Path {
        /// The path, without the leading `/`, as written.
        path: String,
        /// The query string's parameters.
        query: Vec<(String, String)>,
    },
}

/// An integration URI that is not an AWS service target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{uri}` is not an AWS integration URI \
     (arn:aws:apigateway:{{region}}:{{service}}:action/{{Action}} or :path/{{path}}): {reason}"
)]
pub struct TargetError {
    /// The URI.
    pub uri: String,
    /// What is wrong with it.
    pub reason: String,
}

impl AwsTarget {
    /// Parses `arn:{partition}:apigateway:{region}:{[subdomain.]service}:action/{Action}`
    /// or `...:path/{path}`.
    ///
    /// # Errors
    ///
    /// When the URI does not have that shape.
    pub fn parse(uri: &str) -> Result<Self, TargetError> {
        let error = |reason: &str| TargetError {
            uri: uri.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = uri.trim().splitn(6, ':').collect();
        let [arn, partition, apigateway, region, service, api] = parts.as_slice() else {
            return Err(error("it has fewer than six `:`-separated parts"));
        };
        if *arn != "arn" || *apigateway != "apigateway" {
            return Err(error("it must start with arn:{partition}:apigateway:"));
        }
        if partition.is_empty() {
            return Err(error("the partition is empty"));
        }
        let (subdomain, service) = match service.rsplit_once('.') {
            Some((sub, service)) => (Some(sub), service),
            None => (None, *service),
        };
        let label = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        };
        if !label(service) || service.contains('.') {
            return Err(error("the service name is empty or not a host label"));
        }
        if subdomain.is_some_and(|s| !label(s)) {
            return Err(error("the subdomain is empty or not a host name"));
        }
        if !region.is_empty() && !label(region) {
            return Err(error("the region is not a host label"));
        }
        let api = if let Some(action) = api.strip_prefix("action/") {
            let (name, params) = match action.find(['&', '?']) {
                Some(i) => (&action[..i], parse_pairs(&action[i + 1..])),
                None => (action, Vec::new()),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(error("the action is empty or not alphanumeric"));
            }
            TargetApi::Action {
                name: name.to_owned(),
                params,
            }
        } else if let Some(path) = api.strip_prefix("path/") {
            let (path, query) = match path.split_once('?') {
                Some((path, query)) => (path, parse_pairs(query)),
                None => (path, Vec::new()),
            };
            TargetApi::Path {
                path: path.trim_start_matches('/').to_owned(),
                query,
            }
        } else {
            return Err(error("the API part must start with action/ or path/"));
        };
        Ok(Self {
            partition: (*partition).to_owned(),
            region: (*region).to_owned(),
            subdomain: subdomain.map(str::to_owned),
            service: service.to_owned(),
            api,
        })
    }

    /// The region the URI names (empty when it names none: the configured region is
    /// used then).
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service (`sqs`; `sagemaker` for `runtime.sagemaker`).
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The subdomain (`runtime` for `runtime.sagemaker`).
    #[must_use]
    pub fn subdomain(&self) -> Option<&str> {
        self.subdomain.as_deref()
    }

    /// The action or path.
    #[must_use]
    pub fn api(&self) -> &TargetApi {
        &self.api
    }

    /// The partition (`aws`, `aws-cn`).
    #[must_use]
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// `{subdomain}.{service}` or `{service}`.
    pub(crate) fn endpoint_prefix(&self) -> String {
        match &self.subdomain {
            Some(sub) => format!("{sub}.{}", self.service),
            None => self.service.clone(),
        }
    }
}

/// `a=1&b=x%20y` as decoded pairs (`+` is a space); empty pairs are skipped.
pub(crate) fn parse_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}
