//! A person's view: headless Chromium opens a tenant's portal.

use fantoccini::Locator;
use tenantdesk_tests::{browser, spawn_app};

#[tokio::test]
async fn chromium_shows_the_tenants_name_in_its_colour() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Acme Browser Corp").await;
    let client = browser::open().await;

    client
        .goto(&app.browser_url(&tenant.host(), "/"))
        .await
        .expect("open the portal");
    let name = client
        .find(Locator::Css(".brand-name"))
        .await
        .expect("the brand name")
        .text()
        .await
        .expect("text");
    let header_colour = client
        .execute(
            "return getComputedStyle(document.querySelector('.site-header')).backgroundColor",
            vec![],
        )
        .await
        .expect("computed style");
    let title = client.title().await.expect("title");
    client.close().await.expect("close the browser");

    assert_eq!(name, "Acme Browser Corp");
    assert!(title.contains("Acme Browser Corp"), "title: {title}");
    let expected = tenant.primary_colour.to_string();
    let rgb = |at: usize| u8::from_str_radix(&expected[at..at + 2], 16).expect("hex");
    assert_eq!(
        header_colour.as_str().expect("a colour string"),
        format!("rgb({}, {}, {})", rgb(1), rgb(3), rgb(5)),
        "the header is painted in the tenant's primary colour {expected}"
    );
}
