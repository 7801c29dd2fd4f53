//! Screens in French first, English second: language negotiation and the strings.

use actix_web::HttpRequest;

use super::cookies::LANG;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    fn parse(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split(['-', '_', ';'])
            .next()?
            .to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// `ui_locales` (space-separated, by preference), then an explicit choice (`lang`
    /// parameter or cookie), then Accept-Language, then French.
    pub fn negotiate(req: &HttpRequest, ui_locales: Option<&str>, explicit: Option<&str>) -> Lang {
        if let Some(l) = explicit.and_then(Lang::parse) {
            return l;
        }
        if let Some(l) = ui_locales.and_then(|u| u.split(' ').find_map(Lang::parse)) {
            return l;
        }
        if let Some(l) = req.cookie(LANG).and_then(|c| Lang::parse(c.value())) {
            return l;
        }
        let accept = req
            .headers()
            .get("accept-language")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        accept.split(',').find_map(Lang::parse).unwrap_or(Lang::Fr)
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    pub fn t(self) -> &'static Texts {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }
}

/// Every string shown on a screen.
#[derive(Debug)]
pub struct Texts {
    pub other_lang_label: &'static str,
    pub skip: &'static str,
    pub login_title: &'static str,
    pub login_intro: &'static str,
    pub login_for: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub submit_login: &'static str,
    pub signed_in_as: &'static str,
    pub not_me: &'static str,
    pub reauth_needed: &'static str,
    pub stepup_needed: &'static str,
    pub err_credentials: &'static str,
    pub err_locked: &'static str,
    pub err_address_blocked: &'static str,
    pub err_disabled: &'static str,
    pub err_pending: &'static str,
    pub err_unavailable: &'static str,
    pub err_csrf: &'static str,
    pub err_admin_denied: &'static str,
    pub err_admin_read_only: &'static str,
    pub err_flow: &'static str,
    /// Pro Santé Connect's broker, for an account whose establishment (`tid`) is unknown.
    pub err_establishment_unknown: &'static str,
    pub err_too_many_flows: &'static str,
    pub err_missing_fields: &'static str,
    pub err_level: &'static str,
    pub err_dir_disabled: &'static str,
    pub err_dir_locked: &'static str,
    pub err_dir_account_expired: &'static str,
    pub err_dir_restricted: &'static str,
    pub err_dir_unavailable: &'static str,
    pub err_dir_conflict: &'static str,
    pub pw_change_title: &'static str,
    pub pw_change_expired: &'static str,
    pub pw_change_must: &'static str,
    pub pw_current: &'static str,
    pub pw_new: &'static str,
    pub pw_confirm: &'static str,
    pub pw_submit: &'static str,
    pub err_pw_mismatch: &'static str,
    pub err_pw_rejected: &'static str,
    pub err_pw_same: &'static str,
    pub err_pw_ticket: &'static str,
    pub consent_title: &'static str,
    pub consent_intro: &'static str,
    pub consent_allow: &'static str,
    pub consent_deny: &'static str,
    pub scope_openid: &'static str,
    pub scope_profile: &'static str,
    pub scope_email: &'static str,
    pub scope_offline: &'static str,
    pub scope_roles: &'static str,
    pub scope_rpps: &'static str,
    pub error_title: &'static str,
    pub error_reference: &'static str,
    pub error_back: &'static str,
    pub bad_request_client: &'static str,
    pub bad_request_redirect: &'static str,
    pub not_found: &'static str,
    pub server_error: &'static str,
    pub err_bad_request: &'static str,
    pub err_too_large: &'static str,
    pub forbidden_address: &'static str,
    pub logout_title: &'static str,
    pub logout_confirm: &'static str,
    pub logout_button: &'static str,
    pub logged_out_title: &'static str,
    pub logged_out_text: &'static str,
    pub home_title: &'static str,
    pub home_signed_in: &'static str,
    pub home_signed_out: &'static str,
    pub home_level: &'static str,
    pub home_until: &'static str,
    pub continue_label: &'static str,
    pub form_post_text: &'static str,
    pub card_login_link: &'static str,
    pub card_refused_title: &'static str,
    pub card_retry: &'static str,
    pub card_no_card: &'static str,
    pub card_malformed: &'static str,
    pub card_not_yet_valid: &'static str,
    pub card_expired: &'static str,
    pub card_untrusted: &'static str,
    pub card_wrong_usage: &'static str,
    pub card_revoked: &'static str,
    pub card_revocation_unknown: &'static str,
    pub card_unrecognised: &'static str,
    pub card_blocked: &'static str,
    pub card_not_linked: &'static str,
    pub card_structure_refused: &'static str,
    pub card_suspended: &'static str,
}

pub static FR: Texts = Texts {
    other_lang_label: "English",
    skip: "Aller au contenu",
    login_title: "Connexion",
    login_intro: "Connectez-vous avec votre compte de l'établissement.",
    login_for: "pour accéder à",
    username: "Identifiant",
    password: "Mot de passe",
    submit_login: "Se connecter",
    signed_in_as: "Connecté en tant que",
    not_me: "Ce n'est pas moi / changer d'utilisateur",
    reauth_needed: "Pour votre sécurité, confirmez votre identité.",
    stepup_needed: "Cette application demande un niveau d'authentification plus élevé.",
    err_credentials: "Identifiant ou mot de passe incorrect. Vérifiez la saisie (majuscules) et réessayez.",
    err_locked: "Trop d'essais : ce compte est temporairement verrouillé. Réessayez plus tard ou contactez le support informatique.",
    err_address_blocked: "Trop d'essais depuis ce poste. Patientez quelques minutes avant de réessayer.",
    err_disabled: "Ce compte est désactivé. Contactez le support informatique.",
    err_pending: "Ce compte sera ouvert le jour de votre arrivée dans l'établissement. Si vous êtes déjà arrivé(e), contactez le support informatique.",
    err_unavailable: "Le service est momentanément indisponible. Réessayez dans un instant.",
    err_csrf: "Le formulaire a expiré. Rechargez la page et réessayez.",
    err_admin_denied: "Vous n'avez pas accès à la console d'administration.",
    err_admin_read_only: "Votre rôle ne permet pas cette action : la console vous est ouverte en lecture seule.",
    err_flow: "Cette demande de connexion a expiré. Retournez à l'application et recommencez.",
    err_establishment_unknown: "Votre compte n'est rattaché à aucun établissement connu de Pro Santé Connect : la connexion à Pro Santé Connect est impossible. Contactez l'assistance informatique en lui donnant le numéro de demande ci-dessous (motif : établissement inconnu).",
    err_too_many_flows: "Trop de demandes de connexion sont en attente depuis ce poste ou ce réseau. Patientez quelques minutes puis recommencez depuis l'application.",
    err_missing_fields: "Saisissez votre identifiant et votre mot de passe.",
    err_level: "Cette application exige une authentification forte (clé de sécurité ou carte CPS) qui n'est pas encore disponible pour votre compte. Contactez le support informatique.",
    err_dir_disabled: "Votre compte est désactivé dans l'annuaire de l'établissement. Contactez le support informatique.",
    err_dir_locked: "Votre compte est verrouillé dans l'annuaire de l'établissement après trop d'essais. Réessayez plus tard ou contactez le support informatique.",
    err_dir_account_expired: "Votre compte a expiré dans l'annuaire de l'établissement. Contactez le support informatique.",
    err_dir_restricted: "L'annuaire n'autorise pas votre connexion à cette heure ou depuis ce poste. Contactez le support informatique.",
    err_dir_unavailable: "Annuaire indisponible : la connexion par mot de passe de l'établissement ne fonctionne pas pour le moment. Utilisez votre clé de sécurité ou votre carte CPS, ou réessayez dans quelques minutes.",
    err_dir_conflict: "Votre compte de l'annuaire ne peut pas être rattaché à une identité (homonyme ou matricule différent). Contactez le support informatique.",
    pw_change_title: "Changer de mot de passe",
    pw_change_expired: "Votre mot de passe a expiré. Choisissez-en un nouveau pour continuer.",
    pw_change_must: "Vous devez changer votre mot de passe avant de continuer.",
    pw_current: "Mot de passe actuel",
    pw_new: "Nouveau mot de passe",
    pw_confirm: "Confirmez le nouveau mot de passe",
    pw_submit: "Changer le mot de passe",
    err_pw_mismatch: "Les deux nouveaux mots de passe ne sont pas identiques.",
    err_pw_rejected: "L'annuaire a refusé le changement : mot de passe actuel incorrect, ou nouveau mot de passe trop court, trop simple ou déjà utilisé.",
    err_pw_same: "Le nouveau mot de passe doit être différent de l'actuel.",
    err_pw_ticket: "Cette demande de changement a expiré. Reconnectez-vous.",
    consent_title: "Autoriser l'accès",
    consent_intro: "souhaite accéder aux informations suivantes :",
    consent_allow: "Autoriser",
    consent_deny: "Refuser",
    scope_openid: "Votre identifiant",
    scope_profile: "Vos nom et prénom",
    scope_email: "Votre adresse e-mail",
    scope_offline: "Un accès prolongé, même après votre déconnexion",
    scope_roles: "Vos rôles dans l'établissement (groupes de l'annuaire)",
    scope_rpps: "Votre identifiant national de professionnel de santé (RPPS) et vos activités professionnelles dans l'établissement",
    error_title: "Une erreur est survenue",
    error_reference: "Référence à communiquer au support",
    error_back: "Retour à l'accueil",
    bad_request_client: "L'application qui vous a envoyé ici n'est pas reconnue. Contactez son support.",
    bad_request_redirect: "L'adresse de retour de l'application n'est pas enregistrée. Contactez son support.",
    not_found: "Cette page n'existe pas.",
    server_error: "Le service n'a pas pu traiter la demande. Réessayez dans un instant.",
    err_bad_request: "Cette demande est incomplète ou illisible. Retournez à l'application et recommencez.",
    err_too_large: "Cette demande est trop volumineuse pour être traitée. Retournez à l'application et recommencez.",
    forbidden_address: "Cette page n'est pas accessible depuis votre adresse.",
    logout_title: "Déconnexion",
    logout_confirm: "Voulez-vous vous déconnecter de toutes les applications ?",
    logout_button: "Se déconnecter",
    logged_out_title: "Vous êtes déconnecté",
    logged_out_text: "Vous pouvez fermer cette fenêtre ou laisser le poste au collègue suivant.",
    home_title: "Trousseau",
    home_signed_in: "Vous êtes connecté en tant que",
    home_signed_out: "Vous n'êtes pas connecté.",
    home_level: "Niveau d'authentification",
    home_until: "Session valable jusqu'à",
    continue_label: "Continuer",
    form_post_text: "Retour à l'application…",
    card_login_link: "Se connecter avec la carte CPS",
    card_refused_title: "Connexion par carte CPS refusée",
    card_retry: "Retour à l'écran de connexion",
    card_no_card: "Aucune carte CPS n'a été présentée. Insérez votre carte dans le lecteur, vérifiez que le logiciel de la carte (Cryptolib CPS) est installé, puis réessayez en choisissant le certificat de la carte.",
    card_malformed: "Le certificat présenté n'est pas lisible. Réessayez avec votre carte CPS.",
    card_not_yet_valid: "Votre carte CPS n'est pas encore valide. Réessayez plus tard ou contactez le support informatique.",
    card_expired: "Votre carte CPS a expiré. Commandez son renouvellement auprès de l'ANS et utilisez un autre moyen de connexion en attendant.",
    card_untrusted: "Cette carte n'a pas été émise par une autorité de confiance (IGC-Santé). Utilisez votre carte CPS.",
    card_wrong_usage: "Le certificat présenté ne permet pas de s'authentifier. Choisissez le certificat d'authentification de votre carte CPS.",
    card_revoked: "Votre carte CPS a été révoquée (mise en opposition). Contactez l'ANS ou le support informatique.",
    card_revocation_unknown: "L'état de votre carte CPS ne peut pas être vérifié pour le moment (liste de révocation indisponible). Utilisez un autre moyen de connexion ou réessayez plus tard.",
    card_unrecognised: "Cette carte n'est pas reconnue comme une carte CPS de professionnel de santé.",
    card_blocked: "Cette carte a été bloquée par l'établissement. Contactez le support informatique.",
    card_not_linked: "Cette carte CPS n'est rattachée à aucun compte de l'établissement. Contactez le support informatique pour faire rattacher votre numéro RPPS à votre compte.",
    card_structure_refused: "Les cartes d'établissement (CPE, CPA) ne permettent pas de se connecter ici. Utilisez votre carte CPS personnelle ou votre compte.",
    card_suspended: "Le compte rattaché à cette carte est suspendu. Contactez le support informatique.",
};

pub static EN: Texts = Texts {
    other_lang_label: "Français",
    skip: "Skip to content",
    login_title: "Sign in",
    login_intro: "Sign in with your hospital account.",
    login_for: "to access",
    username: "Username",
    password: "Password",
    submit_login: "Sign in",
    signed_in_as: "Signed in as",
    not_me: "Not me / switch user",
    reauth_needed: "For your security, please confirm your identity.",
    stepup_needed: "This application requires a higher authentication level.",
    err_credentials: "Wrong username or password. Check the caps lock key and try again.",
    err_locked: "Too many attempts: this account is temporarily locked. Try again later or call the IT helpdesk.",
    err_address_blocked: "Too many attempts from this workstation. Wait a few minutes before trying again.",
    err_disabled: "This account is disabled. Call the IT helpdesk.",
    err_pending: "This account opens on the day you join the establishment. If you have already joined, call the IT helpdesk.",
    err_unavailable: "The service is temporarily unavailable. Try again in a moment.",
    err_csrf: "The form has expired. Reload the page and try again.",
    err_admin_denied: "You do not have access to the administration console.",
    err_admin_read_only: "Your role does not allow this action: the console is open to you read-only.",
    err_flow: "This sign-in request has expired. Go back to the application and start again.",
    err_establishment_unknown: "Your account is not attached to any establishment known to Pro Santé Connect, so you cannot sign in to Pro Santé Connect. Contact the IT helpdesk and give them the request number below (reason: unknown establishment).",
    err_too_many_flows: "Too many sign-in requests are pending from this workstation or network. Wait a few minutes, then start again from the application.",
    err_missing_fields: "Enter your username and password.",
    err_level: "This application requires strong authentication (security key or CPS card), which is not yet available for your account. Call the IT helpdesk.",
    err_dir_disabled: "Your account is disabled in the hospital directory. Call the IT helpdesk.",
    err_dir_locked: "Your account is locked in the hospital directory after too many attempts. Try again later or call the IT helpdesk.",
    err_dir_account_expired: "Your account has expired in the hospital directory. Call the IT helpdesk.",
    err_dir_restricted: "The directory does not allow you to sign in at this time or from this workstation. Call the IT helpdesk.",
    err_dir_unavailable: "Directory unavailable: signing in with your hospital password does not work right now. Use your security key or CPS card, or try again in a few minutes.",
    err_dir_conflict: "Your directory account cannot be matched to an identity (same name or a different employee number). Call the IT helpdesk.",
    pw_change_title: "Change your password",
    pw_change_expired: "Your password has expired. Choose a new one to continue.",
    pw_change_must: "You must change your password before you continue.",
    pw_current: "Current password",
    pw_new: "New password",
    pw_confirm: "Confirm the new password",
    pw_submit: "Change password",
    err_pw_mismatch: "The two new passwords differ.",
    err_pw_rejected: "The directory refused the change: wrong current password, or a new password that is too short, too simple or used before.",
    err_pw_same: "The new password must differ from the current one.",
    err_pw_ticket: "This change request has expired. Sign in again.",
    consent_title: "Allow access",
    consent_intro: "would like to access:",
    consent_allow: "Allow",
    consent_deny: "Deny",
    scope_openid: "Your identifier",
    scope_profile: "Your name",
    scope_email: "Your email address",
    scope_offline: "Extended access, even after you sign out",
    scope_roles: "Your roles in the hospital (directory groups)",
    scope_rpps: "Your national health professional identifier (RPPS) and your professional activities at the hospital",
    error_title: "Something went wrong",
    error_reference: "Reference for the helpdesk",
    error_back: "Back to the home page",
    bad_request_client: "The application that sent you here is not recognised. Contact its support.",
    bad_request_redirect: "The application's return address is not registered. Contact its support.",
    not_found: "This page does not exist.",
    server_error: "The service could not handle the request. Try again in a moment.",
    err_bad_request: "This request is incomplete or unreadable. Go back to the application and start again.",
    err_too_large: "This request is too large to be handled. Go back to the application and start again.",
    forbidden_address: "This page cannot be reached from your address.",
    logout_title: "Sign out",
    logout_confirm: "Do you want to sign out of every application?",
    logout_button: "Sign out",
    logged_out_title: "You are signed out",
    logged_out_text: "You may close this window or leave the workstation to the next colleague.",
    home_title: "Trousseau",
    home_signed_in: "You are signed in as",
    home_signed_out: "You are not signed in.",
    home_level: "Authentication level",
    home_until: "Session valid until",
    continue_label: "Continue",
    form_post_text: "Returning to the application…",
    card_login_link: "Sign in with a CPS card",
    card_refused_title: "CPS card sign-in refused",
    card_retry: "Back to the sign-in page",
    card_no_card: "No CPS card was presented. Insert your card in the reader, check that the card software (Cryptolib CPS) is installed, then try again and choose the card's certificate.",
    card_malformed: "The certificate presented cannot be read. Try again with your CPS card.",
    card_not_yet_valid: "Your CPS card is not valid yet. Try again later or call the IT helpdesk.",
    card_expired: "Your CPS card has expired. Order its renewal from the ANS and use another sign-in method meanwhile.",
    card_untrusted: "This card was not issued by a trusted authority (IGC-Santé). Use your CPS card.",
    card_wrong_usage: "The certificate presented cannot be used to sign in. Choose your CPS card's authentication certificate.",
    card_revoked: "Your CPS card has been revoked. Contact the ANS or the IT helpdesk.",
    card_revocation_unknown: "Your CPS card's status cannot be checked right now (revocation list unavailable). Use another sign-in method or try again later.",
    card_unrecognised: "This card is not recognised as a health professional's CPS card.",
    card_blocked: "This card has been blocked by the hospital. Call the IT helpdesk.",
    card_not_linked: "This CPS card is not linked to any hospital account. Call the IT helpdesk to have your RPPS number linked to your account.",
    card_structure_refused: "Establishment cards (CPE, CPA) cannot be used to sign in here. Use your personal CPS card or your account.",
    card_suspended: "The account linked to this card is suspended. Call the IT helpdesk.",
};

/// The consent page's line for a scope; every person scope (`oidc::scope::PERSON_SCOPES`,
/// all that the code flow can grant) has one.
pub fn scope_label(t: &Texts, scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some(t.scope_openid),
        "profile" => Some(t.scope_profile),
        "email" => Some(t.scope_email),
        "rpps" => Some(t.scope_rpps),
        "roles" => Some(t.scope_roles),
        "offline_access" => Some(t.scope_offline),
        _ => None,
    }
}

