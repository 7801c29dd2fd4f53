//! Card revocation sources: a stale CRL and its policy, CRLs fetched from URLs and refreshed,
//! OCSP answers.

use reqwest::StatusCode;

use crate::cps::{
    HEADER, Options, assert_card_claims, card_server, finish, linked_user, refused, start,
    via_header, write,
};
use crate::cps_pki::{OcspStatus, Pki, now};
use crate::helpers::{HttpPeer, Reply, spawn_app_with, wait};

#[tokio::test]
async fn a_stale_list_refuses_by_default_and_is_audited_when_accepted() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let s = card_server(pki, &[], Options::default()).await;
    let app = &s.app;
    linked_user(app, "idupont", "810002813839").await;
    // Eight days later the week-long list is stale.
    app.clock.advance(8 * 86_400);
    let (status, html) = refused(app, Some(&card)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(html.contains("ne peut pas être vérifié"), "{html}");
    let s = card_server(
        pki,
        &[],
        Options {
            crl_stale: "accept",
            ..Options::default()
        },
    )
    .await;
    let app = &s.app;
    let id = linked_user(app, "idupont", "810002813839").await;
    app.clock.advance(8 * 86_400);
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    assert_card_claims(&finish(app, &mut b, &rp, resp, &verifier).await, &id);
    let notes = app.audit("card_revocation_unchecked").await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].reason.as_deref(), Some("crl_stale"));
}

/// A CRL or OCSP responder on loopback answering the current `body` (503 while it is empty).
async fn serve_bytes(body: std::sync::Arc<std::sync::Mutex<Vec<u8>>>) -> HttpPeer {
    HttpPeer::start(move |_| {
        let bytes = body.lock().unwrap().clone();
        if bytes.is_empty() {
            Reply::status(503)
        } else {
            Reply::ok("application/pkix-crl", bytes)
        }
    })
    .await
}

#[tokio::test]
async fn lists_fetched_from_urls_are_refreshed_and_a_failing_source_keeps_the_last_list() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let body = std::sync::Arc::new(std::sync::Mutex::new(pki.crl(&[])));
    let peer = serve_bytes(body.clone()).await;
    let crl_url = peer.url("/CRL/ACI-FO-PP.crl");
    let dir = tempfile::tempdir().unwrap();
    let anchors = write(dir.path(), "anchors.pem", &pki.anchors_pem());
    let inter = write(dir.path(), "intermediates.pem", &pki.intermediates_pem());
    let app = spawn_app_with(&format!(
        "[cps]\nenabled = true\nanchors = [\"{anchors}\"]\nintermediates = [\"{inter}\"]\n\
         allow_test_anchors = true\ncrl_urls = [\"{crl_url}\"]\n\
         crl_refresh_secs = 1\n\
         [cps.proxy]\nheader = \"{HEADER}\"\ntrusted = [\"127.0.0.1\"]\n"
    ))
    .await;
    let id = linked_user(&app, "idupont", "810002813839").await;
    let cps = app.state.cps.clone().unwrap();
    wait::until("the list fetched and installed", || async {
        cps.verifier.crls.get(&pki.personal.subject).is_some()
    })
    .await;
    assert!(cps.verifier.crls.get(&pki.personal.subject).is_some());
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(&app, &mut b, &rp).await;
    let resp = via_header(&app, &mut b, &flow, Some(&card)).await;
    assert_card_claims(&finish(&app, &mut b, &rp, resp, &verifier).await, &id);
    // The CA revokes the card: the next refresh sees it.
    // A list is newer by its `thisUpdate`, in whole seconds.
    wait::next_second().await;
    *body.lock().unwrap() = pki.crl(&[&card]);
    wait::until("the list revoking the card installed", || async {
        cps.verifier
            .crls
            .get(&pki.personal.subject)
            .is_some_and(|crl| crl.is_revoked(&card.serial))
    })
    .await;
    let (status, html) = refused(&app, Some(&card)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("révoquée"));
    // The source fails: the last list stays in force, and the failure is audited.
    *body.lock().unwrap() = Vec::new();
    let before = peer.count();
    peer.wait_for(before + 1).await;
    wait::until("the failed refresh audited", || async {
        app.audit("crl_refresh")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("crl_unavailable"))
    })
    .await;
    let (_, html) = refused(&app, Some(&card)).await;
    assert!(html.contains("révoquée"));
    assert!(
        app.audit("crl_refresh")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("crl_unavailable"))
    );
}

#[tokio::test]
async fn an_ocsp_answer_vouches_for_a_card_without_a_current_list_or_revokes_it() {
    let pki = Pki::shared();
    let good = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let revoked = pki.personal("810002813847", "DURAND", "PAUL", "Médecin");
    let unknown = pki.personal("810002813854", "MARTIN", "JEAN", "Médecin");
    let answer = pki.ocsp_response(
        &[(&good, OcspStatus::Good), (&revoked, OcspStatus::Revoked)],
        now() - 60,
        now() + 3600,
    );
    let body = std::sync::Arc::new(std::sync::Mutex::new(answer));
    let peer = serve_bytes(body.clone()).await;
    let ocsp_url = peer.url("/ocsp");
    let dir = tempfile::tempdir().unwrap();
    let anchors = write(dir.path(), "anchors.pem", &pki.anchors_pem());
    let inter = write(dir.path(), "intermediates.pem", &pki.intermediates_pem());
    // No CRL at all: without OCSP every card would be refused (crl_missing).
    let app = spawn_app_with(&format!(
        "[cps]\nenabled = true\nanchors = [\"{anchors}\"]\nintermediates = [\"{inter}\"]\n\
         allow_test_anchors = true\nocsp = \"{ocsp_url}\"\n\
         [cps.proxy]\nheader = \"{HEADER}\"\ntrusted = [\"127.0.0.1\"]\n"
    ))
    .await;
    let id = linked_user(&app, "idupont", "810002813839").await;
    linked_user(&app, "pdurand", "810002813847").await;
    linked_user(&app, "jmartin", "810002813854").await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(&app, &mut b, &rp).await;
    let resp = via_header(&app, &mut b, &flow, Some(&good)).await;
    assert_card_claims(&finish(&app, &mut b, &rp, resp, &verifier).await, &id);
    assert_eq!(peer.count(), 1);

    let (status, html) = refused(&app, Some(&revoked)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("révoquée"));
    // A card the answer does not cover: the CRLs decide (none here: refused).
    let (status, _) = refused(&app, Some(&unknown)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // An answer past its nextUpdate (the injected clock moved) is not used either.
    app.clock.advance(2 * 3600);
    let (status, _) = refused(&app, Some(&good)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // An answer signed by another key (same CA name) is not believed.
    app.clock.advance(-2 * 3600);
    *body.lock().unwrap() =
        Pki::new().ocsp_response(&[(&good, OcspStatus::Good)], now() - 60, now() + 3600);
    let (status, _) = refused(&app, Some(&good)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let details: Vec<String> = app
        .audit("card_login")
        .await
        .into_iter()
        .filter_map(|e| e.details)
        .collect();
    assert!(
        details.iter().any(|d| d.contains("\"ocsp\"")),
        "{details:?}"
    );
}
