//! The typed shape of the parts of an OpenAPI 3.0 document the importer reads.
//!
//! The document is deserialized straight from the YAML or JSON text (not from an
//! intermediate value) so that a value of the wrong type is reported with its line,
//! column and field path. Fields the importer does not use are not declared and are
//! skipped by serde; `x-amazon-apigateway-*` extensions found anywhere are reported by
//! [`super::extensions`], and unknown keys inside the AWS objects the importer does map
//! are caught by the `other` catch-all maps below.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// Keys of an object that the importer does not map, in document order.
pub(crate) type Other = IndexMap<String, IgnoredAny>;

/// A security requirement: scheme name → scopes.
pub(crate) type SecurityRequirement = IndexMap<String, Vec<String>>;

/// The keys of a path item that hold operations (`x-amazon-apigateway-any-method` is
/// API Gateway's `ANY`).
pub(crate) const METHOD_KEYS: [&str; 9] = [
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
    "x-amazon-apigateway-any-method",
];

/// The standard path item fields that carry no API Gateway meaning.
const PATH_ITEM_DOC_KEYS: [&str; 3] = ["summary", "description", "servers"];

/// The root of an OpenAPI 3.0 document.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Document {
    pub(crate) info: Option<Info>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) paths: IndexMap<String, PathItem>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) components: Components,
    pub(crate) security: Option<Vec<SecurityRequirement>>,
    #[serde(
        rename = "x-amazon-apigateway-gateway-responses",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) gateway_responses: IndexMap<String, GatewayResponseDoc>,
    #[serde(rename = "x-amazon-apigateway-api-key-source")]
    pub(crate) api_key_source: Option<String>,
    #[serde(
        rename = "x-amazon-apigateway-binary-media-types",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) binary_media_types: Vec<String>,
    #[serde(
        rename = "x-amazon-apigateway-request-validators",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) request_validators: IndexMap<String, RequestValidatorDoc>,
    #[serde(rename = "x-amazon-apigateway-request-validator")]
    pub(crate) request_validator: Option<String>,
    #[serde(rename = "x-amazon-apigateway-importexport-version")]
    pub(crate) importexport_version: Option<Text>,
    /// The resource policy, kept as JSON; its shape is checked by the mapper.
    #[serde(rename = "x-amazon-apigateway-policy")]
    pub(crate) policy: Option<Value>,
}

/// `info`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Info {
    pub(crate) title: Option<Text>,
    pub(crate) version: Option<Text>,
    pub(crate) description: Option<String>,
}

/// A path item: its operations in document order, and shared parameters.
#[derive(Debug, Default)]
pub(crate) struct PathItem {
    pub(crate) reference: Option<String>,
    pub(crate) parameters: Vec<Parameter>,
    /// (key as written, operation), in document order.
    pub(crate) operations: Vec<(String, Operation)>,
    /// Keys that are neither operations, standard fields nor extensions.
    pub(crate) unknown: Vec<String>,
}

/// An operation (an API Gateway method).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Operation {
    #[serde(rename = "operationId")]
    pub(crate) operation_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) parameters: Vec<Parameter>,
    #[serde(rename = "requestBody")]
    pub(crate) request_body: Option<RequestBody>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) responses: IndexMap<String, Response>,
    pub(crate) security: Option<Vec<SecurityRequirement>>,
    #[serde(rename = "x-amazon-apigateway-integration")]
    pub(crate) integration: Option<IntegrationDoc>,
    #[serde(rename = "x-amazon-apigateway-request-validator")]
    pub(crate) request_validator: Option<String>,
    #[serde(rename = "x-amazon-apigateway-auth")]
    pub(crate) auth: Option<AuthDoc>,
}

/// A parameter, or a `$ref` to one.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Parameter {
    #[serde(rename = "$ref")]
    pub(crate) reference: Option<String>,
    pub(crate) name: Option<String>,
    #[serde(rename = "in")]
    pub(crate) location: Option<String>,
    pub(crate) required: Option<bool>,
}

/// A request body, or a `$ref` to one.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RequestBody {
    #[serde(rename = "$ref")]
    pub(crate) reference: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) content: IndexMap<String, MediaType>,
}

/// A media type entry of `content`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct MediaType {
    pub(crate) schema: Option<Value>,
}

