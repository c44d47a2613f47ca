//! The JSON API shell: token authentication per tenant host, problem+json errors, and the
//! OpenAPI document.

use reqwest::StatusCode;
use serde_json::Value;
use tenantdesk_tests::{BASE_DOMAIN, spawn_app};

#[tokio::test]
async fn a_token_works_on_its_own_tenant_host_only() {
    let app = spawn_app().await;
    let a = app.create_tenant("Token Owner").await;
    let b = app.create_tenant("Other Tenant").await;
    let token = app.issue_token(&a.tenant, "CRM sync").await;

    let me: Value = app
        .get(&a.host(), "/api/v1/me")
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(me["kind"], "api_token");
    assert_eq!(me["token"]["name"], "CRM sync");
    assert_eq!(me["tenant"]["slug"], a.tenant.slug.as_str());

    for host in [b.host(), BASE_DOMAIN.to_owned()] {
        let response = app
            .get(&host, "/api/v1/me")
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND,
            "{host}: got {status}"
        );
        assert!(
            !body.contains("Token Owner") && !body.contains(a.tenant.slug.as_str()),
            "{host} leaks: {body}"
        );
    }
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_a_problem_document() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Problem Corp").await;
    for request in [
        app.get(&tenant.host(), "/api/v1/me"),
        app.get(&tenant.host(), "/api/v1/me")
            .bearer_auth("tdk_not-a-real-token"),
        app.get(&tenant.host(), "/api/v1/me")
            .header("Authorization", "Basic YWRtaW46YWRtaW4="),
    ] {
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let problem: Value = response.json().await.expect("json");
        assert_eq!(problem["type"], "urn:tenantdesk:problem:unauthorized");
        assert_eq!(problem["status"], 401);
    }
    let unknown = app
        .get(&tenant.host(), "/api/v1/no-such-thing")
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Docs Corp").await;
    for host in [tenant.host(), BASE_DOMAIN.to_owned()] {
        let doc: Value = app
            .get(&host, "/api/v1/openapi.json")
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
        for path in ["/api/v1/me", "/api/v1/openapi.json", "/healthz", "/readyz"] {
            assert!(
                doc["paths"][path].is_object(),
                "{path} is missing from the OpenAPI document"
            );
        }
        assert!(doc["components"]["securitySchemes"]["api_token"].is_object());
        assert!(
            doc["components"]["schemas"]["Me"]["example"].is_object(),
            "Me has an example"
        );
    }
}
