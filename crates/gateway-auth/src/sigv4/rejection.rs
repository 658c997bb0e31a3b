//! Why a signed request was refused, and the answer AWS gives for each reason.

use gateway_core::{GatewayError, GatewayResponseType};

use crate::policy::{self, Decision};

/// A request IAM authorization refuses. Every variant answers `403 Forbidden`;
/// [`into_gateway_error`](Self::into_gateway_error) gives AWS's message and
/// `x-amzn-ErrorType` for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The `Authorization` header or the presigned parameters are incomplete or
    /// malformed (`IncompleteSignatureException`).
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key is unknown, or the session token does not belong to it
    /// (`UnrecognizedClientException`).
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The temporary credentials have expired (`ExpiredTokenException`).
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The request was signed too long ago, too far in the future, or past the
    /// expiry of its presigned URL (`InvalidSignatureException`).
    #[error("{0}")]
    SignatureExpired(String),
    /// The credential scope or a signed value is not acceptable: wrong region,
    /// service or date, or a payload that differs from its declared hash
    /// (`InvalidSignatureException`).
    #[error("{0}")]
    InvalidSignature(String),
    /// The signature differs from the one computed with the credential's secret
    /// (`InvalidSignatureException`). The answer shows the canonical request and
    /// string to sign, as AWS's does, so that clients can find the difference.
    #[error("The request signature we calculated does not match the signature you provided.")]
    SignatureMismatch {
        /// The canonical request the server computed.
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
    },
    /// The caller's identity policies do not allow `execute-api:Invoke` on the
    /// method (`AccessDeniedException`).
    #[error(
        "User: {user_arn} is not authorized to perform: execute-api:Invoke on resource: {resource}"
    )]
    AccessDenied {
        /// The caller's ARN.
        user_arn: String,
        /// The method ARN.
        resource: String,
        /// Whether a `Deny` statement matched (rather than no statement at all).
        explicit: bool,
    },
}

impl Rejection {
    /// The gateway response AWS answers with.
    ///
    /// The gateway-response type (which an API can customise) is
    /// `MISSING_AUTHENTICATION_TOKEN` for a missing or malformed signature,
    /// `EXPIRED_TOKEN` for expired credentials, `ACCESS_DENIED` for a policy
    /// denial, and `INVALID_SIGNATURE` for everything else, unknown access keys
    /// included; the `x-amzn-ErrorType` is AWS's exception name in every case.
    #[must_use]
    pub fn into_gateway_error(self) -> GatewayError {
        use GatewayResponseType as T;
        match self {
            Self::MissingAuthenticationToken => GatewayError::new(T::MissingAuthenticationToken),
            Self::IncompleteSignature(message) => GatewayError::new(T::MissingAuthenticationToken)
                .with_message(message)
                .with_error_type("IncompleteSignatureException"),
            Self::UnrecognizedClient => GatewayError::new(T::InvalidSignature)
                .with_message("The security token included in the request is invalid.")
                .with_error_type("UnrecognizedClientException"),
            Self::ExpiredToken => GatewayError::new(T::ExpiredToken),
            Self::SignatureExpired(message) | Self::InvalidSignature(message) => {
                GatewayError::new(T::InvalidSignature).with_message(message)
            }
            Self::SignatureMismatch {
                canonical_request,
                string_to_sign,
            } => GatewayError::new(T::InvalidSignature).with_message(format!(
                "The request signature we calculated does not match the signature you \
                 provided. Check your AWS Secret Access Key and signing method. Consult the \
                 service documentation for details.\n\nThe Canonical String for this request \
                 should have been\n'{canonical_request}'\n\nThe String-to-Sign should have \
                 been\n'{string_to_sign}'\n"
            )),
            Self::AccessDenied {
                user_arn,
                resource,
                explicit,
            } => {
                let decision = if explicit {
                    Decision::Deny
                } else {
                    Decision::Implicit
                };
                policy::access_denied(&user_arn, &resource, decision)
            }
        }
    }

    /// The response a layer answers with, in any body type that holds bytes.
    #[must_use]
    pub fn into_response<B: From<bytes::Bytes>>(self) -> http::Response<B> {
        self.into_gateway_error().into_response_with()
    }
}

impl From<Rejection> for GatewayError {
    fn from(rejection: Rejection) -> Self {
        rejection.into_gateway_error()
    }
}