/// A response, or a `$ref` to one.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Response {
    #[serde(rename = "$ref")]
    pub(crate) reference: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) headers: IndexMap<String, Header>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) content: IndexMap<String, MediaType>,
}

/// A response header, or a `$ref` to one.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Header {
    #[serde(rename = "$ref")]
    pub(crate) reference: Option<String>,
    pub(crate) required: Option<bool>,
}

/// `components`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Components {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) schemas: IndexMap<String, Value>,
    #[serde(rename = "securitySchemes", default, deserialize_with = "nullable")]
    pub(crate) security_schemes: IndexMap<String, SecurityScheme>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) parameters: IndexMap<String, Parameter>,
    #[serde(rename = "requestBodies", default, deserialize_with = "nullable")]
    pub(crate) request_bodies: IndexMap<String, RequestBody>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) responses: IndexMap<String, Response>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) headers: IndexMap<String, Header>,
    #[serde(
        rename = "x-amazon-apigateway-integrations",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) integrations: IndexMap<String, IntegrationDoc>,
}

/// A security scheme with API Gateway's extensions.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SecurityScheme {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) name: Option<String>,
    #[serde(rename = "in")]
    pub(crate) location: Option<String>,
    #[serde(rename = "x-amazon-apigateway-authtype")]
    pub(crate) authtype: Option<String>,
    #[serde(rename = "x-amazon-apigateway-authorizer")]
    pub(crate) authorizer: Option<AuthorizerDoc>,
}

/// `x-amazon-apigateway-authorizer`: a Lambda, Cognito user pool or JWT authorizer.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AuthorizerDoc {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(rename = "authorizerUri")]
    pub(crate) uri: Option<Uri>,
    #[serde(rename = "authorizerCredentials")]
    pub(crate) credentials: Option<String>,
    /// A comma-separated string (as REST APIs write it) or a list (as HTTP APIs may).
    #[serde(rename = "identitySource")]
    pub(crate) identity_source: Option<Strings>,
    #[serde(rename = "identityValidationExpression")]
    pub(crate) identity_validation_expression: Option<String>,
    /// A number, though AWS's reference types it as a string; both are read.
    #[serde(rename = "authorizerResultTtlInSeconds")]
    pub(crate) result_ttl_seconds: Option<Text>,
    #[serde(rename = "providerARNs")]
    pub(crate) provider_arns: Option<Strings>,
    #[serde(rename = "jwtConfiguration")]
    pub(crate) jwt_configuration: Option<JwtConfigurationDoc>,
    #[serde(rename = "authorizerPayloadFormatVersion")]
    pub(crate) payload_format_version: Option<Text>,
    #[serde(rename = "enableSimpleResponses")]
    pub(crate) enable_simple_responses: Option<bool>,
    #[serde(flatten)]
    pub(crate) other: Other,
}

/// An authorizer's `jwtConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct JwtConfigurationDoc {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<Strings>,
    #[serde(flatten)]
    pub(crate) other: Other,
}

/// One string or a list of strings, as written (a single string is a list of one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Strings(pub(crate) Vec<String>);

/// `x-amazon-apigateway-integration`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct IntegrationDoc {
    #[serde(rename = "$ref")]
    pub(crate) reference: Option<String>,
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) uri: Option<Uri>,
    #[serde(rename = "httpMethod")]
    pub(crate) http_method: Option<String>,
    #[serde(rename = "requestParameters", default, deserialize_with = "nullable")]
    pub(crate) request_parameters: IndexMap<String, String>,
    #[serde(rename = "requestTemplates", default, deserialize_with = "nullable")]
    pub(crate) request_templates: IndexMap<String, Option<String>>,
    #[serde(rename = "passthroughBehavior")]
    pub(crate) passthrough_behavior: Option<String>,
    #[serde(rename = "timeoutInMillis")]
    pub(crate) timeout_in_millis: Option<u64>,
    #[serde(rename = "contentHandling")]
    pub(crate) content_handling: Option<String>,
    #[serde(rename = "payloadFormatVersion")]
    pub(crate) payload_format_version: Option<Text>,
    /// HTTP APIs' AWS service action (`SQS-SendMessage`).
    #[serde(rename = "integrationSubtype")]
    pub(crate) integration_subtype: Option<String>,
    pub(crate) credentials: Option<String>,
    #[serde(rename = "cacheKeyParameters", default, deserialize_with = "nullable")]
    pub(crate) cache_key_parameters: Vec<String>,
    #[serde(rename = "cacheNamespace")]
    pub(crate) cache_namespace: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) responses: IndexMap<String, IntegrationResponseDoc>,
    #[serde(rename = "connectionType")]
    pub(crate) connection_type: Option<String>,
    #[serde(rename = "responseTransferMode")]
    pub(crate) response_transfer_mode: Option<String>,
    #[serde(rename = "tlsConfig")]
    pub(crate) tls_config: Option<TlsConfigDoc>,
    /// HTTP APIs' response parameter mapping, by status code; read as JSON so its
    /// shape is checked with a location.
    #[serde(rename = "responseParameters")]
    pub(crate) response_parameters: Option<Value>,
    #[serde(flatten)]
    pub(crate) other: Other,
}

