//! HTTP APIs' AWS service integrations: the actions an `integrationSubtype` names,
//! the parameters each takes, and the service request its parameters become.
//!
//! An HTTP API route whose integration is `AWS_PROXY` with an `integrationSubtype`
//! calls an AWS service action directly. Its `requestParameters` name the action's
//! parameters (`"QueueUrl"`, `"MessageBody"`), each valued in HTTP APIs' value
//! syntax; [`Subtype::parameters`] lists them, and which are required. Every subtype
//! also takes `Region`, the region the action is called in. `SQS-ReceiveMessage`
//! also accepts `AttributeName`, the name an earlier edition of AWS's reference
//! gave `AttributeNames`.
//!
//! # The requests
//!
//! Parameters reach the service in its own protocol and types:
//!
//! | subtype | request |
//! |---|---|
//! | `SQS-SendMessage`, `SQS-ReceiveMessage`, `SQS-DeleteMessage`, `SQS-PurgeQueue` | the query protocol: a form body with `Action`, `Version`, the parameters by name, and `ContentType=JSON` |
//! | `StepFunctions-StartExecution`, `-StopExecution` | AWS JSON 1.0 (`AWSStepFunctions.{Action}`): `stateMachineArn`, `name`, `input`; `executionArn`, `cause`, `error` |
//! | `StepFunctions-StartSyncExecution` | the same, at the `sync-states` endpoint (Step Functions' `sync-` host prefix), with `traceHeader` |
//! | `EventBridge-PutEvents` | AWS JSON 1.1 (`AWSEvents.PutEvents`): one entry in `Entries` |
//! | `Kinesis-PutRecord` | AWS JSON 1.1 (`Kinesis_20131202.PutRecord`): `StreamName`, `Data` (base64), `PartitionKey`, ... |
//! | `AppConfig-GetConfiguration` | REST: `GET /applications/{Application}/environments/{Environment}/configurations/{Configuration}?client_id=...&client_configuration_version=...` |
//!
//! Values are text; where the service wants another type they are converted:
//!
//! - SQS `MessageAttributes` and `MessageSystemAttributes` are a JSON object from
//!   attribute names to `{"DataType": ..., "StringValue": ...}` or
//!   `{"DataType": ..., "BinaryValue": base64}` (a plain string or number is
//!   shorthand for a `String` or `Number` attribute); they become the query
//!   protocol's `MessageAttribute.N.Name` / `MessageAttribute.N.Value.*` entries.
//! - Lists (SQS `AttributeNames` and `MessageAttributeNames`, EventBridge
//!   `Resources`) are a JSON array, or text separated by commas.
//! - EventBridge `Time` is sent as epoch seconds: a number as it is, an RFC 3339
//!   timestamp (`2024-05-01T10:00:00Z`) converted; other text is passed on for
//!   EventBridge to judge.
//! - Kinesis `Data` is the record's raw data, which the gateway base64-encodes as
//!   the JSON protocol requires (a value that is exactly `$request.body` is the
//!   body's bytes as received).
//!
//! A value that cannot be put in the protocol's form at all (attributes that are
//! not an object of attributes) is the client's error: the request answers 400.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderValue, Method, header::ACCEPT};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use super::service::ServiceRequest;

/// What is percent-encoded in a path segment of a REST action: everything but
/// RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An AWS service action of an HTTP API integration (`integrationSubtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subtype {
    /// `SQS-SendMessage`.
    SqsSendMessage,
    /// `SQS-ReceiveMessage`.
    SqsReceiveMessage,
    /// `SQS-DeleteMessage`.
    SqsDeleteMessage,
    /// `SQS-PurgeQueue`.
    SqsPurgeQueue,
    /// `StepFunctions-StartExecution`.
    StepFunctionsStartExecution,
    /// `StepFunctions-StartSyncExecution` (Express state machines).
    StepFunctionsStartSyncExecution,
    /// `StepFunctions-StopExecution`.
    StepFunctionsStopExecution,
    /// `EventBridge-PutEvents`, with one event.
    EventBridgePutEvents,
    /// `Kinesis-PutRecord`.
    KinesisPutRecord,
    /// `AppConfig-GetConfiguration`.
    AppConfigGetConfiguration,
}

/// A parameter an integration subtype takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parameter {
    /// The name `requestParameters` gives it (`QueueUrl`).
    pub name: &'static str,
    /// Whether the integration must set it.
    pub required: bool,
}

