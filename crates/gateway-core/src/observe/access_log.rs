//! Access logs: one line per request in a format of `$context` variables, as a
//! stage's `accessLogSettings.format` defines it.
//!
//! The format is compiled once ([`AccessLogFormat::compile`]); rendering walks the
//! compiled parts. Lines go to an [`AccessLogSink`]; [`WriterSink`] hands them to a
//! background thread so that writing never blocks a request.

use std::fmt;
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use crate::context::RequestContext;
use crate::error::GatewayError;

/// The format used when a stage enables access logs without giving one: JSON with
/// the fields AWS's console proposes.
pub const DEFAULT_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","caller":"$context.identity.caller","user":"$context.identity.user","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength"}"#;

/// What is known about a request once it has been answered.
#[derive(Debug, Clone, Copy)]
pub struct AccessLogRecord<'a> {
    /// The request's context.
    pub context: &'a RequestContext,
    /// The status sent.
    pub status: u16,
    /// The response body length, when known.
    pub response_length: Option<u64>,
    /// Time from request to response.
    pub response_latency: Duration,
    /// Time spent in the integration, when one was called.
    pub integration_latency: Option<Duration>,
    /// The integration's status, when one was called.
    pub integration_status: Option<u16>,
    /// The gateway error answered with, if any.
    pub error: Option<&'a GatewayError>,
}

/// A compiled access-log format.
#[derive(Debug, Clone)]
pub struct AccessLogFormat {
    parts: Vec<Part>,
    json: bool,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone)]
enum Var {
    Status,
    ResponseLength,
    ResponseLatency,
    IntegrationLatency,
    IntegrationStatus,
    ErrorMessage,
    ErrorMessageString,
    ErrorResponseType,
    Context(String),
}

/// A format that names something that is not a `$context` variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access log format: {0}")]
pub struct FormatError(String);

impl AccessLogFormat {
    /// Compiles a format. `$context.NAME` references are resolved per request; text
    /// is copied. A format must reference `$context.requestId` or
    /// `$context.extendedRequestId`, as AWS requires.
    pub fn compile(format: &str) -> Result<Self, FormatError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        let mut has_request_id = false;
        while let Some(pos) = rest.find("$context.") {
            text.push_str(&rest[..pos]);
            let after = &rest[pos + "$context.".len()..];
            let len = after
                .char_indices()
                .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .map_or(after.len(), |(i, _)| i);
            let name = after[..len].trim_end_matches('.');
            if name.is_empty() {
                return Err(FormatError(format!(
                    "`$context.` at byte {pos} names no variable"
                )));
            }
            has_request_id |= matches!(name, "requestId" | "extendedRequestId");
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Var(match name {
                "status" => Var::Status,
                "responseLength" => Var::ResponseLength,
                "responseLatency" => Var::ResponseLatency,
                "integrationLatency" | "integration.latency" => Var::IntegrationLatency,
                "integrationStatus" | "integration.status" => Var::IntegrationStatus,
                "error.message" => Var::ErrorMessage,
                "error.messageString" => Var::ErrorMessageString,
                "error.responseType" => Var::ErrorResponseType,
                other => Var::Context(other.to_owned()),
            }));
            rest = &after[name.len()..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        if !has_request_id {
            return Err(FormatError(
                "the format must include $context.requestId or $context.extendedRequestId"
                    .to_owned(),
            ));
        }
        let json = format.trim_start().starts_with('{');
        Ok(Self { parts, json })
    }

    /// Renders one line (without the newline). Missing and empty values render as
    /// `-`, as AWS prints them; in a
    /// JSON format, values are escaped so the line stays valid JSON.
    #[must_use]
    pub fn render(&self, record: &AccessLogRecord<'_>) -> String {
        let mut out = String::with_capacity(256);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(var) => {
                    let value = value_of(var, record);
                    let value = value.as_deref().filter(|v| !v.is_empty()).unwrap_or("-");
                    self.push_value(&mut out, value);
                }
            }
        }
        out
    }

    fn push_value(&self, out: &mut String, value: &str) {
        if !self.json {
            out.push_str(value);
            return;
        }
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
    }
}

fn value_of(var: &Var, r: &AccessLogRecord<'_>) -> Option<String> {
    match var {
        Var::Status => Some(r.status.to_string()),
        Var::ResponseLength => r.response_length.map(|l| l.to_string()),
        Var::ResponseLatency => Some(r.response_latency.as_millis().to_string()),
        Var::IntegrationLatency => r.integration_latency.map(|d| d.as_millis().to_string()),
        Var::IntegrationStatus => r.integration_status.map(|s| s.to_string()),
        Var::ErrorMessage => r.error.and_then(|e| e.message().map(str::to_owned)),
        Var::ErrorMessageString => r.error.map(GatewayError::message_string),
        Var::ErrorResponseType => r.error.map(|e| e.kind().as_str().to_owned()),
        Var::Context(name) => r.context.variable(name).map(|v| v.into_owned()),
    }
}

/// Where access-log lines go.
pub trait AccessLogSink: Send + Sync + fmt::Debug {
    /// Takes one line (without its newline).
    fn write_line(&self, line: String);