/// An integration's `tlsConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TlsConfigDoc {
    #[serde(rename = "insecureSkipVerification")]
    pub(crate) insecure_skip_verification: Option<bool>,
    #[serde(rename = "serverNameToVerify")]
    pub(crate) server_name_to_verify: Option<String>,
    #[serde(flatten)]
    pub(crate) other: Other,
}

/// One entry of an integration's `responses`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct IntegrationResponseDoc {
    #[serde(rename = "statusCode")]
    pub(crate) status_code: Option<Text>,
    #[serde(rename = "responseParameters", default, deserialize_with = "nullable")]
    pub(crate) response_parameters: IndexMap<String, String>,
    #[serde(rename = "responseTemplates", default, deserialize_with = "nullable")]
    pub(crate) response_templates: IndexMap<String, Option<String>>,
    #[serde(rename = "contentHandling")]
    pub(crate) content_handling: Option<String>,
    #[serde(flatten)]
    pub(crate) other: Other,
}

/// One entry of `x-amazon-apigateway-gateway-responses`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GatewayResponseDoc {
    #[serde(rename = "statusCode")]
    pub(crate) status_code: Option<Text>,
    #[serde(rename = "responseParameters", default, deserialize_with = "nullable")]
    pub(crate) response_parameters: IndexMap<String, String>,
    #[serde(rename = "responseTemplates", default, deserialize_with = "nullable")]
    pub(crate) response_templates: IndexMap<String, Option<String>>,
    #[serde(flatten)]
    pub(crate) other: Other,
}

/// One entry of `x-amazon-apigateway-request-validators`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RequestValidatorDoc {
    #[serde(rename = "validateRequestBody")]
    pub(crate) validate_request_body: Option<bool>,
    #[serde(rename = "validateRequestParameters")]
    pub(crate) validate_request_parameters: Option<bool>,
    #[serde(flatten)]
    pub(crate) other: Other,
}

/// `x-amazon-apigateway-auth`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AuthDoc {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(flatten)]
    pub(crate) other: Other,
}

/// A scalar read as text: YAML and JSON writers alike put `statusCode: 200`,
/// `version: 1.0` or `payloadFormatVersion: 2.0` unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text(pub(crate) String);

/// An integration URI. CloudFormation intrinsic functions (`Fn::Sub`, `!Sub`) written
/// by SAM and CDK templates cannot be resolved here and are refused with a clear message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Uri(pub(crate) String);

/// Deserializes `null` as the type's default (YAML writes an empty section as `null`).
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl Visitor<'_> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                // `{:?}` keeps the `.0` of `1.0`, which `{}` drops.
                Ok(Text(format!("{v:?}")))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }

        deserializer.deserialize_any(TextVisitor)
    }
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringsVisitor;

        impl<'de> Visitor<'de> for StringsVisitor {
            type Value = Strings;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_owned()]))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Strings, E> {
                Ok(Strings(vec![v]))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Strings, E> {
                Ok(Strings::default())
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(Strings(items))
            }
        }

        deserializer.deserialize_any(StringsVisitor)
    }
}

impl<'de> Deserialize<'de> for Uri {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UriVisitor;

