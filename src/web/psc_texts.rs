//! The strings of the e-CPS login and of PSC's refusals, French first.

use crate::ui::i18n::Lang;

/// The strings of the e-CPS screens.
#[derive(Debug)]
pub struct PscTexts {
    pub login_link: &'static str,
    pub refused_title: &'static str,
    pub retry: &'static str,
}

static FR: PscTexts = PscTexts {
    login_link: "Se connecter avec e-CPS",
    refused_title: "Connexion avec e-CPS impossible",
    retry: "Retour à l'écran de connexion",
};

static EN: PscTexts = PscTexts {
    login_link: "Sign in with e-CPS",
    refused_title: "e-CPS sign-in failed",
    retry: "Back to the sign-in page",
};

pub fn texts(lang: Lang) -> &'static PscTexts {
    match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}

/// The person's message for a message key of `psc::PscError` or `psc::login::EcpsRefusal`.
pub fn message(lang: Lang, key: &str) -> &'static str {
    let (fr, en) = match key {
        "psc_unreachable" => (
            "Pro Santé Connect est injoignable, réessayez dans quelques instants.",
            "Pro Santé Connect cannot be reached, please try again in a moment.",
        ),
        "psc_tls" => (
            "La connexion sécurisée à Pro Santé Connect a échoué. Prévenez le support informatique.",
            "The secure connection to Pro Santé Connect failed. Please tell the IT helpdesk.",
        ),
        "psc_denied" => (
            "La demande a été refusée dans l'application e-CPS.",
            "The request was refused in the e-CPS app.",
        ),
        "psc_expired" => (
            "La demande a expiré avant votre validation. Recommencez.",
            "The request expired before you approved it. Please start again.",
        ),
        "psc_pending" => (
            "La demande attend encore votre validation dans l'application e-CPS.",
            "The request is still waiting for your approval in the e-CPS app.",
        ),
        "psc_unknown_user" => (
            "Pro Santé Connect ne connaît pas ce professionnel.",
            "Pro Santé Connect does not know this professional.",
        ),
        "psc_wrong_issuer" => (
            "La réponse ne vient pas du Pro Santé Connect attendu : elle est refusée.",
            "The answer does not come from the expected Pro Santé Connect: it is refused.",
        ),
        "psc_wrong_audience" => (
            "La réponse de Pro Santé Connect était destinée à un autre service : elle est refusée.",
            "The Pro Santé Connect answer was meant for another service: it is refused.",
        ),
        "psc_bad_signature" => (
            "La signature de la réponse de Pro Santé Connect n'est pas valide : elle est refusée.",
            "The signature of the Pro Santé Connect answer is not valid: it is refused.",
        ),
        "psc_token_expired" => (
            "La réponse de Pro Santé Connect a expiré. Recommencez.",
            "The Pro Santé Connect answer has expired. Please start again.",
        ),
        "psc_nonce_mismatch" => (
            "La réponse de Pro Santé Connect ne correspond pas à votre demande. Recommencez.",
            "The Pro Santé Connect answer does not match your request. Please start again.",
        ),
        "psc_nonce_replayed" => (
            "Cette réponse de Pro Santé Connect a déjà été utilisée : elle est refusée.",
            "This Pro Santé Connect answer was already used: it is refused.",
        ),
        "psc_insufficient_acr" => (
            "Le niveau d'authentification obtenu auprès de Pro Santé Connect est insuffisant.",
            "The authentication level obtained from Pro Santé Connect is not sufficient.",
        ),
        "psc_invalid_idnat" => (
            "L'identifiant national transmis par Pro Santé Connect n'est pas valide.",
            "The national identifier sent by Pro Santé Connect is not valid.",
        ),
        "psc_callback_unknown" => (
            "Cette réponse ne correspond à aucune demande en cours dans ce navigateur. Recommencez depuis l'écran de connexion.",
            "This answer matches no pending request in this browser. Please start again from the sign-in page.",
        ),
        "ecps_not_linked" => (
            "Aucun compte de l'établissement n'est rattaché à votre identifiant national. Adressez-vous au support.",
            "No account of the establishment is linked to your national identifier. Please contact the helpdesk.",
        ),
        "ecps_identity_inactive" => (
            "Votre compte est suspendu ou clos.",
            "Your account is suspended or closed.",
        ),
        _ => (
            "La connexion avec Pro Santé Connect est mal configurée. Prévenez le support informatique.",
            "The connection with Pro Santé Connect is misconfigured. Please tell the IT helpdesk.",
        ),
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}
