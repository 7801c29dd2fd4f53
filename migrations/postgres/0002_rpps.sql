-- The national index of health professionals (RPPS public extraction) and its import runs.
-- Snapshot semantics: every row version carries the generation that created it (valid_from)
-- and the one that replaced or removed it (valid_to, NULL while current). Readers see the
-- rows of rpps_snapshot.generation; an import writes generation + 1 in short transactions and
-- switches at the end, so readers never see a half-written state.

CREATE TABLE rpps_snapshot (
    id BIGINT PRIMARY KEY,
    generation BIGINT NOT NULL,
    importing_run TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
INSERT INTO rpps_snapshot (id, generation, importing_run, lease_until) VALUES (1, 0, NULL, 0);

CREATE TABLE rpps_professionals (
    idnat TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT,
    hash BIGINT NOT NULL,
    civility TEXT,
    last_name TEXT NOT NULL,
    first_name TEXT NOT NULL,
    search_name TEXT COLLATE "C" NOT NULL,
    professions TEXT NOT NULL,
    profession_labels TEXT NOT NULL,
    specialties TEXT NOT NULL,
    activities BIGINT NOT NULL,
    PRIMARY KEY (idnat, valid_from)
);
CREATE INDEX rpps_professionals_name ON rpps_professionals(search_name);

CREATE TABLE rpps_activities (
    idnat TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    profession_code TEXT,
    profession_label TEXT,
    category_code TEXT,
    specialty_code TEXT,
    mode_code TEXT,
    siret TEXT,
    finess_site TEXT,
    finess_ej TEXT,
    structure_id TEXT,
    structure_name TEXT,
    address TEXT,
    postcode TEXT,
    town_code TEXT,
    town TEXT,
    department_code TEXT,
    sector_code TEXT,
    role_code TEXT,
    genre_code TEXT,
    PRIMARY KEY (idnat, valid_from, seq)
);

CREATE TABLE rpps_runs (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    file TEXT NOT NULL,
    generation BIGINT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    lines BIGINT NOT NULL DEFAULT 0,
    professionals BIGINT NOT NULL DEFAULT 0,
    activities BIGINT NOT NULL DEFAULT 0,
    added BIGINT NOT NULL DEFAULT 0,
    changed BIGINT NOT NULL DEFAULT 0,
    removed BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    rejections TEXT
);
CREATE INDEX rpps_runs_started ON rpps_runs(started_at);