        impl<'de> Visitor<'de> for UriVisitor {
            type Value = Uri;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URI string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Uri, E> {
                Ok(Uri(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Uri, E> {
                Ok(Uri(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Uri, A::Error> {
                let key = map.next_key::<String>()?.unwrap_or_default();
                if key.starts_with("Fn::") || key == "Ref" {
                    return Err(de::Error::custom(format_args!(
                        "`{key}` is a CloudFormation intrinsic function, which cannot be \
                         resolved here; import the document CloudFormation deployed, with \
                         the URI written out"
                    )));
                }
                Err(de::Error::invalid_type(de::Unexpected::Map, &self))
            }

            fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Uri, A::Error> {
                // A YAML tag such as `!Sub` arrives as an enum.
                Err(de::Error::custom(
                    "a tagged value (such as CloudFormation's `!Sub`) cannot be resolved \
                     here; import the document CloudFormation deployed, with the URI \
                     written out",
                ))
            }
        }

        deserializer.deserialize_any(UriVisitor)
    }
}

impl<'de> Deserialize<'de> for PathItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PathItemVisitor;

        impl<'de> Visitor<'de> for PathItemVisitor {
            type Value = PathItem;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path item object")
            }

            fn visit_unit<E: de::Error>(self) -> Result<PathItem, E> {
                Ok(PathItem::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PathItem, A::Error> {
                let mut item = PathItem::default();
                while let Some(key) = map.next_key::<String>()? {
                    if METHOD_KEYS.contains(&key.as_str()) {
                        let operation = map.next_value::<Option<Operation>>()?;
                        item.operations.push((key, operation.unwrap_or_default()));
                    } else if key == "parameters" {
                        item.parameters = map
                            .next_value::<Option<Vec<Parameter>>>()?
                            .unwrap_or_default();
                    } else if key == "$ref" {
                        item.reference = Some(map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        if !key.starts_with("x-") && !PATH_ITEM_DOC_KEYS.contains(&key.as_str()) {
                            item.unknown.push(key);
                        }
                    }
                }
                Ok(item)
            }
        }

        deserializer.deserialize_map(PathItemVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_accepts_numbers_and_keeps_decimals() {
        let t: Text = serde_json::from_str("1.0").unwrap();
        assert_eq!(t.0, "1.0");
        let t: Text = serde_json::from_str("200").unwrap();
        assert_eq!(t.0, "200");
        let t: Text = yaml_serde::from_str("2.0").unwrap();
        assert_eq!(t.0, "2.0");
        let t: Text = yaml_serde::from_str("'404'").unwrap();
        assert_eq!(t.0, "404");
        assert!(serde_json::from_str::<Text>("[1]").is_err());
    }

    #[test]
    fn strings_are_one_string_or_a_list() {
        let s: Strings = yaml_serde::from_str("a, b").unwrap();
        assert_eq!(s.0, ["a, b"]);
        let s: Strings = serde_json::from_str(r#"["a", "b"]"#).unwrap();
        assert_eq!(s.0, ["a", "b"]);
        let s: Strings = yaml_serde::from_str("~").unwrap();
        assert!(s.0.is_empty());
        assert!(serde_json::from_str::<Strings>("[1]").is_err());
        assert!(serde_json::from_str::<Strings>("{}").is_err());
    }

    #[test]
    fn uri_refuses_intrinsic_functions() {
        let err = serde_json::from_str::<Uri>(r#"{"Fn::Sub": "arn:${AWS::Region}"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`Fn::Sub` is a CloudFormation intrinsic"),
            "{err}"
        );
        let err = yaml_serde::from_str::<Uri>("!Sub arn:${AWS::Region}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tagged value"), "{err}");
        let uri: Uri = yaml_serde::from_str("http://example.com/{id}").unwrap();
        assert_eq!(uri.0, "http://example.com/{id}");
    }

    #[test]
    fn path_items_keep_operation_order_and_unknown_keys() {
        let item: PathItem = yaml_serde::from_str(
            "post: {}\nsummary: s\nget:\nGET: {}\nx-foo: 1\nparameters: [{name: a, in: query}]",
        )
        .unwrap();
        let keys: Vec<&str> = item.operations.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["post", "get"]);
        assert_eq!(item.unknown, ["GET"]);
        assert_eq!(item.parameters.len(), 1);
    }

    #[test]
    fn null_sections_read_as_empty() {
        let doc: Document = yaml_serde::from_str("paths:\ncomponents:\n").unwrap();
        assert!(doc.paths.is_empty());
        assert!(doc.components.schemas.is_empty());
    }
}
