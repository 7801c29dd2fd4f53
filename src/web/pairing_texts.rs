//! The strings of the pairing page, French first.

use crate::psc::pairing::PairingError;
use crate::ui::i18n::Lang;

/// Every string of the pairing page and its script.
#[derive(Debug)]
pub struct PairingTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub none: &'static str,
    pub idnat: &'static str,
    pub means: &'static str,
    pub means_ciba: &'static str,
    pub means_redirect: &'static str,
    pub validated: &'static str,
    pub expires: &'static str,
    pub status: &'static str,
    pub status_active: &'static str,
    pub status_expired: &'static str,
    pub status_revoked: &'static str,
    pub warn_before: &'static str,
    pub warn_after: &'static str,
    pub warn_link: &'static str,
    pub pair_ciba: &'static str,
    pub pair_redirect: &'static str,
    pub renew: &'static str,
    pub idnat_label: &'static str,
    pub idnat_hint: &'static str,
    pub cancel: &'static str,
    pub waiting_title: &'static str,
    pub waiting_code: &'static str,
    pub waiting_hint: &'static str,
    pub reload: &'static str,
    pub done_paired: &'static str,
    /// A sign-in to Pro Santé Connect waits for the pairing: go on with it.
    pub resume_intro: &'static str,
    pub resume: &'static str,
    pub done_cancelled: &'static str,
    pub req_refused: &'static str,
    pub req_expired: &'static str,
    pub req_failed: &'static str,
    pub req_cancelled: &'static str,
    pub err_weak: &'static str,
    pub err_inactive: &'static str,
    pub err_no_link: &'static str,
    pub err_mismatch: &'static str,
    pub err_elsewhere: &'static str,
    pub err_foreign: &'static str,
    pub err_settled: &'static str,
    pub err_none: &'static str,
    pub err_disabled: &'static str,
    pub err_unreachable: &'static str,
    pub err_internal: &'static str,
}

impl PairingTexts {
    /// The message a person sees for a refusal.
    pub fn error(&self, e: &PairingError) -> &'static str {
        match e {
            PairingError::SessionTooWeak => self.err_weak,
            PairingError::AccountInactive => self.err_inactive,
            PairingError::NoLink => self.err_no_link,
            PairingError::Mismatch | PairingError::NotPersonal => self.err_mismatch,
            PairingError::LinkedElsewhere => self.err_elsewhere,
            PairingError::RequestUnknown | PairingError::RequestForeign => self.err_foreign,
            PairingError::RequestSettled => self.err_settled,
            PairingError::NotFound => self.err_none,
            PairingError::Disabled => self.err_disabled,
            PairingError::Psc(e) if e.transient() => self.err_unreachable,
            PairingError::Psc(_) => self.req_failed,
            PairingError::Unexpected(_) => self.err_internal,
        }
    }

    /// The message for a settled request, by its stored state and reason.
    pub fn settled(&self, state: &str, reason: Option<&str>) -> Option<&'static str> {
        Some(match (state, reason) {
            ("paired", _) => self.done_paired,
            ("refused", _) => self.req_refused,
            ("expired", _) => self.req_expired,
            ("cancelled", _) => self.req_cancelled,
            ("mismatch", _) => self.err_mismatch,
            (_, Some("no_rpps_link")) => self.err_no_link,
            (_, Some("idnat_linked_elsewhere")) => self.err_elsewhere,
            (_, Some("psc_unreachable" | "psc_timeout")) => self.err_unreachable,
            ("failed", _) => self.req_failed,
            _ => return None,
        })
    }

    pub fn status_label(&self, status: &str) -> &'static str {
        match status {
            "active" => self.status_active,
            "expired" => self.status_expired,
            _ => self.status_revoked,
        }
    }

    pub fn means_label(&self, means: &str) -> &'static str {
        match means {
            "ciba" => self.means_ciba,
            _ => self.means_redirect,
        }
    }
}

impl Lang {
    /// The pairing strings of this language.
    pub fn pairing(self) -> &'static PairingTexts {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }
}

