use super::*;

fn arguments(pairs: &[(&'static str, &str)]) -> Arguments {
    let mut arguments = Arguments::default();
    for (name, value) in pairs {
        arguments.insert(name, Argument::Text((*value).to_owned()));
    }
    arguments
}

fn json_body(request: &ServiceRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[test]
fn names_parse_in_any_case_and_unknown_ones_are_listed() {
    for subtype in Subtype::ALL {
        assert_eq!(Subtype::parse(subtype.name()).unwrap(), subtype);
        assert_eq!(subtype.to_string(), subtype.name());
    }
    assert_eq!(
        Subtype::parse(" sqs-sendmessage ").unwrap(),
        Subtype::SqsSendMessage
    );
    let err = Subtype::parse("SQS-SendMessageBatch").unwrap_err();
    assert!(err.contains("`SQS-SendMessageBatch`"), "{err}");
    assert!(err.contains("Kinesis-PutRecord"), "{err}");
}

#[test]
fn parameters_follow_the_reference() {
    let required: Vec<&str> = Subtype::SqsSendMessage
        .parameters()
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    assert_eq!(required, ["QueueUrl", "MessageBody"]);
    assert_eq!(
        Subtype::AppConfigGetConfiguration
            .parameters()
            .iter()
            .filter(|p| p.required)
            .count(),
        4
    );
    for subtype in Subtype::ALL {
        assert_eq!(subtype.parameter("Region"), Some(REGION));
        assert_eq!(subtype.parameter("region"), None);
    }
    assert_eq!(
        Subtype::SqsReceiveMessage.parameter("AttributeName"),
        Some(optional("AttributeNames"))
    );
    assert_eq!(Subtype::SqsSendMessage.parameter("AttributeName"), None);
    assert_eq!(
        Subtype::StepFunctionsStartSyncExecution.parameter("TraceHeader"),
        Some(optional("TraceHeader"))
    );
    assert_eq!(
        Subtype::StepFunctionsStartExecution.parameter("TraceHeader"),
        None
    );
}

#[test]
fn targets_name_the_service_and_action() {
    assert_eq!(
        Subtype::SqsPurgeQueue.target_uri("aws", "eu-west-1"),
        "arn:aws:apigateway:eu-west-1:sqs:action/PurgeQueue"
    );
    assert_eq!(
        Subtype::StepFunctionsStartSyncExecution.target_uri("aws", "us-east-1"),
        "arn:aws:apigateway:us-east-1:sync-states:action/StartSyncExecution"
    );
    assert_eq!(
        Subtype::AppConfigGetConfiguration.target_uri("aws-cn", "cn-north-1"),
        "arn:aws-cn:apigateway:cn-north-1:appconfig:path/applications"
    );
}

#[test]
fn sqs_parameters_become_query_protocol_entries() {
    let request = Subtype::SqsSendMessage
        .request(&arguments(&[
            ("QueueUrl", "https://sqs.us-east-1.amazonaws.com/1/q"),
            ("MessageBody", "hello & bye"),
            ("DelaySeconds", "5"),
            (
                "MessageAttributes",
                r#"{"kind": {"DataType": "String", "StringValue": "order"},
                    "count": 3, "note": "plain",
                    "blob": {"dataType": "Binary", "binaryValue": "AAE="}}"#,
            ),
            (
                "MessageSystemAttributes",
                r#"{"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}}"#,
            ),
        ]))
        .unwrap();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.headers[ACCEPT], "application/json");
    let pairs: Vec<(&str, &str)> = request
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("QueueUrl", "https://sqs.us-east-1.amazonaws.com/1/q"),
            ("MessageBody", "hello & bye"),
            ("DelaySeconds", "5"),
            ("MessageAttribute.1.Name", "kind"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "order"),
            ("MessageAttribute.2.Name", "count"),
            ("MessageAttribute.2.Value.DataType", "Number"),
            ("MessageAttribute.2.Value.StringValue", "3"),
            ("MessageAttribute.3.Name", "note"),
            ("MessageAttribute.3.Value.DataType", "String"),
            ("MessageAttribute.3.Value.StringValue", "plain"),
            ("MessageAttribute.4.Name", "blob"),
            ("MessageAttribute.4.Value.DataType", "Binary"),
            ("MessageAttribute.4.Value.BinaryValue", "AAE="),
            ("MessageSystemAttribute.1.Name", "AWSTraceHeader"),
            ("MessageSystemAttribute.1.Value.DataType", "String"),
            ("MessageSystemAttribute.1.Value.StringValue", "Root=1"),
            ("ContentType", "JSON"),
        ]
    );

    let request = Subtype::SqsReceiveMessage
        .request(&arguments(&[
            ("QueueUrl", "q"),
            ("AttributeNames", r#"["All"]"#),
            ("MessageAttributeNames", "kind, count"),
            ("MaxNumberOfMessages", "10"),
        ]))
        .unwrap();
    let pairs: Vec<(&str, &str)> = request
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("QueueUrl", "q"),
            ("MaxNumberOfMessages", "10"),
            ("AttributeName.1", "All"),
            ("MessageAttributeName.1", "kind"),
            ("MessageAttributeName.2", "count"),
            ("ContentType", "JSON"),
        ]
    );
}

#[test]
fn attributes_that_are_not_attributes_are_refused() {
    for bad in [
        "not json",
        "[1, 2]",
        r#"{"a": [1]}"#,
        r#"{"a": {"DataType": "String", "Other": "x"}}"#,
        r#"{"a": {"DataType": {"nested": true}}}"#,
    ] {
        let err = Subtype::SqsSendMessage
            .request(&arguments(&[
                ("QueueUrl", "q"),
                ("MessageBody", "m"),
                ("MessageAttributes", bad),
            ]))
            .unwrap_err();
        assert!(err.starts_with("MessageAttributes"), "{bad}: {err}");
    }
}

