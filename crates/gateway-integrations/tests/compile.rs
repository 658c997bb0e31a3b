//! What `compile` refuses, whatever the integration type.

use gateway_core::model::{Integration, IntegrationType, Route, RouteMethod};
use gateway_core::stage::StageVariables;
use gateway_integrations::{CompileContext, CompileError, HttpClient, compile};

fn compile_route(route: &Route) -> Result<(), CompileError> {
    let variables = StageVariables::new();
    let client = HttpClient::default();
    let ctx = CompileContext::new(&variables, &client, gateway_core::model::ApiProtocol::Rest);
    compile(route, &ctx).map(drop)
}

fn get(path: &str) -> Route {
    Route::new(RouteMethod::Method(http::Method::GET), path)
}

#[test]
fn a_route_without_integration_is_refused() {
    let err = compile_route(&get("/pets/{petId}")).unwrap_err();
    assert_eq!(
        err,
        CompileError::MissingIntegration {
            route: "GET /pets/{petId}".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "GET /pets/{petId}: the route has no integration"
    );
}

#[test]
fn each_type_names_what_it_lacks() {
    let compile_kind = |kind, uri: &str| {
        let mut integration = Integration::new(kind);
        integration.uri = Some(uri.into());
        integration.http_method = Some("POST".into());
        compile_route(&Route::new(RouteMethod::Any, "/{proxy+}").with_integration(integration))
    };
    compile_kind(IntegrationType::Http, "http://127.0.0.1:1/x").unwrap();
    let lambda = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/f/invocations";
    for kind in [IntegrationType::Aws, IntegrationType::AwsProxy] {
        let err = compile_kind(kind, lambda).unwrap_err();
        assert_eq!(
            err,
            CompileError::NoInvoker {
                route: "ANY /{proxy+}".into()
            }
        );
    }
    let err = compile_kind(
        IntegrationType::Aws,
        "arn:aws:apigateway:us-east-1:sqs:path/1/q",
    )
    .unwrap_err();
    assert!(matches!(err, CompileError::NoAwsConfig { .. }), "{err}");
    let err = compile_kind(IntegrationType::Aws, "http://127.0.0.1:1/x").unwrap_err();
    assert!(
        matches!(err, CompileError::InvalidField { ref field, .. } if field == "uri"),
        "{err}"
    );
}

#[test]
fn supported_types_compile() {
    compile_route(&get("/m").with_integration(Integration::mock(200, "{}"))).unwrap();
    compile_route(&get("/p").with_integration(Integration::http_proxy("http://127.0.0.1:1/p")))
        .unwrap();
}

#[test]
fn timeout_limits_follow_the_kind_of_api() {
    use gateway_core::model::{ApiProtocol, Integration};
    use std::time::Duration;

    let client = HttpClient::new();
    let variables = StageVariables::new();
    let compile_for = |protocol, millis| {
        let mut integration = Integration::http_proxy("http://127.0.0.1:9/x");
        integration.timeout = Duration::from_millis(millis);
        let route = get("/x").with_integration(integration);
        let ctx = CompileContext::new(&variables, &client, protocol);
        compile(&route, &ctx).map(drop)
    };
    assert!(compile_for(ApiProtocol::Rest, 29_000).is_ok());
    assert!(compile_for(ApiProtocol::Http, 30_000).is_ok());
    let err = compile_for(ApiProtocol::Rest, 30_000).unwrap_err();
    assert!(matches!(err, CompileError::InvalidTimeout { .. }), "{err}");
    assert!(err.to_string().contains("29000 ms"), "{err}");
    assert!(compile_for(ApiProtocol::Http, 30_001).is_err());
    assert!(compile_for(ApiProtocol::Http, 49).is_err());
}