    /// Blocks until every line taken so far is written out.
    fn flush(&self) {}
}

enum Message {
    Line(String),
    Flush(mpsc::Sender<()>),
}

/// A sink that writes lines to any [`Write`] on a background thread, flushing
/// whenever it has caught up, so that requests never wait for the disk.
#[derive(Debug)]
pub struct WriterSink {
    sender: mpsc::Sender<Message>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(l) => f.debug_tuple("Line").field(l).finish(),
            Self::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl WriterSink {
    /// Starts the writer thread.
    pub fn new<W: Write + Send + 'static>(mut writer: W) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name("access-log".to_owned())
            .spawn(move || {
                let mut waiting = Vec::new();
                while let Ok(first) = receiver.recv() {
                    let mut ok = true;
                    let mut next = Some(first);
                    while let Some(message) = next {
                        match message {
                            Message::Line(line) => ok &= writeln!(writer, "{line}").is_ok(),
                            Message::Flush(ack) => waiting.push(ack),
                        }
                        next = receiver.try_recv().ok();
                    }
                    ok &= writer.flush().is_ok();
                    if !ok {
                        tracing::error!("access log write failed");
                    }
                    for ack in waiting.drain(..) {
                        let _ = ack.send(());
                    }
                }
            })?;
        Ok(Self { sender })
    }

    /// Appends to the file at `path`, creating it if needed.
    pub fn append_to(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Self::new(std::io::BufWriter::new(file))
    }

    /// Writes to standard output.
    pub fn stdout() -> std::io::Result<Self> {
        Self::new(std::io::stdout())
    }
}

impl AccessLogSink for WriterSink {
    fn write_line(&self, line: String) {
        // The receiver only goes away with the thread, which lives as long as the sink.
        let _ = self.sender.send(Message::Line(line));
    }

    fn flush(&self) {
        let (ack, done) = mpsc::channel();
        if self.sender.send(Message::Flush(ack)).is_ok() {
            let _ = done.recv();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Identity, RequestContext};
    use crate::error::GatewayResponseType;

    fn context() -> RequestContext {
        RequestContext {
            request_id: "req-1".into(),
            http_method: http::Method::GET,
            resource_path: "/pets/{petId}".into(),
            request_time_epoch: 1_795_241_795_000,
            protocol: "HTTP/1.1",
            identity: Identity {
                source_ip: "127.0.0.1".into(),
                user_agent: Some("curl \"quoted\"".into()),
                ..Identity::default()
            },
            ..RequestContext::default()
        }
    }

    #[test]
    fn default_format_renders_valid_json() {
        let format = AccessLogFormat::compile(DEFAULT_FORMAT).unwrap();
        let ctx = context();
        let line = format.render(&AccessLogRecord {
            context: &ctx,
            status: 200,
            response_length: Some(12),
            response_latency: Duration::from_millis(4),
            integration_latency: None,
            integration_status: None,
            error: None,
        });
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["requestId"], "req-1");
        assert_eq!(v["status"], "200");
        assert_eq!(v["resourcePath"], "/pets/{petId}");
        assert_eq!(v["caller"], "-");
        assert_eq!(v["requestTime"], "21/Nov/2026:06:16:35 +0000");
    }

    #[test]
    fn json_values_are_escaped_and_errors_render() {
        let format = AccessLogFormat::compile(
            r#"{"id":"$context.requestId","ua":"$context.identity.userAgent","err":"$context.error.responseType","lat":"$context.integrationLatency"}"#,
        )
        .unwrap();
        let ctx = context();
        let err = GatewayError::new(GatewayResponseType::Throttled);
        let line = format.render(&AccessLogRecord {
            context: &ctx,
            status: 429,
            response_length: None,
            response_latency: Duration::ZERO,
            integration_latency: Some(Duration::from_millis(7)),
            integration_status: None,
            error: Some(&err),
        });
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ua"], "curl \"quoted\"");
        assert_eq!(v["err"], "THROTTLED");
        assert_eq!(v["lat"], "7");
    }

    #[test]
    fn plain_formats_and_validation() {
        let format =
            AccessLogFormat::compile("$context.requestId $context.httpMethod $context.status")
                .unwrap();
        let ctx = context();
        let line = format.render(&AccessLogRecord {
            context: &ctx,
            status: 404,
            response_length: None,
            response_latency: Duration::ZERO,
            integration_latency: None,
            integration_status: None,
            error: None,
        });
        assert_eq!(line, "req-1 GET 404");
        assert!(AccessLogFormat::compile("$context.httpMethod").is_err());
        assert!(AccessLogFormat::compile("$context.requestId $context.").is_err());
    }

    #[test]
    fn writer_sink_writes_lines_in_order() {
        let dir = std::env::temp_dir().join(format!("gw-access-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let sink = WriterSink::append_to(&path).unwrap();
        for i in 0..100 {
            sink.write_line(format!("line {i}"));
        }
        sink.flush();
        let content = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = content.lines().collect();
        assert_eq!(lines.len(), 100);
        assert_eq!(lines[99], "line 99");
        sink.write_line("after".to_owned());
        sink.flush();
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("after\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
