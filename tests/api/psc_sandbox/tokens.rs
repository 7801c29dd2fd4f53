//! What tokens give: userinfo as JSON or as a signed JWT, PSC's claims built from the RPPS
//! file, introspection, refresh, client authentication by secret, logout.

use serde_json::Value;

use super::{CIBA, CIBA_GRANT, INTROSPECT, LOGOUT, TOKEN, USERINFO, error_of, post, verify};
use crate::helpers::sandbox::{ADELI, PROFESSIONAL, Sandbox, SandboxOptions, spawn_sandbox};

async fn userinfo(sb: &Sandbox, access_token: &str) -> reqwest::Response {
    sb.http
        .get(sb.realm(USERINFO))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn userinfo_answers_psc_claims_built_from_the_rpps_file() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let tokens = sb.ciba_tokens(PROFESSIONAL).await;
    let resp = userinfo(&sb, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let info: Value = resp.json().await.unwrap();
    assert!(info["sub"].as_str().unwrap().ends_with(PROFESSIONAL));
    assert_eq!(info["SubjectNameID"], PROFESSIONAL);
    assert_eq!(info["preferred_username"], PROFESSIONAL);
    assert_eq!(info["given_name"], "CLAIRE");
    assert_eq!(info["family_name"], "MARTIN");
    assert_eq!(info["codeCivilite"], "MME");
    assert_eq!(info["SubjectOrganization"], "CHU DE TEST SITE NORD");
    assert_eq!(info["SubjectOrganizationID"], "F750712184");
    assert_eq!(info["SubjectRole"][0], "10^1.2.250.1.71.1.2.7");
    assert_eq!(info["otherIds"][0]["identifiant"], PROFESSIONAL);
    assert_eq!(info["otherIds"][0]["origine"], "RPPS");
    let exercice = &info["SubjectRefPro"]["exercices"][0];
    assert_eq!(exercice["codeProfession"], "10");
    assert_eq!(exercice["codeSavoirFaire"], "SM54");
    assert_eq!(exercice["codeCiviliteDexercice"], "DR");
    assert_eq!(exercice["nomDexercice"], "MARTIN");
    let activities = exercice["activities"].as_array().unwrap();
    assert_eq!(activities.len(), 2, "both lines of the file");
    assert_eq!(activities[0]["numeroFinessSite"], "750712184");
    assert_eq!(
        activities[0]["numeroFinessetablissementJuridique"],
        "750712176"
    );
    assert_eq!(
        activities[0]["ancienIdentifiantDeLaStructure"],
        "1750712184"
    );
    assert_eq!(activities[0]["codeSecteurDactivite"], "SA01");
    assert_eq!(activities[1]["codeModeExercice"], "L");
    assert_eq!(
        activities[1]["raisonSocialeSite"],
        "CABINET DU DOCTEUR MARTIN"
    );

    // A token that is not the sandbox's is refused.
    let resp = userinfo(&sb, "not-a-token").await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
}

#[tokio::test]
async fn userinfo_is_a_signed_jwt_for_clients_configured_so() {
    let sb = spawn_sandbox(SandboxOptions {
        extra_clients: "[[clients]]\nclient_id = \"signed\"\nsecret = \"signed-secret\"\n\
                        redirect_uris = [\"http://127.0.0.1:9/cb\"]\nuserinfo_signed = true\n"
            .into(),
        ..SandboxOptions::default()
    })
    .await;
    let resp = sb
        .http
        .post(sb.realm(CIBA))
        .basic_auth("signed", Some("signed-secret"))
        .form(&[("scope", "openid scope_all"), ("login_hint", ADELI)])
        .send()
        .await
        .unwrap();
    let id = resp.json::<Value>().await.unwrap()["auth_req_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.approve_all(ADELI).await;
    let tokens: Value = sb
        .http
        .post(sb.realm(TOKEN))
        .form(&[
            ("grant_type", CIBA_GRANT),
            ("auth_req_id", id.as_str()),
            ("client_id", "signed"),
            ("client_secret", "signed-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = userinfo(&sb, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/jwt");
    let claims = verify(&sb, &resp.text().await.unwrap()).await;
    assert_eq!(claims["iss"], sb.issuer.as_str());
    assert_eq!(claims["aud"], "signed");
    assert_eq!(claims["SubjectNameID"], ADELI);
    assert_eq!(claims["otherIds"][0]["origine"], "ADELI");
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client_everywhere() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    for path in [CIBA, TOKEN, INTROSPECT] {
        let resp = sb
            .http
            .post(sb.realm(path))
            .basic_auth(&sb.client_id, Some("wrong"))
            .form(&[
                ("scope", "openid"),
                ("login_hint", PROFESSIONAL),
                ("token", "x"),
                ("grant_type", CIBA_GRANT),
                ("auth_req_id", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert!(resp.headers().get("www-authenticate").is_some(), "{path}");
        assert_eq!(
            error_of(resp).await,
            (401, "invalid_client".into()),
            "{path}"
        );
        let resp = sb
            .http
            .post(sb.realm(path))
            .form(&[
                ("client_id", "trousseau"),
                ("client_secret", "wrong"),
                ("token", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(resp).await,
            (401, "invalid_client".into()),
            "{path}"
        );
        let resp = sb
            .http
            .post(sb.realm(path))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(resp).await,
            (401, "invalid_client".into()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn introspection_refresh_and_logout() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let tokens = sb.ciba_tokens(PROFESSIONAL).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let info: Value = post(&sb, INTROSPECT, &[("token", access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], "trousseau");
    assert_eq!(info["scope"], "openid scope_all");
    assert_eq!(info["preferred_username"], PROFESSIONAL);
    let info: Value = post(&sb, INTROSPECT, &[("token", refresh)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true);
    let info: Value = post(&sb, INTROSPECT, &[("token", "garbage")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info, serde_json::json!({ "active": false }));

    // Refresh rotates: the new one works, the old one no longer.
    let resp = post(
        &sb,
        TOKEN,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let renewed: Value = resp.json().await.unwrap();
    let refresh2 = renewed["refresh_token"].as_str().unwrap().to_owned();
    let again = post(
        &sb,
        TOKEN,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(error_of(again).await, (400, "invalid_grant".into()));

    // The client ends the session with its refresh token: every token of it dies.
    let resp = post(&sb, LOGOUT, &[("refresh_token", &refresh2)]).await;
    assert_eq!(resp.status(), 204);
    let info: Value = post(&sb, INTROSPECT, &[("token", access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], false);
    assert_eq!(userinfo(&sb, access).await.status(), 401);
    let resp = post(
        &sb,
        TOKEN,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh2),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await.1, "invalid_grant");
}

#[tokio::test]
async fn browser_logout_ends_the_session_and_returns_to_a_registered_address() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let b = crate::helpers::sandbox::browser();
    let (verifier, challenge) = crate::helpers::pkce();
    let url = sb.authorize_url(&challenge, "");
    let back = sb.sign_in(&b, &url, PROFESSIONAL, true).await;
    let code = crate::helpers::query_param(&back, "code").unwrap();
    let tokens: Value = sb.exchange(&code, &verifier).await.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let url = format!(
        "{}?id_token_hint={id_token}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye&state=s1",
        sb.realm(LOGOUT)
    );
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "http://127.0.0.1:9/bye?state=s1"
    );
    assert_eq!(
        userinfo(&sb, tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    // The prompt is back.
    let (_, challenge) = crate::helpers::pkce();
    let page = b
        .get(sb.authorize_url(&challenge, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // An unregistered address is not followed.
    let resp = b
        .get(format!(
            "{}?post_logout_redirect_uri=http%3A%2F%2Fevil.example%2F",
            sb.realm(LOGOUT)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("déconnecté"));
}