pub static FR: PairingTexts = PairingTexts {
    title: "Mon appairage Pro Santé Connect",
    intro: "L'appairage relie votre compte de l'établissement à votre identité nationale de professionnel de santé, prouvée avec l'application e-CPS. Il permet d'accéder aux services Pro Santé Connect avec votre compte de l'établissement.",
    none: "Votre compte n'est pas encore appairé.",
    idnat: "Identifiant national (IdNat)",
    means: "Moyen",
    means_ciba: "validation dans l'application e-CPS",
    means_redirect: "connexion à Pro Santé Connect",
    validated: "Validé le",
    expires: "Expire le",
    status: "État",
    status_active: "actif",
    status_expired: "expiré",
    status_revoked: "révoqué",
    warn_before: "Votre appairage Pro Santé Connect expire dans",
    warn_after: "jour(s). Renouvelez-le pour continuer à accéder aux services Pro Santé Connect.",
    warn_link: "Renouveler mon appairage",
    pair_ciba: "Appairer avec l'application e-CPS",
    pair_redirect: "Appairer via la page Pro Santé Connect",
    renew: "Renouveler",
    idnat_label: "Votre identifiant national (RPPS)",
    idnat_hint: "12 chiffres commençant par 8, inscrits sur votre carte CPS ou dans l'application e-CPS.",
    cancel: "Annuler l'appairage",
    waiting_title: "Validation en attente",
    waiting_code: "Vérifiez que l'application e-CPS affiche ce code :",
    waiting_hint: "Ouvrez l'application e-CPS sur votre téléphone et approuvez la demande si elle affiche le même code. Cette page se met à jour toute seule.",
    reload: "Actualiser",
    done_paired: "Votre compte est appairé.",
    resume_intro: "Votre connexion à Pro Santé Connect attend votre appairage. Une fois votre compte appairé, poursuivez-la.",
    resume: "Continuer",
    done_cancelled: "Votre appairage est annulé.",
    req_refused: "La demande a été refusée dans l'application e-CPS. Rien n'a changé.",
    req_expired: "La demande a expiré sans réponse. Recommencez quand vous aurez votre téléphone.",
    req_failed: "La validation n'a pas abouti. Réessayez ; si le problème persiste, contactez le support informatique.",
    req_cancelled: "La demande a été annulée.",
    err_weak: "Pour vous appairer, connectez-vous avec une clé de sécurité ou votre carte CPS : votre connexion actuelle n'est pas assez forte.",
    err_inactive: "Ce compte est désactivé. Contactez le support informatique.",
    err_no_link: "Votre compte n'est pas encore relié à votre identifiant RPPS. Demandez au support informatique de faire ce lien.",
    err_mismatch: "L'identité prouvée ne correspond pas à celle enregistrée pour votre compte. Rien n'a changé ; un administrateur a été prévenu.",
    err_elsewhere: "Cette identité nationale est déjà reliée à un autre compte. Contactez le support informatique.",
    err_foreign: "Cette demande d'appairage n'existe pas ou a été faite depuis une autre session.",
    err_settled: "Cette demande d'appairage est déjà terminée.",
    err_none: "Aucun appairage actif à annuler.",
    err_disabled: "L'appairage Pro Santé Connect n'est pas disponible sur ce service.",
    err_unreachable: "Pro Santé Connect est injoignable, réessayez.",
    err_internal: "Le service est momentanément indisponible. Réessayez dans un instant.",
};

pub static EN: PairingTexts = PairingTexts {
    title: "My Pro Santé Connect pairing",
    intro: "Pairing ties your establishment account to your national health professional identity, proven with the e-CPS app. It lets you reach Pro Santé Connect services with your establishment account.",
    none: "Your account is not paired yet.",
    idnat: "National identifier (IdNat)",
    means: "Means",
    means_ciba: "approval in the e-CPS app",
    means_redirect: "sign-in at Pro Santé Connect",
    validated: "Validated on",
    expires: "Expires on",
    status: "Status",
    status_active: "active",
    status_expired: "expired",
    status_revoked: "revoked",
    warn_before: "Your Pro Santé Connect pairing expires in",
    warn_after: "day(s). Renew it to keep reaching Pro Santé Connect services.",
    warn_link: "Renew my pairing",
    pair_ciba: "Pair with the e-CPS app",
    pair_redirect: "Pair through the Pro Santé Connect page",
    renew: "Renew",
    idnat_label: "Your national identifier (RPPS)",
    idnat_hint: "12 digits starting with 8, shown on your CPS card or in the e-CPS app.",
    cancel: "Cancel the pairing",
    waiting_title: "Waiting for approval",
    waiting_code: "Check that the e-CPS app shows this code:",
    waiting_hint: "Open the e-CPS app on your phone and approve the request if it shows the same code. This page updates itself.",
    reload: "Refresh",
    done_paired: "Your account is paired.",
    resume_intro: "Your sign-in to Pro Santé Connect is waiting for your pairing. Once your account is paired, go on with it.",
    resume: "Continue",
    done_cancelled: "Your pairing is cancelled.",
    req_refused: "The request was refused in the e-CPS app. Nothing changed.",
    req_expired: "The request expired unanswered. Start again when you have your phone.",
    req_failed: "The approval did not go through. Try again; if it keeps failing, call the IT helpdesk.",
    req_cancelled: "The request was cancelled.",
    err_weak: "To pair, sign in with a security key or your CPS card: your current sign-in is not strong enough.",
    err_inactive: "This account is disabled. Call the IT helpdesk.",
    err_no_link: "Your account is not tied to your RPPS number yet. Ask the IT helpdesk to make that link.",
    err_mismatch: "The proven identity does not match the one recorded for your account. Nothing changed; an administrator was told.",
    err_elsewhere: "This national identity is already tied to another account. Call the IT helpdesk.",
    err_foreign: "This pairing request does not exist or was made from another session.",
    err_settled: "This pairing request is already over.",
    err_none: "No active pairing to cancel.",
    err_disabled: "Pro Santé Connect pairing is not available on this service.",
    err_unreachable: "Pro Santé Connect cannot be reached, try again.",
    err_internal: "The service is temporarily unavailable. Try again in a moment.",
};
