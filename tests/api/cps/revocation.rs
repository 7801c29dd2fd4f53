//! Card revocation sources: a stale CRL and its policy, CRLs fetched from URLs and refreshed,
//! OCSP answers.

use reqwest::StatusCode;

use crate::cps::{
    HEADER, Options, assert_card_claims, card_server, finish, linked_user, refused, start,
    via_header, write,
};
use crate::cps_pki::{OcspStatus, Pki, now};
use crate::helpers::spawn_app_with;

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

/// Serves `body` to every HTTP request on a loopback port until the task is dropped; the
/// number of requests served so far.
async fn serve_bytes(
    body: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let bytes = body.lock().unwrap().clone();
            let status = if bytes.is_empty() {
                "503 Unavailable"
            } else {
                "200 OK"
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/pkix-crl\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&bytes).await;
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, served)
}

#[tokio::test]
async fn lists_fetched_from_urls_are_refreshed_and_a_failing_source_keeps_the_last_list() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let body = std::sync::Arc::new(std::sync::Mutex::new(pki.crl(&[])));
    let (port, served) = serve_bytes(body.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let anchors = write(dir.path(), "anchors.pem", &pki.anchors_pem());
    let inter = write(dir.path(), "intermediates.pem", &pki.intermediates_pem());
    let app = spawn_app_with(&format!(
        "[cps]\nenabled = true\nanchors = [\"{anchors}\"]\nintermediates = [\"{inter}\"]\n\
         allow_test_anchors = true\ncrl_urls = [\"http://127.0.0.1:{port}/CRL/ACI-FO-PP.crl\"]\n\
         crl_refresh_secs = 1\n\
         [cps.proxy]\nheader = \"{HEADER}\"\ntrusted = [\"127.0.0.1\"]\n"
    ))
    .await;
    let id = linked_user(&app, "idupont", "810002813839").await;
    let cps = app.state.cps.clone().unwrap();
    let wait_for = async |n: usize| {
        for _ in 0..100 {
            if served.load(std::sync::atomic::Ordering::SeqCst) >= n {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the list was not fetched {n} times");
    };
    wait_for(1).await;
    assert!(cps.verifier.crls.get(&pki.personal.subject).is_some());
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(&app, &mut b, &rp).await;
    let resp = via_header(&app, &mut b, &flow, Some(&card)).await;
    assert_card_claims(&finish(&app, &mut b, &rp, resp, &verifier).await, &id);
    // The CA revokes the card: the next refresh sees it.
    std::thread::sleep(std::time::Duration::from_secs(1));
    *body.lock().unwrap() = pki.crl(&[&card]);
    let before = served.load(std::sync::atomic::Ordering::SeqCst);
    wait_for(before + 1).await;
    let (status, html) = refused(&app, Some(&card)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("révoquée"));
    // The source fails: the last list stays in force, and the failure is audited.
    *body.lock().unwrap() = Vec::new();
    let before = served.load(std::sync::atomic::Ordering::SeqCst);
    wait_for(before + 1).await;
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
    let (port, served) = serve_bytes(body.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let anchors = write(dir.path(), "anchors.pem", &pki.anchors_pem());
    let inter = write(dir.path(), "intermediates.pem", &pki.intermediates_pem());
    // No CRL at all: without OCSP every card would be refused (crl_missing).
    let app = spawn_app_with(&format!(
        "[cps]\nenabled = true\nanchors = [\"{anchors}\"]\nintermediates = [\"{inter}\"]\n\
         allow_test_anchors = true\nocsp = \"http://127.0.0.1:{port}/ocsp\"\n\
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
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);

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