const fn required(name: &'static str) -> Parameter {
    Parameter {
        name,
        required: true,
    }
}

const fn optional(name: &'static str) -> Parameter {
    Parameter {
        name,
        required: false,
    }
}

/// The parameter every subtype takes: the region the action is called in.
pub const REGION: Parameter = optional("Region");

const SQS_SEND_MESSAGE: &[Parameter] = &[
    required("QueueUrl"),
    required("MessageBody"),
    optional("DelaySeconds"),
    optional("MessageAttributes"),
    optional("MessageDeduplicationId"),
    optional("MessageGroupId"),
    optional("MessageSystemAttributes"),
];
const SQS_RECEIVE_MESSAGE: &[Parameter] = &[
    required("QueueUrl"),
    optional("AttributeNames"),
    optional("MaxNumberOfMessages"),
    optional("MessageAttributeNames"),
    optional("ReceiveRequestAttemptId"),
    optional("VisibilityTimeout"),
    optional("WaitTimeSeconds"),
];
const SQS_DELETE_MESSAGE: &[Parameter] = &[required("ReceiptHandle"), required("QueueUrl")];
const SQS_PURGE_QUEUE: &[Parameter] = &[required("QueueUrl")];
const SFN_START_EXECUTION: &[Parameter] = &[
    required("StateMachineArn"),
    optional("Name"),
    optional("Input"),
];
const SFN_START_SYNC_EXECUTION: &[Parameter] = &[
    required("StateMachineArn"),
    optional("Name"),
    optional("Input"),
    optional("TraceHeader"),
];
const SFN_STOP_EXECUTION: &[Parameter] = &[
    required("ExecutionArn"),
    optional("Cause"),
    optional("Error"),
];
const EVENTBRIDGE_PUT_EVENTS: &[Parameter] = &[
    required("Detail"),
    required("DetailType"),
    required("Source"),
    optional("Time"),
    optional("EventBusName"),
    optional("Resources"),
    optional("TraceHeader"),
];
const KINESIS_PUT_RECORD: &[Parameter] = &[
    required("StreamName"),
    required("Data"),
    required("PartitionKey"),
    optional("SequenceNumberForOrdering"),
    optional("ExplicitHashKey"),
];
const APPCONFIG_GET_CONFIGURATION: &[Parameter] = &[
    required("Application"),
    required("Environment"),
    required("Configuration"),
    required("ClientId"),
    optional("ClientConfigurationVersion"),
];

/// Names an earlier version of AWS's reference used, and the parameter each is.
const ALIASES: &[(Subtype, &str, &str)] = &[(
    Subtype::SqsReceiveMessage,
    "AttributeName",
    "AttributeNames",
)];

impl Subtype {
    /// Every subtype, in the order of AWS's reference.
    pub const ALL: [Self; 10] = [
        Self::EventBridgePutEvents,
        Self::SqsSendMessage,
        Self::SqsReceiveMessage,
        Self::SqsDeleteMessage,
        Self::SqsPurgeQueue,
        Self::AppConfigGetConfiguration,
        Self::KinesisPutRecord,
        Self::StepFunctionsStartExecution,
        Self::StepFunctionsStartSyncExecution,
        Self::StepFunctionsStopExecution,
    ];

