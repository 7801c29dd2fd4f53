-- Pro Santé Connect as a client: a client registered as PSC's broker gets the federation
-- profile (phishing-resistant multi-factor, bounded authentication age, valid pairing) and
-- the tid/oid claims. An identity's establishment (FINESS) picks its tid when one Trousseau
-- serves several establishments.

ALTER TABLE clients ADD COLUMN psc_broker INTEGER NOT NULL DEFAULT 0;
ALTER TABLE identities ADD COLUMN establishment_finess TEXT;
