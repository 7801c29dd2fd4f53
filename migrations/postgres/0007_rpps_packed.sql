-- The national index keeps a professional's practice situations packed in their row
-- (fields separated by U+001F, situations by U+001E) and the FINESS numbers they practise at
-- in a searchable list (" 750000001 750000002 "): one row a professional instead of one a
-- line, which makes a national import several times faster. The index is a copy of the
-- national file: the next import fills it again.

DROP TABLE rpps_activities;
DROP TABLE rpps_professionals;

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
    finess TEXT NOT NULL,
    activities BIGINT NOT NULL,
    situations TEXT NOT NULL
);
CREATE UNIQUE INDEX rpps_professionals_version ON rpps_professionals(idnat, valid_from);
CREATE INDEX rpps_professionals_name ON rpps_professionals(search_name, idnat);
CREATE INDEX rpps_professionals_ended ON rpps_professionals(valid_to) WHERE valid_to IS NOT NULL;

-- Set while an import may have left unpublished rows (from its start until it publishes), so
-- that the next import clears them; an import that finds it unset skips that clean-up.
ALTER TABLE rpps_snapshot ADD COLUMN pending BIGINT NOT NULL DEFAULT 0;
UPDATE rpps_snapshot SET importing_run = NULL, lease_until = 0, pending = 0;
UPDATE rpps_runs SET status = 'abandoned' WHERE status = 'running';