    /// Parses AWS's name (`SQS-SendMessage`), ignoring case.
    ///
    /// # Errors
    ///
    /// When `name` is no subtype; the message lists them.
    pub fn parse(name: &str) -> Result<Self, String> {
        let trimmed = name.trim();
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "`{name}` is not an integration subtype ({})",
                    names.join(", ")
                )
            })
    }

    /// AWS's name (`SQS-SendMessage`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::SqsSendMessage => "SQS-SendMessage",
            Self::SqsReceiveMessage => "SQS-ReceiveMessage",
            Self::SqsDeleteMessage => "SQS-DeleteMessage",
            Self::SqsPurgeQueue => "SQS-PurgeQueue",
            Self::StepFunctionsStartExecution => "StepFunctions-StartExecution",
            Self::StepFunctionsStartSyncExecution => "StepFunctions-StartSyncExecution",
            Self::StepFunctionsStopExecution => "StepFunctions-StopExecution",
            Self::EventBridgePutEvents => "EventBridge-PutEvents",
            Self::KinesisPutRecord => "Kinesis-PutRecord",
            Self::AppConfigGetConfiguration => "AppConfig-GetConfiguration",
        }
    }

    /// The action's parameters, `Region` (which every subtype takes) aside.
    #[must_use]
    pub const fn parameters(self) -> &'static [Parameter] {
        match self {
            Self::SqsSendMessage => SQS_SEND_MESSAGE,
            Self::SqsReceiveMessage => SQS_RECEIVE_MESSAGE,
            Self::SqsDeleteMessage => SQS_DELETE_MESSAGE,
            Self::SqsPurgeQueue => SQS_PURGE_QUEUE,
            Self::StepFunctionsStartExecution => SFN_START_EXECUTION,
            Self::StepFunctionsStartSyncExecution => SFN_START_SYNC_EXECUTION,
            Self::StepFunctionsStopExecution => SFN_STOP_EXECUTION,
            Self::EventBridgePutEvents => EVENTBRIDGE_PUT_EVENTS,
            Self::KinesisPutRecord => KINESIS_PUT_RECORD,
            Self::AppConfigGetConfiguration => APPCONFIG_GET_CONFIGURATION,
        }
    }

    /// The parameter `name` (exactly as AWS spells it, `Region` included), if the
    /// subtype takes it.
    #[must_use]
    pub fn parameter(self, name: &str) -> Option<Parameter> {
        if name == REGION.name {
            return Some(REGION);
        }
        let name = ALIASES
            .iter()
            .find(|(subtype, alias, _)| *subtype == self && *alias == name)
            .map_or(name, |(_, _, canonical)| canonical);
        self.parameters().iter().copied().find(|p| p.name == name)
    }

    /// The service's endpoint prefix (`sqs`, `sync-states`).
    #[must_use]
    pub const fn service(self) -> &'static str {
        match self {
            Self::SqsSendMessage
            | Self::SqsReceiveMessage
            | Self::SqsDeleteMessage
            | Self::SqsPurgeQueue => "sqs",
            Self::StepFunctionsStartExecution | Self::StepFunctionsStopExecution => "states",
            Self::StepFunctionsStartSyncExecution => "sync-states",
            Self::EventBridgePutEvents => "events",
            Self::KinesisPutRecord => "kinesis",
            Self::AppConfigGetConfiguration => "appconfig",
        }
    }

    /// The service API's action (`SendMessage`).
    #[must_use]
    pub const fn action(self) -> &'static str {
        match self {
            Self::SqsSendMessage => "SendMessage",
            Self::SqsReceiveMessage => "ReceiveMessage",
            Self::SqsDeleteMessage => "DeleteMessage",
            Self::SqsPurgeQueue => "PurgeQueue",
            Self::StepFunctionsStartExecution => "StartExecution",
            Self::StepFunctionsStartSyncExecution => "StartSyncExecution",
            Self::StepFunctionsStopExecution => "StopExecution",
            Self::EventBridgePutEvents => "PutEvents",
            Self::KinesisPutRecord => "PutRecord",
            Self::AppConfigGetConfiguration => "GetConfiguration",
        }
    }

    /// The AWS integration URI of the action in `region` (partition `partition`):
    /// an `action/` target, or for AppConfig's REST API a `path/` target whose path
    /// each request names.
    pub(crate) fn target_uri(self, partition: &str, region: &str) -> String {
        let api = match self {
            Self::AppConfigGetConfiguration => "path/applications".to_owned(),
            other => format!("action/{}", other.action()),
        };
        format!(
            "arn:{partition}:apigateway:{region}:{}:{api}",
            self.service()
        )
    }

    /// The service request for one call, from the parameters that resolved
    /// (canonical names to values; `Region` is not among them).
    ///
    /// # Errors
    ///
    /// When a value cannot be put in the protocol's form (a client error).
    pub(crate) fn request(self, arguments: &Arguments) -> Result<ServiceRequest, String> {
        match self {
            Self::SqsSendMessage
            | Self::SqsReceiveMessage
            | Self::SqsDeleteMessage
            | Self::SqsPurgeQueue => sqs_request(self, arguments),
            Self::StepFunctionsStartExecution | Self::StepFunctionsStartSyncExecution => {
                Ok(json_request([
                    ("stateMachineArn", arguments.lossy("StateMachineArn")),
                    ("name", arguments.lossy("Name")),
                    ("input", arguments.lossy("Input")),
                    ("traceHeader", arguments.lossy("TraceHeader")),
                ]))
            }
            Self::StepFunctionsStopExecution => Ok(json_request([
                ("executionArn", arguments.lossy("ExecutionArn")),
                ("cause", arguments.lossy("Cause")),
                ("error", arguments.lossy("Error")),
            ])),
            Self::EventBridgePutEvents => Ok(put_events(arguments)),
            Self::KinesisPutRecord => {
                let data = arguments.bytes("Data").map(|data| STANDARD.encode(data));
                Ok(json_request([
                    ("StreamName", arguments.lossy("StreamName")),
                    ("Data", data),
                    ("PartitionKey", arguments.lossy("PartitionKey")),
                    (
                        "SequenceNumberForOrdering",
                        arguments.lossy("SequenceNumberForOrdering"),
                    ),
                    ("ExplicitHashKey", arguments.lossy("ExplicitHashKey")),
                ]))
            }
            Self::AppConfigGetConfiguration => Ok(get_configuration(arguments)),
        }
    }
}

