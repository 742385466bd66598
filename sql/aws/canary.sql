-- The smoke test's known pet, applied by `migrate --stage S` after the migrations (as the users
-- are). `python -m ops smoke` asks for it after every deploy and patch: a deployed stage must
-- answer 200 with exactly this body. Not a migration (migrations never insert data) and not
-- sample data: one documented row that belongs to the pipeline. INSERT IGNORE keeps it idempotent
-- and never overwrites a real pet that happens to have the name.
INSERT IGNORE INTO pets.pet (name, owner, species, sex)
VALUES ('Smokey', 'pets-pipeline', 'canary', NULL);
