//! Security schemes and requirements → a method's authorization.

use gateway_core::model::{Authorization, AuthorizationType, Route};
use serde_json::Value;

use super::{Mapper, Result};
use crate::import::doc::{Operation, SecurityRequirement};

/// What a security scheme means to API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SchemeUse {
    /// The scheme authorizes callers.
    Authorizer(AuthorizationType),
    /// The scheme is API Gateway's API key (`x-api-key`).
    ApiKey,
    /// The scheme means nothing to API Gateway (a warning was given).
    Ignored,
}

impl Mapper<'_> {
    pub(super) fn security_schemes(&mut self) -> Result<()> {
        for (name, scheme) in &self.doc.components.security_schemes {
            let location = format!("components.securitySchemes.{name}");
            let scheme_use = if let Some(authorizer) = &scheme.authorizer {
                let authorizer_location = format!("{location}.x-amazon-apigateway-authorizer");
                let kind = match authorizer.get("type") {
                    Some(Value::String(kind)) => kind.to_ascii_lowercase(),
                    Some(_) => {
                        return Err(self.error(
                            format!("{authorizer_location}.type"),
                            "must be a string (token, request, cognito_user_pools, jwt)",
                        ));
                    }
                    None => {
                        return Err(self.error(
                            format!("{authorizer_location}.type"),
                            "missing (token, request, cognito_user_pools, jwt)",
                        ));
                    }
                };
                let kind = match kind.as_str() {
                    "token" | "request" => AuthorizationType::Custom,
                    "cognito_user_pools" => AuthorizationType::CognitoUserPools,
                    "jwt" => AuthorizationType::Jwt,
                    other => {
                        return Err(self.error(
                            format!("{authorizer_location}.type"),
                            format!(
                                "`{other}` is not an authorizer type (token, request, \
                                 cognito_user_pools, jwt)"
                            ),
                        ));
                    }
                };
                self.warn(
                    authorizer_location,
                    format!(
                        "authorizer settings are not supported yet; methods using `{name}` keep \
                         its authorization type and name, but no authorizer is configured"
                    ),
                );
                SchemeUse::Authorizer(kind)
            } else if let Some(authtype) = &scheme.authtype {
                if authtype.eq_ignore_ascii_case("awsSigv4") {
                    SchemeUse::Authorizer(AuthorizationType::AwsIam)
                } else if authtype.eq_ignore_ascii_case("cognito_user_pools") {
                    SchemeUse::Authorizer(AuthorizationType::CognitoUserPools)
                } else {
                    // `custom`, or a free-form label of a Lambda authorizer.
                    SchemeUse::Authorizer(AuthorizationType::Custom)
                }
            } else if is_api_key(
                scheme.kind.as_deref(),
                scheme.location.as_deref(),
                scheme.name.as_deref(),
            ) {
                SchemeUse::ApiKey
            } else {
                self.warn(
                    &location,
                    format!(
                        "security scheme of type `{}` has no API Gateway meaning without \
                         x-amazon-apigateway-authtype or x-amazon-apigateway-authorizer; \
                         methods requiring it are not protected by it",
                        scheme.kind.as_deref().unwrap_or("?")
                    ),
                );
                SchemeUse::Ignored
            };
            self.schemes.insert(name.clone(), scheme_use);
        }
        Ok(())
    }

    pub(super) fn security(
        &mut self,
        operation: &Operation,
        location: &str,
        route: &mut Route,
    ) -> Result<()> {
        let doc = self.doc;
        let (requirements, requirements_location): (&[SecurityRequirement], String) =
            match (&operation.security, &doc.security) {
                (Some(own), _) => (own, format!("{location}.security")),
                (None, Some(root)) => (root, "security".to_owned()),
                (None, None) => (&[], String::new()),
            };
        // API Gateway reads every listed scheme together (AWS's own exports list the
        // API key and the authorizer as separate requirements), not as alternatives.
        let mut chosen: Option<(String, AuthorizationType, Vec<String>)> = None;
        for (i, requirement) in requirements.iter().enumerate() {
            for (name, scopes) in requirement {
                let scheme_location = format!("{requirements_location}[{i}].{name}");
                let scheme_use = *self.schemes.get(name).ok_or_else(|| {
                    self.error(
                        &scheme_location,
                        format!("`{name}` is not defined in components.securitySchemes"),
                    )
                })?;
                match scheme_use {
                    SchemeUse::ApiKey => route.api_key_required = true,
                    SchemeUse::Ignored => {}
                    SchemeUse::Authorizer(kind) => match &chosen {
                        None => chosen = Some((name.clone(), kind, scopes.clone())),
                        Some((first, ..)) if first == name => {}
                        Some((first, ..)) => {
                            let message = format!(
                                "a method has one authorization type; `{first}` is used and \
                                 `{name}` is ignored"
                            );
                            self.warn(scheme_location, message);
                        }
                    },
                }
            }
        }
        if let Some((name, kind, scopes)) = chosen {
            route.authorization = Authorization {
                kind,
                authorizer: (kind != AuthorizationType::AwsIam).then_some(name),
                scopes,
            };
        }
        if let Some(auth) = &operation.auth {
            let auth_location = format!("{location}.x-amazon-apigateway-auth");
            self.warn_other(&auth_location, &auth.other, &[]);
            route.authorization = match auth.kind.as_deref() {
                Some(kind) if kind.eq_ignore_ascii_case("AWS_IAM") => Authorization {
                    kind: AuthorizationType::AwsIam,
                    ..Authorization::default()
                },
                Some(kind) if kind.eq_ignore_ascii_case("NONE") => Authorization::default(),
                Some(other) => {
                    return Err(self.error(
                        format!("{auth_location}.type"),
                        format!("`{other}` is not an authorization type here (NONE, AWS_IAM)"),
                    ));
                }
                None => {
                    return Err(
                        self.error(format!("{auth_location}.type"), "missing (NONE, AWS_IAM)")
                    );
                }
            };
        }
        Ok(())
    }
}

/// Whether a security scheme is API Gateway's API key: `apiKey` in the `x-api-key`
/// header.
fn is_api_key(kind: Option<&str>, location: Option<&str>, name: Option<&str>) -> bool {
    kind == Some("apiKey")
        && location == Some("header")
        && name.is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_the_x_api_key_header() {
        assert!(is_api_key(
            Some("apiKey"),
            Some("header"),
            Some("x-api-key")
        ));
        assert!(is_api_key(
            Some("apiKey"),
            Some("header"),
            Some("X-API-Key")
        ));
        assert!(!is_api_key(
            Some("apiKey"),
            Some("query"),
            Some("x-api-key")
        ));
        assert!(!is_api_key(
            Some("apiKey"),
            Some("header"),
            Some("Authorization")
        ));
        assert!(!is_api_key(Some("http"), Some("header"), Some("x-api-key")));
    }
}