/// The message of a card-login refusal.
pub fn card_refusal(t: &Texts, r: crate::authn::cps::Refusal) -> &'static str {
    use crate::authn::cps::Refusal;
    match r {
        Refusal::NoCard => t.card_no_card,
        Refusal::Malformed => t.card_malformed,
        Refusal::NotYetValid => t.card_not_yet_valid,
        Refusal::Expired => t.card_expired,
        Refusal::Untrusted => t.card_untrusted,
        Refusal::WrongUsage => t.card_wrong_usage,
        Refusal::Revoked => t.card_revoked,
        Refusal::RevocationUnknown => t.card_revocation_unknown,
        Refusal::Unrecognised => t.card_unrecognised,
        Refusal::Blocked => t.card_blocked,
        Refusal::NotLinked => t.card_not_linked,
        Refusal::StructureRefused => t.card_structure_refused,
        Refusal::Suspended => t.card_suspended,
        Refusal::Unavailable => t.err_unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::scope::PERSON_SCOPES;

    #[test]
    fn every_grantable_scope_has_a_consent_label() {
        for t in [&FR, &EN] {
            for s in PERSON_SCOPES {
                let label = scope_label(t, s);
                assert!(
                    label.is_some_and(|l| !l.trim().is_empty()),
                    "the scope {s} has no consent label in {}",
                    t.other_lang_label
                );
            }
        }
        for s in PERSON_SCOPES {
            assert_ne!(
                scope_label(&FR, s),
                scope_label(&EN, s),
                "{s} is translated"
            );
        }
    }
}