impl fmt::Display for Subtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One resolved parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Argument {
    /// Text, as the value syntax produced it.
    Text(String),
    /// The request body's bytes, for a value that is exactly `$request.body`.
    Bytes(Bytes),
}

/// The parameters of one call that resolved, by canonical name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Arguments {
    values: BTreeMap<&'static str, Argument>,
}

impl Arguments {
    /// Sets a parameter.
    pub(crate) fn insert(&mut self, name: &'static str, value: Argument) {
        self.values.insert(name, value);
    }

    /// A parameter as bytes.
    fn bytes(&self, name: &str) -> Option<&[u8]> {
        match self.values.get(name)? {
            Argument::Text(text) => Some(text.as_bytes()),
            Argument::Bytes(bytes) => Some(bytes),
        }
    }

    /// A parameter as owned text, lossily for bytes that are not UTF-8.
    fn lossy(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Argument::Text(text) => Some(text.clone()),
            Argument::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

/// A JSON-protocol request: the members that are set, in order.
fn json_request<const N: usize>(members: [(&str, Option<String>); N]) -> ServiceRequest {
    let mut object = Map::new();
    for (name, value) in members {
        if let Some(value) = value {
            object.insert(name.to_owned(), Value::String(value));
        }
    }
    ServiceRequest::new(Method::POST, Value::Object(object).to_string())
}

/// `PutEvents` with one entry.
fn put_events(arguments: &Arguments) -> ServiceRequest {
    let mut entry = Map::new();
    for (member, name) in [
        ("Source", "Source"),
        ("DetailType", "DetailType"),
        ("Detail", "Detail"),
        ("EventBusName", "EventBusName"),
        ("TraceHeader", "TraceHeader"),
    ] {
        if let Some(value) = arguments.lossy(name) {
            entry.insert(member.to_owned(), Value::String(value));
        }
    }
    if let Some(resources) = arguments.lossy("Resources") {
        entry.insert(
            "Resources".to_owned(),
            Value::Array(list(&resources).into_iter().map(Value::String).collect()),
        );
    }
    if let Some(time) = arguments.lossy("Time") {
        entry.insert("Time".to_owned(), timestamp(&time));
    }
    let body = serde_json::json!({ "Entries": [Value::Object(entry)] });
    ServiceRequest::new(Method::POST, body.to_string())
}

/// `GetConfiguration` through AppConfig's REST API.
fn get_configuration(arguments: &Arguments) -> ServiceRequest {
    let segment = |name: &str| {
        utf8_percent_encode(&arguments.lossy(name).unwrap_or_default(), SEGMENT).to_string()
    };
    let path = format!(
        "applications/{}/environments/{}/configurations/{}",
        segment("Application"),
        segment("Environment"),
        segment("Configuration")
    );
    let mut request = ServiceRequest::new(Method::GET, Bytes::new()).with_path(path);
    if let Some(client) = arguments.lossy("ClientId") {
        request = request.query_param("client_id", client);
    }
    if let Some(version) = arguments.lossy("ClientConfigurationVersion") {
        request = request.query_param("client_configuration_version", version);
    }
    request
}

/// An SQS action in the query protocol, asking for the JSON form of its answer.
fn sqs_request(subtype: Subtype, arguments: &Arguments) -> Result<ServiceRequest, String> {
    let mut request = ServiceRequest::new(Method::POST, Bytes::new())
        .header(ACCEPT, HeaderValue::from_static("application/json"));
    let scalars: &[&str] = match subtype {
        Subtype::SqsSendMessage => &[
            "QueueUrl",
            "MessageBody",
            "DelaySeconds",
            "MessageDeduplicationId",
            "MessageGroupId",
        ],
        Subtype::SqsReceiveMessage => &[
            "QueueUrl",
            "MaxNumberOfMessages",
            "ReceiveRequestAttemptId",
            "VisibilityTimeout",
            "WaitTimeSeconds",
        ],
        Subtype::SqsDeleteMessage => &["QueueUrl", "ReceiptHandle"],
        _ => &["QueueUrl"],
    };
    for name in scalars {
        if let Some(value) = arguments.lossy(name) {
            request.query.push(((*name).to_owned(), value));
        }
    }
    for (parameter, entry) in [
        ("AttributeNames", "AttributeName"),
        ("MessageAttributeNames", "MessageAttributeName"),
    ] {
        if let Some(names) = arguments.lossy(parameter) {
            for (i, name) in list(&names).into_iter().enumerate() {
                request.query.push((format!("{entry}.{}", i + 1), name));
            }
        }
    }
    for (parameter, entry) in [
        ("MessageAttributes", "MessageAttribute"),
        ("MessageSystemAttributes", "MessageSystemAttribute"),
    ] {
        if let Some(attributes) = arguments.lossy(parameter) {
            request
                .query
                .extend(message_attributes(parameter, entry, &attributes)?);
        }
    }
    request
        .query
        .push(("ContentType".to_owned(), "JSON".to_owned()));
    Ok(request)
}

/// SQS message attributes given as JSON, as the query protocol's entries
/// (`{entry}.N.Name`, `{entry}.N.Value.DataType`, `.StringValue`, `.BinaryValue`).
fn message_attributes(
    parameter: &str,
    entry: &str,
    text: &str,
) -> Result<Vec<(String, String)>, String> {
    let not_attributes = || {
        format!(
            "{parameter} must be a JSON object from attribute names to \
             {{\"DataType\": ..., \"StringValue\": ...}} values"
        )
    };
    let Ok(Value::Object(attributes)) = serde_json::from_str::<Value>(text) else {
        return Err(not_attributes());
    };
    let mut pairs = Vec::new();
    for (i, (name, value)) in attributes.iter().enumerate() {
        let prefix = format!("{entry}.{}", i + 1);
        pairs.push((format!("{prefix}.Name"), name.clone()));
        let fields: Vec<(&str, String)> = match value {
            Value::String(text) => vec![
                ("DataType", "String".to_owned()),
                ("StringValue", text.clone()),
            ],
            Value::Number(number) => vec![
                ("DataType", "Number".to_owned()),
                ("StringValue", number.to_string()),
            ],
            Value::Object(fields) => {
                let mut out = Vec::new();
                for (key, field) in fields {
                    let canonical = ["DataType", "StringValue", "BinaryValue"]
                        .into_iter()
                        .find(|c| c.eq_ignore_ascii_case(key))
                        .ok_or_else(|| {
                            format!(
                                "{parameter}: attribute `{name}` has `{key}`; expected \
                                 DataType, StringValue or BinaryValue"
                            )
                        })?;
                    let field = match field {
                        Value::String(text) => text.clone(),
                        Value::Number(number) => number.to_string(),
                        _ => {
                            return Err(format!(
                                "{parameter}: attribute `{name}`'s {canonical} must be a string"
                            ));
                        }
                    };
                    out.push((canonical, field));
                }
                out
            }
            _ => return Err(not_attributes()),
        };
        for (field, value) in fields {
            pairs.push((format!("{prefix}.Value.{field}"), value));
        }
    }
    Ok(pairs)
}

/// A list given as a JSON array (its items as text) or as comma-separated text.
fn list(text: &str) -> Vec<String> {
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) {
        return items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => text,
                other => other.to_string(),
            })
            .collect();
    }
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A timestamp for the JSON protocol: epoch seconds from a number or an RFC 3339
/// timestamp; other text as it is, for the service to judge.
fn timestamp(text: &str) -> Value {
    let trimmed = text.trim();
    if let Ok(Value::Number(number)) = serde_json::from_str::<Value>(trimmed) {
        return Value::Number(number);
    }
    match super::timestamp::rfc3339(trimmed) {
        Some((seconds, 0)) => Value::from(seconds),
        Some((seconds, nanos)) => {
            #[allow(clippy::cast_precision_loss)]
            let value = seconds as f64 + f64::from(nanos) / 1e9;
            serde_json::Number::from_f64(value).map_or_else(|| Value::from(seconds), Value::Number)
        }
        None => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests;