#[test]
fn step_functions_take_json_members() {
    let request = Subtype::StepFunctionsStartSyncExecution
        .request(&arguments(&[
            (
                "StateMachineArn",
                "arn:aws:states:us-east-1:1:stateMachine:m",
            ),
            ("Input", r#"{"a":1}"#),
            ("TraceHeader", "Root=1"),
        ]))
        .unwrap();
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        json_body(&request),
        serde_json::json!({
            "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m",
            "input": "{\"a\":1}",
            "traceHeader": "Root=1",
        })
    );
    let request = Subtype::StepFunctionsStopExecution
        .request(&arguments(&[("ExecutionArn", "e"), ("Cause", "c")]))
        .unwrap();
    assert_eq!(
        json_body(&request),
        serde_json::json!({"executionArn": "e", "cause": "c"})
    );
}

#[test]
fn put_events_sends_one_entry_with_typed_members() {
    let request = Subtype::EventBridgePutEvents
        .request(&arguments(&[
            ("Detail", r#"{"order":1}"#),
            ("DetailType", "Order Placed"),
            ("Source", "shop"),
            ("Time", "2024-05-01T10:00:00Z"),
            ("Resources", r#"["arn:a", "arn:b"]"#),
            ("EventBusName", "orders"),
        ]))
        .unwrap();
    assert_eq!(
        json_body(&request),
        serde_json::json!({"Entries": [{
            "Source": "shop",
            "DetailType": "Order Placed",
            "Detail": "{\"order\":1}",
            "EventBusName": "orders",
            "Resources": ["arn:a", "arn:b"],
            "Time": 1_714_557_600,
        }]})
    );
    let request = Subtype::EventBridgePutEvents
        .request(&arguments(&[
            ("Detail", "{}"),
            ("DetailType", "t"),
            ("Source", "s"),
            ("Resources", "arn:a, arn:b,"),
            ("Time", "yesterday"),
        ]))
        .unwrap();
    let entry = &json_body(&request)["Entries"][0];
    assert_eq!(entry["Resources"], serde_json::json!(["arn:a", "arn:b"]));
    assert_eq!(entry["Time"], "yesterday");
}

#[test]
fn timestamps_become_epoch_seconds() {
    assert_eq!(timestamp("1714557600"), serde_json::json!(1_714_557_600));
    assert_eq!(
        timestamp("1714557600.5"),
        serde_json::json!(1_714_557_600.5)
    );
    assert_eq!(
        timestamp("2024-05-01T12:00:00.250+02:00"),
        serde_json::json!(1_714_557_600.25)
    );
    assert_eq!(timestamp("1970-01-01t00:00:00z"), serde_json::json!(0));
    assert_eq!(
        timestamp("2000-02-29T00:00:00Z"),
        serde_json::json!(951_782_400)
    );
    assert_eq!(timestamp("1969-12-31T23:59:59Z"), serde_json::json!(-1));
    for text in [
        "2023-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00:00.Z",
        "2024-05-01T10:00:00+0200",
        "2024-05-01",
        "२०२४-05-01T10:00:00Z",
    ] {
        assert_eq!(timestamp(text), Value::String(text.to_owned()), "{text}");
    }
}

#[test]
fn kinesis_data_is_base64_encoded() {
    let mut arguments = arguments(&[("StreamName", "s"), ("PartitionKey", "p")]);
    arguments.insert(
        "Data",
        Argument::Bytes(Bytes::from_static(&[0, 159, 146, 150])),
    );
    let request = Subtype::KinesisPutRecord.request(&arguments).unwrap();
    assert_eq!(
        json_body(&request),
        serde_json::json!({"StreamName": "s", "Data": "AJ+Slg==", "PartitionKey": "p"})
    );
}

#[test]
fn get_configuration_puts_values_in_the_path_and_query() {
    let request = Subtype::AppConfigGetConfiguration
        .request(&arguments(&[
            ("Application", "my app"),
            ("Environment", "prod/eu"),
            ("Configuration", "flags"),
            ("ClientId", "client-1"),
            ("ClientConfigurationVersion", "3"),
        ]))
        .unwrap();
    assert_eq!(request.method, Method::GET);
    assert!(request.body.is_empty());
    assert_eq!(
        request.path.as_deref(),
        Some("applications/my%20app/environments/prod%2Feu/configurations/flags")
    );
    assert_eq!(
        request.query,
        [
            ("client_id".to_owned(), "client-1".to_owned()),
            ("client_configuration_version".to_owned(), "3".to_owned()),
        ]
    );
}

proptest::proptest! {
    #[test]
    fn any_values_make_a_request_or_a_refusal(
        values in proptest::collection::vec(".{0,40}", 7),
        subtype in 0..Subtype::ALL.len(),
    ) {
        let subtype = Subtype::ALL[subtype];
        let mut arguments = Arguments::default();
        for (parameter, value) in subtype.parameters().iter().zip(values) {
            arguments.insert(parameter.name, Argument::Text(value));
        }
        let _ = subtype.request(&arguments);
    }

    #[test]
    fn any_text_is_a_timestamp_or_kept(text in ".{0,40}") {
        let _ = timestamp(&text);
        let _ = timestamp(&format!("2024-05-01T10:00:00{text}"));
    }
}
