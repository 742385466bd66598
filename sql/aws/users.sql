-- Database users that exist only in AWS (Aurora MySQL 3), applied by `migrate --stage S` after
-- the migrations, as the master user. Not in sql/migrations: AWSAuthenticationPlugin exists
-- only on RDS/Aurora, and the migrations must also run on MariaDB for local development.
-- Each statement is idempotent, so the file is applied on every `migrate --stage` run.
--
-- The API's user, one per stage: `{stage}` is replaced with the stage's name (ops/host/steps.py),
-- so the dev API logs in as pets_api_dev and the prod API as pets_api_prod. A stage's roles may
-- sign tokens only for their own stage's user (its permissions boundary), so even where both
-- stages share an account, the dev function cannot log in to prod's database. IAM authentication
-- only (a 15-minute token signed by the Lambda's role, no password anywhere), TLS required, and
-- read access to the one table the API reads. The former shared user pets_api is dropped.
--
-- Lint exceptions, line by line (noqa):
-- RF05: an account name is 'user'@'host' and '%' means "any host"; sqlfluff's mysql dialect
--       reads these quoted strings as identifiers with special characters.
-- CP02: AWSAuthenticationPlugin is the plugin's name as RDS documents it; sqlfluff reads it as
--       an identifier and then wants every other identifier (pets, pet) in the same case.
CREATE USER IF NOT EXISTS 'pets_api_{stage}'@'%' -- noqa: RF05
IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' -- noqa: CP02
REQUIRE SSL;

GRANT SELECT ON pets.pet TO 'pets_api_{stage}'@'%'; -- noqa: RF05, CP02

DROP USER IF EXISTS 'pets_api'@'%'; -- noqa: RF05
