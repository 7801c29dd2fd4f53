//! The sandbox's signing key (generated at start, RS256 or ES256), its JWKS, and the tokens it
//! signs: ID tokens (OIDC Core §2) with PSC's claims, JWT access tokens, signed userinfo.

use anyhow::Context;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, JwsHeader, JwsSigner, JwsVerifier, RS256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{Map, Value, json};

use crate::oidc::keys::SigningAlg;

/// The key pair of this run.
pub struct Keys {
    pub alg: SigningAlg,
    kid: String,
    signer: Box<dyn JwsSigner>,
    verifier: Box<dyn JwsVerifier>,
    jwks: Value,
}

impl Keys {
    pub fn generate(alg: SigningAlg) -> anyhow::Result<Keys> {
        let mut private: Jwk = match alg {
            SigningAlg::Es256 => ES256.generate_key_pair()?.to_jwk_key_pair(),
            SigningAlg::Rs256 | SigningAlg::Ps256 => {
                RS256.generate_key_pair(2048)?.to_jwk_key_pair()
            }
        };
        let kid = uuid::Uuid::new_v4().simple().to_string();
        private.set_key_id(&kid);
        private.set_algorithm(alg.as_str());
        private.set_key_use("sig");
        let mut public = private.to_public_key().context("public key")?;
        public.set_key_id(&kid);
        public.set_algorithm(alg.as_str());
        public.set_key_use("sig");
        Ok(Keys {
            alg,
            signer: alg.signer(&private)?,
            verifier: alg.verifier(&public)?,
            jwks: json!({ "keys": [Value::Object(public.as_ref().clone())] }),
            kid,
        })
    }

    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs claims as a JWT of type `typ`.
    pub fn sign(&self, typ: &str, claims: Map<String, Value>) -> anyhow::Result<String> {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(&self.kid);
        let payload = JwtPayload::from_map(claims)?;
        Ok(jwt::encode_with_signer(&payload, &header, &*self.signer)?)
    }

    /// The claims of a JWT this run signed, when its signature holds and it has not expired.
    pub fn verify(&self, token: &str, now: i64) -> Option<Map<String, Value>> {
        let (payload, _) = jwt::decode_with_verifier(token, &*self.verifier).ok()?;
        let claims = payload.claims_set().clone();
        let exp = claims.get("exp").and_then(Value::as_i64)?;
        (exp > now).then_some(claims)
    }
}
