//! The texts of the broker's screens (pairing, confirmation, errors), French first, English
//! second; the banner and the language switch come from [`super::texts`].

use super::texts::Lang;

/// Every text of the broker's pages.
#[derive(Debug)]
pub struct BrokerTexts {
    pub pair_title: &'static str,
    pub pair_intro: &'static str,
    pub pair_account: &'static str,
    pub pair_choose: &'static str,
    pub pair_button: &'static str,
    pub pair_wait_title: &'static str,
    pub pair_wait_intro: &'static str,
    pub confirm_title: &'static str,
    /// "Bonjour {name}, …{account}…": split around the two values.
    pub confirm_hello: &'static str,
    pub confirm_question: &'static str,
    pub confirm_question_end: &'static str,
    pub confirm_button: &'static str,
    pub other_means_button: &'static str,
    pub kind_pairing: &'static str,
    pub back_to_service: &'static str,
    pub unknown_idp: &'static str,
    pub too_many: &'static str,
    pub idp_refused: &'static str,
    pub idp_unreachable: &'static str,
    pub idp_bad_answer: &'static str,
    pub weak_authentication: &'static str,
    pub stale_authentication: &'static str,
    pub pairing_refused: &'static str,
    pub pairing_expired: &'static str,
}

pub static FR: BrokerTexts = BrokerTexts {
    pair_title: "Appairage de votre compte d'établissement",
    pair_intro: "C'est la première fois que vous utilisez ce compte avec Pro Santé Connect. Prouvez votre identité nationale avec l'application e-CPS : saisissez ou choisissez votre identifiant national (IdNat), puis approuvez la demande dans l'application.",
    pair_account: "Compte d'établissement",
    pair_choose: "Professionnels du bac à sable",
    pair_button: "Envoyer la demande à l'application e-CPS",
    pair_wait_title: "Validez l'appairage dans l'application e-CPS",
    pair_wait_intro: "Une demande d'appairage a été envoyée à l'application e-CPS. Vérifiez que le code affiché est le même, puis approuvez-la.",
    confirm_title: "Confirmation de connexion",
    confirm_hello: "Bonjour",
    confirm_question: "confirmez-vous vouloir accéder à Pro Santé Connect avec votre compte",
    confirm_question_end: "?",
    confirm_button: "Confirmer",
    other_means_button: "Annuler et utiliser un autre moyen",
    kind_pairing: "Appairage d'un compte d'établissement",
    back_to_service: "Retourner au service",
    unknown_idp: "Ce fournisseur d'identité n'est pas connu du bac à sable.",
    too_many: "Trop de connexions en cours depuis votre adresse. Réessayez dans quelques minutes.",
    idp_refused: "Votre établissement a refusé la connexion.",
    idp_unreachable: "Le fournisseur d'identité de votre établissement ne répond pas. Réessayez plus tard.",
    idp_bad_answer: "La réponse du fournisseur d'identité de votre établissement n'est pas valide.",
    weak_authentication: "Pro Santé Connect demande une authentification à plusieurs facteurs résistante à l'hameçonnage (clé FIDO2 ou carte CPS). Reconnectez-vous avec l'un de ces moyens.",
    stale_authentication: "Votre authentification date de plus de 4 heures. Reconnectez-vous auprès de votre établissement.",
    pairing_refused: "La demande d'appairage a été refusée dans l'application e-CPS.",
    pairing_expired: "La demande d'appairage a expiré.",
};

pub static EN: BrokerTexts = BrokerTexts {
    pair_title: "Pairing of your establishment account",
    pair_intro: "This is the first time you use this account with Pro Santé Connect. Prove your national identity with the e-CPS app: type or choose your national identifier (IdNat), then approve the request in the app.",
    pair_account: "Establishment account",
    pair_choose: "Professionals of the sandbox",
    pair_button: "Send the request to the e-CPS app",
    pair_wait_title: "Approve the pairing in the e-CPS app",
    pair_wait_intro: "A pairing request was sent to the e-CPS app. Check that it shows the same code, then approve it.",
    confirm_title: "Sign-in confirmation",
    confirm_hello: "Hello",
    confirm_question: "do you confirm you want to access Pro Santé Connect with your account",
    confirm_question_end: "?",
    confirm_button: "Confirm",
    other_means_button: "Cancel and use another means",
    kind_pairing: "Pairing of an establishment account",
    back_to_service: "Back to the service",
    unknown_idp: "This identity provider is not known to the sandbox.",
    too_many: "Too many sign-ins in progress from your address. Try again in a few minutes.",
    idp_refused: "Your establishment refused the sign-in.",
    idp_unreachable: "Your establishment's identity provider does not answer. Try again later.",
    idp_bad_answer: "The answer of your establishment's identity provider is not valid.",
    weak_authentication: "Pro Santé Connect requires a phishing-resistant multi-factor authentication (FIDO2 key or CPS card). Sign in again with one of them.",
    stale_authentication: "Your authentication is more than 4 hours old. Sign in again at your establishment.",
    pairing_refused: "The pairing request was refused in the e-CPS app.",
    pairing_expired: "The pairing request has expired.",
};

pub fn broker_texts(lang: Lang) -> &'static BrokerTexts {
    match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}
