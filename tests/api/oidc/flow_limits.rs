//! What an anonymous request can make the server store is bounded: each authorization
//! parameter has a maximum length, unknown parameters are not kept, one address holds a capped
//! number of pending flows, and a flow nobody touches goes after 10 minutes — while a whole
//! ward behind one address still signs in (docs/security.md, findings 5 and 6).

use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::helpers::{authorize, authorize_url, query_param, spawn_app, spawn_app_with};

const PW: &str = "correct horse battery";

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn flow_rows(app: &crate::helpers::TestApp) -> Vec<(String, i64)> {
    sqlx::query_as::<_, (String, i64)>("SELECT params, touched_at FROM auth_flows")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn oversized_parameters_are_refused_and_unknown_ones_are_not_stored() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let long = "x".repeat(513);
    // Once the redirect URI is known: invalid_request at the client, the oversized state not
    // echoed back.
    for (name, value) in [
        ("state", long.as_str()),
        ("nonce", long.as_str()),
        ("login_hint", long.as_str()),
        ("acr_values", long.as_str()),
        ("max_age", "12345678901"),
    ] {
        let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
        let (_, challenge) = crate::helpers::pkce();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &rp.id)
            .append_pair("redirect_uri", &rp.redirect_uri)
            .append_pair("scope", "openid")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair(name, value);
        let resp = b.get(url.as_str()).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{name}");
        let to = location(&resp);
        assert!(to.starts_with(&rp.redirect_uri), "{name}: {to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("invalid_request")
        );
        assert!(
            query_param(&to, "error_description")
                .unwrap()
                .contains(name)
        );
        assert_eq!(query_param(&to, "state"), None, "{name}");
    }
    // Before it is known: the error page.
    let (url, _) = authorize_url(&app, &rp, &[]);
    for (from, to) in [
        ("client_id=dpi", format!("client_id={}", "d".repeat(300))),
        (
            "redirect_uri=",
            format!(
                "redirect_uri=https%3A%2F%2Fdpi.example%2F{}&x=",
                "p".repeat(2100)
            ),
        ),
    ] {
        let resp = b.get(&url.replacen(from, &to, 1)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{from}");
        assert!(resp.text().await.unwrap().contains("<html"));
    }
    assert!(flow_rows(&app).await.is_empty(), "nothing stored");
    // A parameter nobody reads is ignored, and not stored with the flow.
    let (url, _) = authorize_url(&app, &rp, &[("padding", &"p".repeat(60_000))]);
    let resp = b.get(&url).await;
    assert!(location(&resp).starts_with("/login?flow="));
    let rows = flow_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].0.len() < 2_000, "{} bytes stored", rows[0].0.len());
    assert!(!rows[0].0.contains("padding"));
    let refused = app.audit("authorization_refused").await;
    assert_eq!(
        refused
            .iter()
            .filter(|e| e.reason.as_deref() == Some("parameter_too_long"))
            .count(),
        7
    );
}

#[tokio::test]
async fn one_address_holds_a_capped_number_of_pending_flows_and_idle_ones_go() {
    let app = spawn_app_with("[throttle]\npending_flows_per_address = 5\n").await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let mut first_login = String::new();
    for i in 0..5 {
        let (url, _) = authorize_url(&app, &rp, &[]);
        let resp = b.get(&url).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        if i == 0 {
            first_login = location(&resp);
        }
    }
    let (url, _) = authorize_url(&app, &rp, &[]);
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Trop de demandes de connexion")
    );
    assert!(
        app.audit("authorization_refused")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("too_many_pending_flows"))
    );
    // Nine minutes later the first flow is opened again (touched); the others are not.
    app.clock.advance(9 * 60);
    assert_eq!(b.get(&first_login).await.status(), StatusCode::OK);
    app.clock.advance(2 * 60);
    // The untouched four are abandoned: room again, and the purge takes them away.
    let (url, _) = authorize_url(&app, &rp, &[]);
    assert_eq!(b.get(&url).await.status(), StatusCode::SEE_OTHER);
    trousseau::storage::purge::purge_expired(app.state.db.pool(), app.state.clock.now())
        .await
        .unwrap();
    assert_eq!(
        flow_rows(&app).await.len(),
        2,
        "the touched one and the new one"
    );
    assert_eq!(b.get(&first_login).await.status(), StatusCode::OK);
}

/// A ward behind one Citrix/RDS address at shift change: 200 people open the login page at
/// once, a quarter of them mistype their password first, one keeps mistyping until locked;
/// everyone else signs in.
#[tokio::test]
async fn a_ward_of_200_people_behind_one_address_signs_in() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let mut people = Vec::new();
    for i in 0..200 {
        let user = format!("agent{i:03}");
        app.create_user(&user, PW).await;
        let mut b = app.browser();
        let (url, _) = authorize_url(&app, &rp, &[]);
        let resp = b.get(&url).await;
        let (page, login) = b.follow(resp).await;
        assert_eq!(page.status(), StatusCode::OK, "{user}: login page");
        people.push((user, b, login));
    }
    // One person keeps typing a wrong password: their account locks, the ward goes on.
    let (_, b, login) = &mut people[7];
    for _ in 0..12 {
        b.submit_login(login, "agent007", "wrong").await;
    }
    for (i, (user, b, login)) in people.iter_mut().enumerate() {
        if i == 7 {
            continue;
        }
        if i % 4 == 0 {
            let resp = b.submit_login(login, user, "typo").await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{user}");
        }
        let resp = b.submit_login(login, user, PW).await;
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "{user} could not sign in"
        );
        let (_, back) = b.follow(resp).await;
        assert!(query_param(&back, "code").is_some(), "{user}: {back}");
    }
    assert!(
        !app.audit("login")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("address_throttled")),
        "the address was never throttled"
    );
    // And the address is not slowed down for the next person.
    let mut b = app.browser();
    assert!(
        query_param(
            &authorize(
                &mut b,
                &authorize_url(&app, &rp, &[]).0,
                Some(("agent001", PW))
            )
            .await,
            "code"
        )
        .is_some()
    );
}

#[tokio::test]
async fn switch_user_with_a_malformed_flow_is_refused_before_anything_changes() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut b = app.browser();
    let (url, _) = authorize_url(&app, &rp, &[]);
    authorize(&mut b, &url, Some(("alice", PW))).await;
    let csrf = b.cookies["__Host-trousseau_csrf"].clone();
    for flow in [
        "abc\r\nSet-Cookie: x=1",
        "abc\0def",
        "a\nb",
        &"f".repeat(100),
    ] {
        let resp = b
            .post("/switch-user", &[("csrf", csrf.as_str()), ("flow", flow)])
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{flow:?}");
        assert!(resp.headers().get(LOCATION).is_none());
        assert!(resp.text().await.unwrap().contains("<html"));
    }
    // The session is untouched: prompt=none still gets a code.
    let (url, _) = authorize_url(&app, &rp, &[("prompt", "none")]);
    let back = authorize(&mut b, &url, None).await;
    assert!(query_param(&back, "code").is_some(), "{back}");
    assert_eq!(
        app.audit("switch_user")
            .await
            .iter()
            .filter(|e| e.reason.as_deref() == Some("malformed_flow"))
            .count(),
        4
    );
}
