//! The demo's stand-in for a national service, "DMP (démonstration)", under `/demo/dmp`: a
//! relying party of the Pro Santé Connect sandbox (not of this server) that asks PSC to send the
//! professional to the establishment's Trousseau (`kc_idp_hint=<alias>`). It redeems the code
//! and checks the ID token with Trousseau's own PSC client code (keys, issuer, audience, nonce),
//! then greets the professional PSC names.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Callback, Returned, returned, start_flow};
use crate::psc::client::{ProvenIdentity, PscClient};
use crate::psc::protocol::{PscClaims, SubjectRefPro};
use crate::ui::page::render_with;

const DMP_COOKIE: &str = "__Host-demo_dmp";

/// The national service's registration at the sandbox.
#[derive(Debug, Clone)]
pub struct DemoDmp {
    /// A PSC client with the service's credentials.
    pub client: Arc<PscClient>,
    /// This server's public base URL (the service's pages are under `/demo/dmp`).
    pub base: String,
    /// The sandbox's name for the establishment's Trousseau (`kc_idp_hint`).
    pub alias: String,
    /// The sandbox's logout endpoint.
    pub end_session: String,
}

impl DemoDmp {
    fn redirect_uri(&self) -> String {
        format!("{}/demo/dmp/callback", self.base)
    }

    /// RP-initiated logout at PSC, back to the service's home page.
    fn logout_href(&self) -> String {
        let mut url = match url::Url::parse(&self.end_session) {
            Ok(u) => u,
            Err(_) => return String::new(),
        };
        url.query_pairs_mut()
            .append_pair("client_id", self.client.client_id())
            .append_pair(
                "post_logout_redirect_uri",
                &format!("{}/demo/dmp", self.base),
            );
        url.to_string()
    }
}

/// What the service shows of a professional.
struct Welcome {
    idnat: String,
    name: String,
    practice: Vec<String>,
    auth_mode: String,
    acr: String,
    logout_href: String,
    claims: String,
}

#[derive(Template)]
#[template(path = "demo/dmp.html")]
struct DmpPage {
    welcome: Option<Welcome>,
    error: Option<String>,
}

fn dmp_page(welcome: Option<Welcome>, error: Option<String>) -> HttpResponse {
    render_with(HttpResponse::Ok(), &DmpPage { welcome, error })
}

pub fn configure(cfg: &mut web::ServiceConfig, dmp: web::Data<DemoDmp>) {
    cfg.app_data(dmp)
        .route("/demo/dmp", web::get().to(dmp_home))
        .route("/demo/dmp/login", web::get().to(dmp_login))
        .route("/demo/dmp/callback", web::get().to(dmp_callback));
}

async fn dmp_home() -> HttpResponse {
    dmp_page(None, None)
}

async fn dmp_login(dmp: web::Data<DemoDmp>) -> HttpResponse {
    match dmp.client.authorization_request(&dmp.redirect_uri()).await {
        Ok((mut url, pending)) => {
            url.query_pairs_mut().append_pair("kc_idp_hint", &dmp.alias);
            start_flow(DMP_COOKIE, &pending, &url)
        }
        Err(e) => {
            tracing::warn!(error = %e, "demo DMP: no authorization request");
            dmp_page(None, Some(e.reason().to_owned()))
        }
    }
}

async fn dmp_callback(
    req: HttpRequest,
    dmp: web::Data<DemoDmp>,
    q: web::Query<Callback>,
) -> HttpResponse {
    let (pending, code) = match returned(&req, DMP_COOKIE, &q) {
        Returned::Code { pending, code } => (pending, code),
        Returned::NoCode { error } => return dmp_page(None, error),
        Returned::Foreign => return Returned::foreign(&req),
    };
    match dmp
        .client
        .finish_authorization(&pending, &code, &dmp.redirect_uri())
        .await
    {
        Ok(proven) => dmp_page(Some(welcome(&proven, dmp.logout_href())), None),
        Err(e) => {
            tracing::warn!(error = %e, "demo DMP: the answer of PSC is refused");
            dmp_page(None, Some(e.reason().to_owned()))
        }
    }
}

fn welcome(proven: &ProvenIdentity, logout_href: String) -> Welcome {
    let claims: PscClaims = serde_json::from_value(proven.claims.clone()).unwrap_or_default();
    let text = |key: &str| {
        proven
            .claims
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let name = [proven.given_name.as_deref(), proven.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Welcome {
        idnat: proven.idnat.to_string(),
        name,
        practice: claims
            .subject_ref_pro
            .as_ref()
            .map(practice)
            .unwrap_or_default(),
        auth_mode: text("authMode"),
        acr: text("acr"),
        logout_href,
        claims: serde_json::to_string_pretty(&proven.claims).unwrap_or_default(),
    }
}

/// One line per profession and practice site of `SubjectRefPro`.
fn practice(r: &SubjectRefPro) -> Vec<String> {
    let mut lines = Vec::new();
    for e in &r.exercices {
        let mut head = format!("Profession {}", e.code_profession);
        if !e.code_savoir_faire.is_empty() {
            head.push_str(&format!(", savoir-faire {}", e.code_savoir_faire));
        }
        if !e.nom_dexercice.is_empty() {
            head.push_str(&format!(
                " — exerce sous le nom {} {}",
                e.prenom_dexercice, e.nom_dexercice
            ));
        }
        lines.push(head);
        for a in &e.activities {
            let site = [&a.raison_sociale_site, &a.enseigne_commerciale_site]
                .into_iter()
                .find(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| "site sans nom".into());
            let mut line = format!("  à {site}");
            if !a.numero_finess_site.is_empty() {
                line.push_str(&format!(" (FINESS {})", a.numero_finess_site));
            }
            if !a.code_postal.is_empty() {
                line.push_str(&format!(", {}", a.code_postal));
            }
            lines.push(line);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psc::protocol::{Exercice, PscActivity};

    #[test]
    fn the_practice_summary_names_each_profession_and_site() {
        let r = SubjectRefPro {
            code_civilite: "MME".into(),
            exercices: vec![Exercice {
                code_profession: "10".into(),
                code_savoir_faire: "SM54".into(),
                activities: vec![
                    PscActivity {
                        raison_sociale_site: "CHU DE DÉMONSTRATION".into(),
                        numero_finess_site: "750712184".into(),
                        code_postal: "75013".into(),
                        ..PscActivity::default()
                    },
                    PscActivity::default(),
                ],
                ..Exercice::default()
            }],
        };
        assert_eq!(
            practice(&r),
            [
                "Profession 10, savoir-faire SM54",
                "  à CHU DE DÉMONSTRATION (FINESS 750712184), 75013",
                "  à site sans nom",
            ]
        );
    }
}
